# Every exported cmdlet and function has help a user can read: checked through Get-Help in real pwsh, against the built
# module (build.ps1 sets JOBLIBPS_MODULE; without it, the out/ folder of this clone is used).
# The build already refuses undocumented commands and parameters; this checks what Get-Help actually shows.

BeforeDiscovery {
    $modulePath = if ($env:JOBLIBPS_MODULE) { $env:JOBLIBPS_MODULE } else { Join-Path $PSScriptRoot '../../out/JoblibPS/JoblibPS.psd1' }
    # Imported at discovery too: the cmdlets and their parameters decide which tests exist.
    $module = Import-Module -Name $modulePath -PassThru
    $common = @([System.Management.Automation.Cmdlet]::CommonParameters) + @('UseTransaction')
    $cmdlets = @(Get-Command -Module $module.Name -CommandType Cmdlet, Function | ForEach-Object {
            @{
                Name       = $_.Name
                Parameters = @($_.Parameters.Keys | Where-Object { $_ -notin $common } | Sort-Object)
            }
        })
}

BeforeAll {
    $modulePath = if ($env:JOBLIBPS_MODULE) { $env:JOBLIBPS_MODULE } else { Join-Path $PSScriptRoot '../../out/JoblibPS/JoblibPS.psd1' }
    Import-Module -Name $modulePath
}

Describe 'Help for <Name>' -ForEach $cmdlets {
    BeforeAll {
        $help = Get-Help -Name $Name -Full
    }

    It 'has a synopsis' {
        $help.Synopsis | Should -Not -BeNullOrEmpty
        # Without MAML help, Get-Help makes the synopsis out of the syntax.
        $help.Synopsis.Trim() | Should -Not -BeLike "$Name *" -Because 'the synopsis must come from docs/cmdlets, not be generated from the syntax'
    }

    It 'has a description' {
        ($help.description | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }

    It 'has at least two examples, each with code' {
        $examples = @($help.examples.example)
        $examples.Count | Should -BeGreaterOrEqual 2
        foreach ($example in $examples) {
            ([string]$example.code).Trim() | Should -Not -BeNullOrEmpty -Because "example '$($example.title.Trim(' -'))' needs code"
        }
    }

    It 'says of -<_> what the compiled parameter is: the yaml of its markdown, and whether its text allows wildcards' -ForEach $Parameters {
        $parameterName = $_
        # Get-Help takes these facts from the compiled cmdlet (tools/New-MamlHelp.ps1); the markdown must agree.
        $shown = @($help.parameters.parameter | Where-Object { $_.name -eq $parameterName })[0]
        $page = Get-Content -LiteralPath (Join-Path $PSScriptRoot "../../docs/cmdlets/$Name.md") -Raw
        $section = [regex]::Match($page, "(?ms)^### -$parameterName\r?\n(.*?)^``````yaml\r?\n(.*?)^``````").Groups
        $prose, $yaml = $section[1].Value, $section[2].Value
        $yaml | Should -Not -BeNullOrEmpty -Because "docs/cmdlets/$Name.md needs a yaml block for -$parameterName"
        $field = { param($key) if ($yaml -match "(?m)^${key}: *(.*?)\r?$") { $Matches[1].Trim() } }
        $globbing = $shown.globbing -eq 'true'
        & $field 'Accept wildcard characters' | Should -Be ([string]$globbing) -Because "-$parameterName is compiled with$(if (-not $globbing) { 'out' }) [SupportsWildcards]"
        ($prose -match 'wildcard') | Should -Be $globbing -Because "the text of -$parameterName must mention wildcards exactly when it takes them"
        & $field 'Required' | Should -Be ([string]($shown.required -eq 'true'))
        (& $field 'Position').ToLowerInvariant() | Should -Be $shown.position.ToLowerInvariant()
    }

    It 'describes -<_>' -ForEach $Parameters {
        $parameterName = $_
        $parameter = @($help.parameters.parameter | Where-Object { $_.name -eq $parameterName })
        $parameter.Count | Should -Be 1 -Because "Get-Help $Name must list -$parameterName once"
        ($parameter[0].description | Out-String).Trim() | Should -Not -BeNullOrEmpty
    }
}
