namespace JoblibPS
{
    /// <summary>Where a registered backend comes from.</summary>
    public enum BackendSource
    {
        /// <summary>Shipped with JoblibPS.</summary>
        BuiltIn,
        /// <summary>Registered with Register-JoblibBackend.</summary>
        Registered,
        /// <summary>Registered lazily: its module registers the real factory when first used.</summary>
        External,
    }
}
