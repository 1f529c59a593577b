# The reliability suite, short form (the long one is build.ps1 -Task Soak, tools/Invoke-Soak.ps1): a soak of calls
# mixing backends and the ways a call ends, with every call's output and errors checked and the process's resources
# compared before and after; the fault matrix (time to a clear error, then a healthy call); the table of bad inputs
# with their error ids. The building blocks are in tests/Reliability/Reliability.psm1, shared with the Soak task.
# A call-depth overflow takes PowerShell itself 15 to 90 s to report on this machine: it runs in the Soak task only,
# or here with JOBLIBPS_SOAK=1.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot '../Reliability/Reliability.psm1') -Force
    $BadInputs = @(Get-JoblibBadInput | ForEach-Object { @{ Name = $_.Name; Id = $_.Id; Run = $_.Run } })
    $SlowCases = $env:JOBLIBPS_SOAK -eq '1'
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $ModulePath = Import-JoblibTestModule
    Import-Module (Join-Path $PSScriptRoot '../Reliability/Reliability.psm1') -Force
    # Fault blocks name their backend literally: a splat that came to nothing would run them in this process.
    $next = { 1..4 | Invoke-JoblibParallel { $_ } -Backend loky -NJobs 2 }
    $nextThreading = { 1..4 | Invoke-JoblibParallel { $_ } -Backend threading -NJobs 2 }
}

Describe 'Soak, short form' {
    It 'runs 30 calls (threading and loky; plain, first 3, throw, timeout, -OnError Continue) with exactly the right output and errors, and leaks nothing' {
        $backends = [ordered]@{
            threading = @{ Parameters = @{ Backend = 'threading'; NJobs = 2 }; Config = $null }
            loky      = @{ Parameters = @{ Backend = 'loky'; NJobs = 2 }; Config = $null }
        }
        $soak = Invoke-JoblibSoak -Calls 30 -Backends $backends -MaxPwsh 2
        $failed = @($soak.Results | Where-Object { -not $_.Ok } | ForEach-Object { "$($_.Backend)/$($_.Scenario): $($_.Detail)" })
        $failed | Should -BeNullOrEmpty
        $soak.Leaks | Should -BeNullOrEmpty
        $soak.Results.Count | Should -Be 30
    }
}

