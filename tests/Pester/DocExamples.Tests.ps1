# Every example in the cmdlet help runs as written: each '### Example N' under '## EXAMPLES' in docs/cmdlets/*.md
# is run in a fresh pwsh that imported the built module ($env:JOBLIBPS_MODULE, set by build.ps1; else out/ of this
# clone), from the repository root. It must not throw, and when its '```output' block is there, the objects it
# writes must format to that text.
#
# A fresh process per example, because registrations and the default backend are process-wide: one example's
# Register-JoblibBackend must not decide whether the next one works. The code is created with
# [scriptblock]::Create only after Import-Module, because a class deriving from JoblibPS.ParallelBackendBase
# cannot be parsed before JoblibPS is loaded (and 'using module' does not work with a binary root module).
# The powershell blocks of one example run one after the other in the same process, as help shows them as one.

BeforeDiscovery {
    $docsPath = Join-Path $PSScriptRoot '../../docs/cmdlets'

    # The examples of one platyPS markdown file: title, code (its powershell blocks) and expected output (its
    # output blocks), from the '## EXAMPLES' section only. Headings inside code fences are code, not headings.
    function Get-DocExample {
        param([string] $Path)
        $examples = [System.Collections.Generic.List[hashtable]]::new()
        $inExamples = $false
        $current = $null
        $fence = $null          # the language of the open fence, or $null outside one
        $lineNumber = 0
        foreach ($line in (Get-Content -LiteralPath $Path -Encoding utf8)) {
            $lineNumber++
            if ($null -ne $fence) {
                if ($line -match '^\s*```\s*$') { $fence = $null; continue }
                if ($null -ne $current -and $fence -eq 'powershell') { $current.Code.Add($line) }
                elseif ($null -ne $current -and $fence -eq 'output') { $current.Expected.Add($line) }
                continue
            }
            if ($line -match '^\s*```\s*(\S*)\s*$') {
                $fence = $Matches[1].ToLowerInvariant()
                if ($fence -eq 'powershell' -and $null -ne $current -and $current.Code.Count) { $current.Code.Add('') }
                continue
            }
            if ($line -match '^## ') {
                $inExamples = $line -match '^## EXAMPLES\s*$'
                $current = $null
                continue
            }
            if ($inExamples -and $line -match '^### (.+)$') {
                $current = @{
                    Page     = Split-Path $Path -Leaf
                    Title    = $Matches[1].Trim()
                    Line     = $lineNumber
                    Code     = [System.Collections.Generic.List[string]]::new()
                    Expected = [System.Collections.Generic.List[string]]::new()
                }
                $examples.Add($current)
            }
        }
        foreach ($example in $examples) {
            $example.Code = $example.Code -join "`n"
            $example.HasExpected = $example.Expected.Count -gt 0
            $example.Expected = $example.Expected -join "`n"
        }
        $examples
    }

    # The cmdlet pages, and the about topics that have an '## EXAMPLES' section of the same form.
    $aboutWithExamples = @(Get-ChildItem -LiteralPath (Join-Path $docsPath '..') -Filter 'about_*.md' -File | Where-Object { Select-String -LiteralPath $_.FullName -Pattern '^## EXAMPLES\s*$' -Quiet })
    $pages = @(@(Get-ChildItem -LiteralPath $docsPath -Filter '*.md' -File) + $aboutWithExamples | Sort-Object Name | ForEach-Object {
            @{ Page = $_.Name; Examples = @(Get-DocExample -Path $_.FullName) }
        })

    # The backend examples that about_JoblibPS_Backends shows (a plain script, a class, C#): each registers the
    # backend 'custom', and the topic runs it with the same call.
    $backendExamples = @(Get-ChildItem -LiteralPath (Join-Path $PSScriptRoot '../../examples') -Filter 'ThreadPoolBackend*.ps1' -File | Sort-Object Name | ForEach-Object {
            @{ File = $_.Name }
        })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $repoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).Path
    $modulePath = Get-JoblibBuiltModulePath
    $pwsh = Get-JoblibTestPwshPath

    # Runs in the child: imports the module, then the example. Success output is formatted wide (no truncated
    # columns) between markers; anything the example throws, or a non-terminating error it writes (the
    # preference is Stop), ends the child with exit code 1 and the error.
    $runner = Join-Path $TestDrive 'Invoke-DocExample.ps1'
    Set-Content -LiteralPath $runner -Encoding utf8NoBOM -Value @'
