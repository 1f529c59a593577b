<#
.SYNOPSIS
Writes a built JoblibPS module folder as a NuGet package (JoblibPS.<version>.nupkg); build.ps1 -Task Package
and tests/Pester/Package.Tests.ps1 both use it.

.DESCRIPTION
Uses PSResourceGet's Compress-PSResource, which ships with pwsh 7.4 and later and needs no network: it
validates the manifest and packs the whole module folder (dll, manifest, psm1, format file, generated help,
LICENSE). A JoblibPS.*.nupkg already in the destination is replaced. Returns the package file.

Install the package from a folder repository:
    Register-PSResourceRepository -Name JoblibPSLocal -Uri <destination folder> -Trusted
    Install-PSResource -Name JoblibPS -Repository JoblibPSLocal
#>
[CmdletBinding()]
param(
    # The built module folder (out/JoblibPS), holding JoblibPS.psd1.
    [Parameter(Mandatory)] [string] $ModulePath,
    # The folder the .nupkg is written to (created when missing).
    [Parameter(Mandatory)] [string] $DestinationPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

if (-not (Test-Path -LiteralPath (Join-Path $ModulePath 'JoblibPS.psd1'))) {
    throw "$ModulePath holds no JoblibPS.psd1: build the module first (dotnet pwsh ./build.ps1 -Task Build)."
}
if (-not (Get-Command Compress-PSResource -ErrorAction Ignore)) {
    throw 'Compress-PSResource was not found: it comes with Microsoft.PowerShell.PSResourceGet 1.1 or later, part of pwsh 7.4 and later. Run this with dotnet pwsh (the repository pins pwsh 7.6.9).'
}
$null = New-Item -ItemType Directory -Force -Path $DestinationPath
Get-ChildItem -LiteralPath $DestinationPath -Filter 'JoblibPS.*.nupkg' -File | Remove-Item -Force
Compress-PSResource -Path $ModulePath -DestinationPath $DestinationPath
$package = Get-ChildItem -LiteralPath $DestinationPath -Filter 'JoblibPS.*.nupkg' -File | Select-Object -First 1
if (-not $package) { throw "Compress-PSResource wrote no JoblibPS.*.nupkg in $DestinationPath." }
$package
