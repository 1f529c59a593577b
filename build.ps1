#Requires -Version 7.2
<#
.SYNOPSIS
Builds, documents, tests, demonstrates and benchmarks JoblibPS.

.DESCRIPTION
Runs on a fresh clone that has only the .NET SDK:

    dotnet tool restore
    dotnet pwsh ./build.ps1 -Task Test

Tasks:
- Build  dotnet build JoblibPS.sln, then lay out the importable module in out/JoblibPS: the manifest with
         ModuleVersion stamped from <Version> in Directory.Build.props (the one version source), the dll and
         pdb, module/*.ps1xml, and help generated from docs/ by tools/New-MamlHelp.ps1.
- Help   regenerate only the help in out/JoblibPS (builds first when out/JoblibPS has no dll).
- Test   Build, then xunit (tests/JoblibPS.Tests) and Pester (tests/Pester). The last line printed is
         'N passed, N failed' (both runners summed), with ', N skipped' after it when tests were skipped (the
         remote-backend tests skip without /usr/sbin/sshd); exit code 1 when anything failed. A runner that
         crashes, or a build that fails, counts as one failure, so the line and the exit code always agree.
- Demo   Build, then run examples/demo.ps1.
- Package Build, then write the module as a NuGet package, out/JoblibPS.<version>.nupkg, with
         tools/New-ModulePackage.ps1 (PSResourceGet's Compress-PSResource, part of pwsh 7.4 and later; no
         network). Install it from a folder repository:
         Register-PSResourceRepository -Name JoblibPSLocal -Uri ./out -Trusted; Install-PSResource JoblibPS -Repository JoblibPSLocal
- Bench  Build, then run bench/Invoke-Benchmark.ps1 (if it exists yet).
- Soak   Build, then run the reliability suite at length with tools/Invoke-Soak.ps1: 300 calls mixing backends
         and failures, 200 loky calls stopped while busy, the fault matrix and the bad-input table, with
         resources checked before and after; rewrites docs/reliability.md from the run (about 10 minutes on
         2 CPUs; remote rows need /usr/sbin/sshd). Exit code 1 when anything failed. The short form runs
         in Test (tests/Pester/Reliability.Tests.ps1).
- Clean  remove out/ and every bin/ and obj/ of the repository (not inside .git).

Child processes (help generator, Pester, demo, bench, soak, dotnet test) see JOBLIBPS_MODULE (full path of
out/JoblibPS/JoblibPS.psd1), JOBLIBPS_PWSH (the pwsh executable) and NO_COLOR=1.

.EXAMPLE
dotnet pwsh ./build.ps1 -Task Test -Configuration Debug
#>
param(
    [ValidateSet('Build', 'Test', 'Demo', 'Package', 'Bench', 'Soak', 'Help', 'Clean')]
    [string] $Task = 'Build',
    [string] $Configuration = 'Release'
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
# Exit codes of native commands are checked by hand: a failing 'dotnet test' must not stop the script before counting.
$PSNativeCommandUseErrorActionPreference = $false

$Root = $PSScriptRoot
$OutDir = Join-Path $Root 'out'
$ModuleOut = Join-Path $OutDir 'JoblibPS'
$ManifestOut = Join-Path $ModuleOut 'JoblibPS.psd1'
$HelpOut = Join-Path $ModuleOut 'en-US'
$TestResults = Join-Path $OutDir 'TestResults'
$TestProject = Join-Path $Root 'tests/JoblibPS.Tests/JoblibPS.Tests.csproj'
# The real executable, not the dotnet tool shim (which would start pwsh as a grandchild).
$Pwsh = Join-Path $PSHOME $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
$Dotnet = Get-Command dotnet -CommandType Application -ErrorAction Ignore | Select-Object -First 1 -ExpandProperty Source
if (-not $Dotnet -and $env:DOTNET_HOST_PATH) { $Dotnet = $env:DOTNET_HOST_PATH }
if (-not $Dotnet) { throw 'dotnet was not found on PATH. Install the .NET SDK, then run: dotnet tool restore; dotnet pwsh ./build.ps1' }

function Write-Step {
    param([string] $Message)
    Write-Host "==> $Message"
}

# The child pwsh that runs a script: no profile, no prompts (a prompt would hang CI), its exit code returned.
function Invoke-ChildPwsh {
    param([string] $File, [string[]] $Arguments = @())
    # Out-Host: the child's output goes to the console, not into this function's return value.
    & $Pwsh -NoProfile -NonInteractive -File $File @Arguments | Out-Host
    $LASTEXITCODE
}

function Get-ModuleVersion {
    $props = Join-Path $Root 'Directory.Build.props'
    $node = ([xml](Get-Content -LiteralPath $props -Raw)).SelectSingleNode("//*[local-name()='PropertyGroup']/*[local-name()='Version']")
    if (-not $node -or -not $node.InnerText.Trim()) { throw "No <Version> in ${props}: it is the one version source for the module." }
    $node.InnerText.Trim()
}

# Copies module/JoblibPS.psd1 to out/, with ModuleVersion (and Prerelease, for '1.2.0-beta1') from Directory.Build.props.
function Copy-StampedManifest {
    $version = Get-ModuleVersion
    if ($version -notmatch '^(\d+\.\d+(?:\.\d+){0,2})(?:-([0-9A-Za-z.-]+))?$') {
        throw "<Version>$version</Version> in Directory.Build.props is not 'major.minor[.build[.revision]][-prerelease]'."
    }
    $numeric, $prerelease = $Matches[1], $(if ($Matches.Contains(2)) { $Matches[2] -replace '[^0-9A-Za-z]', '' } else { '' })
    $text = Get-Content -LiteralPath (Join-Path $Root 'module/JoblibPS.psd1') -Raw
    $pattern = "(?m)^(\s*ModuleVersion\s*=\s*)'[^']*'"
    if ($text -notmatch $pattern) { throw "module/JoblibPS.psd1 has no ModuleVersion = '...' line to stamp." }
    $text = $text -replace $pattern, "`${1}'$numeric'"
    if ($prerelease) {
        if ($text -notmatch '(?m)^\s*PSData\s*=\s*@\{') { throw "module/JoblibPS.psd1 has no PSData = @{ block to put Prerelease = '$prerelease' in." }
        $text = $text -replace '(?m)^(\s*)(PSData\s*=\s*@\{)', "`$1`$2`n`$1    Prerelease = '$prerelease'"
    }
    Set-Content -LiteralPath $ManifestOut -Value $text -Encoding utf8NoBOM -NoNewline
    $version
}

function Invoke-HelpGeneration {
    Write-Step 'Help: docs/cmdlets/*.md + compiled cmdlets -> out/JoblibPS/en-US'
    if (Test-Path -LiteralPath $HelpOut) { Remove-Item -LiteralPath $HelpOut -Recurse -Force }
    $exit = Invoke-ChildPwsh (Join-Path $Root 'tools/New-MamlHelp.ps1') @(
        '-ModuleManifest', $ManifestOut
        '-CmdletDocsPath', (Join-Path $Root 'docs/cmdlets')
        '-AboutDocsPath', (Join-Path $Root 'docs')
        '-OutputPath', $HelpOut
        '-SkeletonPath', (Join-Path $OutDir 'help-skeleton'))
    if ($exit -ne 0) { throw "Help generation failed (exit $exit): see the problems listed above." }
}

function Invoke-Build {
    Write-Step "dotnet build JoblibPS.sln -c $Configuration"
    & $Dotnet build (Join-Path $Root 'JoblibPS.sln') -c $Configuration --nologo | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "dotnet build failed (exit $LASTEXITCODE)." }

    Write-Step 'Module layout: out/JoblibPS'
    if (Test-Path -LiteralPath $ModuleOut) { Remove-Item -LiteralPath $ModuleOut -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $ModuleOut
    $bin = Join-Path $Root "src/JoblibPS/bin/$Configuration/netstandard2.0"
    foreach ($name in 'JoblibPS.dll', 'JoblibPS.pdb') {
        $file = Join-Path $bin $name
        if (-not (Test-Path -LiteralPath $file)) { throw "$file is missing after the build." }
        Copy-Item -LiteralPath $file -Destination $ModuleOut
    }
    Get-ChildItem -LiteralPath (Join-Path $Root 'module') -File | Where-Object Extension -in '.ps1xml', '.psm1' | Copy-Item -Destination $ModuleOut
    Copy-Item -LiteralPath (Join-Path $Root 'LICENSE') -Destination $ModuleOut
    $version = Copy-StampedManifest
    $null = Test-ModuleManifest -Path $ManifestOut   # throws when RootModule or a listed format file is missing
    Write-Host "JoblibPS $version -> $ModuleOut"

    Invoke-HelpGeneration
}

# Reads the Pester version from the test project's <PackageDownload>, so the version lives in one place.
function Find-PesterManifest {
    $csproj = [xml](Get-Content -LiteralPath $TestProject -Raw)
    $node = $csproj.SelectSingleNode("//*[local-name()='PackageDownload'][@Include='Pester']")
    if (-not $node) { throw "$TestProject has no <PackageDownload Include=""Pester"" Version=""[x.y.z]"" />." }
    $version = $node.GetAttribute('Version').Trim('[', ']')
    $roots = @()
    if ($env:NUGET_PACKAGES) { $roots += $env:NUGET_PACKAGES }
    $locals = & $Dotnet nuget locals global-packages --list 2>$null
    foreach ($line in @($locals)) { if ($line -match 'global-packages:\s*(.+?)\s*$') { $roots += $Matches[1] } }
    foreach ($r in $roots) {
        $candidate = Join-Path $r "pester/$version/tools/Pester.psd1"
        if (Test-Path -LiteralPath $candidate) { return $candidate }
    }
    throw "Pester $version is not in the NuGet global packages folder ($($roots -join ', ')). 'dotnet restore $TestProject' downloads it."
}

# Returns @{ Passed; Failed; Crashed } from the trx; a non-zero exit with no failed test in it is a crash.
function Invoke-XunitTest {
    Write-Step 'xunit: tests/JoblibPS.Tests'
    $trx = Join-Path $TestResults 'xunit.trx'
    if (Test-Path -LiteralPath $trx) { Remove-Item -LiteralPath $trx -Force }
    & $Dotnet test $TestProject -c $Configuration --no-build --nologo --logger 'trx;LogFileName=xunit.trx' --results-directory $TestResults | Out-Host
    $exit = $LASTEXITCODE
    if (-not (Test-Path -LiteralPath $trx)) {
        return @{ Passed = 0; Failed = 0; Skipped = 0; Crashed = "dotnet test exited $exit and wrote no $trx" }
    }
    $counters = ([xml](Get-Content -LiteralPath $trx -Raw)).TestRun.ResultSummary.Counters
    $count = { param($name) $v = $counters.GetAttribute($name); if ($v) { [int]$v } else { 0 } }
    $failed = (& $count 'failed') + (& $count 'error') + (& $count 'timeout') + (& $count 'aborted')
    $result = @{ Passed = (& $count 'passed'); Failed = $failed; Skipped = (& $count 'notExecuted'); Crashed = $null }
    if ($exit -ne 0 -and $failed -eq 0) { $result.Crashed = "dotnet test exited $exit but $trx records no failed test" }
    $result
}

function Invoke-PesterTest {
    $testPath = Join-Path $Root 'tests/Pester'
    if (-not (Get-ChildItem -LiteralPath $testPath -Filter '*.Tests.ps1' -File -Recurse -ErrorAction Ignore)) {
        Write-Step 'Pester: no tests/Pester/*.Tests.ps1, nothing to run'
        return @{ Passed = 0; Failed = 0; Skipped = 0; Crashed = $null }
    }
    $pester = Find-PesterManifest
    Write-Step "Pester: tests/Pester ($pester)"
    $summary = Join-Path $TestResults 'pester-summary.json'
    if (Test-Path -LiteralPath $summary) { Remove-Item -LiteralPath $summary -Force }
    $exit = Invoke-ChildPwsh (Join-Path $Root 'tools/Invoke-PesterTests.ps1') @(
        '-PesterManifest', $pester
        '-TestPath', $testPath
        '-ResultPath', (Join-Path $TestResults 'pester.xml')
        '-SummaryPath', $summary)
    if (-not (Test-Path -LiteralPath $summary)) {
        return @{ Passed = 0; Failed = 0; Skipped = 0; Crashed = "the Pester child exited $exit and wrote no $summary" }
    }
    $s = Get-Content -LiteralPath $summary -Raw | ConvertFrom-Json
    @{ Passed = [int]$s.Passed; Failed = [int]$s.Failed; Skipped = [int]$s.Skipped; Crashed = $null }
}

function Invoke-Test {
    try { Invoke-Build }
    catch {
        Write-Host "Build failed, no test ran: $($_.Exception.Message)"
        Write-Host '0 passed, 1 failed'
        exit 1
    }
    $null = New-Item -ItemType Directory -Force -Path $TestResults
    $results = [ordered]@{ xunit = Invoke-XunitTest; Pester = Invoke-PesterTest }
    $passed = 0; $failed = 0; $skipped = 0
    # ', N skipped' only when some were: the line then still starts 'N passed, N failed', as CI reads it.
    $skippedText = { param([int] $n) if ($n -gt 0) { ", $n skipped" } else { '' } }
    foreach ($runner in $results.Keys) {
        $r = $results[$runner]
        $passed += $r.Passed; $failed += $r.Failed; $skipped += $r.Skipped
        $line = "${runner}: $($r.Passed) passed, $($r.Failed) failed$(& $skippedText $r.Skipped)"
        if ($r.Crashed) { $failed += 1; $line += " - CRASHED ($($r.Crashed)), counted as 1 failure" }
        Write-Host $line
    }
    Write-Host "$passed passed, $failed failed$(& $skippedText $skipped)"
    exit $(if ($failed -gt 0) { 1 } else { 0 })
}

# Writes out/JoblibPS.<version>.nupkg from out/JoblibPS, built first so the package never holds a stale build.
function Invoke-Package {
    Invoke-Build
    Write-Step 'Package: out/JoblibPS -> out/JoblibPS.<version>.nupkg (tools/New-ModulePackage.ps1)'
    $package = & (Join-Path $Root 'tools/New-ModulePackage.ps1') -ModulePath $ModuleOut -DestinationPath $OutDir
    Write-Host "JoblibPS package -> $($package.FullName)"
    Write-Host "Install it: Register-PSResourceRepository -Name JoblibPSLocal -Uri '$OutDir' -Trusted; Install-PSResource JoblibPS -Repository JoblibPSLocal"
}

# Every bin/ and obj/ folder of the repository, wherever a build or an editor put one (hidden ones too, -Force),
# never inside .git. Collected first, then removed outermost first: a folder inside one already removed is gone.
function Invoke-Clean {
    Write-Step 'Clean: out/ and every bin/ and obj/'
    if (Test-Path -LiteralPath $OutDir) { Remove-Item -LiteralPath $OutDir -Recurse -Force }
    $git = Join-Path $Root '.git'
    $folders = @(Get-ChildItem -LiteralPath $Root -Directory -Recurse -Force |
            Where-Object { $_.Name -in 'bin', 'obj' -and -not $_.FullName.StartsWith($git + [IO.Path]::DirectorySeparatorChar) -and $_.FullName -ne $git } |
            Sort-Object { $_.FullName.Length })
    foreach ($folder in $folders) {
        if (Test-Path -LiteralPath $folder.FullName) { Remove-Item -LiteralPath $folder.FullName -Recurse -Force }
    }
}

function Invoke-Script {
    param([string] $RelativePath)
    $script = Join-Path $Root $RelativePath
    Write-Step "$RelativePath"
    $exit = Invoke-ChildPwsh $script
    if ($exit -ne 0) { throw "$RelativePath failed (exit $exit)." }
}

# Children see these; the caller's environment is put back afterwards (build.ps1 may run inside a session).
$childEnvironment = @{
    JOBLIBPS_MODULE = $ManifestOut
    JOBLIBPS_PWSH   = $Pwsh
    NO_COLOR        = '1'
}
$savedEnvironment = @{}
foreach ($name in $childEnvironment.Keys) {
    $savedEnvironment[$name] = [Environment]::GetEnvironmentVariable($name)
    [Environment]::SetEnvironmentVariable($name, $childEnvironment[$name])
}
try {
    switch ($Task) {
        'Build' { Invoke-Build }
        'Help' {
            if (Test-Path -LiteralPath (Join-Path $ModuleOut 'JoblibPS.dll')) { Invoke-HelpGeneration } else { Invoke-Build }
        }
        'Test' { Invoke-Test }
        'Demo' {
            if (-not (Test-Path -LiteralPath (Join-Path $Root 'examples/demo.ps1'))) { throw 'examples/demo.ps1 does not exist.' }
            Invoke-Build
            Invoke-Script 'examples/demo.ps1'
        }
        'Package' { Invoke-Package }
        'Bench' {
            Invoke-Build
            if (Test-Path -LiteralPath (Join-Path $Root 'bench/Invoke-Benchmark.ps1')) { Invoke-Script 'bench/Invoke-Benchmark.ps1' }
            else { Write-Warning 'bench/Invoke-Benchmark.ps1 does not exist yet: nothing to benchmark.' }
        }
        'Soak' {
            Invoke-Build
            Invoke-Script 'tools/Invoke-Soak.ps1'
        }
        'Clean' { Invoke-Clean }
    }
}
finally {
    foreach ($name in $savedEnvironment.Keys) { [Environment]::SetEnvironmentVariable($name, $savedEnvironment[$name]) }
}
