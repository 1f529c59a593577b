# A real terminal for tests: pwsh in a tmux pane (tmux 3.x), driven with send-keys and read with capture-pane.
# Ctrl+C typed there is the terminal's SIGINT, sent by the kernel's tty driver to the terminal's foreground
# process group, with the pane's pwsh running its console host, PSReadLine and progress pane: what a user gets,
# and what PowerShell.Stop() from another thread (Measure-JoblibCtrlC) does not reproduce.
#
# Each terminal has a tmux server of its own (a socket named after this process and a random suffix), so ending it
# (Stop-JoblibTerminal: kill-server on that socket) touches no other tmux session on the machine. Waits poll the
# pane against a deadline; nothing sleeps a guessed duration.

Set-StrictMode -Version Latest

# The prompt the pane's pwsh is given: a line that ends with it (and nothing typed after it) means pwsh is idle at its prompt.
$script:Prompt = 'JOBLIBPS-PROMPT>'

<#
.SYNOPSIS
Starts pwsh ($Pwsh, the real executable) in a tmux pane of a tmux server of its own, gives it a prompt that
Wait-JoblibTerminalPrompt recognises, imports $ModulePath there and waits for the prompt. Returns the terminal
(Socket, Target, ProcessId of the pane's pwsh); end it with Stop-JoblibTerminal.
#>
function Start-JoblibTerminal {
    param(
        [Parameter(Mandatory)] [string] $ModulePath,
        [string] $Pwsh = $(if ($env:JOBLIBPS_PWSH) { $env:JOBLIBPS_PWSH } else { Join-Path $PSHOME 'pwsh' }),
        [int] $Width = 200,
        [int] $Height = 50,
        [int] $StartSeconds = 60
    )
    if (-not (Get-Command tmux -CommandType Application -ErrorAction Ignore)) { throw 'tmux is not installed (apt-get install tmux).' }
    $terminal = [pscustomobject]@{
        PSTypeName = 'JoblibPS.Test.Terminal'
        Socket     = "joblibps-$PID-$([guid]::NewGuid().ToString('N').Substring(0, 8))"
        Target     = 'joblibps'
        ProcessId  = 0
    }
    # -f /dev/null: no user tmux.conf; the pane's pwsh gets this process's environment (NO_COLOR, JOBLIBPS_*).
    & tmux -L $terminal.Socket -f /dev/null new-session -d -s $terminal.Target -x $Width -y $Height -- $Pwsh -NoProfile -NoLogo
    if ($LASTEXITCODE -ne 0) { throw "tmux could not start a session for $Pwsh." }
    try {
        $terminal.ProcessId = [int](& tmux -L $terminal.Socket display-message -p -t $terminal.Target '#{pane_pid}')
        # Keys typed before PSReadLine reads them are lost: wait for pwsh's own first prompt.
        $ready = Wait-JoblibTerminal $terminal -TimeoutSeconds $StartSeconds -Condition { param($lines) @($lines | Where-Object { $_ }).Count -gt 0 -and (@($lines | Where-Object { $_ })[-1] -match '^PS .*>$') }
        if ($null -eq $ready) { throw "pwsh in tmux did not start within $StartSeconds s: $(Get-JoblibTerminalText $terminal)" }
        Send-JoblibTerminalLine $terminal "function prompt { '$script:Prompt ' }; Import-Module '$ModulePath'"
        $imported = Wait-JoblibTerminal $terminal -TimeoutSeconds $StartSeconds -Condition { param($lines) @($lines | Where-Object { $_ })[-1] -eq $script:Prompt }
        if ($null -eq $imported) {
            throw "pwsh in tmux did not show its prompt within $StartSeconds s: $(Get-JoblibTerminalText $terminal)"
        }
    }
    catch {
        Stop-JoblibTerminal $terminal
        throw
    }
    $terminal
}

<# .SYNOPSIS Types $Line into the pane and presses Enter. #>
function Send-JoblibTerminalLine {
    param([Parameter(Mandatory)] $Terminal, [Parameter(Mandatory)] [string] $Line)
    # -l: the line is typed as it is (no key names); Enter separately.
    & tmux -L $Terminal.Socket send-keys -t $Terminal.Target -l $Line
    & tmux -L $Terminal.Socket send-keys -t $Terminal.Target Enter
}

<# .SYNOPSIS Presses Ctrl+C in the pane: the tty driver sends SIGINT to the terminal's foreground process group. #>
function Send-JoblibTerminalCtrlC {
    param([Parameter(Mandatory)] $Terminal)
    & tmux -L $Terminal.Socket send-keys -t $Terminal.Target C-c
}

<# .SYNOPSIS The pane's visible text (its lines, trailing blanks removed). #>
function Get-JoblibTerminalText {
    param([Parameter(Mandatory)] $Terminal)
    @(& tmux -L $Terminal.Socket capture-pane -p -t $Terminal.Target) | ForEach-Object { $_.TrimEnd() }
}

<#
.SYNOPSIS
Empties the pane and its history, so that what comes next is read from a screen that holds only the prompt.
#>
function Clear-JoblibTerminal {
    param([Parameter(Mandatory)] $Terminal, [double] $TimeoutSeconds = 10)
    Send-JoblibTerminalLine $Terminal 'Clear-Host'
    $cleared = Wait-JoblibTerminal $Terminal -TimeoutSeconds $TimeoutSeconds -Condition {
        param($lines)
        $shown = @($lines | Where-Object { $_ })
        $shown.Count -eq 1 -and $shown[0] -eq $script:Prompt
    }
    if ($null -eq $cleared) { throw "The pane did not clear within $TimeoutSeconds s: $((Get-JoblibTerminalText $Terminal) -join "`n")" }
    & tmux -L $Terminal.Socket clear-history -t $Terminal.Target
}

<#
.SYNOPSIS
Polls the pane until $Condition (given the pane's lines) is true; returns the seconds it took, or $null when
$TimeoutSeconds passed first.
#>
function Wait-JoblibTerminal {
    param([Parameter(Mandatory)] $Terminal, [Parameter(Mandatory)] [scriptblock] $Condition, [double] $TimeoutSeconds = 30)
    $clock = [System.Diagnostics.Stopwatch]::StartNew()
    while ($true) {
        $lines = @(Get-JoblibTerminalText $Terminal)
        if (& $Condition $lines) { return [math]::Round($clock.Elapsed.TotalSeconds, 3) }
        if ($clock.Elapsed.TotalSeconds -ge $TimeoutSeconds) { return $null }
        # One capture-pane is a process start (5 to 10 ms): a pause this short keeps the pane's pwsh its CPU.
        [System.Threading.Thread]::Sleep(20)
    }
}

<#
.SYNOPSIS
Waits until pwsh is idle at its prompt: the pane's last non-empty line is the bare prompt, nothing typed after it.
Returns the seconds it took, or $null after $TimeoutSeconds. Call it once the pane showed that the command began
(Wait-JoblibTerminalEcho, or output of the command): before that, the prompt the command was typed at still counts.
#>
function Wait-JoblibTerminalPrompt {
    param([Parameter(Mandatory)] $Terminal, [double] $TimeoutSeconds = 30)
    Wait-JoblibTerminal $Terminal -TimeoutSeconds $TimeoutSeconds -Condition {
        param($lines)
        $shown = @($lines | Where-Object { $_ })
        $shown.Count -gt 0 -and $shown[-1] -eq $script:Prompt
    }
}

<#
.SYNOPSIS
Waits until the pane shows $Line typed at the prompt (its start: a long line wraps); false after $TimeoutSeconds.
#>
function Wait-JoblibTerminalEcho {
    param([Parameter(Mandatory)] $Terminal, [Parameter(Mandatory)] [string] $Line, [double] $TimeoutSeconds = 10)
    $start = "$script:Prompt " + $Line.Substring(0, [math]::Min(40, $Line.Length))
    $null -ne (Wait-JoblibTerminal $Terminal -TimeoutSeconds $TimeoutSeconds -Condition {
            param($lines)
            @($lines | Where-Object { $_.StartsWith($start) }).Count -gt 0
        }.GetNewClosure())
}

<#
.SYNOPSIS
The process ids of the pane's pwsh's descendants (worker processes), with their process group and state, as ps
shows them: Pid, Group, Stat, Command.
#>
function Get-JoblibTerminalChildProcess {
    param([Parameter(Mandatory)] $Terminal)
    $all = @(& ps -e -o pid=,ppid=,pgid=,stat=,args= | ForEach-Object {
            $f = $_.Trim() -split '\s+', 5
            [pscustomobject]@{ Pid = [int]$f[0]; Parent = [int]$f[1]; Group = [int]$f[2]; Stat = $f[3]; Command = $f[4] }
        })
    $parents = [System.Collections.Generic.HashSet[int]]::new()
    $null = $parents.Add($Terminal.ProcessId)
    do {
        $grown = $false
        foreach ($p in $all) { if ($parents.Contains($p.Parent) -and $parents.Add($p.Pid)) { $grown = $true } }
    } while ($grown)
    $all | Where-Object { $_.Pid -ne $Terminal.ProcessId -and $parents.Contains($_.Pid) }
}

<#
.SYNOPSIS
One Ctrl+C in a real terminal: runs $Call in the pane, waits until the progress bar shows at least $MinDone items
done, presses Ctrl+C and measures how long the prompt takes to come back; then runs $Next and waits for the prompt
again. Returns PromptSeconds ($null: no prompt within $PromptWaitSeconds), NextSeconds ($null: $Next did not end
within $NextWaitSeconds), NextOutput (the lines $Next wrote), BarSeen, Workers (the pane's descendants just before
Ctrl+C, from Get-JoblibTerminalChildProcess), and the pane's Text when something failed.
.DESCRIPTION
$Call should run several seconds with the progress bar on; $Next should write one line, which NextOutput holds.
A try whose prompt did not come back leaves the pane hung: stop the terminal (Stop-JoblibTerminal) and start a new one.
#>
function Measure-JoblibTerminalCtrlC {
    param(
        [Parameter(Mandatory)] $Terminal,
        [Parameter(Mandatory)] [string] $Call,
        [Parameter(Mandatory)] [string] $Next,
        [int] $MinDone = 1,
        [double] $BarWaitSeconds = 60,
        [double] $PromptWaitSeconds = 10,
        [double] $NextWaitSeconds = 60
    )
    Clear-JoblibTerminal $Terminal
    $result = [pscustomobject]@{ BarSeen = $false; Workers = @(); PromptSeconds = $null; NextSeconds = $null; NextOutput = @(); Text = '' }
    Send-JoblibTerminalLine $Terminal $Call
    if (-not (Wait-JoblibTerminalEcho $Terminal $Call)) { throw "The pane did not show the call: $((Get-JoblibTerminalText $Terminal) -join "`n")" }
    $result.BarSeen = $null -ne (Wait-JoblibTerminal $Terminal -TimeoutSeconds $BarWaitSeconds -Condition {
            param($lines)
            foreach ($line in $lines) { if ($line -match 'Done (\d+) (of \S+ )?items' -and [int]$Matches[1] -ge $MinDone) { return $true } }
            $false
        })
    $result.Workers = @(Get-JoblibTerminalChildProcess $Terminal)
    Send-JoblibTerminalCtrlC $Terminal
    $result.PromptSeconds = Wait-JoblibTerminalPrompt $Terminal -TimeoutSeconds $PromptWaitSeconds
    if ($null -eq $result.PromptSeconds) {
        $result.Text = (Get-JoblibTerminalText $Terminal) -join "`n"
        return $result
    }
    Clear-JoblibTerminal $Terminal
    Send-JoblibTerminalLine $Terminal $Next
    if (-not (Wait-JoblibTerminalEcho $Terminal $Next)) { throw "The pane did not show the next call: $((Get-JoblibTerminalText $Terminal) -join "`n")" }
    $result.NextSeconds = Wait-JoblibTerminalPrompt $Terminal -TimeoutSeconds $NextWaitSeconds
    $lines = @(Get-JoblibTerminalText $Terminal | Where-Object { $_ })
    # What $Next wrote: the lines between its command line and the prompt.
    $result.NextOutput = @($lines | Select-Object -Skip 1 | Where-Object { $_ -ne $script:Prompt })
    if ($null -eq $result.NextSeconds) { $result.Text = $lines -join "`n" }
    $result
}

<#
.SYNOPSIS
Ends the terminal: kills its tmux server (the pane's pwsh gets SIGHUP) and removes its socket file, then any process
of the pane still there (by pid: the pane's pwsh and its worker processes), and waits for them to be gone. Safe to
call twice.
#>
function Stop-JoblibTerminal {
    param([Parameter(Mandatory, ValueFromPipeline)] [AllowNull()] $Terminal)
    process {
        if ($null -eq $Terminal) { return }
        $left = @()
        if ($Terminal.ProcessId) { $left = @(Get-JoblibTerminalChildProcess $Terminal | ForEach-Object Pid) + $Terminal.ProcessId }
        $socketPath = "$(& tmux -L $Terminal.Socket display-message -p '#{socket_path}' 2>$null)"
        & tmux -L $Terminal.Socket kill-server 2>$null
        # tmux 3.3 leaves the socket file of a killed server behind.
        if ($socketPath -and (Test-Path -LiteralPath $socketPath)) { Remove-Item -LiteralPath $socketPath -Force -ErrorAction Ignore }
        foreach ($id in $left) {
            try {
                $p = [System.Diagnostics.Process]::GetProcessById($id)
                if (-not $p.WaitForExit(5000)) { $p.Kill(); $null = $p.WaitForExit(5000) }
            }
            catch [System.ArgumentException] { }
            catch [System.InvalidOperationException] { }
        }
    }
}

Export-ModuleMember -Function Start-JoblibTerminal, Send-JoblibTerminalLine, Send-JoblibTerminalCtrlC, Get-JoblibTerminalText, Clear-JoblibTerminal, Wait-JoblibTerminal, Wait-JoblibTerminalPrompt, Wait-JoblibTerminalEcho, Get-JoblibTerminalChildProcess, Measure-JoblibTerminalCtrlC, Stop-JoblibTerminal
