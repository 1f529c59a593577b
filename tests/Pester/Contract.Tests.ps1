# The behaviour every backend owes its users, run against each backend in the list below through real pwsh.
# Backend-specific rules (which backend nests which, the NJobs arithmetic, parameter validation) are in
# Invoke-JoblibParallel.Tests.ps1.

BeforeDiscovery {
    # The backends under contract; a new backend joins by adding one line.
    # InProcess: the backend runs the block in this process, so $using: hands over the caller's very object.
    # Remote: the block runs on other machines (here sshd on loopback addresses, in sessions the test opens and
    # hands over with -BackendArgument @{ Session = ... }), so it starts in the remote user's home, not the
    # caller's location.
    # ScriptMethods: a backend written without a class, examples/ThreadPoolBackend.ScriptMethods.ps1 (registered as
    # 'custom' by the example), so the adapter that calls script methods is held to the same contract.
    # SameWorkersAs: the backend runs its batches on the workers of another backend in the list and differs only in
    # how long its pool lives (multiprocessing: loky's workers, started afresh for each call, two pwsh per call
    # here). Only the Contexts about a call's life (errors, timeouts, stopping, input) run on it; the others are
    # skipped, as the other backend holds them on the same workers (and the xunit contract suite runs its rules on it too).
    # The list is shared with the xunit contract suite: tests/ContractBackends.json.
    $Backends = @(foreach ($entry in (Get-Content -LiteralPath (Join-Path $PSScriptRoot '../ContractBackends.json') -Raw | ConvertFrom-Json).Backends) {
        if ($entry.Needs -eq 'sshd' -and -not (Test-Path -LiteralPath '/usr/sbin/sshd')) {
            Write-Warning "The backend '$($entry.Backend)' is left out of the contract: /usr/sbin/sshd is missing (.ci/run installs openssh-server)."
            continue
        }
        $sameWorkersAs = if ($entry.PSObject.Properties['SameWorkersAs']) { $entry.SameWorkersAs } else { $null }
        @{ Backend = $entry.Backend; NJobs = $entry.NJobs; InProcess = $entry.InProcess; Remote = $entry.Needs -eq 'sshd'; ScriptMethods = $entry.Needs -eq 'example'; LifeOnly = [bool]$sameWorkersAs }
    })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Import-JoblibTestModule
}

