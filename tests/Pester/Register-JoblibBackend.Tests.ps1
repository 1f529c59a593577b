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
    foreach ($name in 'custom', 'needsargs', 'polling', 'nesting', 'sbfactory', 'csharp', 'lazy', 'lazymissing', 'dflt') { Unregister-JoblibBackend $name -ErrorAction Ignore }
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
