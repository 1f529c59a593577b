<#
.SYNOPSIS
    How close -BatchSize auto comes to the best fixed batch size, per backend and workload, in one run.
.DESCRIPTION
    For each backend (threading and loky with 2 workers; remote over 2 loopback sshd hosts with 2 slots each when
    /usr/sbin/sshd exists) and each workload, times the call with -BatchSize auto and with each fixed size, -Repeat
    rounds interleaved, and prints the medians and auto / best fixed (1.00 is as good as the best hand-picked size;
    the goal is 1.2 or less). The first auto call of a block starts from one item; later ones start from the item cost
    the process remembers (src/JoblibPS/Engine/ItemCostMemory.cs), as a user's repeated calls do: both are shown, each a median
    of -Repeat calls. A first call is a call of a block text new to the process, and to every worker, which compiles
    it: first calls of auto are compared with first calls of each fixed size (each with a new block), later calls
    with later calls.
    Workloads, each with the fixed sizes that bracket its best: 400 items of 5 ms waiting, 2,000 items of about 0.2 ms
    of CPU, 100,000 tiny items ({ $_ * 2 }), and (remote) 200 items of 50 ms.
    Run by bench/Invoke-Benchmark.ps1 -Workload Auto, or alone.
.EXAMPLE
    dotnet pwsh ./bench/Auto-Batching.ps1 -Repeat 3
#>
#Requires -Version 7.0
param(
    [string] $ModulePath,
    [int] $Repeat = 3,
    [string[]] $Backend = @('threading', 'loky', 'remote')
)
$ErrorActionPreference = 'Stop'
Import-Module (Join-Path $PSScriptRoot 'BenchTools.psm1')
# Lists given through pwsh -File arrive as one string ('a,b'): split them.
$Backend = @(Split-BenchList $Backend)
$RepoRoot = Split-Path -Parent $PSScriptRoot
Import-Module (Get-BenchModulePath $ModulePath)

$workloads = @(
    @{ Name = '400 items of 5 ms waiting'; Items = 1..400; Block = { Start-Sleep -Milliseconds 5; $_ }; Sizes = 1, 8, 32, 128 }
    @{ Name = '2,000 items of ~0.2 ms CPU'; Items = 1..2000; Block = { [System.Threading.Thread]::SpinWait(20000); $_ }; Sizes = 8, 32, 128, 512 }
    @{ Name = '100,000 tiny items'; Items = 1..100000; Block = { $_ * 2 }; Sizes = 256, 1024, 4096 }
)
$remoteWorkload = @{ Name = '200 items of 50 ms waiting'; Items = 1..200; Block = { Start-Sleep -Milliseconds 50; $_ }; Sizes = 1, 8, 32 }

function Measure-Call([scriptblock] $Call, $Expected) {
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $out = @(& $Call)
    $clock.Stop()
    if ($out.Count -ne $Expected.Count) { throw "A call returned $($out.Count) items instead of $($Expected.Count)." }
    $clock.Elapsed.TotalSeconds
}

$rows = [System.Collections.Generic.List[object]]::new()
function Measure-Backend([string] $Name, [hashtable] $Run, $Work) {
    $fixed = @($Work.Sizes)
    $times = @{}
    $firstTimes = @{}
    $null = $Work.Items | Select-Object -First 4 | Invoke-JoblibParallel { $_ } @Run   # warm workers
    # A new block text is new to every worker too (PowerShell compiles it there and binds its calls afresh): a first
    # call of auto is compared with first calls of each fixed size, and later calls with later calls.
    $newBlock = { [scriptblock]::Create("# $Name $([guid]::NewGuid())`n" + $Work.Block.ToString()) }
    foreach ($round in 1..$Repeat) {
        $block = & $newBlock
        $firstTimes['auto'] += @(Measure-Call { $Work.Items | Invoke-JoblibParallel $block @Run } $Work.Items)
        foreach ($size in $fixed) {
            $other = & $newBlock
            $firstTimes[$size] += @(Measure-Call { $Work.Items | Invoke-JoblibParallel $other @Run -BatchSize $size } $Work.Items)
        }
        foreach ($size in @('auto') + $fixed) {
            $times[$size] += @(Measure-Call { $Work.Items | Invoke-JoblibParallel $block @Run -BatchSize $size } $Work.Items)
        }
    }
    $best = $fixed | Sort-Object { Get-BenchMedian $times[$_] } | Select-Object -First 1
    $bestFirst = $fixed | Sort-Object { Get-BenchMedian $firstTimes[$_] } | Select-Object -First 1
    $auto = Get-BenchMedian $times['auto']
    $first = Get-BenchMedian $firstTimes['auto']
    $rows.Add([pscustomobject]@{
            Backend            = $Name
            Workload           = $Work.Name
            'auto s'           = [Math]::Round($auto, 3)
            'best fixed'       = "$best ($([Math]::Round((Get-BenchMedian $times[$best]), 3)) s)"
            'auto/best'        = [Math]::Round($auto / (Get-BenchMedian $times[$best]), 2)
            'first: auto s'    = [Math]::Round($first, 3)
            'first: best fixed' = "$bestFirst ($([Math]::Round((Get-BenchMedian $firstTimes[$bestFirst]), 3)) s)"
            'first/best'       = [Math]::Round($first / (Get-BenchMedian $firstTimes[$bestFirst]), 2)
        })
}

foreach ($name in $Backend) {
    if ($name -eq 'remote') {
        if (-not (Test-Path -LiteralPath '/usr/sbin/sshd')) { Write-Warning 'remote left out: /usr/sbin/sshd is missing.'; continue }
        Import-Module (Join-Path $RepoRoot 'tests/Remote/SshTestHosts.psm1') -Force
        $root = Join-Path ([IO.Path]::GetTempPath()) "joblibps-bench-ssh-$PID"
        $sshHosts = @()
        try {
            $sshHosts = @(Start-JoblibSshHost -Address 127.0.0.2 -Port 2251 -Root $root; Start-JoblibSshHost -Address 127.0.0.3 -Port 2251 -Root $root)
            $arguments = @{ HostName = $sshHosts.HostName; Port = 2251; KeyFilePath = $sshHosts[0].KeyFilePath; Options = (Get-JoblibSshOptions $sshHosts[0]); JobsPerHost = 2 }
            Use-JoblibConfig remote -BackendArgument $arguments {
                Measure-Backend 'remote (2 hosts x 2)' @{ NJobs = 4 } $remoteWorkload
            }
        }
        finally {
            $sshHosts | Stop-JoblibSshHost
            Remove-Item -LiteralPath $root -Recurse -Force -ErrorAction Ignore
        }
        continue
    }
    foreach ($work in $workloads) { Measure-Backend $name @{ Backend = $name; NJobs = 2 } $work }
}
"Auto-batching against fixed sizes; medians of $Repeat (load average $(Get-BenchLoadAverage)):"
$rows | Format-Table -AutoSize | Out-String -Width 200
foreach ($group in $rows | Group-Object Backend) {
    '{0}: worst auto/best {1:0.00} (later calls), {2:0.00} (a first call)' -f $group.Name, ($group.Group.'auto/best' | Measure-Object -Maximum).Maximum, ($group.Group.'first/best' | Measure-Object -Maximum).Maximum
}
