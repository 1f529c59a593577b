# build.ps1 as a contributor meets it: Clean leaves no bin/ or obj/ anywhere in the repository (and nothing of
# .git touched), and the Pester runner reports skipped tests, which the Test task's last line then shows. Both run
# in a child pwsh on a scratch copy, never on this clone.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $repoRoot = (Resolve-Path -LiteralPath (Join-Path $PSScriptRoot '../..')).Path
    $pwsh = Get-JoblibTestPwshPath
}

Describe 'build.ps1' {
    It 'Clean removes out/ and every bin/ and obj/ of the repository, hidden ones included, and nothing in .git' {
        $scratch = Join-Path $TestDrive 'repo'
        $null = New-Item -ItemType Directory -Path $scratch
        Copy-Item -LiteralPath (Join-Path $repoRoot 'build.ps1') -Destination $scratch
        $removed = 'out/JoblibPS', 'src/JoblibPS/bin/Release', 'src/JoblibPS/obj', 'tests/JoblibPS.Tests/bin', 'examples/obj',
        'bench/bin/Debug', 'tools/x/obj', '.hidden/bin', 'src/JoblibPS/obj/Release/bin'
        $kept = '.git/objects/bin', '.git/obj', 'src/JoblibPS/Backends', 'docs/binder'
        foreach ($dir in $removed + $kept) { $null = New-Item -ItemType Directory -Force -Path (Join-Path $scratch $dir) }
        Set-Content -LiteralPath (Join-Path $scratch 'tools/bin') -Value 'a file named bin stays'

        & $pwsh -NoProfile -NonInteractive -File (Join-Path $scratch 'build.ps1') -Task Clean | Out-Null
        $LASTEXITCODE | Should -Be 0

        $left = @(Get-ChildItem -LiteralPath $scratch -Directory -Recurse -Force |
                Where-Object { $_.Name -in 'bin', 'obj', 'out' -and $_.FullName -notlike "*$([IO.Path]::DirectorySeparatorChar).git$([IO.Path]::DirectorySeparatorChar)*" } |
                ForEach-Object { [IO.Path]::GetRelativePath($scratch, $_.FullName) })
        $left | Should -BeNullOrEmpty
        foreach ($dir in $kept) { Test-Path -LiteralPath (Join-Path $scratch $dir) | Should -BeTrue -Because "$dir is not build output" }
        Test-Path -LiteralPath (Join-Path $scratch 'tools/bin') -PathType Leaf | Should -BeTrue
    }

    It 'the Pester runner counts skipped tests, for the "N passed, N failed, N skipped" line of the Test task' {
        $tests = Join-Path $TestDrive 'Tiny.Tests.ps1'
        Set-Content -LiteralPath $tests -Value @'
Describe 'tiny' {
    It 'passes' { 1 | Should -Be 1 }
    It 'is skipped' -Skip { 1 | Should -Be 2 }
}
'@
        $pester = (Get-Module Pester).Path -replace '\.psm1$', '.psd1'
        $summary = Join-Path $TestDrive 'summary.json'
        & $pwsh -NoProfile -NonInteractive -File (Join-Path $repoRoot 'tools/Invoke-PesterTests.ps1') -PesterManifest $pester -TestPath $tests `
            -ResultPath (Join-Path $TestDrive 'result.xml') -SummaryPath $summary | Out-Null
        $counts = Get-Content -LiteralPath $summary -Raw | ConvertFrom-Json
        $counts.Passed | Should -Be 1
        $counts.Failed | Should -Be 0
        $counts.Skipped | Should -Be 1
    }
}
