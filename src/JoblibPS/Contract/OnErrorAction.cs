namespace JoblibPS
{
    /// <summary>What a call does when an item fails: -OnError.</summary>
    public enum OnErrorAction
    {
        /// <summary>joblib's fail-fast: the first item that fails (after its retries) ends the call with a terminating error.</summary>
        Abort,

        /// <summary>A failed item becomes a non-terminating error at its place in the output; every other item still runs.</summary>
        Continue,
    }
}
