<#
.SYNOPSIS
Compiles examples/ThreadPoolBackend.cs and registers it as the JoblibPS backend 'custom'.

.DESCRIPTION
The C# twin of examples/ThreadPoolBackend.ps1. Run it after importing JoblibPS: Add-Type compiles the class
against the loaded JoblibPS.dll. Once -ReferencedAssemblies is given, Add-Type needs every assembly the source
uses beyond System.Runtime: 'netstandard' (JoblibPS.dll targets netstandard2.0, so its signatures name
netstandard's types) and 'System.Collections' (List<T>). A type can be added only once per process: running
this again reuses the compiled type.

.EXAMPLE
Import-Module ./out/JoblibPS/JoblibPS.psd1
. ./examples/ThreadPoolBackend.CSharp.ps1
Use-JoblibConfig custom { 1..10 | Invoke-JoblibParallel { $_ * 2 } -NJobs 2 }
#>

if (-not ('JoblibPS.ParallelBackendBase' -as [type])) {
    throw 'Import JoblibPS first (Import-Module ./out/JoblibPS/JoblibPS.psd1), then run this file.'
}

if (-not ('JoblibPS.Examples.ThreadPoolBackend' -as [type])) {
    $source = Get-Content -LiteralPath (Join-Path $PSScriptRoot 'ThreadPoolBackend.cs') -Raw
    Add-Type -TypeDefinition $source -ReferencedAssemblies ([JoblibPS.ParallelBackendBase].Assembly.Location), 'netstandard', 'System.Collections'
}

Register-JoblibBackend -Name custom -Factory ([JoblibPS.Examples.ThreadPoolBackend]) -Force
