"""The ranked importance table of ``DESIGN.md`` §3.

One row per input variable (per output, when there are several), sorted by rank, with the
columns ``importance, relative_importance, rank, p_value, p_adjusted, significant, ci_low,
ci_high`` always present, plus ``direction`` where the method gives a sign and any extra
statistics a method reports.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from numbers import Integral as numbers_Integral

import numpy as np
import pandas as pd
from scipy.stats import rankdata

__all__ = [
    "BASE_COLUMNS",
    "SensitivityResult",
    "importance_frame",
    "significance_stars",
]

BASE_COLUMNS = (
    "importance",
    "relative_importance",
    "rank",
    "p_value",
    "p_adjusted",
    "significant",
    "ci_low",
    "ci_high",
)


def _as_2d(a, shape: tuple[int, int], name: str) -> np.ndarray:
    if a is None:
        return np.full(shape, np.nan)
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim == 1 and shape[0] == 1:
        arr = arr.reshape(1, -1)
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}; expected {shape} (outputs, features).")
    return arr


def _sign_labels(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, "+", np.where(values < 0, "-", "0"))


def importance_frame(
    importance,
    feature_names: Sequence[str],
    output_names: Sequence[str],
    *,
    signed: bool,
    p_value=None,
    p_adjusted=None,
    alpha: float = 0.05,
    ci_low=None,
    ci_high=None,
    direction=None,
    extra: Mapping[str, object] | None = None,
    method: str | None = None,
) -> pd.DataFrame:
    """Build the ranked importance DataFrame.

    Parameters
    ----------
    importance : array-like of shape (n_outputs, n_features)
        The method's statistic (signed where the method is signed).
    feature_names, output_names : sequence of str
    signed : bool
        Whether ``importance`` carries a direction (then ``direction`` is its sign).
    p_value, p_adjusted, ci_low, ci_high : array-like of shape (n_outputs, n_features), optional
        Inference results; NaN where none ran.
    alpha : float
        Level for ``significant = p_adjusted <= alpha`` (reject at p <= alpha, the convention
        of ``multipletests``; it keeps a permutation test's level exactly).
    direction : array-like of shape (n_outputs, n_features), optional
        A signed companion statistic whose sign gives the direction of an unsigned method
        (e.g. the mean derivative beside the sum of squared derivatives).
    extra : mapping of str to array-like (n_outputs, n_features), optional
        More per-variable statistics, added as columns after the base ones.
    method : str, optional
        Stored in ``DataFrame.attrs["method"]``.

    Returns
    -------
    pandas.DataFrame
        Index ``variable`` for one output; a two-level index ``(output, variable)`` otherwise,
        ranked within each output. ``relative_importance = |importance| / sum |importance|``;
        ``rank`` 1 is the largest ``|importance|`` (ties share the smallest rank).
    """
    feature_names = [str(f) for f in feature_names]
    output_names = [str(o) for o in output_names]
    shape = (len(output_names), len(feature_names))
    imp = _as_2d(importance, shape, "importance")
    if not np.all(np.isfinite(imp)):
        raise ValueError("The importance values are not all finite; cannot rank them.")
    pv = _as_2d(p_value, shape, "p_value")
    pa = _as_2d(p_adjusted, shape, "p_adjusted")
    lo = _as_2d(ci_low, shape, "ci_low")
    hi = _as_2d(ci_high, shape, "ci_high")
    if direction is not None:
        sign_source = _as_2d(direction, shape, "direction")
    elif signed:
        sign_source = imp
    else:
        sign_source = None
    extras = {k: _as_2d(v, shape, k) for k, v in (extra or {}).items()}

    mag = np.abs(imp)
    totals = mag.sum(axis=1, keepdims=True)
    if np.any(totals == 0):
        zero = [output_names[i] for i in np.flatnonzero(totals[:, 0] == 0)]
        warnings.warn(
            f"All importances are zero for output(s) {zero}; relative importance is undefined "
            "there (NaN).",
            RuntimeWarning,
            stacklevel=2,
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(totals > 0, mag / np.where(totals > 0, totals, 1.0), np.nan)

    blocks = []
    for k, out in enumerate(output_names):
        ranks = rankdata(-mag[k], method="min").astype(int)
        cols: dict[str, object] = {
            "importance": imp[k],
            "relative_importance": rel[k],
            "rank": ranks,
        }
        if sign_source is not None:
            cols["direction"] = _sign_labels(sign_source[k])
        cols.update(
            {
                "p_value": pv[k],
                "p_adjusted": pa[k],
                "significant": np.where(np.isnan(pa[k]), False, pa[k] <= alpha * (1 + 1e-9)),
                "ci_low": lo[k],
                "ci_high": hi[k],
            }
        )
        for name, values in extras.items():
            cols[name] = values[k]
        block = pd.DataFrame(cols, index=pd.Index(feature_names, name="variable"))
        block["significant"] = block["significant"].astype(bool)
        order = np.lexsort((np.arange(len(feature_names)), ranks))
        block = block.iloc[order]
        if len(output_names) > 1:
            block.index = pd.MultiIndex.from_arrays(
                [[out] * len(feature_names), block.index], names=["output", "variable"]
            )
        blocks.append(block)
    frame = pd.concat(blocks) if len(blocks) > 1 else blocks[0]
    if method is not None:
        frame.attrs["method"] = method
    frame.attrs["alpha"] = alpha
    return frame


# ---------------------------------------------------------------------- results object
SIGNIFICANCE_CODES = ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, "."))
"""Significance stars (as in R): a p-value at or below the threshold gets the code."""


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


class SensitivityResult:
    """A fitted sensitivity analysis as a report: summary table and exports.

    Estimators expose it as ``results_`` (``importances_`` stays a plain DataFrame); it can
    also be built from any table made by :func:`importance_frame`.

    Parameters
    ----------
    importances : pandas.DataFrame
        The ranked table (``DESIGN.md`` §3).
    method : str
        Name of the method (e.g. ``"Olden"``).
    model : str
        One-line description of the network.
    n_samples : int or None
        Number of observations the analysis used.
    signed : bool
        Whether the statistic is signed (the randomization test is then two-sided on
        ``|importance|``, else upper-tailed).
    n_permutations, n_bootstrap : int
        Settings of the randomization test and of the bootstrap.
    alpha : float
        Level of the tests.
    p_adjust : str or None
        Multiple-testing adjustment (a ``statsmodels`` ``multipletests`` method).
    settings : mapping, optional
        Method-specific parameters shown in the summary header (e.g. ``variant``).
    notes : sequence of str, optional
        Lines printed under the table (e.g. how encoded columns were grouped).
    """

    def __init__(
        self,
        importances: pd.DataFrame,
        method: str,
        *,
        model: str = "",
        n_samples: int | None = None,
        signed: bool = False,
        n_permutations: int = 0,
        n_bootstrap: int = 0,
        alpha: float = 0.05,
        p_adjust: str | None = None,
        settings: Mapping[str, object] | None = None,
        notes: Sequence[str] = (),
        null: str | None = None,
        hypothesis: str | None = None,
        global_test: Mapping[str, object] | None = None,
        network: Mapping[str, object] | None = None,
    ) -> None:
        if not isinstance(importances, pd.DataFrame) or "importance" not in importances:
            raise TypeError("importances must be the ranked DataFrame of importance_frame.")
        self.importances = importances
        self.method = method
        self.model = model
        self.n_samples = n_samples
        self.signed = signed
        self.n_permutations = int(n_permutations)
        self.n_bootstrap = int(n_bootstrap)
        self.alpha = alpha
        self.p_adjust = p_adjust
        self.settings = dict(settings or {})
        self.notes = tuple(notes)
        self.null = null
        self.hypothesis = hypothesis
        self.global_test = None if global_test is None else dict(global_test)
        self.network = None if network is None else dict(network)

    # ------------------------------------------------------------------ properties
    @property
    def tested(self) -> bool:
        """Whether a randomization test ran (some p-value is not NaN)."""
        return bool(self.importances["p_value"].notna().any())

    @property
    def has_intervals(self) -> bool:
        """Whether bootstrap intervals were computed."""
        return bool(self.importances["ci_low"].notna().any())

    @property
    def multi_output(self) -> bool:
        """Whether the table has one block per output (two-level index)."""
        return isinstance(self.importances.index, pd.MultiIndex)

    @property
    def output_names(self) -> tuple[str, ...]:
        """The outputs, in table order."""
        if self.multi_output:
            return tuple(str(o) for o in self.importances.index.get_level_values(0).unique())
        return ()

    # ------------------------------------------------------------------ tables
    def table(self, digits: int = 4) -> pd.DataFrame:
        """The ranked table formatted as strings (what summary and the exports print).

        Columns: ``importance``, ``relative``, ``rank``, ``direction`` (signed methods),
        ``p_value``, ``p_adjusted`` and ``sig`` (when a test ran), ``ci_low``, ``ci_high``
        (when intervals were computed). Multi-output tables get a leading ``output`` column.
        """
        f = self.importances
        cols: dict[str, list[str]] = {}
        if self.multi_output:
            cols["output"] = [str(o) for o in f.index.get_level_values(0)]
            variables = f.index.get_level_values(-1)
        else:
            variables = f.index
        cols["variable"] = [str(v) for v in variables]
        cols["importance"] = [_fmt(v, digits) for v in f["importance"]]
        cols["relative"] = [_fmt(v, 3) for v in f["relative_importance"]]
        cols["rank"] = [str(int(v)) for v in f["rank"]]
        if "direction" in f:
            cols["direction"] = [str(v) for v in f["direction"]]
        if self.tested:
            p_for_stars = f["p_adjusted"].where(f["p_adjusted"].notna(), f["p_value"])
            cols["p_value"] = [_fmt_p(v) for v in f["p_value"]]
            cols["p_adjusted"] = [_fmt_p(v) for v in f["p_adjusted"]]
            cols["sig"] = list(significance_stars(p_for_stars))
        if self.has_intervals:
            cols["ci_low"] = [_fmt(v, digits) for v in f["ci_low"]]
            cols["ci_high"] = [_fmt(v, digits) for v in f["ci_high"]]
        return pd.DataFrame(cols)

    def _header(self) -> list[tuple[str, str]]:
        kind = "signed" if self.signed else "magnitude"
        rows = [("Method", f"{self.method} ({kind})")]
        rows += [(str(k), str(v)) for k, v in self.settings.items()]
        rows.append(("Model", self.model or "-"))
        if self.n_samples is not None:
            rows.append(("No. observations", str(self.n_samples)))
        f = self.importances
        n_var = f.index.get_level_values(-1).nunique()
        rows.append(("No. variables", str(n_var)))
        if self.multi_output:
            rows.append(("Outputs", ", ".join(self.output_names)))
        if self.n_permutations and self.tested:
            tail = "two-sided on |importance|" if self.signed else "upper-tailed"
            test = f"randomization, {self.n_permutations} permutations, {tail}"
        else:
            test = "none (n_permutations=0)"
        rows.append(("Test", test))
        if self.tested:
            rows.append(("Adjustment", str(self.p_adjust or "none")))
            rows.append(("alpha", f"{self.alpha:g}"))
        if self.n_bootstrap and self.has_intervals:
            level = 100 * (1 - self.alpha)
            rows.append(("Intervals", f"{level:g}% bootstrap percentile, {self.n_bootstrap} draws"))
        return rows

    def summary(self, digits: int = 4) -> str:
        """A text report in the style of ``statsmodels``' ``summary()``.

        A header (method, model, number of observations, outputs, test settings), then the
        ranked table (one block per output) with significance stars on the adjusted p-values:
        ``***`` p < 0.001, ``**`` p < 0.01, ``*`` p < 0.05, ``.`` p < 0.1.
        """
        table = self.table(digits)
        blocks: list[tuple[str | None, pd.DataFrame]] = []
        if self.multi_output:
            for out, block in table.groupby("output", sort=False):
                blocks.append((str(out), block.drop(columns="output")))
        else:
            blocks.append((None, table))
        texts = []
        for out, block in blocks:
            body = block.set_index("variable")
            body.index.name = None
            texts.append((out, body.to_string()))
        header = self._header()
        key_w = max(len(k) for k, _ in header)
        head_lines = [f"{k + ':':<{key_w + 1}} {v}" for k, v in header]
        width = max(
            [len(line) for line in head_lines]
            + [len(line) for _, t in texts for line in t.splitlines()]
            + [60]
        )
        title = f"{self.method} sensitivity analysis"
        lines = [title.center(width), "=" * width, *head_lines, "=" * width]
        for i, (out, text) in enumerate(texts):
            if out is not None:
                lines.append(f"Output: {out}")
            lines.append(text)
            lines.append("-" * width if i < len(texts) - 1 else "=" * width)
        if self.tested:
            lines.append("Signif. codes (adjusted p): '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1")
        lines.extend(self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<SensitivityResult: {self.method}, {len(self.importances)} rows>"

    def to_markdown(self, digits: int = 4) -> str:
        """The ranked table as a GitHub-flavoured Markdown table (no extra dependency)."""
        table = self.table(digits)

        def cell(v: str) -> str:
            return str(v).replace("|", "\\|")

        numeric = {"importance", "relative", "rank", "p_value", "p_adjusted", "ci_low", "ci_high"}
        head = "| " + " | ".join(cell(c) for c in table.columns) + " |"
        align = "|" + "|".join("---:" if c in numeric else "---" for c in table.columns) + "|"
        rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.to_numpy()]
        return "\n".join([head, align, *rows])

    def to_latex(
        self, digits: int = 4, caption: str | None = None, label: str | None = None
    ) -> str:
        """The ranked table as a LaTeX ``table`` with a ``booktabs`` ``tabular``."""
        table = self.table(digits)
        numeric = {"importance", "relative", "rank", "p_value", "p_adjusted", "ci_low", "ci_high"}
        spec = "".join("r" if c in numeric else "l" for c in table.columns)
        head = " & ".join(_latex_escape(c) for c in table.columns) + r" \\"
        body = [" & ".join(_latex_escape(v) for v in row) + r" \\" for row in table.to_numpy()]
        lines = [r"\begin{table}[ht]", r"\centering"]
        lines.append(
            r"\caption{" + _latex_escape(caption or f"{self.method} variable importance") + "}"
        )
        if label:
            lines.append(r"\label{" + label + "}")
        lines += [r"\begin{tabular}{" + spec + "}", r"\toprule", head, r"\midrule", *body]
        lines += [r"\bottomrule", r"\end{tabular}"]
        if self.tested:
            lines.append(
                r"\par\smallskip{\footnotesize Significance (adjusted $p$): *** $<0.001$, "
                r"** $<0.01$, * $<0.05$, . $<0.1$.}"
            )
        lines.append(r"\end{table}")
        return "\n".join(lines)

    def to_csv(self, path_or_buf=None, **kwargs):
        """The full-precision ranked table as CSV (``DataFrame.to_csv``; a string if no path)."""
        return self.importances.to_csv(path_or_buf, **kwargs)

    def plot(self, **kwargs):
        """Ranked bar chart (:func:`sensitivity.plotting.plot_importance`)."""
        from .plotting import plot_importance

        return plot_importance(self.importances, **kwargs)


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
}


def _latex_escape(value) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in str(value))
