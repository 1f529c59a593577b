<#
.SYNOPSIS
    Measures the process backends (loky, multiprocessing) against the figures of issue 5.

.DESCRIPTION
    Three figures, each the median of -Repeat timed rounds (the machine is shared, so single runs are noise):

      W2 speedup      8 items of & { $s = 0; foreach ($i in 1..14000000) { $s += $i }; $s }, NJobs 2:
                      sequential ForEach-Object in this pwsh / a warm loky pool.         target >= 1.9
                      Also with the workers' garbage-collector budget removed
                      (Environment = @{ DOTNET_GCgen0size = $null }), to show what it is worth.
      warm overhead   a second call on a warm loky pool minus the work: 2 items of Start-Sleep 200 ms on
                      2 workers (the work is 200 ms), and 8 items of { $_ } (no work at all).  target <= 50 ms
      cold start      a multiprocessing call with 2 workers and 2 trivial items / one pwsh start-up
                      (pwsh -NoProfile -Command exit).                                  target <= 1.5

    Rounds are interleaved (sequential, loky, sequential, loky, ...) so a load spike hits both sides.
    This pwsh runs W2's sequential side as it is: its own garbage-collector settings are whatever it was
    started with (a pwsh cannot change them from inside).

.PARAMETER ModulePath
    JoblibPS to import. Default: $env:JOBLIBPS_MODULE, else <repo>/out/JoblibPS/JoblibPS.psd1, else the dll of
    'dotnet build -c Release'.

.PARAMETER Repeat
    Timed rounds per figure (the median is reported). Default 3.

.EXAMPLE
    dotnet pwsh ./bench/Process-Backends.ps1
#>
#Requires -Version 7.0
[CmdletBinding()]
param(
    [string] $ModulePath,
    [ValidateRange(1, 100)]
    [int] $Repeat = 3
)

$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'BenchTools.psm1')
Import-Module (Get-BenchModulePath $ModulePath -AnyBuild)
$pwsh = Get-BenchPwshPath

function Measure-Seconds {
    param([scriptblock] $Block)
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $null = & $Block
    $clock.Elapsed.TotalSeconds
}

$w2 = { $s = 0; foreach ($i in 1..14000000) { $s += $i }; $s }
$w2Items = 1..8
$expected = 98000007000000

$noGc = @{ Environment = @{ DOTNET_GCgen0size = $null } }

Write-Host "Process backends benchmark: $([Environment]::ProcessorCount) CPUs, pwsh $($PSVersionTable.PSVersion), $Repeat rounds, medians."
Write-Host "Load average at start: $((Get-BenchLoadAverage -Fields 3) ?? 'n/a')"

# --- W2 -----------------------------------------------------------------------------------------------
# Warm-up: start the pool, and JIT the loop in this process.
$null = 1..2 | ForEach-Object { & { $s = 0; foreach ($i in 1..1000) { $s += $i }; $s } }
$null = $w2Items | Invoke-JoblibParallel -Backend loky -NJobs 2 { & { $s = 0; foreach ($i in 1..14000000) { $s += $i }; $s } }
$sequential = @(); $lokyTimes = @()
foreach ($round in 1..$Repeat) {
    $sequential += Measure-Seconds { $r = $w2Items | ForEach-Object { & $w2 }; if ($r[0] -ne $expected) { throw "wrong result $($r[0])" } }
    $lokyTimes += Measure-Seconds { $r = $w2Items | Invoke-JoblibParallel -Backend loky -NJobs 2 { & { $s = 0; foreach ($i in 1..14000000) { $s += $i }; $s } }; if ($r[0] -ne $expected) { throw "wrong result $($r[0])" } }
}
# The same on a pool whose workers have no garbage-collector budget (a separate pool: other settings).
$noGcTimes = @()
Use-JoblibConfig -Backend loky -NJobs 2 -BackendArgument $noGc {
    $null = 1..2 | Invoke-JoblibParallel { $_ }
    foreach ($round in 1..$Repeat) {
        $noGcTimes += Measure-Seconds { $null = $w2Items | Invoke-JoblibParallel { & { $s = 0; foreach ($i in 1..14000000) { $s += $i }; $s } } }
    }
}
$seq = Get-BenchMedian $sequential
$lok = Get-BenchMedian $lokyTimes
$lokNoGc = Get-BenchMedian $noGcTimes
# A one-item call gives the GC effect in a single worker, free of the 2-core contention. Not interleaved:
# each settings change replaces loky's pool (a cold start), so each side runs its rounds on its own warm pool.
$oneNoGc = @(Use-JoblibConfig -Backend loky -NJobs 2 -BackendArgument $noGc {
    foreach ($round in 1..$Repeat) { Measure-Seconds { $null = 1 | Invoke-JoblibParallel { & { $s = 0; foreach ($i in 1..14000000) { $s += $i }; $s } } } }
})
$null = 1..2 | Invoke-JoblibParallel -Backend loky -NJobs 2 { $_ }
$oneGc = @(foreach ($round in 1..$Repeat) { Measure-Seconds { $null = 1 | Invoke-JoblibParallel -Backend loky -NJobs 2 { & { $s = 0; foreach ($i in 1..14000000) { $s += $i }; $s } } } })

