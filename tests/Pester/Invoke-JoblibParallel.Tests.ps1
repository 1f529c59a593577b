# Invoke-JoblibParallel as a user sees it: parameters and their errors, which backend runs (and which one
# nested calls get), and that calls leave no runspace behind. What every backend owes (ordering, streams,
# errors, timeouts, stopping) is in Contract.Tests.ps1.

BeforeDiscovery {
    $cpuCount = [Environment]::ProcessorCount
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Import-JoblibTestModule

    # The verbose line a call writes first: "Using backend <name> with <n> concurrent worker(s)."
    function Get-UsingBackendMessage {
        param([Parameter(ValueFromPipeline)] $InputObject)
        process {
            if ($InputObject -is [System.Management.Automation.VerboseRecord] -and $InputObject.Message -like 'Using backend *') {
                $InputObject.Message
            }
        }
    }

    function Get-ExpectedUsingBackendMessage {
        param([int] $Workers)
        if ($Workers -eq 1) { 'Using backend sequential with 1 concurrent worker.' }
        else { "Using backend threading with $Workers concurrent workers." }
    }

    # The batch count of the closing verbose line "Done N out of N | elapsed: ... finished (B batches)."
    function Get-BatchCount {
        param([Parameter(ValueFromPipeline)] $InputObject)
        process {
            if ($InputObject -is [System.Management.Automation.VerboseRecord] -and $InputObject.Message -match '\((\d+) batch(es)?\)') {
                [int]$Matches[1]
            }
        }
    }
}

AfterAll {
    Assert-JoblibWorkloadStable -Backend threading -NJobs 2
}

