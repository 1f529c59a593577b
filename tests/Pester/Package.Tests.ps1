# The module as a package, installed as a user would: tools/New-ModulePackage.ps1 (what build.ps1 -Task Package
# runs) packs the built module; a child pwsh whose home, data folders and module path are a temporary folder
# registers that folder as a repository, installs the package with Install-PSResource, imports JoblibPS by name
# and runs a call. Nothing lands in the real user's module path or repository list.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $repoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).Path
    $modulePath = Get-JoblibBuiltModulePath
    $pwsh = Get-JoblibTestPwshPath

    $packageFolder = Join-Path $TestDrive 'repo'
    $package = & (Join-Path $repoRoot 'tools/New-ModulePackage.ps1') -ModulePath (Split-Path -Parent $modulePath) -DestinationPath $packageFolder

    # Runs $Script in a child pwsh whose HOME, data/config/cache folders and PSModulePath are under $Home (a
    # temporary folder): Install-PSResource -Scope CurrentUser then installs under $Home, and the repository
    # registration is written there too. Returns the child's exit code and output (stdout and stderr).
    function Invoke-CleanHomePwsh {
        param([string] $HomePath, [string] $Script)
        $null = New-Item -ItemType Directory -Force -Path $HomePath
        $scriptPath = Join-Path $HomePath 'run.ps1'
        Set-Content -LiteralPath $scriptPath -Value $Script -Encoding utf8NoBOM
        $info = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
        foreach ($argument in '-NoProfile', '-NonInteractive', '-File', $scriptPath) { $info.ArgumentList.Add($argument) }
        $info.WorkingDirectory = $HomePath
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.UseShellExecute = $false
        $info.Environment['HOME'] = $HomePath
        $info.Environment['USERPROFILE'] = $HomePath
        $info.Environment['LOCALAPPDATA'] = Join-Path $HomePath 'AppData/Local'
        $info.Environment['APPDATA'] = Join-Path $HomePath 'AppData/Roaming'
        $info.Environment['XDG_DATA_HOME'] = Join-Path $HomePath '.local/share'
        $info.Environment['XDG_CONFIG_HOME'] = Join-Path $HomePath '.config'
        $info.Environment['XDG_CACHE_HOME'] = Join-Path $HomePath '.cache'
        # Only pwsh's own modules (PSResourceGet among them); pwsh adds the user module path under the new HOME.
        $info.Environment['PSModulePath'] = Join-Path (Split-Path -Parent $pwsh) 'Modules'
        $info.Environment['NO_COLOR'] = '1'
        $null = $info.Environment.Remove('JOBLIBPS_MODULE')
        $process = [System.Diagnostics.Process]::Start($info)
        try {
            $stdout = $process.StandardOutput.ReadToEndAsync()
            $stderr = $process.StandardError.ReadToEndAsync()
            if (-not $process.WaitForExit(180000)) {
                $process.Kill($true)
                $process.WaitForExit()
                return [pscustomobject]@{ ExitCode = -1; Output = "killed after 180 s`n$($stdout.Result)$($stderr.Result)" }
            }
            $process.WaitForExit()
            [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $stdout.Result + $stderr.Result }
        }
        finally { $process.Dispose() }
    }
}

Describe 'The JoblibPS package' {
    It 'holds what the module needs, and nothing from the build tree' {
        $package.Name | Should -Match '^JoblibPS\.\d+\.\d+\.\d+.*\.nupkg$'
        Add-Type -AssemblyName System.IO.Compression.FileSystem
        $zip = [System.IO.Compression.ZipFile]::OpenRead($package.FullName)
        try { $entries = @($zip.Entries.FullName) }
        finally { $zip.Dispose() }
        foreach ($file in 'JoblibPS.psd1', 'JoblibPS.dll', 'JoblibPS.psm1', 'JoblibPS.format.ps1xml', 'LICENSE', 'en-US/JoblibPS.dll-Help.xml', 'en-US/about_JoblibPS.help.txt', 'en-US/about_JoblibPS_Backends.help.txt') {
            $entries | Should -Contain $file
        }
        $entries | Where-Object { $_ -match '(^|/)(bin|obj|help-skeleton|TestResults)/' } | Should -BeNullOrEmpty
    }

    It 'installs from a folder repository into a clean home, then imports by name and runs a call' {
        $homePath = Join-Path $TestDrive 'home-install'
        $result = Invoke-CleanHomePwsh -HomePath $homePath -Script @"
`$ErrorActionPreference = 'Stop'
Register-PSResourceRepository -Name JoblibPSLocal -Uri '$packageFolder' -Trusted
Install-PSResource -Name JoblibPS -Repository JoblibPSLocal -Scope CurrentUser
Import-Module JoblibPS
'base=' + (Get-Module JoblibPS).ModuleBase
'out=' + ((1..6 | Invoke-JoblibParallel { `$_ * 2 } -NJobs 2) -join ',')
'help=' + (Get-Help Invoke-JoblibParallel).Synopsis
'about=' + ((Get-Help about_JoblibPS_Backends | Out-String) -match 'ParallelBackendBase')
"@
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $lines = $result.Output -split '\r?\n'
        $base = ($lines -match '^base=') -replace '^base=', ''
        $base | Should -BeLike "$homePath*JoblibPS*"
        $lines | Should -Contain 'out=2,4,6,8,10,12'
        ($lines -match '^help=') -replace '^help=', '' | Should -Not -BeNullOrEmpty
        $lines | Should -Contain 'about=True'
    }

    It 'fails an install from a folder that holds no package, naming the package and the repository, and installs nothing' {
        $homePath = Join-Path $TestDrive 'home-empty'
        $empty = Join-Path $TestDrive 'empty-repo'
        $null = New-Item -ItemType Directory -Force -Path $empty
        $result = Invoke-CleanHomePwsh -HomePath $homePath -Script @"
Register-PSResourceRepository -Name JoblibPSLocal -Uri '$empty' -Trusted
try { Install-PSResource -Name JoblibPS -Repository JoblibPSLocal -Scope CurrentUser -ErrorAction Stop; 'installed' }
catch { 'error=' + `$_.FullyQualifiedErrorId + ' ' + `$_.Exception.Message }
'modules=' + @(Get-Module -ListAvailable JoblibPS).Count
"@
        $result.ExitCode | Should -Be 0 -Because $result.Output
        $lines = $result.Output -split '\r?\n'
        $failure = $lines -match '^error='
        $failure | Should -Not -BeNullOrEmpty -Because $result.Output
        $failure | Should -BeLike "*InstallPackageFailure*'JoblibPS'*'JoblibPSLocal'*"
        $lines | Should -Contain 'modules=0'
    }
}
