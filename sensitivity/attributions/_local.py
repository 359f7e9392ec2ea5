"""Per-row attributions of one network (:class:`LocalAttributions`) and their global summary."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..result import importance_frame


@dataclass
class LocalAttributions:
    """Per-row attributions of one model.

    Attributes
    ----------
    method : str
    values : ndarray of shape (n_rows, n_outputs, n_features)
        ``values[r, k, i]``: attribution of variable ``i`` to output ``k`` at row ``r``.
    data : ndarray of shape (n_rows, n_features)
        The rows explained (the user's units).
    feature_names, output_names : tuple of str
        With ``target="predicted"`` the single output is named ``"predicted"`` and
        ``targets`` holds each row's class.
    prediction : ndarray of shape (n_rows, n_outputs)
        :math:`f(x)`.
    baseline_prediction : ndarray of shape (n_rows, n_outputs) or None
        :math:`f(x')` (averaged over the baselines with ``baseline="sample"``); None for
        methods without a baseline (saliency, gradient x input, SmoothGrad).
    baseline : ndarray or None
        The baseline rows: ``(1, p)``, ``(n, p)`` or, with ``"sample"``, ``(n_baselines, p)``.
    completeness_gap : ndarray of shape (n_rows, n_outputs) or None
        Integrated Gradients: :math:`\\sum_i \\mathrm{IG}_i - (f(x) - f(x'))`.
    targets : ndarray of shape (n_rows,) or None
        The class explained at each row (``target="predicted"``).
    settings : dict
        The options used (``n_steps`` as chosen, ``integration``, ...).
    """

    method: str
    values: np.ndarray
    data: np.ndarray
    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    prediction: np.ndarray
    baseline_prediction: np.ndarray | None = None
    baseline: np.ndarray | None = None
    completeness_gap: np.ndarray | None = None
    targets: np.ndarray | None = None
    settings: dict = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of rows explained."""
        return int(self.values.shape[0])

    @property
    def relative_gap(self) -> np.ndarray | None:
        """``|completeness_gap|`` relative to ``|f(x) - f(x')|`` per row and output (see
        :func:`relative_gap`); None unless Integrated Gradients."""
        if self.completeness_gap is None or self.baseline_prediction is None:
            return None
        return relative_gap(self.completeness_gap, self.prediction - self.baseline_prediction)

    def _output_index(self, output) -> int:
        if output is None:
            if len(self.output_names) != 1:
                raise ValueError(
                    f"Several outputs {list(self.output_names)}: name the one to use (output=)."
                )
            return 0
        if isinstance(output, numbers.Integral) and str(output) not in self.output_names:
            if not 0 <= int(output) < len(self.output_names):
                raise ValueError(f"output {output} out of range for {len(self.output_names)}.")
            return int(output)
        if str(output) not in self.output_names:
            raise ValueError(f"Unknown output {output!r}; outputs: {list(self.output_names)}.")
        return self.output_names.index(str(output))

    def to_wide(self, output=None) -> pd.DataFrame:
        """Attributions of one output as a DataFrame (rows x variables)."""
        k = self._output_index(output)
        return pd.DataFrame(self.values[:, k, :], columns=list(self.feature_names))

    def to_frame(self) -> pd.DataFrame:
        """Long table: one line per row, output and variable.

        Columns ``row``, ``output``, ``variable``, ``attribution``, ``value`` (the variable's
        value at that row).
        """
        n, K, p = self.values.shape
        rows = np.repeat(np.arange(n), K * p)
        if self.targets is not None:
            outputs = np.repeat(np.asarray(self.targets, dtype=object), K * p)
        else:
            outputs = np.tile(np.repeat(np.asarray(self.output_names, dtype=object), p), n)
        return pd.DataFrame(
            {
                "row": rows,
                "output": outputs,
                "variable": np.tile(np.asarray(self.feature_names, dtype=object), n * K),
                "attribution": self.values.reshape(-1),
                "value": np.repeat(self.data[:, None, :], K, axis=1).reshape(-1),
            }
        )

    def importances(self) -> pd.DataFrame:
        """Global summary as the ranked importance table (``docs/architecture.rst``).

        ``importance`` = mean over rows of ``|attribution|``; ``direction`` = sign of the
        covariance between the attribution and the variable's value over the rows (+: larger
        values push the output up); extra columns ``mean`` (mean attribution) and ``std`` (its
        standard deviation over rows, ``ddof=1``: how much the effect varies between rows).
        """
        stats = summarize(self.values[None], self.data)
        return importance_frame(
            stats["importance"][0],
            self.feature_names,
            self.output_names,
            signed=False,
            direction=stats["direction"][0],
            extra={"mean": stats["mean"][0], "std": stats["std"][0]},
            method=f"mean |{self.method}|",
        )

    def plot(self, kind: str = "summary", **kwargs):
        """Draw the attributions (matplotlib): one of the figures of
        :mod:`sensitivity.attribution_plots`.

        Parameters
        ----------
        kind : {"summary", "waterfall", "dependence"}, default="summary"
            * ``"summary"``: every row's attribution per variable, variables ranked by mean
              absolute attribution, points coloured by the variable's value (beeswarm;
              :func:`~sensitivity.attribution_plots.plot_attribution_summary`).
            * ``"waterfall"``: one row, from the baseline prediction to the prediction
              variable by variable; needs ``row=`` (the position of the row in these
              attributions;
              :func:`~sensitivity.attribution_plots.plot_attribution_waterfall`).
            * ``"dependence"``: one variable's attribution against its value, one point per
              row; needs ``variable=`` (a name or position;
              :func:`~sensitivity.attribution_plots.plot_attribution_dependence`).
        **kwargs
            Passed to that function: ``output`` (required with several outputs), ``ax``,
            ``output_unit``, and ``max_display``, ``units``, ``color_by`` where it takes them.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from .. import attribution_plots as plots

        functions = {
            "summary": (plots.plot_attribution_summary, None),
            "waterfall": (plots.plot_attribution_waterfall, "row"),
            "dependence": (plots.plot_attribution_dependence, "variable"),
        }
        if kind not in functions:
            raise ValueError(f"Unknown kind {kind!r}; kinds: {', '.join(map(repr, functions))}.")
        function, needed = functions[kind]
        if needed is not None and needed not in kwargs:
            what = (
                f"the position of the row to explain, 0 to {self.n_rows - 1}"
                if needed == "row"
                else f"a variable name or position; variables: {', '.join(self.feature_names)}"
            )
            raise TypeError(f"plot(kind={kind!r}) needs {needed}= ({what}).")
        return function(self, **kwargs)

    def __repr__(self) -> str:
        n, K, p = self.values.shape
        extra = ""
        rg = self.relative_gap
        if rg is not None:
            extra = f", max relative completeness gap {np.max(rg):.2g}"
        return (
            f"LocalAttributions(method={self.method!r}, {n} rows x {p} variables x {K} "
            f"output(s){extra})"
        )


def relative_gap(gap, delta) -> np.ndarray:
    r"""Completeness gap relative to the change of the output.

    :math:`|\delta_r| / \max(|\Delta f_r|,\ 0.01\, \overline{|\Delta f|})` per row :math:`r`
    and output, with :math:`\Delta f_r = f(x_r) - f(x'_r)`: rows whose output barely moves
    from the baseline are judged against 1 % of the mean change, not against nearly zero.
    """
    gap = np.abs(np.asarray(gap, dtype=np.float64))
    d = np.abs(np.asarray(delta, dtype=np.float64))
    floor = 0.01 * d.mean(axis=-2, keepdims=True) if d.ndim >= 2 else 0.01 * d.mean()
    denom = np.maximum(np.maximum(d, floor), np.finfo(np.float64).tiny)
    return np.where(gap == 0, 0.0, gap / denom)


def summarize(values: np.ndarray, X: np.ndarray) -> dict[str, np.ndarray]:
    r"""Global statistics of per-row attributions ``(B, n, K, p)`` at rows ``X`` ``(n, p)``.

    Each ``(B, K, p)``: ``importance`` = :math:`n^{-1} \sum_r |a_{rki}|`; ``direction`` =
    :math:`n^{-1} \sum_r a_{rki} (x_{ri} - \bar x_i)`, the covariance of attribution and
    value, whose sign says whether larger values push the output up (the mean attribution
    cannot: with the mean baseline, attributions of a linear effect average to zero);
    ``mean`` = mean attribution; ``std`` = its standard deviation over rows (``ddof=1``; 0
    for a single row).
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[1]
    mean = v.mean(axis=1)
    std = v.std(axis=1, ddof=1) if n > 1 else np.zeros_like(mean)
    xc = np.asarray(X, dtype=np.float64) - np.mean(X, axis=0)
    cov = np.einsum("bnkp,np->bkp", v, xc) / n
    return {"importance": np.abs(v).mean(axis=1), "direction": cov, "mean": mean, "std": std}