# --- Warm overhead ------------------------------------------------------------------------------------
$null = 1..2 | Invoke-JoblibParallel -Backend loky -NJobs 2 { $_ }
$sleepTimes = @(); $emptyTimes = @()
foreach ($round in 1..$Repeat) {
    $sleepTimes += Measure-Seconds { 1..2 | Invoke-JoblibParallel -Backend loky -NJobs 2 -BatchSize 1 { Start-Sleep -Milliseconds 200 } }
    $emptyTimes += Measure-Seconds { 1..8 | Invoke-JoblibParallel -Backend loky -NJobs 2 { $_ } }
}
$sleepOverhead = (Get-BenchMedian $sleepTimes) - 0.2
$empty = Get-BenchMedian $emptyTimes

# --- Cold multiprocessing -----------------------------------------------------------------------------
$startTimes = @(); $coldTimes = @()
foreach ($round in 1..$Repeat) {
    $startTimes += Measure-Seconds { & $pwsh -NoProfile -NonInteractive -Command exit }
    $coldTimes += Measure-Seconds { 1..2 | Invoke-JoblibParallel -Backend multiprocessing -NJobs 2 -BatchSize 1 { $_ } }
}
$start = Get-BenchMedian $startTimes
$cold = Get-BenchMedian $coldTimes

function Format-Row {
    param([string] $Figure, [string] $Value, [string] $Target, [bool] $Met)
    [pscustomobject]@{ Figure = $Figure; Value = $Value; Target = $Target; Met = $(if ($Met) { 'yes' } else { 'NO' }) }
}
$rows = @(
    Format-Row 'W2 speedup, warm loky vs sequential ForEach-Object' ('{0:0.00}x ({1:0.00} s vs {2:0.00} s)' -f ($seq / $lok), $seq, $lok) '>= 1.9x' (($seq / $lok) -ge 1.9)
    Format-Row 'W2 speedup, warm loky without DOTNET_GCgen0size' ('{0:0.00}x ({1:0.00} s)' -f ($seq / $lokNoGc), $lokNoGc) '(for comparison)' $true
    Format-Row 'one W2 item in a worker: GC budget effect' ('{0:0.00}x ({1:0.00} s without, {2:0.00} s with)' -f ((Get-BenchMedian $oneNoGc) / (Get-BenchMedian $oneGc)), (Get-BenchMedian $oneNoGc), (Get-BenchMedian $oneGc)) '(for comparison)' $true
    Format-Row 'warm second call: overhead beyond 200 ms of work' ('{0:0} ms' -f ($sleepOverhead * 1000)) '<= 50 ms' ($sleepOverhead -le 0.05)
    Format-Row 'warm second call of 8 trivial items' ('{0:0} ms' -f ($empty * 1000)) '<= 50 ms' ($empty -le 0.05)
    Format-Row 'cold multiprocessing call (2 workers) / one pwsh start-up' ('{0:0.00}x ({1:0.00} s vs {2:0.00} s)' -f ($cold / $start), $cold, $start) '<= 1.5x' (($cold / $start) -le 1.5)
)
$rows | Format-Table -AutoSize | Out-String -Width 200 | Write-Host
Write-Host "Load average at end: $((Get-BenchLoadAverage -Fields 3) ?? 'n/a')"
Write-Host ("Raw seconds: sequential {0}; loky {1}; loky without GC budget {2}; sleep call {3}; trivial call {4}; pwsh start {5}; cold multiprocessing {6}" -f
    ($sequential -join '/'), ($lokyTimes -join '/'), ($noGcTimes -join '/'), ($sleepTimes -join '/'), ($emptyTimes -join '/'), ($startTimes -join '/'), ($coldTimes -join '/'))
[JoblibPS.ParallelBackendBase].Assembly.GetType('JoblibPS.Backends.Process.ProcessPools', $true)::ShutdownAll()
