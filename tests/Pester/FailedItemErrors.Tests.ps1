# What a user catches and reads when an item fails, compared with ForEach-Object on the same script: the
# exception's type (so `catch [Type]` works on a process backend too, where the error crosses a process
# boundary as a RemoteException) and the ScriptStackTrace, which names the caller's helper functions, file and
# lines. The script runs in a child pwsh from a file, as an admin's script would (`pwsh -File`).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:ModulePath = Get-JoblibBuiltModulePath
    $script:Pwsh = Get-JoblibTestPwshPath
    $script:ScriptFile = Join-Path $TestDrive 'report.ps1'
    # Line numbers matter: Get-Report's failing line is 4; the block that calls it is on line 8 (one line), and on
    # lines 12 to 15 with a param block (the per-item form; ForEach-Object's is on lines 9 to 12).
    Set-Content -LiteralPath $script:ScriptFile -Value @'
param($ModulePath, $Backend)
function Get-Report {
    param($Name)
    Get-Item -LiteralPath "/joblibps/no/such/$Name" -ErrorAction Stop
}
Import-Module $ModulePath
function Invoke-Case([scriptblock] $Call) { try { & $Call; 'no error' } catch { [pscustomobject]@{ Type = $_.Exception.GetType().FullName; Caught = $(try { throw $_.Exception } catch [System.Management.Automation.ItemNotFoundException] { $true } catch { $false }); Message = $_.Exception.Message; Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Trace = $_.ScriptStackTrace; Root = $PSScriptRoot } } }
$oneLine = if ($Backend -eq 'ForEach-Object') { Invoke-Case { 'a' | ForEach-Object { Get-Report $_ } } } else { Invoke-Case { 'a' | Invoke-JoblibParallel { Get-Report $_ } -Backend $Backend -NJobs 2 } }
$perItem = if ($Backend -eq 'ForEach-Object') { Invoke-Case { 'b' | ForEach-Object {
        param($x)
        Get-Report $_
    } } } else { Invoke-Case { 'b' | Invoke-JoblibParallel {
        param($x)
        Get-Report $x
    } -Backend $Backend -NJobs 2 } }
$root = if ($Backend -eq 'ForEach-Object') { 'c' | ForEach-Object { $PSScriptRoot } } else { 'c' | Invoke-JoblibParallel { $PSScriptRoot } -Backend $Backend -NJobs 2 }
[pscustomobject]@{ OneLine = $oneLine; PerItem = $perItem; Root = $root } | ConvertTo-Json -Depth 4 -Compress
'@

    function Invoke-ReportScript([string] $Backend) {
        $out = & $script:Pwsh -NoProfile -NonInteractive -File $script:ScriptFile -ModulePath $script:ModulePath -Backend $Backend 2>&1
        $json = @($out | Where-Object { $_ -is [string] -and $_.StartsWith('{') })
        $json.Count | Should -Be 1 -Because "the script must print one JSON line; it printed:`n$($out -join "`n")"
        $json[0] | ConvertFrom-Json
    }
}

Describe 'A failed item''s error, as ForEach-Object gives it' {
    BeforeAll {
        $script:Reference = Invoke-ReportScript 'ForEach-Object'
    }

    It 'ForEach-Object, the reference: ItemNotFoundException, and a trace through Get-Report in the script file' {
        $Reference.OneLine.Type | Should -Be 'System.Management.Automation.ItemNotFoundException'
        ($Reference.OneLine.Trace -split '\r?\n')[0..1] | Should -Be @("at Get-Report, ${ScriptFile}: line 4", "at <ScriptBlock>, ${ScriptFile}: line 8")
    }

    Context 'on <_>' -ForEach 'threading', 'loky', 'sequential' {
        BeforeAll {
            $script:Result = Invoke-ReportScript $_
        }

        It 'is caught by the original exception type, with the message, the item''s category and JoblibTaskFailed' {
            $Result.OneLine.Type | Should -Be 'System.Management.Automation.ItemNotFoundException'
            $Result.OneLine.Caught | Should -BeTrue -Because 'catch [System.Management.Automation.ItemNotFoundException] must catch it'
            $Result.OneLine.Message | Should -Be $Reference.OneLine.Message
            $Result.OneLine.Id | Should -Be 'JoblibTaskFailed,JoblibPS.Commands.InvokeJoblibParallelCommand'
            $Result.OneLine.Category | Should -Be 'ObjectNotFound'
        }

        It 'has the ScriptStackTrace ForEach-Object has: the helper function''s name, the file and the lines' {
            $Result.OneLine.Trace | Should -Be $Reference.OneLine.Trace
        }

        It 'gives a block with a param block (called once per item) the lines of the caller''s file too' {
            $Result.PerItem.Type | Should -Be 'System.Management.Automation.ItemNotFoundException'
            # As ForEach-Object's for its block on lines 9 to 12: the line of the failing call in the block, then the
            # caller's frames (the block's statement, Invoke-Case, the script).
            $Result.PerItem.Trace -split '\r?\n' | Should -Be @(
                "at Get-Report, ${ScriptFile}: line 4"
                "at <ScriptBlock>, ${ScriptFile}: line 14"
                "at <ScriptBlock>, ${ScriptFile}: line 12"
                "at Invoke-Case, ${ScriptFile}: line 7"
                "at <ScriptBlock>, ${ScriptFile}: line 12"
            )
        }

        It 'gives $PSScriptRoot in the block the caller''s script folder, as ForEach-Object does' {
            $Result.Root | Should -Be $Reference.Root
            $Result.Root | Should -Be $TestDrive
        }
    }
}
