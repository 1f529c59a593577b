# The remote backend against real SSH hosts: sshd instances on loopback addresses of this machine (127.0.0.2 and
# 127.0.0.3, one port derived from this process id), each with its own host key and the PowerShell subsystem,
# started here and stopped by pid at the end (tests/Remote/SshTestHosts.psm1). Skipped, saying why, where
# /usr/sbin/sshd is missing (.ci/run installs openssh-server).
#
# Opening SSH workers costs seconds on a loaded machine, so each Context opens its workers once, in BeforeAll, and
# its tests assert on what that run recorded.

BeforeDiscovery {
    $NoSshd = -not (Test-Path -LiteralPath '/usr/sbin/sshd')
    if ($NoSshd) {
        Write-Warning 'RemoteBackend.Tests.ps1 is skipped: /usr/sbin/sshd is missing (.ci/run installs openssh-server).'
    }
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $null = Import-JoblibTestModule
    Import-Module (Join-Path $PSScriptRoot '../Remote/SshTestHosts.psm1') -Force

    $WorkerName = 'JoblibPS remote worker'

    # The messages of the warning and verbose records among $Records.
    function Get-RecordMessage {
        param($Records, [type] $Type)
        @($Records | Where-Object { $_ -is $Type } | ForEach-Object Message)
    }

    # Starts a runspace that stops $SshHost (sshd and the sessions it serves) as soon as a file matching $Filter
    # appears in $Directory: the items create such files when they start. The test hosts are this machine, so the
    # file a remote item creates is seen here at once (a $using: collection would be a copy on the remote side).
    function Start-HostKiller {
        param([string] $Directory, [string] $Filter, [object[]] $SshHost)
        $killer = [powershell]::Create()
        $null = $killer.AddScript({
            param($Directory, $Filter, $SshHost, $Module)
            Import-Module $Module
            $watcher = [System.IO.FileSystemWatcher]::new($Directory, $Filter)
            try {
                $null = Register-ObjectEvent -InputObject $watcher -EventName Created -SourceIdentifier ItemStarted
                $watcher.EnableRaisingEvents = $true
                if (-not (Get-ChildItem -LiteralPath $Directory -Filter $Filter)) {
                    if (-not (Wait-Event -SourceIdentifier ItemStarted -Timeout 120)) { throw "No file '$Filter' appeared in $Directory." }
                }
                $SshHost | Stop-JoblibSshHost
            }
            finally {
                Unregister-Event -SourceIdentifier ItemStarted -ErrorAction Ignore
                $watcher.Dispose()
            }
        }).AddArgument($Directory).AddArgument($Filter).AddArgument($SshHost).AddArgument((Join-Path $PSScriptRoot '../Remote/SshTestHosts.psm1'))
        [pscustomobject]@{ PowerShell = $killer; Handle = $killer.BeginInvoke() }
    }

    function Wait-HostKiller {
        param($Killer)
        try { $null = $Killer.PowerShell.EndInvoke($Killer.Handle) }
        finally { $Killer.PowerShell.Dispose() }
    }

    # An item that records where it started (the server address sshd saw), then takes a moment.
    $MarkedItem = {
        $server = ($env:SSH_CONNECTION -split ' ')[2]
        $null = New-Item -ItemType File -Path (Join-Path $using:marks "started-$_-$server") -Force
        Start-Sleep -Milliseconds 300
        $_
    }
}

