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

SIGNIFICANCE_LEGEND = (
    "Signif. codes (adjusted p): '***' <= 0.001, '**' <= 0.01, '*' <= 0.05, '.' <= 0.1"
)
"""The legend printed under every table with stars (the thresholds are inclusive)."""

NULL_HYPOTHESES: dict[str, str] = {
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
    "holdout": "holdout",
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
    null : {"conditional", "variable", "response", "holdout"} or None
        Which randomization test produced the p-values (None: not stated, or no test).
        With ``"response"`` (a test of the global null) the per-variable p-value columns are
        NaN and the reports show the one global p-value of ``global_test`` instead.
    hypothesis : str or None
        One sentence naming the null tested, printed verbatim (default: from ``null``, see
        :data:`NULL_HYPOTHESES`).
    global_test : dict or None
        ``{"statistic": str, "p_value": float, "n_permutations": int}``: the global test of
        ``null="response"``.
    network : dict or None
        The analysed network: ``{"description": str, "trainer": str, "penalty": str,
        "metric": "R^2" or "accuracy", "fit": {"analysed": {"train": float, "cv": float or
        None}, "user": {"train": float or None, "cv": float or None}}}``; shown in the header
        beside the user's fit.
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
        if null is not None and not isinstance(null, str):
            raise TypeError(f"null must be a string or None; got {type(null).__name__}.")
        if global_test is not None and "p_value" not in global_test:
            raise ValueError("global_test needs at least the key 'p_value'.")
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
        self.global_test = dict(global_test) if global_test is not None else None
        self.network = dict(network) if network is not None else None

    # ------------------------------------------------------------------ properties
    @property
    def tested(self) -> bool:
        """Whether per-variable p-values exist (a per-variable test ran: not ``"response"``)."""
        if self.null == "response":
            return False
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

    @property
    def null_hypothesis(self) -> str | None:
        """The sentence naming the null tested (``hypothesis``, else from ``null``)."""
        if self.hypothesis:
            return self.hypothesis
        return NULL_HYPOTHESES.get(self.null) if self.null else None

    @property
    def title(self) -> str:
        """The method's human name (e.g. "Lek's profile" for ``LekProfile``)."""
        return METHOD_TITLES.get(self.method, self.method)

    @property
    def all_notes(self) -> tuple[str, ...]:
        """``notes`` plus the note the response permutation needs."""
        extra = (RESPONSE_NOTE,) if self.null == "response" else ()
        return (*self.notes, *extra)

    # ------------------------------------------------------------------ tables
    def table(self, digits: int = 4) -> pd.DataFrame:
        """The ranked table formatted as strings (what summary prints).

        Columns: ``importance``, ``relative``, ``rank``, ``direction`` (signed methods),
        ``p_value``, ``p_adjusted`` and ``sig`` (when a per-variable test ran), ``ci_low``,
        ``ci_high`` (when intervals were computed), ``R²(x_j|others)`` (when the table has
        ``conditional_r2``). Multi-output tables get a leading ``output`` column.
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
            cols["p_value"] = [_fmt_p(v) for v in f["p_value"]]
            cols["p_adjusted"] = [_fmt_p(v) for v in f["p_adjusted"]]
            cols["sig"] = list(significance_stars(self._p_for_stars()))
        if self.has_intervals:
            cols["ci_low"] = [_fmt(v, digits) for v in f["ci_low"]]
            cols["ci_high"] = [_fmt(v, digits) for v in f["ci_high"]]
        if CONDITIONAL_R2 in f:
            cols["R²(x_j|others)"] = [_fmt_fixed(v, 2) for v in f[CONDITIONAL_R2]]
        return pd.DataFrame(cols)

    def _p_for_stars(self) -> np.ndarray:
        f = self.importances
        return f["p_adjusted"].where(f["p_adjusted"].notna(), f["p_value"]).to_numpy(float)

    def _legend(self) -> str:
        """The significance-code legend (on adjusted p, or on p without an adjustment)."""
        return (
            SIGNIFICANCE_LEGEND if self.p_adjust else SIGNIFICANCE_LEGEND.replace("adjusted p", "p")
        )

    def _adjustment(self) -> str:
        if not self.p_adjust:
            return "none"
        return ADJUSTMENT_NAMES.get(str(self.p_adjust), str(self.p_adjust))

    def _fit_text(self) -> str | None:
        fit = (self.network or {}).get("fit") or {}

        def one(d) -> str:
            d = d or {}
            parts = [f"{k} {float(d[k]):.3f}" for k in ("train", "cv") if d.get(k) is not None]
            return ", ".join(parts).replace("cv", "CV") or "not measured"

        if not fit:
            return None
        return f"analysed network {one(fit.get('analysed'))}; user's network {one(fit.get('user'))}"

    def describe(self) -> list[tuple[str, str]]:
        """The header of the reports as (key, value) rows: method, model, analysed network
        (trainer, penalty, fit beside the user's), data size, null hypothesis, test settings
        (or the global test's result), adjustment, level and intervals."""
        kind = "signed" if self.signed else "magnitude"
        rows = [("Method", f"{self.method} ({kind})")]
        rows += [(str(k), str(v)) for k, v in self.settings.items()]
        rows.append(("Model", self.model or "-"))
        if self.network:
            net = self.network
            if net.get("description"):
                rows.append(("Analysed network", str(net["description"])))
            if net.get("trainer"):
                rows.append(("Trainer", str(net["trainer"])))
            if net.get("penalty"):
                rows.append(("Penalty", str(net["penalty"])))
            fit = self._fit_text()
            if fit:
                rows.append((f"Fit ({net.get('metric', 'score')})", fit))
        if self.n_samples is not None:
            rows.append(("No. observations", str(self.n_samples)))
        f = self.importances
        rows.append(("No. variables", str(f.index.get_level_values(-1).nunique())))
        if self.multi_output:
            rows.append(("Outputs", ", ".join(self.output_names)))
        hypothesis = self.null_hypothesis
        gt = self.global_test
        if self.null == "response" and gt is not None:
            n = int(gt.get("n_permutations", self.n_permutations))
            stat = gt.get("statistic", "max_j |importance_j|")
            rows.append(("Null hypothesis", hypothesis or NULL_HYPOTHESES["response"]))
            rows.append(("Test", f"{TEST_NAMES['response']}, {n} permutations; statistic {stat}"))
            rows.append(("Global p-value", _fmt_p(float(gt["p_value"])) or "n/a"))
            rows.append(("alpha", f"{self.alpha:g}"))
        elif self.tested:
            if hypothesis:
                rows.append(("Null hypothesis", hypothesis))
            tail = "two-sided on |importance|" if self.signed else "upper-tailed"
            name = TEST_NAMES.get(self.null or "", "randomization")
            rows.append(("Test", f"{name}, {self.n_permutations} permutations, {tail}"))
            rows.append(("Adjustment", self._adjustment()))
            rows.append(("alpha", f"{self.alpha:g}"))
        else:
            rows.append(("Test", "none (n_permutations=0)"))
        if self.n_bootstrap and self.has_intervals:
            level = 100 * (1 - self.alpha)
            rows.append(("Intervals", f"{level:g}% bootstrap percentile, {self.n_bootstrap} draws"))
        return rows

    def summary(self, digits: int = 4) -> str:
        """A text report in the style of ``statsmodels``' ``summary()``.

        A header (:meth:`describe`: method, model, analysed network, observations, outputs,
        the null hypothesis and the test's settings), then the ranked table (one block per
        output) with significance stars on the adjusted p-values: ``***`` p <= 0.001, ``**``
        p <= 0.01, ``*`` p <= 0.05, ``.`` p <= 0.1. A test of the global null
        (``null="response"``) is one line of the header, with no per-variable stars.
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
        header = self.describe()
        key_w = max(len(k) for k, _ in header)
        head_lines = [f"{k + ':':<{key_w + 1}} {v}" for k, v in header]
        # the rules span the table; long header lines (a hypothesis) may run past them
        width = max(
            [min(len(line), 100) for line in head_lines]
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
            lines.append(self._legend())
        lines.extend(self.all_notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<SensitivityResult: {self.method}, {len(self.importances)} rows>"

    # ------------------------------------------------------------------ journal tables
    def _journal_columns(self, digits: int, minus: str) -> tuple[list[dict], list[str]]:
        """Human-formatted columns shared by Markdown and LaTeX: a list of column dicts
        ``{"key", "header", "align", "cells"}`` (cells in table order) and the factor notes."""
        f = self.importances
        imp = f["importance"].to_numpy(float)
        lo = f["ci_low"].to_numpy(float)
        hi = f["ci_high"].to_numpy(float)
        span = np.r_[imp, lo, hi] if self.has_intervals else imp
        power, dec = _column_scale(span, digits)
        factor = f" (×10^{power})" if power else ""
        tex_factor = f"($\\times 10^{{{power}}}$)" if power else ""
        cols = [
            {
                "key": "importance",
                "header": "Importance" + factor,
                "latex": ("Importance", tex_factor),
                "power": power,
                "align": "r",
                "cells": [_fixed(v, power, dec, minus) for v in imp],
            },
            {
                "key": "relative",
                "header": "Share (%)",
                "latex": ("Share", r"(\%)"),
                "align": "r",
                "cells": [_fixed(100 * v, 0, 1, minus) for v in f["relative_importance"]],
            },
        ]
        if "direction" in f and not self.signed:
            cols.append(
                {
                    "key": "direction",
                    "header": "Direction",
                    "align": "c",
                    "cells": [minus if d == "-" else str(d) for d in f["direction"]],
                }
            )
        if self.tested:
            adj = "none" if not self.p_adjust else self._adjustment()
            cols.append(
                {
                    "key": "p",
                    "header": "p",
                    "latex": ("$p$", ""),
                    "align": "r",
                    "cells": [_fmt_p(v) for v in f["p_value"]],
                }
            )
            if self.p_adjust:
                cols.append(
                    {
                        "key": "p_adj",
                        "header": f"p ({adj})",
                        "latex": ("$p$", "(adj.)"),
                        "align": "r",
                        "cells": [_fmt_p(v) for v in f["p_adjusted"]],
                    }
                )
            cols.append(
                {
                    "key": "sig",
                    "header": "Sig.",
                    "latex": ("", ""),
                    "align": "l",
                    "cells": list(significance_stars(self._p_for_stars())),
                }
            )
        if self.has_intervals:
            level = f"{100 * (1 - self.alpha):g}"
            cells = [
                f"[{_fixed(a, power, dec, minus)}, {_fixed(b, power, dec, minus)}]"
                if np.isfinite(a) and np.isfinite(b)
                else ""
                for a, b in zip(lo, hi, strict=True)
            ]
            cols.append(
                {
                    "key": "ci",
                    "header": f"{level}% CI" + factor,
                    "latex": (f"{level}\\% CI", tex_factor),
                    "align": "c",
                    "cells": cells,
                }
            )
        if CONDITIONAL_R2 in f:
            cols.append(
                {
                    "key": "r2",
                    "header": "R² (x_j | others)",
                    "latex": ("$R^2$", r"($x_j \mid$ others)"),
                    "align": "r",
                    "cells": [_fixed(v, 0, 2, minus) for v in f[CONDITIONAL_R2]],
                }
            )
        return cols

    def _blocks(self) -> list[tuple[str | None, np.ndarray]]:
        """(output name or None, row positions) per output, in table order."""
        if not self.multi_output:
            return [(None, np.arange(len(self.importances)))]
        level = np.asarray(self.importances.index.get_level_values(0)).astype(str)
        return [(out, np.flatnonzero(level == out)) for out in self.output_names]

    def _variables(self) -> list[str]:
        return [str(v) for v in self.importances.index.get_level_values(-1)]

    def _settings_sentences(self) -> list[str]:
        """What a caption or a report must say about the test (one sentence each)."""
        out = []
        gt = self.global_test
        if self.null == "response" and gt is not None:
            n = int(gt.get("n_permutations", self.n_permutations))
            out.append(
                f"Global test (response permutation, {n} permutations, statistic "
                f"{gt.get('statistic', 'max_j |importance_j|')}): p = "
                f"{_fmt_p(float(gt['p_value']))}"
            )
            out.append(RESPONSE_NOTE.rstrip("."))
        elif self.tested:
            tail = "two-sided on |importance|" if self.signed else "upper-tailed"
            name = TEST_NAMES.get(self.null or "", "randomization test")
            hyp = self.null_hypothesis
            out.append(
                f"Test: {name}, {self.n_permutations} permutations, {tail}"
                + (f"; {hyp}" if hyp else "")
            )
            adj = self._adjustment()
            out.append(
                f"p-values adjusted by the {adj} method; stars on adjusted p"
                if self.p_adjust
                else "p-values not adjusted for multiple testing"
            )
        else:
            out.append("No randomization test")
        if self.has_intervals:
            out.append(
                f"Intervals: {100 * (1 - self.alpha):g}% bootstrap percentile, "
                f"{self.n_bootstrap} resamples"
            )
        return out

    def to_markdown(self, digits: int = 3) -> str:
        """The ranked table as GitHub-flavoured Markdown (no extra dependency).

        Human headers and one number format per column (``digits`` significant digits for the
        largest importance, the same decimals on every row, a power of ten factored out into
        the header for very large or small values); one table per output under a bold
        ``Output:`` line; the legend of the significance codes under a table with stars.
        """
        cols = self._journal_columns(digits, "-")
        variables = self._variables()

        def cell(v: str) -> str:
            return str(v).replace("|", "\\|")

        headers = ["Variable", *[c["header"] for c in cols]]
        head = "| " + " | ".join(cell(h) for h in headers) + " |"
        marks = {"l": "---", "r": "---:", "c": ":---:"}
        align = "|" + "|".join(["---", *[marks[c["align"]] for c in cols]]) + "|"
        out: list[str] = []
        for name, rows in self._blocks():
            if name is not None:
                out += ([""] if out else []) + [f"**Output: {cell(name)}**", ""]
            out += [head, align]
            for i in rows:
                out.append(
                    "| "
                    + " | ".join(cell(v) for v in [variables[i], *[c["cells"][i] for c in cols]])
                    + " |"
                )
        if self.tested:
            out += ["", self._legend().replace("*", "\\*") + "."]
        if self.null == "response":
            out += ["", *[s + "." for s in self._settings_sentences()[:1]], "", RESPONSE_NOTE]
        return "\n".join(out)

    def to_latex(
        self,
        digits: int = 3,
        caption: str | None = None,
        label: str | None = None,
        *,
        booktabs: bool = True,
    ) -> str:
        """The ranked table as a LaTeX ``table`` for a journal article.

        Rows ranked by ``|importance|`` (rank order; no rank column), one block per output
        under an italic output line, human headers, one number format per column with a true
        minus sign (``digits`` significant digits for the largest importance; a power of ten
        goes into the header), the interval as one ``[low, high]`` column, and a caption
        stating the test (null hypothesis, permutations, tail, adjustment) and the interval
        settings. Set in ``\\small`` with ``\\tabcolsep`` 4 pt: a 10-variable table with a test
        and intervals fits the text width of a standard 10 pt ``article``.

        Parameters
        ----------
        digits : int, default=3
            Significant digits of the largest ``|importance|`` of the table.
        caption : str, optional
            First sentence of the caption (default: "<method> variable importance"); the
            test's settings follow it.
        label : str, optional
            ``\\label`` of the table.
        booktabs : bool, default=True
            Rules from the ``booktabs`` package (``\\usepackage{booktabs}`` in the preamble);
            False uses ``\\hline`` and needs no package.
        """
        cols = self._journal_columns(digits, "$-$")
        variables = self._variables()
        n_cols = 1 + len(cols)
        top, mid, bottom = (
            (r"\toprule", r"\midrule", r"\bottomrule")
            if booktabs
            else (r"\hline", r"\hline", r"\hline")
        )

        spec = "l" + "".join(c["align"] for c in cols)
        kind = "signed" if self.signed else "magnitude"
        first = caption or f"{self.title} variable importance"
        sentences = [_latex_text(first.rstrip(".")) + f" ({kind} statistic"]
        sentences[0] += f"; $n = {self.n_samples}$)" if self.n_samples else ")"
        sentences.append(
            "Rows ranked by $|$importance$|$" + (" within each output" if self.multi_output else "")
        )
        sentences += [_latex_text(s) for s in self._settings_sentences()]
        text = ". ".join(sentences) + "."
        lines = [r"\begin{table}[ht]", r"\centering", r"\small", r"\setlength{\tabcolsep}{4pt}"]
        lines.append(r"\caption{" + text + "}")
        if label:
            lines.append(r"\label{" + label + "}")
        lines += [r"\begin{tabular}{" + spec + "}", top]
        heads = [c.get("latex", (_latex_escape(c["header"]), "")) for c in cols]
        lines.append(" & ".join(["Variable", *[h[0] for h in heads]]) + r" \\")
        if any(h[1] for h in heads):
            lines.append(" & ".join(["", *[h[1] for h in heads]]) + r" \\")
        lines.append(mid)
        for b, (name, rows) in enumerate(self._blocks()):
            if name is not None:
                if b:
                    lines.append(mid)
                lines.append(
                    r"\multicolumn{"
                    + str(n_cols)
                    + r"}{l}{\textit{Output: "
                    + _latex_escape(name)
                    + r"}} \\"
                )
            for i in rows:
                cells = [_latex_escape(variables[i])]
                for c in cols:
                    v = c["cells"][i]
                    if v.startswith("<"):  # "<0.001"
                        cells.append("$<$" + v[1:])
                    else:
                        cells.append(v if "$-$" in v else _latex_escape(v))
                lines.append(" & ".join(cells) + r" \\")
        lines += [bottom, r"\end{tabular}"]
        if self.tested:
            lines.append(
                r"\par\smallskip{\footnotesize Significance codes ("
                + ("adjusted $p$" if self.p_adjust else "$p$")
                + r"): *** $\le 0.001$, "
                r"** $\le 0.01$, * $\le 0.05$, . $\le 0.1$.}"
            )
        lines.append(r"\end{table}")
        return "\n".join(lines)

    def to_csv(self, path_or_buf=None, **kwargs):
        """The full-precision ranked table as CSV (``DataFrame.to_csv``; a string if no path)."""
        return self.importances.to_csv(path_or_buf, **kwargs)

    def plot(self, **kwargs):
        """Ranked bar chart (:func:`sensitivity.plotting.plot_importance` of this result).

        The only call from ``result`` up to ``plotting``, made when called (like pandas'
        ``DataFrame.plot``): importing :mod:`sensitivity.result` never imports matplotlib or
        :mod:`sensitivity.plotting`, which imports this module.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .plotting import plot_importance

        return plot_importance(self, **kwargs)


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
