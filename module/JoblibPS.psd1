@{
    # The version is stamped from Directory.Build.props by build.ps1; this value is only a placeholder.
    ModuleVersion        = '0.1.0'
    GUID                 = '5f0c3c8e-6a0e-4c9b-9d0e-7b1d2f3a4c51'
    Author               = 'JoblibPS contributors'
    CompanyName          = 'JoblibPS'
    Copyright            = '(c) JoblibPS contributors. MIT License.'
    Description          = 'joblib-style Parallel for PowerShell: batching, ordered streaming, fail-fast abort, timeouts, nesting, and pluggable backends: sequential, threading (runspaces, the default), loky (a reusable pool of pwsh worker processes), multiprocessing (fresh worker processes per call), remote (PowerShell remoting over SSH), and your own. Tested on PowerShell 7.6 on Linux; Windows PowerShell 5.1 loads it but is not tested (see the README).'
    RootModule           = 'JoblibPS.dll'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    NestedModules        = @('JoblibPS.psm1')
    FormatsToProcess     = @('JoblibPS.format.ps1xml')
    CmdletsToExport      = @('Invoke-JoblibParallel', 'Get-JoblibConfig', 'Register-JoblibBackend', 'Get-JoblibBackend', 'Unregister-JoblibBackend', 'Get-JoblibCheckpoint', 'Remove-JoblibCheckpoint')
    FunctionsToExport    = @('Use-JoblibConfig')
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('parallel', 'joblib', 'runspace', 'threading', 'multiprocessing', 'remoting', 'batch')
            # MIT: the full text is LICENSE, shipped in the module folder and the package. No ProjectUri: the
            # project has no public address yet, and an empty one makes Compress-PSResource fail.
            LicenseUri = 'https://opensource.org/license/mit'
        }
    }
}
