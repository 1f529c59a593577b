# Register-JoblibBackend, Get-JoblibBackend and Unregister-JoblibBackend, with custom backends written as
# PowerShell classes (the seed example of joblib's documentation, ported) and in C#.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Import-JoblibTestModule
    $repo = Split-Path (Split-Path $PSScriptRoot)
    # The seed example as a PowerShell class: runs each task on the .NET thread pool, callback as continuation.
    $script:Types = . ([scriptblock]::Create(@'
class PoolBackend : JoblibPS.ParallelBackendBase {
    [string] $Endpoint
    PoolBackend() { $this.SupportsRetrieveCallback = $true }
    PoolBackend([string] $Endpoint, [string] $ApiKey) { $this.SupportsRetrieveCallback = $true; $this.Endpoint = "$Endpoint/$ApiKey" }
    [int] EffectiveNJobs([int] $nJobs) { return [Math]::Max(1, $nJobs) }
    [object] Submit([JoblibPS.BatchTask] $task, [Action[object]] $callback) {
        $future = [System.Threading.Tasks.Task[object]]::Run([Func[object]]$task)
        $null = $future.ContinueWith($callback)
        return $future
    }
    [object] RetrieveResultCallback([object] $future) { return $future.Result }
}
class NeedsArgs : JoblibPS.ParallelBackendBase {
    NeedsArgs([string] $Endpoint, [string] $ApiKey) { }
    [int] EffectiveNJobs([int] $nJobs) { return 1 }
    [object] Submit([JoblibPS.BatchTask] $task, [Action[object]] $callback) { $result = $task.Invoke(); $callback.Invoke($result); return $result }
}
class PollingBackend : JoblibPS.ParallelBackendBase {
    static [int] $Retrieved = 0
    PollingBackend() { $this.SupportsRetrieveCallback = $false }
    [int] EffectiveNJobs([int] $nJobs) { return 2 }
    [object] Submit([JoblibPS.BatchTask] $task, [Action[object]] $callback) {
        $future = [System.Threading.Tasks.Task[object]]::Run([Func[object]]$task)
        $null = $future.ContinueWith($callback)
        return $future
    }
    [object] RetrieveResult([object] $future, [timespan] $timeout) { [PollingBackend]::Retrieved++; return $future.Result }
}
class NestingBackend : JoblibPS.Backends.Threading.ThreadingBackend {
    NestingBackend() : base(0) { }
    [JoblibPS.NestedBackend] GetNestedBackend() { return [JoblibPS.NestedBackend]::new([JoblibPS.Backends.Sequential.SequentialBackend]::new($this.NestingLevel + 1), 1) }
}
@{ Pool = [PoolBackend]; NeedsArgs = [NeedsArgs]; Polling = [PollingBackend]; Nesting = [NestingBackend] }
'@))
}

AfterAll {
    foreach ($name in 'custom', 'needsargs', 'polling', 'nesting', 'sbfactory', 'csharp', 'lazy', 'lazymissing', 'dflt', 'mini', 'nosubmit', 'noeffective', 'notbackend') { Unregister-JoblibBackend $name -ErrorAction Ignore }
    Assert-JoblibWorkloadStable -Backend threading -NJobs 2
}

Describe 'Register-JoblibBackend' {
    It 'runs joblib''s example backend written as a PowerShell class' {
        Register-JoblibBackend custom $Types.Pool -Force
        Use-JoblibConfig custom { 1..10 | Invoke-JoblibParallel { $_ * 2 } -NJobs 2 } | Should -Be (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
    }

    It 'runs the same backend written in C# (examples/ThreadPoolBackend.cs)' {
        . (Join-Path $repo 'examples/ThreadPoolBackend.CSharp.ps1')
        $name = (Get-JoblibBackend | Where-Object { $_.Type -like '*ThreadPool*' -and $_.Source -eq 'Registered' } | Select-Object -First 1).Name
        $name | Should -Not -BeNullOrEmpty
        Use-JoblibConfig $name { 1..10 | Invoke-JoblibParallel { $_ * 2 } -NJobs 2 } | Should -Be (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
    }

    It 'binds backend arguments to constructor parameters by name, case-insensitively' {
        Register-JoblibBackend needsargs $Types.Pool -Force
        $out = Use-JoblibConfig -Backend needsargs -BackendArgument @{ endpoint = 'http://compute'; APIKEY = '42' } { 1..3 | Invoke-JoblibParallel { $_ + 1 } -NJobs 2 }
        $out | Should -Be @(2, 3, 4)
    }

    It 'names a missing required argument, and lists the accepted ones for an unknown one' {
        Register-JoblibBackend needsargs $Types.NeedsArgs -Force
        { Use-JoblibConfig needsargs -BackendArgument @{ Endpoint = 'x' } { 1 } } | Should -Throw -ErrorId 'JoblibInvalidBackendArgument,Use-JoblibConfig' -ExpectedMessage '*ApiKey*'
        { Use-JoblibConfig needsargs -BackendArgument @{ Endpoint = 'x'; ApiKey = 'k'; Nope = 1 } { 1 } } | Should -Throw -ExpectedMessage "*'Nope'*Endpoint, ApiKey*"
    }

    It 'binds arguments to a script-block factory''s parameters' {
        $pool = $Types.Pool
        Register-JoblibBackend sbfactory { param([Parameter(Mandatory)] $Endpoint) $pool::new($Endpoint, 'k') }.GetNewClosure() -Force
        Use-JoblibConfig sbfactory -BackendArgument @{ Endpoint = 'e' } { 1..4 | Invoke-JoblibParallel { $_ * 3 } -NJobs 2 } | Should -Be @(3, 6, 9, 12)
        { Use-JoblibConfig sbfactory { 1 } } | Should -Throw -ExpectedMessage '*Endpoint*'
    }

    It 'calls RetrieveResult when SupportsRetrieveCallback is false' {
        Register-JoblibBackend polling $Types.Polling -Force
        $before = $Types.Polling::Retrieved
        Use-JoblibConfig polling { 1..6 | Invoke-JoblibParallel { $_ } -BatchSize 1 } | Should -Be (1..6)
        $Types.Polling::Retrieved | Should -Be ($before + 6)
    }

    It 'lets a custom backend decide the backend of nested calls, one nesting level deeper' {
        Register-JoblibBackend nesting $Types.Nesting -Force
        $lines = Use-JoblibConfig nesting -NJobs 2 { 1..2 | Invoke-JoblibParallel { 1..2 | Invoke-JoblibParallel { $_ } -Verbose 4>&1 | ForEach-Object { "$_" } } }
        $lines | Should -Contain 'Using backend sequential with 1 concurrent worker.'
    }

    It 'refuses a taken or built-in name without -Force, and a factory that is not a backend' {
        Register-JoblibBackend custom $Types.Pool -Force
        { Register-JoblibBackend custom $Types.Pool } | Should -Throw -ErrorId 'JoblibBackendNameTaken,JoblibPS.Commands.RegisterJoblibBackendCommand'
        { Register-JoblibBackend threading $Types.Pool } | Should -Throw -ErrorId 'JoblibBackendNameTaken,JoblibPS.Commands.RegisterJoblibBackendCommand'
        { Register-JoblibBackend bad ([string]) } | Should -Throw -ErrorId 'JoblibInvalidBackendFactory,JoblibPS.Commands.RegisterJoblibBackendCommand'
    }

    It 'makes a backend the session default with -MakeDefault' {
        Register-JoblibBackend dflt $Types.Pool -MakeDefault -Force
        try { (Get-JoblibConfig).Backend | Should -Be 'dflt' }
        finally { Unregister-JoblibBackend dflt }
        (Get-JoblibConfig).Backend | Should -Be 'threading'
    }

    It 'loads an external backend from its module on first use' {
        $dir = Join-Path $TestDrive 'JoblibLazyBackend'
        $null = New-Item -ItemType Directory -Path $dir
        "Register-JoblibBackend -Name lazy -Factory ([JoblibPS.Backends.Sequential.SequentialBackend]) -Force" | Set-Content (Join-Path $dir 'JoblibLazyBackend.psm1')
        $old = $env:PSModulePath
        $env:PSModulePath = $TestDrive + [IO.Path]::PathSeparator + $old
        try {
            Register-JoblibBackend lazy -ModuleName JoblibLazyBackend -Force
            (Get-JoblibBackend lazy).Source | Should -Be 'External'
            1..3 | Invoke-JoblibParallel { $_ } -Backend lazy | Should -Be @(1, 2, 3)
            (Get-JoblibBackend lazy).Source | Should -Be 'Registered'
        }
        finally { $env:PSModulePath = $old; Remove-Module JoblibLazyBackend -ErrorAction Ignore }
    }

    It 'names the module when an external backend''s module is missing' {
        Register-JoblibBackend lazymissing -ModuleName NoSuchJoblibModule -Force
        { 1 | Invoke-JoblibParallel { $_ } -Backend lazymissing } | Should -Throw -ErrorId 'JoblibBackendModuleMissing,JoblibPS.Commands.InvokeJoblibParallelCommand' -ExpectedMessage '*NoSuchJoblibModule*Install*'
    }

    It 'tab-completes registered names for -Backend' {
        $r = TabExpansion2 -inputScript 'Invoke-JoblibParallel -Backend thr' -cursorColumn 'Invoke-JoblibParallel -Backend thr'.Length
        $r.CompletionMatches.CompletionText | Should -Contain 'threading'
    }
}

Describe 'Backends written with script methods (no class)' {
    BeforeAll {
        # The smallest script-method backend: the two required members, run synchronously; RetrieveResult is the
        # base class's, which understands the BatchResult given back as the future. It records what was called
        # and on which runspace, so the tests can see the adapter's defaults and where script methods run.
        $script:MiniCalls = [System.Collections.Generic.List[string]]::new()
        $calls = $MiniCalls
        $script:NewMini = {
            $backend = [pscustomobject]@{ DefaultNJobs = 3; Calls = $calls }
            $backend | Add-Member -MemberType ScriptMethod -Name EffectiveNJobs -Value { param([int] $nJobs) $this.Calls.Add("EffectiveNJobs $nJobs"); [Math]::Max(1, $nJobs) }
            $backend | Add-Member -MemberType ScriptMethod -Name Submit -Value {
                param($task, $callback)
                $this.Calls.Add("Submit runspace $([runspace]::DefaultRunspace.Id)")
                $result = $task.Invoke()
                $callback.Invoke($result)
                $result
            }
            $backend
        }.GetNewClosure()
    }

    It 'runs the thread-pool example (examples/ThreadPoolBackend.ScriptMethods.ps1) with output in input order' {
        . (Join-Path $repo 'examples/ThreadPoolBackend.ScriptMethods.ps1')
        (Get-JoblibBackend custom).Type | Should -Be 'ScriptBlock factory'
        Use-JoblibConfig custom { 1..10 | Invoke-JoblibParallel { $_ * 2 } -NJobs 2 } | Should -Be (2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
        # Items that finish out of order still come back in input order; $using: values are the caller's objects.
        $seen = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
        $out = Use-JoblibConfig custom -NJobs 4 { 1..24 | Invoke-JoblibParallel { Start-Sleep -Milliseconds (Get-Random -Maximum 30); ($using:seen).Add($_); $_ } -BatchSize 1 }
        $out | Should -Be (1..24)
        $seen.Count | Should -Be 24
    }

    It 'stops the call on a failing item through the script AbortEverything, and leaves the scope usable' {
        . (Join-Path $repo 'examples/ThreadPoolBackend.ScriptMethods.ps1')
        Use-JoblibConfig custom -NJobs 2 {
            { 1..6 | Invoke-JoblibParallel { if ($_ -eq 3) { throw 'item 3 failed' }; $_ } -BatchSize 1 } | Should -Throw -ErrorId 'JoblibTaskFailed,*' -ExpectedMessage '*item 3 failed*'
            1..4 | Invoke-JoblibParallel { $_ + 1 } | Should -Be (2, 3, 4, 5)
        }
    }

    It 'uses the defaults of ParallelBackendBase for the members it lacks, and reads DefaultNJobs from a note property' {
        Register-JoblibBackend mini $NewMini -Force
        $MiniCalls.Clear()
        Use-JoblibConfig mini { (Get-JoblibConfig).NJobs; 1..5 | Invoke-JoblibParallel { $_ * 3 } -BatchSize 2 } | Should -Be (3, 3, 6, 9, 12, 15)
        $MiniCalls[0] | Should -Be 'EffectiveNJobs 3'   # the default Configure calls the script EffectiveNJobs with DefaultNJobs
        # Batches are cut by the engine (a partial batch may go out early when input is slow): 1 to 5 of them.
        @($MiniCalls -like 'Submit *').Count | Should -BeIn (1..5)
        $MiniCalls -like 'Submit *' | Select-Object -Unique | Should -Be "Submit runspace $([runspace]::DefaultRunspace.Id)"
    }

    It 'runs the script methods in the runspace that registered the backend when a worker''s nested call uses it' {
        Register-JoblibBackend mini $NewMini -Force
        $MiniCalls.Clear()
        $out = 1..2 | Invoke-JoblibParallel { $outer = $_; 1..3 | Invoke-JoblibParallel { $_ * 10 + $using:outer } -Backend mini -NJobs 2 } -NJobs 2
        $out | Should -Be (11, 21, 31, 12, 22, 32)
        $MiniCalls -like 'Submit *' | Select-Object -Unique | Should -Be "Submit runspace $([runspace]::DefaultRunspace.Id)"
    }

    It 'names a missing required member with JoblibBackendContractViolation, at registration when the factory needs no argument' {
        $err = $null
        try { Register-JoblibBackend nosubmit { [pscustomobject]@{} | Add-Member -MemberType ScriptMethod -Name EffectiveNJobs -Value { 1 } -PassThru } -Force }
        catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'JoblibBackendContractViolation,JoblibPS.Commands.RegisterJoblibBackendCommand'
        $err.Exception.Message | Should -BeLike "*'nosubmit'*without a Submit method*Add-Member -MemberType ScriptMethod -Name Submit*"
        Get-JoblibBackend nosubmit -ErrorAction Ignore | Should -BeNullOrEmpty
    }

    It 'names a missing required member with JoblibBackendContractViolation at first use when the factory needs arguments' {
        Register-JoblibBackend noeffective { param([Parameter(Mandatory)] $Size) [pscustomobject]@{ Size = $Size } | Add-Member -MemberType ScriptMethod -Name Submit -Value { param($t, $c) } -PassThru } -Force
        { Use-JoblibConfig noeffective -BackendArgument @{ Size = 1 } { 1 } } | Should -Throw -ErrorId 'JoblibBackendContractViolation,Use-JoblibConfig' -ExpectedMessage '*without a EffectiveNJobs method*'
        Use-JoblibConfig -BackendArgument @{ Size = 1 } {
            { 1 | Invoke-JoblibParallel { $_ } -Backend noeffective } | Should -Throw -ErrorId 'JoblibBackendContractViolation,JoblibPS.Commands.InvokeJoblibParallelCommand' -ExpectedMessage '*EffectiveNJobs*'
        }
    }

    It 'says a factory that returns <What> must return exactly one backend, mentioning script methods' -ForEach @(
        @{ What = 'nothing'; Factory = { $null } }
        @{ What = 'a System.String'; Factory = { 'threading' } }
        @{ What = '2 objects'; Factory = { [JoblibPS.Backends.Sequential.SequentialBackend]::new(); [JoblibPS.Backends.Sequential.SequentialBackend]::new() } }
    ) {
        Register-JoblibBackend notbackend $Factory -Force
        { 1 | Invoke-JoblibParallel { $_ } -Backend notbackend } | Should -Throw -ErrorId 'JoblibInvalidBackendArgument,JoblibPS.Commands.InvokeJoblibParallelCommand' -ExpectedMessage "*returned $What; it must return exactly one backend*script methods*"
    }
}

Describe 'Errors from a backend''s own code: one record, naming whose code failed' {
    BeforeAll {
        # Each member's throw is on a line of its own, so the record's script stack trace can point at it.
        $script:Failing = . ([scriptblock]::Create(@'
class ConfigureThrows : JoblibPS.ParallelBackendBase {
    [int] EffectiveNJobs([int] $nJobs) { return 1 }
    [int] Configure([int] $nJobs, [JoblibPS.ParallelCall] $parallel, [System.Collections.IDictionary] $backendArgs) {
        throw 'configure boom'
    }
    [object] Submit([JoblibPS.BatchTask] $task, [Action[object]] $callback) { return $null }
}
class ConfigureFailsCleanly : JoblibPS.ParallelBackendBase {
    [int] EffectiveNJobs([int] $nJobs) { return 1 }
    [int] Configure([int] $nJobs, [JoblibPS.ParallelCall] $parallel, [System.Collections.IDictionary] $backendArgs) {
        throw [System.Management.Automation.ErrorRecord]::new([Exception]::new('no quota left'), 'MyBackendQuota', 'QuotaExceeded', $null)
    }
    [object] Submit([JoblibPS.BatchTask] $task, [Action[object]] $callback) { return $null }
}
class ConfigureCmdletFails : JoblibPS.ParallelBackendBase {
    [int] EffectiveNJobs([int] $nJobs) { return 1 }
    [int] Configure([int] $nJobs, [JoblibPS.ParallelCall] $parallel, [System.Collections.IDictionary] $backendArgs) {
        Get-Item -LiteralPath '/joblibps/no/such/path' -ErrorAction Stop
        return 1
    }
    [object] Submit([JoblibPS.BatchTask] $task, [Action[object]] $callback) { return $null }
}
@{ Throws = [ConfigureThrows]; Clean = [ConfigureFailsCleanly]; Cmdlet = [ConfigureCmdletFails] }
'@))
        # Runs a failing call and returns what $Error holds after it: the caught record must be its only entry.
        function Invoke-Failing([scriptblock] $Call) {
            $global:Error.Clear()
            $caught = $null
            try { & $Call } catch { $caught = $_ }
            $caught | Should -Not -BeNullOrEmpty -Because 'the call must fail'
            [pscustomobject]@{ Caught = $caught; Errors = @($global:Error) }
        }
    }

    AfterAll {
        foreach ($name in 'cfgthrows', 'cfgclean', 'cfgcmdlet', 'smthrows', 'factorythrows') { Unregister-JoblibBackend $name -ErrorAction Ignore }
    }

    It 'a PowerShell class whose Configure throws a string fails with JoblibBackendContractViolation naming the backend and Configure, once' {
        Register-JoblibBackend cfgthrows $Failing.Throws -Force
        $r = Invoke-Failing { 1 | Invoke-JoblibParallel { $_ } -Backend cfgthrows }
        $r.Caught.FullyQualifiedErrorId | Should -Be 'JoblibBackendContractViolation,JoblibPS.Commands.InvokeJoblibParallelCommand'
        $r.Caught.Exception.Message | Should -BeLike "The backend 'cfgthrows' broke the backend contract: Configure threw*configure boom*"
        $r.Caught.Exception.InnerException.Message | Should -Be 'configure boom'
        # The trace is the backend's: its method and the line of the throw.
        ($r.Caught.ScriptStackTrace -split '\r?\n')[0] | Should -Be 'at Configure, <No file>: line 4'
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -Be $r.Caught.FullyQualifiedErrorId
    }

    It 'a cmdlet''s error under -ErrorAction Stop in Configure is told by the cmdlet''s message, once' {
        Register-JoblibBackend cfgcmdlet $Failing.Cmdlet -Force
        $r = Invoke-Failing { 1 | Invoke-JoblibParallel { $_ } -Backend cfgcmdlet }
        $r.Caught.FullyQualifiedErrorId | Should -Be 'JoblibBackendContractViolation,JoblibPS.Commands.InvokeJoblibParallelCommand'
        $r.Caught.Exception.Message | Should -BeLike "The backend 'cfgcmdlet' broke the backend contract: Configure threw an exception (ItemNotFoundException: *no/such/path*)"
        $r.Errors.Count | Should -Be 1
    }

    It 'a backend that throws an ErrorRecord with an id of its own fails the call with that record (failing cleanly)' {
        Register-JoblibBackend cfgclean $Failing.Clean -Force
        $r = Invoke-Failing { 1 | Invoke-JoblibParallel { $_ } -Backend cfgclean }
        $r.Caught.FullyQualifiedErrorId | Should -Be 'MyBackendQuota,JoblibPS.Commands.InvokeJoblibParallelCommand'
        $r.Caught.CategoryInfo.Category | Should -Be 'QuotaExceeded'
        $r.Caught.Exception.Message | Should -Be 'no quota left'
        $r.Errors.Count | Should -Be 1
    }

    It 'a script-method backend whose Configure throws fails the same way, naming the backend and Configure' {
        Register-JoblibBackend smthrows {
            $backend = [pscustomobject]@{}
            $backend | Add-Member -MemberType ScriptMethod -Name EffectiveNJobs -Value { param($n) 1 }
            $backend | Add-Member -MemberType ScriptMethod -Name Submit -Value { param($task, $callback) }
            $backend | Add-Member -MemberType ScriptMethod -Name Configure -Value { param($n, $parallel, $arguments) throw 'script configure boom' }
            $backend
        } -Force
        $r = Invoke-Failing { Use-JoblibConfig smthrows { 1 | Invoke-JoblibParallel { $_ } } }
        $r.Caught.FullyQualifiedErrorId | Should -Be 'JoblibBackendContractViolation,JoblibPS.Commands.InvokeJoblibParallelCommand'
        $r.Caught.Exception.Message | Should -BeLike "The backend 'smthrows' broke the backend contract: Configure threw*script configure boom*"
        $r.Errors.Count | Should -Be 1
    }

    It 'a factory that throws leaves nothing in $Error at registration and one record naming the factory and the backend at use' {
        $global:Error.Clear()
        Register-JoblibBackend factorythrows { throw 'factory boom' } -Force
        $global:Error.Count | Should -Be 0 -Because 'the failure is reported once, when the backend is used'
        $r = Invoke-Failing { 1 | Invoke-JoblibParallel { $_ } -Backend factorythrows }
        $r.Caught.FullyQualifiedErrorId | Should -Be 'JoblibInvalidBackendArgument,JoblibPS.Commands.InvokeJoblibParallelCommand'
        $r.Caught.Exception.Message | Should -Be "The factory of backend 'factorythrows' threw: factory boom"
        $r.Caught.Exception.InnerException.Message | Should -Be 'factory boom'
        $r.Errors.Count | Should -Be 1
    }

    It 'Use-JoblibConfig with <What> adds one record to $Error, with the id <Id>' -ForEach @(
        @{ What = 'a factory that throws'; Backend = 'factorythrows'; NJobs = 2; Id = 'JoblibInvalidBackendArgument,Use-JoblibConfig'; Message = "The factory of backend 'factorythrows' threw: factory boom" }
        @{ What = 'an unknown backend'; Backend = 'nosuchbackend'; NJobs = 2; Id = 'JoblibUnknownBackend,Use-JoblibConfig'; Message = "There is no backend named 'nosuchbackend'*" }
        @{ What = '-NJobs 0'; Backend = 'threading'; NJobs = 0; Id = 'JoblibInvalidNJobs,Use-JoblibConfig'; Message = '-NJobs 0 has no meaning*' }
    ) {
        Register-JoblibBackend factorythrows { throw 'factory boom' } -Force
        $r = Invoke-Failing { Use-JoblibConfig $Backend -NJobs $NJobs { 'never runs' } }
        $r.Caught.FullyQualifiedErrorId | Should -Be $Id
        $r.Caught.Exception.Message | Should -BeLike $Message
        $r.Errors.Count | Should -Be 1
        $r.Errors[0].FullyQualifiedErrorId | Should -Be $Id
    }
}

Describe 'Get-JoblibBackend' {
    It 'lists built-ins with source, type and capabilities, and filters by wildcard' {
        $all = Get-JoblibBackend
        $all.Name | Should -Contain 'sequential'
        $all.Name | Should -Contain 'threading'
        $t = Get-JoblibBackend thread*
        $t.Source | Should -Be 'BuiltIn'
        $t.UsesThreads | Should -BeTrue
        $t.Type | Should -Be 'JoblibPS.Backends.Threading.ThreadingBackend'
        (Get-JoblibBackend | Format-Table | Out-String) | Should -Match 'Name\s+Source'
    }

    It 'shows the capabilities of a script-method backend, read from the object its factory returned at registration' {
        Register-JoblibBackend scripted -Force -Factory {
            $backend = [pscustomobject]@{ UsesThreads = $true; SupportsSharedMem = $true; SupportsRetrieveCallback = $true; DefaultNJobs = 4 }
            $backend | Add-Member -MemberType ScriptMethod -Name EffectiveNJobs -Value { param([int] $nJobs) $nJobs }
            $backend | Add-Member -MemberType ScriptMethod -Name Submit -Value { param($task, $callback) $result = $task.Invoke(); $callback.Invoke($result); $result }
            $backend
        }
        try {
            $info = Get-JoblibBackend scripted
            $info.Type | Should -Be 'ScriptBlock factory'
            $info.UsesThreads | Should -BeTrue
            $info.SupportsSharedMem | Should -BeTrue
            $info.SupportsRetrieveCallback | Should -BeTrue
            $info.SupportsTimeout | Should -BeFalse
            $info.SupportsTimeout | Should -Not -BeNullOrEmpty -Because 'a flag the object leaves out has the base class''s default, not a blank'
            $info.DefaultNJobs | Should -Be 4
            # A factory that needs arguments is not run to be listed: its capabilities stay blank.
            Register-JoblibBackend scripted -Force -Factory { param([Parameter(Mandatory)] [string] $Endpoint) & $NewMini }
            (Get-JoblibBackend scripted).UsesThreads | Should -BeNullOrEmpty
        }
        finally { Unregister-JoblibBackend scripted }
    }

    It 'writes JoblibBackendNotFound for an unknown exact name' {
        Get-JoblibBackend nosuch -ErrorAction SilentlyContinue -ErrorVariable ev
        $ev[0].FullyQualifiedErrorId | Should -Be 'JoblibBackendNotFound,JoblibPS.Commands.GetJoblibBackendCommand'
    }
}

Describe 'Unregister-JoblibBackend' {
    It 'removes a registered backend and leaves built-ins' {
        Register-JoblibBackend custom $Types.Pool -Force
        Unregister-JoblibBackend custom
        (Get-JoblibBackend).Name | Should -Not -Contain 'custom'
        Unregister-JoblibBackend threading -ErrorAction SilentlyContinue -ErrorVariable ev
        $ev[0].FullyQualifiedErrorId | Should -Be 'JoblibBuiltInBackend,JoblibPS.Commands.UnregisterJoblibBackendCommand'
        (Get-JoblibBackend).Name | Should -Contain 'threading'
    }

    It 'reports an unknown name, listing the registered ones' {
        { 1 | Invoke-JoblibParallel { $_ } -Backend nosuchbackend } | Should -Throw -ErrorId 'JoblibUnknownBackend,JoblibPS.Commands.InvokeJoblibParallelCommand' -ExpectedMessage '*sequential*threading*'
    }
}
