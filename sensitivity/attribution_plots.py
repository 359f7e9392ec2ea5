"""Figures of local attributions (matplotlib): summary beeswarm, single-row waterfall, dependence.

Each function takes a :class:`~sensitivity.attributions.LocalAttributions`, draws on a new
figure (constrained layout) unless given an ``ax``, and returns the Figure; the attributions'
own ``plot(kind=...)`` calls them (``"summary"``, ``"waterfall"``, ``"dependence"``). They
stay readable in grayscale: the colour map (``cividis``) is monotone in lightness, and
negative bars of the waterfall are hatched as well as coloured.

* :func:`plot_attribution_summary`: every row's attribution per variable, variables ranked by
  mean absolute attribution, points coloured by the variable's value (the "beeswarm" summary plot of
  Lundberg et al. 2020).
* :func:`plot_attribution_waterfall`: one row: the baseline prediction, each variable's
  attribution as a step, and the prediction (for completeness-satisfying methods the steps add
  up from :math:`f(x')` to :math:`f(x)`; otherwise a bar chart of the attributions).
* :func:`plot_attribution_dependence`: attribution against the variable's value, one point per
  row (how the effect varies across rows).

References
----------
Lundberg, S. M. et al. (2020). From local explanations to global understanding with
explainable AI for trees. Nature Machine Intelligence 2, 56-67.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .plotting import NEGATIVE_COLOR, NEUTRAL_COLOR, POSITIVE_COLOR

__all__ = [
    "plot_attribution_dependence",
    "plot_attribution_summary",
    "plot_attribution_waterfall",
]

CMAP = "cividis"
"""Colour map for variable values (lightness increases monotonically: grayscale-safe)."""


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig, ax = _plt().subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _output_label(result, k: int, output_unit: str | None) -> str:
    name = result.output_names[k]
    if result.targets is not None:
        name = "predicted class"
    unit = output_unit or f"units of {name}"
    return f"attribution to {name} ({unit})"


def _var_label(name: str, units: Mapping[str, str] | None) -> str:
    unit = (units or {}).get(name, "data units")
    return f"{name} ({unit})"


def _beeswarm_offsets(x: np.ndarray, n_bins: int = 60, width: float = 0.4) -> np.ndarray:
    """Vertical offsets that spread points sharing an x-bin symmetrically (deterministic)."""
    n = x.size
    if n == 0:
        return np.zeros(0)
    span = np.ptp(x)
    bins = (
        np.zeros(n, dtype=int)
        if span == 0
        else np.minimum(((x - x.min()) / span * n_bins).astype(int), n_bins - 1)
    )
    order = np.lexsort((x, bins))
    offsets = np.zeros(n)
    counts = np.bincount(bins, minlength=n_bins)
    step = width / max(1, counts.max() / 2)
    start = 0
    for c in counts:
        if c:
            idx = order[start : start + c]
            k = np.arange(c)
            offsets[idx] = np.where(k % 2 == 0, 1, -1) * ((k + 1) // 2) * step
            start += c
    return offsets


def plot_attribution_summary(
    result,
    output=None,
    *,
    max_display: int = 15,
    ax=None,
    output_unit: str | None = None,
):
    """Summary (beeswarm) plot: every row's attribution per variable, coloured by value.

    Variables are ranked top-down by mean absolute attribution; the colour of a point is the rank of
    the variable's value among the rows (low = dark, high = light), so variables in different
    units share one colour bar.

    Parameters
    ----------
    result : LocalAttributions
    output : str or int, optional
        Output to show (required when there are several).
    max_display : int
        Show the most important variables only.
    ax : matplotlib Axes, optional
    output_unit : str, optional
        Unit of the output for the axis label (default: "units of <output>").

    Returns
    -------
    matplotlib.figure.Figure
    """
    k = result._output_index(output)
    vals = result.values[:, k, :]
    order = np.argsort(-np.abs(vals).mean(axis=0), kind="stable")[:max_display]
    fig, ax = _axes(ax, (6.4, 0.45 * len(order) + 1.4))
    sc = None
    for pos, j in enumerate(order[::-1]):
        x = vals[:, j]
        v = result.data[:, j]
        ranks = np.argsort(np.argsort(v, kind="stable"), kind="stable")
        colour = ranks / max(1, len(v) - 1)
        sc = ax.scatter(
            x,
            pos + _beeswarm_offsets(x),
            c=colour,
            cmap=CMAP,
            vmin=0,
            vmax=1,
            s=9,
            linewidths=0,
            rasterized=len(x) > 2000,
        )
    ax.axvline(0.0, color=NEUTRAL_COLOR, lw=0.8, zorder=0)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([result.feature_names[j] for j in order[::-1]])
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_xlabel(_output_label(result, k, output_unit))
    ax.set_ylabel("variable (ranked by mean absolute attribution)")
    ax.set_title(f"{result.method.replace('_', ' ')}: {result.n_rows} rows")
    if sc is not None:
        cb = fig.colorbar(sc, ax=ax, pad=0.01, aspect=30)
        cb.set_ticks([0, 1])
        cb.set_ticklabels(["low", "high"])
        cb.set_label("variable value (rank among rows)")
    return fig


def plot_attribution_waterfall(
    result,
    row: int,
    output=None,
    *,
    max_display: int = 10,
    ax=None,
    output_unit: str | None = None,
    units: Mapping[str, str] | None = None,
):
    """One row's explanation: from the baseline prediction to the prediction, step by step.

    With a baseline (Integrated Gradients, occlusion) the bars start at :math:`f(x')` and each
    variable (largest absolute attribution first, the rest pooled) moves the running total by its
    attribution; the prediction :math:`f(x)` is marked (for Integrated Gradients the last bar
    ends there up to the completeness gap, which the title reports). Without a baseline the
    bars start at 0. Negative steps are hatched.

    Parameters
    ----------
    result : LocalAttributions
    row : int
        Index of the row in ``result``.
    output : str or int, optional
    max_display : int
        Variables shown individually; the others are pooled into one bar.
    ax : matplotlib Axes, optional
    output_unit : str, optional
    units : mapping of str to str, optional
        Units of the variables, shown with their values.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not 0 <= int(row) < result.n_rows:
        raise ValueError(f"row {row} out of range for {result.n_rows} rows.")
    row = int(row)
    k = result._output_index(output)
    a = result.values[row, k, :]
    order = list(np.argsort(-np.abs(a), kind="stable"))
    shown, rest = order[:max_display], order[max_display:]
    steps = [(a[j], f"{result.feature_names[j]} = {result.data[row, j]:.4g}") for j in shown]
    if rest:
        steps.append((a[rest].sum(), f"{len(rest)} other variables"))
    has_base = result.baseline_prediction is not None
    start = result.baseline_prediction[row, k] if has_base else 0.0
    fig, ax = _axes(ax, (6.4, 0.42 * len(steps) + 1.8))
    total = start
    for pos, (v, _) in enumerate(steps):
        y = len(steps) - pos
        neg = v < 0
        ax.barh(
            y,
            v,
            left=total,
            color=NEGATIVE_COLOR if neg else POSITIVE_COLOR,
            hatch="///" if neg else None,
            edgecolor="white" if neg else POSITIVE_COLOR,
            height=0.7,
        )
        ax.text(
            total + v,
            y,
            f" {v:+.3g} ",
            va="center",
            ha="left" if v >= 0 else "right",
            fontsize=8,
        )
        total += v
    labels = [label for _, label in steps]
    ax.set_yticks(range(len(steps), 0, -1))
    ax.set_yticklabels(labels)
    if units:
        ax.set_ylabel(
            "variable = value (" + ", ".join(f"{k_}: {u}" for k_, u in units.items()) + ")"
        )
    else:
        ax.set_ylabel("variable = value at this row")
    ax.set_xlabel(_output_label(result, k, output_unit).replace("attribution to", "prediction of"))
    name = result.output_names[k] if result.targets is None else str(result.targets[row])
    fx = result.prediction[row, k]
    ax.axvline(fx, color="black", lw=1.2, ls="-", label=f"f(x) = {fx:.4g}")
    if has_base:
        ax.axvline(start, color=NEUTRAL_COLOR, lw=1.2, ls="--", label=f"f(baseline) = {start:.4g}")
    else:
        ax.axvline(0.0, color=NEUTRAL_COLOR, lw=0.8)
    ends = np.concatenate([[start, fx, total], start + np.cumsum([v for v, _ in steps])])
    lo, hi = float(ends.min()), float(ends.max())
    pad = 0.12 * (hi - lo) if hi > lo else 1.0
    ax.set_xlim(lo - pad, hi + pad)  # bars are sticky at their ends: set the margins here
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    title = f"row {row}, {name}: {result.method.replace('_', ' ')}"
    if result.completeness_gap is not None:
        title += f" (completeness gap {result.completeness_gap[row, k]:.2g})"
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0.3, len(steps) + 0.7)
    return fig


