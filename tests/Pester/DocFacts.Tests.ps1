# The facts the docs state about the module are checked against the compiled module, so the two cannot drift:
# the built-in backends and their DefaultNJobs (Get-JoblibBackend), the error ids (the public constants of
# JoblibPS.ErrorIds), the auto-batching constants (JoblibPS.Dispatch.AutoBatchSizer) and the process backends'
# defaults (JoblibPS.Backends.Process.ProcessBackendOptions). Conventions the docs follow for this:
# - a list of the built-in backends is written "built-in backends (`a`, `b`, ...)";
# - about_JoblibPS_Backends has the table "### Built-in backends": | `name` | workers | DefaultNJobs | batches |;
# - about_JoblibPS has the table "### Stable error ids": | JoblibId | when |.

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
            $backend = [Activator]::CreateInstance([JoblibPS.BackendRegistry]::Find($name).BackendType)
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
        $sizer = [JoblibPS.Dispatch.AutoBatchSizer]
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
        $options = [JoblibPS.Backends.Process.ProcessBackendOptions]
        $rows = @(Get-MarkdownTable -Path (Join-Path $repoRoot 'docs/about_JoblibPS_Backends.md') -Pattern '^\| argument +\| backends')
        ($rows | Where-Object { $_[0] -eq 'IdleTimeoutSeconds' })[2] | Should -Be ([string]$options::DefaultIdleTimeoutSeconds)
        $environment = ($options::DefaultWorkerEnvironment.GetEnumerator() | ForEach-Object { "$($_.Key)=$($_.Value)" }) -join ', '
        ($rows | Where-Object { $_[0] -eq 'Environment' })[2] | Should -Be ('`{0}`' -f $environment)
    }

    It 'no doc says Invoke-JoblibParallel takes -BackendArgument, which it does not' {
        (Get-Command Invoke-JoblibParallel).Parameters.Keys | Should -Not -Contain 'BackendArgument'
        foreach ($file in $docFiles) {
            Get-DocText $file.FullName | Should -Not -Match '-BackendArgument` of Invoke-JoblibParallel|Invoke-JoblibParallel [^|`.;:()]{0,80}-BackendArgument' -Because "$($file.Name) must not give -BackendArgument to Invoke-JoblibParallel"
        }
    }
}
