<#
.SYNOPSIS
Hashes a few thousand files sequentially and with every JoblibPS backend, checks that every backend returns
exactly what the sequential run returned, in the same order, and prints wall times and speedups.

.DESCRIPTION
The files are the first -MaxFiles (3000 by default) files, in ordinal path order, under the .NET SDK
folder: it exists on every machine that can build JoblibPS and holds several thousand files of all sizes.
The cap keeps the whole demo well under a minute on two cores. Every file is read once before timing, so
each run finds the files in the OS cache and the first run is not penalised by the disk.

Each file is hashed with SHA-256 (its bytes, streamed); the result is 'HASH  path', as sha256sum prints it.
Exit code 1 when a backend fails or returns anything different from the sequential run.

Run it after a build (dotnet pwsh ./build.ps1 -Task Demo does both), or by hand:
    dotnet pwsh ./examples/demo.ps1 -Backend threading -MaxFiles 500

.PARAMETER MaxFiles
How many files to hash at most.

.PARAMETER Backend
The backends to compare with the sequential run; by default every backend Get-JoblibBackend lists
(or 'sequential' and 'threading' when the module has no Get-JoblibBackend).

.PARAMETER NJobs
Workers per backend; -1 (the default) means one per processor, as in joblib.
#>
[CmdletBinding()]
param(
    [ValidateRange(1, [int]::MaxValue)]
    [int] $MaxFiles = 3000,
    [string[]] $Backend,
    [int] $NJobs = -1
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$modulePath = if ($env:JOBLIBPS_MODULE) { $env:JOBLIBPS_MODULE } else { Join-Path $PSScriptRoot '../out/JoblibPS/JoblibPS.psd1' }
if (-not (Test-Path -LiteralPath $modulePath)) { throw "$modulePath does not exist: build first (dotnet pwsh ./build.ps1)." }
Import-Module -Name $modulePath

# The folder of the dotnet executable (through symlinks such as /usr/bin/dotnet), else the root of the
# runtime this PowerShell runs on (<root>/shared/Microsoft.NETCore.App/<version>/).
function Get-DotnetRoot {
    $command = Get-Command dotnet -CommandType Application -ErrorAction Ignore | Select-Object -First 1
    if ($command) {
        $item = Get-Item -LiteralPath $command.Source
        $target = if ($item.PSObject.Methods['ResolveLinkTarget']) { $item.ResolveLinkTarget($true) }
        $folder = Split-Path -Parent $(if ($target) { $target.FullName } else { $item.FullName })
        if (Test-Path -LiteralPath (Join-Path $folder 'shared')) { return $folder }
    }
    $runtime = [System.Runtime.InteropServices.RuntimeEnvironment]::GetRuntimeDirectory()
    (Get-Item -LiteralPath $runtime).Parent.Parent.Parent.FullName
}

$root = Get-DotnetRoot
$allFiles = [string[]]@(Get-ChildItem -LiteralPath $root -Recurse -File -Force -ErrorAction SilentlyContinue | ForEach-Object FullName)
[Array]::Sort($allFiles, [StringComparer]::Ordinal)
$files = [string[]]@($allFiles | Select-Object -First $MaxFiles)
if ($files.Count -eq 0) { throw "No files under $root to hash." }

# Untimed warm-up: afterwards every run reads from the OS cache.
$bytes = 0L
foreach ($file in $files) {
    $stream = [System.IO.File]::OpenRead($file)
    try { $stream.CopyTo([System.IO.Stream]::Null); $bytes += $stream.Length } finally { $stream.Dispose() }
}

$workers = if ($NJobs -lt 0) { [Environment]::ProcessorCount + 1 + $NJobs } else { $NJobs }
Write-Host ("Hashing the first {0} of {1} files ({2:N0} MB) under {3} with SHA-256; -NJobs {4} = {5} worker(s) on {6} processor(s)." -f
    $files.Count, $allFiles.Count, ($bytes / 1MB), $root, $NJobs, $workers, [Environment]::ProcessorCount)

# Runs in the workers: uses nothing but its input ($_) and .NET, so every backend can run it.
$hashFile = {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    $stream = [System.IO.File]::OpenRead($_)
    try { '{0}  {1}' -f ([System.BitConverter]::ToString($sha.ComputeHash($stream)) -replace '-', ''), $_ }
    finally { $stream.Dispose(); $sha.Dispose() }
}

$clock = [System.Diagnostics.Stopwatch]::StartNew()
$expected = [string[]]@($files | ForEach-Object $hashFile)
$sequentialSeconds = $clock.Elapsed.TotalSeconds

$rows = [System.Collections.Generic.List[object]]::new()
$rows.Add([pscustomobject]@{ Backend = 'ForEach-Object (baseline)'; Files = $files.Count; Seconds = [Math]::Round($sequentialSeconds, 2); Speedup = '1.00x'; Result = 'baseline' })

if (-not $Backend) {
    $Backend = if (Get-Command Get-JoblibBackend -ErrorAction Ignore) { @(Get-JoblibBackend | ForEach-Object Name) } else { @('sequential', 'threading') }
}
$failed = $false
foreach ($name in $Backend) {
    $clock.Restart()
    try {
        $actual = [string[]]@($files | Invoke-JoblibParallel $hashFile -NJobs $NJobs -Backend $name)
        $seconds = $clock.Elapsed.TotalSeconds
        $differ = 0
        for ($i = 0; $i -lt [Math]::Max($actual.Count, $expected.Count); $i++) {
            if ($i -ge $actual.Count -or $i -ge $expected.Count -or $actual[$i] -cne $expected[$i]) { $differ++ }
        }
        $result = if ($differ -eq 0) { 'same' } else { "DIFFERENT: $differ of $($expected.Count) lines ($($actual.Count) returned)" }
        if ($differ) { $failed = $true }
        $rows.Add([pscustomobject]@{ Backend = $name; Files = $files.Count; Seconds = [Math]::Round($seconds, 2); Speedup = '{0:N2}x' -f ($sequentialSeconds / $seconds); Result = $result })
    }
    catch {
        $failed = $true
        $rows.Add([pscustomobject]@{ Backend = $name; Files = $files.Count; Seconds = $null; Speedup = $null; Result = "FAILED: $($_.Exception.Message)" })
    }
}

$rows | Format-Table -AutoSize -Wrap | Out-String -Width 160 | Out-Host
if ($failed) {
    Write-Host 'At least one backend failed or returned something other than the sequential run.'
    exit 1
}
Write-Host 'Every backend returned exactly the sequential results, in order.'
