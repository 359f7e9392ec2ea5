"""The words and number formats of the reports: significance codes, the null hypotheses and test
names, method titles, and the number and LaTeX formatting helpers.
"""

from __future__ import annotations

from numbers import Integral as numbers_Integral

import numpy as np

SIGNIFICANCE_CODES = ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."))
"""Significance stars (as in R): a p-value at or below the threshold gets the code."""

SIGNIFICANCE_LEGEND = (
    "Signif. codes (adjusted p): '***' <= 0.001, '**' <= 0.01, '*' <= 0.05, '.' <= 0.1"
)
"""The legend printed under every table with stars (the thresholds are inclusive)."""

NULL_HYPOTHESES: dict[str, str] = {
    "holdout": "H0_j: y independent of x_j given the other inputs (held-out conditional "
    "test of the network's predictions, Tansey et al. 2022)",
    "conditional": "H0_j: y independent of x_j given the other inputs (conditional "
    "randomization, Candès et al. 2018)",
    "variable": "H0_j: the network's use of x_j is no larger than with x_j permuted alone "
    "(marginal permutation of x_j; it also breaks x_j's correlation with the other inputs)",
    "response": "H0: y independent of all the inputs together (global null; response "
    "permutation, Olden & Jackson 2002)",
}
"""The null each value of an estimator's ``null`` tests, when the result does not name it."""

TEST_NAMES: dict[str, str] = {
    "conditional": "conditional randomization",
    "variable": "permutation of each input",
    "response": "response permutation (global)",
    "holdout": "held-out conditional test",
}
"""Short names of the tests in report headers."""

RESPONSE_NOTE = (
    "The response permutation tests only whether any input matters (the global null); it "
    "gives no per-variable p-values, so no variable is starred."
)

METHOD_TITLES: dict[str, str] = {
    "LekProfile": "Lek's profile",
    "InputPerturbation": "Input perturbation",
    "PermutationImportance": "Permutation importance",
    "MIV": "Mean impact value (MIV)",
    "Dimopoulos": "Dimopoulos' partial derivatives (PaD)",
}
"""Human names of the methods in table captions (others are used as they are)."""

ADJUSTMENT_NAMES: dict[str, str] = {
    "holm": "Holm",
    "bonferroni": "Bonferroni",
    "sidak": "Šidák",
    "holm-sidak": "Holm-Šidák",
    "hommel": "Hommel",
    "simes-hochberg": "Hochberg",
    "fdr_bh": "Benjamini-Hochberg",
    "fdr_by": "Benjamini-Yekutieli",
}

TESTED_STATISTIC = "loss_increase"
"""Optional column: the held-out test's statistic (mean held-out loss increase when x_j is
drawn from its conditional model), printed just before the p-value it gave."""

REFIT_STATISTIC = "tested_statistic"
"""Optional column: a refitting test's tested statistic (the method's statistic of the network
trained on the real data within variable j's block), printed just before its p-value."""

RELIABLE = "reliable"
"""Optional column: False where a tested variable's p-value is unreliable (its conditional
model failed its check); the reports print ``?`` instead of a star there."""

CONDITIONAL_MODEL = "conditional_model"
"""Optional column: the kind of model of x_j given the others that a conditional test drew
from (``"gaussian"``, ``"boosting"``, ...)."""

CONDITIONAL_R2 = "conditional_r2"
"""Optional column: R^2 of x_j on the other inputs (from a conditional test's model)."""


def significance_stars(p) -> np.ndarray:
    """Significance codes for p-values, R's intervals: ``***`` for p ≤ 0.001, ``**`` for
    0.001 < p ≤ 0.01, ``*`` for 0.01 < p ≤ 0.05, ``.`` for 0.05 < p ≤ 0.1, else ``""``;
    NaN (no test) gives ``""``. ``*`` and better agree with ``significant`` at alpha = 0.05."""
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, "", dtype=object)
    for threshold, code in reversed(SIGNIFICANCE_CODES):
        out[np.where(np.isnan(p), False, p <= threshold * (1 + 1e-9))] = code
    return out


def _fmt(v, digits: int) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, numbers_Integral):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return f"{float(v):.{digits}g}"
    return str(v)


def _fmt_p(p: float) -> str:
    if np.isnan(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _column_scale(values: np.ndarray, digits: int) -> tuple[int, int]:
    """(power of ten to factor out, decimals) so that the largest |value| of a column shows
    ``digits`` significant digits and every row the same decimals (a journal table's column).
    A power is factored out only beyond 1e4 or below 1e-3."""
    finite = np.abs(values[np.isfinite(values)])
    finite = finite[finite > 0]
    if finite.size == 0:
        return 0, 0
    top = int(np.floor(np.log10(finite.max())))
    power = top if (top >= 4 or top <= -3) else 0
    return power, max(0, digits - 1 - (top - power))


def _fixed(v: float, power: int, decimals: int, minus: str) -> str:
    if not np.isfinite(v):
        return ""
    text = f"{v / 10.0**power:.{decimals}f}"
    if text.startswith("-"):
        text = minus + text[1:] if float(text) != 0 else text[1:]
    return text


def _fmt_fixed(v, decimals: int) -> str:
    return "" if v is None or not np.isfinite(v) else f"{float(v):.{decimals}f}"


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "²": r"\textsuperscript{2}",
    "×": r"$\times$",
    "Š": r"\v{S}",
    "á": r"\'a",
    "è": r"\`e",
}


def _latex_escape(value) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(value))


_LATEX_MATH = (
    (r"max\_j \textbar{}importance\_j\textbar{}", r"$\max_j |\mathrm{importance}_j|$"),
    (r"\textbar{}importance\textbar{}", r"$|$importance$|$"),
    (r"H0\_j", r"$H_{0,j}$"),
    ("H0:", "$H_0$:"),
    (r"x\_j", "$x_j$"),
    (" p = ", " $p$ = "),
    ("p-values", "$p$-values"),
    ("adjusted p", "adjusted $p$"),
)


def _latex_text(value) -> str:
    """Escape a sentence of a report for LaTeX, with its formulas (H0_j, x_j, |importance|,
    p) in math mode."""
    text = _latex_escape(value)
    for plain, math in _LATEX_MATH:
        text = text.replace(plain, math)
    return text
