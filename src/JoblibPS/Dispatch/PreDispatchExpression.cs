using System;
using System.Globalization;

namespace JoblibPS.Dispatch
{
    /// <summary>
    /// joblib's pre_dispatch language: an integer, 'all', or arithmetic (+ - * / // and parentheses) on integers
    /// and the name n_jobs. Parsed here, never evaluated as PowerShell.
    /// </summary>
    internal static class PreDispatchExpression
    {
        /// <summary>The value that stands for 'all' (no limit).</summary>
        public const int All = int.MaxValue;

        /// <summary>Checks the expression's syntax without a value for n_jobs; throws <see cref="FormatException"/> saying what is wrong.</summary>
        public static void Validate(string expression)
        {
            Evaluate(expression, 1);
        }

        /// <summary>Evaluates the expression for <paramref name="nJobs"/>; the result is at least 1, or <see cref="All"/>.</summary>
        public static int Evaluate(string expression, int nJobs)
        {
            if (string.IsNullOrWhiteSpace(expression))
            {
                throw new FormatException("The pre-dispatch expression is empty.");
            }
            if (expression.Trim().Equals("all", StringComparison.OrdinalIgnoreCase))
            {
                return All;
            }
            var parser = new Parser(expression, nJobs);
            double value = parser.ParseExpression();
            parser.ExpectEnd();
            if (double.IsNaN(value) || double.IsInfinity(value))
            {
                throw new FormatException($"The pre-dispatch expression '{expression}' has no finite value.");
            }
            return (int)Math.Max(1, Math.Min(All - 1, Math.Floor(value)));
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
