<#
The driver: runs one batch of items in a worker runspace, wherever that runspace lives (this process, a pwsh
worker process, a remote host). Compiled into JoblibPS.dll as a resource and held by worker runspaces as the
function __JoblibDriver; the protocol is described in WorkerDriver.cs.
#>
param($__JoblibScript, $__JoblibPlace, $__JoblibBlockCache, $__JoblibItems, $__JoblibArguments, $__JoblibMarker, $__JoblibLocation, $__JoblibPreferences, [bool]$__JoblibPerItem, [int]$__JoblibCollect, $__JoblibNested, $__JoblibLog, $__JoblibInitState, [string]$__JoblibPathKinds)
$ErrorActionPreference, $WarningPreference, $VerbosePreference, $DebugPreference, $InformationPreference, $WhatIfPreference, $ConfirmPreference, $__JoblibProgressPreference = $__JoblibPreferences
# Continue when the caller shows progress: the block's Write-Progress records then reach the runspace's progress
# stream, which the caller forwards (BatchTask.ProgressSink). Otherwise they are not even made.
$ProgressPreference = if ($__JoblibProgressPreference) { $__JoblibProgressPreference } else { 'SilentlyContinue' }
# The sentinels that frame a batch's output after its marker. The engine reads these four lines (WorkerDriver.cs),
# so they are spelled here only.
$__JoblibChunkStart = ':chunk'
$__JoblibChunkEnd = ':sent'
$__JoblibBatchEnd = ':done'
$__JoblibItemsEnd = '|end'
if ($__JoblibInitState) {
    foreach ($__JoblibEntry in $__JoblibInitState.Variables) { Set-Variable -Name $__JoblibEntry[0] -Value $__JoblibEntry[1] }
    foreach ($__JoblibEntry in $__JoblibInitState.Functions) { $null = Set-Item -LiteralPath ('function:' + $__JoblibEntry[0]) -Value $__JoblibEntry[1] }
}
if ($__JoblibLocation -and $__JoblibLocation -cne $PWD.ProviderPath) { Set-Location -LiteralPath $__JoblibLocation }
# The user's block from its text. With its place in the caller's script ($__JoblibPlace: file, line, column), the
# text is padded to that line and column and parsed with that file, so a failure's ScriptStackTrace (and
# $PSScriptRoot) read as in the caller. Parsing and compiling that way costs about 2 ms where [scriptblock]::Create
# hits PowerShell's cache, so the last block is kept where $__JoblibBlockCache says: in that table (the engine's, per
# runspace of this process), in a global ('global': a worker the module opened), or nowhere (a user's session); one
# block, replaced when the text or place changes.
function __JoblibBlockOf([string] $__JoblibPrefix, [string] $__JoblibSuffix) {
    if (-not $__JoblibPlace) { return [scriptblock]::Create($__JoblibPrefix + $__JoblibScript + $__JoblibSuffix) }
    $__JoblibText = $__JoblibPrefix + ("`n" * ([int]$__JoblibPlace[1] - 1)) + (' ' * ([int]$__JoblibPlace[2] - 1)) + $__JoblibScript + $__JoblibSuffix
    $__JoblibKey = "$($__JoblibPlace[0])`n$__JoblibText"
    $__JoblibKept = if ($__JoblibBlockCache -is [hashtable]) { $__JoblibBlockCache['Kept'] } elseif ($__JoblibBlockCache) { $global:__JoblibUserBlock }
    if ($__JoblibKept -and $__JoblibKept[0] -ceq $__JoblibKey) { return $__JoblibKept[1] }
    $__JoblibErrors = $null
    $__JoblibAst = [System.Management.Automation.Language.Parser]::ParseInput($__JoblibText, $__JoblibPlace[0], [ref]$null, [ref]$__JoblibErrors)
    if ($__JoblibErrors) { return [scriptblock]::Create($__JoblibPrefix + $__JoblibScript + $__JoblibSuffix) }
    $__JoblibBlock = $__JoblibAst.GetScriptBlock()
    if ($__JoblibBlockCache -is [hashtable]) { $__JoblibBlockCache['Kept'] = $__JoblibKey, $__JoblibBlock } elseif ($__JoblibBlockCache) { $global:__JoblibUserBlock = $__JoblibKey, $__JoblibBlock }
    $__JoblibBlock
}
function __JoblibRun {
    if ($__JoblibPerItem) {
        $__JoblibBlock = __JoblibBlockOf '' ''
        foreach ($_ in $__JoblibItems) { if ($__JoblibLog) { if ($__JoblibOverflow = $__JoblibLog.Next()) { throw $__JoblibOverflow } } else { $__JoblibMarker }; do { & $__JoblibBlock $_ @__JoblibArguments } while ($false) }
    } else {
        # A call-depth overflow is terminating in PowerShell but only written as a record under *>&1: ItemLog.Next
        # (here) and the collector (in another process) make it fail its item.
        $__JoblibStart = if ($__JoblibLog) { 'if ($__JoblibOverflow = $__JoblibLog.Next()) { throw $__JoblibOverflow }' } else { '$__JoblibMarker' }
        $__JoblibBlock = __JoblibBlockOf ('process { ' + $__JoblibStart + '; do { ') "`n} while (`$false) }"
        $__JoblibItems | & $__JoblibBlock
    }
    if ($__JoblibLog) { if ($__JoblibOverflow = $__JoblibLog.End()) { throw $__JoblibOverflow } } else { $__JoblibMarker + $__JoblibItemsEnd }
}
function __JoblibRemote {
    # Arrays arrive as ArrayLists (PowerShell's deserializer): items and arguments get back the array type they had.
    $__JoblibItems = @(foreach ($__JoblibValue in $__JoblibItems) { if ($__JoblibValue -is [System.Collections.ArrayList] -and $__JoblibValue.pstypenames[0] -ceq 'Deserialized.System.Object[]') { , [object[]]$__JoblibValue } else { , $__JoblibValue } })
    # Files and folders of the caller's machine came as full paths (F, D at their index): live objects again.
    if ($__JoblibPathKinds) {
        for ($__JoblibIndex = 0; $__JoblibIndex -lt $__JoblibPathKinds.Length; $__JoblibIndex++) {
            switch ($__JoblibPathKinds[$__JoblibIndex]) {
                'F' { $__JoblibItems[$__JoblibIndex] = [System.IO.FileInfo]::new($__JoblibItems[$__JoblibIndex]) }
                'D' { $__JoblibItems[$__JoblibIndex] = [System.IO.DirectoryInfo]::new($__JoblibItems[$__JoblibIndex]) }
            }
        }
    }
    $__JoblibArguments = @(foreach ($__JoblibValue in $__JoblibArguments) { if ($__JoblibValue -is [System.Collections.ArrayList] -and $__JoblibValue.pstypenames[0] -ceq 'Deserialized.System.Object[]') { , [object[]]$__JoblibValue } else { , $__JoblibValue } })
    # Internal to JoblibPS (PowerShell resolves only public type names): reached through its assembly, when JoblibPS is loaded here.
    $__JoblibFrames = ('JoblibPS.ParallelBackendBase' -as [type])
    if ($__JoblibFrames) { $__JoblibFrames = $__JoblibFrames.Assembly.GetType('JoblibPS.Backends.Process.RemoteWorkerFrame') }
    if ($__JoblibNested -and $__JoblibFrames) { $__JoblibFrames::Enter($__JoblibNested) }
    $__JoblibProgress = if ($__JoblibFrames) { $__JoblibFrames::Progress }
    $__JoblibChunk = [System.Collections.Generic.List[object]]::new()
    $__JoblibChunk.Add($__JoblibMarker + $__JoblibChunkStart)
    # Without an item timeout, finished items' records are still sent as an item starts once 50 ms passed since the
    # last chunk: a worker that dies mid-batch then loses at most the last 50 ms of output (which the caller runs
    # again), and a chunk costs 0.15 to 0.3 ms, so this stays under 1% where a chunk per item doubles tiny items' cost.
    $__JoblibClock = [System.Diagnostics.Stopwatch]::StartNew()
    # No try/finally here: a try anywhere up the call stack turns the block's statement-terminating errors
    # into terminating ones. After a throw, exit or stop the caller fetches what is gathered from this global.
    $global:__JoblibPendingChunk = $__JoblibChunk
    __JoblibRun *>&1 | & { process {
        if ($_ -is [System.Management.Automation.ErrorRecord] -and $_.FullyQualifiedErrorId -ceq 'CallDepthOverflow') { throw $_ }
        $__JoblibChunk.Add($_)
        if ($_ -is [string] -and $_ -ceq $__JoblibMarker) {
            if ($__JoblibProgress) { $__JoblibProgress.ItemStarted() }
            if ($__JoblibCollect -eq 2 -or $__JoblibClock.ElapsedMilliseconds -ge 50) {
                $__JoblibChunk.Add($__JoblibMarker + $__JoblibChunkEnd)
                , $__JoblibChunk.ToArray()
                $__JoblibChunk.Clear()
                $__JoblibChunk.Add($__JoblibMarker + $__JoblibChunkStart)
                if ($__JoblibProgress) { $__JoblibProgress.Sent() }
                $__JoblibClock.Restart()
            }
        }
    } }
    Remove-Variable -Name __JoblibPendingChunk -Scope Global -ErrorAction Ignore
    if ($__JoblibNested -and $__JoblibFrames) { $__JoblibFrames::Exit() }
    $__JoblibChunk.Add($__JoblibMarker + $__JoblibBatchEnd)
    , $__JoblibChunk.ToArray()
}
if ($__JoblibCollect) { __JoblibRemote } else { __JoblibRun *>&1 }

