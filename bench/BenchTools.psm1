# Small helpers the bench/ scripts share: which JoblibPS to import, which pwsh to start children with, list
# parameters given through pwsh -File, the median of timed rounds, the machine's load average. Each script imports
# this file; none of these helpers measures anything itself.

Set-StrictMode -Version Latest

$script:RepoRoot = Split-Path -Parent $PSScriptRoot

<#
.SYNOPSIS
The JoblibPS module a benchmark imports: -ModulePath when given, else $env:JOBLIBPS_MODULE (build.ps1 sets it),
else out/JoblibPS/JoblibPS.psd1 of this clone.
.DESCRIPTION
Without -AnyBuild the path is returned whether it exists or not (the caller's Import-Module says what is missing).
With -AnyBuild, the first of $env:JOBLIBPS_MODULE, out/JoblibPS/JoblibPS.psd1 and the dll of
'dotnet build -c Release' (src/JoblibPS/bin/Release/netstandard2.0/JoblibPS.dll) that exists; it throws when
none does.
#>
function Get-BenchModulePath {
    param([string] $ModulePath, [switch] $AnyBuild)
    if ($ModulePath) { return $ModulePath }
    $built = Join-Path $script:RepoRoot 'out/JoblibPS/JoblibPS.psd1'
    if (-not $AnyBuild) {
        if ($env:JOBLIBPS_MODULE) { return $env:JOBLIBPS_MODULE }
        return $built
    }
    $found = @($env:JOBLIBPS_MODULE, $built, (Join-Path $script:RepoRoot 'src/JoblibPS/bin/Release/netstandard2.0/JoblibPS.dll')) |
        Where-Object { $_ -and (Test-Path -LiteralPath $_) } | Select-Object -First 1
    if (-not $found) { throw 'No JoblibPS to import: build it (dotnet pwsh ./build.ps1) or pass -ModulePath.' }
    $found
}

<#
.SYNOPSIS
The pwsh executable of this PowerShell ($PSHOME), to start child processes with.
.DESCRIPTION
The real executable: started through the dotnet tool shim, pwsh would run as a grandchild and its start-up would
include the shim's.
#>
function Get-BenchPwshPath {
    Join-Path $PSHOME $(if ($IsWindows) { 'pwsh.exe' } else { 'pwsh' })
}

<#
.SYNOPSIS
A list parameter as a flat array of names: accepts @('a','b'), 'a,b' (what pwsh -File passes for a list) and
@() or '' (no names). Names are trimmed; empty ones are dropped.
#>
function Split-BenchList {
    param([string[]] $Value)
    @($Value | ForEach-Object { "$_" -split ',' } | ForEach-Object { $_.Trim() } | Where-Object { $_ })
}

<#
.SYNOPSIS
The median of -Values; $null when there are none.
.PARAMETER Even
What an even count gives, each script keeping the rule it was measured with: Lower (the lower of the two middle
values, the default: always a measured value), Upper (the higher one) or Mean (their mean). An odd count gives the
middle value under every rule.
#>
function Get-BenchMedian {
    param([double[]] $Values, [ValidateSet('Lower', 'Upper', 'Mean')] [string] $Even = 'Lower')
    if ($null -eq $Values -or $Values.Count -eq 0) { return $null }
    $sorted = [double[]]$Values.Clone()
    [Array]::Sort($sorted)
    $upper = [int][Math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2 -eq 1) { return $sorted[$upper] }
    switch ($Even) {
        'Lower' { $sorted[$upper - 1] }
        'Upper' { $sorted[$upper] }
        'Mean' { ($sorted[$upper - 1] + $sorted[$upper]) / 2 }
    }
}

<#
.SYNOPSIS
The load average of this machine from /proc/loadavg: the first -Fields of its figures (1, 5 and 15 minutes),
separated by spaces; $null where /proc/loadavg cannot be read (not Linux).
#>
function Get-BenchLoadAverage {
    param([ValidateRange(1, 3)] [int] $Fields = 1)
    try {
        if (Test-Path -LiteralPath /proc/loadavg) { @(((Get-Content -Raw -LiteralPath /proc/loadavg) -split ' ')[0..($Fields - 1)]) -join ' ' }
    }
    catch { }
}

Export-ModuleMember -Function Get-BenchModulePath, Get-BenchPwshPath, Split-BenchList, Get-BenchMedian, Get-BenchLoadAverage
