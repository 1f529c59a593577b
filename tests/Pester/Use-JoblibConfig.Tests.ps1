# Use-JoblibConfig and Get-JoblibConfig as a user sees them: scope semantics, the one precedence rule, backend
# lifetime per scope, Prefer/Require, and masking of secrets.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Import-JoblibTestModule
    # A backend that counts what the engine and the scope do with it (defined after the module is loaded, since a
    # PowerShell class deriving from a module type can only be parsed then).
    $script:CountingType = . ([scriptblock]::Create(@'
class CountingBackend : JoblibPS.Backends.Threading.ThreadingBackend {
    static [int] $Created = 0
    static [int] $Terminated = 0
    static [System.Collections.Generic.List[string]] $Aborts = [System.Collections.Generic.List[string]]::new()
    CountingBackend() : base(0) { [CountingBackend]::Created++ }
    [void] Terminate() { [CountingBackend]::Terminated++; ([JoblibPS.Backends.Threading.ThreadingBackend]$this).Terminate() }
    [void] AbortEverything([bool] $ensureReady) { [CountingBackend]::Aborts.Add("$ensureReady"); ([JoblibPS.Backends.Threading.ThreadingBackend]$this).AbortEverything($ensureReady) }
}
[CountingBackend]
'@))
    Register-JoblibBackend counting $CountingType -Force
}

AfterAll {
    Unregister-JoblibBackend counting -ErrorAction Ignore
    Assert-JoblibWorkloadStable -Backend threading -NJobs 2
}

Describe 'Use-JoblibConfig' {
    It 'runs the block in the caller''s scope, and its output flows down the pipeline' {
        $out = Use-JoblibConfig -NJobs 2 { $assigned = 'visible'; 1..3 | Invoke-JoblibParallel { $_ * 2 } } | ForEach-Object { $_ + 1 }
        $assigned | Should -Be 'visible'
        $out | Should -Be @(3, 5, 7)
    }

    It 'takes the block as the last positional argument, with or without a backend before it' {
        Use-JoblibConfig sequential { (Get-JoblibConfig).Backend } | Should -Be 'sequential'
        Use-JoblibConfig -NJobs 4 { (Get-JoblibConfig).NJobs } | Should -Be 4
        Use-JoblibConfig threading -NJobs 3 { (Get-JoblibConfig).NJobs } | Should -Be 3
    }

    It 'applies to calls made inside functions of other modules' {
        $other = New-Module -Name JoblibOther -ScriptBlock { function Invoke-Inner { 1..2 | Invoke-JoblibParallel { $_ } -Verbose 4>&1 | ForEach-Object { "$_" } } }
        try {
            $lines = Use-JoblibConfig -NJobs 3 { Invoke-Inner }
            $lines | Should -Contain 'Using backend threading with 3 concurrent workers.'
        }
        finally { Remove-Module $other }
    }

    It 'lets parameters given to Invoke-JoblibParallel win over the scope' {
        $lines = Use-JoblibConfig -NJobs 3 { 1..2 | Invoke-JoblibParallel { $_ } -NJobs 2 -Verbose 4>&1 | ForEach-Object { "$_" } }
        $lines | Should -Contain 'Using backend threading with 2 concurrent workers.'
        $lines = Use-JoblibConfig threading -NJobs 2 { 1..2 | Invoke-JoblibParallel { $_ } -Backend sequential -Verbose 4>&1 | ForEach-Object { "$_" } }
        $lines | Should -Contain 'Using backend sequential with 1 concurrent worker.'
    }

    It 'nests: an inner scope overrides only what it sets' {
        $r = Use-JoblibConfig threading -NJobs 3 { Use-JoblibConfig sequential { $c = Get-JoblibConfig; "$($c.Backend)/$($c.NJobs)" } }
        $r | Should -Be 'sequential/3'
    }

    It 'restores the previous config when the block throws' {
        { Use-JoblibConfig -NJobs 5 { throw 'inside' } } | Should -Throw 'inside'
        (Get-JoblibConfig).NJobs | Should -Be 1
        (Get-JoblibConfig).Backend | Should -Be 'threading'
    }

    It 'belongs to the runspace: another runspace does not see it' {
        $seen = Use-JoblibConfig -NJobs 5 {
            $ps = [powershell]::Create()
            try {
                $null = $ps.AddScript("Import-Module '$modulePath'; (Get-JoblibConfig).NJobs")
                $ps.Invoke()
            }
            finally { $ps.Dispose() }
        }
        $seen | Should -Be 1
    }

    It 'creates a named backend once per scope, reuses it for every call, and terminates it when the scope ends' {
        $created = $CountingType::Created; $terminated = $CountingType::Terminated
        Use-JoblibConfig counting -NJobs 2 {
            $null = 1..4 | Invoke-JoblibParallel { $_ }
            $null = 1..4 | Invoke-JoblibParallel { $_ }
            $CountingType::Terminated | Should -Be $terminated -Because 'the scope keeps its backend warm between calls'
        }
        $CountingType::Created | Should -Be ($created + 1)
        $CountingType::Terminated | Should -Be ($terminated + 1)
    }

    It 'aborts with ensureReady inside a scope, and without it for a one-off call' {
        $CountingType::Aborts.Clear()
        { Use-JoblibConfig counting -NJobs 2 { 1..4 | Invoke-JoblibParallel { if ($_ -eq 2) { throw 'x' }; $_ } } } | Should -Throw
        { 1..4 | Invoke-JoblibParallel { if ($_ -eq 2) { throw 'x' }; $_ } -Backend counting -NJobs 2 } | Should -Throw
        $CountingType::Aborts | Should -Be @('True', 'False')
    }

    It 'follows -Prefer and -Require as joblib does' {
        Use-JoblibConfig -Prefer processes { (Get-JoblibConfig).Backend } | Should -Be 'loky'
        Use-JoblibConfig -Prefer threads { (Get-JoblibConfig).Backend } | Should -Be 'threading'
        $lines = Use-JoblibConfig loky -Require sharedmem { (Get-JoblibConfig).Backend } -Verbose 4>&1 | ForEach-Object { "$_" }
        $lines | Should -Contain 'threading'
        ($lines -join "`n") | Should -Match 'sharedmem'
    }

    It 'refuses -InnerMaxNumThreads for a backend that cannot honour it' {
        { Use-JoblibConfig threading -InnerMaxNumThreads 2 { 1 } } | Should -Throw -ErrorId 'JoblibUnsupportedOption,Use-JoblibConfig'
    }

    It 'rejects NJobs 0 and a missing block with stable error ids' {
        { Use-JoblibConfig -NJobs 0 { 1 } } | Should -Throw -ErrorId 'JoblibInvalidNJobs,Use-JoblibConfig'
        { Use-JoblibConfig -NJobs 2 } | Should -Throw -ErrorId 'JoblibMissingScriptBlock,Use-JoblibConfig'
        { Use-JoblibConfig nosuchbackend { 1 } } | Should -Throw -ErrorId 'JoblibUnknownBackend,Use-JoblibConfig'
    }
}

Describe 'Get-JoblibConfig' {
    It 'shows the defaults outside any scope' {
        $c = Get-JoblibConfig
        $c.Backend | Should -Be 'threading'
        $c.NJobs | Should -Be 1
        $c.PSObject.Properties.Name | Should -Be @('Backend', 'NJobs', 'Prefer', 'Require', 'InnerMaxNumThreads', 'BackendArgument')
    }

    It 'shows the default backend''s DefaultNJobs outside a scope, and what a scope sets inside one' {
        $allSlots = . ([scriptblock]::Create('class AllSlotsBackend : JoblibPS.Backends.Threading.ThreadingBackend { AllSlotsBackend() : base(0) { $this.DefaultNJobs = -1 } }; [AllSlotsBackend]'))
        Register-JoblibBackend allslots $allSlots -MakeDefault -Force
        try {
            (Get-JoblibConfig).NJobs | Should -Be -1
            Use-JoblibConfig -NJobs 3 { (Get-JoblibConfig).NJobs } | Should -Be 3
            Use-JoblibConfig sequential { (Get-JoblibConfig).NJobs } | Should -Be 1
            Use-JoblibConfig remote -BackendArgument @{ HostName = 'never-contacted.invalid' } { (Get-JoblibConfig).NJobs } | Should -Be -1
        }
        finally { Unregister-JoblibBackend allslots }
        (Get-JoblibConfig).NJobs | Should -Be 1
    }

    It 'masks backend arguments that look like secrets' {
        $secure = ConvertTo-SecureString 'p@ss' -AsPlainText -Force
        $cred = [pscredential]::new('u', $secure)
        $c = Use-JoblibConfig -BackendArgument @{ ApiKey = '42'; Password = 'p'; Token = 't'; Cred = $cred; Plain = $secure; Endpoint = 'http://compute' } { Get-JoblibConfig }
        $c.BackendArgument.Endpoint | Should -Be 'http://compute'
        foreach ($name in 'ApiKey', 'Password', 'Token', 'Cred', 'Plain') { $c.BackendArgument[$name] | Should -Be '********' }
        ($c | Format-List | Out-String) | Should -Not -Match '42|p@ss'
    }
}
