# The script part of JoblibPS: Use-JoblibConfig must run the caller's block in the caller's own scope (like
# Python's `with`), with its output streaming down the pipeline. A function of a module can do that by
# dot-sourcing the block, which binds to the caller's session state; a compiled cmdlet cannot. All rules live
# in JoblibPS.Config.ConfigScope; this function only opens the scope, runs the block and closes the scope.
# ConfigScope and the backend-name completer are internal to the assembly (its public surface is the contract a
# backend author sees, src/JoblibPS/PublicAPI.txt): the script reaches them by reflection, once, at import.
$script:JoblibAssembly = [JoblibPS.ParallelBackendBase].Assembly
$script:OpenConfigScope = $script:JoblibAssembly.GetType('JoblibPS.Config.ConfigScope', $true).GetMethod('Open')
$script:BackendNameCompleter = [Activator]::CreateInstance($script:JoblibAssembly.GetType('JoblibPS.Commands.BackendNameCompleter', $true))

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
        $__joblibScope = $script:OpenConfigScope.Invoke($null, @($PSCmdlet, $Backend, $PSBoundParameters))
    }
    catch {
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
