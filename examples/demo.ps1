<#
.SYNOPSIS
Shows each JoblibPS backend on the work it fits: waiting (threads shine) and allocating CPU-bound PowerShell
(worker processes shine). Checks that every backend returns exactly what ForEach-Object returned, in order.

.DESCRIPTION
Two workloads, each timed against sequential ForEach-Object in the same process:

- Waiting: -Requests simulated requests of 50 ms each (Start-Sleep), as REST calls, downloads or native
  commands wait. Threads wait in parallel, so 'threading' with 20 jobs finishes in a fraction of the time. Its
  first call is cold (it opens the runspaces, kept in the module for later calls); the second is warm.
  'sequential' (joblib's n_jobs=1, the debugging path) runs them one after the other.
- Allocating CPU-bound PowerShell: -CpuItems items of a loop that adds 3,000,000 numbers ($s += $i). It
  allocates on every step, and in one process every garbage collection pauses every thread, so threads help
  little. 'loky' runs it in worker processes with heaps of their own. Its first call is cold (it starts the
  worker pwsh processes, about a second each, in parallel); the second finds them warm, as every later call of
  the session does. 'multiprocessing' starts fresh workers for every call, so every call of it is cold.
- 'remote' runs the CPU-bound workload on other machines over SSH, only when hosts are given with -HostName or
  the environment variable JOBLIBPS_DEMO_HOSTS (comma-separated); without hosts it is listed as skipped. The
  hosts need PowerShell 7 with JoblibPS's worker requirements; see Get-Help about_JoblibPS_Remote.

Times on a shared or busy machine are noisy: the demo prints the load average (Linux) so you can tell.
Exit code 1 when a backend fails or returns anything different from ForEach-Object.

Run it after a build (dotnet pwsh ./build.ps1 -Task Demo does both), or by hand:
    dotnet pwsh ./examples/demo.ps1 -Backend threading,loky
    dotnet pwsh ./examples/demo.ps1 -HostName web1,web2

.PARAMETER Backend
Run only these of the demo's backends (sequential, threading, loky, multiprocessing, remote); all by default.

.PARAMETER HostName
Hosts for the remote backend (ssh config aliases work). Default: $env:JOBLIBPS_DEMO_HOSTS, split at commas.

.PARAMETER NJobs
Workers for the CPU-bound workload; -1 (the default) means one per processor, as in joblib.

.PARAMETER Requests
How many simulated 50 ms requests the waiting workload makes.

.PARAMETER CpuItems
How many items the CPU-bound workload has; by default two per processor, at least 4.
#>
[CmdletBinding()]
param(
    [ValidateSet('sequential', 'threading', 'loky', 'multiprocessing', 'remote')]
    [string[]] $Backend = @('sequential', 'threading', 'loky', 'multiprocessing', 'remote'),
    [string[]] $HostName = @(if ($env:JOBLIBPS_DEMO_HOSTS) { $env:JOBLIBPS_DEMO_HOSTS -split '[,\s]+' | Where-Object { $_ } }),
    [int] $NJobs = -1,
    [ValidateRange(1, 10000)]
    [int] $Requests = 60,
    [ValidateRange(1, 1000)]
    [int] $CpuItems = [Math]::Max(4, 2 * [Environment]::ProcessorCount)
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$modulePath = if ($env:JOBLIBPS_MODULE) { $env:JOBLIBPS_MODULE } else { Join-Path $PSScriptRoot '../out/JoblibPS/JoblibPS.psd1' }
if (-not (Test-Path -LiteralPath $modulePath)) { throw "$modulePath does not exist: build first (dotnet pwsh ./build.ps1)." }
Import-Module -Name $modulePath

$workers = if ($NJobs -lt 0) { [Math]::Max(1, [Environment]::ProcessorCount + 1 + $NJobs) } else { $NJobs }
$load = if (Test-Path -LiteralPath /proc/loadavg) { ', load average ' + ((Get-Content -LiteralPath /proc/loadavg -Raw).Split(' ')[0..2] -join ' ') } else { '' }
Write-Host ("JoblibPS demo on {0} processor(s){1}. Speedup is ForEach-Object's time divided by the backend's (above 1 is faster)." -f [Environment]::ProcessorCount, $load)

$rows = [System.Collections.Generic.List[object]]::new()
$failed = $false

# Times one run and checks its output against the baseline; a failure becomes a row, not a stop.
function Measure-Run {
    param([string] $Workload, [string] $Label, [string] $Call, [scriptblock] $Run, [object[]] $Expected, [double] $BaselineSeconds)
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    try {
        $actual = @(& $Run)
        $seconds = $clock.Elapsed.TotalSeconds
        $differ = 0
        for ($i = 0; $i -lt [Math]::Max($actual.Count, $Expected.Count); $i++) {
            if ($i -ge $actual.Count -or $i -ge $Expected.Count -or "$($actual[$i])" -cne "$($Expected[$i])") { $differ++ }
        }
        $result = if ($differ -eq 0) { 'same' } else { $script:failed = $true; "DIFFERENT: $differ of $($Expected.Count) ($($actual.Count) returned)" }
        $rows.Add([pscustomobject]@{ Workload = $Workload; Run = $Label; Call = $Call; Seconds = [Math]::Round($seconds, 2); Speedup = '{0:N2}x' -f ($BaselineSeconds / $seconds); Result = $result })
    }
    catch {
        $script:failed = $true
        $rows.Add([pscustomobject]@{ Workload = $Workload; Run = $Label; Call = $Call; Seconds = $null; Speedup = $null; Result = "FAILED: $($_.Exception.Message)" })
    }
}

function Add-Baseline {
    param([string] $Workload, [scriptblock] $Run)
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $output = @(& $Run)
    $seconds = $clock.Elapsed.TotalSeconds
    $rows.Add([pscustomobject]@{ Workload = $Workload; Run = 'ForEach-Object'; Call = '-'; Seconds = [Math]::Round($seconds, 2); Speedup = '1.00x'; Result = 'baseline' })
    @{ Output = $output; Seconds = $seconds }
}

# Waiting: each item waits 50 ms, as a request would; the blocks use only their input, so every backend can run them.
$wait = { Start-Sleep -Milliseconds 50; "request $_ done" }
$workload = "waiting ($Requests x 50 ms)"
Write-Host "Running: $workload ..."
$base = Add-Baseline $workload { 1..$Requests | ForEach-Object $wait }
if ('sequential' -in $Backend) {
    Measure-Run $workload 'sequential' '-' { 1..$Requests | Invoke-JoblibParallel $wait -Backend sequential } $base.Output $base.Seconds
}
if ('threading' -in $Backend) {
    Measure-Run $workload 'threading, 20 jobs' 'cold: opens 20 runspaces' { 1..$Requests | Invoke-JoblibParallel $wait -Backend threading -NJobs 20 } $base.Output $base.Seconds
    Measure-Run $workload 'threading, 20 jobs' 'warm: same runspaces' { 1..$Requests | Invoke-JoblibParallel $wait -Backend threading -NJobs 20 } $base.Output $base.Seconds
}

# Allocating CPU-bound PowerShell: boxing on every += step keeps the garbage collector busy.
$compute = { $n = $_; & { $s = 0; foreach ($i in 1..$n) { $s += $i }; $s } }
$steps = 3000000
$workload = "CPU-bound ($CpuItems x 3M steps)"
Write-Host "Running: $workload ..."
$base = Add-Baseline $workload { @(1..$CpuItems | ForEach-Object { $steps }) | ForEach-Object $compute }
$items = @(1..$CpuItems | ForEach-Object { $steps })
if ('threading' -in $Backend) {
    Measure-Run $workload "threading, $workers jobs" 'warm' { $items | Invoke-JoblibParallel $compute -Backend threading -NJobs $NJobs } $base.Output $base.Seconds
}
if ('loky' -in $Backend) {
    Measure-Run $workload "loky, $workers jobs" 'cold: starts the workers' { $items | Invoke-JoblibParallel $compute -Backend loky -NJobs $NJobs } $base.Output $base.Seconds
    Measure-Run $workload "loky, $workers jobs" 'warm: same workers' { $items | Invoke-JoblibParallel $compute -Backend loky -NJobs $NJobs } $base.Output $base.Seconds
}
if ('multiprocessing' -in $Backend) {
    Measure-Run $workload "multiprocessing, $workers jobs" 'cold: fresh workers per call' { $items | Invoke-JoblibParallel $compute -Backend multiprocessing -NJobs $NJobs } $base.Output $base.Seconds
}
if ('remote' -in $Backend) {
    if ($HostName) {
        $hosts = @{ HostName = $HostName }
        Measure-Run $workload "remote, $($HostName -join ', ')" 'cold: opens SSH sessions' { Use-JoblibConfig remote -BackendArgument $hosts { $items | Invoke-JoblibParallel $compute } } $base.Output $base.Seconds
    }
    else {
        $rows.Add([pscustomobject]@{ Workload = $workload; Run = 'remote'; Call = '-'; Seconds = $null; Speedup = $null
                Result = 'skipped: no hosts. Run with -HostName web1,web2, or set JOBLIBPS_DEMO_HOSTS=web1,web2 before build.ps1 -Task Demo' })
    }
}

$rows | Format-Table -AutoSize -Wrap | Out-String -Width 200 | Out-Host
Write-Host @'
Waiting work: threads wait in parallel, and 'threading' (the default backend) needs nothing copied.
Allocating CPU-bound PowerShell: worker processes each have their own garbage collector; 'loky' keeps them warm
for every later call, 'multiprocessing' pays for fresh ones on every call. A fresh worker also runs its first
seconds of work before .NET has fully compiled it, so a short call on new workers does not show the steady
state: bench/results.md (W2, 8 items of 14,000,000 steps) does. Get-Help about_JoblibPS_Backends says more
about choosing a backend.
'@
if ($load -and [double]::Parse(((Get-Content -LiteralPath /proc/loadavg -Raw).Split(' ')[0]), [cultureinfo]::InvariantCulture) -gt [Environment]::ProcessorCount) {
    Write-Host 'The load average is above the number of processors: other work competes for them, so these times are noisy.'
}
if ($failed) {
    Write-Host 'At least one backend failed or returned something other than ForEach-Object.'
    exit 1
}
Write-Host 'Every backend that ran returned exactly what ForEach-Object returned, in order.'
