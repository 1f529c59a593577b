using System.Linq;
using System.Management.Automation;
using JoblibPS.Backends;
using JoblibPS.Errors;

namespace JoblibPS.Commands
{
    /// <summary>Lists registered backends with their source, type and capabilities.</summary>
    [Cmdlet(VerbsCommon.Get, "JoblibBackend")]
    [OutputType(typeof(BackendInfo))]
    public sealed class GetJoblibBackendCommand : PSCmdlet
    {
        /// <summary>A name or wildcard pattern; all when omitted.</summary>
        [Parameter(Position = 0)]
        [SupportsWildcards]
        [ArgumentCompleter(typeof(BackendNameCompleter))]
        public string Name { get; set; }

        /// <summary>Writes the matching registrations.</summary>
        protected override void EndProcessing()
        {
            var pattern = new WildcardPattern(string.IsNullOrEmpty(Name) ? "*" : Name, WildcardOptions.IgnoreCase);
            var matches = BackendRegistry.All.Where(r => pattern.IsMatch(r.Name)).ToList();
            if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(Name ?? "*"))
            {
                WriteError(ErrorRecords.Argument(ErrorIds.BackendNotFound, BackendRegistry.UnknownMessage(Name), Name, ErrorCategory.ObjectNotFound));
                return;
            }
            foreach (BackendRegistration registration in matches)
            {
                WriteObject(BackendInfo.From(registration));
            }
        }
    }
}