Describe 'Remote backend over SSH' -Skip:$NoSshd {
    BeforeAll {
        $port = 20000 + ($PID % 20000)
        $root = Join-Path $TestDrive 'ssh'
        $hostA = Start-JoblibSshHost -Address 127.0.0.2 -Port $port -Root $root
        $hostB = Start-JoblibSshHost -Address 127.0.0.3 -Port $port -Root $root
        # Nothing listens there.
        $unreachable = '127.0.0.4'
        # Host keys are generated per run: the test accepts new ones into a known_hosts file of its own.
        $ssh = @{ Port = $port; KeyFilePath = $hostA.KeyFilePath; Options = (Get-JoblibSshOptions $hostA) }
    }

    AfterAll {
        @($hostA, $hostB) | Where-Object { $_ } | Stop-JoblibSshHost
    }

    Context 'Backend arguments (nothing connects)' {
        It 'refuses a password given as a plain string, without repeating it' {
            $err = $null
            try { Use-JoblibConfig remote -BackendArgument @{ HostName = 'web1'; Credential = 'Pl4in-Secret' } { } } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidBackendArgument,*'
            $err.Exception.Message | Should -BeLike '*must be a PSCredential*'
            $err.Exception.Message | Should -Not -BeLike '*Pl4in-Secret*'
        }

        It 'rejects an unknown argument, listing the accepted ones and where a password goes' {
            $err = $null
            try { Use-JoblibConfig remote -BackendArgument @{ HostName = 'web1'; Password = 'Pl4in-Secret' } { } } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidBackendArgument,*'
            $err.Exception.Message | Should -BeLike "*'Password'*HostName, UserName, KeyFilePath, Port, Options, JobsPerHost, RemoteLocation, Credential, Session*PSCredential*"
            $err.Exception.Message | Should -Not -BeLike '*Pl4in-Secret*'
        }

        It 'needs HostName or Session, and not both' {
            { Use-JoblibConfig remote { } } | Should -Throw -ExpectedMessage '*HostName*Session*' -ErrorId 'JoblibInvalidBackendArgument,Use-JoblibConfig'
            $session = [pscustomobject]@{}
            { Use-JoblibConfig remote -BackendArgument @{ HostName = 'web1'; Session = $session } { } } |
                Should -Throw -ExpectedMessage '*either HostName*or Session*' -ErrorId 'JoblibInvalidBackendArgument,Use-JoblibConfig'
        }
    }

    Context 'Hosts named by HostName: the backend opens the SSH workers' {
        BeforeAll {
            $password = 'S3cret-' + [guid]::NewGuid().ToString('N')
            $credential = [pscredential]::new([Environment]::UserName, (ConvertTo-SecureString $password -AsPlainText -Force))
            $arguments = $ssh + @{ HostName = $hostA.HostName, $hostB.HostName, $unreachable; Credential = $credential }
            $sessionsBefore = @(Get-PSSession).Count
            Push-Location -LiteralPath $TestDrive
            try {
                $run = Use-JoblibConfig remote -BackendArgument $arguments {
                    $config = Get-JoblibConfig
                    $first = 1..12 | Invoke-JoblibParallel {
                        Write-Warning "worker-warning-$_"
                        Write-Verbose "worker-verbose-$_"
                        "$_|$((Get-Location).ProviderPath)"
                    } -BatchSize 1 -Verbose -WarningAction SilentlyContinue -WarningVariable warnings 4>&1
                    $workers = @(Get-Runspace | Where-Object Name -EQ $WorkerName)
                    $second = 1..6 | Invoke-JoblibParallel { $_ * 2 } -BatchSize 1
                    $third = 1..2 | Invoke-JoblibParallel { Write-Error "worker-error-$_"; Write-Information "worker-info-$_"; $_ } -BatchSize 1 `
                        -ErrorAction SilentlyContinue -ErrorVariable workerErrors -InformationVariable workerInfo
                    [pscustomobject]@{
                        Config        = $config
                        First         = $first
                        Warnings      = @($warnings | ForEach-Object Message)
                        Workers       = $workers.Count
                        PSSessions    = @(Get-PSSession).Count
                        Second        = $second
                        Third         = $third
                        Errors        = @($workerErrors)
                        Information   = @($workerInfo)
                        WorkersLater  = @(Get-Runspace | Where-Object Name -EQ $WorkerName).Count
                    }
                }
            }
            finally {
                Pop-Location
            }
            $workersAfter = @(Get-Runspace | Where-Object Name -EQ $WorkerName).Count
            $output = @($run.First | Where-Object { $_ -isnot [System.Management.Automation.VerboseRecord] })
            $verbose = Get-RecordMessage $run.First ([System.Management.Automation.VerboseRecord])
        }

        It 'opens one worker per remote processor on each reachable host (JobsPerHost defaults to the processor count)' {
            $expected = 2 * [Environment]::ProcessorCount
            $run.Workers | Should -Be $expected
            $verbose | Should -Contain "Using backend remote with $expected concurrent workers."
        }

        It 'warns about the unreachable host, naming it and why, and carries on with the others' {
            @($run.Warnings -like "Host '$unreachable' could not be reached*") | Should -HaveCount 1
            $run.Warnings -like "Host '$unreachable'*" | Should -BeLike '*Connection refused*'
            $output | Should -HaveCount 12
        }

        It 'returns every item once, in order, tagged with PSComputerName' {
            @($output | ForEach-Object { [int]("$_" -split '\|')[0] }) | Should -Be (1..12)
            @($output.PSComputerName | Sort-Object -Unique) | Should -Be @($hostA.HostName, $hostB.HostName)
        }

        It "starts items in the remote user's home, not in the caller's location" {
            $homes = @($output | ForEach-Object { ("$_" -split '\|')[1] } | Sort-Object -Unique)
            $homes | Should -Be @($HOME)
            $homes | Should -Not -Contain $TestDrive
        }

        It 'tags worker warnings and verbose messages with their host' {
            $tagged = $run.Warnings -match '^\[127\.0\.0\.[23]\] worker-warning-\d+$'
            @($tagged) | Should -HaveCount 12
            @($verbose -match '^\[127\.0\.0\.[23]\] worker-verbose-\d+$') | Should -HaveCount 12
        }

        It 'tags worker errors and information records with PSComputerName' {
            @($run.Errors | ForEach-Object { "$_" }) | Should -Be @('worker-error-1', 'worker-error-2')
            $hosts = @($hostA.HostName, $hostB.HostName)
            $errorHosts = @($run.Errors | ForEach-Object { $_.PSObject.Properties['PSComputerName'].Value })
            $errorHosts | Should -HaveCount $run.Errors.Count
            foreach ($name in $errorHosts) { $name | Should -BeIn $hosts }
            @($run.Information) | Should -Not -BeNullOrEmpty
            $informationHosts = @($run.Information | ForEach-Object { $_.PSObject.Properties['PSComputerName'].Value })
            $informationHosts | Should -HaveCount $run.Information.Count
            foreach ($name in $informationHosts) { $name | Should -BeIn $hosts }
        }

        It 'reuses its workers for every call in the scope' {
            @($run.Second) | Should -Be @(2, 4, 6, 8, 10, 12)
            @($run.Third) | Should -Be @(1, 2)
            $run.WorkersLater | Should -Be $run.Workers
        }

        It 'opens no PSSession of the caller and closes its workers when the scope ends' {
            $run.PSSessions | Should -Be $sessionsBefore
            $workersAfter | Should -Be 0
        }

        It 'keeps the key and the password out of Get-JoblibConfig and out of its messages' {
            $run.Config.BackendArgument['KeyFilePath'] | Should -Be '********'
            $run.Config.BackendArgument['Credential'] | Should -Be '********'
            $text = ($run.Warnings + $verbose) -join "`n"
            $text | Should -Not -BeLike "*$password*"
            $text | Should -Not -BeLike "*$($hostA.KeyFilePath)*"
            $run.Warnings | Should -Contain 'The password of Credential was not used: PowerShell''s SSH transport signs in with keys (KeyFilePath, or ssh-agent), not passwords. Only its user name was used.'
        }
    }

    Context 'No host reachable' {
        It 'fails the first call with JoblibRemoteNoHostReachable, naming every host and why' {
            $err = $null
            try {
                Use-JoblibConfig remote -BackendArgument ($ssh + @{ HostName = $unreachable, '127.0.0.5' }) {
                    1..2 | Invoke-JoblibParallel { $_ }
                }
            }
            catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibRemoteNoHostReachable,*'
            $err.Exception.Message | Should -BeLike "*'$unreachable'*Connection refused*'127.0.0.5'*Connection refused*"
        }
    }

    Context 'Stopping while connecting' {
        It 'stops within about a second on Ctrl+C while a host is still connecting, and leaves no ssh running' {
            # A listener that takes connections and never speaks SSH: the opening hangs in the handshake.
            $listener = [System.Net.Sockets.TcpListener]::new([ipaddress]'127.0.0.6', $port)
            $listener.Start()
            $ps = [powershell]::Create()
            $accepted = $null
            try {
                $null = $ps.AddScript({
                    param($Module, $Arguments)
                    Import-Module $Module
                    Use-JoblibConfig remote -BackendArgument $Arguments { 1 | Invoke-JoblibParallel { $_ } }
                }).AddArgument((Get-JoblibTestModulePath)).AddArgument($ssh + @{ HostName = '127.0.0.6' })
                $handle = $ps.BeginInvoke()
                $accept = $listener.AcceptTcpClientAsync()
                $accept.Wait(30000) | Should -BeTrue -Because 'the backend must start connecting'
                $accepted = $accept.Result
                Start-Sleep -Milliseconds 500
                $ps.InvocationStateInfo.State | Should -Be 'Running' -Because 'the opening hangs in the handshake'
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                $ps.Stop()
                $clock.Stop()
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 1.5
                $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            }
            finally {
                $listener.Stop()
                if ($accepted) { $accepted.Dispose() }
                $ps.Dispose()
            }
            # With the listener gone the abandoned opening fails, and nothing it started stays.
            $deadline = [DateTime]::UtcNow.AddSeconds(15)
            do {
                $left = @(Get-JoblibChildProcessId -ParentId $PID | Where-Object {
                        (Get-Content -LiteralPath "/proc/$_/cmdline" -Raw -ErrorAction Ignore) -match '127\.0\.0\.6' })
                if (-not $left) { break }
                Start-Sleep -Milliseconds 200
            } while ([DateTime]::UtcNow -lt $deadline)
            $left | Should -BeNullOrEmpty
        }
    }

    Context "Sessions the user opened (Session)" {
        BeforeAll {
            $sessions = @(
                New-PSSession -HostName $hostA.HostName -Port $port -KeyFilePath $hostA.KeyFilePath -Options $ssh.Options
                New-PSSession -HostName $hostB.HostName -Port $port -KeyFilePath $hostA.KeyFilePath -Options $ssh.Options
            )
            Invoke-Command -Session $sessions { $userMark = 'kept'; $ErrorActionPreference = 'Inquire' }
            $location = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'remote-location')).FullName
            $run = Use-JoblibConfig remote -BackendArgument @{ Session = $sessions; RemoteLocation = $location } {
                $first = 1..6 | Invoke-JoblibParallel { "$_|$((Get-Location).ProviderPath)" } -BatchSize 1
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                $failure = $null
                try {
                    1..8 | Invoke-JoblibParallel { if ($_ -eq 1) { Start-Sleep -Milliseconds 300; throw 'item 1 failed' }; Start-Sleep -Seconds 60; $_ } -BatchSize 1
                }
                catch { $failure = $_ }
                $failedAfter = $clock.Elapsed
                $clock.Restart()
                $next = 1..4 | Invoke-JoblibParallel { $_ } -BatchSize 1
                [pscustomobject]@{ First = $first; Failure = $failure; FailedAfter = $failedAfter; Next = $next; NextAfter = $clock.Elapsed }
            }
            $missingLocation = $null
            try {
                Use-JoblibConfig remote -BackendArgument @{ Session = $sessions; RemoteLocation = (Join-Path $TestDrive 'missing') } { 1 | Invoke-JoblibParallel { $_ } }
            }
            catch { $missingLocation = $_ }
        }

        AfterAll {
            $sessions | Remove-PSSession
        }

        It 'runs on the sessions, in RemoteLocation, tagged with their computer names' {
            @($run.First | ForEach-Object { "$_" }) | Should -Be @(1..6 | ForEach-Object { "$_|$location" })
            @($run.First.PSComputerName | Sort-Object -Unique) | Should -Be @($hostA.HostName, $hostB.HostName)
        }

        It 'stops the running remote pipelines when a call fails, and the next call runs at once' {
            $run.Failure.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*'
            $run.FailedAfter.TotalSeconds | Should -BeLessThan 15
            @($run.Next) | Should -Be @(1, 2, 3, 4)
            $run.NextAfter.TotalSeconds | Should -BeLessThan 10 -Because 'the stopped items must not still run on the sessions'
        }

        It 'leaves the sessions open and idle after the scope, with their own variables and preferences' {
            foreach ($session in $sessions) {
                $session.State | Should -Be 'Opened'
                $session.Availability | Should -Be 'Available'
            }
            Invoke-Command -Session $sessions { "$userMark|$ErrorActionPreference" } | Should -Be @('kept|Inquire', 'kept|Inquire')
        }

        It 'leaves no variable of its own in the sessions' {
            $left = Invoke-Command -Session $sessions { (Get-Variable -Name '__Joblib*' -ErrorAction Ignore).Name -join ',' }
            $left | Should -Be @('', '') -Because 'the backend must leave nothing behind in a session it does not own'
        }

        It 'leaves out a session where RemoteLocation does not exist, saying so' {
            $missingLocation.FullyQualifiedErrorId | Should -BeLike 'JoblibRemoteNoHostReachable,*'
            $missingLocation.Exception.Message | Should -BeLike "*RemoteLocation*is not a directory there*"
        }
    }

    # Last: it kills the hosts.
    Context 'Losing hosts mid-run' {
        BeforeAll {
            $marks = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'marks')).FullName
            $arguments = $ssh + @{ HostName = $hostA.HostName, $hostB.HostName; JobsPerHost = 2 }
            $run = Use-JoblibConfig remote -BackendArgument $arguments {
                $null = 1 | Invoke-JoblibParallel { $_ }

                # Host B (sshd and its sessions) dies when item 10 starts.
                $killer = Start-HostKiller -Directory $marks -Filter 'started-10-*' -SshHost $hostB
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                try {
                    $survived = 1..40 | Invoke-JoblibParallel $MarkedItem -BatchSize 1 -WarningAction SilentlyContinue -WarningVariable lostWarnings
                }
                finally {
                    Wait-HostKiller $killer
                }
                $survivedAfter = $clock.Elapsed
                $startedOnB = @(Get-ChildItem -LiteralPath $marks -Filter "started-*-$($hostB.HostName)" | ForEach-Object { [int]($_.Name -split '-')[1] })

                # Then the last host, host A, dies when item 3 of the next call starts.
                Remove-Item -Path (Join-Path $marks '*')
                $killer = Start-HostKiller -Directory $marks -Filter 'started-3-*' -SshHost $hostA
                $allLost = $null
                try { $null = 1..40 | Invoke-JoblibParallel $MarkedItem -BatchSize 1 -WarningAction SilentlyContinue }
                catch { $allLost = $_ }
                finally { Wait-HostKiller $killer }

                $reconnect = $null
                try { $null = 1 | Invoke-JoblibParallel { $_ } }
                catch { $reconnect = $_ }
                [pscustomobject]@{
                    Survived      = $survived
                    SurvivedAfter = $survivedAfter
                    Warnings      = @($lostWarnings | ForEach-Object Message)
                    StartedOnB    = $startedOnB
                    AllLost       = $allLost
                    Reconnect     = $reconnect
                }
            }
        }

        It 'writes every one of 40 items exactly once, in order, when a host dies mid-run' {
            @($run.Survived) | Should -Be (1..40)
            $run.SurvivedAfter.TotalSeconds | Should -BeLessThan 30 -Because 'a dead host must be noticed within seconds'
        }

        It 'ran the batches of the lost host again on the other host' {
            $rerun = @($run.Survived | Where-Object { $_.PSComputerName -eq $hostA.HostName -and [int]$_ -in $run.StartedOnB })
            $rerun.Count | Should -BeGreaterThan 0 -Because 'items that had started on the killed host come back from the surviving one'
        }

        It 'warns once, naming the lost host (no warning of its own for each of its lost workers)' {
            @($run.Warnings -like "Lost host '$($hostB.HostName)':*") | Should -HaveCount 1
            @($run.Warnings -like "*'$($hostB.HostName)'*") | Should -HaveCount 1 -Because "the warnings were: $($run.Warnings -join ' | ')"
        }

        It 'fails with JoblibRemoteHostsLost, naming every host, when the last host dies' {
            $run.AllLost.FullyQualifiedErrorId | Should -BeLike 'JoblibRemoteHostsLost,*'
            $run.AllLost.Exception.Message | Should -BeLike "*'$($hostA.HostName)'*'$($hostB.HostName)'*"
        }

        It 'connects again on the next call, and says so when nothing answers' {
            $run.Reconnect.FullyQualifiedErrorId | Should -BeLike 'JoblibRemoteNoHostReachable,*'
        }

        It 'leaves no worker runspace behind' {
            @(Get-Runspace | Where-Object Name -EQ $WorkerName) | Should -HaveCount 0
        }
    }
    Context 'Eight hosts, two lost mid-run, a timeout and Ctrl+C' {
        BeforeAll {
            # Eight loopback hosts with one worker each, on a port of their own; two die while a call runs.
            $eightPort = $port + 1
            $eight = @(2..9 | ForEach-Object { Start-JoblibSshHost -Address "127.0.0.$_" -Port $eightPort -Root $root })
            $doomed = @($eight[3], $eight[6])
            $eightArguments = @{ HostName = @($eight.HostName); Port = $eightPort; KeyFilePath = $eight[0].KeyFilePath; Options = (Get-JoblibSshOptions $eight[0]); JobsPerHost = 1 }
            $eightMarks = (New-Item -ItemType Directory -Path (Join-Path $TestDrive 'eight-marks')).FullName
            $marks = $eightMarks
            $run = Use-JoblibConfig remote -BackendArgument $eightArguments {
                $null = 1..8 | Invoke-JoblibParallel { $_ } -BatchSize 1
                $killers = @(
                    Start-HostKiller -Directory $eightMarks -Filter 'started-20-*' -SshHost $doomed[0]
                    Start-HostKiller -Directory $eightMarks -Filter 'started-40-*' -SshHost $doomed[1]
                )
                try {
                    $survived = 1..80 | Invoke-JoblibParallel $MarkedItem -WarningAction SilentlyContinue -WarningVariable lostWarnings
                }
                finally {
                    $killers | ForEach-Object { Wait-HostKiller $_ }
                }
                $timedOut = $null
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                try { $null = 1..12 | Invoke-JoblibParallel { if ($_ -eq 5) { Start-Sleep -Seconds 60 }; $_ } -BatchSize 1 -TimeoutSeconds 2 }
                catch { $timedOut = $_ }
                $timeoutSeconds = $clock.Elapsed.TotalSeconds
                [pscustomobject]@{
                    Survived       = $survived
                    Warnings       = @($lostWarnings | ForEach-Object Message)
                    TimedOut       = $timedOut
                    TimeoutSeconds = $timeoutSeconds
                    After          = 1..12 | Invoke-JoblibParallel { $_ }
                }
            }

            # Ctrl+C during a call on the six hosts left, in a PowerShell of its own, as a user's script would be.
            Import-Module (Join-Path $PSScriptRoot '../Reliability/Reliability.psm1') -Force
            $alive = @($eight | Where-Object { $_ -notin $doomed })
            $sixArguments = @{ HostName = @($alive.HostName); Port = $eightPort; KeyFilePath = $eight[0].KeyFilePath; Options = (Get-JoblibSshOptions $eight[0]); JobsPerHost = 1 }
            $stop = Measure-JoblibCtrlC -ModulePath (Get-JoblibTestModulePath) -Arguments $sixArguments -After 10 -WaitSeconds 90 `
                -Call 'Use-JoblibConfig remote -BackendArgument $Arguments { 1..400 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 200; $_ } -BatchSize 1 }'
        }

        AfterAll {
            $eight | Where-Object { $_ } | Stop-JoblibSshHost
        }

        It 'writes every one of 80 items exactly once, in order, when two of eight hosts die mid-run' {
            @($run.Survived) | Should -Be (1..80)
        }

        It 'warns exactly once for each lost host, and names no other host' {
            foreach ($lost in $doomed) {
                @($run.Warnings -like "*'$($lost.HostName)'*") | Should -HaveCount 1 -Because "the warnings were: $($run.Warnings -join ' | ')"
                @($run.Warnings -like "Lost host '$($lost.HostName)':*") | Should -HaveCount 1
            }
            @($run.Warnings).Count | Should -Be 2 -Because "the warnings were: $($run.Warnings -join ' | ')"
        }

        It 'fails an item stuck past -TimeoutSeconds with JoblibTaskTimeout on that item, within seconds, and the next call runs' {
            $run.TimedOut.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskTimeout,*'
            $run.TimedOut.TargetObject | Should -Be 5
            $run.TimeoutSeconds | Should -BeLessThan 15
            @($run.After) | Should -Be (1..12)
        }

        It 'stops a call on six hosts within about a second on Ctrl+C, after writing its first items in order' {
            $stop.State | Should -Be 'Stopped'
            $stop.Seconds | Should -BeLessThan 3
            $stop.Output.Count | Should -BeGreaterOrEqual 10
            @($stop.Output) | Should -Be (1..$stop.Output.Count)
        }

        It 'leaves no ssh client and no worker runspace behind' {
            $deadline = [DateTime]::UtcNow.AddSeconds(15)
            do {
                $clients = @(Get-JoblibChildProcessId -ParentId $PID | Where-Object {
                        (Get-Content -LiteralPath "/proc/$_/comm" -ErrorAction Ignore) -eq 'ssh' -and
                        (Get-Content -LiteralPath "/proc/$_/cmdline" -Raw -ErrorAction Ignore) -match "$eightPort" })
                if (-not $clients) { break }
                Start-Sleep -Milliseconds 200
            } while ([DateTime]::UtcNow -lt $deadline)
            $clients | Should -BeNullOrEmpty
            @(Get-Runspace | Where-Object Name -EQ $WorkerName) | Should -HaveCount 0
        }
    }
}
