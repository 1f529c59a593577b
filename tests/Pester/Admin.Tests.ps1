# Admin automation as a user meets it: the checks made before any work starts for -ImportFunction,
# -ImportVariable, -ImportModule, -Retry and -OnError, a call at admin scale with failures, and the module
# (Use-JoblibConfig included) inside workers. The rules every backend owes (functions travel, -OnError
# Continue, -Retry, -InitializationScript, $WhatIfPreference) are in Contract.Tests.ps1.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Import-JoblibTestModule

    # The terminating error of a call, or $null; the marker file says whether any item ran.
    function Get-CallError {
        param([scriptblock] $Call)
        try { & $Call; $null } catch { $_ }
    }
}

AfterAll {
    Assert-JoblibWorkloadStable -Backend threading -NJobs 2
}

Describe 'Admin automation' {
    Context 'Bad input is refused before any work starts' {
        BeforeAll {
            $ran = Join-Path $TestDrive 'ran.txt'
            $block = [scriptblock]::Create("Set-Content -LiteralPath '$ran' -Value ran")
        }
        BeforeEach {
            Remove-Item -LiteralPath $ran -ErrorAction Ignore
        }

        It 'refuses an -ImportFunction name that matches nothing, naming it' {
            $err = Get-CallError { 1 | Invoke-JoblibParallel $block -NJobs 2 -ImportFunction 'No-SuchJoblibFunction*' }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibImportFunctionNotFound,*'
            $err.Exception.Message | Should -Match 'No-SuchJoblibFunction\*'
            Test-Path -LiteralPath $ran | Should -BeFalse
        }

        It 'refuses an -ImportVariable name that matches nothing, naming it' {
            $err = Get-CallError { 1 | Invoke-JoblibParallel $block -NJobs 2 -ImportVariable 'NoSuchJoblibVariable' }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibImportVariableNotFound,*'
            $err.Exception.Message | Should -Match 'NoSuchJoblibVariable'
            Test-Path -LiteralPath $ran | Should -BeFalse
        }

        It 'refuses an -ImportModule that cannot be found: <Module>' -ForEach @(
            @{ Module = 'No.Such.JoblibModule' }
            @{ Module = './no/such/module.psm1' }
        ) {
            $err = Get-CallError { 1 | Invoke-JoblibParallel $block -NJobs 2 -ImportModule $Module }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibImportModuleNotFound,*'
            $err.Exception.Message | Should -Match ([regex]::Escape($Module))
            Test-Path -LiteralPath $ran | Should -BeFalse
        }

        It 'refuses -Retry <Retry> -RetryDelaySeconds <Delay> with JoblibInvalidRetry' -ForEach @(
            @{ Retry = -1; Delay = 0 }
            @{ Retry = 1; Delay = -1 }
            @{ Retry = 1; Delay = [double]::NaN }
            @{ Retry = 1; Delay = [double]::PositiveInfinity }
        ) {
            $err = Get-CallError { 1 | Invoke-JoblibParallel $block -NJobs 2 -Retry $Retry -RetryDelaySeconds $Delay }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidRetry,*'
            Test-Path -LiteralPath $ran | Should -BeFalse
        }

        It 'refuses an -OnError value outside Abort and Continue, listing both' {
            $err = Get-CallError { 1 | Invoke-JoblibParallel $block -NJobs 2 -OnError Sometimes }
            $err.FullyQualifiedErrorId | Should -BeLike 'CannotConvertArgumentNoMessage,*'
            $err.Exception.Message | Should -Match 'Abort, Continue'
            Test-Path -LiteralPath $ran | Should -BeFalse
        }
    }

    Context 'At admin scale' {
        It 'writes every success once and in order, and every failure once as an error record with its item (<Backend>)' -ForEach @(
            @{ Backend = 'threading' }
            @{ Backend = 'loky' }
        ) {
            # 300 items, a fixed seeded 10% of which throw.
            $random = [System.Random]::new(20261130)
            $failing = [System.Collections.Generic.HashSet[int]]::new()
            while ($failing.Count -lt 30) { $null = $failing.Add($random.Next(1, 301)) }
            $bad = [int[]]@($failing)
            $all = 1..300 | Invoke-JoblibParallel { if ($_ -in $using:bad) { throw "host $_ unreachable" }; "ok $_" } -Backend $Backend -NJobs 2 -OnError Continue -ErrorAction Continue 2>&1
            $expected = foreach ($i in 1..300) { if ($failing.Contains($i)) { "E $i" } else { "ok $i" } }
            $seen = foreach ($record in $all) {
                if ($record -is [System.Management.Automation.ErrorRecord]) { "E $($record.TargetObject)" } else { "$record" }
            }
            $seen | Should -Be $expected
            @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | Where-Object { $_.FullyQualifiedErrorId -notlike 'JoblibTaskFailed,*' }) | Should -BeNullOrEmpty
        }

        It 'sets $? to false after a call with failed items under -OnError Continue' {
            $null = 1..3 | Invoke-JoblibParallel { if ($_ -eq 2) { throw 'two' }; $_ } -NJobs 2 -OnError Continue -ErrorAction SilentlyContinue
            $succeeded = $?
            $succeeded | Should -BeFalse
        }
    }

    Context 'The whole module in every worker' {
        It 'has Use-JoblibConfig inside a worker of <Backend>' -ForEach @(
            @{ Backend = 'threading' }
            @{ Backend = 'loky' }
        ) {
            $out = 1..2 | Invoke-JoblibParallel {
                $x = $_
                Use-JoblibConfig -Backend sequential { 1 | Invoke-JoblibParallel { "inner $using:x" } }
            } -Backend $Backend -NJobs 2
            $out | Should -Be @('inner 1', 'inner 2')
        }
    }
}
