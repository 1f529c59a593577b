<#
.SYNOPSIS
    What -Checkpoint costs (issue 21), in one run: each workload with and without a checkpoint, and a resumed run
    whose items are all recorded against Import-Clixml reading the same outputs. Prints median seconds and ratios.
.DESCRIPTION
    Workloads (threading backend, timed warm: round 0 runs every contender once and is not counted; contenders
    interleaved; each timed run with a checkpoint starts from no file):
      W3      200 items of 50 ms (Start-Sleep) at 20 jobs            bound: with/without at most 1.10
      hash    (Get-FileHash $_).Hash over -HashCount SDK files, 2 jobs  bound: at most 1.10
      tiny    -TinyCount items of { $_ * 2 }, 2 jobs                 bound: at most 1.5
      resume  -TinyCount items all recorded: the resumed call vs Import-Clixml of the same -TinyCount outputs
                                                                     bound: resumed/Import-Clixml at most 1.0
      floor   the same input piped through Write-Output: what binding -TinyCount piped items costs any cmdlet,
              the resumed call included; the line after resume shows the call's own cost above it
.EXAMPLE
    dotnet pwsh ./bench/Checkpoint.ps1 -Repeat 3
#>
#Requires -Version 7.0
param(
    [string] $ModulePath,
    [int] $Repeat = 3,
    [int] $TinyCount = 100000,
    [int] $HashCount = 2000
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'BenchTools.psm1')
Import-Module (Get-BenchModulePath $ModulePath)

$folder = Join-Path ([IO.Path]::GetTempPath()) "joblibps-bench-checkpoint-$PID"
$null = New-Item -ItemType Directory -Path $folder -Force
$checkpoint = Join-Path $folder 'run.checkpoint'

$sdk = Split-Path -Parent ((Get-Item -LiteralPath (Get-Command dotnet -CommandType Application | Select-Object -First 1).Source).ResolvedTarget ?? (Get-Command dotnet).Source)
$files = @(Get-ChildItem -LiteralPath $sdk -File -Recurse -ErrorAction Ignore | Sort-Object FullName -Culture ([cultureinfo]::InvariantCulture) | Select-Object -First $HashCount)
foreach ($file in $files) { $null = [IO.File]::ReadAllBytes($file.FullName) }
$tiny = 1..$TinyCount

$pairs = [ordered]@{
    'W3 (200 x 50 ms, 20 jobs)' = @{ Input = (1..200); Block = { Start-Sleep -Milliseconds 50; $_ }; NJobs = 20 }
    "hash ($($files.Count) files, 2 jobs)" = @{ Input = $files; Block = { (Get-FileHash $_).Hash }; NJobs = 2 }
    "tiny ($TinyCount items, 2 jobs)" = @{ Input = $tiny; Block = { $_ * 2 }; NJobs = 2 }
}
$times = @{}
try {
    foreach ($round in 0..$Repeat) {
        foreach ($name in $pairs.Keys) {
            $p = $pairs[$name]
            foreach ($with in $false, $true) {
                Remove-Item -LiteralPath $checkpoint -ErrorAction Ignore
                $extra = if ($with) { @{ Checkpoint = $checkpoint } } else { @{} }
                $clock = [Diagnostics.Stopwatch]::StartNew()
                $null = $p.Input | Invoke-JoblibParallel $p.Block -Backend threading -NJobs $p.NJobs @extra
                $clock.Stop()
                if ($round -gt 0) { $times["$name|$with"] += @($clock.Elapsed.TotalSeconds) }
            }
        }
        # Resume: every item recorded (by the tiny run with a checkpoint just above), so nothing runs.
        $tinyBlock = $pairs["tiny ($TinyCount items, 2 jobs)"].Block
        $clixml = Join-Path $folder 'outputs.clixml'
        if ($round -eq 0) { $tiny | ForEach-Object { $_ * 2 } | Export-Clixml -LiteralPath $clixml }
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $resumed = @($tiny | Invoke-JoblibParallel $tinyBlock -Backend threading -NJobs 2 -Checkpoint $checkpoint)
        $clock.Stop()
        if ($resumed.Count -ne $TinyCount) { throw "The resumed run wrote $($resumed.Count) outputs." }
        if ($round -gt 0) { $times['resume'] += @($clock.Elapsed.TotalSeconds) }
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $read = @(Import-Clixml -LiteralPath $clixml)
        $clock.Stop()
        if ($read.Count -ne $TinyCount) { throw 'Import-Clixml read another count.' }
        if ($round -gt 0) { $times['clixml'] += @($clock.Elapsed.TotalSeconds) }
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $piped = @($tiny | Write-Output)
        $clock.Stop()
        if ($piped.Count -ne $TinyCount) { throw 'Write-Output wrote another count.' }
        if ($round -gt 0) { $times['floor'] += @($clock.Elapsed.TotalSeconds) }
    }
}
finally {
    Remove-Item -LiteralPath $folder -Recurse -Force -ErrorAction Ignore
}

"$Repeat rounds after a warm-up round, median seconds (load average $(Get-BenchLoadAverage)):"
foreach ($name in $pairs.Keys) {
    $without = Get-BenchMedian $times["$name|False"] -Even Upper
    $with = Get-BenchMedian $times["$name|True"] -Even Upper
    '{0,-32} without {1,7:0.000} s  with -Checkpoint {2,7:0.000} s  ratio {3,5:0.00}' -f $name, $without, $with, ($with / $without)
}
$resume = Get-BenchMedian $times['resume'] -Even Upper
$clixmlTime = Get-BenchMedian $times['clixml'] -Even Upper
'{0,-32} resumed {1,7:0.000} s  Import-Clixml     {2,7:0.000} s  ratio {3,5:0.00}' -f "resume ($TinyCount recorded)", $resume, $clixmlTime, ($resume / $clixmlTime)
$floor = Get-BenchMedian $times['floor'] -Even Upper
'{0,-32} piped   {1,7:0.000} s  (resumed - piped) / Import-Clixml  ratio {2,5:0.00}' -f 'floor (input through Write-Output)', $floor, (($resume - $floor) / $clixmlTime)
