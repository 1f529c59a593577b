<#
.SYNOPSIS
    Benchmarks Invoke-JoblibParallel against ForEach-Object, ForEach-Object -Parallel and Start-ThreadJob.

.DESCRIPTION
    Runs the workloads below with every contender, interleaved (A B C A B C ...), $Repeat timed rounds
    after one untimed warm-up per contender, and prints markdown tables of medians and ratios against
    sequential ForEach-Object. The tables and a description of the machine are written to $OutFile, and
    bench/New-BenchmarkChart.ps1 draws its summary as an SVG chart beside it (results.md -> results.svg).

      W1   overhead            10,000 items of { $_ * 2 }, N = 2                     -> items/s
      W2   CPU-bound, allocs   8 items of a 1..14,000,000 summing loop, N = 2        -> speedup
      W2S  CPU-bound, no alloc 8 items of [Threading.Thread]::SpinWait(12000000), N=2 -> speedup
      W3   I/O-bound           200 items of Start-Sleep -Milliseconds 50, N = 20     -> wall/ideal, first output
      Auto auto-batching       -BatchSize auto against fixed sizes per backend: bench/Auto-Batching.ps1
      Cold cold starts         time to first output of a cold loky pool and remote scope: bench/Cold-Start.ps1
      W5   scale               100,000 and 1,000,000 items of W1's block, each run in a fresh child
                               pwsh (sequential ForEach-Object and the threading backend only)
                                                                                     -> items/s, peak working set

    Contenders: ForEach-Object (sequential, the baseline), ForEach-Object -Parallel -ThrottleLimit N,
    Start-ThreadJob -ThrottleLimit N (+ Receive-Job -Wait -AutoRemoveJob), and
    Invoke-JoblibParallel -Backend <b> -NJobs N for each backend.

    A contender that throws (or returns wrong results) gets "error: <message>" in its cell; the run goes on.
    The method is described in the notes written to $OutFile (and at the end of this file's output).

.PARAMETER ModulePath
    JoblibPS manifest to import. Default: $env:JOBLIBPS_MODULE, else <repo>/out/JoblibPS/JoblibPS.psd1.

.PARAMETER Repeat
    Timed rounds per contender and workload (the median is reported). Default 3 (1 with -Quick).

.PARAMETER Workload
    Any of W1, W2, W2S, W3, W5, Auto, Cold. Default: all. A single comma-separated string is accepted too
    (handy with pwsh -File).

.PARAMETER Backend
    Backends for Invoke-JoblibParallel. Default: (Get-JoblibBackend).Name except remote (which needs hosts) when that cmdlet exists,
    else 'sequential','threading'. Pass @() (or an empty string) to benchmark no JoblibPS backend at all.

.PARAMETER Quick
    Smaller sizes for a smoke run (W1 2,000 items, W2 1..2,000,000, W2S SpinWait(1,500,000),
    W3 20 items at N = 5, W5 10,000 and 100,000 items), and one timed round unless -Repeat is given.

.PARAMETER OutFile
    Markdown report. Default: <repo>/bench/results.md.

.PARAMETER BudgetSeconds
    Once a contender has spent this many seconds on one workload (warm-up included), its remaining timed
    rounds there are skipped; it always gets at least one timed round, and the table says so. If a full-size
    warm-up alone used the budget, that warm-up is reported (marked cold) instead; if a reduced warm-up
    (W2, W2S, W3) alone used it, the contender is shown as n/a on that workload. Keeps slow
    contenders (e.g. a backend that starts fresh worker processes on every call, at N = 20 in W3) from
    dominating the run time. Sequential ForEach-Object, the baseline, is exempt. 0 disables. Default 45.

.EXAMPLE
    dotnet pwsh ./bench/Invoke-Benchmark.ps1 -Quick

.EXAMPLE
    dotnet pwsh ./bench/Invoke-Benchmark.ps1 -Workload W1,W3 -Backend threading -Repeat 5 -OutFile /tmp/r.md
#>
#Requires -Version 7.0
[CmdletBinding()]
param(
    [string]$ModulePath,
    [int]$Repeat = 3,
    [string[]]$Workload = @('W1', 'W2', 'W2S', 'W3', 'W5', 'Auto', 'Cold'),
    [string[]]$Backend,
    [switch]$Quick,
    [string]$OutFile,
    [double]$BudgetSeconds = 45
)

$ErrorActionPreference = 'Stop'
$inv = [System.Globalization.CultureInfo]::InvariantCulture
$benchStart = [Diagnostics.Stopwatch]::StartNew()
$RepoRoot = Split-Path -Parent $PSScriptRoot
Import-Module (Join-Path $PSScriptRoot 'BenchTools.psm1')

# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------
$ModulePath = Get-BenchModulePath $ModulePath
if (-not $OutFile) { $OutFile = Join-Path $RepoRoot 'bench/results.md' }
if ($Quick -and -not $PSBoundParameters.ContainsKey('Repeat')) { $Repeat = 1 }   # smoke run: one timed round unless asked
if ($Repeat -lt 1) { throw "-Repeat must be at least 1 (got $Repeat)." }

$knownWorkloads = 'W1', 'W2', 'W2S', 'W3', 'W5'
$Workload = @(Split-BenchList $Workload)
# Auto: -BatchSize auto against fixed sizes per backend (bench/Auto-Batching.ps1), appended to the report.
$runAuto = 'Auto' -in $Workload
# Cold: time to first output of cold process and remote workers (bench/Cold-Start.ps1), appended to the report.
$runCold = 'Cold' -in $Workload
$Workload = @($Workload | Where-Object { $_ -notin 'Auto', 'Cold' })
foreach ($w in $Workload) {
    if ($w -notin $knownWorkloads) { throw "Unknown workload '$w'. Known: $(($knownWorkloads + 'Auto', 'Cold') -join ', ')." }
}
# Always run in the canonical order, whatever order they were given in.
$Workload = @($knownWorkloads | Where-Object { $_ -in $Workload })

# Sizes.
if ($Quick) {
    $size = @{ W1Items = 2000; FepW1Items = 200; W2Loop = 2000000; W2SSpin = 1500000; W3Items = 20; W3N = 5; W5Sizes = @(10000, 100000) }
} else {
    $size = @{ W1Items = 10000; FepW1Items = 1000; W2Loop = 14000000; W2SSpin = 12000000; W3Items = 200; W3N = 20; W5Sizes = @(100000, 1000000) }
}
$W3SleepMs = 50
$W5WarmupItems = 1000

function Format-Int([double]$x) { [string]::Format($inv, '{0:N0}', $x) }
function Format-Seconds($s) {
    if ($null -eq $s) { return 'n/a' }
    if ($s -lt 10) { [string]::Format($inv, '{0:0.000} s', $s) } else { [string]::Format($inv, '{0:0.00} s', $s) }
}
function Format-Ratio($x) { if ($null -eq $x) { 'n/a' } else { [string]::Format($inv, '{0:0.00}x', $x) } }
function Format-MB($bytes) { if ($null -eq $bytes) { 'n/a' } else { [string]::Format($inv, '{0:0} MB', $bytes / 1MB) } }
function Format-Cell([string]$s) {
    # Make any text safe for one markdown table cell.
    $s = ($s -replace '\r?\n', ' ' -replace '\|', '\|').Trim()
    if ($s.Length -gt 220) { $s = $s.Substring(0, 217) + '...' }
    $s
}

# ---------------------------------------------------------------------------------------------
# Module, backends, contenders
# ---------------------------------------------------------------------------------------------
$moduleError = $null
$moduleVersion = $null
try {
    if (-not (Test-Path -LiteralPath $ModulePath)) { throw "module not found at '$ModulePath' (build it with: dotnet pwsh ./build.ps1 -Task Build)" }
    $mod = Import-Module -Name $ModulePath -Force -PassThru -ErrorAction Stop
    $moduleVersion = "$($mod.Version)"
    if (-not (Get-Command Invoke-JoblibParallel -ErrorAction Ignore)) { throw "Invoke-JoblibParallel not found after importing '$ModulePath'" }
} catch {
    $moduleError = "cannot load JoblibPS: $($_.Exception.Message)"
    Write-Warning $moduleError
}

if ($PSBoundParameters.ContainsKey('Backend')) {
    $Backend = @(Split-BenchList $Backend)
} else {
    $Backend = @('sequential', 'threading')
    if (-not $moduleError -and (Get-Command Get-JoblibBackend -ErrorAction Ignore)) {
        try {
            # remote needs hosts (backend arguments) that a benchmark run does not have: left out unless named.
            $names = @(Get-JoblibBackend | ForEach-Object { "$($_.Name)" } | Where-Object { $_ -and $_ -ne 'remote' })
            if ($names.Count) { $Backend = $names }
        } catch { Write-Warning "Get-JoblibBackend failed, using sequential and threading: $($_.Exception.Message)" }
    }
}

$threadJobError = $null
if (-not (Get-Command Start-ThreadJob -ErrorAction Ignore)) { $threadJobError = 'Start-ThreadJob is not available (module Microsoft.PowerShell.ThreadJob / ThreadJob)' }

$contenders = [System.Collections.Generic.List[object]]::new()
$contenders.Add([pscustomobject]@{ Id = 'seq'; Kind = 'seq'; Backend = $null; Name = 'ForEach-Object' })
$contenders.Add([pscustomobject]@{ Id = 'fep'; Kind = 'fep'; Backend = $null; Name = 'ForEach-Object -Parallel' })
$contenders.Add([pscustomobject]@{ Id = 'tj'; Kind = 'tj'; Backend = $null; Name = 'Start-ThreadJob' })
foreach ($b in $Backend) {
    $contenders.Add([pscustomobject]@{ Id = "joblib:$b"; Kind = 'joblib'; Backend = $b; Name = "Invoke-JoblibParallel -Backend $b" })
}

# ---------------------------------------------------------------------------------------------
# Workloads. Expected[i] is the expected output for Items[i].
# ---------------------------------------------------------------------------------------------
function New-Workload {
    param([string]$Id, [string]$Body, [int]$Count, [int]$N, [scriptblock]$ExpectedOf, [int]$WarmupCount,
        [int]$TjChunks, [int]$FepCount, [switch]$FirstOutput, [string]$Description)
    $items = [object[]](1..$Count)
    $expected = [double[]]::new($Count)
    for ($i = 0; $i -lt $Count; $i++) { $expected[$i] = [double](& $ExpectedOf $items[$i]) }
    [pscustomobject]@{
        Id = $Id; Body = $Body; Block = [scriptblock]::Create($Body)
        # Start-ThreadJob gets contiguous chunks; each job runs the same body over its chunk.
        TjBlock = [scriptblock]::Create("param(`$__chunk) `$__chunk | ForEach-Object -Process { $Body }")
        Items = $items; Expected = $expected; N = $N; WarmupCount = $WarmupCount
        TjChunks = $TjChunks; FepCount = $(if ($FepCount -gt 0) { $FepCount } else { $Count })
        FirstOutput = [bool]$FirstOutput; Description = $Description
    }
}

$wl = [ordered]@{}
if ('W1' -in $Workload) {
    $wl.W1 = New-Workload -Id W1 -Body '$_ * 2' -Count $size.W1Items -N 2 -ExpectedOf { param($x) 2 * $x } `
        -WarmupCount $size.W1Items -TjChunks 2 -FepCount $size.FepW1Items `
        -Description "$(Format-Int $size.W1Items) items of { `$_ * 2 }, N = 2"
}
if ('W2' -in $Workload) {
    $loop = $size.W2Loop
    $sum = [double]$loop * ($loop + 1) / 2
    $wl.W2 = New-Workload -Id W2 -Body "& { `$s = 0; foreach (`$i in 1..$loop) { `$s += `$i }; `$s }" -Count 8 -N 2 `
        -ExpectedOf ([scriptblock]::Create("$sum")) -WarmupCount 2 -TjChunks 8 `
        -Description "8 items of & { `$s = 0; foreach (`$i in 1..$loop) { `$s += `$i }; `$s }, N = 2"
}
if ('W2S' -in $Workload) {
    $spin = $size.W2SSpin
    $wl.W2S = New-Workload -Id W2S -Body "[Threading.Thread]::SpinWait($spin); `$_" -Count 8 -N 2 -ExpectedOf { param($x) $x } `
        -WarmupCount 2 -TjChunks 8 `
        -Description "8 items of [Threading.Thread]::SpinWait($spin); `$_ , N = 2"
}
if ('W3' -in $Workload) {
    $wl.W3 = New-Workload -Id W3 -Body "Start-Sleep -Milliseconds $W3SleepMs; `$_" -Count $size.W3Items -N $size.W3N -ExpectedOf { param($x) $x } `
        -WarmupCount $size.W3N -TjChunks $size.W3N -FirstOutput `
        -Description "$(Format-Int $size.W3Items) items of { Start-Sleep -Milliseconds $W3SleepMs; `$_ }, N = $($size.W3N)"
    $W3Ideal = $size.W3Items * $W3SleepMs / 1000.0 / $size.W3N
}

# ---------------------------------------------------------------------------------------------
# Running one contender once
# ---------------------------------------------------------------------------------------------
function Invoke-Producer {
    # Streams the contender's output to the caller's pipeline.
    param($Contender, $Wl, [object[]]$Items)
    $kind = $Contender.Kind
    if ($kind -eq 'seq') {
        $Items | ForEach-Object -Process $Wl.Block
    } elseif ($kind -eq 'fep') {
        $Items | ForEach-Object -Parallel $Wl.Block -ThrottleLimit $Wl.N
    } elseif ($kind -eq 'joblib') {
        $Items | Invoke-JoblibParallel -ScriptBlock $Wl.Block -Backend $Contender.Backend -NJobs $Wl.N
    } elseif ($kind -eq 'tj') {
        # Contiguous chunks (W1: one per worker, W2/W2S: one per item, W3: 20 of 10 items), received in
        # job order, so output is ordered. Receive-Job -Wait streams a job's output as it arrives.
        $jobs = [System.Collections.Generic.List[object]]::new()
        try {
            $chunks = [math]::Min($Wl.TjChunks, $Items.Count)
            for ($c = 0; $c -lt $chunks; $c++) {
                $lo = [int][math]::Floor($c * $Items.Count / $chunks)
                $hi = [int][math]::Floor(($c + 1) * $Items.Count / $chunks) - 1
                if ($hi -lt $lo) { continue }
                $chunk = [object[]]$Items[$lo..$hi]
                $jobs.Add((Start-ThreadJob -ScriptBlock $Wl.TjBlock -ArgumentList (, $chunk) -ThrottleLimit $Wl.N))
            }
            foreach ($j in $jobs) { Receive-Job -Job $j -Wait -AutoRemoveJob }
        } finally {
            foreach ($j in $jobs) {
                try { if ($j.State -eq 'Running' -or $j.State -eq 'NotStarted') { Stop-Job -Job $j } ; Remove-Job -Job $j -Force -ErrorAction Ignore } catch { }
            }
        }
    } else { throw "unknown contender kind '$kind'" }
}

function Test-Output {
    # Returns $null when the output is right, else a message. Sets $script:lastOrderOk.
    param([object[]]$Out, [double[]]$Expected)
    $script:lastOrderOk = $false
    if ($Out.Count -ne $Expected.Count) { return "expected $(Format-Int $Expected.Count) results, got $(Format-Int $Out.Count)" }
    $got = [double[]]::new($Out.Count)
    for ($i = 0; $i -lt $Out.Count; $i++) {
        $o = $Out[$i]
        if ($o -is [System.Management.Automation.ErrorRecord]) { return "result $i is an error: $o" }
        try { $got[$i] = [double]$o } catch { return "result $i is not a number: '$o' ($(if ($null -ne $o) { $o.GetType().FullName } else { 'null' }))" }
    }
    $script:lastOrderOk = [System.Linq.Enumerable]::SequenceEqual($got, $Expected)
    if ($script:lastOrderOk) { return $null }
    $a = [double[]]$got.Clone(); [Array]::Sort($a)
    $b = [double[]]$Expected.Clone(); [Array]::Sort($b)
    if (-not [System.Linq.Enumerable]::SequenceEqual($a, $b)) {
        for ($i = 0; $i -lt $a.Count; $i++) { if ($a[$i] -ne $b[$i]) { break } }
        return "wrong results (sorted index ${i}: expected $($b[$i]), got $($a[$i]))"
    }
    return $null   # same values, different order: the caller decides whether that matters
}

function Invoke-OneRun {
    param($Contender, $Wl, [int]$Count)
    $items = if ($Count -ge $Wl.Items.Count) { $Wl.Items } else { [object[]]$Wl.Items[0..($Count - 1)] }
    $expected = if ($Count -ge $Wl.Expected.Count) { $Wl.Expected } else { [double[]]$Wl.Expected[0..($Count - 1)] }
    $r = [pscustomobject]@{ Seconds = $null; First = $null; Count = 0; Items = $items.Count; OrderOk = $null; Gen0 = $null; Error = $null }
    [GC]::Collect(); [GC]::WaitForPendingFinalizers(); [GC]::Collect()
    $gen0 = [GC]::CollectionCount(0)
    $first = $null
    try {
        if ($Contender.Kind -eq 'tj' -and $threadJobError) { throw $threadJobError }
        if ($Contender.Kind -eq 'joblib' -and $moduleError) { throw $moduleError }
        if ($Wl.FirstOutput) {
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $out = @(Invoke-Producer -Contender $Contender -Wl $Wl -Items $items |
                    ForEach-Object { if ($null -eq $first) { $first = $sw.Elapsed }; $_ })
            $sw.Stop()
        } else {
            $sw = [Diagnostics.Stopwatch]::StartNew()
            $out = @(Invoke-Producer -Contender $Contender -Wl $Wl -Items $items)
            $sw.Stop()
        }
        $r.Gen0 = [GC]::CollectionCount(0) - $gen0
        $r.Seconds = $sw.Elapsed.TotalSeconds
        if ($null -ne $first) { $r.First = $first.TotalSeconds }
        $r.Count = $out.Count
        $msg = Test-Output -Out $out -Expected $expected
        $r.OrderOk = $script:lastOrderOk
        if ($msg) { $r.Error = $msg }
    } catch {
        $r.Error = "$($_.Exception.Message)"
        if (-not $r.Error) { $r.Error = "$_" }
    }
    $r
}

# ---------------------------------------------------------------------------------------------
# W5: one fresh child pwsh per run
# ---------------------------------------------------------------------------------------------
$childScript = @'
param([string]$Kind, [string]$Backend, [int]$Count, [int]$NJobs, [string]$ModulePath, [int]$WarmupCount)
$ErrorActionPreference = 'Stop'
$r = [ordered]@{ ok = $false; count = -1; seconds = $null; peakBefore = $null; peak = $null; warmupOk = $null; error = $null }
try {
    $block = [scriptblock]::Create('$_ * 2')
    if ($Kind -eq 'joblib') {
        Import-Module -Name $ModulePath -ErrorAction Stop
        $w = @(1..$WarmupCount | Invoke-JoblibParallel -ScriptBlock $block -Backend $Backend -NJobs $NJobs)
    } else {
        $w = @(1..$WarmupCount | ForEach-Object -Process $block)
    }
    $ok = $w.Count -eq $WarmupCount
    if ($ok) { for ($i = 0; $i -lt $WarmupCount; $i++) { if ($w[$i] -ne 2 * ($i + 1)) { $ok = $false; break } } }
    $r.warmupOk = $ok
    $w = $null
    [GC]::Collect(); [GC]::WaitForPendingFinalizers(); [GC]::Collect()
    $r.peakBefore = [System.Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64
    $sw = [Diagnostics.Stopwatch]::StartNew()
    if ($Kind -eq 'joblib') {
        $m = 1..$Count | Invoke-JoblibParallel -ScriptBlock $block -Backend $Backend -NJobs $NJobs | Measure-Object
    } else {
        $m = 1..$Count | ForEach-Object -Process $block | Measure-Object
    }
    $sw.Stop()
    $r.seconds = $sw.Elapsed.TotalSeconds
    $r.peak = [System.Diagnostics.Process]::GetCurrentProcess().PeakWorkingSet64
    $r.count = $m.Count
    $r.ok = $true
} catch {
    $r.error = "$($_.Exception.Message)"
}
'BENCHJSON ' + ($r | ConvertTo-Json -Compress)
'@
$childPath = $null
$pwshExe = Get-BenchPwshPath
if (-not (Test-Path -LiteralPath $pwshExe) -and $env:JOBLIBPS_PWSH) { $pwshExe = $env:JOBLIBPS_PWSH }

function Invoke-W5Run {
    param($Contender, [int]$Count)
    $r = [pscustomobject]@{ Seconds = $null; First = $null; Count = 0; Items = $Count; OrderOk = $null; Gen0 = $null; Error = $null; Peak = $null; PeakBefore = $null }
    try {
        if ($Contender.Kind -eq 'joblib' -and $moduleError) { throw $moduleError }
        $childArgs = @('-NoProfile', '-NonInteractive', '-File', $script:childPath, '-Kind', $Contender.Kind,
            '-Backend', "$($Contender.Backend)", '-Count', $Count, '-NJobs', 2, '-ModulePath', $ModulePath, '-WarmupCount', $W5WarmupItems)
        $lines = @(& $pwshExe @childArgs 2>&1 | ForEach-Object { "$_" })
        $json = $lines | Where-Object { $_ -like 'BENCHJSON *' } | Select-Object -Last 1
        if (-not $json) {
            $tail = ($lines | Select-Object -Last 5) -join ' / '
            throw "child pwsh exited with $LASTEXITCODE and no result: $tail"
        }
        $o = $json.Substring(10) | ConvertFrom-Json
        if (-not $o.ok) { throw "$($o.error)" }
        $r.Seconds = [double]$o.seconds; $r.Count = [int64]$o.count
        $r.Peak = [double]$o.peak; $r.PeakBefore = [double]$o.peakBefore
        $r.OrderOk = [bool]$o.warmupOk
        if ($r.Count -ne $Count) { $r.Error = "expected $(Format-Int $Count) results, got $(Format-Int $r.Count)" }
    } catch {
        $r.Error = "$($_.Exception.Message)"
    }
    $r
}

# ---------------------------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------------------------
$records = [ordered]@{}   # key "<row label>|<contender id>" -> record
function Get-Record([string]$Row, [string]$WlId, $Contender) {
    $key = "$Row|$($Contender.Id)"
    if (-not $records.Contains($key)) {
        $records[$key] = [pscustomobject]@{ Row = $Row; Wl = $WlId; Contender = $Contender; Runs = [System.Collections.Generic.List[object]]::new(); Skip = $null; WarmupError = $null; Spent = 0.0; OverBudget = $false; WarmupOnly = $false }
    }
    $records[$key]
}

function Write-Progress-Line([string]$Row, [string]$What, $Contender, $r) {
    $t = if ($r.Error) { "error: $($r.Error)" } else {
        $s = Format-Seconds $r.Seconds
        if ($null -ne $r.First) { $s += " (first $(Format-Seconds $r.First))" }
        if ($null -ne $r.PSObject.Properties['Peak'] -and $null -ne $r.Peak) { $s += " (peak WS $(Format-MB $r.Peak))" }
        $s
    }
    Write-Host ("  {0,-10} {1,-8} {2,-44} {3}" -f $Row, $What, $Contender.Name, $t)
}

$machineCpu = 'unknown'
try {
    if (Test-Path /proc/cpuinfo) {
        foreach ($key in 'model name', 'Hardware', 'cpu model', 'Model') {
            $m = Select-String -Path /proc/cpuinfo -CaseSensitive -Pattern "^$key\s*:\s*(.+)$" | Select-Object -First 1
            if ($m) { $machineCpu = $m.Matches[0].Groups[1].Value.Trim(); break }
        }
    } elseif ($env:PROCESSOR_IDENTIFIER) { $machineCpu = $env:PROCESSOR_IDENTIFIER }
    elseif ($IsMacOS) { $machineCpu = (& sysctl -n machdep.cpu.brand_string) }
} catch { }
$cpuCount = [Environment]::ProcessorCount
$osName = [System.Runtime.InteropServices.RuntimeInformation]::OSDescription
try {
    if (Test-Path /etc/os-release) {
        $pretty = (Select-String -Path /etc/os-release -Pattern '^PRETTY_NAME=(.*)$' | Select-Object -First 1).Matches[0].Groups[1].Value.Trim('"')
        if ($pretty) { $osName = $pretty }
    }
    if (Test-Path /proc/sys/kernel/osrelease) {
        $osName += ", kernel $((Get-Content -Raw /proc/sys/kernel/osrelease).Trim()) $([System.Runtime.InteropServices.RuntimeInformation]::OSArchitecture)"
    }
} catch { }
$loadStart = Get-BenchLoadAverage -Fields 3
$gitCommit = $null
try { $gitCommit = (& git -C $RepoRoot rev-parse --short HEAD 2>$null); if ($LASTEXITCODE) { $gitCommit = $null } } catch { }

Write-Host "JoblibPS benchmark$(if ($Quick) { ' (-Quick)' }): $($Workload -join ', '); repeat $Repeat; $cpuCount cores; pwsh $($PSVersionTable.PSVersion)"
Write-Host "Module: $ModulePath$(if ($moduleError) { " -- $moduleError" } else { " (v$moduleVersion)" })"
Write-Host "Contenders: $(($contenders | ForEach-Object Name) -join '; ')"

try {
    foreach ($id in $wl.Keys) {
        $w = $wl[$id]
        Write-Host ""
        $wlStart = $benchStart.Elapsed
        Write-Host "[$id] $($w.Description)"
        # Warm-up: one untimed run per contender.
        foreach ($c in $contenders) {
            $rec = Get-Record $id $id $c
            $count = if ($c.Kind -eq 'fep') { [math]::Min($w.FepCount, $w.WarmupCount) } else { $w.WarmupCount }
            $t0 = $benchStart.Elapsed
            $r = Invoke-OneRun -Contender $c -Wl $w -Count $count
            $rec.Spent += ($benchStart.Elapsed - $t0).TotalSeconds
            Write-Progress-Line $id 'warm-up' $c $r
            if ($r.Error) { $rec.WarmupError = $r.Error }
            elseif ($BudgetSeconds -gt 0 -and $c.Kind -ne 'seq' -and $rec.Spent -ge $BudgetSeconds -and $count -eq $(if ($c.Kind -eq 'fep') { $w.FepCount } else { $w.Items.Count })) {
                # The warm-up was a full-size run and already used the whole budget: it is the measurement.
                $rec.Runs.Add($r); $rec.WarmupOnly = $true
                Write-Host ("  {0,-10} {1,-8} {2,-44} timed rounds skipped: the warm-up used the {3:0} s budget; it is reported instead" -f $id, '', $c.Name, $BudgetSeconds)
            } elseif ($BudgetSeconds -gt 0 -and $c.Kind -ne 'seq' -and $rec.Spent -ge $BudgetSeconds) {
                # A reduced warm-up alone used the budget: a full-size run would cost at least as much. Not timed.
                $rec.Skip = [string]::Format($inv, 'n/a: not timed, the {0}-item warm-up alone took {1:0.0} s (over the {2:0} s budget)', $count, $r.Seconds, $BudgetSeconds)
                Write-Host ("  {0,-10} {1,-8} {2,-44} timed rounds skipped: the reduced warm-up alone used the {3:0} s budget" -f $id, '', $c.Name, $BudgetSeconds)
            }
        }
        # Timed rounds, interleaved.
        for ($round = 1; $round -le $Repeat; $round++) {
            foreach ($c in $contenders) {
                $rec = Get-Record $id $id $c
                if ($rec.WarmupError -or $rec.WarmupOnly -or $rec.Skip) { continue }   # error row / warm-up reported; do not waste time on it
                if ($BudgetSeconds -gt 0 -and $c.Kind -ne 'seq' -and $rec.Runs.Count -ge 1 -and $rec.Spent -ge $BudgetSeconds) {
                    if (-not $rec.OverBudget) { Write-Host ("  {0,-10} {1,-8} {2,-44} skipped: over the {3:0} s budget for this workload" -f $id, "run $round", $c.Name, $BudgetSeconds) }
                    $rec.OverBudget = $true
                    continue
                }
                $count = if ($c.Kind -eq 'fep') { $w.FepCount } else { $w.Items.Count }
                $t0 = $benchStart.Elapsed
                $r = Invoke-OneRun -Contender $c -Wl $w -Count $count
                $rec.Spent += ($benchStart.Elapsed - $t0).TotalSeconds
                $rec.Runs.Add($r)
                Write-Progress-Line $id "run $round" $c $r
            }
        }
        Write-Host ("  ({0} took {1:0.0} s)" -f $id, ($benchStart.Elapsed - $wlStart).TotalSeconds)
    }

    if ('W5' -in $Workload) {
        $script:childPath = Join-Path ([IO.Path]::GetTempPath()) ("joblibps-bench-w5-{0}.ps1" -f [guid]::NewGuid().ToString('N'))
        Set-Content -LiteralPath $script:childPath -Value $childScript -Encoding utf8
        $w5Contenders = @($contenders | Where-Object { $_.Kind -eq 'seq' -or ($_.Kind -eq 'joblib' -and $_.Backend -eq 'threading') })
        foreach ($n in $size.W5Sizes) {
            $row = "W5 $(Format-Int $n)"
            Write-Host ""
            Write-Host "[$row] $(Format-Int $n) items of { `$_ * 2 }, ordered, N = 2, each run in a fresh child pwsh"
            foreach ($c in $contenders) {
                $rec = Get-Record $row 'W5' $c
                if ($c -notin $w5Contenders) {
                    $rec.Skip = if ($c.Kind -eq 'joblib') { 'n/a: W5 runs the threading backend only' } else { 'n/a: skipped, too slow at this scale' }
                }
            }
            for ($round = 1; $round -le $Repeat; $round++) {
                foreach ($c in $w5Contenders) {
                    $rec = Get-Record $row 'W5' $c
                    $r = Invoke-W5Run -Contender $c -Count $n
                    $rec.Runs.Add($r)
                    Write-Progress-Line $row "run $round" $c $r
                }
            }
        }
    }
} finally {
    if ($script:childPath -and (Test-Path -LiteralPath $script:childPath)) { Remove-Item -LiteralPath $script:childPath -Force -ErrorAction Ignore }
}

# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------
$anomalies = [System.Collections.Generic.List[string]]::new()
foreach ($rec in $records.Values) {
    $ok = @($rec.Runs | Where-Object { -not $_.Error })
    $rec | Add-Member -NotePropertyName OkRuns -NotePropertyValue $ok
    $rec | Add-Member -NotePropertyName Median -NotePropertyValue $(if ($ok.Count) { Get-BenchMedian ([double[]]@($ok | ForEach-Object Seconds)) -Even Mean } else { $null })
    $firsts = @($ok | Where-Object { $null -ne $_.First } | ForEach-Object First)
    $rec | Add-Member -NotePropertyName MedianFirst -NotePropertyValue $(if ($firsts.Count) { Get-BenchMedian ([double[]]$firsts) -Even Mean } else { $null })
    $peaks = @($ok | Where-Object { $null -ne $_.PSObject.Properties['Peak'] -and $null -ne $_.Peak } | ForEach-Object Peak)
    $rec | Add-Member -NotePropertyName MedianPeak -NotePropertyValue $(if ($peaks.Count) { Get-BenchMedian ([double[]]$peaks) -Even Mean } else { $null })
    $befores = @($ok | Where-Object { $null -ne $_.PSObject.Properties['PeakBefore'] -and $null -ne $_.PeakBefore } | ForEach-Object PeakBefore)
    $rec | Add-Member -NotePropertyName MedianPeakBefore -NotePropertyValue $(if ($befores.Count) { Get-BenchMedian ([double[]]$befores) -Even Mean } else { $null })
    $errs = @($rec.Runs | Where-Object { $_.Error } | ForEach-Object Error)
    $errorText = if ($rec.WarmupError) { $rec.WarmupError } elseif ($errs.Count) { $errs[0] } else { $null }
    $rec | Add-Member -NotePropertyName ErrorText -NotePropertyValue $errorText
    $rec | Add-Member -NotePropertyName FailedRuns -NotePropertyValue $errs.Count
    # Ordered output is expected from everything but ForEach-Object -Parallel.
    $orderBad = @($ok | Where-Object { $_.OrderOk -eq $false }).Count
    $rec | Add-Member -NotePropertyName OrderBad -NotePropertyValue $orderBad
    if ($errorText) {
        $anomalies.Add("$($rec.Row) / $($rec.Contender.Name): error: $(Format-Cell $errorText)$(if ($rec.WarmupError) { ' (in the warm-up; timed runs skipped)' } elseif ($errs.Count) { " ($($errs.Count) of $($rec.Runs.Count) runs)" })")
    }
    if ($orderBad -and $rec.Contender.Kind -ne 'fep') {
        $where = if ($rec.Wl -eq 'W5') { 'in the 1,000-item warm-up inside the child' } else { "in $orderBad of $($ok.Count) runs" }
        $anomalies.Add("$($rec.Row) / $($rec.Contender.Name): results out of order $where (ordered output expected)")
    }
}

function Get-SeqMedian([string]$Row) {
    $k = "$Row|seq"
    if ($records.Contains($k)) { $records[$k].Median } else { $null }
}

$detail = [System.Collections.Generic.List[string]]::new()
$detail.Add('| workload | contender | median | ratio vs sequential | extra |')
$detail.Add('|---|---|---:|---:|---|')
foreach ($rec in $records.Values) {
    $c = $rec.Contender
    if ($rec.Skip) {
        $detail.Add("| $($rec.Row) | $($c.Name) | n/a | n/a | $($rec.Skip) |"); continue
    }
    $seqMed = Get-SeqMedian $rec.Row
    $extra = [System.Collections.Generic.List[string]]::new()
    if ($rec.ErrorText -and $null -eq $rec.Median) {
        $detail.Add("| $($rec.Row) | $($c.Name) | error: $(Format-Cell $rec.ErrorText) | n/a | $(if ($rec.WarmupError) { 'failed in the warm-up; timed runs skipped' } else { "$($rec.FailedRuns) of $($rec.Runs.Count) runs failed" }) |")
        continue
    }
    $median = $rec.Median
    $ratio = if ($seqMed -and $median) { $seqMed / $median } else { $null }
    $items = $rec.OkRuns[0].Items
    switch ($rec.Wl) {
        'W1' {
            $extra.Add("$(Format-Int ($items / $median)) items/s")
            if ($items -ne $wl.W1.Items.Count) { $extra.Add("timed on $(Format-Int $items) of $(Format-Int $wl.W1.Items.Count) items (about $([string]::Format($inv, '{0:0.0}', 1000 * $median / $items)) ms per item)") }
        }
        'W2' { $extra.Add("speedup $(Format-Ratio $ratio)") }
        'W2S' { $extra.Add("speedup $(Format-Ratio $ratio)") }
        'W3' {
            $extra.Add("wall/ideal $([string]::Format($inv, '{0:0.00}', $median / $W3Ideal)) (ideal $(Format-Seconds $W3Ideal))")
            $extra.Add("first output $(Format-Seconds $rec.MedianFirst)")
        }
        'W5' {
            $extra.Add("$(Format-Int ($items / $median)) items/s")
            $extra.Add("peak WS $(Format-MB $rec.MedianPeak) (before the timed run: $(Format-MB $rec.MedianPeakBefore))")
        }
    }
    if ($rec.Wl -in 'W2', 'W2S') {
        $g = @($rec.OkRuns | Where-Object { $null -ne $_.Gen0 } | ForEach-Object Gen0)
        if ($g.Count) { $extra.Add("gen0 GCs in this process $(Format-Int (Get-BenchMedian ([double[]]$g) -Even Mean))") }
    }
    if ($rec.WarmupOnly) { $extra.Add("**cold**: only the untimed warm-up was measured (it used the whole $([string]::Format($inv, '{0:0}', $BudgetSeconds)) s budget)") }
    if ($rec.OverBudget) { $extra.Add("$($rec.Runs.Count) of $Repeat timed rounds (over the $([string]::Format($inv, '{0:0}', $BudgetSeconds)) s budget)") }
    if ($rec.OkRuns.Count -gt 1) { $extra.Add("runs $((@($rec.OkRuns | ForEach-Object { [string]::Format($inv, '{0:0.000}', $_.Seconds) })) -join ' / ') s") }
    if ($rec.OrderBad -and $c.Kind -ne 'fep') { $extra.Add('**OUT OF ORDER**') }
    if ($rec.ErrorText) { $extra.Add("error in $($rec.FailedRuns) of $($rec.Runs.Count) runs: $($rec.ErrorText)") }
    $detail.Add("| $($rec.Row) | $($c.Name) | $(Format-Seconds $median) | $(Format-Ratio $ratio) | $(Format-Cell ($extra -join '; ')) |")
}

function Get-SummaryCell([string]$Row, $Contender, [scriptblock]$Value) {
    $k = "$Row|$($Contender.Id)"
    if (-not $records.Contains($k)) { return 'n/a' }
    $rec = $records[$k]
    if ($rec.Skip) { if ($rec.Skip -like '*budget*') { return 'n/a (over budget)' } else { return 'n/a' } }
    if ($null -eq $rec.Median) { return 'error' }
    $v = & $Value $rec
    if ($rec.ErrorText) { $v += ' (some runs failed)' }
    if ($rec.WarmupOnly) { $v += ' (cold)' }
    if ($rec.OrderBad -and $Contender.Kind -ne 'fep') { $v += ' (out of order)' }
    $v
}

$summary = [System.Collections.Generic.List[string]]::new()
$summary.Add('| | W1 items/s | W2 speedup | W2S speedup | W3 / ideal | W3 first output |')
$summary.Add('|---|---:|---:|---:|---:|---:|')
foreach ($c in $contenders) {
    $cells = @(
        (Get-SummaryCell 'W1' $c { param($r) Format-Int ($r.OkRuns[0].Items / $r.Median) }),
        (Get-SummaryCell 'W2' $c { param($r) $s = Get-SeqMedian 'W2'; if ($s) { Format-Ratio ($s / $r.Median) } else { 'n/a' } }),
        (Get-SummaryCell 'W2S' $c { param($r) $s = Get-SeqMedian 'W2S'; if ($s) { Format-Ratio ($s / $r.Median) } else { 'n/a' } }),
        (Get-SummaryCell 'W3' $c { param($r) [string]::Format($inv, '{0:0.00}', $r.Median / $W3Ideal) }),
        (Get-SummaryCell 'W3' $c { param($r) Format-Seconds $r.MedianFirst })
    )
    $summary.Add("| $($c.Name) | $($cells -join ' | ') |")
}

$w5Summary = $null
if ('W5' -in $Workload) {
    $w5Summary = [System.Collections.Generic.List[string]]::new()
    $hdr = '|'
    foreach ($n in $size.W5Sizes) { $hdr += " | W5 $(Format-Int $n) items/s | W5 $(Format-Int $n) peak WS" }
    $w5Summary.Add("$hdr |")
    $w5Summary.Add('|---' + ('|---:' * (2 * $size.W5Sizes.Count)) + '|')
    foreach ($c in $contenders) {
        $cells = foreach ($n in $size.W5Sizes) {
            $row = "W5 $(Format-Int $n)"
            Get-SummaryCell $row $c { param($r) Format-Int ($r.OkRuns[0].Items / $r.Median) }
            Get-SummaryCell $row $c { param($r) Format-MB $r.MedianPeak }
        }
        $w5Summary.Add("| $($c.Name) | $($cells -join ' | ') |")
    }
}

$elapsed = $benchStart.Elapsed
$modShown = $ModulePath
try { $rel = [IO.Path]::GetRelativePath($RepoRoot, (Resolve-Path -LiteralPath $ModulePath -ErrorAction Stop).Path); if (-not $rel.StartsWith('..')) { $modShown = $rel } } catch { }
$gcMode = if ([System.Runtime.GCSettings]::IsServerGC) { 'server' } else { 'workstation' }
$gcEnv = @('DOTNET_gcServer', 'DOTNET_GCgen0size', 'DOTNET_gcConcurrent') | Where-Object { [Environment]::GetEnvironmentVariable($_) } | ForEach-Object { "$_=$([Environment]::GetEnvironmentVariable($_))" }

$notes = @(
    "- Ratio vs sequential = median time of sequential ForEach-Object / median time of the contender (above 1 is faster). W1 and W5 ratios are ratios of items/s.",
    "- Each workload runs its contenders interleaved (A B C A B C ...), $Repeat timed round(s); the median is shown. A full GC runs before every timed run.",
    "- Warm-up: one untimed run per contender before the timed rounds, with the same block and N; W1 uses all items, W2/W2S 2 items and W3 N items (one per worker) to keep the run short. JoblibPS keeps warm runspaces (threading) and warm worker processes (loky) between calls; ForEach-Object -Parallel and Start-ThreadJob create new runspaces on every call and JoblibPS's multiprocessing backend starts fresh workers on every call (as joblib's does), so their timings include that: each tool is measured in its own steady state.",
    "- Time budget: once a contender has spent $([string]::Format($inv, '{0:0}', $BudgetSeconds)) s on one workload (warm-up included) its remaining timed rounds there are skipped (at least one always runs; the details table says so). If a full-size warm-up alone used the budget, no timed round runs and that warm-up is reported, marked cold; if a reduced warm-up (W2, W2S, W3) alone used it, the contender is not timed on that workload (n/a, with the warm-up's time). Sequential ForEach-Object is exempt.",
    "- Outputs are collected with @( ... ) and checked after the stopwatch stops: count, values, and order (ordered output is expected from all but ForEach-Object -Parallel). Wrong counts or values make an error row.",
    "- ForEach-Object -Parallel: -ThrottleLimit N. In W1 it is timed on the first $(Format-Int $size.FepW1Items) items only (it costs milliseconds per item, so the full set would dominate the run time); items/s is still comparable.",
    "- Start-ThreadJob -ThrottleLimit N, one job per contiguous chunk (W1: N chunks; W2, W2S: one job per item; W3: $($size.W3N) jobs of $(Format-Int ($size.W3Items / $size.W3N)) items, because one job per item costs more than the sleep), then Receive-Job -Wait -AutoRemoveJob on each job in order, so output is ordered. W3 first output for Start-ThreadJob is the first result received from the first job (Receive-Job -Wait streams a job's output as it arrives).",
    "- W3: ideal = $(Format-Int $size.W3Items) x $W3SleepMs ms / $($size.W3N) = $(Format-Seconds $W3Ideal). First output is measured by a downstream ForEach-Object in the same pipeline; the stopwatch starts right before the pipeline.",
    '- W2S returns `$_` after the spin so its output can be counted and checked.',
    '- W5: each run is a fresh child pwsh (`$PSHOME/pwsh -NoProfile -File ...`): it imports the module (JoblibPS only), does an untimed 1,000-item warm-up (checked for order), then times `1..n | <contender> | Measure-Object` and reads PeakWorkingSet64 of its own process at the end (the value before the timed run is shown too, as the baseline of a pwsh process). ForEach-Object -Parallel and Start-ThreadJob are not run in W5 (too slow at this scale).',
    "- gen0 GCs counts collections in the benchmarking process only (workers of process-based backends are not counted)."
)

$md = [System.Collections.Generic.List[string]]::new()
$md.Add('# JoblibPS benchmark results')
$md.Add('')
$md.Add('Generated by `bench/Invoke-Benchmark.ps1' + $(if ($Quick) { ' -Quick' } else { '' }) + '` on ' + (Get-Date -Format 'yyyy-MM-dd HH:mm:ss zzz') + '.')
$md.Add('')
$md.Add('## Machine')
$md.Add('')
$md.Add("- CPU: $machineCpu")
$md.Add("- Cores: $cpuCount (logical processors seen by .NET)")
$loadEnd = Get-BenchLoadAverage -Fields 3
if ($loadStart) { $md.Add("- Load average (1/5/15 min): $loadStart at the start, $loadEnd at the end (other work on the machine makes timings noisy)") }
$md.Add("- OS: $osName")
$md.Add("- PowerShell: $($PSVersionTable.PSVersion) on $([System.Runtime.InteropServices.RuntimeInformation]::FrameworkDescription), $gcMode GC$(if ($gcEnv) { " ($($gcEnv -join ', '))" })")
$modText = if ($moduleError) { "not loaded ($moduleError)" } else { $moduleVersion + ' from `' + $modShown + '`' }
if ($gitCommit) { $modText += ", repo commit $gitCommit" }
$md.Add("- JoblibPS: $modText")
$md.Add("- Run: workloads $($Workload -join ', '); backends $(if ($Backend.Count) { $Backend -join ', ' } else { '(none)' }); repeat $Repeat; budget $(if ($BudgetSeconds -gt 0) { [string]::Format($inv, '{0:0} s', $BudgetSeconds) } else { 'off' }) per contender and workload; $(if ($Quick) { '-Quick sizes' } else { 'full sizes' }); took $([string]::Format($inv, '{0:0}m {1:00}s', [math]::Floor($elapsed.TotalMinutes), $elapsed.Seconds))")
$md.Add('')
$md.Add('## Summary')
$md.Add('')
foreach ($w in $wl.Values) { $md.Add("- $($w.Id): $($w.Description)") }
if ('W5' -in $Workload) { $md.Add("- W5: $(($size.W5Sizes | ForEach-Object { Format-Int $_ }) -join ' and ') items of { `$_ * 2 }, ordered, N = 2, fresh child pwsh per run") }
$md.Add('')
$summary | ForEach-Object { $md.Add($_) }
if ($w5Summary) { $md.Add(''); $w5Summary | ForEach-Object { $md.Add($_) } }
$md.Add('')
$md.Add('## Details')
$md.Add('')
$detail | ForEach-Object { $md.Add($_) }
$md.Add('')
$md.Add('## Anomalies')
$md.Add('')
if ($anomalies.Count) { $anomalies | ForEach-Object { $md.Add("- $_") } } else { $md.Add('None: every run returned the expected results, in order where order is expected.') }
$md.Add('')
$md.Add('## Method')
$md.Add('')
$notes | ForEach-Object { $md.Add($_) }

Write-Host ''
Write-Host '== Summary =='
$summary | ForEach-Object { Write-Host $_ }
if ($w5Summary) { Write-Host ''; $w5Summary | ForEach-Object { Write-Host $_ } }
Write-Host ''
Write-Host '== Details =='
$detail | ForEach-Object { Write-Host $_ }
Write-Host ''
Write-Host '== Anomalies =='
if ($anomalies.Count) { $anomalies | ForEach-Object { Write-Host "- $_" } } else { Write-Host 'none' }

# The benchmarks appended to the report: each prints its own lines, shown here and kept as one block in the report.
$appended = @(
    @{ Run = $runAuto; Script = 'Auto-Batching.ps1'; Title = 'Auto-batching against fixed sizes'; Heading = 'Auto-batching against fixed batch sizes' }
    @{ Run = $runCold; Script = 'Cold-Start.ps1'; Title = 'Cold starts'; Heading = 'Cold starts' }
)
foreach ($part in $appended | Where-Object Run) {
    Write-Host ''
    Write-Host "== $($part.Title) (bench/$($part.Script)) =="
    $lines = @(& (Join-Path $PSScriptRoot $part.Script) -ModulePath $ModulePath -Repeat $Repeat | ForEach-Object { "$_" })
    $lines | Write-Host
    $md += @('', "## $($part.Heading)", '', '```') + $lines + @('```')
}

$outDir = Split-Path -Parent $OutFile
if ($outDir -and -not (Test-Path -LiteralPath $outDir)) { New-Item -ItemType Directory -Path $outDir -Force | Out-Null }
Set-Content -LiteralPath $OutFile -Value ($md -join "`n") -Encoding utf8NoBOM
Write-Host ''
Write-Host ("Wrote {0} (took {1:0}m {2:00}s)" -f $OutFile, [math]::Floor($elapsed.TotalMinutes), $elapsed.Seconds)
# The summary as a chart beside the report (results.svg for results.md), drawn from the report itself.
& (Join-Path $PSScriptRoot 'New-BenchmarkChart.ps1') -ResultsPath $OutFile
exit 0
