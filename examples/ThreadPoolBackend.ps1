<#
.SYNOPSIS
A custom JoblibPS backend written as a PowerShell class: each task runs on the .NET thread pool.

.DESCRIPTION
The port of the custom backend in joblib's documentation: Configure makes an executor of NJobs threads,
Submit hands it the task and adds the engine's callback to the future, and RetrieveResultCallback reads the
result. Here the executor is a TaskFactory over the .NET thread pool, limited to NJobs tasks at once.

Dot-source it after importing JoblibPS: it defines the class [ThreadPoolBackend] and registers it as 'custom'.
The class derives from [JoblibPS.ParallelBackendBase], so it can only be parsed once JoblibPS is loaded: the
file creates it from text after checking the module is there ('using module' does not work with JoblibPS's
binary root module).

Get-Help about_JoblibPS_Backends explains each member. examples/ThreadPoolBackend.cs is the same in C#.

.EXAMPLE
Import-Module ./out/JoblibPS/JoblibPS.psd1
. ./examples/ThreadPoolBackend.ps1
Use-JoblibConfig custom { 1..10 | Invoke-JoblibParallel { $_ * 2 } -NJobs 2 }
#>

if (-not ('JoblibPS.ParallelBackendBase' -as [type])) {
    throw 'Import JoblibPS first (Import-Module ./out/JoblibPS/JoblibPS.psd1), then dot-source this file.'
}

# Dot-sourced from text: PowerShell parses a whole file before running its first line, and the base class
# must already be loaded when the class is parsed.
. ([scriptblock]::Create(@'
class ThreadPoolBackend : JoblibPS.ParallelBackendBase {
    hidden [System.Threading.Tasks.ConcurrentExclusiveSchedulerPair] $Schedulers
    hidden [System.Threading.Tasks.TaskFactory[object]] $Executor
    hidden [System.Collections.Generic.List[JoblibPS.BatchTask]] $Submitted = [System.Collections.Generic.List[JoblibPS.BatchTask]]::new()

    ThreadPoolBackend() {
        # Capabilities are properties, set in the constructor. The constructor allocates nothing: a backend
        # is also made just to read these (Get-JoblibBackend); resources come with Configure.
        $this.SupportsRetrieveCallback = $true
        $this.SupportsSharedMem = $true
        $this.UsesThreads = $true
    }

    # The one abstract member: how many tasks may run at once (-1 = every CPU, -k = all CPUs but k-1).
    [int] EffectiveNJobs([int] $nJobs) {
        return [JoblibPS.NJobs]::Resolve($nJobs)
    }

    # Called before every Invoke-JoblibParallel call: an executor running at most $n tasks at once.
    [int] Configure([int] $nJobs, [JoblibPS.ParallelCall] $parallel, [System.Collections.IDictionary] $backendArgs) {
        $n = $this.EffectiveNJobs($nJobs)
        $this.Terminate()
        $this.Schedulers = [System.Threading.Tasks.ConcurrentExclusiveSchedulerPair]::new([System.Threading.Tasks.TaskScheduler]::Default, $n)
        $this.Executor = [System.Threading.Tasks.TaskFactory[object]]::new($this.Schedulers.ConcurrentScheduler)
        return $n
    }

    # $task converts to Func[object] and returns a BatchResult; an error in the user's script travels inside
    # that result, so the .NET task does not fault for it.
    [object] Submit([JoblibPS.BatchTask] $task, [Action[object]] $callback) {
        $this.Submitted.Add($task)
        $future = $this.Executor.StartNew([Func[object]] $task)
        # joblib's future.add_done_callback(callback): runs on a pool thread when the task is done; the engine
        # marshals it to the pipeline thread before it calls RetrieveResultCallback.
        $null = $future.ContinueWith($callback)
        return $future
    }

    # On the pipeline thread, after the callback fired: the future is complete, so .Result does not block.
    # Optional (joblib's example writes it): the default reads a Task's Result, a BatchFuture's GetResult() and a
    # BatchResult. A BatchFuture has no Result property: $future.Result on one is $null, which breaks the contract.
    [object] RetrieveResultCallback([object] $future) {
        return $future.Result
    }

    # A task failed, timed out or the call was stopped: stop what runs (a task not started yet ends at once
    # when it starts). With $ensureReady the same config scope will call Configure again, so keep nothing else.
    [void] AbortEverything([bool] $ensureReady) {
        foreach ($task in $this.Submitted) { $task.Stop() }
        $this.Submitted.Clear()
        if (-not $ensureReady) { $this.Terminate() }
    }

    [void] StopCall() {
        $this.Submitted.Clear()
    }

    [void] Terminate() {
        if ($null -ne $this.Schedulers) { $this.Schedulers.Complete() }
        $this.Schedulers = $null
        $this.Executor = $null
    }
}
'@))

# Registered by type: each Use-JoblibConfig scope, and each call outside one, gets a fresh instance.
Register-JoblibBackend -Name custom -Factory ([ThreadPoolBackend]) -Force
