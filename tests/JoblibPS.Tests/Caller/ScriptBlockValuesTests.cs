using System.Collections;
using System.Collections.Generic;
using System.Management.Automation;
using Xunit;
using JoblibPS.Caller;
using JoblibPS.Engine;

namespace JoblibPS.Tests.Caller
{
    /// <summary>What the script-block rule checks: the value, and one level down into lists and dictionaries.</summary>
    public class ScriptBlockValuesTests
    {
        private static readonly ScriptBlock Block = ScriptBlock.Create("1");

        [Fact]
        public void FindsTheValueItselfBareOrWrapped()
        {
            Assert.Equal(string.Empty, ScriptBlockValues.Find(Block));
            Assert.Equal(string.Empty, ScriptBlockValues.Find(PSObject.AsPSObject(Block)));
        }

        [Fact]
        public void FindsAnElementOrADictionaryValueOneLevelDown()
        {
            Assert.Equal("[1]", ScriptBlockValues.Find(new object[] { 1, PSObject.AsPSObject(Block) }));
            Assert.Equal("[0]", ScriptBlockValues.Find(new List<object> { Block }));
            Assert.Equal("['k']", ScriptBlockValues.Find(new Hashtable { ["k"] = Block }));
        }

        [Fact]
        public void LooksNoDeeperThanOneLevel()
        {
            Assert.Null(ScriptBlockValues.Find(new object[] { new object[] { Block } }));
            Assert.Null(ScriptBlockValues.Find(new Hashtable { ["k"] = new Hashtable { ["j"] = Block } }));
        }

        [Fact]
        public void PassesPlainValues()
        {
            Assert.Null(ScriptBlockValues.Find(null));
            Assert.Null(ScriptBlockValues.Find("{ 1 }"));
            Assert.Null(ScriptBlockValues.Find(42));
            Assert.Null(ScriptBlockValues.Find(new object[] { 1, "a", null }));
        }

        [Fact]
        public void NamesTheItemAndTheArgumentInItsError()
        {
            var item = Assert.Throws<TerminatingErrorException>(() => ScriptBlockValues.CheckItem(new object[] { 0, Block }, 3));
            Assert.Equal(ErrorIds.ScriptBlockCannotTravel, item.ErrorRecord.FullyQualifiedErrorId);
            Assert.StartsWith("Input item 3 element [1] is a script block.", item.ErrorRecord.Exception.Message);
            var argument = Assert.Throws<TerminatingErrorException>(() => ScriptBlockValues.CheckArguments(new object[] { 1, Block }));
            Assert.StartsWith("-ArgumentList value 1 is a script block.", argument.ErrorRecord.Exception.Message);
        }
    }
}
