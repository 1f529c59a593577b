# Test hosts for the remote backend: sshd instances on loopback addresses of this machine (127.0.0.2, 127.0.0.3, ...),
# each with its own generated host key, one shared client key, and the PowerShell subsystem. Only ever addresses on
# this machine. Each host is stopped by its pid (Stop-JoblibSshHost); nothing else is touched.

Set-StrictMode -Version Latest

function Start-JoblibSshHost {
    <#
    .SYNOPSIS
    Starts an sshd on $Address:$Port that serves PowerShell remoting, and returns how to reach it.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Address,
        [int] $Port = 2222,
        [string] $PwshPath = (Join-Path $PSHOME 'pwsh'),
        [string] $Root = (Join-Path ([IO.Path]::GetTempPath()) "joblibps-ssh-$PID")
    )
    $sshd = '/usr/sbin/sshd'
    if (-not (Test-Path $sshd)) { throw "sshd is not installed ($sshd); .ci/run installs openssh-server." }
    $null = New-Item -ItemType Directory -Force -Path $Root, '/run/sshd'
    $clientKey = Join-Path $Root 'client_ed25519'
    if (-not (Test-Path $clientKey)) {
        & ssh-keygen -q -t ed25519 -N '' -f $clientKey | Out-Null
        Copy-Item "$clientKey.pub" (Join-Path $Root 'authorized_keys')
    }
    $hostDir = Join-Path $Root "$Address-$Port"
    $null = New-Item -ItemType Directory -Force -Path $hostDir
    $hostKey = Join-Path $hostDir 'host_ed25519'
    if (-not (Test-Path $hostKey)) { & ssh-keygen -q -t ed25519 -N '' -f $hostKey | Out-Null }
    $config = Join-Path $hostDir 'sshd_config'
    @(
        "ListenAddress ${Address}:$Port"
        "HostKey $hostKey"
        "AuthorizedKeysFile $(Join-Path $Root 'authorized_keys')"
        'PasswordAuthentication no'
        'KbdInteractiveAuthentication no'
        'PubkeyAuthentication yes'
        'PermitRootLogin yes'
        'StrictModes no'
        'UsePAM no'
        "PidFile $(Join-Path $hostDir 'sshd.pid')"
        "Subsystem powershell $PwshPath -sshs -NoLogo -NoProfile"
    ) | Set-Content -Path $config
    $log = Join-Path $hostDir 'sshd.log'
    $process = Start-Process -FilePath $sshd -ArgumentList '-D', '-e', '-f', $config -RedirectStandardError $log -RedirectStandardOutput "$log.out" -PassThru
    # Wait until the port accepts connections (bounded).
    $deadline = [DateTime]::UtcNow.AddSeconds(15)
    while ($true) {
        if ($process.HasExited) { throw "sshd on ${Address}:$Port exited: $(Get-Content $log -Raw)" }
        $client = [System.Net.Sockets.TcpClient]::new()
        try {
            if ($client.ConnectAsync($Address, $Port).Wait(200) -and $client.Connected) { break }
        }
        catch { }
        finally { $client.Dispose() }
        if ([DateTime]::UtcNow -gt $deadline) { $process.Kill(); throw "sshd on ${Address}:$Port did not start listening: $(Get-Content $log -Raw)" }
        Start-Sleep -Milliseconds 100
    }
    [pscustomobject]@{
        PSTypeName     = 'JoblibPS.Test.SshHost'
        HostName       = $Address
        Port           = $Port
        UserName       = [Environment]::UserName
        KeyFilePath    = $clientKey
        KnownHostsFile = Join-Path $Root 'known_hosts'
        Process        = $process
        Pid            = $process.Id
        Log            = $log
    }
}

function Stop-JoblibSshHost {
    <# .SYNOPSIS Stops a test sshd by its pid (and the sessions it serves, which are its children). #>
    param([Parameter(Mandatory, ValueFromPipeline)] $SshHost)
    process {
        $p = $SshHost.Process
        if ($null -ne $p -and -not $p.HasExited) {
            # sshd -D keeps each session in a child process: end them with their parent.
            Get-JoblibChildProcessId -ParentId $p.Id | ForEach-Object { try { [Diagnostics.Process]::GetProcessById($_).Kill() } catch { } }
            $p.Kill()
            $null = $p.WaitForExit(5000)
        }
    }
}

function Get-JoblibChildProcessId {
    param([int] $ParentId)
    foreach ($dir in Get-ChildItem /proc -Directory -ErrorAction SilentlyContinue | Where-Object Name -match '^\d+$') {
        try {
            $stat = Get-Content (Join-Path $dir.FullName 'stat') -Raw -ErrorAction Stop
            $ppid = [int](($stat -split '\) ')[1] -split ' ')[1]
            if ($ppid -eq $ParentId) { [int]$dir.Name; Get-JoblibChildProcessId -ParentId ([int]$dir.Name) }
        }
        catch { }
    }
}

function Get-JoblibSshOptions {
    <# .SYNOPSIS The -Options for New-PSSession against a test host: known hosts in the test folder, no prompts. #>
    param([Parameter(Mandatory)] $SshHost)
    @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = $SshHost.KnownHostsFile; BatchMode = 'yes' }
}

Export-ModuleMember -Function Start-JoblibSshHost, Stop-JoblibSshHost, Get-JoblibSshOptions, Get-JoblibChildProcessId
