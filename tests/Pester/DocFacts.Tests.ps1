# The facts the docs state about the module are checked against the compiled module, so the two cannot drift:
# the built-in backends and their DefaultNJobs (Get-JoblibBackend), the error ids (the public constants of
# JoblibPS.ErrorIds), the auto-batching constants (JoblibPS.AutoBatchSizer) and the process backends'
# defaults (JoblibPS.Backends.Process.ProcessBackendOptions). Conventions the docs follow for this:
# - a list of the built-in backends is written "built-in backends (`a`, `b`, ...)";
# - about_JoblibPS_Backends has the table "### Built-in backends": | `name` | workers | DefaultNJobs | batches |;
# - about_JoblibPS has the table "### Stable error ids": | JoblibId | when |, and the tables of "## ENVIRONMENT
#   VARIABLES": | NAME | meaning |;
# - a batch target is written "aim at [joblib's ]X to Y s";
# - the README's "## Supported PowerShell" table ends each row with its Tested cell.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $null = Import-JoblibTestModule
    $repoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).Path
    $docFiles = @(Get-ChildItem -LiteralPath (Join-Path $repoRoot 'docs') -Filter '*.md' -File -Recurse) + @(Get-Item -LiteralPath (Join-Path $repoRoot 'README.md'))
    $builtIns = @(Get-JoblibBackend | Where-Object Source -EQ 'BuiltIn' | ForEach-Object Name | Sort-Object)

    # The rows of the first markdown table at or after the first line of $Path that matches $Pattern (a heading,
    # or the table's own header line): one string[] of cells per row, the header row left out.
    function Get-MarkdownTable {
        param([string] $Path, [string] $Pattern)
        $lines = @(Get-Content -LiteralPath $Path -Encoding utf8)
        $start = 0
        while ($start -lt $lines.Count -and $lines[$start] -notmatch $Pattern) { $start++ }
        if ($start -ge $lines.Count) { throw "$Path has no line that matches '$Pattern'." }
        $rows = [System.Collections.Generic.List[object]]::new()
        $inTable = $false
        for ($i = $start; $i -lt $lines.Count; $i++) {
            $line = $lines[$i]
            if ($line -match '^\|') {
                $inTable = $true
                if ($line -match '^\|[\s\-|:]+\|$') { continue }
                $rows.Add(@(($line.Trim('|') -split '\|') | ForEach-Object Trim))
            }
            elseif ($inTable) { break }
        }
        # The first row is the header.
        $rows | Select-Object -Skip 1
    }

    # The text of a section, its lines joined by single spaces (so phrases that wrap across lines still match).
    function Get-DocText {
        param([string] $Path)
        ((Get-Content -LiteralPath $Path -Raw -Encoding utf8) -replace '\s+', ' ')
    }
}