param([string] $ModulePath, [string] $CodePath)
$ErrorActionPreference = 'Stop'
$PSStyle.OutputRendering = 'PlainText'
try {
    Import-Module -Name $ModulePath
    $example = [scriptblock]::Create((Get-Content -LiteralPath $CodePath -Raw -Encoding utf8))
    $text = . $example | Out-String -Width 250
    [Console]::Out.WriteLine('<<<example output')
    [Console]::Out.Write($text)
    [Console]::Out.WriteLine('example output>>>')
}
catch {
    [Console]::Out.WriteLine("The example failed: [$($_.FullyQualifiedErrorId)] $($_.Exception.Message)`n$($_.ScriptStackTrace)")
    exit 1
}
exit 0
'@

    # Starts one child for the example and returns it; Wait-DocExample collects it.
    function Start-DocExample {
        param([hashtable] $Example)
        $name = ($Example.Page -replace '\.md$', '') + '-' + ($Example.Title -replace '[^\w]+', '-')
        $codePath = Join-Path $TestDrive "$name.ps1"
        Set-Content -LiteralPath $codePath -Value $Example.Code -Encoding utf8NoBOM
        $info = [System.Diagnostics.ProcessStartInfo]::new($pwsh)
        foreach ($argument in '-NoProfile', '-NonInteractive', '-File', $runner, '-ModulePath', $modulePath, '-CodePath', $codePath) {
            $info.ArgumentList.Add($argument)
        }
        $info.WorkingDirectory = $repoRoot
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.UseShellExecute = $false
        $info.Environment['NO_COLOR'] = '1'
        $process = [System.Diagnostics.Process]::Start($info)
        [pscustomobject]@{
            Title   = $Example.Title
            Process = $process
            Stdout  = $process.StandardOutput.ReadToEndAsync()
            Stderr  = $process.StandardError.ReadToEndAsync()
            Started = [System.Diagnostics.Stopwatch]::StartNew()
        }
    }

    # Waits for a started example, at most until $TimeoutSeconds after its start (then kills the child it
    # started); returns its exit code, everything it printed, and the formatted output of the example.
    function Wait-DocExample {
        param([psobject] $Run, [int] $TimeoutSeconds = 120)
        $process = $Run.Process
        try {
            $left = [Math]::Max(0, $TimeoutSeconds * 1000 - [int]$Run.Started.ElapsedMilliseconds)
            if (-not $process.WaitForExit($left)) {
                $process.Kill($true)
                $process.WaitForExit()
                return [pscustomobject]@{ ExitCode = -1; Output = "The example did not finish within $TimeoutSeconds s and was killed.`n$($Run.Stdout.Result)$($Run.Stderr.Result)"; Text = $null }
            }
            $process.WaitForExit()   # lets the redirected streams drain
            $stdout = $Run.Stdout.Result
            $text = if ($stdout -match '(?s)<<<example output\r?\n(.*)example output>>>') { $Matches[1] } else { $null }
            [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $stdout + $Run.Stderr.Result; Text = $text }
        }
        finally {
            $process.Dispose()
        }
    }

    # Runs the examples of one page, as many at once as there are processors (at least two): most of an
    # example's time is pwsh starting, or the example waiting. Returns the results by title.
    function Invoke-PageExample {
        param([hashtable[]] $Examples)
        $limit = [Math]::Max(2, [Environment]::ProcessorCount)
        $results = @{}
        $running = [System.Collections.Generic.Queue[psobject]]::new()
        foreach ($example in $Examples) {
            if (-not $example.Code.Trim()) { continue }
            if ($running.Count -ge $limit) {
                $done = $running.Dequeue()
                $results[$done.Title] = Wait-DocExample $done
            }
            $running.Enqueue((Start-DocExample $example))
        }
        while ($running.Count) {
            $done = $running.Dequeue()
            $results[$done.Title] = Wait-DocExample $done
        }
        $results
    }

    # Formatting details that do not matter to a reader: column padding, trailing blanks, empty lines, and the
    # VERBOSE:/WARNING: lines an output block may show (they go to the host, not to the output compared here).
    function ConvertTo-ComparableText {
        param([string] $Text)
        @(($Text -split '\r?\n') |
                ForEach-Object { ($_ -replace '\s+', ' ').Trim() } |
                Where-Object { $_ -and $_ -notmatch '^(VERBOSE|WARNING|DEBUG): ' }) -join "`n"
    }
}

