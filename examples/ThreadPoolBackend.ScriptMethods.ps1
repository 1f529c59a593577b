<#
.SYNOPSIS
A custom JoblibPS backend written in a plain script, without a class: each task runs on the .NET thread pool.

.DESCRIPTION
The same backend as examples/ThreadPoolBackend.ps1 (the port of the custom backend in joblib's documentation),
written the way joblib itself accepts backends: any object that has the contract's methods. The factory
returns a [pscustomobject] whose methods are script methods (Add-Member -MemberType ScriptMethod; inside them
$this is the object) and whose note properties set the capability flags. JoblibPS wraps it in an adapter that
calls these methods and uses the defaults of JoblibPS.ParallelBackendBase for those it lacks; EffectiveNJobs
and Submit are required.

Nothing here needs JoblibPS to be loaded before the file is parsed, so it can be dot-sourced, run, or pasted
into a console. The methods run in the runspace that registered the backend; the tasks themselves run on
thread-pool threads, which is why they are handed over as Func[object] rather than as script blocks.

Get-Help about_JoblibPS_Backends explains each member.

.EXAMPLE
Import-Module ./out/JoblibPS/JoblibPS.psd1
. ./examples/ThreadPoolBackend.ScriptMethods.ps1
Use-JoblibConfig custom { 1..10 | Invoke-JoblibParallel { $_ * 2 } -NJobs 2 }
#>

Register-JoblibBackend -Name custom -Force -Factory {
    # A fresh backend for each Use-JoblibConfig scope, and for each call outside one. It allocates nothing
    # here: resources come with Configure.
    $backend = [pscustomobject]@{
        SupportsRetrieveCallback = $true   # results are read in RetrieveResultCallback
        SupportsSharedMem        = $true   # tasks run in this process: $using: values are the caller's objects
        UsesThreads              = $true
        Schedulers               = $null
        Executor                 = $null
        Submitted                = [System.Collections.Generic.List[object]]::new()
    }

    # Required: how many tasks may run at once (-1 = every CPU, -k = all CPUs but k-1).
    $backend | Add-Member -MemberType ScriptMethod -Name EffectiveNJobs -Value {
        param([int] $nJobs)
        [JoblibPS.NJobs]::Resolve($nJobs)
    }

    # Before every Invoke-JoblibParallel call: an executor running at most $n tasks at once.
    $backend | Add-Member -MemberType ScriptMethod -Name Configure -Value {
        param([int] $nJobs, $parallel, $backendArgs)
        $n = $this.EffectiveNJobs($nJobs)
        $this.Terminate()
        $this.Schedulers = [System.Threading.Tasks.ConcurrentExclusiveSchedulerPair]::new([System.Threading.Tasks.TaskScheduler]::Default, $n)
        $this.Executor = [System.Threading.Tasks.TaskFactory[object]]::new($this.Schedulers.ConcurrentScheduler)
        $n
    }

    # Required: launch one task and return its future. $task converts to Func[object] and returns a BatchResult
    # (an error in the user's script travels inside it); $callback is joblib's done-callback, callable from any
    # thread, attached here as the future's continuation.
    $backend | Add-Member -MemberType ScriptMethod -Name Submit -Value {
        param($task, $callback)
        $this.Submitted.Add($task)
        $future = $this.Executor.StartNew([Func[object]] $task)
        $null = $future.ContinueWith($callback)
        $future
    }

    # After the callback fired, on the pipeline thread: the future is complete, so .Result does not block.
    # Optional (joblib's example writes it): the default reads a Task's Result, a BatchFuture's GetResult() and a
    # BatchResult. A BatchFuture has no Result property: $future.Result on one is $null, which breaks the contract.
    $backend | Add-Member -MemberType ScriptMethod -Name RetrieveResultCallback -Value {
        param($future)
        $future.Result
    }

    # A task failed, timed out or the call was stopped: stop what runs. With $ensureReady the same config scope
    # calls Configure again, so keep nothing else.
    $backend | Add-Member -MemberType ScriptMethod -Name AbortEverything -Value {
        param([bool] $ensureReady)
        foreach ($task in $this.Submitted) { $task.Stop() }
        $this.Submitted.Clear()
        if (-not $ensureReady) { $this.Terminate() }
    }

    $backend | Add-Member -MemberType ScriptMethod -Name StopCall -Value {
        $this.Submitted.Clear()
    }

    $backend | Add-Member -MemberType ScriptMethod -Name Terminate -Value {
        if ($null -ne $this.Schedulers) { $this.Schedulers.Complete() }
        $this.Schedulers = $null
        $this.Executor = $null
    }

    $backend
}
