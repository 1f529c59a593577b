<#
.SYNOPSIS
Generates MAML help (<culture>/<Module>.dll-Help.xml) and about_*.help.txt topics for a built binary module.

.DESCRIPTION
Facts come from the compiled cmdlets through Get-Command, so they cannot drift from the code: syntax,
parameter sets, parameter types, mandatory, position, pipeline input, aliases, wildcards, valid values.
Prose comes from one platyPS-format markdown file per exported cmdlet or function, <CmdletDocsPath>/<Name>.md: synopsis,
description, examples, parameter descriptions and default values, inputs, outputs, notes, related links.
The SYNTAX section and the yaml blocks in the markdown are for readers of the markdown only; where they
disagree with the compiled cmdlet a warning says so, and the compiled cmdlet wins.

Throws (so `pwsh -File` exits 1) with every problem listed when:
- an exported cmdlet or function has no <Name>.md, or a <Name>.md documents no exported command;
- an exported function lacks '# .ExternalHelp <Module>.dll-Help.xml' (Get-Help would ignore its MAML);
- the '# Title' or the front matter names another cmdlet, module or help file;
- a cmdlet parameter (common parameters excepted) has no '### -Name' section, or a section names a
  parameter the cmdlet does not have;
- the synopsis, the description or a parameter description is empty or still a {{ placeholder }}.
For a missing file a complete skeleton, with the facts filled in, is written to -SkeletonPath.

Run it in a fresh pwsh: it imports the module, and a binary module cannot be unloaded again.