Describe 'Backend examples under examples/' {
    BeforeAll {
        $files = @(Get-ChildItem -LiteralPath (Join-Path $repoRoot 'examples') -Filter 'ThreadPoolBackend*.ps1' -File | Sort-Object Name | ForEach-Object Name)
        $runs = @{}
        $started = foreach ($file in $files) {
            Start-DocExample @{ Page = 'examples'; Title = $file; Code = ". ./examples/$file`nUse-JoblibConfig custom { 1..10 | Invoke-JoblibParallel { `$_ * 2 } -NJobs 2 }" }
        }
        foreach ($run in $started) { $runs[$run.Title] = Wait-DocExample $run }
    }

    It 'has the script-method, class and C# forms' {
        $files | Should -Be @('ThreadPoolBackend.CSharp.ps1', 'ThreadPoolBackend.ps1', 'ThreadPoolBackend.ScriptMethods.ps1')
    }

    It 'examples/<File> registers a backend that runs the call of about_JoblibPS_Backends in input order' -ForEach $backendExamples {
        $run = $runs[$File]
        $run.ExitCode | Should -Be 0 -Because "examples/$File must run without error:`n$($run.Output)"
        ConvertTo-ComparableText $run.Text | Should -BeExactly ((2..20 | Where-Object { $_ % 2 -eq 0 }) -join "`n")
    }

    It 'about_JoblibPS_Backends shows the script-method example as examples/ThreadPoolBackend.ScriptMethods.ps1 has it' {
        # Code lines only: comments, help and blank lines may differ between the file and the topic.
        $codeOnly = { param([string] $Text) @(($Text -split '\r?\n') | ForEach-Object { ($_ -replace '\s+#\s.*$', '').TrimEnd() } | Where-Object { $_.Trim() -and $_.Trim() -notmatch '^#' }) }
        $file = Get-Content -LiteralPath (Join-Path $repoRoot 'examples/ThreadPoolBackend.ScriptMethods.ps1') -Raw
        $file = $file.Substring($file.IndexOf('Register-JoblibBackend -Name custom'))
        $topic = Get-Content -LiteralPath (Join-Path $repoRoot 'docs/about_JoblibPS_Backends.md') -Raw
        $section = $topic.Substring($topic.IndexOf('## EXAMPLE: A THREAD-POOL BACKEND IN A PLAIN SCRIPT'))
        $blocks = [regex]::Matches($section, '(?s)```powershell\r?\n(.*?)```')
        $shown = @($blocks | Where-Object { $_.Groups[1].Value -match '^Register-JoblibBackend -Name custom' } | Select-Object -First 1)
        $shown.Count | Should -Be 1
        & $codeOnly $shown[0].Groups[1].Value | Should -Be (& $codeOnly $file)
    }
}

Describe 'Examples of <Page>' -ForEach $pages {
    BeforeAll {
        $results = Invoke-PageExample -Examples $Examples
    }

    It '<Title>' -ForEach $Examples {
        $Code.Trim() | Should -Not -BeNullOrEmpty -Because "'$Title' ($Page, line $Line) needs a powershell block"
        $run = $results[$Title]
        $run.ExitCode | Should -Be 0 -Because "'$Title' ($Page, line $Line) must run without error:`n$($run.Output)"
        if ($HasExpected) {
            ConvertTo-ComparableText $run.Text | Should -BeExactly (ConvertTo-ComparableText $Expected) -Because "the output block of '$Title' ($Page, line $Line) must be what the example writes"
        }
    }
}