Describe 'Docs agree with the compiled module' {
    It 'every list of "built-in backends (...)" names exactly the built-in backends Get-JoblibBackend lists' {
        $builtIns | Should -Be @('loky', 'multiprocessing', 'remote', 'sequential', 'threading')
        $lists = foreach ($file in $docFiles) {
            foreach ($match in [regex]::Matches((Get-DocText $file.FullName), 'built-in backends \(([^)]*)\)')) {
                [pscustomobject]@{ File = $file.Name; Names = @([regex]::Matches($match.Groups[1].Value, '`([^`]+)`') | ForEach-Object { $_.Groups[1].Value } | Sort-Object) }
            }
        }
        @($lists).Count | Should -BeGreaterOrEqual 3 -Because 'README and the cmdlet pages list the built-in backends'
        foreach ($list in $lists) { $list.Names | Should -Be $builtIns -Because "the list in $($list.File) must name every built-in backend" }
    }

    It 'the built-in backends table of about_JoblibPS_Backends lists each built-in with its DefaultNJobs and batch durations' {
        $rows = @(Get-MarkdownTable -Path (Join-Path $repoRoot 'docs/about_JoblibPS_Backends.md') -Pattern '^### Built-in backends$')
        @($rows | ForEach-Object { $_[0].Trim('`') } | Sort-Object) | Should -Be $builtIns
        foreach ($row in $rows) {
            $name = $row[0].Trim('`')
            $info = Get-JoblibBackend -Name $name
            [int]$row[2] | Should -Be $info.DefaultNJobs -Because "the DefaultNJobs of '$name'"
            # An instance made as Get-JoblibBackend makes one: constructors allocate nothing (resources come with Configure).
            $backend = [Activator]::CreateInstance((Get-JoblibInternalType JoblibPS.Backends.BackendRegistry)::Find($name).BackendType)
            $sizer = [JoblibPS.ParallelBackendBase].GetProperty('AutoBatcher', [System.Reflection.BindingFlags] 'NonPublic, Instance').GetValue($backend)
            $row[3] | Should -Be ('{0} to {1} s' -f $sizer.MinIdealBatchDuration.TotalSeconds, $sizer.MaxIdealBatchDuration.TotalSeconds) -Because "the batch durations of '$name'"
        }
    }

    It 'the error-id table of about_JoblibPS holds every id of JoblibPS.ErrorIds, and nothing else' {
        $ids = @([JoblibPS.ErrorIds].GetFields('Public, Static') | Where-Object IsLiteral | ForEach-Object { $_.GetValue($null) } | Sort-Object)
        $ids.Count | Should -BeGreaterThan 20
        $documented = @(Get-MarkdownTable -Path (Join-Path $repoRoot 'docs/about_JoblibPS.md') -Pattern '^### Stable error ids$' | ForEach-Object { $_[0] } | Sort-Object)
        $documented | Should -Be $ids
    }

    It 'about_JoblibPS states the auto-batching constants the engine uses' {
        $sizer = [JoblibPS.AutoBatchSizer]
        $text = Get-DocText (Join-Path $repoRoot 'docs/about_JoblibPS.md')
        $backendsText = Get-DocText (Join-Path $repoRoot 'docs/about_JoblibPS_Backends.md')
        $claims = @(
            @{ Text = $text; Claim = 'at most {0} times per step' -f $sizer::DefaultMaxGrowthFactor }
            @{ Text = $text; Claim = '(`sequential`, `threading`) aim at {0} to {1} s per batch, with at most {2:N0} items' -f $sizer::InProcessMinIdealBatchDuration.TotalSeconds, $sizer::InProcessMaxIdealBatchDuration.TotalSeconds, $sizer::InProcessMaxBatchSize }
            @{ Text = $text; Claim = 'keep joblib''s {0} to {1} s' -f $sizer::JoblibMinIdealBatchDuration.TotalSeconds, $sizer::JoblibMaxIdealBatchDuration.TotalSeconds }
            @{ Text = $backendsText; Claim = 'aim at {0} to {1} s per batch, grow at most {2} times per step' -f $sizer::JoblibMinIdealBatchDuration.TotalSeconds, $sizer::JoblibMaxIdealBatchDuration.TotalSeconds, $sizer::DefaultMaxGrowthFactor }
        )
        foreach ($c in $claims) { $c.Text.Contains($c.Claim) | Should -BeTrue -Because "the docs must say '$($c.Claim)'" }
    }

    It 'the process backends'' argument table of about_JoblibPS_Backends gives the defaults the module uses' {
        $options = (Get-JoblibInternalType JoblibPS.Backends.Process.ProcessBackendOptions)
        $rows = @(Get-MarkdownTable -Path (Join-Path $repoRoot 'docs/about_JoblibPS_Backends.md') -Pattern '^\| argument +\| backends')
        ($rows | Where-Object { $_[0] -eq 'IdleTimeoutSeconds' })[2] | Should -Be ([string]$options::DefaultIdleTimeoutSeconds)
        $environment = ($options::DefaultWorkerEnvironment.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join ', '
        ($rows | Where-Object { $_[0] -eq 'Environment' })[2] | Should -Be ('`{0}`' -f $environment)
    }

    It 'the cmdlet help states the batching targets the engine uses, per kind of backend' {
        $sizer = [JoblibPS.AutoBatchSizer]
        $text = Get-DocText (Join-Path $repoRoot 'docs/cmdlets/Invoke-JoblibParallel.md')
        $inProcess = '{0} to {1} s per batch, with at most {2:N0} items' -f $sizer::InProcessMinIdealBatchDuration.TotalSeconds, $sizer::InProcessMaxIdealBatchDuration.TotalSeconds, $sizer::InProcessMaxBatchSize
        $joblib = 'joblib''s {0} to {1} s' -f $sizer::JoblibMinIdealBatchDuration.TotalSeconds, $sizer::JoblibMaxIdealBatchDuration.TotalSeconds
        foreach ($claim in "(``sequential``, ``threading``) aim at $inProcess", "aims at $inProcess, on ``sequential`` and ``threading``, and at $joblib", 'remembered cost') {
            $text.Contains($claim) | Should -BeTrue -Because "Invoke-JoblibParallel.md must say '$claim'"
        }
    }

    It 'every batch target a doc states is one the engine uses' {
        $sizer = [JoblibPS.AutoBatchSizer]
        $known = @(
            '{0} to {1}' -f $sizer::InProcessMinIdealBatchDuration.TotalSeconds, $sizer::InProcessMaxIdealBatchDuration.TotalSeconds
            '{0} to {1}' -f $sizer::JoblibMinIdealBatchDuration.TotalSeconds, $sizer::JoblibMaxIdealBatchDuration.TotalSeconds
        )
        $found = 0
        foreach ($file in $docFiles) {
            foreach ($m in [regex]::Matches((Get-DocText $file.FullName), 'aim(?:s|ing)? at (?:joblib''s )?(\d+(?:\.\d+)?) to (\d+(?:\.\d+)?) s|between (\d+(?:\.\d+)?) and (\d+(?:\.\d+)?) seconds')) {
                $found++
                $pair = if ($m.Groups[1].Success) { "$($m.Groups[1].Value) to $($m.Groups[2].Value)" } else { "$($m.Groups[3].Value) to $($m.Groups[4].Value)" }
                $pair | Should -BeIn $known -Because "$($file.Name) says '$($m.Value)'"
            }
        }
        $found | Should -BeGreaterOrEqual 4
    }

    It 'the default values in the cmdlet help are the compiled cmdlets'' defaults' {
        $defaultBackend = (Get-JoblibInternalType JoblibPS.Backends.BackendRegistry)::DefaultBuiltInName
        $defaultNJobs = (Get-JoblibBackend -Name $defaultBackend).DefaultNJobs
        $checked = 0
        foreach ($command in Get-Command -Module JoblibPS) {
            $page = Join-Path $repoRoot "docs/cmdlets/$($command.Name).md"
            $sections = [regex]::Matches((Get-Content -LiteralPath $page -Raw), '(?ms)^### -(\w+)\r?\n.*?^Default value: *(.*?)\r?$')
            $instance = if ($command.CommandType -eq 'Cmdlet') { [Activator]::CreateInstance($command.ImplementingType) }
            foreach ($section in $sections) {
                $name, $documented = $section.Groups[1].Value, $section.Groups[2].Value.Trim()
                # Facts inside the prose of a default: the default backend and its DefaultNJobs.
                if ($documented -match 'default backend \((\w+)\)') { $Matches[1] | Should -Be $defaultBackend -Because "-$name of $($command.Name)" }
                if ($documented -match 'DefaultNJobs \((-?\d+)\)') { [int]$Matches[1] | Should -Be $defaultNJobs -Because "-$name of $($command.Name)" }
                # -WhatIf and -Confirm (SupportsShouldProcess) are PowerShell's, not properties of the cmdlet class.
                $property = if ($null -ne $instance) { $command.ImplementingType.GetProperty($name) }
                if ($null -eq $property) { continue }
                $value = $property.GetValue($instance)
                $expected = switch ($value) {
                    { $_ -is [System.Management.Automation.SwitchParameter] } { [string]$_.IsPresent; break }
                    { $_ -is [enum] -or $_ -is [string] } { [string]$_; break }
                    { $null -eq $_ -or $_ -eq 0 } { $null; break }
                    default { [string]$_ }
                }
                # Null or 0: unset, so the help says what decides instead (None, 0, '*' for every name, From ...).
                if ($null -eq $expected) { $documented | Should -Match '^(0|None|\*|From )' -Because "-$name of $($command.Name) is unset by default"; $checked++; continue }
                $documented | Should -BeLike "$expected*" -Because "-$name of $($command.Name) defaults to '$expected' in the compiled cmdlet"
                $checked++
            }
        }
        $checked | Should -BeGreaterThan 15
    }

    It 'about_JoblibPS lists every JOBLIBPS_ environment variable the module and the repository''s scripts read, and no other' {
        # The module's: the string constants of its assembly that name one (every variable it reads is such a constant).
        $flags = [System.Reflection.BindingFlags] 'Public, NonPublic, Static, DeclaredOnly'
        $module = @([JoblibPS.ParallelBackendBase].Assembly.GetTypes() | ForEach-Object { $_.GetFields($flags) } |
                Where-Object { $_.IsLiteral -and $_.FieldType -eq [string] } | ForEach-Object { $_.GetValue($null) } | Where-Object { $_ -like 'JOBLIBPS_*' })
        # No variable name written out in the C# sources but those constants.
        $inSources = @(Get-ChildItem -LiteralPath (Join-Path $repoRoot 'src') -Filter '*.cs' -File -Recurse | Where-Object FullName -NotMatch '[\\/](bin|obj)[\\/]' |
                Select-String -Pattern '"(JOBLIBPS_\w+)"' -AllMatches | ForEach-Object { $_.Matches.Groups[1].Value })
        $inSources | Should -BeIn $module
        # The scripts': every $env:JOBLIBPS_* read by build.ps1, tools/, examples/, bench/ and tests/, but the
        # variable the process-backend tests make up to see the Environment argument arrive.
        $scripts = @(Get-Item -LiteralPath (Join-Path $repoRoot 'build.ps1')) + @('tools', 'examples', 'bench', 'tests' | ForEach-Object {
                Get-ChildItem -LiteralPath (Join-Path $repoRoot $_) -Include '*.ps1', '*.psm1' -File -Recurse })
        $read = @($scripts | Select-String -Pattern '\$env:(JOBLIBPS_\w+)' -AllMatches | ForEach-Object { $_.Matches.Groups[1].Value } |
                Where-Object { $_ -ne 'JOBLIBPS_TEST_VARIABLE' })
        $expected = @($module + $read | Sort-Object -Unique)
        $expected | Should -Contain 'JOBLIBPS_PWSH'
        $expected | Should -Contain 'JOBLIBPS_MAX_DEPTH'
        $path = Join-Path $repoRoot 'docs/about_JoblibPS.md'
        $documented = @(Get-MarkdownTable -Path $path -Pattern '^## ENVIRONMENT VARIABLES$') + @(Get-MarkdownTable -Path $path -Pattern '^The repository''s scripts read:$')
        @($documented | ForEach-Object { $_[0] } | Sort-Object) | Should -Be $expected
        # The default depth the table states is the module's.
        ($documented | Where-Object { $_[0] -eq 'JOBLIBPS_MAX_DEPTH' })[1] | Should -Match ('^How deep worker processes may nest: {0} by default' -f [JoblibPS.Backends.Process.WorkerProcessBackend]::DefaultMaxDepth)
    }

    It 'every gen0 budget a doc gives is the one worker processes get by default' {
        $default = (Get-JoblibInternalType JoblibPS.Backends.Process.ProcessBackendOptions)::DefaultWorkerEnvironment['DOTNET_GCgen0size']
        $values = @(foreach ($file in $docFiles) {
                [regex]::Matches((Get-DocText $file.FullName), 'DOTNET_GCgen0size(?: = |=)''?(0x[0-9A-Fa-f]+)') | ForEach-Object { $_.Groups[1].Value }
            })
        $values.Count | Should -BeGreaterOrEqual 3
        $values | Should -Be @($values | ForEach-Object { $default })
    }

    It 'the README''s support table says tested for the PowerShell CI runs, and for nothing else' {
        $pinned = (Get-Content -LiteralPath (Join-Path $repoRoot '.config/dotnet-tools.json') -Raw | ConvertFrom-Json).tools.powershell.version
        Get-Content -LiteralPath (Join-Path $repoRoot '.ci/run') -Raw | Should -Match 'build\.ps1 -Task Test' -Because 'CI runs the tests with the pinned pwsh'
        $rows = @(Get-MarkdownTable -Path (Join-Path $repoRoot 'README.md') -Pattern '^## Supported PowerShell$')
        $tested = @($rows | Where-Object { $_[-1] -match '^yes' })
        $tested.Count | Should -Be 1
        $tested[0][0] | Should -Be $pinned
        $tested[0][1] | Should -Be 'Linux'
        @($rows | Where-Object { $_[0] -match '5\.1' }).Count | Should -Be 1 -Because 'the table must say what Windows PowerShell 5.1 is'
    }

    It 'no doc says Invoke-JoblibParallel takes -BackendArgument, which it does not' {
        (Get-Command Invoke-JoblibParallel).Parameters.Keys | Should -Not -Contain 'BackendArgument'
        foreach ($file in $docFiles) {
            Get-DocText $file.FullName | Should -Not -Match '-BackendArgument` of Invoke-JoblibParallel|Invoke-JoblibParallel [^|`.;:()]{0,80}-BackendArgument' -Because "$($file.Name) must not give -BackendArgument to Invoke-JoblibParallel"
        }
    }
}