.EXAMPLE
pwsh -NoProfile -File tools/New-MamlHelp.ps1 -ModuleManifest out/JoblibPS/JoblibPS.psd1 -CmdletDocsPath docs/cmdlets -AboutDocsPath docs -OutputPath out/JoblibPS/en-US
#>
[CmdletBinding()]
param(
    # The built module to document (its manifest).
    [Parameter(Mandatory)] [string] $ModuleManifest,
    # Folder holding one <Name>.md per exported cmdlet or function.
    [Parameter(Mandatory)] [string] $CmdletDocsPath,
    # Folder holding about_*.md topics (optional).
    [string] $AboutDocsPath,
    # The culture folder the help goes to, e.g. out/JoblibPS/en-US.
    [Parameter(Mandatory)] [string] $OutputPath,
    # Where skeletons for missing markdown files are written (default: <OutputPath>/../../help-skeleton).
    [string] $SkeletonPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
# A bug here should say where it is: the default error view of 'pwsh -File' shows only the message.
trap { Write-Host "New-MamlHelp.ps1 failed: $_`n$($_.ScriptStackTrace)"; break }

$NsMaml = 'http://schemas.microsoft.com/maml/2004/10'
$NsCommand = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$NsDev = 'http://schemas.microsoft.com/maml/dev/2004/10'
$NsMSHelp = 'http://msdn.microsoft.com/mshelp'

# Parameters every cmdlet gets from PowerShell: documented once by about_CommonParameters, never per cmdlet.
# WhatIf and Confirm are documented per cmdlet (as platyPS does); UseTransaction is obsolete.
$CommonParameterNames = @([System.Management.Automation.Cmdlet]::CommonParameters) + @('UseTransaction')

#region Markdown reading

# Splits lines into sections at headings of exactly the given level, ignoring '#' lines inside code fences
# (PowerShell comments in examples). Lines before the first heading come back with Heading = $null.
function Split-MarkdownSection {
    param([string[]] $Lines, [int] $Level)
    $marker = ('#' * $Level) + ' '
    $sections = [System.Collections.Generic.List[object]]::new()
    $current = [pscustomobject]@{ Heading = $null; Lines = [System.Collections.Generic.List[string]]::new() }
    $inFence = $false
    foreach ($line in $Lines) {
        if ($line -match '^\s*(```|~~~)') { $inFence = -not $inFence }
        if (-not $inFence -and $line.StartsWith($marker)) {
            $sections.Add($current)
            $current = [pscustomobject]@{ Heading = $line.Substring($marker.Length).Trim(); Lines = [System.Collections.Generic.List[string]]::new() }
            continue
        }
        $current.Lines.Add($line)
    }
    $sections.Add($current)
    , $sections
}

# Removes the markdown markup that reads badly in a console: **bold**, __bold__, [text](url) -> text (url).
# Backticks are kept: they mark code, and Get-Help shows them as they are.
function ConvertFrom-InlineMarkdown {
    param([string] $Text)
    $Text = [regex]::Replace($Text, '\*\*(.+?)\*\*', '$1')
    $Text = [regex]::Replace($Text, '(?<![\w])__(.+?)__(?![\w])', '$1')
    $Text = [regex]::Replace($Text, '\[([^\]]+)\]\((https?://[^)]+)\)', '$1 ($2)')
    $Text = [regex]::Replace($Text, '\[([^\]]+)\]\(([^)]*)\)', '$1')
    $Text
}

# Turns markdown lines into MAML paragraphs: a paragraph per blank-line-separated block (its lines joined
# with spaces), a paragraph per list item, and a code block kept verbatim (indented) as one paragraph.
function ConvertTo-Paragraph {
    param([string[]] $Lines)
    $paras = [System.Collections.Generic.List[string]]::new()
    $current = [System.Collections.Generic.List[string]]::new()
    $code = $null
    $flush = {
        if ($current.Count -gt 0) { $paras.Add((ConvertFrom-InlineMarkdown ($current -join ' '))); $current.Clear() }
    }
    foreach ($line in @($Lines)) {
        if ($null -ne $code) {
            if ($line -match '^\s*(```|~~~)') { $paras.Add(($code | ForEach-Object { "    $_" }) -join "`n"); $code = $null }
            else { $code.Add($line) }
            continue
        }
        if ($line -match '^\s*(```|~~~)') { & $flush; $code = [System.Collections.Generic.List[string]]::new(); continue }
        if ($line.Trim() -eq '') { & $flush; continue }
        if ($line -match '^\s*([-*+]|\d+\.)\s+') { & $flush }
        $current.Add($line.Trim())
    }
    & $flush
    if ($null -ne $code) { $paras.Add(($code | ForEach-Object { "    $_" }) -join "`n") }
    , $paras.ToArray()
}

function Test-Placeholder {
    param([string[]] $Paragraphs)
    @($Paragraphs | Where-Object { $_ -match '\{\{.*\}\}' }).Count -gt 0
}

# Parses the 'Key: value' lines of the first yaml fence in the lines.
function Read-YamlBlock {
    param([string[]] $Lines)
    $map = [ordered]@{}
    $inYaml = $false
    foreach ($line in @($Lines)) {
        if (-not $inYaml -and $line -match '^\s*```\s*yaml\s*$') { $inYaml = $true; continue }
        if ($inYaml -and $line -match '^\s*```') { break }
        if ($inYaml -and $line -match '^\s*([^:]+?)\s*:\s*(.*?)\s*$') { $map[$Matches[1]] = $Matches[2] }
    }
    $map
}

# The lines of a section up to its first fence (parameter descriptions stop at the yaml block).
function Select-LinesBeforeFence {
    param([string[]] $Lines)
    $result = [System.Collections.Generic.List[string]]::new()
    foreach ($line in @($Lines)) {
        if ($line -match '^\s*(```|~~~)') { break }
        $result.Add($line)
    }
    , $result.ToArray()
}

# Reads one platyPS-format cmdlet markdown file into a plain object; records problems in $Problems.
function Read-CmdletMarkdown {
    param([string] $Path, [System.Collections.Generic.List[string]] $Problems)
    $file = Split-Path $Path -Leaf
    $lines = @((Get-Content -LiteralPath $Path -Encoding utf8) -replace '\r$', '')

    $front = [ordered]@{}
    $start = 0
    if ($lines.Count -gt 0 -and $lines[0] -eq '---') {
        $end = [Array]::IndexOf($lines, '---', 1)
        if ($end -lt 0) { $Problems.Add("${file}: the front matter opened by '---' on line 1 is never closed."); $end = 0 }
        foreach ($line in $lines[1..($end - 1)]) {
            if ($end -gt 1 -and $line -match '^\s*([^:]+?)\s*:\s*(.*?)\s*$') { $front[$Matches[1]] = $Matches[2] }
        }
        $start = $end + 1
    }
    else { $Problems.Add("${file}: no platyPS front matter ('---', external help file, Module Name, online version, schema: 2.0.0, '---') at the top.") }
    $body = if ($start -lt $lines.Count) { $lines[$start..($lines.Count - 1)] } else { @() }

    $title = $null
    $top = Split-MarkdownSection -Lines $body -Level 1
    foreach ($s in $top) { if ($null -ne $s.Heading) { $title = $s.Heading; $body = $s.Lines; break } }

    $doc = [ordered]@{
        Path = $Path; File = $file; FrontMatter = $front; Title = $title
        Synopsis = @(); Description = @(); SyntaxBlocks = @(); Examples = @(); Parameters = [ordered]@{}
        Inputs = @(); Outputs = @(); Notes = @(); Links = @()
    }
    foreach ($section in (Split-MarkdownSection -Lines $body -Level 2)) {
        if ($null -eq $section.Heading) {
            if (@($section.Lines | Where-Object { $_.Trim() }).Count) { $Problems.Add("${file}: text between the title and '## SYNOPSIS' is not part of the platyPS layout.") }
            continue
        }
        $lines2 = $section.Lines.ToArray()
        switch ($section.Heading.ToUpperInvariant()) {
            'SYNOPSIS' { $doc.Synopsis = ConvertTo-Paragraph $lines2 }
            'DESCRIPTION' { $doc.Description = ConvertTo-Paragraph $lines2 }
            'SYNTAX' {
                # Every fenced block is one syntax line (possibly wrapped); kept only to compare with the real syntax.
                $blocks = [System.Collections.Generic.List[string]]::new(); $buf = $null
                foreach ($l in $lines2) {
                    if ($l -match '^\s*```') { if ($null -eq $buf) { $buf = [System.Collections.Generic.List[string]]::new() } else { $blocks.Add(($buf -join ' ')); $buf = $null }; continue }
                    if ($null -ne $buf) { $buf.Add($l) }
                }
                $doc.SyntaxBlocks = $blocks.ToArray()
            }
            'EXAMPLES' {
                $examples = [System.Collections.Generic.List[object]]::new()
                foreach ($ex in (Split-MarkdownSection -Lines $lines2 -Level 3)) {
                    if ($null -eq $ex.Heading) { continue }
                    # The code is the first run of fenced blocks; everything else (prose, output blocks) is remarks.
                    $code = [System.Collections.Generic.List[string]]::new(); $rest = [System.Collections.Generic.List[string]]::new()
                    $state = 'before'   # before -> code -> between -> after
                    foreach ($l in $ex.Lines) {
                        $isFence = $l -match '^\s*(```|~~~)'
                        switch ($state) {
                            'before' { if ($isFence) { $state = 'code' } else { $rest.Add($l) } }
                            'code' { if ($isFence) { $state = 'between' } else { $code.Add($l) } }
                            'between' {
                                if ($isFence) { $state = 'code'; $code.Add('') }
                                elseif ($l.Trim() -eq '') { }
                                else { $state = 'after'; $rest.Add($l) }
                            }
                            'after' { $rest.Add($l) }
                        }
                    }
                    if ($code.Count -eq 0) { $Problems.Add("${file}: example '$($ex.Heading)' has no code block.") }
                    $examples.Add([pscustomobject]@{ Title = $ex.Heading; Code = ($code -join "`n").Trim("`n"); Remarks = ConvertTo-Paragraph $rest.ToArray() })
                }
                $doc.Examples = $examples.ToArray()
            }
            'PARAMETERS' {
                foreach ($p in (Split-MarkdownSection -Lines $lines2 -Level 3)) {
                    if ($null -eq $p.Heading -or $p.Heading -eq 'CommonParameters') { continue }
                    if ($p.Heading -notmatch '^-(\w+)$') { $Problems.Add("${file}: '### $($p.Heading)' under PARAMETERS is neither '### -Name' nor '### CommonParameters'."); continue }
                    $name = $Matches[1]
                    if ($doc.Parameters.Contains($name)) { $Problems.Add("${file}: parameter -$name is documented twice."); continue }
                    $doc.Parameters[$name] = [pscustomobject]@{
                        Name = $name
                        Description = ConvertTo-Paragraph (Select-LinesBeforeFence $p.Lines.ToArray())
                        Yaml = Read-YamlBlock $p.Lines.ToArray()
                    }
                }
            }
            { $_ -in 'INPUTS', 'OUTPUTS' } {
                $items = [System.Collections.Generic.List[object]]::new()
                foreach ($t in (Split-MarkdownSection -Lines $lines2 -Level 3)) {
                    $paras = ConvertTo-Paragraph $t.Lines.ToArray()
                    if ($null -eq $t.Heading) {
                        # Tolerated: a bare line naming the type, as some hand-written files do.
                        if ($paras.Count) { $items.Add([pscustomobject]@{ Type = $paras[0]; Description = @($paras | Select-Object -Skip 1) }) }
                        continue
                    }
                    $items.Add([pscustomobject]@{ Type = $t.Heading; Description = $paras })
                }
                if ($_ -eq 'INPUTS') { $doc.Inputs = $items.ToArray() } else { $doc.Outputs = $items.ToArray() }
            }
            'NOTES' { $doc.Notes = ConvertTo-Paragraph $lines2 }
            'RELATED LINKS' {
                $links = [System.Collections.Generic.List[object]]::new()
                foreach ($l in $lines2) {
                    $t = $l.Trim() -replace '^[-*+]\s+', ''
                    if (-not $t) { continue }
                    if ($t -match '^\[([^\]]*)\]\(([^)]*)\)') { $links.Add([pscustomobject]@{ Text = $Matches[1]; Uri = $Matches[2] }) }
                    else { $links.Add([pscustomobject]@{ Text = $t; Uri = '' }) }
                }
                $doc.Links = $links.ToArray()
            }
            default { $Problems.Add("${file}: unknown section '## $($section.Heading)' (platyPS sections: SYNOPSIS, SYNTAX, DESCRIPTION, EXAMPLES, PARAMETERS, INPUTS, OUTPUTS, NOTES, RELATED LINKS).") }
        }
    }
    [pscustomobject]$doc
}

#endregion

#region Facts from the compiled cmdlet

function Format-TypeName {
    param([type] $Type)
    if ($Type.IsArray) { return (Format-TypeName $Type.GetElementType()) + '[]' }
    if ($Type.IsGenericType) {
        $base = $Type.Name -replace '`\d+$', ''
        return $base + '[' + ((@($Type.GetGenericArguments()) | ForEach-Object { Format-TypeName $_ }) -join ', ') + ']'
    }
    $Type.Name
}

function Format-PipelineInput {
    param([bool] $ByValue, [bool] $ByPropertyName)
    if ($ByValue -and $ByPropertyName) { 'True (ByValue, ByPropertyName)' }
    elseif ($ByValue) { 'True (ByValue)' }
    elseif ($ByPropertyName) { 'True (ByPropertyName)' }
    else { 'False' }
}

function Format-Position {
    param([int] $Position)
    if ($Position -eq [int]::MinValue) { 'named' } else { [string]$Position }
}

# Joins per-set values: one value when all sets agree, else 'value (Set), value (Set)'.
function Join-PerSet {
    param([object[]] $Pairs)   # of @{ Set; Value }
    $distinct = @($Pairs | ForEach-Object { $_.Value } | Select-Object -Unique)
    if ($distinct.Count -le 1) { return [string]$distinct[0] }
    ($Pairs | ForEach-Object { "$($_.Value) ($($_.Set))" }) -join ', '
}

# One object per documented (non-common) parameter, with every fact help shows, from the compiled cmdlet.
function Get-ParameterFact {
    param([System.Management.Automation.CommandInfo] $Command)
    $defaultSet = @($Command.ParameterSets | Where-Object IsDefault | ForEach-Object Name)
    foreach ($meta in $Command.Parameters.Values) {
        if ($meta.Name -in $CommonParameterNames) { continue }
        # 'SetName', not 'Set': on an array, member enumeration of .Set would find Array.Set() instead.
        $sets = @($meta.ParameterSets.GetEnumerator() | ForEach-Object {
                [pscustomobject]@{ SetName = $_.Key; Meta = $_.Value }
            } | Sort-Object { $_.SetName -notin $defaultSet }, SetName)
        $validValues = @()
        $validate = @($meta.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] })
        if ($validate.Count) { $validValues = @($validate[0].ValidValues) }
        elseif ($meta.ParameterType.IsEnum) { $validValues = [enum]::GetNames($meta.ParameterType) }
        [pscustomobject]@{
            Name = $meta.Name
            Type = $meta.ParameterType
            TypeName = Format-TypeName $meta.ParameterType
            IsSwitch = $meta.SwitchParameter
            Aliases = @($meta.Aliases)
            Globbing = @($meta.Attributes | Where-Object { $_.GetType().Name -eq 'SupportsWildcardsAttribute' }).Count -gt 0
            ValidValues = $validValues
            SetNames = if (@($sets | ForEach-Object SetName) -contains '__AllParameterSets') { '(All)' } else { @($sets | ForEach-Object SetName) -join ', ' }
            Required = Join-PerSet @($sets | ForEach-Object { @{ Set = $_.SetName; Value = $_.Meta.IsMandatory.ToString() } })
            Position = Join-PerSet @($sets | ForEach-Object { @{ Set = $_.SetName; Value = (Format-Position $_.Meta.Position) } })
            PipelineInput = Format-PipelineInput (@($sets | Where-Object { $_.Meta.ValueFromPipeline }).Count -gt 0) (@($sets | Where-Object { $_.Meta.ValueFromPipelineByPropertyName }).Count -gt 0)
        }
    }
}

