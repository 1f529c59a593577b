# The reliability suite's building blocks, shared by tests/Pester/Reliability.Tests.ps1 (a short run, part of the
# test command) and tools/Invoke-Soak.ps1 (build.ps1 -Task Soak: the long run that writes docs/reliability.md).
#
# - Soak: many calls mixing backends and the ways a call ends (a plain run, Select-Object -First 3, a throwing
#   item, a stuck item under -TimeoutSeconds, -OnError Continue); each call's output and errors are compared with
#   what they must be, and the process's resources before and after with what pools keep on purpose.
# - Fault matrix: a worker killed from inside and outside, exit, a stuck .NET call, a call-depth overflow, 50 MB of
#   output, a remote host lost, Ctrl+C: the time to a clear error with its id, then a call that must be healthy.
# - Bad inputs: a table of wrong arguments and values, each with the error id it must get.
# Remote cases need /usr/sbin/sshd: hosts are started on loopback addresses of this machine only
# (tests/Remote/SshTestHosts.psm1) and stopped by pid.

Set-StrictMode -Version Latest

Import-Module (Join-Path $PSScriptRoot '../Remote/SshTestHosts.psm1')

# ---- resources ---------------------------------------------------------------------------------------------------

<#
.SYNOPSIS
What a leak would grow in this process: threads, runspaces, child pwsh and ssh processes, open file descriptors,
working set and managed heap (MB, after a full collection). Processes are every descendant of this one.
#>
function Get-JoblibResourceSnapshot {
    [System.GC]::Collect(); [System.GC]::WaitForPendingFinalizers(); [System.GC]::Collect()
    $self = [System.Diagnostics.Process]::GetCurrentProcess()
    $children = @(Get-JoblibChildProcessId -ParentId $PID | ForEach-Object {
            try { (Get-Content "/proc/$_/comm" -Raw -ErrorAction Stop).Trim() } catch { }
        })
    [pscustomobject]@{
        Threads      = $self.Threads.Count
        Runspaces    = @(Get-Runspace).Count
        ChildPwsh    = @($children | Where-Object { $_ -eq 'pwsh' }).Count
        ChildSsh     = @($children | Where-Object { $_ -eq 'ssh' }).Count
        FileHandles  = @(Get-ChildItem /proc/self/fd -ErrorAction SilentlyContinue).Count
        WorkingSetMB = [math]::Round($self.WorkingSet64 / 1MB)
        HeapMB       = [math]::Round([System.GC]::GetTotalMemory($true) / 1MB, 1)
    }
}

<#
.SYNOPSIS
The ways $After exceeds $Before beyond what pools keep on purpose; empty when nothing leaked.
.DESCRIPTION
Threads: the .NET thread pool grows and shrinks by itself (slack 6). Runspaces: none more (the warm caches were
filled before $Before). Descendant pwsh: no more than before, or the loky pool ($MaxPwsh). Descendant ssh: no
more than before, or one per remote worker ($MaxSsh). File descriptors: slack 16 (the runtime opens a few lazily). Managed heap: slack 64 MB.
#>
function Compare-JoblibResourceSnapshot {
    param([Parameter(Mandatory)] $Before, [Parameter(Mandatory)] $After, [int] $MaxPwsh = 2, [int] $MaxSsh = 0)
    if ($After.Threads -gt $Before.Threads + 6) { "threads grew from $($Before.Threads) to $($After.Threads)" }
    if ($After.Runspaces -gt $Before.Runspaces) { "runspaces grew from $($Before.Runspaces) to $($After.Runspaces)" }
    # Descendants: loopback test hosts' sshd and the pwsh servers under them count too, as they were before.
    $pwshKept = [math]::Max($MaxPwsh, $Before.ChildPwsh)
    $sshKept = [math]::Max($MaxSsh, $Before.ChildSsh)
    if ($After.ChildPwsh -gt $pwshKept) { "$($After.ChildPwsh) pwsh processes under this one (the pools keep $pwshKept)" }
    if ($After.ChildSsh -gt $sshKept) { "$($After.ChildSsh) ssh processes (the remote workers keep $sshKept)" }
    if ($After.FileHandles -gt $Before.FileHandles + 16) { "file descriptors grew from $($Before.FileHandles) to $($After.FileHandles)" }
    if ($After.HeapMB -gt $Before.HeapMB + 64) { "managed heap grew from $($Before.HeapMB) MB to $($After.HeapMB) MB" }
}

