<#
.SYNOPSIS
Runs the Pester tests and writes their counts to a small json file; build.ps1 runs it in a child pwsh.

.DESCRIPTION
A child process because the tests import the built binary module, which cannot be unloaded again, and
because a crash here must not take build.ps1 down before it prints its summary line. The json file,
{ "Passed": n, "Failed": n, "Skipped": n }, is written only when Pester ran to the end: no file means the run crashed.
Failed counts failed tests plus failed blocks and containers (a throwing BeforeAll or a file that does not
parse fails no test, yet must fail the run).
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $PesterManifest,
    [Parameter(Mandatory)] [string] $TestPath,
    [Parameter(Mandatory)] [string] $ResultPath,
    [Parameter(Mandatory)] [string] $SummaryPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

Import-Module -Name $PesterManifest -Force

$config = New-PesterConfiguration
$config.Run.Path = $TestPath
$config.Run.PassThru = $true
$config.Output.Verbosity = 'Detailed'
$config.TestResult.Enabled = $true
$config.TestResult.OutputFormat = 'NUnitXml'
$config.TestResult.OutputPath = $ResultPath

$result = Invoke-Pester -Configuration $config

[ordered]@{
    Passed  = $result.PassedCount
    Failed  = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
    Skipped = $result.SkippedCount
} | ConvertTo-Json | Set-Content -LiteralPath $SummaryPath -Encoding utf8NoBOM