# The parameter sets, default first, each with its non-common parameters in syntax order:
# positional ones by position, then mandatory named ones, then the rest, each group in declaration order.
function Get-SyntaxItem {
    param([System.Management.Automation.CommandInfo] $Command)
    $sets = @($Command.ParameterSets | Sort-Object { -not $_.IsDefault })
    foreach ($set in $sets) {
        $params = @($set.Parameters | Where-Object { $_.Name -notin $CommonParameterNames })
        $positional = @($params | Where-Object { $_.Position -ge 0 } | Sort-Object Position)
        $named = @($params | Where-Object { $_.Position -lt 0 })
        [pscustomobject]@{
            Name = $set.Name
            IsDefault = $set.IsDefault
            Parameters = @($positional) + @($named | Where-Object IsMandatory) + @($named | Where-Object { -not $_.IsMandatory })
        }
    }
}

# The platyPS-style one-line syntax of a parameter set ('Verb-Noun [-Name] <Type> [-Switch] [<CommonParameters>]').
function Format-SyntaxLine {
    param([string] $CommandName, [object] $SyntaxItem, [bool] $HasCommonParameters)
    $parts = @($CommandName)
    foreach ($p in $SyntaxItem.Parameters) {
        $isSwitch = $p.ParameterType -eq [System.Management.Automation.SwitchParameter]
        $nameText = if ($p.Position -ge 0) { "[-$($p.Name)]" } else { "-$($p.Name)" }
        $text = if ($isSwitch) { "-$($p.Name)" } else { "$nameText <$(Format-TypeName $p.ParameterType)>" }
        if (-not $p.IsMandatory -or $isSwitch) { $text = "[$text]" }
        $parts += $text
    }
    if ($HasCommonParameters) { $parts += '[<CommonParameters>]' }
    $parts -join ' '
}

