# The process backends (loky, multiprocessing) as a user sees them: what travels to a worker and back, the
# workers' environment, loky's reusable pool (reuse, resize, recycling, idle exit), crashes, aborts, nesting,
# and that no pwsh outlives its owner. What every backend owes (ordering, streams, errors, timeouts) is in
# Contract.Tests.ps1, which runs against both.
#
# Waiting: a test waits for a process to exit (Process.WaitForExit), for a line from a child pwsh, or for a
# call to return; never for a guessed time. Time limits below are upper bounds on a loaded 2-core machine.

BeforeDiscovery {
    # An item that overflows the .NET stack for real (PowerShell's own recursion guard would catch a recursive
    # script function): a dynamic method that calls itself.
    $stackOverflow = @'
$method = [System.Reflection.Emit.DynamicMethod]::new('Recurse', [int], [type[]]@([int]))
$il = $method.GetILGenerator()
$il.Emit([System.Reflection.Emit.OpCodes]::Ldarg_0)
$il.Emit([System.Reflection.Emit.OpCodes]::Call, [System.Reflection.MethodInfo]$method)
$il.Emit([System.Reflection.Emit.OpCodes]::Ldc_I4_1)
$il.Emit([System.Reflection.Emit.OpCodes]::Add)
$il.Emit([System.Reflection.Emit.OpCodes]::Ret)
$method.CreateDelegate([Func[int, int]]).Invoke(0)
'@
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $modulePath = Import-JoblibTestModule
    $pwsh = if ($env:JOBLIBPS_PWSH) { $env:JOBLIBPS_PWSH } else { Join-Path $PSHOME $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' }) }
    $loky = @{ Backend = 'loky'; NJobs = 2 }

    # The worker process ids that ran the items of a call (one per item). The first -Together items (the run's NJobs,
    # else 2) wait for each other before they return, so they run on that many different workers at once: a pool
    # that opens workers on demand shows all of them, whichever starts first.
    function Get-WorkerPid {
        param([hashtable] $Run, [int] $Items = 4, [int] $Together = 0)
        $n = if ($Together) { $Together } elseif ($Run.ContainsKey('NJobs')) { $Run.NJobs } else { 2 }
        $need = [Math]::Min($n, $Items)
        $dir = Join-Path $TestDrive ('together-' + [guid]::NewGuid().ToString('N'))
        $null = New-Item -ItemType Directory -Path $dir
        1..$Items | Invoke-JoblibParallel {
            $null = New-Item -ItemType File -Path (Join-Path $using:dir "$_")
            $deadline = [DateTime]::UtcNow.AddSeconds(60)
            while (@(Get-ChildItem -LiteralPath $using:dir).Count -lt $using:need -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 20 }
            $PID
        } @Run -BatchSize 1
    }

    # True when every process of -Id has exited within -Seconds (or was already gone).
    function Wait-ProcessExit {
        param([int[]] $Id, [int] $Seconds = 20)
        foreach ($one in $Id) {
            $process = Get-Process -Id $one -ErrorAction Ignore
            if ($process -and -not $process.WaitForExit($Seconds * 1000)) { return $false }
        }
        $true
    }

    # The pwsh processes whose parent is this process (the workers this test process started).
    function Get-ChildPwsh {
        @(Get-Process -Name pwsh -ErrorAction Ignore | Where-Object { $_.Parent -and $_.Parent.Id -eq $PID })
    }

    # Ends every worker process of the module, as Remove-Module does, without removing the module.
    function Stop-JoblibWorkerProcesses {
        [JoblibPS.ParallelBackendBase].Assembly.GetType('JoblibPS.Backends.Process.ProcessPools', $true).GetMethod('ShutdownAll').Invoke($null, @())
    }

    # Starts a child pwsh running -Script with this module imported; returns the Process (stdout redirected).
    function Start-ChildPwsh {
        param([string] $Script)
        $escaped = $modulePath -replace "'", "''"
        $full = "`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; Import-Module '$escaped'; $Script"
        $info = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
        foreach ($argument in '-NoProfile', '-NonInteractive', '-EncodedCommand', [Convert]::ToBase64String([Text.Encoding]::Unicode.GetBytes($full))) {
            $info.ArgumentList.Add($argument)
        }
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardInput = $true
        $info.UseShellExecute = $false
        $info.Environment['NO_COLOR'] = '1'
        [System.Diagnostics.Process]::Start($info)
    }

    # The next line the child writes, waiting at most -Seconds; throws when none comes.
    function Read-ChildLine {
        param([System.Diagnostics.Process] $Process, [int] $Seconds = 90)
        $read = $Process.StandardOutput.ReadLineAsync()
        if (-not $read.Wait($Seconds * 1000)) { throw "The child pwsh wrote nothing for $Seconds s." }
        if ($null -eq $read.Result) { throw "The child pwsh ended (exit code $(if ($Process.HasExited) { $Process.ExitCode }))." }
        $read.Result
    }

}

AfterAll {
    # Later test files start from no process workers at all.
    Stop-JoblibWorkerProcesses
}

Describe 'Process backends' {
    Context 'Registration and arguments' {
        It 'registers loky and multiprocessing, both with SupportsInnerMaxNumThreads' {
            foreach ($name in 'loky', 'multiprocessing') {
                $backend = (Get-JoblibBackend -Name $name)
                $backend | Should -Not -BeNullOrEmpty
            }
            [JoblibPS.Backends.Process.LokyBackend]::new().SupportsInnerMaxNumThreads | Should -BeTrue
            [JoblibPS.Backends.Process.MultiprocessingBackend]::new().SupportsInnerMaxNumThreads | Should -BeTrue
        }

        It 'rejects an unknown backend argument, listing the accepted ones' {
            $err = $null
            try { Use-JoblibConfig -Backend loky -BackendArgument @{ Bogus = 1 } { 1 | Invoke-JoblibParallel { $_ } -NJobs 2 } } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidBackendArgument*'
            $err.Exception.Message | Should -BeLike "*'Bogus'*PwshPath, IdleTimeoutSeconds, MaxTasksPerWorker, Environment*"
        }

        It 'reads backend arguments case-insensitively' {
            $out = Use-JoblibConfig -Backend loky -BackendArgument @{ pwshpath = $pwsh; idletimeoutseconds = 300 } { 1..2 | Invoke-JoblibParallel { $_ } -NJobs 2 }
            $out | Should -Be @(1, 2)
        }

        It 'says which PwshPath does not exist' {
            $err = $null
            try { Use-JoblibConfig -Backend multiprocessing -BackendArgument @{ PwshPath = '/no/such/pwsh' } { 1 | Invoke-JoblibParallel { $_ } -NJobs 2 } } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibInvalidBackendArgument*'
            $err.Exception.Message | Should -BeLike '*/no/such/pwsh*does not exist*'
        }

        It 'is chosen by Use-JoblibConfig -Prefer processes (loky)' {
            $messages = Use-JoblibConfig -Prefer processes { 1..2 | Invoke-JoblibParallel { $_ } -NJobs 2 -Verbose 4>&1 } |
                Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | ForEach-Object Message
            $messages | Should -Contain 'Using backend loky with 2 concurrent workers.'
        }

        It 'falls back to sequential with one job, as joblib does' {
            $messages = 1 | Invoke-JoblibParallel { $PID } -Backend loky -NJobs 1 -Verbose 4>&1 | ForEach-Object { "$_" }
            $messages | Should -Contain 'Using backend sequential with 1 concurrent worker.'
            $messages | Should -Contain "$PID"
        }
    }

    Context 'What travels' {
        It 'runs items in other processes and returns deserialized results' {
            $out = 1..2 | Invoke-JoblibParallel { [pscustomobject]@{ Value = $_; Pid = $PID; Process = Get-Process -Id $PID } } @loky
            $out.Value | Should -Be @(1, 2)
            $out.Pid | Should -Not -Contain $PID
            $out[0].pstypenames[0] | Should -Be 'Deserialized.System.Management.Automation.PSCustomObject'
            $out[0].Process.pstypenames[0] | Should -Be 'Deserialized.System.Diagnostics.Process'
            $out[0].Process.psobject.Methods.Name | Should -Not -Contain 'Kill' -Because 'a deserialized object is a property bag'
        }

        It 'sends files and folders by path: they arrive as live FileInfo and DirectoryInfo of the same file (<Backend>)' -ForEach @(
            @{ Backend = 'loky' }
            @{ Backend = 'multiprocessing' }
        ) {
            $file = Join-Path $TestDrive 'by-path.txt'
            Set-Content -LiteralPath $file -Value 'content'
            $items = @(Get-Item -LiteralPath $file) + @(Get-Item -LiteralPath $TestDrive) + @('plain')
            $out = $items | Invoke-JoblibParallel {
                if ($_ -is [System.IO.FileSystemInfo]) { '{0}|{1}|{2}' -f $_.GetType().Name, $_.FullName, $_.Exists } else { "string|$_" }
            } -Backend $Backend -NJobs 2
            $out | Should -Be @("FileInfo|$file|True", "DirectoryInfo|$((Get-Item -LiteralPath $TestDrive).FullName)|True", 'string|plain')
            $hash = Get-Item -LiteralPath $file | Invoke-JoblibParallel { (Get-FileHash $_).Hash } -Backend $Backend -NJobs 2
            $hash | Should -Be (Get-FileHash -LiteralPath $file).Hash
        }

        It 'carries items, -ArgumentList values, $using: values and the current location' {
            $table = @{ Key = 'from the caller' }
            $offset = 10
            Push-Location -LiteralPath $TestDrive
            try {
                $out = 1..2 | Invoke-JoblibParallel { param($x, $a) "$($x + $using:offset)|$a|$($using:table['Key'])|$PWD" } -ArgumentList 'arg' @loky
            }
            finally {
                Pop-Location
            }
            $out | Should -Be @("11|arg|from the caller|$TestDrive", "12|arg|from the caller|$TestDrive")
        }

        It 'gives array items back their array type' {
            Invoke-JoblibParallel { "$($_.GetType().Name):$($_.Count)" } -InputObject @(1, 2) @loky | Should -Be 'Object[]:2'
        }

        It 'sorts deserialized records into their streams, an error becoming a real ErrorRecord' {
            $all = 1 | Invoke-JoblibParallel { Write-Warning 'w'; Write-Verbose 'v' -Verbose; Write-Error 'e'; Write-Information 'i'; 'out' } @loky -Verbose -ErrorAction Continue 2>&1 3>&1 4>&1 6>&1
            ($all | Where-Object { $_ -is [System.Management.Automation.WarningRecord] }).Message | Should -Be 'w'
            ($all | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] -and $_.Message -eq 'v' }) | Should -Not -BeNullOrEmpty
            $err = $all | Where-Object { $_ -is [System.Management.Automation.ErrorRecord] }
            "$err" | Should -Be 'e'
            $err.FullyQualifiedErrorId | Should -BeLike 'Microsoft.PowerShell.Commands.WriteErrorException*'
            ($all | Where-Object { $_ -is [System.Management.Automation.InformationRecord] }).MessageData | Should -Be 'i'
            $all | Where-Object { $_ -is [string] } | Should -Be 'out'
        }

        It 'reports a terminating error with the worker''s message and the item' {
            $err = $null
            try { 1..3 | Invoke-JoblibParallel { if ($_ -eq 2) { throw "boom $_" }; $_ } @loky | Out-Null } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibTaskFailed,*'
            $err.Exception.Message | Should -Be 'boom 2'
            $err.TargetObject | Should -Be 2
        }

        It 'names an -ArgumentList value that cannot be serialized (JoblibValueCannotTravel)' {
            Add-Type -TypeDefinition 'public class JoblibTestUnenumerable : System.Collections.IEnumerable { public System.Collections.IEnumerator GetEnumerator() { throw new System.InvalidOperationException("cannot enumerate me"); } }'
            $err = $null
            try { 1 | Invoke-JoblibParallel { param($x, $a) $x } -ArgumentList ([JoblibTestUnenumerable]::new()) @loky } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibValueCannotTravel,*'
            $err.Exception.Message | Should -BeLike '*-ArgumentList value 1*cannot enumerate me*'
        }

        It 'names the item whose output cannot be serialized back (JoblibValueCannotTravel)' {
            $err = $null
            $out = @()
            try {
                1..3 | Invoke-JoblibParallel {
                    if ($_ -eq 2) {
                        Add-Type -TypeDefinition 'public class JoblibTestWorkerUnenumerable : System.Collections.IEnumerable { public System.Collections.IEnumerator GetEnumerator() { throw new System.InvalidOperationException("no"); } }'
                        , [JoblibTestWorkerUnenumerable]::new()
                    }
                    else { $_ }
                } @loky -BatchSize 3 | ForEach-Object { $out += $_ }
            }
            catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibValueCannotTravel,*'
            $err.TargetObject | Should -Be 2
            $out | Should -Be @(1)
        }

        It 'says the input could not travel, naming it, for an item nested 45 hashtables deep; the next call is healthy' {
            $deep = @{ Level = 0 }
            foreach ($level in 1..45) { $deep = @{ Level = $level; Inner = $deep } }
            $err = $null
            try { 'flat', $deep | Invoke-JoblibParallel { 1 } @loky -BatchSize 2 } catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibValueCannotTravel,*'
            $err.Exception.Message | Should -BeLike 'The input of item* of the call could not be read by a worker process*the item 2 (*Hashtable), 46 objects deep*'
            $err.Exception.Message | Should -Not -BeLike '*could not be sent back*'
            $err.TargetObject | Should -Be $deep
            1..4 | Invoke-JoblibParallel { $_ } @loky | Should -Be (1..4)
        }

        It 'delivers [DBNull]::Value as a Deserialized.System.DBNull property bag (documented in about_JoblibPS_Backends)' {
            $inWorker = [DBNull]::Value | Invoke-JoblibParallel { "$($_ -is [DBNull]) $($_.pstypenames[0])" } @loky
            $inWorker | Should -Be 'False Deserialized.System.DBNull'
        }
    }

    Context 'Worker environment' {
        It 'limits native thread pools by joblib''s rule and sets the garbage-collector budget' {
            $expected = [string][Math]::Max([int][Math]::Floor([Environment]::ProcessorCount / 2), 1)
            $names = 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'BLIS_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS', 'NUMBA_NUM_THREADS', 'NUMEXPR_NUM_THREADS'
            $unset = $names | Where-Object { -not [Environment]::GetEnvironmentVariable($_) }
            $out = 1 | Invoke-JoblibParallel { param($x, $names) foreach ($n in $names) { "$n=$([Environment]::GetEnvironmentVariable($n))" }; "GC=$env:DOTNET_GCgen0size"; "DEPTH=$env:JOBLIBPS_PROCESS_DEPTH" } -ArgumentList (, $unset) @loky
            foreach ($name in $unset) { $out | Should -Contain "$name=$expected" }
            $out | Should -Contain 'GC=0x10000000'
            $out | Should -Contain 'DEPTH=1'
        }

        It 'uses -InnerMaxNumThreads of the config scope' {
            $out = Use-JoblibConfig -Backend loky -InnerMaxNumThreads 3 { 1 | Invoke-JoblibParallel { $env:OMP_NUM_THREADS; $env:MKL_NUM_THREADS } -NJobs 2 }
            $out | Should -Be @('3', '3')
        }

        It 'keeps a limit the caller''s environment sets' {
            $env:OPENBLAS_NUM_THREADS = '7'
            try {
                $out = 1 | Invoke-JoblibParallel { $env:OPENBLAS_NUM_THREADS } -Backend multiprocessing -NJobs 2
            }
            finally {
                Remove-Item Env:OPENBLAS_NUM_THREADS
            }
            $out | Should -Be '7'
        }

        It 'lets the Environment argument add, override and remove variables' {
            $arguments = @{ Environment = @{ JOBLIBPS_TEST_VARIABLE = 'set'; DOTNET_GCgen0size = $null; OMP_NUM_THREADS = '5' } }
            $out = Use-JoblibConfig -Backend multiprocessing -BackendArgument $arguments {
                1 | Invoke-JoblibParallel { "$env:JOBLIBPS_TEST_VARIABLE|$env:DOTNET_GCgen0size|$env:OMP_NUM_THREADS" } -NJobs 2
            }
            $out | Should -Be 'set||5'
        }
    }

    Context 'loky''s reusable pool' {
        It 'reuses the same workers in later calls and scopes' {
            $first = Get-WorkerPid -Run $loky
            $second = Use-JoblibConfig -Backend loky -NJobs 2 { Get-WorkerPid -Run @{} }
            @($first | Sort-Object -Unique).Count | Should -Be 2
            @($second | Sort-Object -Unique) | Should -Be @($first | Sort-Object -Unique)
            @((Get-ChildPwsh).Id | Sort-Object) | Should -Be @($first | Sort-Object -Unique)
        }

        It 'starts its workers in parallel' {
            Stop-JoblibWorkerProcesses
            Wait-ProcessExit -Id @(Get-ChildPwsh | ForEach-Object Id) | Should -BeTrue
            # With -TimeoutSeconds a call starts once its workers are up, so all four exist when it returns.
            $null = 1..4 | Invoke-JoblibParallel { $_ } -Backend loky -NJobs 4 -TimeoutSeconds 60
            $workers = @(Get-ChildPwsh)
            $workers.Count | Should -Be 4
            $spread = ($workers.StartTime | Measure-Object -Maximum -Minimum | ForEach-Object { $_.Maximum - $_.Minimum })
            $spread.TotalSeconds | Should -BeLessThan 1 -Because 'each worker starts on its own thread at once, not after the previous one is up'
        }

        It 'grows and shrinks with NJobs' {
            $three = Get-WorkerPid -Run @{ Backend = 'loky'; NJobs = 3 } -Items 3
            @($three | Sort-Object -Unique).Count | Should -Be 3
            $two = Get-WorkerPid -Run $loky
            $gone = @($three | Sort-Object -Unique | Where-Object { $_ -notin $two })
            $gone.Count | Should -BeGreaterOrEqual 1
            Wait-ProcessExit -Id $gone | Should -BeTrue -Because 'the surplus worker exits'
            (Get-ChildPwsh).Count | Should -Be 2
        }

        It 'replaces a worker after MaxTasksPerWorker batches' {
            $pids = Use-JoblibConfig -Backend loky -NJobs 2 -BackendArgument @{ MaxTasksPerWorker = 1 } { Get-WorkerPid -Run @{} -Items 4 }
            @($pids | Sort-Object -Unique).Count | Should -Be 4 -Because 'each worker ran one batch, then a fresh one took its place'
            Wait-ProcessExit -Id $pids | Should -BeTrue
        }

        It 'lets idle workers exit after IdleTimeoutSeconds' {
            $pids = Use-JoblibConfig -Backend loky -NJobs 2 -BackendArgument @{ IdleTimeoutSeconds = 1 } { Get-WorkerPid -Run @{} }
            Wait-ProcessExit -Id ($pids | Sort-Object -Unique) -Seconds 20 | Should -BeTrue
            Get-ChildPwsh | Should -BeNullOrEmpty
            Use-JoblibConfig -Backend loky -NJobs 2 -BackendArgument @{ IdleTimeoutSeconds = 1 } { 1..2 | Invoke-JoblibParallel { $_ } } | Should -Be @(1, 2) -Because 'the pool starts workers again when work comes'
        }
    }

    Context 'multiprocessing' {
        It 'starts fresh workers for each call and ends them when the call ends' {
            $run = @{ Backend = 'multiprocessing'; NJobs = 2 }
            $first = Get-WorkerPid -Run $run
            $first | ForEach-Object { Get-Process -Id $_ -ErrorAction Ignore } | Where-Object { -not $_.HasExited } | Should -BeNullOrEmpty
            $second = Get-WorkerPid -Run $run
            @($second | Where-Object { $_ -in $first }) | Should -BeNullOrEmpty
        }
    }

    Context 'Crashes' {
        It 'fails the call within seconds when a worker <Case>, naming the item and the exit code' -ForEach @(
            @{ Case = 'calls [Environment]::Exit(3)'; Body = '[Environment]::Exit(3)'; Code = '*exit code 3*' }
            @{ Case = 'is killed with SIGKILL'; Body = 'kill -9 $PID'; Code = '*killed by signal SIGKILL (exit code 137)*' }
            @{ Case = 'overflows its stack'; Body = $stackOverflow; Code = '*exit code 134*' }
        ) {
            $crashAt = Join-Path $TestDrive 'crash-at.txt'
            $null = Get-WorkerPid -Run $loky
            $err = $null
            $out = @()
            try {
                1..4 | Invoke-JoblibParallel {
                    param($x, $body, $crashAt)
                    if ($x -eq 3) { [DateTime]::UtcNow.Ticks | Set-Content -LiteralPath $crashAt; & ([scriptblock]::Create($body)) }
                    Start-Sleep -Milliseconds 100
                    $x
                } -ArgumentList $Body, $crashAt @loky -BatchSize 1 | ForEach-Object { $out += $_ }
            }
            catch { $err = $_ }
            $elapsed = [TimeSpan]::FromTicks([DateTime]::UtcNow.Ticks - [long](Get-Content -LiteralPath $crashAt))
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibWorkerCrashed,*'
            $err.TargetObject | Should -Be 3
            $err.Exception.Message | Should -BeLike "*item 3 of the call ('3')*"
            $err.Exception.Message | Should -BeLike $Code
            $elapsed.TotalSeconds | Should -BeLessThan 5 -Because 'the process exit is watched, not the runspace (which notices after about 60 s)'
            $out | Should -Be @(1, 2)
            Get-WorkerPid -Run $loky | Should -HaveCount 4 -Because 'the next call gets a healthy pool'
        }

        It 'names the item a worker died in when its batch holds several' {
            $null = Get-WorkerPid -Run $loky
            $err = $null
            $verbose = @()
            try {
                # Items 1 and 2 keep both workers busy, so 3 to 6 fill one batch of four.
                1..8 | Invoke-JoblibParallel { if ($_ -le 2) { Start-Sleep -Milliseconds 1500 }; if ($_ -eq 5) { [Environment]::Exit(5) }; $_ } @loky -BatchSize 4 -Verbose 4>&1 |
                    ForEach-Object { $verbose += "$_" }
            }
            catch { $err = $_ }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibWorkerCrashed,*'
            $err.TargetObject | Should -Be 5
            $err.Exception.Message | Should -BeLike "*item 5 of the call ('5')*exit code 5*"
        }
    }

    Context 'Aborts' {
        It 'kills the worker of the failed call that does not stop, keeps the one that does, and is whole again' {
            $null = Get-WorkerPid -Run $loky
            $pidFile = Join-Path $TestDrive 'blocked-pid.txt'
            $err = $null
            try {
                1..2 | Invoke-JoblibParallel {
                    param($x, $pidFile)
                    if ($x -eq 1) { $PID | Set-Content -LiteralPath $pidFile; [System.Threading.Thread]::Sleep(60000) }
                    else { Start-Sleep -Milliseconds 1500; throw 'second item fails' }
                } -ArgumentList $pidFile @loky -BatchSize 1 -Unordered
            }
            catch { $err = $_ }
            $err.Exception.Message | Should -Be 'second item fails'
            $blocked = [int](Get-Content -LiteralPath $pidFile)
            Wait-ProcessExit -Id $blocked -Seconds 10 | Should -BeTrue -Because 'a worker stuck in a native call is killed'
            # With -TimeoutSeconds a call starts once its workers are up, the replacement included.
            $pids = 1..4 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 200; $PID } @loky -BatchSize 1 -TimeoutSeconds 60
            @($pids | Sort-Object -Unique).Count | Should -Be 2 -Because 'the pool is whole again'
            $pids | Should -Not -Contain $blocked
        }

        It 'leaves no worker busy after Ctrl+C (<Backend>)' -ForEach @(@{ Backend = 'loky' }, @{ Backend = 'multiprocessing' }) {
            $null = Get-WorkerPid -Run $loky
            $started = Join-Path $TestDrive "started-$Backend.txt"
            $ps = [powershell]::Create()
            try {
                $escaped = $modulePath -replace "'", "''"
                $null = $ps.AddScript("Import-Module '$escaped'; 1..4 | Invoke-JoblibParallel { param(`$x, `$f) `$PID | Add-Content -LiteralPath `$f; Start-Sleep 60 } -ArgumentList '$started' -Backend $Backend -NJobs 2 -BatchSize 1")
                $watcher = [System.IO.FileSystemWatcher]::new($TestDrive, "started-$Backend.txt")
                $watcher.EnableRaisingEvents = $true
                $async = $ps.BeginInvoke()
                $null = $watcher.WaitForChanged([System.IO.WatcherChangeTypes]::All, 60000)
                $watcher.Dispose()
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                $ps.Stop()
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 3
                $async.IsCompleted | Should -BeTrue
            }
            finally {
                $ps.Dispose()
            }
            $ran = @(Get-Content -LiteralPath $started | ForEach-Object { [int]$_ })
            if ($Backend -eq 'multiprocessing') {
                Wait-ProcessExit -Id $ran | Should -BeTrue -Because 'multiprocessing ends its workers with the call'
            }
            else {
                # Their pipelines were stopped: the same workers serve the next call at once.
                $clock = [System.Diagnostics.Stopwatch]::StartNew()
                1..2 | Invoke-JoblibParallel { $_ } @loky | Should -Be @(1, 2)
                $clock.Elapsed.TotalSeconds | Should -BeLessThan 10
            }
            # A worker that was stopped or is being replaced may take a moment to exit, more so on a loaded machine:
            # what matters is that nothing stays.
            $deadline = [DateTime]::UtcNow.AddSeconds(15)
            while ((Get-ChildPwsh).Count -gt 2 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 200 }
            $left = @(Get-ChildPwsh)
            $left.Count | Should -BeLessOrEqual 2 -Because "only loky's two idle workers may remain (left: $(($left | ForEach-Object { "$($_.Id) started $($_.StartTime.ToString('HH:mm:ss.fff'))" }) -join ', '))"
        }
    }

    Context 'Nesting' {
        It 'runs a nested call in a worker with threading, and one level deeper with sequential' {
            $out = 1 | Invoke-JoblibParallel {
                $inner = 1..2 | Invoke-JoblibParallel {
                    $deeper = 1 | Invoke-JoblibParallel { $_ } -NJobs 2 -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | Select-Object -First 1
                    "$deeper"
                } -NJobs 2 -Verbose 4>&1
                ($inner | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] } | Select-Object -First 1).Message
                $inner | Where-Object { $_ -is [string] } | Select-Object -First 1
            } @loky
            $out | Should -Be @('Using backend threading with 2 concurrent workers.', 'Using backend sequential with 1 concurrent worker.')
        }

        It 'nests worker processes, one depth deeper each level' {
            $out = 1 | Invoke-JoblibParallel { 1..2 | Invoke-JoblibParallel { "$env:JOBLIBPS_PROCESS_DEPTH" } -Backend multiprocessing -NJobs 2 } @loky
            $out | Should -Be @('2', '2')
        }

        It 'refuses process nesting deeper than 10 levels (JoblibProcessNestingTooDeep), like LOKY_MAX_DEPTH' {
            $env:JOBLIBPS_PROCESS_DEPTH = '10'
            $err = $null
            try { 1..2 | Invoke-JoblibParallel { $_ } -Backend multiprocessing -NJobs 2 } catch { $err = $_ }
            finally { Remove-Item Env:JOBLIBPS_PROCESS_DEPTH }
            $err.FullyQualifiedErrorId | Should -BeLike 'JoblibProcessNestingTooDeep,*'
            $err.Exception.Message | Should -BeLike '*depth 11*limit of 10*JOBLIBPS_MAX_DEPTH*'
        }
    }

    Context 'No orphan pwsh' {
        It 'ends every worker on Remove-Module JoblibPS' {
            $child = Start-ChildPwsh -Script @'
$pids = 1..4 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 200; $PID } -Backend loky -NJobs 2 -BatchSize 1
($pids | Sort-Object -Unique) -join ','
Remove-Module JoblibPS
'removed'
$null = [Console]::In.ReadLine()
'@
            try {
                $workers = (Read-ChildLine $child) -split ',' | ForEach-Object { [int]$_ }
                $workers.Count | Should -Be 2
                Read-ChildLine $child | Should -Be 'removed'
                $child.HasExited | Should -BeFalse
                Wait-ProcessExit -Id $workers -Seconds 10 | Should -BeTrue
            }
            finally {
                $child.Kill()
                $child.WaitForExit()
            }
        }

        It 'ends every worker when the caller''s pwsh is killed (SIGKILL)' {
            $child = Start-ChildPwsh -Script @'
$pids = 1..4 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 200; $PID } -Backend loky -NJobs 2 -BatchSize 1
($pids | Sort-Object -Unique) -join ','
$null = 1..2 | Invoke-JoblibParallel { Start-Sleep 300 } -Backend loky -NJobs 2
'@
            try {
                $workers = (Read-ChildLine $child) -split ',' | ForEach-Object { [int]$_ }
                $workers.Count | Should -Be 2
            }
            finally {
                $child.Kill()
                $child.WaitForExit()
            }
            Wait-ProcessExit -Id $workers -Seconds 10 | Should -BeTrue -Because 'a worker exits when its standard input closes'
        }
    }
}