# ---- soak --------------------------------------------------------------------------------------------------------

# Each scenario: the call (given common parameters), and the output and errors it must produce, exactly.
$script:SoakScenarios = [ordered]@{
    plain    = @{
        Run      = { param($p) 1..20 | Invoke-JoblibParallel { $_ * 2 } @p }
        Output   = (1..20 | ForEach-Object { $_ * 2 }) -join ','
        Errors   = ''
    }
    first3   = @{
        Run      = { param($p) 1..40 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 20; $_ } @p | Select-Object -First 3 }
        Output   = '1,2,3'
        Errors   = ''
    }
    throw    = @{
        Run      = { param($p) 1..20 | Invoke-JoblibParallel { if ($_ -eq 17) { throw "item $_ is bad" }; $_ } @p }
        Output   = (1..16) -join ','
        Errors   = 'JoblibTaskFailed:17'
    }
    timeout  = @{
        Run      = { param($p) 1..6 | Invoke-JoblibParallel { if ($_ -eq 4) { Start-Sleep -Seconds 30 }; $_ } @p -TimeoutSeconds 1 }
        Output   = '1,2,3'
        Errors   = 'JoblibTaskTimeout:4'
    }
    continue = @{
        Run      = { param($p) 1..10 | Invoke-JoblibParallel { if ($_ % 4 -eq 0) { throw "item $_ is bad" }; $_ } @p -OnError Continue }
        Output   = '1,2,3,5,6,7,9,10'
        Errors   = 'JoblibTaskFailed:4;JoblibTaskFailed:8'
    }
}

function Get-JoblibSoakScenarioName { $script:SoakScenarios.Keys }

<#
.SYNOPSIS
Runs one soak call and compares its output and errors with what they must be. Returns Scenario, Backend, Ok,
Detail, Seconds.
.PARAMETER Parameters
Splatted into Invoke-JoblibParallel: Backend and NJobs (and nothing else for the remote backend, which is put in
force by Use-JoblibConfig around the call: pass -Config).
#>
function Invoke-JoblibSoakCall {
    param([Parameter(Mandatory)] [string] $Scenario, [Parameter(Mandatory)] [string] $Label, [hashtable] $Parameters = @{}, [hashtable] $Config)
    # The scenarios' errors are checked, not acted on: a caller's 'Stop' would make -OnError Continue's errors terminating.
    $ErrorActionPreference = 'Continue'
    $case = $script:SoakScenarios[$Scenario]
    $errors = [System.Collections.Generic.List[object]]::new()
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    # Non-terminating errors (-OnError Continue) come through 2>&1 in their place; a terminating one is caught.
    $run = { try { & $case.Run $Parameters 2>&1 } catch { $_ } }
    $all = if ($Config) { Use-JoblibConfig @Config -ScriptBlock $run } else { & $run }
    $output = @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] })
    foreach ($e in @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] })) { $errors.Add($e) }
    $seconds = $clock.Elapsed.TotalSeconds
    $gotOutput = @($output | ForEach-Object { $_ }) -join ','
    $gotErrors = @($errors | ForEach-Object { "$(($_.FullyQualifiedErrorId -split ',')[0]):$($_.TargetObject)" } | Select-Object -Unique) -join ';'
    $ok = $gotOutput -ceq $case.Output -and $gotErrors -ceq $case.Errors
    [pscustomobject]@{
        Scenario = $Scenario
        Backend  = $Label
        Ok       = $ok
        Detail   = if ($ok) { '' } else { "output '$gotOutput' (expected '$($case.Output)'), errors '$gotErrors' (expected '$($case.Errors)'): $(@($errors | ForEach-Object { $_.Exception.Message }) -join ' | ')" }
        Seconds  = [math]::Round($seconds, 3)
    }
}