function Format-ParameterYaml {
    param([object] $Fact, [string] $DefaultValue = 'None')
    $lines = @(
        "Type: $($Fact.TypeName)"
        "Parameter Sets: $($Fact.SetNames)"
        "Aliases:$(if ($Fact.Aliases.Count) { ' ' + ($Fact.Aliases -join ', ') })"
    )
    if ($Fact.ValidValues.Count) { $lines += "Accepted values: $($Fact.ValidValues -join ', ')" }
    $lines + @(
        ''
        "Required: $($Fact.Required)"
        "Position: $($Fact.Position -creplace '\bnamed\b', 'Named')"
        "Default value: $DefaultValue"
        "Accept pipeline input: $($Fact.PipelineInput)"
        "Accept wildcard characters: $($Fact.Globbing)"
    )
}

# A complete platyPS-format markdown file for a cmdlet, facts filled in and prose left as {{ placeholders }}.
function New-MarkdownSkeleton {
    param([System.Management.Automation.CommandInfo] $Command, [string] $ModuleName, [string] $HelpFileName)
    $hasCommon = $Command.Parameters.ContainsKey('Verbose')   # cmdlets and advanced functions
    $items = @(Get-SyntaxItem $Command)
    $md = [System.Collections.Generic.List[string]]::new()
    $md.AddRange([string[]]@('---', "external help file: $HelpFileName", "Module Name: $ModuleName", 'online version:', 'schema: 2.0.0', '---', '', "# $($Command.Name)", '', '## SYNOPSIS', '{{ Fill in the Synopsis }}', '', '## SYNTAX', ''))
    foreach ($item in $items) {
        if ($items.Count -gt 1 -or $item.Name -ne '__AllParameterSets') {
            $md.Add("### $($item.Name)$(if ($item.IsDefault) { ' (Default)' })"); $md.Add('')
        }
        $md.AddRange([string[]]@('```', (Format-SyntaxLine $Command.Name $item $hasCommon), '```', ''))
    }
    $md.AddRange([string[]]@('## DESCRIPTION', '{{ Fill in the Description }}', '', '## EXAMPLES', ''))
    foreach ($n in 1, 2) { $md.AddRange([string[]]@("### Example ${n}: {{ Add example title here }}", '```powershell', '{{ Add example code here }}', '```', '', '{{ Add example description here }}', '')) }
    $md.AddRange([string[]]@('## PARAMETERS', ''))
    foreach ($fact in @(Get-ParameterFact $Command | Sort-Object Name)) {
        $md.AddRange([string[]]@("### -$($fact.Name)", "{{ Fill $($fact.Name) Description }}", '', '```yaml'))
        $md.AddRange([string[]]@(Format-ParameterYaml $fact))
        $md.AddRange([string[]]@('```', ''))
    }
    if ($hasCommon) {
        $md.AddRange([string[]]@('### CommonParameters', 'This cmdlet supports the common parameters: -Debug, -ErrorAction, -ErrorVariable, -InformationAction, -InformationVariable, -OutBuffer, -OutVariable, -PipelineVariable, -ProgressAction, -Verbose, -WarningAction, and -WarningVariable. For more information, see [about_CommonParameters](http://go.microsoft.com/fwlink/?LinkID=113216).', ''))
    }
    $md.AddRange([string[]]@('## INPUTS', '', '### {{ Fill in the input type }}', '', '## OUTPUTS', '', '### {{ Fill in the output type }}', '', '## NOTES', '', '## RELATED LINKS', ''))
    $md -join "`n"
}