Describe 'Fault matrix' {
    It 'a loky item that calls [Environment]::Exit: JoblibWorkerCrashed on that item (within 10 s, worker start-up included), the items before it written once, the next call healthy' {
        $r = Measure-JoblibFault -Name exit-inside -Fault { 1..6 | Invoke-JoblibParallel { if ($_ -eq 4) { [Environment]::Exit(7) }; $_ } -Backend loky -NJobs 2 -BatchSize 6 } -Next $next
        $r.ErrorId | Should -Be 'JoblibWorkerCrashed'
        $r.Target | Should -Be 4
        $r.Message | Should -BeLike '*exit code 7*'
        $r.Output | Should -Be @(1, 2, 3)
        $r.Seconds | Should -BeLessThan 10
        $r.NextHealthy | Should -BeTrue
    }

    It 'a loky item that SIGKILLs its own process: JoblibWorkerCrashed naming the signal, the next call healthy' {
        $r = Measure-JoblibFault -Name kill9-inside -Fault { 1..3 | Invoke-JoblibParallel { if ($_ -eq 2) { & /bin/kill -9 $PID; Start-Sleep 10 }; $_ } -Backend loky -NJobs 2 -BatchSize 3 } -Next $next
        $r.ErrorId | Should -Be 'JoblibWorkerCrashed'
        $r.Target | Should -Be 2
        $r.Message | Should -BeLike '*SIGKILL*'
        $r.Output | Should -Be @(1)
        $r.Seconds | Should -BeLessThan 3
        $r.NextHealthy | Should -BeTrue
    }

    It 'a loky worker stopped from outside (Stop-Process) mid-batch: every item that finished is written once, in order' {
        $flag = Join-Path $TestDrive 'worker.pid'
        # The caller's side stops the worker once item 5 wrote its pid.
        $r = Invoke-JoblibWithProcessStopped -PidFile $flag -ScriptBlock {
            Measure-JoblibFault -Name stop-process-outside -Fault {
                1..10 | Invoke-JoblibParallel { if ($_ -eq 5) { Set-Content -Path $using:flag -Value $PID; Start-Sleep 30 }; Start-Sleep -Milliseconds 80; $_ } -Backend loky -NJobs 2 -BatchSize 10
            } -Next $next
        }
        $r.ErrorId | Should -Be 'JoblibWorkerCrashed'
        $r.Target | Should -Be 5
        $r.Output | Should -Be @(1, 2, 3, 4)
        $r.NextHealthy | Should -BeTrue
    }

    It 'keeps the output of every item that finished before a worker died at item 150 of 200 (auto batching), once and in order' {
        $r = Measure-JoblibFault -Name exit-at-150 -Fault { 1..200 | Invoke-JoblibParallel { if ($_ -eq 150) { [Environment]::Exit(3) }; $_ } -Backend loky -NJobs 2 } -Next $next
        $r.ErrorId | Should -Be 'JoblibWorkerCrashed'
        $r.Target | Should -Be 150
        ($r.Output -join ',') | Should -Be ((1..149) -join ',')
        $r.NextHealthy | Should -BeTrue
    }

    It '<Backend>: exit in an item is JoblibTaskExited on that item, the next call healthy' -ForEach @(@{ Backend = 'threading' }, @{ Backend = 'loky' }) {
        $r = Measure-JoblibFault -Name "exit-$Backend" -Fault { 1..4 | Invoke-JoblibParallel { if ($_ -eq 3) { exit 5 }; $_ } -Backend $Backend -NJobs 2 }.GetNewClosure() -Next $next
        $r.ErrorId | Should -Be 'JoblibTaskExited'
        $r.Target | Should -Be 3
        $r.Output | Should -Be @(1, 2)
        $r.NextHealthy | Should -BeTrue
    }

    It 'threading: an item stuck in a .NET call ends the call within 3 s of -TimeoutSeconds, warns of the stuck thread, and the next call is healthy' {
        $r = Measure-JoblibFault -Name stuck-dotnet -Fault { 1..4 | Invoke-JoblibParallel { if ($_ -eq 2) { [Threading.Thread]::Sleep(15000) }; $_ } -Backend threading -NJobs 2 -BatchSize 1 -TimeoutSeconds 1 } -Next $nextThreading
        $r.ErrorId | Should -Be 'JoblibTaskTimeout'
        $r.Target | Should -Be 2
        $r.Seconds | Should -BeLessThan 4
        $r.NextHealthy | Should -BeTrue
        @($r.Warnings | Where-Object { $_ -like '1 worker thread did not stop within 1 s*abandoned and never reused*1 of this backend''s threads are stuck now*' }).Count | Should -Be 1 -Because "the warnings were: $($r.Warnings -join ' | ')"
    }

    It 'threading, -OnError Continue: an item stuck in a .NET call is a non-terminating JoblibTaskTimeout in its place, and every other item is written' {
        $errors = $null
        $out = 1..6 | Invoke-JoblibParallel { if ($_ -eq 2) { [Threading.Thread]::Sleep(15000) }; $_ } -Backend threading -NJobs 2 -BatchSize 1 -TimeoutSeconds 1 -OnError Continue -ErrorVariable errors -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $out | Should -Be @(1, 3, 4, 5, 6)
        @($errors).Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'JoblibTaskTimeout,*'
        $errors[0].TargetObject | Should -Be 2
    }

    It 'threading, -AsJob (where -OnError Continue is the default): an item stuck in a .NET call fails its own child job only; every other item is received' {
        $job = 1..4 | Invoke-JoblibParallel { if ($_ -eq 2) { [Threading.Thread]::Sleep(15000) }; $_ } -Backend threading -NJobs 2 -BatchSize 1 -TimeoutSeconds 1 -AsJob
        try {
            $null = $job | Wait-Job -Timeout 30
            @($job.ChildJobs | ForEach-Object State) | Should -Be @('Completed', 'Failed', 'Completed', 'Completed')
            $errors = $null
            $out = $job | Receive-Job -ErrorVariable errors -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
            $out | Should -Be @(1, 3, 4)
            @($errors | Where-Object { "$($_.FullyQualifiedErrorId)" -like 'JoblibTaskTimeout*' }).Count | Should -Be 1
        }
        finally { $job | Remove-Job -Force }
    }

    It 'fail-fast with an earlier item waiting for its retry: every item before the failing one is written, once and in order' {
        $m = [hashtable]::Synchronized(@{})
        $err = $null
        $out = @(try {
                0..9 | Invoke-JoblibParallel -NJobs 4 -BatchSize 1 -Retry 1 -RetryDelaySeconds 1 {
                    $m = $using:m
                    if ($_ -eq 1 -and -not $m.s) { $m.s = 1; Start-Sleep -Milliseconds 500; throw 'once' }
                    if ($_ -eq 5) { throw 'always' }
                    $_
                }
            } catch { $err = $_ })
        $out | Should -Be @(0, 1, 2, 3, 4)
        $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*'
        $err.TargetObject | Should -Be 5
    }

    It 'threading: a call whose items all stopped in time writes no stuck-thread warning' {
        $r = Measure-JoblibFault -Name stopped-in-time -Fault { 1..4 | Invoke-JoblibParallel { if ($_ -eq 2) { Start-Sleep -Seconds 15 }; $_ } -Backend threading -NJobs 2 -BatchSize 1 -TimeoutSeconds 1 } -Next $nextThreading
        $r.ErrorId | Should -Be 'JoblibTaskTimeout'
        @($r.Warnings | Where-Object { $_ -like '*did not stop within*' }) | Should -BeNullOrEmpty
    }

    It 'loky: one item writing 50 MB comes back whole' {
        $r = Measure-JoblibFault -Name output-50mb -Fault { 1..2 | Invoke-JoblibParallel { if ($_ -eq 1) { foreach ($i in 1..50) { [string]::new([char](64 + ($i % 26)), 1MB) } } else { 'done' } } -Backend loky -NJobs 2 } -Next $next
        $r.ErrorId | Should -Be ''
        $r.Output.Count | Should -Be 51
        ($r.Output | Select-Object -First 50 | Measure-Object -Property Length -Sum).Sum | Should -Be 50MB
        $r.Output[-1] | Should -Be 'done'
        $r.NextHealthy | Should -BeTrue
    }

    It '<Backend>: Ctrl+C (PowerShell.Stop from another thread) ends the call within 3 s, and the next call is healthy' -ForEach @(@{ Backend = 'threading' }, @{ Backend = 'loky' }) {
        $stop = Measure-JoblibCtrlC -ModulePath $ModulePath -Call "1..200 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 200; `$_ } -Backend $Backend -NJobs 2"
        $stop.State | Should -Be 'Stopped'
        $stop.Seconds | Should -BeLessThan 3
        $out = 1..4 | Invoke-JoblibParallel { $_ } -Backend $Backend -NJobs 2
        $out | Should -Be @(1, 2, 3, 4)
    }

    It '<Backend>: a call-depth overflow is one JoblibTaskFailed on the right item' -ForEach @(@{ Backend = 'threading' }, @{ Backend = 'loky' }) -Skip:(-not $SlowCases) {
        $errors = $null
        $err = $null
        try { 1..3 | Invoke-JoblibParallel { function f { f }; if ($_ -eq 2) { f }; $_ } -Backend $Backend -NJobs 1 -BatchSize 3 -ErrorVariable errors } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*'
        $err.TargetObject | Should -Be 2
        @($errors | Where-Object { "$($_.FullyQualifiedErrorId)" -like 'CallDepthOverflow*' }) | Should -BeNullOrEmpty
    }
}

