# Shared by every Pester file: which JoblibPS to test, and the check that a test file left no runspace or
# thread behind.
#
# The module keeps idle worker runspaces warm on purpose (LocalRunspaceCache, which is internal), so "no leak"
# cannot mean "no runspace outlives the call". It means: the same workload, run again, opens no more runspaces
# and keeps no more threads than the first run did; no worker runspace is still busy once a call has returned;
# and Remove-Module JoblibPS closes every worker runspace (checked in a child pwsh by Invoke-JoblibParallel.Tests.ps1).

Set-StrictMode -Version Latest

$script:RepoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).Path

# The name the module gives its worker runspaces.
$script:WorkerRunspaceName = 'JoblibPS worker'

<#
.SYNOPSIS
The path of the JoblibPS module under test.
.DESCRIPTION
$env:JOBLIBPS_MODULE when set (build.ps1 sets it to out/JoblibPS/JoblibPS.psd1), else out/JoblibPS/JoblibPS.psd1
of this clone when it exists, else the dll of a plain 'dotnet build -c Release'.
#>
function Get-JoblibTestModulePath {
    if ($env:JOBLIBPS_MODULE) {
        return $env:JOBLIBPS_MODULE
    }
    $manifest = Join-Path $script:RepoRoot 'out/JoblibPS/JoblibPS.psd1'
    if (Test-Path -LiteralPath $manifest) {
        return $manifest
    }
    $dll = Join-Path $script:RepoRoot 'src/JoblibPS/bin/Release/netstandard2.0/JoblibPS.dll'
    if (Test-Path -LiteralPath $dll) {
        return $dll
    }
    throw "No JoblibPS module to test: set JOBLIBPS_MODULE, or run 'dotnet pwsh ./build.ps1 -Task Build' (out/JoblibPS) or 'dotnet build src/JoblibPS/JoblibPS.csproj -c Release'."
}

<#
.SYNOPSIS
The path of the built module's manifest (out/JoblibPS/JoblibPS.psd1, laid out by build.ps1 -Task Build), for tests
that need the whole module folder (its manifest and help) rather than the dll: a package, a fresh pwsh.
.DESCRIPTION
$env:JOBLIBPS_MODULE when set, else out/JoblibPS/JoblibPS.psd1 of this clone. Throws, saying how to build, when
there is nothing at that path.
#>
function Get-JoblibBuiltModulePath {
    $path = if ($env:JOBLIBPS_MODULE) { $env:JOBLIBPS_MODULE } else { Join-Path $script:RepoRoot 'out/JoblibPS/JoblibPS.psd1' }
    if (-not (Test-Path -LiteralPath $path)) {
        throw "No built module at $path. Run 'dotnet pwsh ./build.ps1 -Task Build' first, or set JOBLIBPS_MODULE."
    }
    $path
}

<#
.SYNOPSIS
The pwsh executable to start child processes with: $env:JOBLIBPS_PWSH when set, else the one in $PSHOME.
.DESCRIPTION
The real executable, not the dotnet tool shim, which would start pwsh as a grandchild (a process id held for the
child would then be the wrong one).
#>
function Get-JoblibTestPwshPath {
    if ($env:JOBLIBPS_PWSH) { return $env:JOBLIBPS_PWSH }
    Join-Path $PSHOME $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
}

<#
.SYNOPSIS
Imports the JoblibPS module under test into the global scope and returns its path.
.DESCRIPTION
Global, so the test scripts (which import this helper module) see Invoke-JoblibParallel. An already imported
JoblibPS is kept: re-importing a binary module would run its cleanup and close the warm runspaces under
other test files.
#>
function Import-JoblibTestModule {
    $path = Get-JoblibTestModulePath
    $module = Get-Module -Name JoblibPS
    if (-not $module) {
        $module = Import-Module -Name $path -Global -PassThru -ErrorAction Stop
    }
    # Imported from inside this module, a binary module's cmdlets land in this module's scope even with -Global
    # (seen with pwsh 7.6.9); importing the loaded module by its info puts them in the global scope.
    Import-Module -ModuleInfo $module -Global -ErrorAction Stop
    $path
}

<#
.SYNOPSIS
Counts what a leak would grow: runspaces in the process, JoblibPS worker runspaces (and how many are busy), threads.
.PARAMETER Workload
Run first, so the snapshot describes the state after that workload (its warm runspaces included).
#>
function Get-JoblibLeakSnapshot {
    param([scriptblock] $Workload)
    if ($Workload) {
        $null = & $Workload
    }
    $runspaces = @(Get-Runspace)
    $workers = @($runspaces | Where-Object { $_.Name -eq $script:WorkerRunspaceName })
    [pscustomobject]@{
        Runspaces       = $runspaces.Count
        WorkerRunspaces = $workers.Count
        # A worker runspace still running after the call that used it returned is work that was not stopped.
        BusyWorkers     = @($workers | Where-Object { $_.RunspaceAvailability -ne 'Available' }).Count
        Threads         = [System.Diagnostics.Process]::GetCurrentProcess().Threads.Count
    }
}