#endregion

#region MAML writing

function Write-Para {
    param([System.Xml.XmlWriter] $W, [string[]] $Paragraphs)
    $W.WriteStartElement('maml', 'description', $NsMaml)
    if (@($Paragraphs).Count -eq 0) { $W.WriteElementString('maml', 'para', $NsMaml, '') }
    foreach ($p in @($Paragraphs)) { $W.WriteElementString('maml', 'para', $NsMaml, $p) }
    $W.WriteEndElement()
}

function Write-ParameterElement {
    param([System.Xml.XmlWriter] $W, [string] $Name, [type] $Type, [bool] $Required, [string] $Position,
        [string] $PipelineInput, [string[]] $Aliases, [bool] $Globbing, [string[]] $ValidValues,
        [string[]] $Description, [string] $DefaultValue, [bool] $InSyntax)
    $isSwitch = $Type -eq [System.Management.Automation.SwitchParameter]
    $typeName = Format-TypeName $Type
    $W.WriteStartElement('command', 'parameter', $NsCommand)
    $W.WriteAttributeString('required', $Required.ToString().ToLowerInvariant())
    $W.WriteAttributeString('variableLength', $Type.IsArray.ToString().ToLowerInvariant())
    $W.WriteAttributeString('globbing', $Globbing.ToString().ToLowerInvariant())
    $W.WriteAttributeString('pipelineInput', $PipelineInput)
    $W.WriteAttributeString('position', $Position)
    $W.WriteAttributeString('aliases', $(if (@($Aliases).Count) { $Aliases -join ', ' } else { 'none' }))
    $W.WriteElementString('maml', 'name', $NsMaml, $Name)
    Write-Para $W $Description
    if ($InSyntax -and @($ValidValues).Count) {
        # Get-Help shows these as '-Name {a | b}' in the syntax.
        $W.WriteStartElement('command', 'parameterValueGroup', $NsCommand)
        foreach ($v in $ValidValues) {
            $W.WriteStartElement('command', 'parameterValue', $NsCommand)
            $W.WriteAttributeString('required', 'false'); $W.WriteAttributeString('command', 'variableLength', $NsCommand, 'false')
            $W.WriteString($v); $W.WriteEndElement()
        }
        $W.WriteEndElement()
    }
    elseif (-not ($InSyntax -and $isSwitch)) {
        # A switch takes no value: platyPS leaves its value out of the syntax so Get-Help shows '[-Switch]'.
        $W.WriteStartElement('command', 'parameterValue', $NsCommand)
        $W.WriteAttributeString('required', (-not $isSwitch).ToString().ToLowerInvariant())
        $W.WriteAttributeString('variableLength', 'false')
        $W.WriteString($typeName); $W.WriteEndElement()
    }
    $W.WriteStartElement('dev', 'type', $NsDev)
    $W.WriteElementString('maml', 'name', $NsMaml, $typeName)
    $W.WriteElementString('maml', 'uri', $NsMaml, '')
    $W.WriteEndElement()
    $W.WriteElementString('dev', 'defaultValue', $NsDev, $DefaultValue)
    $W.WriteEndElement()
}