<#
.SYNOPSIS
Runs $Calls soak calls, cycling through the backends and scenarios, with a resource snapshot before (after one
warm-up round of every scenario on every backend) and after. Returns Before, After, Leaks, Results.
.PARAMETER Backends
Label -> @{ Parameters = splat for Invoke-JoblibParallel; Config = splat for Use-JoblibConfig (or $null) }.
.PARAMETER Scenarios
The scenario names to cycle through (all by default).
#>
function Invoke-JoblibSoak {
    param(
        [Parameter(Mandatory)] [int] $Calls,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Backends,
        [string[]] $Scenarios = @($script:SoakScenarios.Keys),
        [int] $MaxPwsh = 2,
        [int] $MaxSsh = 0,
        [scriptblock] $OnProgress
    )
    $labels = @($Backends.Keys)
    foreach ($label in $labels) {
        foreach ($scenario in $Scenarios) { $null = Invoke-JoblibSoakCall -Scenario $scenario -Label $label -Parameters $Backends[$label].Parameters -Config $Backends[$label].Config }
    }
    $before = Get-JoblibResourceSnapshot
    $results = [System.Collections.Generic.List[object]]::new()
    for ($i = 0; $i -lt $Calls; $i++) {
        $label = $labels[$i % $labels.Count]
        $scenario = $Scenarios[[math]::Floor($i / $labels.Count) % $Scenarios.Count]
        $spec = $Backends[$label]
        $results.Add((Invoke-JoblibSoakCall -Scenario $scenario -Label $label -Parameters $spec.Parameters -Config $spec.Config))
        if ($OnProgress) { & $OnProgress $i $results[-1] }
    }
    $after = Get-JoblibResourceSnapshot
    [pscustomobject]@{
        Before  = $before
        After   = $after
        Leaks   = @(Compare-JoblibResourceSnapshot -Before $before -After $after -MaxPwsh $MaxPwsh -MaxSsh $MaxSsh)
        Results = $results.ToArray()
    }
}

# ---- fault matrix ------------------------------------------------------------------------------------------------

<#
.SYNOPSIS
Runs $Fault, measures the time to its error, then runs a plain call on the same backend that must be healthy.
Returns Name, Seconds, ErrorId, Target, Message, Output, Warnings, NextHealthy, NextSeconds.
#>
function Measure-JoblibFault {
    param([Parameter(Mandatory)] [string] $Name, [Parameter(Mandatory)] [scriptblock] $Fault, [Parameter(Mandatory)] [scriptblock] $Next)
    $err = $null
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    $out = @(try { & $Fault 3>&1 } catch { $err = $_ })
    $seconds = $clock.Elapsed.TotalSeconds
    $clock.Restart()
    $nextOut = $null
    $nextError = $null
    try { $nextOut = & $Next } catch { $nextError = $_ }
    [pscustomobject]@{
        Name        = $Name
        Seconds     = [math]::Round($seconds, 2)
        ErrorId     = if ($err) { ($err.FullyQualifiedErrorId -split ',')[0] } else { '' }
        Target      = if ($err) { $err.TargetObject } else { $null }
        Message     = if ($err) { $err.Exception.Message } else { '' }
        Output      = @($out | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] -and $_ -isnot [System.Management.Automation.WarningRecord] })
        Warnings    = @($out | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object Message)
        NextHealthy = ($null -eq $nextError) -and ((@($nextOut) -join ',') -eq '1,2,3,4')
        NextSeconds = [math]::Round($clock.Elapsed.TotalSeconds, 2)
    }
}

<#
.SYNOPSIS
Runs $Call in a PowerShell instance of its own (this module and JoblibPS imported there) and stops it, as Ctrl+C
does, once it wrote $After output objects (its first by default). Returns Seconds (from the stop to the end of the
call), the State and the reason it ended, how many objects it Written, and the Output itself.
.DESCRIPTION
$Call may use $Arguments: the value given to -Arguments (a hashtable of backend arguments, say). Throws when the
call did not write $After objects within $WaitSeconds.
#>
function Measure-JoblibCtrlC {
    param(
        [Parameter(Mandatory)] [string] $Call,
        [Parameter(Mandatory)] [string] $ModulePath,
        [object] $Arguments,
        [int] $After = 1,
        [int] $WaitSeconds = 60
    )
    $ps = [powershell]::Create()
    try {
        $null = $ps.AddScript("param(`$Arguments) Import-Module '$ModulePath'; $Call").AddArgument($Arguments)
        $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
        $enough = [System.Threading.ManualResetEventSlim]::new($false)
        $handler = { param($collection, $e) if ($e.Index + 1 -ge $After) { $enough.Set() } }.GetNewClosure()
        $output.add_DataAdded($handler)
        $async = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]$null, $output)
        if (-not $enough.Wait($WaitSeconds * 1000)) { throw "The call wrote $($output.Count) of $After objects within $WaitSeconds s: $Call" }
        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        $ps.Stop()
        $reason = 'completed'
        try { $null = $ps.EndInvoke($async) } catch { $reason = $_.Exception.InnerException.GetType().Name }
        [pscustomobject]@{ Seconds = [math]::Round($clock.Elapsed.TotalSeconds, 2); State = "$($ps.InvocationStateInfo.State)"; Reason = $reason; Written = $output.Count; Output = @($output) }
    }
    finally { $ps.Dispose() }
}

