# What a user coming from ForEach-Object -Parallel relies on and JoblibPS keeps (see "Coming from ForEach-Object
# -Parallel" in about_JoblibPS): -Debug and Inquire preferences that never prompt (also with no console), script
# blocks that never cross runspaces as live objects, the block's own error ids, and the block's Write-Progress.

BeforeDiscovery {
    # In-process and process backends: the rules below hold for each.
    $Backends = @(
        @{ Backend = 'sequential'; NJobs = 1 }
        @{ Backend = 'threading'; NJobs = 2 }
        @{ Backend = 'loky'; NJobs = 2 }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Import-JoblibTestModule
    $pwsh = if ($env:JOBLIBPS_PWSH) { $env:JOBLIBPS_PWSH } else { Join-Path $PSHOME $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' }) }

    # Runs -Script in a child 'pwsh -NonInteractive' with this module imported and its standard input redirected
    # and closed (as under CI or a scheduled task: no console to prompt on). Returns the exit code and everything
    # the child wrote to stdout and stderr.
    function Invoke-HeadlessPwsh {
        param([string] $Script)
        $escaped = $modulePath -replace "'", "''"
        $full = "Import-Module '$escaped'; $Script"
        $info = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
        foreach ($argument in '-NoProfile', '-NonInteractive', '-OutputFormat', 'Text', '-EncodedCommand', [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($full))) {
            $info.ArgumentList.Add($argument)
        }
        $info.RedirectStandardInput = $true
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.UseShellExecute = $false
        $info.Environment['NO_COLOR'] = '1'
        $process = [System.Diagnostics.Process]::Start($info)
        try {
            $process.StandardInput.Close()
            $stderr = $process.StandardError.ReadToEndAsync()
            $stdout = $process.StandardOutput.ReadToEndAsync()
            if (-not $process.WaitForExit(120000)) { throw 'The child pwsh did not end within 120 s (waiting on a prompt?).' }
            [pscustomobject]@{ ExitCode = $process.ExitCode; Text = $stdout.Result + $stderr.Result }
        }
        finally {
            if (-not $process.HasExited) { $process.Kill($true) }
            $process.Dispose()
        }
    }
}

AfterAll {
    # Later test files start from no process workers at all.
    # ProcessPools is internal: reached through its assembly.
    [JoblibPS.ParallelBackendBase].Assembly.GetType('JoblibPS.Backends.Process.ProcessPools', $true).GetMethod('ShutdownAll').Invoke($null, @())
}

Describe 'Coming from ForEach-Object -Parallel' {
    Context '-Debug and Inquire never prompt' {
        It 'runs with -Debug in pwsh -NonInteractive with stdin redirected, showing the worker debug lines' {
            $child = Invoke-HeadlessPwsh '$out = 1..2 | Invoke-JoblibParallel { Write-Debug "worker-debug-$_" -Debug; $_ } -Debug -NJobs 2; "OUT:" + ($out -join ",")'
            $child.Text | Should -Not -BeLike '*NonInteractive mode*'
            $child.ExitCode | Should -Be 0 -Because $child.Text
            $child.Text | Should -BeLike '*DEBUG: worker-debug-1*'
            $child.Text | Should -BeLike '*DEBUG: worker-debug-2*'
            $child.Text | Should -BeLike '*OUT:1,2*'
        }

        It 'runs with $DebugPreference = ''Inquire'' headless, showing debug lines as with Continue' {
            $child = Invoke-HeadlessPwsh '$DebugPreference = "Inquire"; $out = 1..2 | Invoke-JoblibParallel { Write-Debug "worker-debug-$_"; $_ } -NJobs 2; "OUT:" + ($out -join ",")'
            $child.Text | Should -Not -BeLike '*NonInteractive mode*'
            $child.ExitCode | Should -Be 0 -Because $child.Text
            $child.Text | Should -BeLike '*DEBUG: worker-debug-1*'
            $child.Text | Should -BeLike '*DEBUG: worker-debug-2*'
            $child.Text | Should -BeLike '*OUT:1,2*'
        }

        It 'treats Inquire as Continue on the other streams too (a worker record describes work already done)' {
            $script = '$VerbosePreference = $WarningPreference = $InformationPreference = "Inquire"; ' +
                '$out = 1..2 | Invoke-JoblibParallel { Write-Verbose "v$_"; Write-Warning "w$_"; Write-Information "i$_"; $_ } -NJobs 2 -ErrorAction Inquire; "OUT:" + ($out -join ",")'
            $child = Invoke-HeadlessPwsh $script
            $child.ExitCode | Should -Be 0 -Because $child.Text
            $child.Text | Should -BeLike '*VERBOSE: v2*'
            $child.Text | Should -BeLike '*WARNING: w2*'
            $child.Text | Should -BeLike '*i2*'
            $child.Text | Should -BeLike '*OUT:1,2*'
        }
    }
}

Describe 'Coming from ForEach-Object -Parallel: <Backend>' -ForEach $Backends {
    BeforeAll {
        $run = @{ Backend = $Backend; NJobs = $NJobs }
    }

    Context 'Script blocks never cross runspaces' {
        It 'refuses a $using: script block (<Form>) with JoblibScriptBlockCannotTravel before any item runs' -ForEach @(
            @{ Form = 'bare'; Value = { 'caller-only' }; Name = '$using:sb' }
            @{ Form = 'in a PSObject'; Value = [psobject]{ 'caller-only' }; Name = '$using:sb' }
            @{ Form = 'in an array'; Value = @(1, { 'caller-only' }); Name = '$using:sb[1]' }
            @{ Form = 'in a hashtable'; Value = @{ Key = { 'caller-only' } }; Name = '$using:sb[''Key'']' }
        ) {
            $sb = $Value
            $ran = [System.Collections.Concurrent.ConcurrentQueue[int]]::new()
            $err = $null
            try { 1..2 | ForEach-Object { $ran.Enqueue($_); $_ } | Invoke-JoblibParallel { & $using:sb } @run } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibScriptBlockCannotTravel,*'
            $err.Exception.Message | Should -BeLike "$([WildcardPattern]::Escape($Name)) is a script block*"
            $err.Exception.Message | Should -BeLike '*`[scriptblock`]::Create*' 
            $ran.Count | Should -Be 0 -Because 'the check runs before the first item is read'
        }

        It 'refuses a script block in a $using: index expression ($using:table[''k''])' {
            $table = @{ k = { 'caller-only' } }
            { 1 | Invoke-JoblibParallel { & $using:table['k'] } @run } | Should -Throw -ErrorId 'JoblibScriptBlockCannotTravel,*'
        }

        It 'refuses a script block given as input, naming the item''s position' {
            $err = $null
            try { 'a', 'b', { 'caller-only' } | Invoke-JoblibParallel { $_ } @run } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibScriptBlockCannotTravel,*'
            $err.Exception.Message | Should -BeLike 'Input item 3 is a script block*'
        }

        It 'refuses an input item that holds a script block one level down (a hashtable value)' {
            $err = $null
            try { @{ Run = { 'caller-only' } } | Invoke-JoblibParallel { $_ } @run } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibScriptBlockCannotTravel,*'
            $err.Exception.Message | Should -BeLike 'Input item 1 element `[''Run''`] is a script block*' 
        }

        It 'refuses a script block in -ArgumentList' {
            $err = $null
            try { 1 | Invoke-JoblibParallel { param($x, $f) & $f } -ArgumentList { 'caller-only' } @run } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibScriptBlockCannotTravel,*'
            $err.Exception.Message | Should -BeLike '-ArgumentList value 0 is a script block*'
        }

        It 'runs the block''s text rebuilt in the worker, as the error advises' {
            $text = { "runs-$_-$PID" }.ToString()
            $out = 1..2 | Invoke-JoblibParallel { $_ | ForEach-Object ([scriptblock]::Create($using:text)) } @run
            $out | Should -HaveCount 2
            $out[1] | Should -BeLike 'runs-2-*'
        }
    }

    Context 'The block''s own records' {
        It 'keeps the FullyQualifiedErrorId of Write-Error as the block wrote it (as ForEach-Object -Parallel does)' {
            # ForEach-Object -Parallel takes no -ErrorAction: its errors are collected under the preference instead
            # (the test runner's Stop would make them terminating).
            $ErrorActionPreference = 'Continue'
            $null = 1 | ForEach-Object -Parallel { Write-Error -ErrorId MyId 'with id'; Write-Error 'plain' } -ErrorVariable expected 2>$null
            $null = 1 | Invoke-JoblibParallel { Write-Error -ErrorId MyId 'with id'; Write-Error 'plain' } @run -ErrorAction SilentlyContinue -ErrorVariable got
            @($got.FullyQualifiedErrorId) | Should -Be @($expected.FullyQualifiedErrorId)
            @($got.FullyQualifiedErrorId) | Should -Be @('MyId', 'Microsoft.PowerShell.Commands.WriteErrorException')
        }

        It 'keeps the category, target, message and activity of the record' {
            $null = 1 | Invoke-JoblibParallel { Write-Error -Message 'bad data' -Category InvalidData -TargetObject 'the-target' -ErrorId DataId } @run -ErrorAction SilentlyContinue -ErrorVariable got
            $got[0].FullyQualifiedErrorId | Should -BeExactly 'DataId'
            $got[0].CategoryInfo.Category | Should -Be 'InvalidData'
            "$($got[0].TargetObject)" | Should -Be 'the-target'
            $got[0].Exception.Message | Should -Be 'bad data'
            $got[0].CategoryInfo.Activity | Should -Be 'Write-Error'
        }

        It 'keeps the id a failing command in the block gave its error' {
            $null = 1 | Invoke-JoblibParallel { Get-Item -LiteralPath '/no/such/item/here' } @run -ErrorAction SilentlyContinue -ErrorVariable got
            $got[0].FullyQualifiedErrorId | Should -BeExactly 'PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand'
        }

        It 'shows the record at the call, never at a line of the worker''s driver' {
            $null = 1 | Invoke-JoblibParallel { Write-Error -ErrorId MyId 'shown' } @run -ErrorAction SilentlyContinue -ErrorVariable got
            $shown = $got[0] | Out-String
            $shown | Should -Not -BeLike '*__Joblib*'
            $shown | Should -BeLike '*shown*'
        }

        It 'keeps the tags and source of Write-Information records' {
            $records = 1 | Invoke-JoblibParallel { Write-Information -MessageData 'tagged' -Tags 'one', 'two' } @run 6>&1
            $records[0].Tags | Should -Be @('one', 'two')
            # The block keeps its place in this file (so its errors' stack traces read as ForEach-Object's do), and
            # Write-Information names the script it ran in, as in a plain ForEach-Object here.
            $expected = (1 | ForEach-Object { Write-Information -MessageData 'tagged' -Tags 'one', 'two' } 6>&1)[0].Source
            $records[0].Source | Should -Be $expected
        }

        It 'gives JoblibPS ids only to the errors JoblibPS raises (a throw in the block is JoblibTaskFailed)' {
            $err = $null
            try { 1 | Invoke-JoblibParallel { throw 'boom' } @run } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*'
        }
    }

    Context 'Write-Progress in the block' -Skip:($Backend -eq 'sequential') {
        BeforeAll {
            # Runs a call in a runspace of its own (the caller's progress stream is then readable) with
            # $ProgressPreference set as given; returns the call's output and the progress records it wrote.
            function Invoke-WithProgress {
                param([string] $Preference, [string] $Block, [int] $Items = 2)
                $ps = [powershell]::Create()
                try {
                    $null = $ps.AddScript("Import-Module '$($modulePath -replace "'", "''")'; `$ProgressPreference = '$Preference'; 1..$Items | Invoke-JoblibParallel { $Block } -Backend $Backend -NJobs 2")
                    $output = $ps.Invoke()
                    if ($ps.Streams.Error.Count) { throw $ps.Streams.Error[0] }
                    [pscustomobject]@{ Output = @($output); Progress = @($ps.Streams.Progress) }
                }
                finally {
                    $ps.Dispose()
                }
            }
        }

        It 'reaches the caller''s progress stream, as children of JoblibPS''s own bar once it is shown' {
            # The items run past the second after which JoblibPS shows its bar, then report.
            $result = Invoke-WithProgress -Preference Continue -Block 'Start-Sleep -Milliseconds 1500; Write-Progress -Id 5 -Activity "item $_" -Status working -PercentComplete 50; $ProgressPreference'
            $result.Output | Should -Be 'Continue', 'Continue'
            $bar = @($result.Progress | Where-Object Activity -eq 'Invoke-JoblibParallel')
            $bar.Count | Should -BeGreaterThan 0
            $block = @($result.Progress | Where-Object Activity -like 'item *')
            $block.Count | Should -BeGreaterThan 0
            $block | ForEach-Object {
                $_.ActivityId | Should -Be 5
                $_.StatusDescription | Should -Be 'working'
                $_.ParentActivityId | Should -Be $bar[0].ActivityId
            }
        }

        It 'is not even made in the workers when the caller''s $ProgressPreference is SilentlyContinue' {
            $result = Invoke-WithProgress -Preference SilentlyContinue -Block 'Write-Progress -Activity "item $_" -Status s; $ProgressPreference'
            $result.Output | Should -Be 'SilentlyContinue', 'SilentlyContinue'
            $result.Progress | Where-Object Activity -like 'item *' | Should -BeNullOrEmpty
        }

        It 'forwards the latest record per activity, so thousands of records cost the caller a few writes' {
            $result = Invoke-WithProgress -Preference Continue -Items 4 -Block 'foreach ($i in 1..500) { Write-Progress -Id 9 -Activity "item" -Status "$i" }; $_'
            $result.Output | Should -Be 1, 2, 3, 4
            $block = @($result.Progress | Where-Object Activity -eq 'item')
            $block.Count | Should -BeGreaterThan 0
            $block.Count | Should -BeLessThan 2000
        }
    }
}
