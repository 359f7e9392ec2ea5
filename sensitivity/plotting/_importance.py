"""Ranked bar chart of an importance table, and the null distribution of a randomization test."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from ..result import significance_stars
from ._common import (
    NEGATIVE_COLOR,
    NEUTRAL_COLOR,
    PLOT_CODES,
    POSITIVE_COLOR,
    SIGNIFICANCE_LEGEND_PLOT,
    _frame_and_result,
    _grid,
    _plt,
    _scale,
)


def plot_importance(
    data,
    *,
    output: str | None = None,
    ax=None,
    relative: bool = False,
    show_ci: bool = True,
    show_significance: bool = True,
    positive_color: str = POSITIVE_COLOR,
    negative_color: str = NEGATIVE_COLOR,
    color: str = NEUTRAL_COLOR,
    title: str | None = None,
    ylabel: str | None = None,
    legend: bool = True,
):
    """Ranked bar chart of a sensitivity table.

    Bars are ordered by rank. A signed statistic (Olden, MIV, mean derivative) is drawn with
    its sign, negative bars hatched as well as coloured (readable in grayscale); a magnitude
    with a direction (Dimopoulos' ``ssd``) is drawn in one colour with the direction in the
    tick label, ``bmi (+)``, since a coloured magnitude looks negative. Intervals
    (``ci_low``, ``ci_high``) are error bars labelled with their level and kind (the result's
    :attr:`~sensitivity.result.SensitivityResult.interval_label`), and variables get the
    codes of their adjusted p-value (``***`` p <= 0.001, ``**`` p <= 0.01, ``*`` p <= 0.05,
    ``†`` p <= 0.1). A legend explains colours, hatching, intervals and codes. Values beyond
    1e4 or below 1e-3 are shown divided by a power of ten named in the axis label.

    Parameters
    ----------
    data : pandas.DataFrame or SensitivityResult
        A ranked table (``importances_`` of an estimator, or a plain function's result), or
        the estimator's ``results_`` (its null, test and settings then label the figure; a
        test of the global null, ``null="response"``, gives its one p-value in the title and
        no per-variable codes).
    output : str, optional
        For multi-output tables, the output to draw; by default one panel per output.
    ax : matplotlib.axes.Axes, optional
        Where to draw (single output only).
    relative : bool, default=False
        Draw ``relative_importance`` (in %) instead of ``importance`` (intervals omitted).
    show_ci, show_significance : bool, default=True
    positive_color, negative_color, color : str
        Colours of positive, negative and unsigned bars.
    title : str, optional
        Default: the method's name (``frame.attrs["method"]``).
    ylabel : str, optional
        Default: "<method> importance" and, for signed statistics, "(signed)".
    legend : bool, default=True

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (``ax.figure`` when ``ax`` is given); one panel per output for a
        multi-output table drawn without ``output``. Every plotting function of this module
        returns the Figure.
    """
    frame, result = _frame_and_result(data)
    if isinstance(frame.index, pd.MultiIndex) and output is None:
        if ax is not None:
            raise ValueError(
                f"The table has several outputs {_outputs(frame)}; pass output= to draw one on ax."
            )
        settings = {
            "relative": relative,
            "show_ci": show_ci,
            "show_significance": show_significance,
            "positive_color": positive_color,
            "negative_color": negative_color,
            "color": color,
            "ylabel": ylabel,
        }
        return _plot_each_output(data, frame, title, legend, settings)
    block = _output_block(frame, output)
    method = str(block.attrs.get("method", "") or (result.method if result else ""))
    signed = _is_signed(block, result)
    has_direction = "direction" in block.columns
    two_colours = has_direction and signed and not relative
    if relative:
        values, power = 100 * block["relative_importance"].to_numpy(dtype=float), 0
    else:
        values = block["importance"].to_numpy(dtype=float)
        power = _scale(
            np.r_[values, block["ci_low"].to_numpy(float), block["ci_high"].to_numpy(float)]
        )
    factor = 10.0**power
    values = values / factor
    if ax is None:
        _, ax = _plt().subplots(
            figsize=(max(4.5, 0.6 * len(values) + 3.0), 3.8), layout="constrained"
        )
    x = np.arange(len(values))
    handles = _draw_bars(
        ax, x, values, two_colours, has_direction, (positive_color, negative_color, color)
    )
    top = values
    alpha = float(block.attrs.get("alpha", result.alpha if result else 0.05))
    if show_ci and not relative and block["ci_low"].notna().any():
        label = _interval_label(block, result, alpha)
        top = _draw_intervals(ax, x, values, block, factor, label, handles)
    per_variable = result is None or result.tested
    if show_significance and per_variable and block["p_value"].notna().any():
        _draw_codes(ax, x, values, top, block, handles)
    if np.any(values < 0):
        ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(
        _tick_labels(block, has_direction and not two_colours), rotation=45, ha="right"
    )
    if ylabel is None:
        ylabel = _default_ylabel(method, relative, signed and has_direction)
    if power:
        ylabel += f" (×10$^{{{power}}}$)"
    ax.set_ylabel(ylabel)
    head = title if title is not None else method
    if result is not None and result.null == "response" and result.global_test:
        head = f"{head}\nglobal test: p = {float(result.global_test['p_value']):.3g}".strip()
    ax.set_title(head)
    if legend and handles:
        _side_legend(ax, handles)
    return ax.figure


def _side_legend(ax, handles: list) -> None:
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=8,
        handlelength=1.5,
    )


def _plot_each_output(data, frame: pd.DataFrame, title, legend: bool, settings: dict):
    """One panel per output of a multi-output table (the legend on the last one)."""
    outputs = _outputs(frame)
    fig, axes = _grid(len(outputs), None, panel_size=(5.0, 3.6))
    for k, (out, a) in enumerate(zip(outputs, axes, strict=True)):
        plot_importance(
            data,
            output=out,
            ax=a,
            title=f"{title or frame.attrs.get('method', '')} - {out}".strip(" -"),
            legend=legend and k == len(outputs) - 1,
            **settings,
        )
    return fig


def _tick_labels(block: pd.DataFrame, with_direction: bool) -> list[str]:
    """Variable names, with the sign of the effect, ``bmi (+)``, for one-colour bars."""
    labels = [str(v) for v in block.index]
    if not with_direction:
        return labels
    return [
        f"{lab} ({'−' if d == '-' else d})"
        for lab, d in zip(labels, block["direction"], strict=True)
    ]


def _default_ylabel(method: str, relative: bool, signed: bool) -> str:
    if relative:
        return "share of |importance| (%)"
    base = f"{method} importance".strip() if method else "importance"
    return base + (" (signed)" if signed else "")


def _outputs(frame: pd.DataFrame) -> list:
    return list(frame.index.get_level_values(0).unique())


def _output_block(frame: pd.DataFrame, output) -> pd.DataFrame:
    """The rows of one output (all rows of a single-output table), sorted by rank."""
    if isinstance(frame.index, pd.MultiIndex):
        outputs = _outputs(frame)
        if output not in outputs:
            raise ValueError(f"Unknown output {output!r}; the table has outputs {outputs}.")
        block = frame.xs(output, level=0)
        block.attrs = dict(frame.attrs)
    else:
        if output is not None:
            raise ValueError("output= is only for tables with several outputs.")
        block = frame
    return block.sort_values("rank", kind="stable")


def _is_signed(block: pd.DataFrame, result) -> bool:
    """Whether the statistic is signed: the result says so; a bare table is signed if it has a
    direction that every value's sign agrees with."""
    if result is not None:
        return bool(result.signed)
    if "direction" not in block.columns:
        return False
    direction = block["direction"].map({"+": 1, "-": -1, "0": 0})
    return bool(np.all(np.sign(block["importance"]) == direction))


def _draw_bars(ax, x, values, two_colours: bool, has_direction: bool, colours) -> list:
    """Bars (negative ones hatched when signed); returns the legend handles they need."""
    from matplotlib.patches import Patch

    positive_color, negative_color, color = colours
    if two_colours:
        colors = [negative_color if v < 0 else positive_color for v in values]
        hatches = ["////" if v < 0 else "" for v in values]
    else:
        colors, hatches = [color] * len(values), [""] * len(values)
    bars = ax.bar(x, values, color=colors, edgecolor="black", linewidth=0.6)
    for bar, h in zip(bars, hatches, strict=True):
        bar.set_hatch(h)
    if two_colours:
        return [
            Patch(facecolor=positive_color, edgecolor="black", label="positive effect"),
            Patch(
                facecolor=negative_color, edgecolor="black", hatch="////", label="negative effect"
            ),
        ]
    if has_direction:
        return [Patch(visible=False, label="(+)/(−): sign of the mean effect")]
    return []


def _interval_label(block: pd.DataFrame, result, alpha: float) -> str:
    """The legend of the error bars: the result's :attr:`interval_label` (what the summary
    and the tables say), else the kind a bare table names in ``attrs["interval"]``."""
    if result is not None and result.interval_label:
        label = result.interval_label
    else:
        label = f"{100 * (1 - alpha):g}% {block.attrs.get('interval', 'bootstrap interval')}"
    return textwrap.fill(label, 28)


def _draw_intervals(ax, x, values, block, factor: float, label: str, handles: list):
    """Intervals (``ci_low``, ``ci_high``) as error bars labelled ``label``; returns the top of
    each bar or interval."""
    lo = block["ci_low"].to_numpy(dtype=float) / factor
    hi = block["ci_high"].to_numpy(dtype=float) / factor
    yerr = np.vstack([np.clip(values - lo, 0, None), np.clip(hi - values, 0, None)])
    yerr = np.nan_to_num(yerr)
    eb = ax.errorbar(x, values, yerr=yerr, fmt="none", ecolor="black", capsize=3, lw=1)
    eb.set_label(label)
    handles.append(eb)
    top = np.where(values >= 0, np.fmax(values, np.nan_to_num(hi, nan=-np.inf)), values)
    return np.where(values < 0, np.fmin(values, np.nan_to_num(lo, nan=np.inf)), top)


def _draw_codes(ax, x, values, top, block, handles: list) -> None:
    """Significance codes of the adjusted p-values above (below) each bar."""
    from matplotlib.patches import Patch

    p = block["p_adjusted"].where(block["p_adjusted"].notna(), block["p_value"])
    stars = significance_stars(p.to_numpy(dtype=float))
    marks = []
    if "note" in block:  # the held-out test: untested variables and unreliable p-values
        untested = block["p_value"].isna().to_numpy() & (block["note"] != "").to_numpy()
        unreliable = block["p_value"].notna().to_numpy() & ~block["reliable"].to_numpy(bool)
        stars = np.where(untested, "n.t.", np.where(unreliable, "?", stars))
        marks = [m for m, hit in (("n.t.", untested), ("?", unreliable)) if hit.any()]
    span = float(np.nanmax(np.abs(np.r_[top, values]))) or 1.0
    for xi, yi, s in zip(x, top, stars, strict=True):
        if s:
            offset = 0.03 * span * (1 if yi >= 0 else -1)
            ax.text(
                xi,
                yi + offset,
                PLOT_CODES.get(s, s),
                ha="center",
                va="bottom" if yi >= 0 else "top",
                fontsize=11,
                fontweight="bold",
                gid="significance",
            )
    label = SIGNIFICANCE_LEGEND_PLOT
    if "n.t." in marks:
        label += ",\nn.t. not tested (see the table's note)"
    if "?" in marks:
        label += ",\n? p-value unreliable\n(conditional model failed its check)"
    handles.append(Patch(visible=False, label=label))
    ax.margins(y=0.15)


def _test_title(variable, default: str, p_value, p_adjusted) -> str:
    """A test panel's title: the variable (or ``default``), then its p-value and adjusted one."""
    title = default if variable is None else str(variable)
    if p_value is not None and np.isfinite(p_value):
        title += f"\np = {p_value:.3g}"
        if p_adjusted is not None and np.isfinite(p_adjusted):
            title += f" (adjusted {p_adjusted:.3g})"
    return title


def plot_null_distribution(
    null,
    observed: float,
    *,
    ax=None,
    variable: str | None = None,
    two_sided: bool = False,
    p_value: float | None = None,
    p_adjusted: float | None = None,
    statistic: str = "statistic",
    bins: int | str = 30,
    color: str = NEUTRAL_COLOR,
    observed_color: str = NEGATIVE_COLOR,
):
    """Histogram of a randomization-test null distribution with the observed statistic.

    Olden & Jackson (2002, Fig. 3): the statistic of networks trained under the null, and the
    value of the network trained on the real data as a vertical line labelled "observed"
    (``-observed`` dashed for a two-sided test). Null values that are not finite (networks
    whose statistic is undefined, e.g. Garson's share for a network with all weights decayed
    to zero) are left out and counted in the title.

    Parameters
    ----------
    null : array-like of shape (n_permutations,)
        Null values of one variable's statistic.
    observed : float
        The observed statistic.
    ax : matplotlib.axes.Axes, optional
    variable : str, optional
        Used in the title.
    two_sided : bool, default=False
        Also mark ``-observed`` (a two-sided test on ``|statistic|``).
    p_value, p_adjusted : float, optional
        Written in the title (the adjusted one decides the stars of the tables).
    statistic : str, default="statistic"
        Name of the statistic, for the x label.
    bins : int or str, default=30
    color, observed_color : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    values = np.asarray(null, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"null must be a non-empty 1-D array (one value per permutation); got shape "
            f"{values.shape}."
        )
    finite = np.isfinite(values)
    if not finite.any():
        raise ValueError("null contains no finite value (every null statistic is NaN or inf).")
    obs = float(np.asarray(observed, dtype=np.float64))
    if not np.isfinite(obs):
        raise ValueError(f"observed must be a finite number; got {observed!r}.")
    if ax is None:
        _, ax = _plt().subplots(figsize=(5, 3.5), layout="constrained")
    kept = values[finite]
    ax.hist(
        kept,
        bins=bins,
        color=color,
        edgecolor=color,
        histtype="stepfilled",
        alpha=0.6,
        label=f"null ({kept.size} networks)",
    )
    ax.axvline(obs, color=observed_color, lw=2, label="observed")
    if two_sided and obs != 0:
        ax.axvline(-obs, color=observed_color, lw=1.5, ls="--", label="-observed")
    right = obs >= np.median(kept)
    ax.annotate(
        "observed",
        xy=(obs, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-3 if right else 3, -3),
        textcoords="offset points",
        ha="right" if right else "left",
        va="top",
        fontsize=8,
        color=observed_color,
        gid="observed",
    )
    ax.set_xlabel(f"{statistic} (null networks)" if statistic != "statistic" else "statistic")
    ax.set_ylabel("networks")
    ax.set_title(_test_title(variable, "Null distribution", p_value, p_adjusted), fontsize=10)
    n_bad = int((~finite).sum())
    if n_bad:
        ax.text(
            0.99,
            0.80,
            f"{n_bad} undefined\nnull value(s) left out",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7,
            gid="undefined",
        )
    return ax.figure


def plot_heldout_draws(
    increases,
    *,
    ax=None,
    variable: str | None = None,
    p_value: float | None = None,
    p_adjusted: float | None = None,
    bins: int | str = 30,
    color: str = NEUTRAL_COLOR,
    line_color: str = NEGATIVE_COLOR,
):
    """Histogram of the held-out conditional test's draws of one variable.

    Each value is a draw's held-out loss increase :math:`(T_b - T)/m`: the mean loss over the
    ``m`` held-out rows with :math:`x_j` replaced by draw ``b`` of its conditional model,
    minus the mean loss with the real :math:`x_j`. The solid line at 0 is the real column;
    the holdout randomization test's p-value is the share of draws at or left of it,
    :math:`(1 + \\#\\{b: T_b \\le T\\}) / (1 + B)` (Tansey et al. 2022). The dashed line is
    their mean, the table's ``loss_increase``.

    Parameters
    ----------
    increases : array-like of shape (n_draws,)
        Per-draw loss increases (``estimator.null_distribution_[:, j]`` with ``null="holdout"``).
    ax : matplotlib.axes.Axes, optional
    variable : str, optional
        Used in the title.
    p_value, p_adjusted : float, optional
        Written in the title.
    bins : int or str, default=30
    color, line_color : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    values = np.asarray(increases, dtype=np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(
            f"increases must be a non-empty 1-D array of finite values; got shape {values.shape}."
        )
    if ax is None:
        _, ax = _plt().subplots(figsize=(5, 3.5), layout="constrained")
    ax.hist(
        values,
        bins=bins,
        color=color,
        edgecolor=color,
        histtype="stepfilled",
        alpha=0.6,
        label=f"{values.size} conditional draws",
    )
    ax.axvline(0.0, color=line_color, lw=2, label="real column (0)")
    mean = float(values.mean())
    ax.axvline(mean, color="black", lw=1.2, ls="--", label=f"loss_increase = {mean:.3g}")
    ax.set_xlabel("held-out loss increase of a draw")
    ax.set_ylabel("draws")
    ax.set_title(_test_title(variable, "Held-out test", p_value, p_adjusted), fontsize=10)
    ax.legend(fontsize=7, framealpha=0.85, loc="best")
    return ax.figure