function Write-CommandHelp {
    param([System.Xml.XmlWriter] $W, [System.Management.Automation.CommandInfo] $Command, [object] $Doc)
    $descriptions = @{}
    $defaults = @{}
    foreach ($p in $Doc.Parameters.Values) {
        $descriptions[$p.Name] = $p.Description
        $dv = if ($p.Yaml.Contains('Default value')) { [string]$p.Yaml['Default value'] } else { '' }
        $defaults[$p.Name] = if ($dv) { $dv } else { 'None' }
    }

    $W.WriteStartElement('command', 'command', $NsCommand)
    $W.WriteAttributeString('xmlns', 'maml', $null, $NsMaml)
    $W.WriteAttributeString('xmlns', 'command', $null, $NsCommand)
    $W.WriteAttributeString('xmlns', 'dev', $null, $NsDev)
    $W.WriteAttributeString('xmlns', 'MSHelp', $null, $NsMSHelp)

    $W.WriteStartElement('command', 'details', $NsCommand)
    $W.WriteElementString('command', 'name', $NsCommand, $Command.Name)
    $W.WriteElementString('command', 'verb', $NsCommand, $Command.Verb)
    $W.WriteElementString('command', 'noun', $NsCommand, $Command.Noun)
    Write-Para $W $Doc.Synopsis
    $W.WriteEndElement()
    Write-Para $W $Doc.Description

    $W.WriteStartElement('command', 'syntax', $NsCommand)
    foreach ($item in @(Get-SyntaxItem $Command)) {
        $W.WriteStartElement('command', 'syntaxItem', $NsCommand)
        $W.WriteElementString('maml', 'name', $NsMaml, $Command.Name)
        foreach ($p in $item.Parameters) {
            $validValues = @()
            $vs = @($p.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] })
            if ($vs.Count) { $validValues = @($vs[0].ValidValues) } elseif ($p.ParameterType.IsEnum) { $validValues = [enum]::GetNames($p.ParameterType) }
            Write-ParameterElement -W $W -Name $p.Name -Type $p.ParameterType -Required $p.IsMandatory `
                -Position (Format-Position $p.Position) -PipelineInput (Format-PipelineInput $p.ValueFromPipeline $p.ValueFromPipelineByPropertyName) `
                -Aliases @($p.Aliases) -Globbing (@($p.Attributes | Where-Object { $_.GetType().Name -eq 'SupportsWildcardsAttribute' }).Count -gt 0) `
                -ValidValues $validValues -Description $descriptions[$p.Name] -DefaultValue $defaults[$p.Name] -InSyntax $true
        }
        $W.WriteEndElement()
    }
    $W.WriteEndElement()

    # Parameters in the order the markdown documents them (the author's order, as platyPS does).
    $facts = @{}
    foreach ($f in @(Get-ParameterFact $Command)) { $facts[$f.Name] = $f }
    $W.WriteStartElement('command', 'parameters', $NsCommand)
    foreach ($name in $Doc.Parameters.Keys) {
        if (-not $facts.ContainsKey($name)) { continue }
        $f = $facts[$name]
        Write-ParameterElement -W $W -Name $f.Name -Type $f.Type -Required ($f.Required -match 'True') `
            -Position $f.Position.ToLowerInvariant() -PipelineInput $f.PipelineInput -Aliases $f.Aliases -Globbing $f.Globbing `
            -ValidValues $f.ValidValues -Description $descriptions[$name] -DefaultValue $defaults[$name] -InSyntax $false
    }
    $W.WriteEndElement()

    foreach ($kind in @(@{ List = 'inputTypes'; Item = 'inputType'; Data = $Doc.Inputs }, @{ List = 'returnValues'; Item = 'returnValue'; Data = $Doc.Outputs })) {
        $W.WriteStartElement('command', $kind.List, $NsCommand)
        foreach ($io in @($kind.Data)) {
            $W.WriteStartElement('command', $kind.Item, $NsCommand)
            $W.WriteStartElement('dev', 'type', $NsDev); $W.WriteElementString('maml', 'name', $NsMaml, $io.Type); $W.WriteEndElement()
            Write-Para $W $io.Description
            $W.WriteEndElement()
        }
        $W.WriteEndElement()
    }

    $W.WriteStartElement('maml', 'alertSet', $NsMaml)
    $W.WriteStartElement('maml', 'alert', $NsMaml)
    if (@($Doc.Notes).Count -eq 0) { $W.WriteElementString('maml', 'para', $NsMaml, '') }
    foreach ($n in @($Doc.Notes)) { $W.WriteElementString('maml', 'para', $NsMaml, $n) }
    $W.WriteEndElement(); $W.WriteEndElement()

    $W.WriteStartElement('command', 'examples', $NsCommand)
    foreach ($ex in @($Doc.Examples)) {
        $W.WriteStartElement('command', 'example', $NsCommand)
        # Dashed like PowerShell's own titles, but short enough not to wrap in an 80-column console.
        $dashes = '-' * [Math]::Max(4, [int][Math]::Floor((76 - $ex.Title.Length - 2) / 2))
        $W.WriteElementString('maml', 'title', $NsMaml, "$dashes $($ex.Title) $dashes")
        $W.WriteElementString('dev', 'code', $NsDev, $ex.Code)
        $W.WriteStartElement('dev', 'remarks', $NsDev)
        if (@($ex.Remarks).Count -eq 0) { $W.WriteElementString('maml', 'para', $NsMaml, '') }
        foreach ($r in @($ex.Remarks)) { $W.WriteElementString('maml', 'para', $NsMaml, $r) }
        $W.WriteEndElement()
        $W.WriteEndElement()
    }
    $W.WriteEndElement()

    $W.WriteStartElement('command', 'relatedLinks', $NsCommand)
    $links = @($Doc.Links)
    $online = if ($Doc.FrontMatter.Contains('online version')) { [string]$Doc.FrontMatter['online version'] } else { '' }
    if ($online) { $links = @([pscustomobject]@{ Text = 'Online Version:'; Uri = $online }) + $links }
    foreach ($l in $links) {
        $W.WriteStartElement('maml', 'navigationLink', $NsMaml)
        $W.WriteElementString('maml', 'linkText', $NsMaml, $l.Text)
        $W.WriteElementString('maml', 'uri', $NsMaml, $l.Uri)
        $W.WriteEndElement()
    }
    $W.WriteEndElement()

    $W.WriteEndElement()
}

#endregion

#region Checks of markdown against the compiled cmdlet

function Test-CmdletDoc {
    param([System.Management.Automation.CommandInfo] $Command, [object] $Doc, [string] $ModuleName, [string] $HelpFileName,
        [System.Collections.Generic.List[string]] $Problems)
    $file = $Doc.File
    if ($Doc.Title -ne $Command.Name) { $Problems.Add("${file}: the title is '# $($Doc.Title)'; it must be '# $($Command.Name)'.") }
    foreach ($key in 'Module Name', 'external help file') {
        $expected = if ($key -eq 'Module Name') { $ModuleName } else { $HelpFileName }
        if ($Doc.FrontMatter.Count -and $Doc.FrontMatter[$key] -ne $expected) {
            $Problems.Add("${file}: front matter '${key}: $($Doc.FrontMatter[$key])' must be '${key}: $expected'.")
        }
    }
    if (@($Doc.Synopsis).Count -eq 0) { $Problems.Add("${file}: '## SYNOPSIS' is missing or empty.") }
    if (@($Doc.Description).Count -eq 0) { $Problems.Add("${file}: '## DESCRIPTION' is missing or empty.") }
    if (Test-Placeholder (@($Doc.Synopsis) + @($Doc.Description))) { $Problems.Add("${file}: the synopsis or description still holds a {{ placeholder }}.") }
    foreach ($ex in @($Doc.Examples)) {
        if (Test-Placeholder (@($ex.Title, $ex.Code) + @($ex.Remarks))) { $Problems.Add("${file}: example '$($ex.Title)' still holds a {{ placeholder }}.") }
    }

    $facts = @(Get-ParameterFact $Command)
    foreach ($fact in $facts) {
        if (-not $Doc.Parameters.Contains($fact.Name)) {
            $yaml = (Format-ParameterYaml $fact) -join "`n"
            $Problems.Add("${file}: parameter -$($fact.Name) has no '### -$($fact.Name)' section under '## PARAMETERS'. Add:`n### -$($fact.Name)`n<what it does>`n`n``````yaml`n$yaml`n```````n")
            continue
        }
        $p = $Doc.Parameters[$fact.Name]
        if (@($p.Description).Count -eq 0) { $Problems.Add("${file}: '### -$($fact.Name)' has no description (text before its yaml block).") }
        elseif (Test-Placeholder $p.Description) { $Problems.Add("${file}: '### -$($fact.Name)' still holds a {{ placeholder }}.") }
        # The yaml is what readers of the markdown see: say where it no longer matches the code.
        $expected = [ordered]@{}
        foreach ($line in (Format-ParameterYaml $fact)) { if ($line -match '^([^:]+):\s*(.*)$') { $expected[$Matches[1]] = $Matches[2] } }
        foreach ($key in @($expected.Keys | Where-Object { $_ -ne 'Default value' })) {
            # 'Aliases:' left empty (platyPS) and 'Aliases: None' say the same thing.
            $norm = { param($s) $t = ([string]$s -replace '\s+', ' ').Trim().ToLowerInvariant(); if ($t -eq 'none') { '' } else { $t } }
            if ($p.Yaml.Contains($key) -and (& $norm $p.Yaml[$key]) -ne (& $norm $expected[$key])) {
                Write-Warning "${file}: -$($fact.Name) yaml says '${key}: $($p.Yaml[$key])' but the compiled cmdlet has '${key}: $($expected[$key])' (help uses the compiled value)."
            }
        }
    }
    $factNames = @($facts | ForEach-Object Name)   # not $facts.Name: strict mode throws on an empty array
    $known = $factNames + $CommonParameterNames
    foreach ($name in $Doc.Parameters.Keys) {
        if ($name -notin $known) { $Problems.Add("${file}: '### -$name' documents a parameter $($Command.Name) does not have (parameters: $(($factNames | Sort-Object) -join ', ')).") }
    }
    if (@($Doc.Examples).Count -lt 2) { Write-Warning "${file}: $(@($Doc.Examples).Count) example(s); tests/Pester/Help.Tests.ps1 asks for at least two." }

    $hasCommon = $Command.Parameters.ContainsKey('Verbose')   # cmdlets and advanced functions
    $normalize = { param($s) ($s -replace '\s+', ' ').Trim() }
    $actual = @($Doc.SyntaxBlocks | ForEach-Object { & $normalize $_ })
    foreach ($item in @(Get-SyntaxItem $Command)) {
        $line = Format-SyntaxLine $Command.Name $item $hasCommon
        if ($actual -notcontains $line) { Write-Warning "${file}: '## SYNTAX' has no block for parameter set '$($item.Name)' as compiled (help uses the compiled syntax). Expected:`n$line" }
    }
}

