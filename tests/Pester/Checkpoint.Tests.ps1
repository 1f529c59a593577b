# -Checkpoint through real pwsh (issue 21): a run that fails fast, rerun, runs only what was not recorded and writes
# everything in order; the caller killed with SIGKILL, rerun, writes every item once; -OnError Continue reruns only
# the failures; a torn last record; two calls on one checkpoint; a changed block; bad input. Threading and loky
# always; remote on two loopback SSH hosts (tests/Remote/SshTestHosts.psm1) where /usr/sbin/sshd is installed.
#
# Each item counts its executions in a marker folder per run (one file per execution, named after the item), which
# the caller reads afterwards: on the remote backend the hosts are this machine, so the files are seen here too.

BeforeDiscovery {
    $NoSshd = -not (Test-Path -LiteralPath '/usr/sbin/sshd')
    $Backends = @(@{ Backend = 'threading' }, @{ Backend = 'loky' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $null = Import-JoblibTestModule

    # A fresh marker folder; the block below writes one file per execution into the folder named by $using:marks.
    function New-MarkFolder {
        param([string] $Name)
        $path = Join-Path $TestDrive $Name
        $null = New-Item -ItemType Directory -Path $path -Force
        $path
    }

    # Empties a marker folder between runs (its path is a $using: value, part of the call's identity, so it stays the same).
    function Clear-Marks {
        param([string] $Path)
        Get-ChildItem -LiteralPath $Path -File | Remove-Item
    }

    # How many times each item ran, from a marker folder: a hashtable item -> count.
    function Get-Runs {
        param([string] $Path)
        $runs = @{}
        foreach ($file in Get-ChildItem -LiteralPath $Path -File) {
            $item = [int]($file.Name -split '-')[0]
            $runs[$item] = 1 + [int]$runs[$item]
        }
        $runs
    }

    # The items a checkpoint holds (keys of plain integers are 'Int32:<n>').
    function Get-RecordedItem {
        param([string] $Path)
        @((Get-JoblibCheckpoint -Path $Path).Keys | ForEach-Object { [int]($_ -replace '^Int32:', '') } | Sort-Object)
    }

    # Fails at item 12 while the flag file exists; counts executions in $using:marks.
    $FailAt12 = {
        $null = New-Item -ItemType File -Path (Join-Path $using:marks "$_-$([guid]::NewGuid().ToString('N'))")
        if ($_ -eq 12 -and (Test-Path -LiteralPath $using:flag)) { throw "item $_ failed" }
        "out $_"
    }
}

Describe 'Invoke-JoblibParallel -Checkpoint on <Backend>' -ForEach $Backends {
    It 'a run that fails fast at item 12 of 20, rerun, runs only what was not recorded and writes all 20 in order' {
        $checkpoint = Join-Path $TestDrive "$Backend-failfast.checkpoint"
        $flag = Join-Path $TestDrive "$Backend-flag"
        $null = New-Item -ItemType File -Path $flag -Force
        $marks = New-MarkFolder "$Backend-run1"
        { 1..20 | Invoke-JoblibParallel $FailAt12 -Backend $Backend -NJobs 2 -BatchSize 2 -Checkpoint $checkpoint } | Should -Throw -ErrorId 'JoblibTaskFailed,*'
        $recorded = Get-RecordedItem $checkpoint
        $recorded | Should -Not -Contain 12
        $recorded.Count | Should -BeGreaterOrEqual 10
        (Get-JoblibCheckpoint -Path $checkpoint).LastRunStatus | Should -Be 'Failed'

        Remove-Item -LiteralPath $flag
        Clear-Marks $marks
        $out = 1..20 | Invoke-JoblibParallel $FailAt12 -Backend $Backend -NJobs 2 -BatchSize 2 -Checkpoint $checkpoint
        $out | Should -Be (1..20 | ForEach-Object { "out $_" })
        $rerun = Get-Runs $marks
        @($rerun.Keys | Sort-Object) | Should -Be @(1..20 | Where-Object { $_ -notin $recorded })
        @($rerun.Values | Where-Object { $_ -ne 1 }) | Should -BeNullOrEmpty
        $info = Get-JoblibCheckpoint -Path $checkpoint
        $info.Items | Should -Be 20
        $info.LastRunStatus | Should -Be 'Completed'
        $info.LastRunFailed | Should -Be 0
    }

    It 'with -OnError Continue, a rerun runs only the failures' {
        $checkpoint = Join-Path $TestDrive "$Backend-continue.checkpoint"
        $flag = Join-Path $TestDrive "$Backend-flag-continue"
        $null = New-Item -ItemType File -Path $flag -Force
        $block = {
            $null = New-Item -ItemType File -Path (Join-Path $using:marks "$_-$([guid]::NewGuid().ToString('N'))")
            if ($_ % 4 -eq 0 -and (Test-Path -LiteralPath $using:flag)) { throw "item $_ failed" }
            $_
        }
        $marks = New-MarkFolder "$Backend-continue1"
        $first = 1..10 | Invoke-JoblibParallel $block -Backend $Backend -NJobs 2 -OnError Continue -Checkpoint $checkpoint -ErrorVariable failed -ErrorAction SilentlyContinue
        $first | Should -Be 1, 2, 3, 5, 6, 7, 9, 10
        $failed.Count | Should -Be 2
        (Get-JoblibCheckpoint -Path $checkpoint).LastRunFailed | Should -Be 2

        Remove-Item -LiteralPath $flag
        Clear-Marks $marks
        1..10 | Invoke-JoblibParallel $block -Backend $Backend -NJobs 2 -OnError Continue -Checkpoint $checkpoint | Should -Be (1..10)
        @((Get-Runs $marks).Keys | Sort-Object) | Should -Be 4, 8
    }
}

Describe 'Invoke-JoblibParallel -Checkpoint' {
    It 'the caller killed with SIGKILL mid-run: the rerun writes every item once, in order' {
        $checkpoint = Join-Path $TestDrive 'killed.checkpoint'
        $marks = New-MarkFolder 'killed'
        # One text for the child's call and the rerun here: the block's text is part of the call's identity.
        $blockText = '$null = New-Item -ItemType File -Path (Join-Path $using:marks "$_-x"); Start-Sleep -Milliseconds 150; "out $_"'
        $script = Join-Path $TestDrive 'killed.ps1'
        Set-Content -LiteralPath $script -Value @(
            "Import-Module '$((Get-Module JoblibPS).Path)'"
            "`$marks = '$marks'"
            "1..20 | Invoke-JoblibParallel ([scriptblock]::Create('$($blockText -replace "'", "''")')) -NJobs 2 -BatchSize 1 -Checkpoint '$checkpoint'"
        )
        $child = Start-Process -FilePath (Get-JoblibTestPwshPath) -ArgumentList '-NoProfile', '-NonInteractive', '-File', $script -PassThru -RedirectStandardOutput (Join-Path $TestDrive 'killed.out')
        try {
            $deadline = [DateTime]::UtcNow.AddSeconds(30)
            while (@(Get-ChildItem -LiteralPath $marks).Count -lt 8 -and [DateTime]::UtcNow -lt $deadline -and -not $child.HasExited) { Start-Sleep -Milliseconds 50 }
        }
        finally {
            # Stop-Process -Force is SIGKILL on Unix: no finally block, no flush, no end record.
            Stop-Process -Id $child.Id -Force -ErrorAction Ignore
            $child.WaitForExit()
        }
        $info = Get-JoblibCheckpoint -Path $checkpoint
        $info.LastRunStatus | Should -Be 'Interrupted'
        $info.Items | Should -BeGreaterThan 0
        $info.Items | Should -BeLessThan 20

        Clear-Marks $marks
        $out = 1..20 | Invoke-JoblibParallel ([scriptblock]::Create($blockText)) -NJobs 2 -BatchSize 1 -Checkpoint $checkpoint
        $out | Should -Be (1..20 | ForEach-Object { "out $_" })
        (Get-Runs $marks).Count | Should -Be (20 - $info.Items)
    }

    It 'a torn last record is ignored, and its item runs again' {
        $checkpoint = Join-Path $TestDrive 'torn.checkpoint'
        $block = { $null = New-Item -ItemType File -Path (Join-Path $using:marks "$_-x") -Force; "out $_" }
        $marks = New-MarkFolder 'torn1'
        $null = 1..10 | Invoke-JoblibParallel $block -NJobs 1 -BatchSize 1 -Checkpoint $checkpoint
        # Cut away the run's end record (34 bytes) and part of the last batch's record (item 10's).
        $stream = [System.IO.File]::Open($checkpoint, 'Open')
        try { $stream.SetLength($stream.Length - 50) } finally { $stream.Dispose() }
        $info = Get-JoblibCheckpoint -Path $checkpoint
        $info.Items | Should -Be 9
        $info.IgnoredBytes | Should -BeGreaterThan 0

        Clear-Marks $marks
        1..10 | Invoke-JoblibParallel $block -NJobs 1 -BatchSize 1 -Checkpoint $checkpoint | Should -Be (1..10 | ForEach-Object { "out $_" })
        @((Get-Runs $marks).Keys) | Should -Be 10
        (Get-JoblibCheckpoint -Path $checkpoint).IgnoredBytes | Should -Be 0
    }

    It 'two calls on one checkpoint at once: the second is refused at once (the first one an -AsJob)' {
        $checkpoint = Join-Path $TestDrive 'busy.checkpoint'
        $job = 1..4 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 500; $_ } -NJobs 2 -Checkpoint $checkpoint -AsJob
        try {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            { 1..4 | Invoke-JoblibParallel { $_ } -Checkpoint $checkpoint } | Should -Throw -ErrorId 'JoblibCheckpointInUse,*' -ExpectedMessage '*in use by another call*'
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2
            { Get-JoblibCheckpoint -Path $checkpoint -ErrorAction Stop } | Should -Throw -ErrorId 'JoblibCheckpointInUse,*'
            $job | Receive-Job -Wait -AutoRemoveJob | Should -Be 1, 2, 3, 4
        }
        finally { $job | Remove-Job -Force -ErrorAction Ignore }
        (Get-JoblibCheckpoint -Path $checkpoint).Items | Should -Be 4
    }

    It 'a changed block is refused, saying what changed and how to start afresh; the checkpoint is left as it was' {
        $checkpoint = Join-Path $TestDrive 'changed.checkpoint'
        $null = 1..3 | Invoke-JoblibParallel { $_ * 2 } -Checkpoint $checkpoint
        $before = [System.IO.File]::ReadAllBytes($checkpoint)
        $err = $null
        try { 1..3 | Invoke-JoblibParallel { $_ * 3 } -Checkpoint $checkpoint } catch { $err = $_ }
        $err.FullyQualifiedErrorId | Should -Be 'JoblibCheckpointChanged,JoblibPS.Commands.InvokeJoblibParallelCommand'
        $err.Exception.Message | Should -BeLike '*the script block changed*Remove-JoblibCheckpoint*'
        [System.IO.File]::ReadAllBytes($checkpoint) | Should -Be $before
        $value = 2
        $err = $null
        try { 1..3 | Invoke-JoblibParallel { $_ * $using:value } -Checkpoint (Join-Path $TestDrive 'using.checkpoint') | Out-Null; $value = 3; 1..3 | Invoke-JoblibParallel { $_ * $using:value } -Checkpoint (Join-Path $TestDrive 'using.checkpoint') } catch { $err = $_ }
        $err.Exception.Message | Should -BeLike '*the $using: values changed*'
    }

    It 'recorded output comes back deserialized, all streams included, and keys follow -CheckpointKey' {
        $checkpoint = Join-Path $TestDrive 'streams.checkpoint'
        $items = @([pscustomobject]@{ Id = 1; Name = 'a' }, [pscustomobject]@{ Id = 2; Name = 'b' })
        $first = $items | Invoke-JoblibParallel { Write-Warning "w$($_.Id)"; [pscustomobject]@{ Id = $_.Id } } -Checkpoint $checkpoint -CheckpointKey { $_.Id } -WarningVariable w1 -WarningAction SilentlyContinue
        $second = $items | Invoke-JoblibParallel { Write-Warning "w$($_.Id)"; [pscustomobject]@{ Id = $_.Id } } -Checkpoint $checkpoint -CheckpointKey { $_.Id } -WarningVariable w2 -WarningAction SilentlyContinue
        $second.Id | Should -Be 1, 2
        $second[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.System.Management.Automation.PSCustomObject'
        @($w2 | ForEach-Object Message) | Should -Be 'w1', 'w2'
        (Get-JoblibCheckpoint -Path $checkpoint).Keys | Sort-Object | Should -Be 'Int32:1', 'Int32:2'
    }

    It 'Use-JoblibConfig -Checkpoint sets it for the calls in the scope' {
        $checkpoint = Join-Path $TestDrive 'scope.checkpoint'
        Use-JoblibConfig threading -NJobs 2 -Checkpoint $checkpoint { 1..5 | Invoke-JoblibParallel { $_ } } | Should -Be (1..5)
        (Get-JoblibCheckpoint -Path $checkpoint).Items | Should -Be 5
        Remove-JoblibCheckpoint -Path $checkpoint
        Test-Path -LiteralPath $checkpoint | Should -BeFalse
    }

    Context 'Bad input: a clear error before any item runs, the checkpoint left as it was' {
        BeforeAll {
            $marks = New-MarkFolder 'bad'
            $block = { $null = New-Item -ItemType File -Path (Join-Path $using:marks "$_-x") -Force; $_ }
            $notACheckpoint = Join-Path $TestDrive 'notes.txt'
            Set-Content -LiteralPath $notACheckpoint -Value 'my notes'
            $otherVersion = Join-Path $TestDrive 'v99.checkpoint'
            $null = 1 | Invoke-JoblibParallel { $_ } -Checkpoint $otherVersion
            $bytes = [System.IO.File]::ReadAllBytes($otherVersion)
            [BitConverter]::GetBytes(99).CopyTo($bytes, 8)
            [System.IO.File]::WriteAllBytes($otherVersion, $bytes)
        }

        It '<Case> fails with <ErrorId>' -ForEach @(
            @{ Case = 'a folder that does not exist'; ErrorId = 'JoblibCheckpointPath'; Path = 'missing/run.checkpoint'; Key = $null; Items = 1..3 }
            @{ Case = 'a directory where a file is expected'; ErrorId = 'JoblibCheckpointIsDirectory'; Path = '.'; Key = $null; Items = 1..3 }
            @{ Case = 'a file of another format'; ErrorId = 'JoblibCheckpointFormat'; Path = 'notes.txt'; Key = $null; Items = 1..3 }
            @{ Case = 'a checkpoint of another version'; ErrorId = 'JoblibCheckpointVersion'; Path = 'v99.checkpoint'; Key = $null; Items = 1..3 }
            @{ Case = 'a key block that throws'; ErrorId = 'JoblibCheckpointKeyFailed'; Path = 'k1.checkpoint'; Key = { if ($_ -eq 3) { throw 'no key' }; $_ }; Items = 1..3 }
            @{ Case = 'a key block that returns null'; ErrorId = 'JoblibCheckpointKeyInvalid'; Path = 'k2.checkpoint'; Key = { $null }; Items = 1..3 }
            @{ Case = 'a key block that returns a script block'; ErrorId = 'JoblibCheckpointKeyInvalid'; Path = 'k3.checkpoint'; Key = { { 1 } }; Items = 1..3 }
            @{ Case = 'two items with one key'; ErrorId = 'JoblibCheckpointDuplicateKey'; Path = 'dup.checkpoint'; Key = $null; Items = 1, 2, 3, 2 }
        ) {
            $path = Join-Path $TestDrive $Path
            $before = if (Test-Path -LiteralPath $path -PathType Leaf) { [System.IO.File]::ReadAllBytes($path) }
            $extra = if ($Key) { @{ CheckpointKey = $Key } } else { @{} }
            { $Items | Invoke-JoblibParallel $block -NJobs 2 -Checkpoint $path @extra } | Should -Throw -ErrorId "$ErrorId,*"
            @(Get-ChildItem -LiteralPath $marks) | Should -BeNullOrEmpty -Because 'no item may run'
            if ($null -ne $before) { [System.IO.File]::ReadAllBytes($path) | Should -Be $before }
            elseif (-not (Test-Path -LiteralPath $path -PathType Container)) { Test-Path -LiteralPath $path | Should -BeFalse -Because 'a checkpoint the failed call created is removed' }
        }

        It 'Remove-JoblibCheckpoint leaves a file that is not a checkpoint alone' {
            { Remove-JoblibCheckpoint -Path $notACheckpoint -ErrorAction Stop } | Should -Throw -ErrorId 'JoblibCheckpointFormat,*'
            Get-Content -LiteralPath $notACheckpoint | Should -Be 'my notes'
        }
    }
}

