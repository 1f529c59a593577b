# Invoke-JoblibParallel -AsJob (issue 15): a job in the session's job repository with one child job per item, as
# ForEach-Object -Parallel -AsJob gives, on every backend kind (in-process threads, worker processes, and the
# sequential backend, whose work a job runs on a runspace of its own).

BeforeDiscovery {
    $Backends = @(
        @{ Backend = 'threading'; NJobs = 2; Running = 2 }
        @{ Backend = 'loky'; NJobs = 2; Running = 2 }
        # One runspace of the job's own: one item runs at a time.
        @{ Backend = 'sequential'; NJobs = 1; Running = 1 }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Import-JoblibTestModule
    $pwsh = if ($env:JOBLIBPS_PWSH) { $env:JOBLIBPS_PWSH } else { Join-Path $PSHOME $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' }) }

    # Waits until -Condition is true (polling a state that has no event to wait on), failing after -Seconds.
    function Wait-Until {
        param([scriptblock] $Condition, [double] $Seconds = 60, [string] $Because)
        $deadline = [DateTime]::UtcNow.AddSeconds($Seconds)
        while (-not (& $Condition)) {
            if ([DateTime]::UtcNow -gt $deadline) { throw "Timed out after $Seconds s waiting until $Because." }
            Start-Sleep -Milliseconds 20
        }
    }

    # The lengths of the files the items append to while they run: unchanged over a while means nothing runs.
    function Get-TickLength {
        param([string] $Prefix)
        (Get-ChildItem -Path "$Prefix*" -ErrorAction Ignore | Sort-Object Name | ForEach-Object Length) -join ','
    }
}

AfterAll {
    Get-Job | Where-Object PSJobTypeName -eq 'JoblibPSJob' | Remove-Job -Force
    # Later test files start from no process workers at all (ProcessPools is internal: reached through its assembly).
    [JoblibPS.ParallelBackendBase].Assembly.GetType('JoblibPS.Backends.Process.ProcessPools', $true).GetMethod('ShutdownAll').Invoke($null, @())
}

Describe 'Invoke-JoblibParallel -AsJob on <Backend>' -ForEach $Backends {
    AfterEach {
        Get-Job | Where-Object PSJobTypeName -eq 'JoblibPSJob' | Remove-Job -Force
    }

    It 'returns a JoblibPSJob at once, in Get-Job, one child per item with the block as Command; Receive-Job -Wait -AutoRemoveJob returns the items in order and removes it' {
        $block = { Start-Sleep -Milliseconds 200; $_ * 10 }
        $job = 1..5 | Invoke-JoblibParallel $block -Backend $Backend -NJobs $NJobs -AsJob
        $job.PSJobTypeName | Should -Be 'JoblibPSJob'
        $job.State | Should -BeIn 'NotStarted', 'Running'
        (Get-Job -Id $job.Id).InstanceId | Should -Be $job.InstanceId
        @(Get-Job -Id $job.Id -IncludeChildJob).Count | Should -Be 6
        $job.ChildJobs.Count | Should -Be 5
        $job.Command | Should -Be $block.ToString()
        $job.ChildJobs | ForEach-Object { $_.Command | Should -Be $block.ToString(); $_.PSJobTypeName | Should -Be 'JoblibPSChildJob' }

        $out = Receive-Job $job -Wait -AutoRemoveJob
        $out | Should -Be @(10, 20, 30, 40, 50)
        Get-Job -Id $job.Id -ErrorAction Ignore | Should -BeNullOrEmpty
        $job.State | Should -Be 'Completed'
        $job.ChildJobs | ForEach-Object { $_.State | Should -Be 'Completed' }
    }

    It 'keeps each item''s output and records in its own child, so Receive-Job returns them item by item' {
        $job = 1..3 | Invoke-JoblibParallel { Write-Warning "w$_"; Write-Verbose "v$_" -Verbose; Write-Information "i$_"; Write-Error "e$_"; "o$_" } -Backend $Backend -NJobs $NJobs -AsJob -ErrorAction Continue
        $null = Wait-Job $job -Timeout 120
        $job.State | Should -Be 'Completed'
        foreach ($i in 1..3) {
            $child = $job.ChildJobs[$i - 1]
            $child.Output | Should -Be "o$i"
            $child.Warning.Message | Should -Be "w$i"
            $child.Verbose.Message | Should -Be "v$i"
            "$($child.Information.MessageData)" | Should -Be "i$i"
            $child.Error.Count | Should -Be 1
            $child.Error[0].FullyQualifiedErrorId | Should -BeLike 'Microsoft.PowerShell.Commands.WriteErrorException*'
        }
        $out = Receive-Job $job -ErrorVariable errors -WarningVariable warnings -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
        $out | Should -Be 'o1', 'o2', 'o3'
        $warnings.Message | Should -Be 'w1', 'w2', 'w3'
        "$($errors.Exception.Message)" | Should -Be 'e1 e2 e3'
    }

    It 'fails only the failing item''s child (the item''s error as its reason) while the others complete, and the job is Failed' {
        $job = 1..4 | Invoke-JoblibParallel { if ($_ -eq 2) { throw "item $_ broke" }; $_ } -Backend $Backend -NJobs $NJobs -AsJob
        $null = Wait-Job $job -Timeout 120
        $job.State | Should -Be 'Failed'
        $job.JobStateInfo.Reason.Message | Should -Be 'item 2 broke'
        ($job.ChildJobs | ForEach-Object State) -join ',' | Should -Be 'Completed,Failed,Completed,Completed'
        $failed = $job.ChildJobs[1]
        $failed.JobStateInfo.Reason.Message | Should -Be 'item 2 broke'
        $failed.Error[0].FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed*'
        Receive-Job $job -ErrorAction SilentlyContinue | Should -Be 1, 3, 4
    }

    It 'with 4 items of 60 s at -NJobs <NJobs>: <Running> children Running and the rest NotStarted; Stop-Job returns within about a second and leaves nothing running' {
        $prefix = Join-Path $TestDrive "tick-$Backend-"
        $job = 1..4 | Invoke-JoblibParallel {
            $file = "$using:prefix$_"
            foreach ($i in 1..600) { Add-Content -LiteralPath $file -Value x; Start-Sleep -Milliseconds 100 }
        } -Backend $Backend -NJobs $NJobs -AsJob
        Wait-Until { @($job.ChildJobs | Where-Object State -eq 'Running').Count -ge $Running -and @(Get-ChildItem "$prefix*").Count -ge $Running } -Because "$Running children run"
        @($job.ChildJobs | Where-Object State -eq 'Running').Count | Should -Be $Running
        @($job.ChildJobs | Where-Object State -eq 'NotStarted').Count | Should -Be (4 - $Running)

        $clock = [System.Diagnostics.Stopwatch]::StartNew()
        Stop-Job $job
        $clock.Stop()
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 2.5
        $job.State | Should -Be 'Stopped'
        $job.ChildJobs | ForEach-Object { $_.State | Should -Be 'Stopped' }
        # A running item appends every 100 ms: over half a second with no growth, nothing of the job runs.
        $before = Get-TickLength $prefix
        Start-Sleep -Milliseconds 600
        Get-TickLength $prefix | Should -Be $before
        if ($Backend -ne 'loky') {
            (Get-JoblibLeakSnapshot).BusyWorkers | Should -Be 0
        }
    }

    It 'applies -TimeoutSeconds to each item: the slow item''s child fails with JoblibTaskTimeout and the others complete' {
        $job = 1..3 | Invoke-JoblibParallel { if ($_ -eq 2) { Start-Sleep -Seconds 30 }; $_ } -Backend $Backend -NJobs $NJobs -TimeoutSeconds 1 -AsJob
        $null = Wait-Job $job -Timeout 120
        ($job.ChildJobs | ForEach-Object State) -join ',' | Should -Be 'Completed,Failed,Completed'
        $job.ChildJobs[1].JobStateInfo.Reason | Should -BeOfType [System.TimeoutException]
        $job.ChildJobs[1].Error[0].FullyQualifiedErrorId | Should -BeLike 'JoblibTaskTimeout*'
        $job.State | Should -Be 'Failed'
    }
}

Describe 'Invoke-JoblibParallel -AsJob: the call''s settings' {
    AfterEach {
        Get-Job | Where-Object PSJobTypeName -eq 'JoblibPSJob' | Remove-Job -Force
    }

    It 'with -OnError Abort fails the job at the first failed item; the items not done end Stopped' {
        $job = 1..4 | Invoke-JoblibParallel { if ($_ -eq 1) { throw 'first broke' }; Start-Sleep -Seconds 30; $_ } -NJobs 2 -BatchSize 1 -OnError Abort -AsJob
        $null = Wait-Job $job -Timeout 60
        $job.State | Should -Be 'Failed'
        $job.JobStateInfo.Reason.Message | Should -Be 'first broke'
        $job.ChildJobs[0].State | Should -Be 'Failed'
        $job.ChildJobs[1..3] | ForEach-Object { $_.State | Should -Be 'Stopped' }
    }

    It 'runs -Retry per item' {
        $marker = Join-Path $TestDrive 'retried'
        $job = 1..2 | Invoke-JoblibParallel { if ($_ -eq 2 -and -not (Test-Path $using:marker)) { $null = New-Item $using:marker; throw 'once' }; $_ } -NJobs 2 -Retry 1 -AsJob
        Receive-Job $job -Wait | Should -Be 1, 2
        $job.State | Should -Be 'Completed'
    }

    It 'uses the Use-JoblibConfig scope''s backend and NJobs as resolved at the call, also after the scope ended' {
        $job = Use-JoblibConfig -Backend threading -NJobs 2 {
            1..4 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 300; [runspace]::DefaultRunspace.Id } -AsJob
        }
        $job.Location | Should -BeLike '*threading*'
        $ids = Receive-Job $job -Wait
        $job.State | Should -Be 'Completed'
        @($ids | Sort-Object -Unique).Count | Should -Be 2
    }

    It 'runs the sequential backend''s work with the caller''s functions imported, on a runspace of the job''s own' {
        function Get-Doubled { param($x) 2 * $x }
        $job = 1..3 | Invoke-JoblibParallel { Get-Doubled $_ } -Backend sequential -AsJob
        Receive-Job $job -Wait | Should -Be 2, 4, 6
        $job.State | Should -Be 'Completed'
    }
}

Describe 'Remove-Module JoblibPS with a running job' {
    It 'stops the job first: the job is Stopped and its work no longer runs' {
        $prefix = Join-Path $TestDrive 'tick-remove-'
        $escaped = $modulePath -replace "'", "''"
        $script = @"
Import-Module '$escaped'
`$job = 1..2 | Invoke-JoblibParallel { foreach (`$i in 1..600) { Add-Content -LiteralPath ('$prefix' + `$_) -Value x; Start-Sleep -Milliseconds 100 } } -NJobs 2 -AsJob
`$deadline = [DateTime]::UtcNow.AddSeconds(60)
while (@(Get-ChildItem '$prefix*').Count -lt 2 -and [DateTime]::UtcNow -lt `$deadline) { Start-Sleep -Milliseconds 20 }
Remove-Module JoblibPS
"STATE:" + `$job.State
"CHILDREN:" + ((`$job.ChildJobs | ForEach-Object State) -join ',')
`$before = (Get-ChildItem '$prefix*' | ForEach-Object Length) -join ','
Start-Sleep -Milliseconds 600
"GROWING:" + (`$before -ne ((Get-ChildItem '$prefix*' | ForEach-Object Length) -join ','))
"@
        $text = & $pwsh -NoProfile -NonInteractive -Command $script 2>&1 | Out-String
        $LASTEXITCODE | Should -Be 0 -Because $text
        $text | Should -Match 'STATE:Stopped'
        $text | Should -Match 'CHILDREN:Stopped,Stopped'
        $text | Should -Match 'GROWING:False'
    }
}