#endregion

#region about topics

# Markdown to the plain text Get-Help shows: heading markers and code fences go, code is indented.
function ConvertTo-AboutText {
    param([string[]] $Lines)
    $out = [System.Collections.Generic.List[string]]::new()
    $inFence = $false
    $i = 0
    if ($Lines.Count -gt 0 -and $Lines[0] -eq '---') {
        $end = [Array]::IndexOf($Lines, '---', 1)
        if ($end -gt 0) { $i = $end + 1 }
    }
    for (; $i -lt $Lines.Count; $i++) {
        $line = $Lines[$i]
        if ($line -match '^\s*(```|~~~)') { $inFence = -not $inFence; continue }
        if ($inFence) { $out.Add("    $line"); continue }
        if ($line -match '^#{1,6}\s+(.*)$') { $out.Add($Matches[1].Trim()); continue }
        $out.Add($line)
    }
    $out -join [Environment]::NewLine
}

#endregion

$ModuleManifest = (Resolve-Path -LiteralPath $ModuleManifest).ProviderPath
# A missing docs folder (git keeps no empty folder) is an empty one: every cmdlet is then reported undocumented.
$CmdletDocsPath = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($CmdletDocsPath)
$null = New-Item -ItemType Directory -Force -Path $OutputPath
$OutputPath = (Resolve-Path -LiteralPath $OutputPath).ProviderPath
if (-not $SkeletonPath) { $SkeletonPath = Join-Path (Split-Path (Split-Path $OutputPath)) 'help-skeleton' }

