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
        /// <summary>-PreDispatch is not in joblib's expression language.</summary>
        public const string InvalidPreDispatch = "JoblibInvalidPreDispatch";
        /// <summary>-TimeoutSeconds is not a positive number.</summary>
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
        /// <summary>A backend broke the contract (threw from Configure or RetrieveResult, returned null from Submit, called back twice, ...).</summary>
        public const string BackendContract = "JoblibBackendContractViolation";
    }
}
