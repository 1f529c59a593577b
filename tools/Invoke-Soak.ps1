#Requires -Version 7.2
<#
.SYNOPSIS
The reliability suite at length (build.ps1 -Task Soak): a soak of many calls, a loky mix of aborted calls, the fault
matrix and the bad-input table, written up as docs/reliability.md from this run's own figures.
.DESCRIPTION
The pieces are in tests/Reliability/Reliability.psm1 (the short form runs in tests/Pester/Reliability.Tests.ps1).
With /usr/sbin/sshd present, two sshd instances serve PowerShell remoting on loopback addresses of this machine
(127.0.0.2 and 127.0.0.3, tests/Remote/SshTestHosts.psm1): the remote backend joins the soak, and the fault matrix
loses one host mid-call. They are stopped by pid in a finally block. Exit code 1 when anything failed.
#>
param(
    [int] $Calls = 300,
    [int] $LokyMixCalls = 200,
    [int] $TerminalTries = 20,
    [string] $ModulePath = $env:JOBLIBPS_MODULE,
    [string] $OutputPath = (Join-Path $PSScriptRoot '../docs/reliability.md')
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
if (-not $ModulePath) { $ModulePath = Join-Path $PSScriptRoot '../out/JoblibPS/JoblibPS.psd1' }
Import-Module $ModulePath
Import-Module (Join-Path $PSScriptRoot '../tests/Reliability/Reliability.psm1')
Import-Module (Join-Path $PSScriptRoot '../tests/Remote/SshTestHosts.psm1')
Import-Module (Join-Path $PSScriptRoot '../tests/Reliability/Terminal.psm1')
$started = Get-Date
$clock = [System.Diagnostics.Stopwatch]::StartNew()
$hosts = @()
$problems = [System.Collections.Generic.List[string]]::new()

function Format-Snapshot($s) { "threads $($s.Threads), runspaces $($s.Runspaces), pwsh under this process $($s.ChildPwsh), ssh $($s.ChildSsh), file descriptors $($s.FileHandles), working set $($s.WorkingSetMB) MB, managed heap $($s.HeapMB) MB" }

try {
    $remote = $null
    if (Test-Path /usr/sbin/sshd) {
        $port = 20000 + ($PID % 20000)
        $root = Join-Path ([IO.Path]::GetTempPath()) "joblibps-soak-$PID"
        $hosts = @(Start-JoblibSshHost -Address 127.0.0.2 -Port $port -Root $root; Start-JoblibSshHost -Address 127.0.0.3 -Port $port -Root $root)
        $remote = @{ HostName = @('127.0.0.2', '127.0.0.3'); Port = $port; KeyFilePath = $hosts[0].KeyFilePath; Options = (Get-JoblibSshOptions $hosts[0]) }
    }

    # ---- soak: every backend, every scenario ----
    Write-Host "Soak: $Calls calls"
    $backends = [ordered]@{
        threading = @{ Parameters = @{ Backend = 'threading'; NJobs = 2 }; Config = $null }
        loky      = @{ Parameters = @{ Backend = 'loky'; NJobs = 2 }; Config = $null }
    }
    if ($remote) { $backends.remote = @{ Parameters = @{}; Config = $null } }
    $runSoak = { Invoke-JoblibSoak -Calls $Calls -Backends $backends -MaxPwsh 2 -MaxSsh 2 -OnProgress { param($i, $r) if (-not $r.Ok) { Write-Host "  call $i $($r.Backend)/$($r.Scenario): $($r.Detail)" } } }
    # The remote calls run in one config scope (its SSH workers open once); the others name their backend.
    $soak = if ($remote) { Use-JoblibConfig remote -BackendArgument $remote -ScriptBlock $runSoak } else { & $runSoak }
    foreach ($r in $soak.Results | Where-Object { -not $_.Ok }) { $problems.Add("soak $($r.Backend)/$($r.Scenario): $($r.Detail)") }
    foreach ($leak in $soak.Leaks) { $problems.Add("soak leaked: $leak") }

    # ---- the loky mix of issue 13 point 1: calls stopped while their workers were busy, then the next call ----
    Write-Host "Loky mix: $LokyMixCalls calls"
    $mix = Invoke-JoblibSoak -Calls $LokyMixCalls -Backends ([ordered]@{ loky = @{ Parameters = @{ Backend = 'loky'; NJobs = 2 }; Config = $null } }) -Scenarios first3, throw, timeout, plain -MaxPwsh 2
    foreach ($r in $mix.Results | Where-Object { -not $_.Ok }) { $problems.Add("loky mix $($r.Scenario): $($r.Detail)") }
    foreach ($leak in $mix.Leaks) { $problems.Add("loky mix leaked: $leak") }

    # ---- fault matrix ----
    Write-Host 'Fault matrix'
    $next = { 1..4 | Invoke-JoblibParallel { $_ } -Backend loky -NJobs 2 }
    $nextThreading = { 1..4 | Invoke-JoblibParallel { $_ } -Backend threading -NJobs 2 }
    $faults = [System.Collections.Generic.List[object]]::new()
    $expect = {
        param($r, [string] $id, $target, [string] $output, [double] $maxSeconds)
        $ok = $r.ErrorId -eq $id -and "$($r.Target)" -eq "$target" -and (($r.Output -join ',') -eq $output) -and $r.NextHealthy -and $r.Seconds -le $maxSeconds
        $faults.Add([pscustomobject]@{ Fault = $r.Name; Seconds = $r.Seconds; ErrorId = $r.ErrorId; Target = $r.Target; NextHealthy = $r.NextHealthy; Ok = $ok; Warnings = ($r.Warnings -join ' ') })
        if (-not $ok) { $problems.Add("fault $($r.Name): got $($r.ErrorId) on '$($r.Target)' in $($r.Seconds) s, output '$($r.Output -join ',')', next healthy $($r.NextHealthy): $($r.Message)") }
    }
    & $expect (Measure-JoblibFault -Name 'loky: [Environment]::Exit in item 4 of 6' -Fault { 1..6 | Invoke-JoblibParallel { if ($_ -eq 4) { [Environment]::Exit(7) }; $_ } -Backend loky -NJobs 2 -BatchSize 6 } -Next $next) JoblibWorkerCrashed 4 '1,2,3' 5
    & $expect (Measure-JoblibFault -Name 'loky: kill -9 $PID in item 2 of 3' -Fault { 1..3 | Invoke-JoblibParallel { if ($_ -eq 2) { & /bin/kill -9 $PID; Start-Sleep 10 }; $_ } -Backend loky -NJobs 2 -BatchSize 3 } -Next $next) JoblibWorkerCrashed 2 '1' 5
    $flag = Join-Path ([IO.Path]::GetTempPath()) "joblibps-soak-$PID.pid"
    $r = Invoke-JoblibWithProcessStopped -PidFile $flag -ScriptBlock { Measure-JoblibFault -Name 'loky: Stop-Process on the worker from outside, at item 5 of 10' -Fault { 1..10 | Invoke-JoblibParallel { if ($_ -eq 5) { Set-Content -Path $using:flag -Value $PID; Start-Sleep 30 }; Start-Sleep -Milliseconds 80; $_ } -Backend loky -NJobs 2 -BatchSize 10 } -Next $next }
    & $expect $r JoblibWorkerCrashed 5 '1,2,3,4' 5
    & $expect (Measure-JoblibFault -Name 'loky: [Environment]::Exit at item 150 of 200 (auto batching)' -Fault { 1..200 | Invoke-JoblibParallel { if ($_ -eq 150) { [Environment]::Exit(3) }; $_ } -Backend loky -NJobs 2 } -Next $next) JoblibWorkerCrashed 150 ((1..149) -join ',') 10
    & $expect (Measure-JoblibFault -Name 'threading: exit in item 3' -Fault { 1..4 | Invoke-JoblibParallel { if ($_ -eq 3) { exit 5 }; $_ } -Backend threading -NJobs 2 } -Next $nextThreading) JoblibTaskExited 3 '1,2' 3
    & $expect (Measure-JoblibFault -Name 'loky: exit in item 3' -Fault { 1..4 | Invoke-JoblibParallel { if ($_ -eq 3) { exit 5 }; $_ } -Backend loky -NJobs 2 } -Next $next) JoblibTaskExited 3 '1,2' 3
    & $expect (Measure-JoblibFault -Name 'threading: [Threading.Thread]::Sleep(15 s) with -TimeoutSeconds 1' -Fault { 1..4 | Invoke-JoblibParallel { if ($_ -eq 2) { [Threading.Thread]::Sleep(15000) }; $_ } -Backend threading -NJobs 2 -BatchSize 1 -TimeoutSeconds 1 } -Next $nextThreading) JoblibTaskTimeout 2 '1' 4
    & $expect (Measure-JoblibFault -Name 'loky: Start-Sleep 30 with -TimeoutSeconds 1' -Fault { 1..4 | Invoke-JoblibParallel { if ($_ -eq 2) { Start-Sleep 30 }; $_ } -Backend loky -NJobs 2 -BatchSize 1 -TimeoutSeconds 1 } -Next $next) JoblibTaskTimeout 2 '1' 4
    foreach ($backend in 'threading', 'loky') {
        $r = Measure-JoblibFault -Name "${backend}: call-depth overflow in item 2 of 3" -Fault { 1..3 | Invoke-JoblibParallel { function f { f }; if ($_ -eq 2) { f }; $_ } -Backend $backend -NJobs 2 -BatchSize 3 } -Next $next
        & $expect $r JoblibTaskFailed 2 '1' 240
    }
    $r = Measure-JoblibFault -Name 'loky: 50 MB of output from one item' -Fault { 1..2 | Invoke-JoblibParallel { if ($_ -eq 1) { foreach ($i in 1..50) { [string]::new([char](64 + ($i % 26)), 1MB) } } else { 'done' } } -Backend loky -NJobs 2 } -Next $next
    $r.Output = @(if (($r.Output | Select-Object -First 50 | Measure-Object Length -Sum).Sum -eq 50MB -and $r.Output[-1] -eq 'done') { '50 MB whole' } else { 'damaged' })
    & $expect $r '' '' '50 MB whole' 30
    foreach ($backend in 'threading', 'loky') {
        $stop = Measure-JoblibCtrlC -ModulePath $ModulePath -Call "1..200 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 200; `$_ } -Backend $backend -NJobs 2"
        $nextOk = ((1..4 | Invoke-JoblibParallel { $_ } -Backend $backend -NJobs 2) -join ',') -eq '1,2,3,4'
        $ok = $stop.State -eq 'Stopped' -and $stop.Seconds -le 3 -and $nextOk
        $faults.Add([pscustomobject]@{ Fault = "${backend}: Ctrl+C (PowerShell.Stop from another thread)"; Seconds = $stop.Seconds; ErrorId = $stop.Reason; Target = ''; NextHealthy = $nextOk; Ok = $ok; Warnings = '' })
        if (-not $ok) { $problems.Add("fault Ctrl+C on ${backend}: $($stop | Out-String)") }
    }
    if ($remote) {
        # A host lost mid-call: its sshd (and the sessions it serves) stopped once the first items wrote.
        $victim = $hosts[1]
        $nextRemote = { Use-JoblibConfig remote -BackendArgument @{ HostName = '127.0.0.2'; Port = $remote.Port; KeyFilePath = $remote.KeyFilePath; Options = $remote.Options } { 1..4 | Invoke-JoblibParallel { $_ } } }
        $r = Measure-JoblibFault -Name 'remote: one of two hosts lost mid-call (its sshd killed)' -Fault {
            Use-JoblibConfig remote -BackendArgument $remote {
                $n = 0
                1..40 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 100; $_ } -BatchSize 2 | ForEach-Object { $_; if (++$n -eq 4) { Stop-JoblibSshHost $victim } }
            }
        } -Next $nextRemote
        $r.Output = @($r.Output | Where-Object { $_ -is [int] })
        & $expect $r '' '' ((1..40) -join ',') 60
        $faults[-1].Warnings = "$(@($r.Warnings).Count) warning(s): $($r.Warnings -join ' ')"
        if (@($r.Warnings).Count -ne 1) { $problems.Add("remote host lost: expected one warning, got $(@($r.Warnings).Count): $($r.Warnings -join ' | ')") }
        $left = @(Get-JoblibChildProcessId -ParentId $PID | Where-Object { (Get-Content "/proc/$_/comm" -Raw -ErrorAction Ignore) -match '^ssh\b' })
        if ($left.Count -gt 0) { $problems.Add("$($left.Count) ssh process(es) left after the remote scope ended") }
    }

    # ---- Ctrl+C in a real terminal (issue 20): tmux, progress bar on, Ctrl+C mid-run, then the next call ----
    $terminalRuns = [System.Collections.Generic.List[object]]::new()
    if (Get-Command tmux -CommandType Application -ErrorAction Ignore) {
        # remote: a backend kept in the pane across both calls (Use-JoblibConfig -Backend, which no scope ends) on the
        # two test hosts, so a Ctrl+C that lost a connection would show in the next call.
        $keptLine = if ($hosts) {
            $o = Get-JoblibSshOptions $hosts[0]
            "`$kept = [JoblibPS.Backends.Remote.RemoteBackend]::new(@{ HostName = @('127.0.0.2', '127.0.0.3'); Port = $port; KeyFilePath = '$($hosts[0].KeyFilePath)'; Options = @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '$($o.UserKnownHostsFile)' } })"
        }
        $openTerminal = {
            param($backend)
            $t = Start-JoblibTerminal -ModulePath $ModulePath
            if ($backend -eq 'remote') {
                Send-JoblibTerminalLine $t $keptLine
                if (-not (Wait-JoblibTerminalEcho $t $keptLine) -or $null -eq (Wait-JoblibTerminalPrompt $t -TimeoutSeconds 30)) { throw "The pane did not take the remote backend: $((Get-JoblibTerminalText $t) -join ' / ')" }
            }
            $t
        }
        foreach ($backend in @('loky', 'threading') + @(if ($hosts) { 'remote' })) {
            $tries = if ($backend -eq 'loky') { $TerminalTries } else { [math]::Max(1, [int]($TerminalTries / 4)) }
            $call, $next = if ($backend -eq 'remote') {
                'Use-JoblibConfig -Backend $kept -NJobs 4 { 1..2000 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 20; $_ } }'
                'Use-JoblibConfig -Backend $kept -NJobs 2 { (1..4 | Invoke-JoblibParallel { $_ } | Measure-Object).Count }'
            }
            else {
                "1..2000 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 20; `$_ } -NJobs 4 -Backend $backend"
                "(1..4 | Invoke-JoblibParallel { `$_ } -NJobs 2 -Backend $backend | Measure-Object).Count"
            }
            Write-Host "Ctrl+C in tmux: $tries tries on $backend"
            $terminal = $null
            try {
                $terminal = & $openTerminal $backend
                for ($i = 1; $i -le $tries; $i++) {
                    # Ctrl+C at a different point of the call each time: after 50 to 450 items.
                    $r = Measure-JoblibTerminalCtrlC -Terminal $terminal -MinDone (50 + 100 * ($i % 5)) -PromptWaitSeconds 10 -NextWaitSeconds 60 -Call $call -Next $next
                    $ok = $null -ne $r.PromptSeconds -and $r.PromptSeconds -le 1 -and ($r.NextOutput -join ',') -eq '4'
                    $terminalRuns.Add([pscustomobject]@{ Backend = $backend; Try = $i; PromptSeconds = $r.PromptSeconds; NextSeconds = $r.NextSeconds; Ok = $ok })
                    if (-not $ok) {
                        $problems.Add("Ctrl+C in tmux, $backend try ${i}: prompt $($r.PromptSeconds) s, next call $($r.NextSeconds) s, wrote '$($r.NextOutput -join ',')': $($r.Text -replace '\r?\n', ' / ')")
                        # A hung pane stays hung: the next try gets a fresh one.
                        Stop-JoblibTerminal $terminal
                        $terminal = & $openTerminal $backend
                    }
                }
                if ($backend -eq 'remote') {
                    # The kept backend is the pane's: it closes its connections there, before the pane ends.
                    Send-JoblibTerminalLine $terminal '$kept.Terminate()'
                    $null = Wait-JoblibTerminal $terminal -TimeoutSeconds 15 -Condition { param($lines) -not @(Get-JoblibTerminalChildProcess $terminal) }
                }
            }
            finally { Stop-JoblibTerminal $terminal }
        }
    }

    # ---- bad inputs ----
    Write-Host 'Bad inputs'
    $bad = foreach ($case in Get-JoblibBadInput) {
        $err = $null
        try { $null = & $case.Run } catch { $err = $_ }
        $id = if ($err) { ($err.FullyQualifiedErrorId -split ',')[0] } else { '(no error)' }
        if ($id -ne $case.Id) { $problems.Add("bad input '$($case.Name)': got $id, expected $($case.Id)") }
        [pscustomobject]@{ Name = $case.Name; Id = $case.Id; Ok = $id -eq $case.Id }
    }
}
finally {
    $hosts | Where-Object { $_ } | Stop-JoblibSshHost
}

