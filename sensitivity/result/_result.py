"""The report object of a fitted analysis (:class:`SensitivityResult`): summary and exports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..inference.pvalues import resolution_message
from ._journal import _JournalTables
from ._text import (
    ADJUSTMENT_NAMES,
    CONDITIONAL_MODEL,
    CONDITIONAL_R2,
    METHOD_TITLES,
    NULL_HYPOTHESES,
    REFIT_STATISTIC,
    RELIABLE,
    RESPONSE_NOTE,
    SIGNIFICANCE_LEGEND,
    TEST_NAMES,
    TESTED_STATISTIC,
    _fmt,
    _fmt_fixed,
    _fmt_p,
    significance_stars,
)


class SensitivityResult(_JournalTables):
    """A fitted sensitivity analysis as a report: summary table and exports.

    Estimators expose it as ``results_`` (``importances_`` stays a plain DataFrame); it can
    also be built from any table made by :func:`importance_frame`.

    Parameters
    ----------
    importances : pandas.DataFrame
        The ranked table (``docs/architecture.rst``, the public contract).
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
    test : str or None
        The per-variable test as one phrase with its draws and tail, printed verbatim by every
        report (e.g. ``"holdout randomization test, 999 conditional draws, upper-tailed"``);
        default: the test ``null`` names, with ``n_permutations`` permutations and the tail.
    interval : str or None
        What ``ci_low`` and ``ci_high`` are, without their level (e.g. ``"t-interval"``);
        default: ``"bootstrap percentile interval"`` (with ``n_bootstrap`` resamples).

    Notes
    -----
    The summary, the Markdown and LaTeX tables and the figure legend all read the test and the
    intervals from :attr:`test_description`, :attr:`interval_label` and
    :attr:`interval_description`, and the warning that no variable can be significant from
    :attr:`resolution_warning`.
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
        test: str | None = None,
        interval: str | None = None,
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
        self.test = test
        self.interval = interval

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
    def test_description(self) -> str | None:
        """The per-variable test with its draws and tail (``test``, else from ``null``,
        ``n_permutations`` and the tail); None without a per-variable test."""
        if not self.tested:
            return None
        if self.test:
            return self.test
        tail = "two-sided on |importance|" if self.signed else "upper-tailed"
        name = TEST_NAMES.get(self.null or "", "randomization")
        return f"{name}, {self.n_permutations} permutations, {tail}"

    @property
    def interval_label(self) -> str | None:
        """Level and kind of the intervals, e.g. ``"95% t-interval"`` (the figure legend);
        None without intervals."""
        if not self.has_intervals:
            return None
        return f"{100 * (1 - self.alpha):g}% {self.interval or 'bootstrap percentile interval'}"

    @property
    def interval_description(self) -> str | None:
        """:attr:`interval_label` with the number of bootstrap resamples, where they made the
        intervals (the reports' "Intervals" line)."""
        label = self.interval_label
        if label is not None and self.interval is None and self.n_bootstrap:
            label += f", {self.n_bootstrap} resamples"
        return label

    @property
    def resolution_warning(self) -> str | None:
        """Why no variable can be significant, when too few permutations leave the smallest
        attainable (adjusted) p-value above ``alpha``; None otherwise. From
        :func:`sensitivity.inference.pvalues.resolution_message`, which also words the
        warning of the fit and of the command line."""
        if not self.tested or not self.n_permutations:
            return None
        n_tests = int(self.importances["p_value"].notna().sum())
        return resolution_message(self.n_permutations, n_tests, self.alpha, self.p_adjust)

    @property
    def all_notes(self) -> tuple[str, ...]:
        """``notes``, led by the :attr:`resolution_warning` and followed by the note the
        response permutation needs."""
        warning = self.resolution_warning
        first = (f"Warning: {warning}",) if warning else ()
        extra = (RESPONSE_NOTE,) if self.null == "response" else ()
        return (*first, *self.notes, *extra)

    # ------------------------------------------------------------------ tables
    def table(self, digits: int = 4) -> pd.DataFrame:
        """The ranked table formatted as strings (what summary prints).

        Columns: ``importance``, ``relative``, ``rank``, ``direction`` (signed methods),
        ``loss_increase`` (the held-out test's statistic, when it ran), ``p_value``,
        ``p_adjusted`` and ``sig`` (when a per-variable test ran), ``ci_low``,
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
        for name in (TESTED_STATISTIC, REFIT_STATISTIC):  # the statistic the p-value tested
            if self.tested and name in f:
                cols[name] = [_fmt(v, 3) for v in f[name]]
        if self.tested:
            cols["p_value"] = [_fmt_p(v) for v in f["p_value"]]
            cols["p_adjusted"] = [_fmt_p(v) for v in f["p_adjusted"]]
            cols["sig"] = self.stars()
        if self.has_intervals:
            cols["ci_low"] = [_fmt(v, digits) for v in f["ci_low"]]
            cols["ci_high"] = [_fmt(v, digits) for v in f["ci_high"]]
        if CONDITIONAL_R2 in f:
            cols["R²(x_j|others)"] = [_fmt_fixed(v, 2) for v in f[CONDITIONAL_R2]]
        if self.tested and CONDITIONAL_MODEL in f:
            cols["model of x_j"] = [str(v) for v in f[CONDITIONAL_MODEL]]
        return pd.DataFrame(cols)

    def stars(self) -> list[str]:
        """Significance codes per row (on adjusted p); ``"?"`` instead of a code where the
        table says the p-value is unreliable (``reliable`` False for a tested variable: its
        conditional model failed its check)."""
        codes = list(significance_stars(self._p_for_stars()))
        f = self.importances
        if RELIABLE in f:
            tested = f["p_value"].notna().to_numpy()
            bad = tested & ~f[RELIABLE].to_numpy(dtype=bool)
            codes = ["?" if b else c for c, b in zip(codes, bad, strict=True)]
        return codes

    def _p_for_stars(self) -> np.ndarray:
        f = self.importances
        return f["p_adjusted"].where(f["p_adjusted"].notna(), f["p_value"]).to_numpy(float)

    def _legend(self) -> str:
        """The significance-code legend (on adjusted p, or on p without an adjustment), with
        the meaning of ``?`` when the table has one."""
        legend = (
            SIGNIFICANCE_LEGEND if self.p_adjust else SIGNIFICANCE_LEGEND.replace("adjusted p", "p")
        )
        if "?" in self.stars():
            legend += "; '?' p-value unreliable (conditional model failed its check)"
        return legend

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
            rows.append(("Test", str(self.test_description)))
            rows.append(("Adjustment", self._adjustment()))
            rows.append(("alpha", f"{self.alpha:g}"))
        else:
            rows.append(("Test", "none (n_permutations=0)"))
        if self.has_intervals:
            rows.append(("Intervals", str(self.interval_description)))
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

    # the journal tables (defined in ``_journal``), listed here so that the class documents them
    to_markdown = _JournalTables.to_markdown
    to_latex = _JournalTables.to_latex

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
        from ..plotting import plot_importance

        return plot_importance(self, **kwargs)