Describe 'Invoke-JoblibParallel -Checkpoint on remote (two loopback SSH hosts)' -Skip:$NoSshd {
    BeforeAll {
        Import-Module (Join-Path $PSScriptRoot '../Remote/SshTestHosts.psm1') -Force
        $port = 20000 + (($PID + 7) % 20000)
        $root = Join-Path $TestDrive 'ssh'
        $hostA = Start-JoblibSshHost -Address 127.0.0.2 -Port $port -Root $root
        $hostB = Start-JoblibSshHost -Address 127.0.0.3 -Port $port -Root $root
        $remote = @{ HostName = $hostA.HostName, $hostB.HostName; Port = $port; KeyFilePath = $hostA.KeyFilePath; Options = (Get-JoblibSshOptions $hostA) }
    }

    AfterAll {
        @($hostA, $hostB) | Where-Object { $_ } | Stop-JoblibSshHost
    }

    It 'a run that fails fast at item 12 of 20, rerun, runs only what was not recorded and writes all 20 in order' {
        $checkpoint = Join-Path $TestDrive 'remote.checkpoint'
        $flag = Join-Path $TestDrive 'remote-flag'
        $null = New-Item -ItemType File -Path $flag -Force
        Use-JoblibConfig remote -BackendArgument $remote {
            $marks = New-MarkFolder 'remote1'
            { 1..20 | Invoke-JoblibParallel $FailAt12 -BatchSize 2 -Checkpoint $checkpoint } | Should -Throw -ErrorId 'JoblibTaskFailed,*'
            $recorded = Get-RecordedItem $checkpoint
            $recorded | Should -Not -Contain 12
            Remove-Item -LiteralPath $flag
            Clear-Marks $marks
            1..20 | Invoke-JoblibParallel $FailAt12 -BatchSize 2 -Checkpoint $checkpoint | Should -Be (1..20 | ForEach-Object { "out $_" })
            @((Get-Runs $marks).Keys | Sort-Object) | Should -Be @(1..20 | Where-Object { $_ -notin $recorded })
        }
    }
}
