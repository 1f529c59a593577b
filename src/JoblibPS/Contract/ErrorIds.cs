namespace JoblibPS
{
    /// <summary>
    /// The stable error ids of JoblibPS: the part of FullyQualifiedErrorId before the comma. They are a public
    /// contract (scripts catch them) and are asserted by the tests; never rename one.
    /// </summary>
    public static class ErrorIds
    {
        /// <summary>-NJobs 0, or a non-integer NJobs in a config.</summary>
        public const string InvalidNJobs = "JoblibInvalidNJobs";
        /// <summary>-BatchSize is neither 'auto' nor a positive integer.</summary>
        public const string InvalidBatchSize = "JoblibInvalidBatchSize";
        /// <summary>-PreDispatch is not in joblib's expression language, or comes to less than 1 (for the call's number of jobs).</summary>
        public const string InvalidPreDispatch = "JoblibInvalidPreDispatch";
        /// <summary>-TimeoutSeconds is not from 0.001 to 2147483.647 seconds (see ItemTimeout).</summary>
        public const string InvalidTimeout = "JoblibInvalidTimeout";
        /// <summary>A backend name that is not registered.</summary>
        public const string UnknownBackend = "JoblibUnknownBackend";
        /// <summary>-Backend is neither a name nor a ParallelBackendBase.</summary>
        public const string InvalidBackend = "JoblibInvalidBackend";
        /// <summary>A <c>$using:</c> variable that is not defined in the caller.</summary>
        public const string UsingVariableUndefined = "JoblibUsingVariableUndefined";
        /// <summary>An item's script threw a terminating error.</summary>
        public const string TaskFailed = "JoblibTaskFailed";
        /// <summary>An item ran longer than -TimeoutSeconds.</summary>
        public const string TaskTimeout = "JoblibTaskTimeout";
        /// <summary>An item called <c>exit</c>.</summary>
        public const string TaskExited = "JoblibTaskExited";
        /// <summary>Register-JoblibBackend: the name is taken (give -Force to replace it).</summary>
        public const string BackendNameTaken = "JoblibBackendNameTaken";
        /// <summary>Register-JoblibBackend: the factory is neither a ParallelBackendBase type nor a script block.</summary>
        public const string InvalidBackendFactory = "JoblibInvalidBackendFactory";
        /// <summary>An external backend's module is not installed, or did not register the backend.</summary>
        public const string BackendModuleMissing = "JoblibBackendModuleMissing";
        /// <summary>A backend argument is missing, unknown, or of the wrong type; or the factory failed.</summary>
        public const string InvalidBackendArgument = "JoblibInvalidBackendArgument";
        /// <summary>Unregister-JoblibBackend: built-in backends cannot be removed.</summary>
        public const string BuiltInBackend = "JoblibBuiltInBackend";
        /// <summary>Unregister-JoblibBackend / Get-JoblibBackend: no backend by that name.</summary>
        public const string BackendNotFound = "JoblibBackendNotFound";
        /// <summary>A config option the backend cannot honour (-InnerMaxNumThreads on a backend without SupportsInnerMaxNumThreads).</summary>
        public const string UnsupportedOption = "JoblibUnsupportedOption";
        /// <summary>Use-JoblibConfig was called without a script block.</summary>
        public const string MissingScriptBlock = "JoblibMissingScriptBlock";
        /// <summary>A worker process ended while it ran an item (killed, out of memory, stack overflow, <c>[Environment]::Exit</c>): joblib's TerminatedWorkerError.</summary>
        public const string WorkerCrashed = "JoblibWorkerCrashed";
        /// <summary>A worker process could not start (a wrong PwshPath, or JoblibPS failed to import there).</summary>
        public const string WorkerStartFailed = "JoblibWorkerStartFailed";
        /// <summary>A process backend was asked to nest worker processes deeper than the limit (loky's LOKY_MAX_DEPTH, 10).</summary>
        public const string ProcessNestingTooDeep = "JoblibProcessNestingTooDeep";
        /// <summary>An item, -ArgumentList or <c>$using:</c> value could not be serialized to a worker process, or a batch's output could not be serialized back.</summary>
        public const string ValueCannotTravel = "JoblibValueCannotTravel";
        /// <summary>A <c>$using:</c> value, an -ArgumentList value or an input item is (or directly holds) a script block, which cannot go to a worker.</summary>
        public const string ScriptBlockCannotTravel = "JoblibScriptBlockCannotTravel";
        /// <summary>The remote backend could reach none of its hosts when its workers opened.</summary>
        public const string RemoteNoHostReachable = "JoblibRemoteNoHostReachable";
        /// <summary>Every host of the remote backend was lost while a call ran, so lost batches could not run again anywhere.</summary>
        public const string RemoteHostsLost = "JoblibRemoteHostsLost";
        /// <summary>A backend broke the contract (threw from Configure or RetrieveResult, returned null from Submit, called back twice, ...).</summary>
        public const string BackendContract = "JoblibBackendContractViolation";
        /// <summary>Preparing a worker for a call failed: -InitializationScript threw, or a module to import could not be imported there.</summary>
        public const string InitializationFailed = "JoblibInitializationFailed";
        /// <summary>-ImportFunction names a function the caller's session does not have.</summary>
        public const string ImportFunctionNotFound = "JoblibImportFunctionNotFound";
        /// <summary>-ImportVariable names a variable the caller's session does not have.</summary>
        public const string ImportVariableNotFound = "JoblibImportVariableNotFound";
        /// <summary>-ImportModule names a module that cannot be found.</summary>
        public const string ImportModuleNotFound = "JoblibImportModuleNotFound";
        /// <summary>-Retry or -RetryDelaySeconds is out of range.</summary>
        public const string InvalidRetry = "JoblibInvalidRetry";
        /// <summary>-Checkpoint: the folder does not exist, or the file cannot be created or written there.</summary>
        public const string CheckpointPath = "JoblibCheckpointPath";
        /// <summary>-Checkpoint names a folder where a file is expected.</summary>
        public const string CheckpointIsDirectory = "JoblibCheckpointIsDirectory";
        /// <summary>-Checkpoint names a file that is not a JoblibPS checkpoint (it is left as it was).</summary>
        public const string CheckpointFormat = "JoblibCheckpointFormat";
        /// <summary>-Checkpoint names a checkpoint of another format version.</summary>
        public const string CheckpointVersion = "JoblibCheckpointVersion";
        /// <summary>The checkpoint is in use by another call, in this or another process.</summary>
        public const string CheckpointInUse = "JoblibCheckpointInUse";
        /// <summary>The checkpoint holds output of a different call (the block, $using: values, -ArgumentList, shipped functions or -CheckpointKey changed).</summary>
        public const string CheckpointChanged = "JoblibCheckpointChanged";
        /// <summary>-CheckpointKey threw for an item.</summary>
        public const string CheckpointKeyFailed = "JoblibCheckpointKeyFailed";
        /// <summary>-CheckpointKey returned $null, several values or a script block for an item.</summary>
        public const string CheckpointKeyInvalid = "JoblibCheckpointKeyInvalid";
        /// <summary>Two input items of one checkpointed call have the same key.</summary>
        public const string CheckpointDuplicateKey = "JoblibCheckpointDuplicateKey";
        /// <summary>Get-JoblibCheckpoint, Remove-JoblibCheckpoint: no file at that path.</summary>
        public const string CheckpointNotFound = "JoblibCheckpointNotFound";
        /// <summary>Writing to the checkpoint failed while the call ran (a full disk, a lost share).</summary>
        public const string CheckpointWriteFailed = "JoblibCheckpointWriteFailed";
    }
}
