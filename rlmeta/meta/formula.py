"""Moderator formulas: checked for safety, then turned into design matrices by formulaic.

A formula may only contain column names, numbers, quoted strings, the operators
``+ - * : / ** ^ ( ) ~ ,`` and the transforms in :data:`ALLOWED_FUNCTIONS`.  Anything
else (attribute access, indexing, unknown names) is rejected *before* formulaic
evaluates it, so a formula from a config file or a web form cannot run code.

``C(x)`` (or ``factor(x)``) codes a column as categorical with treatment contrasts,
the first level in sorted order as reference (as R's ``factor``); ``C(x, ref='b')``
picks the reference level.  Interactions: ``a:b`` and ``a*b``.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"x": [1.0, 2, 3, 4], "g": ["a", "b", "a", "b"]})
>>> d = Design.build("x * C(g)", df)
>>> d.names
['intercept', 'x', 'C(g)[T.b]', 'x:C(g)[T.b]']
>>> check_formula("__import__('os').system('ls')", ["x"])
Traceback (most recent call last):
...
rlmeta.errors.ModelError: formula "__import__('os').system('ls')": character '.' at position 16 is not allowed ...
>>> check_formula("exec(x)", ["x"])
Traceback (most recent call last):
...
rlmeta.errors.ModelError: formula 'exec(x)': 'exec' is not a column or an allowed function ...
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ModelError

__all__ = ["ALLOWED_FUNCTIONS", "check_formula", "Design", "formula_columns"]

#: Transforms a formula may call.
ALLOWED_FUNCTIONS = frozenset(
    {
        "C",
        "factor",
        "log",
        "log10",
        "log2",
        "log1p",
        "exp",
        "sqrt",
        "abs",
        "center",
        "scale",
        "I",
        "poly",
    }
)
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<backtick>`[^`]+`)
  | (?P<string>'[^'\\]*'|"[^"\\]*")
  | (?P<number>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*:/^()~,=|])
    """,
    re.VERBOSE,
)
_KEYWORDS = {"ref"}
#: Longest accepted formula (characters) and most ``*`` interaction operators: ``a*b*c*...``
#: expands to every subset of its factors, so 12 of them already mean 8192 model terms.
MAX_FORMULA_LENGTH = 2000
MAX_INTERACTIONS = 12
#: Largest exponent after ``**`` / ``^``: enough for polynomials and ``(a + b + c)**3``.
MAX_POWER = 10