def plot_attribution_dependence(
    result,
    variable,
    output=None,
    *,
    color_by=None,
    ax=None,
    output_unit: str | None = None,
    units: Mapping[str, str] | None = None,
):
    """Attribution of one variable against its value, one point per row.

    Parameters
    ----------
    result : LocalAttributions
    variable : str or int
    output : str or int, optional
    color_by : str or int, optional
        Colour the points by the value of another variable (interactions show as colour
        bands); default: one colour.
    ax : matplotlib Axes, optional
    output_unit : str, optional
    units : mapping of str to str, optional
        Units of the variables for the axis labels (default "data units").

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(result.feature_names)

    def index(v):
        if isinstance(v, str):
            if v not in names:
                raise ValueError(f"Unknown variable {v!r}; variables: {names}.")
            return names.index(v)
        if not 0 <= int(v) < len(names):
            raise ValueError(f"variable {v} out of range for {len(names)} variables.")
        return int(v)

    j = index(variable)
    k = result._output_index(output)
    fig, ax = _axes(ax, (5.2, 3.8))
    x, a = result.data[:, j], result.values[:, k, j]
    if color_by is None:
        ax.scatter(x, a, s=10, color=POSITIVE_COLOR, alpha=0.7, linewidths=0)
    else:
        c = index(color_by)
        sc = ax.scatter(x, a, s=10, c=result.data[:, c], cmap=CMAP, linewidths=0)
        cb = fig.colorbar(sc, ax=ax, pad=0.01)
        cb.set_label(_var_label(names[c], units))
    ax.axhline(0.0, color=NEUTRAL_COLOR, lw=0.8, zorder=0)
    ax.set_xlabel(_var_label(names[j], units))
    ax.set_ylabel(_output_label(result, k, output_unit))
    ax.set_title(f"{result.method.replace('_', ' ')} of {names[j]}")
    return fig