Describe 'Invoke-JoblibParallel' {
    Context '-NJobs' {
        It 'runs sequentially without -NJobs (joblib''s default of one job)' {
            $all = 1..3 | Invoke-JoblibParallel { $_ } -Verbose 4>&1
            $all | Get-UsingBackendMessage | Should -Be 'Using backend sequential with 1 concurrent worker.'
            $all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] } | Should -Be @(1, 2, 3)
        }

        It 'says at -Verbose when it runs one job only because nothing asked for more, and names -NJobs' {
            $notes = @(1..3 | Invoke-JoblibParallel { $_ } -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -like 'Running one job*' })
            $notes.Count | Should -Be 1
            $notes[0].Message | Should -BeLike "*neither -NJobs nor a Use-JoblibConfig scope*backend 'threading' defaults to 1*-NJobs 4*"
            # Asked for (a parameter or a scope), one job is what the caller wanted: no note.
            @(1..3 | Invoke-JoblibParallel { $_ } -NJobs 1 -Verbose 4>&1 | Where-Object { "$_" -like 'Running one job*' }).Count | Should -Be 0
            @(Use-JoblibConfig -NJobs 1 { 1..3 | Invoke-JoblibParallel { $_ } -Verbose 4>&1 } | Where-Object { "$_" -like 'Running one job*' }).Count | Should -Be 0
            @(1..3 | Invoke-JoblibParallel { $_ } -NJobs 2 -Verbose 4>&1 | Where-Object { "$_" -like 'Running one job*' }).Count | Should -Be 0
        }

        It 'runs on the threading backend with -NJobs 2' {
            $all = 1..3 | Invoke-JoblibParallel { $_ } -NJobs 2 -Verbose 4>&1
            $all | Get-UsingBackendMessage | Should -Be 'Using backend threading with 2 concurrent workers.'
            $all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] } | Should -Be @(1, 2, 3)
        }

        It 'with -NJobs <NJobs> uses all CPUs but <Spare> (<Cpus> CPUs here)' -ForEach @(
            @{ NJobs = -1; Spare = 0; Cpus = $cpuCount }
            @{ NJobs = -2; Spare = 1; Cpus = $cpuCount }
        ) {
            $expected = Get-ExpectedUsingBackendMessage -Workers (Get-JoblibExpectedNJobs -NJobs $NJobs)
            $all = 1..3 | Invoke-JoblibParallel { $_ } -NJobs $NJobs -Verbose 4>&1
            $all | Get-UsingBackendMessage | Should -Be $expected
            $all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] } | Should -Be @(1, 2, 3)
        }

        It 'refuses -NJobs 0 with JoblibInvalidNJobs' {
            $err = $null
            try { 1 | Invoke-JoblibParallel { $_ } -NJobs 0 } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidNJobs,*'
            $err.Exception.Message | Should -BeLike '*NJobs*'
        }
    }

    Context '-Backend' {
        It 'names the backend in the verbose line: -Backend sequential' {
            $all = 1..2 | Invoke-JoblibParallel { $_ } -Backend sequential -Verbose 4>&1
            $all | Get-UsingBackendMessage | Should -Be 'Using backend sequential with 1 concurrent worker.'
        }

        It 'refuses an unknown backend name with JoblibUnknownBackend, listing the registered names' {
            $err = $null
            try { 1 | Invoke-JoblibParallel { $_ } -Backend 'no-such-backend' } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibUnknownBackend,*'
            $err.Exception.Message | Should -BeLike '*no-such-backend*'
            $err.Exception.Message | Should -BeLike '*sequential*'
            $err.Exception.Message | Should -BeLike '*threading*'
        }

        It 'runs on a backend instance' {
            $backend = [JoblibPS.Backends.Threading.ThreadingBackend]::new()
            $out = 1..10 | Invoke-JoblibParallel { $_ * 2 } -Backend $backend -NJobs 2
            $out | Should -Be @(2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
        }
    }

    Context '-BatchSize' {
        It 'accepts <BatchSize>' -ForEach @(
            @{ BatchSize = 'auto' }
            @{ BatchSize = 'AUTO' }
            @{ BatchSize = '1' }
            @{ BatchSize = 7 }
        ) {
            $out = 1..20 | Invoke-JoblibParallel { $_ } -NJobs 2 -BatchSize $BatchSize
            $out | Should -Be (1..20)
        }

        It 'sends one item per batch with -BatchSize 1' {
            $batches = 1..20 | Invoke-JoblibParallel { $_ } -NJobs 2 -BatchSize 1 -Verbose 4>&1 | Get-BatchCount
            $batches | Should -Be 20
        }

        It 'never puts more than -BatchSize items in a batch' {
            # Fast items: 'auto' would grow the batches; a fixed size of 5 needs at least 200 / 5 batches.
            $batches = 1..200 | Invoke-JoblibParallel { $_ } -NJobs 2 -BatchSize 5 -Verbose 4>&1 | Get-BatchCount
            $batches | Should -BeGreaterOrEqual 40
        }

        It 'adapts auto batches within a few batches when items turn from 1 ms to 50 ms halfway' {
            # One batch per worker in flight (-PreDispatch n_jobs): when the first batch with slow items comes back,
            # input is still waiting, so the next batches are cut by what it measured.
            $debug = 1..300 | Invoke-JoblibParallel { if ($_ -le 150) { Start-Sleep -Milliseconds 1 } else { Start-Sleep -Milliseconds 50 }; $_ } -NJobs 2 -PreDispatch n_jobs -Debug 5>&1
            $changes = @($debug | Where-Object { $_ -is [System.Management.Automation.DebugRecord] -and $_.Message -match '^Batch size changed from (\d+) to (\d+)' } |
                ForEach-Object { $null = $_.Message -match 'from (\d+) to (\d+)'; [pscustomobject]@{ From = [int]$Matches[1]; To = [int]$Matches[2] } })
            $output = @($debug | Where-Object { $_ -isnot [System.Management.Automation.DebugRecord] })
            $output | Should -Be (1..300)
            $grown = @($changes | Where-Object { $_.To -gt $_.From })
            $grown.Count | Should -BeGreaterThan 0 -Because 'fast items grow the batches'
            $changes[-1].To | Should -BeLessOrEqual 12 -Because "50 ms items in batches of 50 ms to 0.5 s make at most about 10 an ideal batch (changes: $($changes | ForEach-Object { "$($_.From)->$($_.To)" }))"
        }

        It 'refuses -BatchSize <BatchSize> with JoblibInvalidBatchSize' -ForEach @(
            @{ BatchSize = 0 }
            @{ BatchSize = -1 }
            @{ BatchSize = 'abc' }
        ) {
            $err = $null
            try { 1 | Invoke-JoblibParallel { $_ } -BatchSize $BatchSize } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidBatchSize,*'
        }
    }

    Context '-PreDispatch' {
        It "accepts '<PreDispatch>'" -ForEach @(
            @{ PreDispatch = '3' }
            @{ PreDispatch = 'all' }
            @{ PreDispatch = '2*n_jobs' }
            @{ PreDispatch = '3*n_jobs+1' }
            @{ PreDispatch = '(n_jobs+1)//2' }
        ) {
            $out = 1..30 | Invoke-JoblibParallel { $_ } -NJobs 2 -BatchSize 2 -PreDispatch $PreDispatch
            $out | Should -Be (1..30)
        }

        It "refuses '<PreDispatch>' with JoblibInvalidPreDispatch" -ForEach @(
            @{ PreDispatch = 'rm -rf' }
            @{ PreDispatch = '2**' }
            @{ PreDispatch = '' }
            @{ PreDispatch = '0' }
            @{ PreDispatch = '-1' }
        ) {
            $err = $null
            try { 1 | Invoke-JoblibParallel { $_ } -PreDispatch $PreDispatch } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidPreDispatch,*'
        }

        It "refuses 'n_jobs-2' at -NJobs 2 (it comes to 0) before any item runs, and takes it at -NJobs 3" {
            $ran = [System.Collections.Concurrent.ConcurrentQueue[int]]::new()
            $err = $null
            try { 1..4 | Invoke-JoblibParallel { ($using:ran).Enqueue($_); $_ } -NJobs 2 -PreDispatch 'n_jobs-2' } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidPreDispatch,*'
            $err.Exception.Message | Should -BeLike "*'n_jobs-2' comes to 0 with n_jobs = 2*"
            $ran.Count | Should -Be 0
            1..4 | Invoke-JoblibParallel { $_ } -NJobs 3 -PreDispatch 'n_jobs-2' | Should -Be (1..4)
        }

        It 'never runs -PreDispatch as PowerShell' {
            $file = Join-Path $TestDrive 'pre-dispatch-injection.txt'
            $expression = '$(New-Item -ItemType File -Path ''' + $file + ''')'
            $err = $null
            try { 1 | Invoke-JoblibParallel { $_ } -NJobs 2 -PreDispatch $expression } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidPreDispatch,*'
            Test-Path -LiteralPath $file | Should -BeFalse
        }
    }

    Context '-TimeoutSeconds' {
        It 'refuses -TimeoutSeconds <TimeoutSeconds> with JoblibInvalidTimeout' -ForEach @(
            @{ TimeoutSeconds = 0 }
            @{ TimeoutSeconds = -1 }
            @{ TimeoutSeconds = 1e300 }
            @{ TimeoutSeconds = [double]::PositiveInfinity }
            @{ TimeoutSeconds = [double]::NaN }
            @{ TimeoutSeconds = 1e-9 }
            @{ TimeoutSeconds = 2147484 }
        ) {
            $err = $null
            try { 1 | Invoke-JoblibParallel { $_ } -TimeoutSeconds $TimeoutSeconds } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidTimeout,*'
            $err.Exception.Message | Should -BeLike '*from 0.001 to 2147483.647*'
        }

        It 'accepts the shortest and the longest timeout' {
            1..2 | Invoke-JoblibParallel { $_ } -NJobs 2 -TimeoutSeconds 2147483.647 | Should -Be @(1, 2)
            $err = $null
            try { 1 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 500 } -NJobs 2 -TimeoutSeconds 0.001 } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskTimeout,*'
            $err.Exception.Message | Should -BeLike '*timeout of 0.001 s*'
        }
    }

    Context '[Environment]::Exit in the block' {
        It 'warns on <Backend> that the block would end this process, and runs nothing else differently' -ForEach @(
            @{ Backend = 'threading'; NJobs = 2 }
            @{ Backend = 'sequential'; NJobs = 1 }
        ) {
            # The branch that would exit never runs: the warning comes from the block's syntax tree.
            $all = 1..2 | Invoke-JoblibParallel { if ($_ -gt 10) { [System.Environment]::Exit(3) }; $_ } -Backend $Backend -NJobs $NJobs 3>&1
            $warnings = @($all | Where-Object { $_ -is [System.Management.Automation.WarningRecord] })
            $warnings.Count | Should -Be 1
            $warnings[0].Message | Should -BeLike '*calls `[Environment`]::Exit*end this pwsh*'
            $warnings[0].Message | Should -BeLike "*On the $Backend backend*"
            @($all | Where-Object { $_ -isnot [System.Management.Automation.WarningRecord] }) | Should -Be @(1, 2)
        }

        It 'does not warn for a block without it, nor on a process backend' {
            @(1 | Invoke-JoblibParallel { 'Environment exit is only text here'; [Environment]::ProcessorCount } -NJobs 2 3>&1 |
                Where-Object { $_ -is [System.Management.Automation.WarningRecord] }) | Should -BeNullOrEmpty
            @(1 | Invoke-JoblibParallel { if ($_ -gt 10) { [Environment]::Exit(3) }; $_ } -Backend loky -NJobs 2 3>&1 |
                Where-Object { $_ -is [System.Management.Automation.WarningRecord] }) | Should -BeNullOrEmpty
        }
    }

    Context 'Nested calls' {
        It 'gives nested calls inside threading workers the threading backend, and sequential one level deeper' {
            $out = 1..2 | Invoke-JoblibParallel {
                $level1 = 1..2 | Invoke-JoblibParallel {
                    $level2 = 1..2 | Invoke-JoblibParallel { $_ } -NJobs 2 -Verbose 4>&1
                    foreach ($record in $level2) {
                        if ($record -is [System.Management.Automation.VerboseRecord]) { 'level 2: ' + $record.Message }
                    }
                } -NJobs 2 -Verbose 4>&1
                foreach ($record in $level1) {
                    if ($record -is [System.Management.Automation.VerboseRecord]) { 'level 1: ' + $record.Message } else { $record }
                }
            } -Backend threading -NJobs 2
            $out | Should -Contain 'level 1: Using backend threading with 2 concurrent workers.'
            $out | Should -Contain 'level 2: Using backend sequential with 1 concurrent worker.'
            @($out | Where-Object { $_ -like 'level 2: Using backend*' }).Count | Should -Be 4 -Because 'each of the 2 x 2 level-1 items made one level-2 call'
            $out | Where-Object { $_ -like 'level 2: Using backend threading*' } | Should -BeNullOrEmpty
        }

        It 'gives nested calls inside sequential workers the sequential backend' {
            $out = 1..2 | Invoke-JoblibParallel {
                $inner = 1..2 | Invoke-JoblibParallel { $_ } -NJobs 2 -Verbose 4>&1
                foreach ($record in $inner) {
                    if ($record -is [System.Management.Automation.VerboseRecord]) { 'nested: ' + $record.Message } else { $record }
                }
            } -Backend sequential
            @($out | Where-Object { $_ -like 'nested: Using backend*' }) |
                Should -Be @('nested: Using backend sequential with 1 concurrent worker.', 'nested: Using backend sequential with 1 concurrent worker.')
            @($out | Where-Object { $_ -is [int] }) | Should -Be @(1, 2, 1, 2)
        }
    }

    Context 'Garbage collection' {
        It 'says at -Verbose how much of a longer call garbage collection paused, and what to do on threads' {
            # Allocating CPU-bound work (the boxing in $s += $i collects gen0 thousands of times) for 0.7 s an item:
            # four items on two workers make a call of 1.4 s or more on any machine.
            $all = 1..4 | Invoke-JoblibParallel {
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                $s = 0
                while ($clock.ElapsedMilliseconds -lt 700) { foreach ($i in 1..10000) { $s += $i } }
                $_
            } -NJobs 2 -Verbose 4>&1
            @($all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }) | Should -Be @(1, 2, 3, 4)
            $gc = @($all | Get-VerboseMessage | Where-Object { $_ -like 'Garbage collection paused this process for *' })
            $gc | Should -HaveCount 1
            $gc[0] | Should -Match '^Garbage collection paused this process for \d+\.\ds of the call''s \d+\.\ds \(\d+ ?%\)\.'
            if ($gc[0] -match '\((\d+) ?%\)' -and [int]$Matches[1] -ge 25) { $gc[0] | Should -BeLike '*use -Backend loky*' }
            else { $gc[0] | Should -Not -BeLike '*use -Backend loky*' }
        }

        It 'says nothing about it for a call under a second' {
            $all = 1..3 | Invoke-JoblibParallel { $_ } -NJobs 2 -Verbose 4>&1
            $all | Get-VerboseMessage | Where-Object { $_ -like 'Garbage collection*' } | Should -BeNullOrEmpty
        }
    }

    Context 'Runspaces' {
        It 'opens no more runspaces from call to call' {
            Invoke-JoblibLeakWorkload -Backend threading -NJobs 2
            $first = @(Get-Runspace).Count
            $counts = foreach ($i in 1..5) {
                Invoke-JoblibLeakWorkload -Backend threading -NJobs 2
                $null = 1..50 | Invoke-JoblibParallel { $_ } -NJobs 2
                @(Get-Runspace).Count
            }
            $counts | ForEach-Object { $_ | Should -BeLessOrEqual $first }
            @(Get-Runspace | Where-Object { $_.Name -eq 'JoblibPS worker' -and $_.RunspaceAvailability -ne 'Available' }) |
                Should -BeNullOrEmpty -Because 'no worker may still be running once the calls returned'
        }

        It 'closes every worker runspace on Remove-Module JoblibPS' {
            $escaped = $modulePath -replace "'", "''"
            $script = @"
`$ErrorActionPreference = 'Stop'
`$before = @(Get-Runspace).Count
Import-Module -Name '$escaped'
`$null = 1..20 | Invoke-JoblibParallel { `$_ } -NJobs 2
`$null = 1 | Invoke-JoblibParallel { 1..2 | Invoke-JoblibParallel { `$_ } -NJobs 2 } -NJobs 2
`$during = @(Get-Runspace | Where-Object Name -eq 'JoblibPS worker').Count
Remove-Module -Name JoblibPS
`$after = @(Get-Runspace).Count
`$left = @(Get-Runspace | Where-Object Name -eq 'JoblibPS worker').Count
"RESULT `$before `$during `$after `$left"
"@
            $pwsh = Join-Path $PSHOME $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
            $lines = & $pwsh -NoProfile -NonInteractive -Command $script 2>&1
            $result = @($lines | Where-Object { "$_" -like 'RESULT *' })
            $result.Count | Should -Be 1 -Because "the child pwsh printed: $($lines -join [Environment]::NewLine)"
            $null, $before, $during, $after, $left = "$($result[0])" -split ' '
            [int]$during | Should -BeGreaterOrEqual 2 -Because 'the calls keep their worker runspaces warm'
            [int]$left | Should -Be 0
            [int]$after | Should -Be ([int]$before)
        }
    }
}