Describe 'Backend contract: <Backend> with <NJobs> job(s)' -ForEach $Backends {
    BeforeAll {
        $run = @{ Backend = $Backend; NJobs = $NJobs }
        # A remote worker's warning, verbose and debug messages arrive tagged with their host ("[web1] text"); the
        # rules below are about the text.
        function Get-UntaggedText {
            param([Parameter(ValueFromPipeline)] $Message)
            process { if ($Remote) { "$Message" -replace '^\[[^\]]+\] ', '' } else { "$Message" } }
        }
        if ($Remote) {
            # Two hosts, one session each: sessions the user owns, which the backend never closes, so no call pays
            # for opening SSH connections. A port of its own, apart from RemoteBackend.Tests.ps1's hosts.
            Import-Module (Join-Path $PSScriptRoot '../Remote/SshTestHosts.psm1') -Force
            $sshRoot = Join-Path ([IO.Path]::GetTempPath()) "joblibps-contract-ssh-$PID"
            $sshHosts = @(
                Start-JoblibSshHost -Address 127.0.0.2 -Port 2231 -Root $sshRoot
                Start-JoblibSshHost -Address 127.0.0.3 -Port 2231 -Root $sshRoot
            )
            $sessions = @(foreach ($sshHost in $sshHosts) {
                New-PSSession -HostName $sshHost.HostName -Port 2231 -KeyFilePath $sshHost.KeyFilePath -Options (Get-JoblibSshOptions $sshHost) -ErrorAction Stop
            })
            # Invoke-JoblibParallel takes no backend arguments (as joblib's Parallel): a registered factory gives
            # every call a remote backend over these sessions.
            $factory = { [JoblibPS.Backends.Remote.RemoteBackend]::new(@{ Session = $sessions }) }.GetNewClosure()
            Register-JoblibBackend -Name contract-remote -Factory $factory -Force
            $run.Backend = 'contract-remote'
        }
        if ($ScriptMethods) {
            . (Join-Path $PSScriptRoot '../../examples/ThreadPoolBackend.ScriptMethods.ps1')
            $run.Backend = 'custom'
        }
    }

    AfterAll {
        try {
            Assert-JoblibWorkloadStable -Backend $run.Backend -NJobs $NJobs
        }
        finally {
            if ($ScriptMethods) { Unregister-JoblibBackend -Name custom }
            if ($Remote) {
                Unregister-JoblibBackend -Name contract-remote
                $sessions | Remove-PSSession -ErrorAction Ignore
                $sshHosts | Stop-JoblibSshHost
                Remove-Item -LiteralPath $sshRoot -Recurse -Force -ErrorAction Ignore
            }
        }
    }

    Context 'The item and the arguments' -Skip:$LifeOnly {
        It 'sees the item as $_ and $PSItem' {
            $out = 1..3 | Invoke-JoblibParallel { "$_/$PSItem" } @run
            $out | Should -Be @('1/1', '2/2', '3/3')
        }

        It 'binds the item to the first positional parameter' {
            $out = 1..3 | Invoke-JoblibParallel { param($x) $x * 2 } @run
            $out | Should -Be @(2, 4, 6)
        }

        It 'passes -ArgumentList values after the item to param()' {
            $out = 1..2 | Invoke-JoblibParallel { param($x, $a, $b) "$x-$a-$b" } -ArgumentList 'p', 'q' @run
            $out | Should -Be @('1-p-q', '2-p-q')
        }

        It 'passes the item then the -ArgumentList values in $args' {
            $out = 1..2 | Invoke-JoblibParallel { $args -join '+' } -ArgumentList 'p', 'q' @run
            $out | Should -Be @('1+p+q', '2+p+q')
        }
    }

    Context '$using:' -Skip:$LifeOnly {
        It 'reads a plain variable' {
            $offset = 100
            $out = 1..3 | Invoke-JoblibParallel { $_ + $using:offset } @run
            $out | Should -Be @(101, 102, 103)
        }

        It "reads an index expression (`$using:h['k'])" {
            $table = @{ k = 'from the caller' }
            $out = 1 | Invoke-JoblibParallel { $using:table['k'] } @run
            $out | Should -Be 'from the caller'
        }

        It 'reads a property expression ($using:o.Prop)' {
            $object = [pscustomobject]@{ Prop = 'property value' }
            $out = 1 | Invoke-JoblibParallel { $using:object.Prop } @run
            $out | Should -Be 'property value'
        }

        It 'fails with JoblibUsingVariableUndefined before any item runs' {
            $marker = Join-Path $TestDrive "using-undefined-$Backend.txt"
            $err = $null
            try {
                1..3 | Invoke-JoblibParallel { Set-Content -LiteralPath $using:marker -Value $_; $using:notDefinedAnywhere } @run
            }
            catch {
                $err = $_
            }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibUsingVariableUndefined,*'
            $err.Exception.Message | Should -BeLike '*notDefinedAnywhere*'
            Test-Path -LiteralPath $marker | Should -BeFalse -Because 'no item may run when a $using: variable is undefined'
        }

        It 'hands over the same object, not a copy (in-process backend)' -Skip:(-not $InProcess) {
            $builder = [System.Text.StringBuilder]::new('caller')
            $out = 1 | Invoke-JoblibParallel { , $using:builder } @run
            [object]::ReferenceEquals($out, $builder) | Should -BeTrue
        }
    }

    Context 'Location' -Skip:$LifeOnly {
        It "starts the block in the caller's current location" -Skip:$Remote {
            Push-Location -LiteralPath $TestDrive
            try {
                $expected = (Get-Location).ProviderPath
                $out = 1..2 | Invoke-JoblibParallel { (Get-Location).Path } @run
            }
            finally {
                Pop-Location
            }
            $out | Should -Be @($expected, $expected)
        }
    }

    Context "The caller's session" {
        It 'leaves the caller''s preference variables and variables as they were' {
            $errorPreference = $ErrorActionPreference
            $warningPreference = $WarningPreference
            $out = 1..2 | Invoke-JoblibParallel { $_ } @run -ErrorAction SilentlyContinue -WarningAction SilentlyContinue
            $out | Should -Be @(1, 2)
            $ErrorActionPreference | Should -Be $errorPreference -Because '-ErrorAction applies to the call, not to the caller afterwards'
            $WarningPreference | Should -Be $warningPreference
            @(Get-Variable -Name '__Joblib*' -ErrorAction Ignore) | Should -BeNullOrEmpty -Because 'the engine must not define variables in the caller'
            Get-Command -Name '__JoblibRun' -ErrorAction Ignore | Should -BeNullOrEmpty -Because 'the engine must not define functions in the caller'
        }
    }

    Context 'Output order' -Skip:$LifeOnly {
        It 'writes output in input order even when later items finish first' {
            $out = 1..6 | Invoke-JoblibParallel {
                Start-Sleep -Milliseconds $(if ($_ -eq 1) { 800 } else { 20 })
                $_
            } -BatchSize 1 @run
            $out | Should -Be @(1, 2, 3, 4, 5, 6)
        }

        It "keeps each item's objects together and in order, none lost or duplicated (2000 items x 3)" {
            $expected = foreach ($i in 1..2000) { $i; "a$i"; "b$i" }
            $out = 1..2000 | Invoke-JoblibParallel { $_; "a$_"; "b$_" } @run
            $out.Count | Should -Be $expected.Count
            $out | Should -Be $expected
        }

        It 'with -Unordered writes in completion order: a slow item comes after fast ones' -Skip:($NJobs -lt 2) {
            $out = 1..6 | Invoke-JoblibParallel {
                if ($_ -eq 1) { Start-Sleep -Seconds 2 }
                $_
            } -Unordered -BatchSize 1 @run
            $out[-1] | Should -Be 1
            $out | Sort-Object | Should -Be @(1, 2, 3, 4, 5, 6)
        }

        It 'with -Unordered loses and duplicates nothing (2000 items x 3)' {
            $expected = foreach ($i in 1..2000) { "$i"; "a$i"; "b$i" }
            $out = 1..2000 | Invoke-JoblibParallel { "$_"; "a$_"; "b$_" } -Unordered @run
            $out.Count | Should -Be $expected.Count
            ($out | Sort-Object) | Should -Be ($expected | Sort-Object)
        }
    }

    Context 'Streams' -Skip:$LifeOnly {
        It 'shows worker verbose messages with -Verbose' {
            $messages = 1..3 | Invoke-JoblibParallel { Write-Verbose "worker-verbose-$_"; $_ } @run -Verbose 4>&1 | Get-VerboseMessage | Get-UntaggedText
            $messages | Should -Contain 'worker-verbose-1'
            $messages | Should -Contain 'worker-verbose-3'
        }

        It 'shows no worker verbose messages without -Verbose' {
            $VerbosePreference = 'SilentlyContinue'
            $all = 1..3 | Invoke-JoblibParallel { Write-Verbose "worker-verbose-$_"; $_ } @run 4>&1
            $all | Get-VerboseMessage | Should -BeNullOrEmpty
            $all | Should -Be @(1, 2, 3)
        }

        It 'honours the caller''s $VerbosePreference' {
            $VerbosePreference = 'Continue'
            $messages = 1..2 | Invoke-JoblibParallel { Write-Verbose "worker-verbose-$_" } @run 4>&1 | Get-VerboseMessage | Get-UntaggedText
            $messages | Should -Contain 'worker-verbose-2'
        }

        It 'honours the caller''s $DebugPreference' {
            # -Debug and Inquire (never a prompt) are in ForEachObjectParallel.Tests.ps1.
            $DebugPreference = 'Continue'
            $with = 1..2 | Invoke-JoblibParallel { Write-Debug "worker-debug-$_" } @run 5>&1 | Get-UntaggedText
            $with | Should -Contain 'worker-debug-1'
            $with | Should -Contain 'worker-debug-2'
            $DebugPreference = 'SilentlyContinue'
            $without = 1..2 | Invoke-JoblibParallel { Write-Debug "worker-debug-$_" } @run 5>&1 | Get-UntaggedText
            $without | Should -Not -Contain 'worker-debug-1'
        }

        It 'writes worker warnings to the warning stream' {
            $all = 1..2 | Invoke-JoblibParallel { Write-Warning "worker-warning-$_"; $_ } @run 3>&1
            @($all | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | ForEach-Object Message | Get-UntaggedText) | Should -Be @('worker-warning-1', 'worker-warning-2')
            @($all | Where-Object { $_ -isnot [System.Management.Automation.WarningRecord] }) | Should -Be @(1, 2)
        }

        It 'hides worker warnings with -WarningAction SilentlyContinue' {
            $all = 1..2 | Invoke-JoblibParallel { Write-Warning "worker-warning-$_"; $_ } @run -WarningAction SilentlyContinue 3>&1
            $all | Where-Object { $_ -is [System.Management.Automation.WarningRecord] } | Should -BeNullOrEmpty
            $all | Should -Be @(1, 2)
        }

        It 'writes worker errors to the error stream and keeps running the other items' {
            # -ErrorAction Continue: Pester runs tests with ErrorActionPreference Stop, under which ForEach-Object stops too.
            $all = 1..3 | Invoke-JoblibParallel { if ($_ -eq 2) { Write-Error 'worker-error-2' }; $_ } @run -ErrorAction Continue 2>&1
            @($all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] } | ForEach-Object { "$_" }) | Should -Be @('worker-error-2')
            @($all | Where-Object { $_ -isnot [System.Management.Automation.ErrorRecord] }) | Should -Be @(1, 2, 3)
        }

        It 'collects worker errors into -ErrorVariable with -ErrorAction SilentlyContinue' {
            $out = 1..3 | Invoke-JoblibParallel { Write-Error "worker-error-$_"; $_ } @run -ErrorAction SilentlyContinue -ErrorVariable workerErrors
            $out | Should -Be @(1, 2, 3)
            @($workerErrors).Count | Should -Be 3
            @($workerErrors | ForEach-Object { "$_" }) | Should -Contain 'worker-error-2'
        }

        It 'turns a worker Write-Error into a terminating error with -ErrorAction Stop' {
            { 1..3 | Invoke-JoblibParallel { if ($_ -eq 2) { Write-Error 'worker-error-2' }; $_ } @run -ErrorAction Stop } |
                Should -Throw -ExpectedMessage '*worker-error-2*'
        }

        It 'writes Write-Information records with -InformationAction Continue' {
            $all = 1..2 | Invoke-JoblibParallel { Write-Information "worker-info-$_"; $_ } @run -InformationAction Continue 6>&1
            $records = @($all | Where-Object { $_ -is [System.Management.Automation.InformationRecord] })
            @($records | ForEach-Object { "$($_.MessageData)" }) | Should -Be @('worker-info-1', 'worker-info-2')
        }

        It 'writes Write-Information records to stream 6 under the default preference, as ForEach-Object does' {
            $all = 1..2 | Invoke-JoblibParallel { Write-Information "worker-info-$_" } @run 6>&1
            @($all | ForEach-Object { "$($_.MessageData)" }) | Should -Be @('worker-info-1', 'worker-info-2')
        }

        It 'sends Write-Host output to the information stream' {
            $all = 1..2 | Invoke-JoblibParallel { Write-Host "worker-host-$_" } @run 6>&1
            $records = @($all | Where-Object { $_ -is [System.Management.Automation.InformationRecord] })
            @($records | ForEach-Object { "$($_.MessageData)" }) | Should -Be @('worker-host-1', 'worker-host-2')
            $records[0].Tags | Should -Contain 'PSHOST'
        }
    }

    Context 'A terminating error in an item' {
        It 'throws JoblibTaskFailed carrying the message, the item and the worker''s stack' {
            $err = $null
            try {
                1..10 | Invoke-JoblibParallel { if ($_ -eq 5) { throw 'boom' }; $_ } @run
            }
            catch {
                $err = $_
            }
            $err | Should -Not -BeNullOrEmpty
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*'
            $err.Exception.Message | Should -Be 'boom'
            $err.TargetObject | Should -Be 5
            # The block's own frame names this file and the line of the throw, as ForEach-Object's does.
            $throwLines = (Select-String -LiteralPath $PSCommandPath -SimpleMatch "{ if (`$_ -eq 5) { throw 'boom' }; `$_ } @run").LineNumber
            ($err.ScriptStackTrace -split '\r?\n')[0] | Should -BeIn @(foreach ($line in $throwLines) { "at <ScriptBlock>, ${PSCommandPath}: line $line" })
            $err.ScriptStackTrace | Should -Not -BeLike '*__JoblibRun*'
        }

        It 'writes the output of the items before it first' {
            $out = @()
            $err = $null
            try {
                1..10 | Invoke-JoblibParallel { if ($_ -eq 5) { throw 'boom' }; $_ } @run | ForEach-Object { $out += $_ }
            }
            catch {
                $err = $_
            }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*'
            $out | Should -Be @(1, 2, 3, 4)
        }

        It 'stops the remaining items (fail fast)' -Skip:(-not $InProcess) {
            $ran = [System.Collections.Concurrent.ConcurrentBag[int]]::new()
            $err = $null
            try {
                $null = 1..200 | Invoke-JoblibParallel {
                    $bag = $using:ran
                    $bag.Add($_)
                    Start-Sleep -Milliseconds 50
                    if ($_ -eq 3) { throw 'boom' }
                    $_
                } @run
            }
            catch {
                $err = $_
            }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*'
            $ran.Count | Should -BeLessThan 200 -Because 'items after the failure must not all run'
        }

        It 'reports exit in an item as JoblibTaskExited' {
            $err = $null
            try {
                $null = 1..3 | Invoke-JoblibParallel { if ($_ -eq 2) { exit 3 }; $_ } @run
            }
            catch {
                $err = $_
            }
            $err | Should -Not -BeNullOrEmpty -Because 'exit in an item must not pass silently'
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskExited,*'
        }
    }

    Context '-TimeoutSeconds' {
        It 'ends a call whose item runs too long with JoblibTaskTimeout' {
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $err = $null
            try {
                1..4 | Invoke-JoblibParallel { Start-Sleep -Seconds 30 } @run -TimeoutSeconds 0.5
            }
            catch {
                $err = $_
            }
            $clock.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 10 -Because 'the timed-out item must be stopped'
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskTimeout,*'
            $err.Exception | Should -BeOfType ([System.TimeoutException])
        }

        It 'times each item, not the whole call: items that finish in time are unaffected' {
            # Six items of 300 ms run longer than 1 s in all, but each stays well under the limit.
            $out = 1..6 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 300; $_ } @run -TimeoutSeconds 1 -BatchSize 1
            $out | Should -Be @(1, 2, 3, 4, 5, 6)
        }
    }

    Context 'Stopping' {
        It 'stops all work when a downstream Select-Object -First has enough' {
            $firstTwo = { 1..1000 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 100; $_ } @run | Select-Object -First 2 }
            $null = & $firstTwo
            $before = Get-JoblibLeakSnapshot
            $clock = [System.Diagnostics.Stopwatch]::StartNew()
            $out = & $firstTwo
            $clock.Stop()
            $out | Should -Be @(1, 2)
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
            Assert-NoJoblibLeak -Before $before
        }

        It 'stops within about 2 s when the pipeline is stopped (Ctrl+C)' {
            $output = [System.Management.Automation.PSDataCollection[psobject]]::new()
            $sourceId = "JoblibContractStop-$Backend"
            $null = Register-ObjectEvent -InputObject $output -EventName DataAdded -SourceIdentifier $sourceId
            $ps = [powershell]::Create()
            try {
                $escaped = $modulePath -replace "'", "''"
                # The registered remote factory is a script block of this runspace, which sits in Wait-Event: the
                # other runspace gets a backend object instead (the sessions stay open when the call ends it).
                $backendForCall = if ($Remote) { [JoblibPS.Backends.Remote.RemoteBackend]::new(@{ Session = $sessions }) } else { $run.Backend }
                # Script methods run in the runspace that registered the backend, which here sits in Wait-Event: the
                # other runspace registers the example itself, as a user who runs it there would.
                $setup = if ($ScriptMethods) { ". '" + ((Join-Path $PSScriptRoot '../../examples/ThreadPoolBackend.ScriptMethods.ps1') -replace "'", "''") + "'; " } else { '' }
                $null = $ps.AddScript("param(`$backend) Import-Module '$escaped'; $setup 1..1000 | Invoke-JoblibParallel { Start-Sleep 1; `$_ } -Backend `$backend -NJobs $NJobs").AddArgument($backendForCall)
                $null = $ps.BeginInvoke([System.Management.Automation.PSDataCollection[psobject]]::new(), $output)
                $first = Wait-Event -SourceIdentifier $sourceId -Timeout 30
                $first | Should -Not -BeNullOrEmpty -Because 'the call must produce its first output'
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                $ps.Stop()
                $clock.Stop()
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 2.5
                $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            }
            finally {
                Unregister-Event -SourceIdentifier $sourceId -ErrorAction Ignore
                Remove-Event -SourceIdentifier $sourceId -ErrorAction Ignore
                $ps.Dispose()
                # Registered again from this runspace, for the tests that follow.
                if ($ScriptMethods) { . (Join-Path $PSScriptRoot '../../examples/ThreadPoolBackend.ScriptMethods.ps1') }
            }
        }
    }

    Context 'Input' {
        It 'runs nothing and writes nothing without input' {
            $marker = Join-Path $TestDrive "no-input-$Backend.txt"
            $out = @() | Invoke-JoblibParallel { Set-Content -LiteralPath $using:marker -Value 'ran'; 'x' } @run
            $out | Should -BeNullOrEmpty
            Test-Path -LiteralPath $marker | Should -BeFalse
        }

        It 'runs once for a $null item' {
            $out = $null | Invoke-JoblibParallel { "x:$_" } @run
            $out | Should -Be 'x:'
        }

        It 'takes -InputObject as one item, as ForEach-Object does' {
            $out = Invoke-JoblibParallel { "$($_.GetType().Name):$($_.Count)" } -InputObject @(1, 2) @run
            $out | Should -Be 'Object[]:2'
        }
    }

    Context 'Admin automation: what the caller has, in every worker' -Skip:$LifeOnly {
        It 'defines the functions the block calls, and those they call, in every worker' {
            function Get-JoblibTestDouble { param($x) Get-JoblibTestInner $x }
            function Get-JoblibTestInner { param($x) $x * 2 }
            $out = 1..4 | Invoke-JoblibParallel { Get-JoblibTestDouble $_ } @run
            $out | Should -Be @(2, 4, 6, 8)
        }

        It 'defines the function an alias of the caller names (through an alias of that alias) under both names, when the block calls the alias' {
            function Get-JoblibTestAliased { "aliased:$args" }
            Set-Alias -Name jta1 -Value Get-JoblibTestAliased
            Set-Alias -Name jta2 -Value jta1
            $out = 1..2 | Invoke-JoblibParallel { jta2 $_ } @run
            $out | Should -Be @('aliased:1', 'aliased:2')
            $out = 1..2 | Invoke-JoblibParallel { $name = 'jta2'; & $name $_ } @run -ImportFunction 'jta2'
            $out | Should -Be @('aliased:1', 'aliased:2')
        }

        It 'defines the functions -ImportFunction names, for calls the syntax tree cannot show' {
            function Get-JoblibTestHidden { "hidden:$args" }
            $out = 1..2 | Invoke-JoblibParallel { $name = 'Get-JoblibTestHidden'; & $name $_ } @run -ImportFunction 'Get-JoblibTestHid*'
            $out | Should -Be @('hidden:1', 'hidden:2')
        }

        It 'sets the variables -ImportVariable names' {
            $JoblibTestGreeting = 'hello'
            $out = 1..2 | Invoke-JoblibParallel { "$JoblibTestGreeting $_" } @run -ImportVariable 'JoblibTestGreet*'
            $out | Should -Be @('hello 1', 'hello 2')
        }

        It 'imports the modules -ImportModule names, and the module of a command the block calls' {
            $moduleFile = Join-Path $TestDrive "JoblibTestTools$Backend.psm1"
            Set-Content -LiteralPath $moduleFile -Value 'function Get-JoblibTestTool { "tool:$args" }; function Get-JoblibTestOther { "other" }'
            Import-Module $moduleFile -Force
            try {
                $out = 1..2 | Invoke-JoblibParallel { Get-JoblibTestTool $_ } @run
                $out | Should -Be @('tool:1', 'tool:2')
                $out = 1..2 | Invoke-JoblibParallel { & (Get-Command -Name 'Get-JoblibTestOther') } @run -ImportModule $moduleFile
                $out | Should -Be @('other', 'other')
            }
            finally {
                Remove-Module "JoblibTestTools$Backend" -ErrorAction Ignore
            }
        }

        It 'runs -InitializationScript once in each worker, where items see what it defines' {
            $JoblibTestInitLog = Join-Path $TestDrive "init-$Backend.txt"
            $init = { Add-Content -LiteralPath $JoblibTestInitLog -Value 'init'; $prefix = 'pre'; function Format-JoblibTestItem($v) { "${prefix}:$v" } }
            $out = 1..8 | Invoke-JoblibParallel { Format-JoblibTestItem $_ } @run -BatchSize 1 -ImportVariable JoblibTestInitLog -InitializationScript $init
            $out | Should -Be (1..8 | ForEach-Object { "pre:$_" })
            # A backend with workers of its own prepares each once; one that borrows a warm runspace per batch
            # (task.Invoke(), as the script-method example does) prepares the runspace of each batch.
            $most = if ($ScriptMethods) { 8 } else { $NJobs }
            @(Get-Content -LiteralPath $JoblibTestInitLog).Count | Should -BeLessOrEqual $most -Because 'it runs once per worker, not per item or batch'
        }

        It 'fails the call with JoblibInitializationFailed when -InitializationScript throws' {
            $err = $null
            try { 1..2 | Invoke-JoblibParallel { $_ } @run -InitializationScript { throw 'no database' } }
            catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInitializationFailed,*'
            $err.Exception.Message | Should -Match 'no database'
        }

        It 'keeps going past failed items with -OnError Continue, each failure an error record in its place' {
            $out = 1..9 | Invoke-JoblibParallel { if ($_ % 3 -eq 0) { throw "bad $_" }; $_ } @run -OnError Continue -ErrorVariable failures -ErrorAction SilentlyContinue
            $out | Should -Be @(1, 2, 4, 5, 7, 8)
            $failures.Count | Should -Be 3
            $failures | ForEach-Object { $_.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*' }
            @($failures | ForEach-Object TargetObject) | Should -Be @(3, 6, 9)
            $failures[0].Exception.Message | Should -Be 'bad 3'
        }

        It 'writes each failure at its place in ordered output with -OnError Continue' {
            $all = 1..5 | Invoke-JoblibParallel { if ($_ -eq 3) { throw 'three' }; $_ } @run -OnError Continue -ErrorAction Continue 2>&1
            @($all | ForEach-Object { if ($_ -is [System.Management.Automation.ErrorRecord]) { 'E' } else { $_ } }) | Should -Be @(1, 2, 'E', 4, 5)
        }

        It 'tries a failed item again with -Retry and writes only the successful attempt' {
            $dir = Join-Path $TestDrive "retry-$Backend-$([guid]::NewGuid().ToString('N'))"
            $null = New-Item -ItemType Directory -Path $dir
            $out = 1..4 | Invoke-JoblibParallel {
                $log = Join-Path $using:dir "$_.txt"
                Add-Content -LiteralPath $log -Value 'try'
                "attempt $(@(Get-Content -LiteralPath $log).Count) of $_"
                if ($_ -eq 2 -and @(Get-Content -LiteralPath $log).Count -lt 3) { throw 'flaky' }
            } @run -Retry 3 -Verbose 4>&1 | Tee-Object -Variable all | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] }
            $out | Should -Be @('attempt 1 of 1', 'attempt 3 of 2', 'attempt 1 of 3', 'attempt 1 of 4') -Because "the call wrote: $($all -join ' | ')"
        }

        It 'says how many attempts an item failed after -Retry' {
            $err = $null
            try { 1 | Invoke-JoblibParallel { throw 'always' } @run -Retry 2 } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*'
            $err.ToString() | Should -Match 'all 3 attempts'
        }

        It 'runs a retry on another worker where one is idle' -Skip:($NJobs -lt 2 -or $ScriptMethods) {
            $dir = Join-Path $TestDrive "elsewhere-$Backend"
            $null = New-Item -ItemType Directory -Path $dir -Force
            $out = 1..2 | Invoke-JoblibParallel {
                $log = Join-Path $using:dir "$_.txt"
                $me = "$PID/$([runspace]::DefaultRunspace.InstanceId)"
                Add-Content -LiteralPath $log -Value $me
                # Item 2 is done (its worker idle) well before item 1 fails: the retry prefers that idle worker.
                if ($_ -eq 1) { Start-Sleep -Milliseconds 300 }
                if ($_ -eq 1 -and @(Get-Content -LiteralPath $log).Count -lt 2) { throw 'once' }
                $me
            } @run -Retry 1 -BatchSize 1
            $attempts = @(Get-Content -LiteralPath (Join-Path $dir '1.txt'))
            $attempts.Count | Should -Be 2
            $attempts[1] | Should -Not -Be $attempts[0]
        }

        It 'keeps a dry run dry: $WhatIfPreference reaches the workers' {
            $WhatIfPreference = $true
            $target = Join-Path $TestDrive "whatif-$Backend"
            1..2 | Invoke-JoblibParallel { New-Item -ItemType File -Path "$using:target-$_" } @run
            $WhatIfPreference = $false
            Test-Path -LiteralPath "$target-1" | Should -BeFalse
            $out = 1 | Invoke-JoblibParallel { $WhatIfPreference } @run
            [bool]$out | Should -BeFalse
        }

        # On sequential the block runs in the caller's own session, and the contract's remote sessions are the
        # caller's (opened with its host): a prompt there reaches the caller's host, as it would without JoblibPS.
        It 'fails an item that asks for confirmation instead of hanging' -Skip:($Backend -eq 'sequential' -or $Remote) {
            $target = Join-Path $TestDrive "confirm-$Backend.txt"
            Set-Content -LiteralPath $target -Value 'keep'
            $null = 1 | Invoke-JoblibParallel { Remove-Item -LiteralPath $using:target -Confirm } @run -ErrorVariable asked -ErrorAction SilentlyContinue
            $asked.Count | Should -BeGreaterThan 0
            "$($asked[0])" | Should -Match 'user interaction|prompt'
            Test-Path -LiteralPath $target | Should -BeTrue
        }

        It 'takes -ThrottleLimit as -NJobs' {
            $out = 1..3 | Invoke-JoblibParallel { $_ } -Backend $run.Backend -ThrottleLimit $NJobs
            $out | Should -Be @(1, 2, 3)
        }

        It 'ends a call with one -Verbose line: items done, failed, retried, timed out' {
            $lines = 1..4 | Invoke-JoblibParallel { if ($_ -eq 4) { throw 'x' }; $_ } @run -OnError Continue -ErrorAction SilentlyContinue -Verbose 4>&1 |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
            $lines | Should -Contain 'Items done: 3, failed: 1, retried: 0, timed out: 0.'
        }
    }

    Context 'Nesting' -Skip:$LifeOnly {
        # On another machine a nested call needs JoblibPS installed there; the test hosts only have pwsh.
        It 'runs an Invoke-JoblibParallel inside an item' -Skip:$Remote {
            $out = 1..2 | Invoke-JoblibParallel {
                $outer = $_
                1..2 | Invoke-JoblibParallel { '{0}.{1}' -f $using:outer, $_ } -NJobs 2
            } @run
            $out | Should -Be @('1.1', '1.2', '2.1', '2.2')
        }
    }
}
