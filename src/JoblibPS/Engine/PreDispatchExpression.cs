using System;
using System.Globalization;

namespace JoblibPS.Engine
{
    /// <summary>
    /// joblib's pre_dispatch language: an integer, 'all', or arithmetic (+ - * / // and parentheses) on integers
    /// and the name n_jobs. Parsed here, never evaluated as PowerShell.
    /// </summary>
    internal static class PreDispatchExpression
    {
        /// <summary>The value that stands for 'all' (no limit).</summary>
        public const int All = int.MaxValue;

        /// <summary>
        /// Checks the expression before n_jobs is known; throws <see cref="FormatException"/> saying what is wrong: its
        /// syntax, or a value below 1 when it does not depend on n_jobs ('0', '-1').
        /// </summary>
        public static void Validate(string expression)
        {
            Evaluate(expression, 1, false, out bool usesNJobs, out double value);
            if (!usesNJobs) CheckValue(expression, value, null);
        }

        /// <summary>
        /// Evaluates the expression for <paramref name="nJobs"/>: a number of batches of at least 1 (the value rounded
        /// down), or <see cref="All"/>. Throws <see cref="FormatException"/> for bad syntax and for a value below 1
        /// (joblib cannot dispatch less than one batch ahead either: 'n_jobs-2' is refused at -NJobs 2).
        /// </summary>
        public static int Evaluate(string expression, int nJobs)
        {
            return Evaluate(expression, nJobs, true, out _, out _);
        }

        private static int Evaluate(string expression, int nJobs, bool checkValue, out bool usesNJobs, out double value)
        {
            usesNJobs = false;
            value = All;
            if (string.IsNullOrWhiteSpace(expression))
            {
                throw new FormatException("The pre-dispatch expression is empty.");
            }
            if (expression.Trim().Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                return All;
            }
            var parser = new Parser(expression, nJobs);
            value = parser.ParseExpression();
            parser.ExpectEnd();
            usesNJobs = parser.UsesNJobs;
            if (double.IsNaN(value) || double.IsInfinity(value))
            {
                throw new FormatException($"The pre-dispatch expression '{expression}' has no finite value.");
            }
            if (checkValue) CheckValue(expression, value, nJobs);
            return (int)Math.Max(1, Math.Min(All - 1, Math.Floor(value)));
        }

        private static void CheckValue(string expression, double value, int? nJobs)
        {
            if (Math.Floor(value) >= 1) return;
            string at = nJobs.HasValue ? $" with n_jobs = {nJobs}" : string.Empty;
            throw new FormatException(
                $"The pre-dispatch expression '{expression}' comes to {Math.Floor(value).ToString(CultureInfo.InvariantCulture)}{at}: it must come to at least 1 (the number of batches dispatched ahead). Use 'all', a positive integer, or an expression such as '2*n_jobs'.");
        }

        private sealed class Parser
        {
            private readonly string _text;
            private readonly int _nJobs;
            private int _pos;

            public Parser(string text, int nJobs)
            {
                _text = text;
                _nJobs = nJobs;
            }

            /// <summary>True once the expression read the name n_jobs.</summary>
            public bool UsesNJobs { get; private set; }

            public double ParseExpression()
            {
                double value = ParseTerm();
                while (true)
                {
                    SkipSpaces();
                    if (Accept("+")) value += ParseTerm();
                    else if (Accept("-")) value -= ParseTerm();
                    else return value;
                }
            }

            public void ExpectEnd()
            {
                SkipSpaces();
                if (_pos < _text.Length)
                {
                    throw Error($"unexpected '{_text.Substring(_pos)}'");
                }
            }

            private double ParseTerm()
            {
                double value = ParseFactor();
                while (true)
                {
                    SkipSpaces();
                    if (Accept("//"))
                    {
                        double divisor = ParseFactor();
                        if (divisor == 0) throw Error("division by zero");
                        value = Math.Floor(value / divisor);
                    }
                    else if (Accept("*")) value *= ParseFactor();
                    else if (Accept("/"))
                    {
                        double divisor = ParseFactor();
                        if (divisor == 0) throw Error("division by zero");
                        value /= divisor;
                    }
                    else return value;
                }
            }

            private double ParseFactor()
            {
                SkipSpaces();
                if (Accept("-")) return -ParseFactor();
                if (Accept("+")) return ParseFactor();
                if (Accept("("))
                {
                    double inner = ParseExpression();
                    SkipSpaces();
                    if (!Accept(")")) throw Error("missing ')'");
                    return inner;
                }
                if (_pos < _text.Length && char.IsDigit(_text[_pos]))
                {
                    int start = _pos;
                    while (_pos < _text.Length && (char.IsDigit(_text[_pos]) || _text[_pos] == '.')) _pos++;
                    return double.Parse(_text.Substring(start, _pos - start), CultureInfo.InvariantCulture);
                }
                if (string.Compare(_text, _pos, "n_jobs", 0, 6, StringComparison.OrdinalIgnoreCase) == 0)
                {
                    _pos += 6;
                    UsesNJobs = true;
                    return _nJobs;
                }
                throw Error(_pos < _text.Length ? $"unexpected '{_text[_pos]}' at position {_pos + 1}" : "it ends too early");
            }

            private bool Accept(string token)
            {
                if (string.CompareOrdinal(_text, _pos, token, 0, token.Length) == 0)
                {
                    _pos += token.Length;
                    return true;
                }
                return false;
            }

            private void SkipSpaces()
            {
                while (_pos < _text.Length && char.IsWhiteSpace(_text[_pos])) _pos++;
            }

            private FormatException Error(string what)
            {
                return new FormatException($"The pre-dispatch expression '{_text}' is not valid: {what}. Use an integer, 'all', or arithmetic on n_jobs such as '2*n_jobs'.");
            }
        }
    }
}
