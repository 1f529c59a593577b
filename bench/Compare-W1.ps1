<#
.SYNOPSIS
    W1 (10,000 items of { $_ * 2 }, N = 2) for two builds of JoblibPS, interleaved, against sequential ForEach-Object.
.DESCRIPTION
    Each round starts one fresh pwsh per build (A, then B). A child times ForEach-Object and
    Invoke-JoblibParallel -NJobs 2 (the threading backend) -Repeat times each, alternating, and reports two
    ratios (above 1: JoblibPS is faster): warm-up, the median of the first three timed rounds after one untimed
    call of each (what a 3-round harness measures: mostly the JIT), and settled, the median of rounds 6 on (the
    first 4 to 5 rounds of any pipeline benchmark in a fresh process are 3 to 8 times slower than later ones), so
    that a change in per-item cost is not hidden by JIT noise. Rounds alternate builds so that machine load falls
    on both alike. The table gives every round and the median ratios per build, with the load average.
.EXAMPLE
    dotnet pwsh ./bench/Compare-W1.ps1 -Before ../old/out/JoblibPS/JoblibPS.psd1 -After ./out/JoblibPS/JoblibPS.psd1 -Rounds 5 -Repeat 15
#>
#Requires -Version 7.0
param(
    [Parameter(Mandatory)] [string] $Before,
    [Parameter(Mandatory)] [string] $After,
    [int] $Rounds = 5,
    [int] $Items = 10000,
    [ValidateRange(6, 100)] [int] $Repeat = 15
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'BenchTools.psm1')
$pwsh = Get-BenchPwshPath
$child = @'
param($module, $items, $repeat)
Import-Module $module
$data = 1..$items
$null = $data | ForEach-Object { $_ * 2 }
$null = $data | Invoke-JoblibParallel { $_ * 2 } -NJobs 2
$fe = [System.Collections.Generic.List[double]]::new(); $jp = [System.Collections.Generic.List[double]]::new()
foreach ($i in 1..$repeat) {
    $sw = [Diagnostics.Stopwatch]::StartNew(); $null = $data | ForEach-Object { $_ * 2 }; $fe.Add($sw.Elapsed.TotalMilliseconds)
    $sw = [Diagnostics.Stopwatch]::StartNew(); $out = $data | Invoke-JoblibParallel { $_ * 2 } -NJobs 2; $jp.Add($sw.Elapsed.TotalMilliseconds)
    if ($out.Count -ne $items) { throw "wrong count $($out.Count)" }
}
function Median($values) { $sorted = @($values | Sort-Object); $sorted[[int][Math]::Floor($sorted.Count / 2)] }
# Warm-up: rounds 1 to 3; settled: rounds 6 on.
'{0:0.0} {1:0.0} {2:0.0} {3:0.0}' -f (Median $fe.GetRange(0, 3)), (Median $jp.GetRange(0, 3)), (Median $fe.GetRange(5, $repeat - 5)), (Median $jp.GetRange(5, $repeat - 5))
'@
$script = Join-Path ([IO.Path]::GetTempPath()) "compare-w1-$PID.ps1"
Set-Content -LiteralPath $script -Value $child
$rows = foreach ($round in 1..$Rounds) {
    foreach ($build in @(@{ Name = 'before'; Path = $Before }, @{ Name = 'after'; Path = $After })) {
        $line = & $pwsh -NoProfile -NonInteractive -File $script -module $build.Path -items $Items -repeat $Repeat | Select-Object -Last 1
        $feWarm, $jpWarm, $fe, $jp = "$line" -split ' ' | ForEach-Object { [double]::Parse($_, [cultureinfo]::InvariantCulture) }
        [pscustomobject]@{
            Round = $round; Build = $build.Name
            WarmUpForEachObjectMs = $feWarm; WarmUpJoblibMs = $jpWarm; WarmUpRatio = [math]::Round($feWarm / $jpWarm, 2)
            SettledForEachObjectMs = $fe; SettledJoblibMs = $jp; SettledRatio = [math]::Round($fe / $jp, 2)
        }
    }
}
Remove-Item -LiteralPath $script -ErrorAction Ignore
$rows | Format-Table -AutoSize | Out-String | Write-Output
"W1, $Items items, $Repeat timed rounds per process (load average $(Get-BenchLoadAverage 3)):"
foreach ($name in 'before', 'after') {
    $mine = @($rows | Where-Object Build -EQ $name)
    $warm = @($mine | ForEach-Object WarmUpRatio | Sort-Object)
    $settled = @($mine | ForEach-Object SettledRatio | Sort-Object)
    "{0}: ratio vs ForEach-Object, warm-up (rounds 1-3) {1:0.00}, settled (rounds 6-{2}) {3:0.00} (settled rounds: {4})" -f $name, (Get-BenchMedian $warm -Even Upper), $Repeat, (Get-BenchMedian $settled -Even Upper), ($settled -join ', ')
}