def _tokens(formula: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    while pos < len(formula):
        m = _TOKEN.match(formula, pos)
        if not m:
            raise ModelError(
                f"formula {formula!r}: character {formula[pos]!r} at position {pos} is not allowed "
                "(use column names, numbers, + - * : / ** ( ) and the functions "
                f"{', '.join(sorted(ALLOWED_FUNCTIONS))})"
            )
        kind = m.lastgroup
        if kind != "ws":
            out.append((kind, m.group()))
        pos = m.end()
    return out


def check_formula(formula: str, columns) -> list[str]:
    """Check that ``formula`` only uses allowed tokens; return the columns it uses.

    Raises
    ------
    ModelError
        On any disallowed character, unknown name or function.
    """
    if not isinstance(formula, str):
        raise ModelError(f"formula must be a string, got {type(formula).__name__}")
    columns = [str(c) for c in columns]
    colset = set(columns)
    used: list[str] = []
    if len(formula) > MAX_FORMULA_LENGTH:
        raise ModelError(
            f"formula of {len(formula)} characters is longer than the limit of "
            f"{MAX_FORMULA_LENGTH}: {formula[:60]!r}..."
        )
    toks = _tokens(formula)
    _check_size(formula, toks)
    for i, (kind, text) in enumerate(toks):
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "backtick":
            name = text[1:-1]
            if name not in colset:
                raise ModelError(
                    f"formula {formula!r}: unknown column `{name}`; available: {', '.join(columns[:20])}"
                )
            used.append(name)
        elif kind == "name":
            if nxt == "(":
                if text not in ALLOWED_FUNCTIONS:
                    raise ModelError(
                        f"formula {formula!r}: {text!r} is not a column or an allowed function "
                        f"(allowed: {', '.join(sorted(ALLOWED_FUNCTIONS))})"
                    )
            elif nxt == "=" and text in _KEYWORDS:
                continue
            elif text in colset:
                used.append(text)
            else:
                raise ModelError(
                    f"formula {formula!r}: {text!r} is not a column or an allowed function; "
                    f"available columns: {', '.join(columns[:20])}"
                )
    return list(dict.fromkeys(used))


def _check_size(formula: str, toks: list[tuple[str, str]]) -> None:
    """Reject formulas whose evaluation could take unbounded time or memory.

    formulaic evaluates ``I(...)`` as Python, where ``9 ** 9 ** 9`` computes an integer
    with hundreds of millions of digits (minutes of CPU, gigabytes), and ``a*b*c*...``
    and ``(a + b + ...)**n`` expand into exponentially many terms.  So: an exponent must
    be a plain number of at most :data:`MAX_POWER`, not itself raised to a power, and its
    base must not contain a power; at most :data:`MAX_INTERACTIONS` ``*`` operators.
    """
    ops = [t for k, t in toks if k == "op"]
    if ops.count("*") > MAX_INTERACTIONS:
        raise ModelError(
            f"formula {formula!r}: {ops.count('*')} '*' interaction operators expand to too many "
            f"terms (at most {MAX_INTERACTIONS}); write the interactions you need with ':'"
        )
    for i, (kind, text) in enumerate(toks):
        if not (kind == "op" and text in ("**", "^")):
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else ("", "")
        after = toks[i + 2][1] if i + 2 < len(toks) else None
        if nxt[0] != "number" or float(nxt[1]) > MAX_POWER or after in ("**", "^"):
            raise ModelError(
                f"formula {formula!r}: the exponent after {text!r} must be a plain number of at "
                f"most {MAX_POWER} (not an expression, not itself raised to a power)"
            )
        if i > 0 and toks[i - 1][1] == ")":
            depth, j = 0, i - 1
            while j >= 0:
                depth += {")": 1, "(": -1}.get(toks[j][1], 0)
                if depth == 0:
                    break
                j -= 1
            if any(t in ("**", "^") for k, t in toks[j:i] if k == "op"):
                raise ModelError(
                    f"formula {formula!r}: a power of a power is not allowed (its value can be "
                    "astronomically large)"
                )


def formula_columns(formula: str, columns) -> list[str]:
    """Columns a formula refers to (after the safety check)."""
    return check_formula(formula, columns)


def _normalise(formula: str) -> str:
    f = formula.strip()
    if "~" in f:
        lhs, _, rhs = f.partition("~")
        if lhs.strip():
            raise ModelError(
                f"formula {formula!r}: give moderators only (e.g. '~ x1 + x2'); the outcome is yi"
            )
        f = rhs.strip()
    f = re.sub(r"\bfactor\(", "C(", f)
    # C(x, ref='b') -> formulaic's treatment contrast with that reference level.
    f = re.sub(
        r"C\(\s*([^,()]+?)\s*,\s*ref\s*=\s*('[^']*'|\"[^\"]*\"|[-\d.eE]+)\s*\)",
        r"C(\1, contr.treatment(\2))",
        f,
    )
    f = f.replace("^", "**") if re.search(r"I\(", f) else f
    return f or "1"


@dataclass
class Design:
    """A design matrix with its column names and the spec to rebuild it on new data."""

    X: np.ndarray
    names: list[str]
    formula: str
    spec: object | None
    columns: list[str]
    intercept: bool

    @classmethod
    def intercept_only(cls, n: int) -> Design:
        return cls(np.ones((n, 1)), ["intercept"], "1", None, [], True)

    @classmethod
    def build(cls, formula: str | None, data: pd.DataFrame) -> Design:
        """Build the design of ``formula`` on ``data`` (rows must have no missing values)."""
        if formula is None or str(formula).strip() in ("", "1", "~1", "~ 1"):
            return cls.intercept_only(len(data))
        cols = check_formula(formula, data.columns)
        import formulaic

        text = _normalise(formula)
        try:
            mm = formulaic.model_matrix(
                text, data[cols] if cols else data, na_action="raise", output="pandas"
            )
        except Exception as exc:  # formulaic raises many types; report them uniformly
            raise ModelError(f"formula {formula!r} could not be built: {exc}") from exc
        names = ["intercept" if n == "Intercept" else n for n in mm.columns]
        X = mm.to_numpy(dtype=float)
        return cls(X, names, text, mm.model_spec, cols, "intercept" in names)

    def new_rows(self, newdata: pd.DataFrame) -> np.ndarray:
        """Design rows for new moderator values (same coding, centring and levels)."""
        if self.spec is None:
            return np.ones((len(newdata), 1))
        missing = [c for c in self.columns if c not in newdata.columns]
        if missing:
            raise ModelError(
                f"newdata lacks the moderator column(s) {missing} used in the formula {self.formula!r}"
            )
        try:
            mm = self.spec.get_model_matrix(
                newdata[self.columns], na_action="raise", output="pandas"
            )
        except Exception as exc:
            raise ModelError(f"cannot build the design for newdata: {exc}") from exc
        return mm.to_numpy(dtype=float)
