<#
.SYNOPSIS
    W1 (10,000 items of { $_ * 2 }, N = 2) for two builds of JoblibPS, interleaved, against sequential ForEach-Object.
.DESCRIPTION
    Each round starts one fresh pwsh per build (A, then B). A child warms up, then times ForEach-Object and
    Invoke-JoblibParallel -NJobs 2 (the threading backend) three times each, alternating, and reports the median
    of each and their ratio (above 1: JoblibPS is faster). Rounds alternate builds so that machine load falls on
    both alike. The table gives every round and the median ratio per build.
.EXAMPLE
    dotnet pwsh ./bench/Compare-W1.ps1 -Before ../old/out/JoblibPS/JoblibPS.psd1 -After ./out/JoblibPS/JoblibPS.psd1 -Rounds 5
#>
#Requires -Version 7.0
param(
    [Parameter(Mandatory)] [string] $Before,
    [Parameter(Mandatory)] [string] $After,
    [int] $Rounds = 5,
    [int] $Items = 10000
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'BenchTools.psm1')
$pwsh = Get-BenchPwshPath
$child = @'
param($module, $items)
Import-Module $module
$data = 1..$items
$null = $data | ForEach-Object { $_ * 2 }
$null = $data | Invoke-JoblibParallel { $_ * 2 } -NJobs 2
$fe = @(); $jp = @()
foreach ($i in 1..3) {
    $sw = [Diagnostics.Stopwatch]::StartNew(); $null = $data | ForEach-Object { $_ * 2 }; $fe += $sw.Elapsed.TotalMilliseconds
    $sw = [Diagnostics.Stopwatch]::StartNew(); $out = $data | Invoke-JoblibParallel { $_ * 2 } -NJobs 2; $jp += $sw.Elapsed.TotalMilliseconds
    if ($out.Count -ne $items) { throw "wrong count $($out.Count)" }
}
$f = ($fe | Sort-Object)[1]; $j = ($jp | Sort-Object)[1]
'{0:0.0} {1:0.0}' -f $f, $j
'@
$script = Join-Path ([IO.Path]::GetTempPath()) "compare-w1-$PID.ps1"
Set-Content -LiteralPath $script -Value $child
$rows = foreach ($round in 1..$Rounds) {
    foreach ($build in @(@{ Name = 'before'; Path = $Before }, @{ Name = 'after'; Path = $After })) {
        $line = & $pwsh -NoProfile -NonInteractive -File $script -module $build.Path -items $Items | Select-Object -Last 1
        $fe, $jp = "$line" -split ' ' | ForEach-Object { [double]$_ }
        [pscustomobject]@{ Round = $round; Build = $build.Name; ForEachObjectMs = $fe; JoblibMs = $jp; Ratio = [math]::Round($fe / $jp, 2) }
    }
}
Remove-Item -LiteralPath $script -ErrorAction Ignore
$rows | Format-Table -AutoSize | Out-String | Write-Output
foreach ($name in 'before', 'after') {
    $ratios = @($rows | Where-Object Build -EQ $name | ForEach-Object Ratio | Sort-Object)
    "{0}: median ratio vs ForEach-Object {1:0.00} (rounds: {2})" -f $name, (Get-BenchMedian $ratios -Even Upper), ($ratios -join ', ')
}
