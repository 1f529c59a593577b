# The script part of JoblibPS: Use-JoblibConfig must run the caller's block in the caller's own scope (like
# Python's `with`), with its output streaming down the pipeline. A function of a module can do that by
# dot-sourcing the block, which binds to the caller's session state; a compiled cmdlet cannot. All rules live
# in JoblibPS.Config.ConfigScope; this function only opens the scope, runs the block and closes the scope.
# ConfigScope and the backend-name completer are internal to the assembly (its public surface is the contract a
# backend author sees, src/JoblibPS/PublicAPI.txt): the script reaches them by reflection. The function finds
# ConfigScope itself, each call: a copy of it defined in a worker (functions travel) has no module scope.
$script:BackendNameCompleter = [Activator]::CreateInstance([JoblibPS.ParallelBackendBase].Assembly.GetType('JoblibPS.Commands.BackendNameCompleter', $true))

function Use-JoblibConfig {
    # .ExternalHelp JoblibPS.dll-Help.xml
    [CmdletBinding()]
    param(
        [Parameter(Position = 0)]
        [object] $Backend,

        [Parameter(Position = 1)]
        [scriptblock] $ScriptBlock,

        [int] $NJobs,

        [ValidateSet('threads', 'processes')]
        [string] $Prefer,

        [ValidateSet('sharedmem')]
        [string] $Require,

        [ValidateRange(1, [int]::MaxValue)]
        [int] $InnerMaxNumThreads,

        [System.Collections.IDictionary] $BackendArgument,

        [ValidateNotNullOrEmpty()]
        [string] $Checkpoint
    )

    # The last positional argument is always the block: Use-JoblibConfig -NJobs 4 { ... } binds it to -Backend.
    if ($null -eq $ScriptBlock -and $Backend -is [scriptblock]) {
        $ScriptBlock = $Backend
        $Backend = $null
        $null = $PSBoundParameters.Remove('Backend')
    }
    if ($null -eq $ScriptBlock) {
        $PSCmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new(
            [System.ArgumentException]::new('Use-JoblibConfig needs a script block to run with the config, as its last argument: Use-JoblibConfig threading -NJobs 4 { ... }'),
            'JoblibMissingScriptBlock', 'InvalidArgument', $null))
    }

    # Open throws an exception that carries the ErrorRecord to report (bad input, a backend that cannot be made).
    try {
        $__joblibOpen = [JoblibPS.ParallelBackendBase].Assembly.GetType('JoblibPS.Config.ConfigScope', $true).GetMethod('Open')
        $__joblibScope = $__joblibOpen.Invoke($null, @($PSCmdlet, $Backend, $PSBoundParameters))
    }
    catch {
        # This catch put the method call's record in $Error (the global one: a module's $Error is its own); the
        # record thrown below is the one for this failure.
        if ($global:Error.Count -gt 0 -and [object]::ReferenceEquals($global:Error[0].Exception, $_.Exception)) { $global:Error.RemoveAt(0) }
        $__joblibError = $_.Exception
        while ($__joblibError -and -not ($__joblibError -is [System.Management.Automation.IContainsErrorRecord] -and $__joblibError -isnot [System.Management.Automation.MethodInvocationException])) { $__joblibError = $__joblibError.InnerException }
        $PSCmdlet.ThrowTerminatingError($(if ($__joblibError) { $__joblibError.ErrorRecord } else { $_ }))
    }
    try {
        . $ScriptBlock
    }
    finally {
        $__joblibScope.Close()
    }
}

Register-ArgumentCompleter -CommandName Use-JoblibConfig -ParameterName Backend -ScriptBlock {
    param($commandName, $parameterName, $wordToComplete, $commandAst, $fakeBoundParameters)
    $script:BackendNameCompleter.CompleteArgument($commandName, $parameterName, $wordToComplete, $commandAst, $fakeBoundParameters)
}

Export-ModuleMember -Function Use-JoblibConfig