$module = Import-Module -Name $ModuleManifest -PassThru -Force
$helpFileName = "$($module.Name).dll-Help.xml"
# Exported functions are documented like cmdlets: their help comes from the same MAML file when the function
# says '# .ExternalHelp <Module>.dll-Help.xml' (checked below).
$cmdlets = @(Get-Command -Module $module.Name -CommandType Cmdlet, Function | Sort-Object Name)
$cmdletNames = @($cmdlets | ForEach-Object Name)

$problems = [System.Collections.Generic.List[string]]::new()
$docs = @{}
foreach ($file in @(Get-ChildItem -LiteralPath $CmdletDocsPath -Filter '*.md' -File -ErrorAction Ignore)) {
    if ($file.BaseName -notin $cmdletNames) {
        $problems.Add("$($file.Name): documents '$($file.BaseName)', which $($module.Name) does not export (exported commands: $($cmdletNames -join ', ')).")
        continue
    }
    $docs[$file.BaseName] = Read-CmdletMarkdown -Path $file.FullName -Problems $problems
}
foreach ($cmd in $cmdlets) {
    if (-not $docs.ContainsKey($cmd.Name)) {
        $null = New-Item -ItemType Directory -Force -Path $SkeletonPath
        $skeleton = Join-Path $SkeletonPath "$($cmd.Name).md"
        Set-Content -LiteralPath $skeleton -Value (New-MarkdownSkeleton $cmd $module.Name $helpFileName) -Encoding utf8NoBOM
        $problems.Add("$($cmd.Name) has no $(Join-Path $CmdletDocsPath "$($cmd.Name).md"). A skeleton with the facts filled in is at $skeleton; copy it there and replace the {{ placeholders }}.")
        continue
    }
    Test-CmdletDoc -Command $cmd -Doc $docs[$cmd.Name] -ModuleName $module.Name -HelpFileName $helpFileName -Problems $problems
    # FunctionInfo.HelpFile stays empty until Get-Help runs: read the .ExternalHelp keyword from the function's own AST.
    $helpContent = if ($cmd.CommandType -eq 'Function') { $cmd.ScriptBlock.Ast.GetHelpContent() }
    if ($cmd.CommandType -eq 'Function' -and (-not $helpContent -or $helpContent.MamlHelpFile -ne $helpFileName)) {
        $problems.Add("Function $($cmd.Name) does not say '# .ExternalHelp $helpFileName' at the top of its body, so Get-Help would never show $($cmd.Name).md.")
    }
}
if ($problems.Count) {
    # Printed line by line: an exception message would be reflowed into one paragraph by the error view.
    Write-Host "Help for $($module.Name) is incomplete ($($problems.Count) problem(s)):"
    foreach ($p in $problems) { Write-Host "- $p" }
    exit 1
}

$target = Join-Path $OutputPath $helpFileName
$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.Encoding = [System.Text.UTF8Encoding]::new($true)
$writer = [System.Xml.XmlWriter]::Create($target, $settings)
try {
    $writer.WriteStartDocument()
    $writer.WriteStartElement('helpItems', 'http://msh')
    $writer.WriteAttributeString('schema', 'maml')
    foreach ($cmd in $cmdlets) { Write-CommandHelp -W $writer -Command $cmd -Doc $docs[$cmd.Name] }
    $writer.WriteEndElement()
    $writer.WriteEndDocument()
}
finally { $writer.Dispose() }
Write-Host "Help: $target ($($cmdlets.Count) command(s): $($cmdletNames -join ', '))"

if ($AboutDocsPath -and (Test-Path -LiteralPath $AboutDocsPath)) {
    foreach ($about in @(Get-ChildItem -LiteralPath $AboutDocsPath -Filter 'about_*.md' -File)) {
        $text = ConvertTo-AboutText @((Get-Content -LiteralPath $about.FullName -Encoding utf8) -replace '\r$', '')
        $dest = Join-Path $OutputPath "$($about.BaseName).help.txt"
        Set-Content -LiteralPath $dest -Value $text -Encoding utf8NoBOM
        Write-Host "Help: $dest"
    }
}