# ---- the write-up ----
$minutes = [math]::Round($clock.Elapsed.TotalMinutes, 1)
$cpu = try { ((Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -split ':\s*', 2)[1] } catch { 'unknown CPU' }
$lines = [System.Collections.Generic.List[string]]::new()
$add = { param([string] $line = '') $lines.Add($line) }
& $add '# Reliability'
& $add
& $add "Written by ``dotnet pwsh ./build.ps1 -Task Soak`` (tools/Invoke-Soak.ps1) on $($started.ToString('yyyy-MM-dd')): $([Environment]::ProcessorCount) CPUs ($cpu), $([System.Runtime.InteropServices.RuntimeInformation]::OSDescription), pwsh $($PSVersionTable.PSVersion); the run took $minutes minutes. $(if ($problems.Count) { "**$($problems.Count) problem(s) found: see the end.**" } else { 'Nothing failed.' })"
& $add
& $add '## What JoblibPS promises'
& $add
& $add '- **Nothing lost.** Every item''s output is written once, in input order (unless -Unordered); when an item fails, the output of the items before it is written before the error. When a worker process dies mid-batch, the items that finished are still written: a worker sends its finished items'' records every 50 ms, and the few that finished in its last 50 ms run again before the call ends.'
& $add '- **Nothing leaked.** After any mix of calls (completed, failed, stopped by Select-Object -First, timed out, stopped by Ctrl+C) the process holds only what the pools keep on purpose: warm runspaces, the loky workers, their threads.'
& $add '- **Clear errors.** A failure names the item and says what happened, with a stable error id (the table in about_JoblibPS); a bad argument is refused before any work starts; a crashed worker, a timeout, a lost host are reported within seconds, and the next call is healthy.'
& $add
& $add '## Soak'
& $add
& $add "$Calls calls cycling over the backends ($(@($backends.Keys) -join ', ')) and five scenarios, each call's output and errors compared with what they must be, exactly: a plain call of 20 items; ``Select-Object -First 3`` on 40 items; an item that throws (items 1 to 16 written, then JoblibTaskFailed on item 17); an item stuck in ``Start-Sleep`` under ``-TimeoutSeconds 1`` (JoblibTaskTimeout); ``-OnError Continue`` with two failing items. Then the loky mix that used to fail intermittently: $LokyMixCalls loky calls cycling over first 3, throw, timeout and plain, each right after the previous one stopped its busy workers."
& $add
& $add '| run | calls | wrong | mean s | slowest s |'
& $add '|---|---|---|---|---|'
foreach ($run in @(@{ Name = 'soak'; R = $soak }, @{ Name = 'loky mix'; R = $mix })) {
    $stats = $run.R.Results | Measure-Object Seconds -Average -Maximum
    & $add "| $($run.Name) | $($run.R.Results.Count) | $(@($run.R.Results | Where-Object { -not $_.Ok }).Count) | $([math]::Round($stats.Average, 2)) | $([math]::Round($stats.Maximum, 2)) |"
}
& $add
& $add 'Resources of this process (after a warm-up round of every scenario on every backend, and after the run):'
& $add
& $add "- soak before: $(Format-Snapshot $soak.Before)"
& $add "- soak after: $(Format-Snapshot $soak.After)"
& $add "- loky mix before: $(Format-Snapshot $mix.Before)"
& $add "- loky mix after: $(Format-Snapshot $mix.After)"
& $add
& $add 'What may grow (tests/Reliability/Reliability.psm1, Compare-JoblibResourceSnapshot): threads by 6 (the .NET thread pool), file descriptors by 16, the managed heap by 64 MB; runspaces not at all; pwsh and ssh processes under this one (loky workers, ssh clients, the loopback hosts and their pwsh servers) not beyond what the warm pools held before.'
& $add
& $add '## Fault matrix'
& $add
& $add 'Seconds: from the start of the faulty call to its error (worker start-up included where the fault kills the worker); for Ctrl+C, from PowerShell.Stop to the end of the call. Then a plain call on the same backend must return 1, 2, 3, 4.'
& $add
& $add '| fault | seconds | error id | item | next call healthy | as promised | notes |'
& $add '|---|---|---|---|---|---|---|'
foreach ($f in $faults) { & $add "| $($f.Fault) | $($f.Seconds) | $($f.ErrorId) | $($f.Target) | $($f.NextHealthy) | $($f.Ok) | $($f.Warnings -replace '\|', '/') |" }
& $add
& $add "A call-depth overflow takes PowerShell itself a long time to report on a loaded 2-CPU machine (a plain ``ForEach-Object`` took 87 s); JoblibPS then reports it once, as JoblibTaskFailed on the item that overflowed."
& $add
& $add '## Ctrl+C in a real terminal'
& $add
if ($terminalRuns.Count) {
    & $add "pwsh in a tmux pane (tests/Reliability/Terminal.psm1), the progress bar on: ``1..2000 | Invoke-JoblibParallel { Start-Sleep -Milliseconds 20; `$_ } -NJobs 4``, Ctrl+C typed into the pane once the bar showed 50 to 450 items done (a different point each try), then ``(1..4 | Invoke-JoblibParallel { `$_ } -NJobs 2 | Measure-Object).Count`` in the same pane, which must write 4. On remote (the two test hosts) both calls run in ``Use-JoblibConfig -Backend `$kept``, a backend made once in the pane (``[JoblibPS.Backends.Remote.RemoteBackend]::new(...)``) that no scope ends, so its SSH connections serve every try. As promised: the prompt back within 1 s, and the next call right. Prompt seconds: from the Ctrl+C to the bare prompt on the pane (polled every 20 ms or so)."
    & $add
    & $add '| backend | tries | as promised | prompt s (median) | prompt s (slowest) | next call s (slowest) |'
    & $add '|---|---|---|---|---|---|'
    foreach ($group in $terminalRuns | Group-Object Backend) {
        $prompts = @($group.Group | Where-Object { $null -ne $_.PromptSeconds } | ForEach-Object PromptSeconds | Sort-Object)
        $median = if ($prompts.Count) { $prompts[[int][math]::Floor(($prompts.Count - 1) / 2)] } else { 'none' }
        $slowest = if ($prompts.Count -eq $group.Count) { $prompts[-1] } else { 'hung' }
        $nexts = @($group.Group | ForEach-Object NextSeconds)
        $nextSlowest = if ($nexts -contains $null) { 'hung' } else { ($nexts | Measure-Object -Maximum).Maximum }
        & $add "| $($group.Name) | $($group.Count) | $(@($group.Group | Where-Object Ok).Count) | $median | $slowest | $nextSlowest |"
    }
}
else {
    & $add 'Not run: tmux is not installed.'
}
& $add
& $add 'What used to go wrong (issue 20): the loky workers were in the terminal''s foreground process group, so the terminal''s SIGINT killed them all (exit code 130), and a worker killed while it started held its slot for 30 s and more, so the next call waited with no worker alive; and a Ctrl+C that caught one of the progress pane''s cursor-position requests in flight left pwsh waiting forever for the answer (the tty flushes its queues on SIGINT). Workers now start in a session of their own (setsid), a start that loses its process fails at once, and after a stop a guard asks the terminal again when the pipeline thread sits reading standard input (src/JoblibPS/Output/TerminalReplyGuard.cs).'
& $add
& $add 'The remote backend''s ssh clients are started by PowerShell''s SSH transport, not by JoblibPS, and stay in the terminal''s foreground process group (ps: the pane''s group, state `S+`): the terminal''s SIGINT reaches them. PowerShell starts ssh with SIGINT ignored (RunspaceConnectionInfo.StartSSHProcess, SUPPRESS_PROCESS_SIGINT; /proc/<pid>/status shows bit 1 of SigIgn set), so Ctrl+C loses no connection: the same ssh processes serve the next call (tests/Pester/Terminal.Tests.ps1 checks both). Ctrl+Z (SIGTSTP) and SIGQUIT are not ignored by ssh and would still reach it.'
& $add
& $add '## Bad inputs'
& $add
& $add "$(@($bad).Count) bad inputs, each refused with its error id ($(@($bad | Where-Object Ok).Count) as expected):"
& $add
& $add '| input | error id | as expected |'
& $add '|---|---|---|'
foreach ($b in $bad) { & $add "| $($b.Name -replace '\|', '/') | $($b.Id) | $($b.Ok) |" }
& $add
& $add '## Rerun it'
& $add
& $add '```'
& $add 'dotnet tool restore'
& $add 'dotnet pwsh ./build.ps1 -Task Soak     # about 10 minutes on 2 CPUs; rewrites this file'
& $add 'dotnet pwsh ./build.ps1 -Task Test     # includes the short form, tests/Pester/Reliability.Tests.ps1 (under a minute)'
& $add '```'
& $add
& $add 'tools/Invoke-Soak.ps1 takes -Calls and -LokyMixCalls for a longer run. The remote rows need /usr/sbin/sshd (openssh-server): two sshd instances are started on 127.0.0.2 and 127.0.0.3 of this machine and stopped at the end.'
if ($problems.Count) {
    & $add
    & $add '## Problems found'
    & $add
    foreach ($p in $problems) { & $add "- $($p -replace '\r?\n', ' ')" }
}
Set-Content -LiteralPath $OutputPath -Value $lines -Encoding utf8NoBOM
Write-Host "Wrote $OutputPath ($minutes min, $($problems.Count) problem(s))."
foreach ($p in $problems) { Write-Host "  $p" }
exit $(if ($problems.Count) { 1 } else { 0 })