<#
.SYNOPSIS
Fails when JoblibPS leaked since the -Before snapshot.
.DESCRIPTION
Runs -Workload (when given), then fails if the process has more runspaces than at -Before, more than
-ThreadSlack extra threads (thread-pool threads come and go), or any JoblibPS worker runspace still busy.
Take -Before after a first run of the same workload, so the warm pool is already counted in it.
#>
function Assert-NoJoblibLeak {
    param(
        [Parameter(Mandatory)] [psobject] $Before,
        [scriptblock] $Workload,
        [int] $ThreadSlack = 4,
        # A pool that ends while a worker is still starting (a call stopped at once) closes that worker as soon as
        # it has started, on the worker's own thread: it runs no work, and it is gone within its start-up time.
        [double] $SettleSeconds = 5
    )
    $after = Get-JoblibLeakSnapshot -Workload $Workload
    # Work still running once the call returned is not stopped work: that holds at once, not eventually.
    if ($after.BusyWorkers -gt 0) {
        throw "JoblibPS leaked: $($after.BusyWorkers) JoblibPS worker runspace(s) still busy after the call returned."
    }
    $deadline = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $problems = @()
        if ($after.Runspaces -gt $Before.Runspaces) {
            $problems += "runspaces grew from $($Before.Runspaces) to $($after.Runspaces) (JoblibPS workers: $($Before.WorkerRunspaces) -> $($after.WorkerRunspaces))"
        }
        if ($after.Threads - $Before.Threads -gt $ThreadSlack) {
            $problems += "threads grew from $($Before.Threads) to $($after.Threads) (more than $ThreadSlack)"
        }
        if (-not $problems) { return }
        if ($deadline.Elapsed.TotalSeconds -ge $SettleSeconds) { throw "JoblibPS leaked: $($problems -join '; ') (still so $SettleSeconds s after the call)." }
        Start-Sleep -Milliseconds 100
        $after = Get-JoblibLeakSnapshot
    }
}

<#
.SYNOPSIS
A workload that goes through the paths that could leak: a normal run, a failing run, a run stopped by
Select-Object -First, and a timed-out run.
#>
function Invoke-JoblibLeakWorkload {
    param(
        [object] $Backend = 'threading',
        [int] $NJobs = 2
    )
    $common = @{ Backend = $Backend; NJobs = $NJobs }
    $null = 1..20 | Invoke-JoblibParallel { $_ } @common
    try { $null = 1..10 | Invoke-JoblibParallel { if ($_ -eq 3) { throw 'leak check' }; $_ } @common } catch { }
    $null = 1..50 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 20; $_ } @common | Select-Object -First 1
    try { $null = 1..2 | Invoke-JoblibParallel { Start-Sleep 10 } @common -TimeoutSeconds 0.2 } catch { }
}

<#
.SYNOPSIS
The AfterAll of every test file: the leak workload twice, the second run must not leak.
#>
function Assert-JoblibWorkloadStable {
    param(
        [object] $Backend = 'threading',
        [int] $NJobs = 2
    )
    Invoke-JoblibLeakWorkload -Backend $Backend -NJobs $NJobs
    $before = Get-JoblibLeakSnapshot
    Invoke-JoblibLeakWorkload -Backend $Backend -NJobs $NJobs
    Assert-NoJoblibLeak -Before $before
}

<#
.SYNOPSIS
The number of workers -NJobs gives on this machine, by joblib's rule: n, or for n < 0 all CPUs + 1 + n (at least 1).
#>
function Get-JoblibExpectedNJobs {
    param([Parameter(Mandatory)] [int] $NJobs)
    if ($NJobs -gt 0) { return $NJobs }
    [Math]::Max(1, [Environment]::ProcessorCount + 1 + $NJobs)
}

<#
.SYNOPSIS
The messages of the verbose records among -InputObject (what '4>&1' mixed into the output).
#>
function Get-VerboseMessage {
    param([Parameter(ValueFromPipeline)] $InputObject)
    process {
        if ($InputObject -is [System.Management.Automation.VerboseRecord]) { $InputObject.Message }
    }
}

<#
.SYNOPSIS
An internal type of the module's assembly, for tests that read its constants or call its test hooks: the public
surface is the backend contract only (src/JoblibPS/PublicAPI.txt), so such types have no type literal.
#>
function Get-JoblibInternalType {
    param([Parameter(Mandatory)] [string] $FullName)
    [JoblibPS.ParallelBackendBase].Assembly.GetType($FullName, $true)
}

Export-ModuleMember -Function Get-JoblibTestModulePath, Get-JoblibInternalType, Get-JoblibBuiltModulePath, Get-JoblibTestPwshPath, Import-JoblibTestModule, Get-JoblibLeakSnapshot, Assert-NoJoblibLeak,
    Invoke-JoblibLeakWorkload, Assert-JoblibWorkloadStable, Get-JoblibExpectedNJobs, Get-VerboseMessage
