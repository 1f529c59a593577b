<#
.SYNOPSIS
    What a one-shot script pays before its first output: the time from a call to its first output, and to its end, on
    a cold loky pool (2 workers) and a cold remote scope (2 loopback hosts x 2 slots), each in a fresh pwsh.
.DESCRIPTION
    Every measurement runs in a fresh pwsh that imports the module (not timed) and makes one call of 40 items of
    { Start-Sleep -Milliseconds 50; $_ }: with loky, -NJobs 2, which starts the pool; with remote, inside a new
    Use-JoblibConfig scope with 2 hosts x 2 slots, which opens the 4 SSH sessions. One pwsh start-up
    (pwsh -NoProfile -NonInteractive -c 1) is timed beside them as the platform's floor: a cold call cannot give
    output before one worker has started. With -BaselineModulePath, the same is measured for another build,
    interleaved round by round, so two builds are compared on the same machine in the same minutes.
    The remote part needs /usr/sbin/sshd (.ci/run installs it) and is left out without it.
.EXAMPLE
    dotnet pwsh ./bench/Cold-Start.ps1 -Repeat 3
.EXAMPLE
    dotnet pwsh ./bench/Cold-Start.ps1 -BaselineModulePath ../old/out/JoblibPS/JoblibPS.psd1
#>
#Requires -Version 7.0
param(
    [string] $ModulePath,
    [string] $BaselineModulePath,
    [int] $Repeat = 3,
    [switch] $NoRemote
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'BenchTools.psm1')
$RepoRoot = Split-Path -Parent $PSScriptRoot
$ModulePath = Get-BenchModulePath $ModulePath
$pwsh = Get-BenchPwshPath
$builds = [ordered]@{ 'this build' = (Resolve-Path -LiteralPath $ModulePath).Path }
if ($BaselineModulePath) { $builds['baseline'] = (Resolve-Path -LiteralPath $BaselineModulePath).Path }

# The child: imports the module, makes one cold call, prints "<first output s> <whole call s>".
$child = {
    param([string] $Module, [string] $Backend, [string] $RemoteJson)
    $ErrorActionPreference = 'Stop'
    Import-Module $Module
    $block = { Start-Sleep -Milliseconds 50; $_ }
    $script:first = $null
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $call = if ($Backend -eq 'loky') {
        { 1..40 | Invoke-JoblibParallel $block -Backend loky -NJobs 2 }
    }
    else {
        $arguments = ConvertFrom-Json $RemoteJson -AsHashtable
        { Use-JoblibConfig remote -NJobs 4 -BackendArgument $arguments { 1..40 | Invoke-JoblibParallel $block } }
    }
    $count = 0
    & $call | ForEach-Object { if ($null -eq $script:first) { $script:first = $clock.Elapsed.TotalSeconds }; $count++ }
    $whole = $clock.Elapsed.TotalSeconds
    if ($count -ne 40) { throw "The cold $Backend call wrote $count items instead of 40." }
    '{0} {1}' -f $script:first.ToString([cultureinfo]::InvariantCulture), $whole.ToString([cultureinfo]::InvariantCulture)
}
$childFile = Join-Path ([IO.Path]::GetTempPath()) "joblibps-cold-$PID.ps1"
Set-Content -LiteralPath $childFile -Value $child.ToString()

function Invoke-Cold([string] $Module, [string] $Backend, [string] $RemoteJson = '') {
    $line = & $pwsh -NoProfile -NonInteractive -File $childFile -Module $Module -Backend $Backend -RemoteJson $RemoteJson
    if ($LASTEXITCODE -ne 0) { throw "The cold $Backend measurement failed: $line" }
    $parts = "$($line | Select-Object -Last 1)" -split ' '
    @{ First = [double]::Parse($parts[0], [cultureinfo]::InvariantCulture); Whole = [double]::Parse($parts[1], [cultureinfo]::InvariantCulture) }
}

$sshHosts = @()
$sshRoot = Join-Path ([IO.Path]::GetTempPath()) "joblibps-cold-ssh-$PID"
$remoteJson = $null
try {
    if (-not $NoRemote) {
        if (Test-Path -LiteralPath '/usr/sbin/sshd') {
            Import-Module (Join-Path $RepoRoot 'tests/Remote/SshTestHosts.psm1') -Force
            $sshHosts = @(Start-JoblibSshHost -Address 127.0.0.2 -Port 2252 -Root $sshRoot; Start-JoblibSshHost -Address 127.0.0.3 -Port 2252 -Root $sshRoot)
            $remoteJson = @{ HostName = @($sshHosts.HostName); Port = 2252; KeyFilePath = $sshHosts[0].KeyFilePath; Options = (Get-JoblibSshOptions $sshHosts[0]); JobsPerHost = 2 } | ConvertTo-Json -Compress
        }
        else { Write-Warning 'remote left out: /usr/sbin/sshd is missing.' }
    }
    $samples = @{}
    function Add-Sample([string] $Key, $Value) { if (-not $samples.ContainsKey($Key)) { $samples[$Key] = [System.Collections.Generic.List[object]]::new() }; $samples[$Key].Add($Value) }
    foreach ($round in 1..$Repeat) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        & $pwsh -NoProfile -NonInteractive -c 1 | Out-Null
        Add-Sample 'pwsh' $clock.Elapsed.TotalSeconds
        foreach ($build in $builds.Keys) {
            Add-Sample "$build|loky" (Invoke-Cold $builds[$build] 'loky')
            if ($remoteJson) { Add-Sample "$build|remote" (Invoke-Cold $builds[$build] 'remote' $remoteJson) }
        }
    }
}
finally {
    if ($sshHosts) { $sshHosts | Stop-JoblibSshHost }
    Remove-Item -LiteralPath $sshRoot -Recurse -Force -ErrorAction Ignore
    Remove-Item -LiteralPath $childFile -Force -ErrorAction Ignore
}

"Cold starts, medians of $Repeat fresh processes (load average $(Get-BenchLoadAverage)); one pwsh start-up: $('{0:0.00}' -f (Get-BenchMedian $samples['pwsh'])) s"
foreach ($build in $builds.Keys) {
    foreach ($backend in 'loky', 'remote') {
        $runs = $samples["$build|$backend"]
        if (-not $runs) { continue }
        $what = if ($backend -eq 'loky') { 'cold loky, 2 workers' } else { 'cold remote scope, 2 hosts x 2 slots' }
        '{0,-12} {1,-38} first output {2,6:0.00} s   whole call (40 x 50 ms) {3,6:0.00} s' -f $build, $what, (Get-BenchMedian $runs.First), (Get-BenchMedian $runs.Whole)
    }
}
