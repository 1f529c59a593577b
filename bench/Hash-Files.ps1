<#
.SYNOPSIS
    Hashes files with ForEach-Object, ForEach-Object -Parallel and Invoke-JoblibParallel (threading, loky warm), in
    one run, and prints each one's median time and its ratio against sequential ForEach-Object (above 1 is faster).
.DESCRIPTION
    The files are the first -Count files, in ordinal path order, under the .NET SDK folder (every machine that builds
    JoblibPS has it), read once before timing so every contender finds them in the OS cache. The block is the one a
    user writes: { (Get-FileHash $_).Hash }, with FileInfo objects as Get-ChildItem writes them as input. Every
    contender is timed warm: one untimed round runs each of them first, so loky's workers are started and every
    process, the caller's included, has already loaded and compiled Get-FileHash. Contenders are interleaved,
    -Repeat timed rounds.
.EXAMPLE
    dotnet pwsh ./bench/Hash-Files.ps1 -Count 3000 -Repeat 3
#>
#Requires -Version 7.0
param(
    [string] $ModulePath,
    [int] $Count = 3000,
    [int] $Repeat = 3,
    [int] $NJobs = 2
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'BenchTools.psm1')
Import-Module (Get-BenchModulePath $ModulePath)

$sdk = Split-Path -Parent ((Get-Item -LiteralPath (Get-Command dotnet -CommandType Application | Select-Object -First 1).Source).ResolvedTarget ?? (Get-Command dotnet).Source)
$files = @(Get-ChildItem -LiteralPath $sdk -File -Recurse -ErrorAction Ignore | Sort-Object FullName -Culture ([cultureinfo]::InvariantCulture) | Select-Object -First $Count)
foreach ($file in $files) { $null = [IO.File]::ReadAllBytes($file.FullName) }
$block = { (Get-FileHash $_).Hash }
$expected = @($files | ForEach-Object $block)

$contenders = [ordered]@{
    'ForEach-Object'                        = { $files | ForEach-Object $block }
    "ForEach-Object -Parallel ($NJobs)"     = { $files | ForEach-Object -Parallel { (Get-FileHash $_).Hash } -ThrottleLimit $NJobs }
    "JoblibPS threading ($NJobs)"           = { $files | Invoke-JoblibParallel $block -Backend threading -NJobs $NJobs }
    "JoblibPS loky, warm ($NJobs)"          = { $files | Invoke-JoblibParallel $block -Backend loky -NJobs $NJobs }
}
$times = @{}
foreach ($round in 0..$Repeat) {   # round 0 warms every contender and is not counted
    foreach ($name in $contenders.Keys) {
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $out = @(& $contenders[$name])
        $clock.Stop()
        # ForEach-Object -Parallel writes in completion order: compare the sets.
        if (Compare-Object @($expected | Sort-Object) @($out | Sort-Object) -SyncWindow 0) { throw "$name returned other hashes than ForEach-Object." }
        if ($round -gt 0) { $times[$name] += @($clock.Elapsed.TotalSeconds) }
    }
}
$baseline = Get-BenchMedian $times['ForEach-Object'] -Even Upper
"$($files.Count) files under $sdk, $Repeat rounds, median seconds and ratio vs ForEach-Object (load average $(Get-BenchLoadAverage)):"
foreach ($name in $contenders.Keys) {
    $median = Get-BenchMedian $times[$name] -Even Upper
    '{0,-34} {1,7:0.000} s  {2,5:0.00}x' -f $name, $median, ($baseline / $median)
}