Describe 'Process workers and the machine' {
    It 'warns once, with the memory it may take, when loky is asked for many more workers than CPUs' {
        $n = 2 * [Environment]::ProcessorCount + 3
        $w1 = $null; $w2 = $null
        $out = 1..2 | Invoke-JoblibParallel { $_ } -Backend loky -NJobs $n -WarningVariable w1 -WarningAction SilentlyContinue
        $null = 1..2 | Invoke-JoblibParallel { $_ } -Backend loky -NJobs $n -WarningVariable w2 -WarningAction SilentlyContinue
        $out | Should -Be @(1, 2)
        @($w1).Count | Should -Be 1
        "$w1" | Should -BeLike "*-NJobs $n*$n pwsh worker processes*MB of memory*"
        @($w2) | Should -BeNullOrEmpty
    }
}

Describe 'Bad inputs' {
    It '<Name>: <Id>' -ForEach $BadInputs {
        $err = $null
        try { $null = & $Run } catch { $err = $_ }
        $err | Should -Not -BeNullOrEmpty -Because 'a bad input must fail'
        ($err.FullyQualifiedErrorId -split ',')[0] | Should -Be $Id
        $err.Exception.Message.Length | Should -BeGreaterThan 20 -Because 'the message says what was wrong'
    }
}