<#
.SYNOPSIS
Runs $ScriptBlock while a watcher stops a process from outside: once $PidFile appears, the watcher waits 100 ms and
ends the process whose id the file holds with Stop-Process -Force, as a user killing a worker would. Returns what
$ScriptBlock returns.
.DESCRIPTION
The watcher is a runspace of this process, started before $ScriptBlock and waited for (and disposed) after it,
whatever way $ScriptBlock ends; it gives up after 60 s without a pid file. The pid file is removed before the
watcher starts (a stale one would stop a process at once) and after it ended. $ScriptBlock runs in the caller's
scope, so a worker can name the file with $using:.
#>
function Invoke-JoblibWithProcessStopped {
    param([Parameter(Mandatory)] [string] $PidFile, [Parameter(Mandatory)] [scriptblock] $ScriptBlock)
    Remove-Item -LiteralPath $PidFile -ErrorAction Ignore
    $watcher = [powershell]::Create().AddScript({
            param($flag)
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (-not (Test-Path $flag) -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            Start-Sleep -Milliseconds 100
            Stop-Process -Id ([int](Get-Content $flag)) -Force
        }).AddArgument($PidFile)
    $async = $watcher.BeginInvoke()
    try { & $ScriptBlock }
    finally { $null = $watcher.EndInvoke($async); $watcher.Dispose(); Remove-Item -LiteralPath $PidFile -ErrorAction Ignore }
}

# ---- bad inputs --------------------------------------------------------------------------------------------------

<#
.SYNOPSIS
The table of bad inputs: Name, Run (a script block that must fail), Id (the error id it must get, before the
comma of FullyQualifiedErrorId). -Remote adds the cases that need a loopback address with nothing listening.
#>
function Get-JoblibBadInput {
    $deep = @{}; $node = $deep
    foreach ($i in 1..50) { $node.Next = @{}; $node = $node.Next }
    $ctx = @{ Deep = $deep }
    @(
        @{ Name = '-NJobs 0'; Id = 'JoblibInvalidNJobs'; Run = { 1 | Invoke-JoblibParallel { $_ } -NJobs 0 } }
        @{ Name = '-InnerMaxNumThreads on threading'; Id = 'JoblibUnsupportedOption'; Run = { Use-JoblibConfig threading -InnerMaxNumThreads 2 { 1 | Invoke-JoblibParallel { $_ } } } }
        @{ Name = 'Use-JoblibConfig -NJobs 0'; Id = 'JoblibInvalidNJobs'; Run = { Use-JoblibConfig threading -NJobs 0 { } } }
        @{ Name = "-BatchSize 'abc'"; Id = 'JoblibInvalidBatchSize'; Run = { 1 | Invoke-JoblibParallel { $_ } -BatchSize abc } }
        @{ Name = "-BatchSize '0'"; Id = 'JoblibInvalidBatchSize'; Run = { 1 | Invoke-JoblibParallel { $_ } -BatchSize 0 } }
        @{ Name = "-BatchSize '-5'"; Id = 'JoblibInvalidBatchSize'; Run = { 1 | Invoke-JoblibParallel { $_ } -BatchSize -5 } }
        @{ Name = "-BatchSize '1.5'"; Id = 'JoblibInvalidBatchSize'; Run = { 1 | Invoke-JoblibParallel { $_ } -BatchSize 1.5 } }
        @{ Name = "-BatchSize '99999999999'"; Id = 'JoblibInvalidBatchSize'; Run = { 1 | Invoke-JoblibParallel { $_ } -BatchSize 99999999999 } }
        @{ Name = "-PreDispatch '0'"; Id = 'JoblibInvalidPreDispatch'; Run = { 1 | Invoke-JoblibParallel { $_ } -PreDispatch 0 } }
        @{ Name = "-PreDispatch '-1'"; Id = 'JoblibInvalidPreDispatch'; Run = { 1 | Invoke-JoblibParallel { $_ } -PreDispatch -1 } }
        @{ Name = "-PreDispatch 'n_jobs-2' with 2 jobs"; Id = 'JoblibInvalidPreDispatch'; Run = { 1 | Invoke-JoblibParallel { $_ } -NJobs 2 -PreDispatch 'n_jobs-2' } }
        @{ Name = "-PreDispatch 'lots'"; Id = 'JoblibInvalidPreDispatch'; Run = { 1 | Invoke-JoblibParallel { $_ } -PreDispatch lots } }
        @{ Name = '-PreDispatch with a command in it'; Id = 'JoblibInvalidPreDispatch'; Run = { 1 | Invoke-JoblibParallel { $_ } -PreDispatch '$(Remove-Item x)' } }
        @{ Name = '-PreDispatch with a statement after it'; Id = 'JoblibInvalidPreDispatch'; Run = { 1 | Invoke-JoblibParallel { $_ } -PreDispatch '2*n_jobs; Get-Date' } }
        @{ Name = '-TimeoutSeconds 0'; Id = 'JoblibInvalidTimeout'; Run = { 1 | Invoke-JoblibParallel { $_ } -TimeoutSeconds 0 } }
        @{ Name = '-TimeoutSeconds -1'; Id = 'JoblibInvalidTimeout'; Run = { 1 | Invoke-JoblibParallel { $_ } -TimeoutSeconds -1 } }
        @{ Name = '-TimeoutSeconds 1e300'; Id = 'JoblibInvalidTimeout'; Run = { 1 | Invoke-JoblibParallel { $_ } -TimeoutSeconds 1e300 } }
        @{ Name = '-TimeoutSeconds 1e-9'; Id = 'JoblibInvalidTimeout'; Run = { 1 | Invoke-JoblibParallel { $_ } -TimeoutSeconds 1e-9 } }
        @{ Name = '-TimeoutSeconds NaN'; Id = 'JoblibInvalidTimeout'; Run = { 1 | Invoke-JoblibParallel { $_ } -TimeoutSeconds ([double]::NaN) } }
        @{ Name = '-Retry -1'; Id = 'JoblibInvalidRetry'; Run = { 1 | Invoke-JoblibParallel { $_ } -Retry -1 } }
        @{ Name = '-RetryDelaySeconds -1'; Id = 'JoblibInvalidRetry'; Run = { 1 | Invoke-JoblibParallel { $_ } -Retry 1 -RetryDelaySeconds -1 } }
        @{ Name = "-Backend 'nosuch'"; Id = 'JoblibUnknownBackend'; Run = { 1 | Invoke-JoblibParallel { $_ } -Backend nosuch } }
        @{ Name = 'Use-JoblibConfig nosuch'; Id = 'JoblibUnknownBackend'; Run = { Use-JoblibConfig nosuch { } } }
        @{ Name = '-Backend 42'; Id = 'JoblibInvalidBackend'; Run = { 1 | Invoke-JoblibParallel { $_ } -Backend 42 } }
        @{ Name = '-Backend (a hashtable)'; Id = 'JoblibInvalidBackend'; Run = { 1 | Invoke-JoblibParallel { $_ } -Backend @{ Name = 'loky' } } }
        @{ Name = '$using: of an undefined variable'; Id = 'JoblibUsingVariableUndefined'; Run = { 1 | Invoke-JoblibParallel { $using:NoSuchVariable4711 } } }
        @{ Name = '-Checkpoint in a folder that does not exist'; Id = 'JoblibCheckpointPath'; Run = { 1 | Invoke-JoblibParallel { $_ } -Checkpoint (Join-Path ([IO.Path]::GetTempPath()) "no-such-folder-$([guid]::NewGuid())/run.checkpoint") } }
        @{ Name = '-Checkpoint naming a folder'; Id = 'JoblibCheckpointIsDirectory'; Run = { 1 | Invoke-JoblibParallel { $_ } -Checkpoint ([IO.Path]::GetTempPath()) } }
        @{ Name = '-CheckpointKey that throws'; Id = 'JoblibCheckpointKeyFailed'; Run = { 1 | Invoke-JoblibParallel { $_ } -Checkpoint (Join-Path ([IO.Path]::GetTempPath()) "$([guid]::NewGuid()).checkpoint") -CheckpointKey { throw 'no key' } } }
        @{ Name = '-CheckpointKey returning $null'; Id = 'JoblibCheckpointKeyInvalid'; Run = { 1 | Invoke-JoblibParallel { $_ } -Checkpoint (Join-Path ([IO.Path]::GetTempPath()) "$([guid]::NewGuid()).checkpoint") -CheckpointKey { $null } } }
        @{ Name = '-CheckpointKey returning a script block'; Id = 'JoblibCheckpointKeyInvalid'; Run = { 1 | Invoke-JoblibParallel { $_ } -Checkpoint (Join-Path ([IO.Path]::GetTempPath()) "$([guid]::NewGuid()).checkpoint") -CheckpointKey { { 1 } } } }
        @{ Name = '-CheckpointKey without a checkpoint'; Id = 'JoblibCheckpointKeyInvalid'; Run = { 1 | Invoke-JoblibParallel { $_ } -CheckpointKey { $_ } } }
        @{ Name = 'two items with one checkpoint key'; Id = 'JoblibCheckpointDuplicateKey'; Run = { 1, 2, 1 | Invoke-JoblibParallel { $_ } -Checkpoint (Join-Path ([IO.Path]::GetTempPath()) "$([guid]::NewGuid()).checkpoint") } }
        @{ Name = '-ImportFunction of an undefined function'; Id = 'JoblibImportFunctionNotFound'; Run = { 1 | Invoke-JoblibParallel { $_ } -ImportFunction NoSuchFunction4711 } }
        @{ Name = '-ImportVariable of an undefined variable'; Id = 'JoblibImportVariableNotFound'; Run = { 1 | Invoke-JoblibParallel { $_ } -ImportVariable NoSuchVariable4711 } }
        @{ Name = '-ImportModule of a module that is not installed'; Id = 'JoblibImportModuleNotFound'; Run = { 1 | Invoke-JoblibParallel { $_ } -ImportModule NoSuchModule4711 } }
        @{ Name = '-InitializationScript that throws'; Id = 'JoblibInitializationFailed'; Run = { 1 | Invoke-JoblibParallel { $_ } -InitializationScript { throw 'no setup' } } }
        @{ Name = 'a script block as an input item (loky)'; Id = 'JoblibScriptBlockCannotTravel'; Run = { { 1 } | Invoke-JoblibParallel { & $_ } -Backend loky -NJobs 2 } }
        @{ Name = 'a script block in -ArgumentList'; Id = 'JoblibScriptBlockCannotTravel'; Run = { 1 | Invoke-JoblibParallel { param($x, $f) & $f } -ArgumentList { 1 } } }
        @{ Name = 'a script block as $using:'; Id = 'JoblibScriptBlockCannotTravel'; Run = { $f = { 1 }; 1 | Invoke-JoblibParallel { & $using:f } -Backend loky -NJobs 2 } }
        @{ Name = 'an input nested 50 deep (loky)'; Id = 'JoblibValueCannotTravel'; Run = { $ctx.Deep | Invoke-JoblibParallel { $_ } -Backend loky -NJobs 2 }.GetNewClosure() }
        @{ Name = 'process nesting over JOBLIBPS_MAX_DEPTH'; Id = 'JoblibProcessNestingTooDeep'; Run = { $saved = $env:JOBLIBPS_MAX_DEPTH; $env:JOBLIBPS_MAX_DEPTH = '0'; try { 1..2 | Invoke-JoblibParallel { $_ } -Backend loky -NJobs 2 } finally { $env:JOBLIBPS_MAX_DEPTH = $saved } } }
        @{ Name = 'a factory whose object has no Submit'; Id = 'JoblibBackendContractViolation'; Run = { Register-JoblibBackend reliability-nosubmit { [pscustomobject]@{} | Add-Member -PassThru ScriptMethod EffectiveNJobs { param($n) 1 } } } }
        @{ Name = 'Register-JoblibBackend threading'; Id = 'JoblibBackendNameTaken'; Run = { Register-JoblibBackend threading { } } }
        @{ Name = 'Register-JoblibBackend with a factory of 42'; Id = 'JoblibInvalidBackendFactory'; Run = { Register-JoblibBackend reliability-bad 42 } }
        @{ Name = 'Register-JoblibBackend a name twice'; Id = 'JoblibBackendNameTaken'; Run = { try { Register-JoblibBackend reliability-twice { [pscustomobject]@{} | Add-Member -PassThru ScriptMethod EffectiveNJobs { 1 } | Add-Member -PassThru ScriptMethod Submit { param($t, $c) } }; Register-JoblibBackend reliability-twice { } } finally { Unregister-JoblibBackend reliability-twice -ErrorAction Ignore } } }
        @{ Name = 'a backend registered with -ModuleName of a missing module'; Id = 'JoblibBackendModuleMissing'; Run = { Register-JoblibBackend reliability-mod -ModuleName NoSuchModule4711 -Force; try { 1 | Invoke-JoblibParallel { $_ } -Backend reliability-mod } finally { Unregister-JoblibBackend reliability-mod -ErrorAction Ignore } } }
        @{ Name = 'Unregister-JoblibBackend nosuch'; Id = 'JoblibBackendNotFound'; Run = { Unregister-JoblibBackend nosuch4711 -ErrorAction Stop } }
        @{ Name = 'Unregister-JoblibBackend loky'; Id = 'JoblibBuiltInBackend'; Run = { Unregister-JoblibBackend loky -ErrorAction Stop } }
        @{ Name = 'loky -BackendArgument with an unknown name'; Id = 'JoblibInvalidBackendArgument'; Run = { Use-JoblibConfig loky -BackendArgument @{ Nope = 1 } { } } }
        @{ Name = 'loky IdleTimeoutSeconds -1'; Id = 'JoblibInvalidBackendArgument'; Run = { Use-JoblibConfig loky -BackendArgument @{ IdleTimeoutSeconds = -1 } { } } }
        @{ Name = 'loky PwshPath that does not exist'; Id = 'JoblibInvalidBackendArgument'; Run = { Use-JoblibConfig loky -NJobs 2 -BackendArgument @{ PwshPath = '/nonexistent/pwsh' } { 1..2 | Invoke-JoblibParallel { $_ } } } }
        @{ Name = 'remote without HostName or Session'; Id = 'JoblibInvalidBackendArgument'; Run = { Use-JoblibConfig remote { } } }
        @{ Name = 'remote with a plain-string Credential'; Id = 'JoblibInvalidBackendArgument'; Run = { Use-JoblibConfig remote -BackendArgument @{ HostName = '127.0.0.9'; Credential = 'secret' } { } } }
        @{ Name = 'remote host where nothing listens'; Id = 'JoblibRemoteNoHostReachable'; Run = { Use-JoblibConfig remote -BackendArgument @{ HostName = '127.0.0.9'; Port = 1; Options = @{ BatchMode = 'yes'; ConnectTimeout = '5' } } { 1 | Invoke-JoblibParallel { $_ } } } }
        @{ Name = 'remote JobsPerHost 0'; Id = 'JoblibInvalidBackendArgument'; Run = { Use-JoblibConfig remote -BackendArgument @{ HostName = '127.0.0.9'; JobsPerHost = 0 } { } } }
        @{ Name = 'loky MaxTasksPerWorker -1'; Id = 'JoblibInvalidBackendArgument'; Run = { Use-JoblibConfig loky -BackendArgument @{ MaxTasksPerWorker = -1 } { } } }
        @{ Name = 'loky Environment that is not a hashtable'; Id = 'JoblibInvalidBackendArgument'; Run = { Use-JoblibConfig loky -BackendArgument @{ Environment = 'X=1' } { } } }
    )
}

Export-ModuleMember -Function Get-JoblibResourceSnapshot, Compare-JoblibResourceSnapshot, Get-JoblibSoakScenarioName, Invoke-JoblibSoakCall, Invoke-JoblibSoak, Measure-JoblibFault, Measure-JoblibCtrlC, Invoke-JoblibWithProcessStopped, Get-JoblibBadInput
