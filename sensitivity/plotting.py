"""Figures for sensitivity analyses (matplotlib).

Every function draws on a new figure (constrained layout) unless given an ``ax`` and returns
the :class:`matplotlib.figure.Figure` it drew on (``fig.axes`` holds the panels):

* :func:`plot_importance`: ranked bar chart with confidence intervals and significance marks,
  bars coloured by sign for signed methods (the style of NeuralNetTools' ``garson``/``olden``
  plots; Beck 2018).
* :func:`plot_null_distribution`: histogram of a randomization-test null distribution with the
  observed value (the figure of Olden & Jackson 2002).
* :func:`plot_lek_profiles`: Lek's profiles, one panel per variable (Lek et al. 1996).
* :func:`plot_derivatives`: partial derivative against input value, one panel per variable
  (Dimopoulos et al. 1995, 1999).
* :func:`plot_network`: the network diagram, line width by ``|weight|`` and colour by sign
  (NeuralNetTools' ``plotnet``; Özesmi & Özesmi 1999).

Signs are shown by hatching or line style as well as colour, and the two colours differ in
lightness, so that figures stay readable in grayscale. The module imports
:mod:`sensitivity.result` (never the reverse at import time).

References
----------
Beck, M. W. (2018). NeuralNetTools: visualization and analysis tools for neural networks.
Journal of Statistical Software 85(11).
Olden, J. D. & Jackson, D. A. (2002). Illuminating the "black box": a randomization approach
for understanding variable contributions in artificial neural networks. Ecol. Model. 154.
Lek, S. et al. (1996). Application of neural networks to modelling nonlinear relationships in
ecology. Ecol. Model. 90.
Özesmi, S. L. & Özesmi, U. (1999). An artificial neural network approach to spatial habitat
modelling with interspecific interaction. Ecol. Model. 116, 15-31.
Dimopoulos, Y., Bourret, P. & Lek, S. (1995). Use of some sensitivity criteria for choosing
networks with good generalization ability. Neural Process. Lett. 2, 1-4.
Dimopoulos, I., Chronopoulos, J., Chronopoulou-Sereli, A. & Lek, S. (1999). Neural network
models to study relationships between lead concentration in grasses and permanent urban
descriptors in Athens city (Greece). Ecol. Model. 120.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .result import SensitivityResult, significance_stars

__all__ = [
    "NEGATIVE_COLOR",
    "NEUTRAL_COLOR",
    "POSITIVE_COLOR",
    "plot_derivatives",
    "plot_importance",
    "plot_lek_profiles",
    "plot_network",
    "plot_null_distribution",
]

POSITIVE_COLOR = "#08519c"
"""Colour of positive effects / weights (dark blue; relative luminance 0.08)."""
NEGATIVE_COLOR = "#e08214"
"""Colour of negative effects / weights (orange; relative luminance 0.32: a lighter grey
than the positive colour in grayscale, and distinct for colour-blind readers)."""
NEUTRAL_COLOR = "#636363"
"""Colour of unsigned statistics."""


PLOT_CODES = {"***": "***", "**": "**", "*": "*", ".": "†"}
"""How the significance codes are drawn on figures ("." is invisible at figure size: †)."""

SIGNIFICANCE_LEGEND_PLOT = "adjusted p: *** ≤ 0.001, ** ≤ 0.01,\n* ≤ 0.05, † ≤ 0.1"


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _grid(n_panels: int, ncols: int | None, panel_size=(3.2, 2.6), sharey: bool = False):
    plt = _plt()
    ncols = min(n_panels, ncols or min(n_panels, 4))
    nrows = math.ceil(n_panels / ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(panel_size[0] * ncols, panel_size[1] * nrows),
        squeeze=False,
        sharey=sharey,
        layout="constrained",
    )
    flat = axes.ravel()
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


# ---------------------------------------------------------------------- importance bars
def _scale(values: np.ndarray) -> int:
    """Power of ten factored out of an axis (beyond 1e4 or below 1e-3, as in the tables)."""
    finite = np.abs(values[np.isfinite(values)])
    finite = finite[finite > 0]
    if finite.size == 0:
        return 0
    top = int(np.floor(np.log10(finite.max())))
    return top if (top >= 4 or top <= -3) else 0


def _frame_and_result(data):
    """(DataFrame, SensitivityResult or None) from a table or a result."""
    if isinstance(data, SensitivityResult):
        return data.importances, data
    if isinstance(data, pd.DataFrame) and "importance" in data.columns:
        return data, None
    raise TypeError(
        "plot_importance needs the ranked DataFrame of a sensitivity analysis (importances_) "
        "or its SensitivityResult (results_)."
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
    tick label, ``bmi (+)``, since a coloured magnitude looks negative. Bootstrap intervals
    (``ci_low``, ``ci_high``) are error bars labelled with their level, and variables get the
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
        outputs = _outputs(frame)
        fig, axes = _grid(len(outputs), None, panel_size=(5.0, 3.6))
        for k, (out, a) in enumerate(zip(outputs, axes, strict=True)):
            plot_importance(
                data,
                output=out,
                ax=a,
                relative=relative,
                show_ci=show_ci,
                show_significance=show_significance,
                positive_color=positive_color,
                negative_color=negative_color,
                color=color,
                title=f"{title or frame.attrs.get('method', '')} - {out}".strip(" -"),
                ylabel=ylabel,
                legend=legend and k == len(outputs) - 1,
            )
        return fig
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
        fig, ax = _plt().subplots(
            figsize=(max(4.5, 0.6 * len(values) + 3.0), 3.8), layout="constrained"
        )
    x = np.arange(len(values))
    handles = _draw_bars(
        ax, x, values, two_colours, has_direction, (positive_color, negative_color, color)
    )
    top = values
    alpha = float(block.attrs.get("alpha", result.alpha if result else 0.05))
    if show_ci and not relative and block["ci_low"].notna().any():
        top = _draw_intervals(ax, x, values, block, factor, alpha, handles)
    per_variable = result is None or result.tested
    if show_significance and per_variable and block["p_value"].notna().any():
        _draw_codes(ax, x, values, top, block, handles)
    if np.any(values < 0):
        ax.axhline(0, color="black", lw=0.8)
    labels = [str(v) for v in block.index]
    if has_direction and not two_colours:
        labels = [
            f"{lab} ({'−' if d == '-' else d})"
            for lab, d in zip(labels, block["direction"], strict=True)
        ]
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=45, ha="right")
    if ylabel is None:
        base = f"{method} importance".strip() if method else "importance"
        ylabel = (
            "share of |importance| (%)"
            if relative
            else base + (" (signed)" if signed and has_direction else "")
        )
    if power:
        ylabel += f" (×10$^{{{power}}}$)"
    ax.set_ylabel(ylabel)
    head = title if title is not None else method
    if result is not None and result.null == "response" and result.global_test:
        head = f"{head}\nglobal test: p = {float(result.global_test['p_value']):.3g}".strip()
    ax.set_title(head)
    if legend and handles:
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
            fontsize=8,
            handlelength=1.5,
        )
    return ax.figure


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


def _draw_intervals(ax, x, values, block, factor: float, alpha: float, handles: list):
    """Bootstrap intervals as error bars; returns the top of each bar or interval."""
    lo = block["ci_low"].to_numpy(dtype=float) / factor
    hi = block["ci_high"].to_numpy(dtype=float) / factor
    yerr = np.vstack([np.clip(values - lo, 0, None), np.clip(hi - values, 0, None)])
    yerr = np.nan_to_num(yerr)
    eb = ax.errorbar(x, values, yerr=yerr, fmt="none", ecolor="black", capsize=3, lw=1)
    eb.set_label(f"{100 * (1 - alpha):g}% bootstrap interval")
    handles.append(eb)
    top = np.where(values >= 0, np.fmax(values, np.nan_to_num(hi, nan=-np.inf)), values)
    return np.where(values < 0, np.fmin(values, np.nan_to_num(lo, nan=np.inf)), top)


def _draw_codes(ax, x, values, top, block, handles: list) -> None:
    """Significance codes of the adjusted p-values above (below) each bar."""
    from matplotlib.patches import Patch

    p = block["p_adjusted"].where(block["p_adjusted"].notna(), block["p_value"])
    stars = significance_stars(p.to_numpy(dtype=float))
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
    handles.append(Patch(visible=False, label=SIGNIFICANCE_LEGEND_PLOT))
    ax.margins(y=0.15)


# ---------------------------------------------------------------------- null distribution
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
    title = "Null distribution" if variable is None else str(variable)
    if p_value is not None and np.isfinite(p_value):
        title += f"\np = {p_value:.3g}"
        if p_adjusted is not None and np.isfinite(p_adjusted):
            title += f" (adjusted {p_adjusted:.3g})"
    ax.set_title(title, fontsize=10)
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


# ---------------------------------------------------------------------- Lek profiles
_LEK_COLUMNS = ("variable", "group", "x", "output", "prediction")


def plot_lek_profiles(
    profiles: pd.DataFrame,
    *,
    output: str | None = None,
    ncols: int | None = None,
    cmap: str = "viridis",
):
    """Lek's profiles: the prediction along each variable, others held at group values.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Long table with columns ``variable`` (the varied variable), ``group`` (the level at
        which the others are held, e.g. a quantile or a cluster), ``x`` (value of the varied
        variable), ``output`` and ``prediction``.
    output : str, optional
        Required when the table has several outputs.
    ncols : int, optional
        Panels per row (default up to 4).
    cmap : str
        Colormap for the groups.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per variable, one line per group.
    """
    if not isinstance(profiles, pd.DataFrame):
        raise TypeError("profiles must be a DataFrame with columns " + ", ".join(_LEK_COLUMNS))
    missing = [c for c in _LEK_COLUMNS if c not in profiles.columns]
    if missing:
        raise ValueError(f"profiles lacks column(s) {missing}; needs {list(_LEK_COLUMNS)}.")
    if profiles.empty:
        raise ValueError("profiles is empty.")
    outputs = list(pd.unique(profiles["output"]))
    if output is None:
        if len(outputs) > 1:
            raise ValueError(f"profiles has several outputs {outputs}; pass output=.")
        output = outputs[0]
    elif output not in outputs:
        raise ValueError(f"Unknown output {output!r}; profiles has outputs {outputs}.")
    data = profiles[profiles["output"] == output]
    variables = list(pd.unique(data["variable"]))
    groups = list(pd.unique(data["group"]))
    palette = _plt().get_cmap(cmap)
    colors = [palette(i / max(1, len(groups) - 1)) for i in range(len(groups))]
    fig, axes = _grid(len(variables), ncols, sharey=True)
    for var, ax in zip(variables, axes, strict=True):
        sub = data[data["variable"] == var]
        for g, c in zip(groups, colors, strict=True):
            line = sub[sub["group"] == g].sort_values("x")
            ax.plot(line["x"], line["prediction"], color=c, label=str(g))
        ax.set_xlabel(str(var))
    axes[0].set_ylabel(f"prediction: {output}")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, title="group", loc="outside right upper", frameon=False)
    fig.suptitle("Lek profiles")
    return fig


# ---------------------------------------------------------------------- derivatives
def plot_derivatives(
    X,
    derivatives,
    *,
    feature_names: Sequence[str] | None = None,
    output_name: str | None = None,
    ncols: int | None = None,
    color: str = POSITIVE_COLOR,
):
    """Partial derivative of the output against each input's value (Dimopoulos' plot).

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
        Input values (the user's units).
    derivatives : array-like of shape (n_samples, n_features)
        ``d output / d x_j`` at each sample.
    feature_names : sequence of str, optional
        Default: the DataFrame's columns, else ``x0, x1, ...``.
    output_name : str, optional
        Used in the y label.
    ncols : int, optional
    color : str

    Returns
    -------
    matplotlib.figure.Figure
        One panel per variable, a horizontal line at zero.
    """
    if feature_names is None and isinstance(X, pd.DataFrame):
        feature_names = [str(c) for c in X.columns]
    Xa = np.asarray(X, dtype=np.float64)
    D = np.asarray(derivatives, dtype=np.float64)
    if Xa.ndim != 2 or D.shape != Xa.shape:
        raise ValueError(
            f"X and derivatives must both be (n_samples, n_features); got {Xa.shape} and {D.shape}."
        )
    if not (np.all(np.isfinite(Xa)) and np.all(np.isfinite(D))):
        raise ValueError("X or derivatives contain NaN or infinite values.")
    p = Xa.shape[1]
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(p)]
    if len(names) != p:
        raise ValueError(f"{len(names)} feature names for {p} columns.")
    per_row = min(p, ncols or min(p, 4))
    fig, axes = _grid(p, per_row)
    ylabel = f"d {output_name or 'output'} / d x"
    for j, ax in enumerate(axes):
        ax.scatter(Xa[:, j], D[:, j], s=8, alpha=0.6, color=color, edgecolors="none")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel(names[j])
        if j % per_row == 0:
            ax.set_ylabel(ylabel)
    fig.suptitle("Partial derivatives")
    return fig


# ---------------------------------------------------------------------- network diagram
def plot_network(
    model,
    *,
    ax=None,
    network: int = 0,
    show_bias: bool = True,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    positive_color: str = POSITIVE_COLOR,
    negative_color: str = NEGATIVE_COLOR,
    max_width: float = 5.0,
    node_color: str = "#f0f0f0",
    legend: bool = True,
):
    """Network diagram: line width proportional to ``|weight|``, colour and style by sign.

    The neural interpretation diagram of Özesmi & Özesmi (1999) as drawn by NeuralNetTools'
    ``plotnet`` (Beck 2018): layers from left (inputs, labelled by variable) to right
    (outputs, labelled by target or class), bias nodes ``B1, B2, ...`` above, every connection
    a line whose width is ``max_width * |w| / max |w|`` with the maximum over the connection
    weights (a large bias, such as the output bias of an unstandardized target, does not make
    every weight a hairline: bias lines are capped at ``max_width``). Negative weights are
    dashed as well as coloured (readable in grayscale), bias connections dotted.

    Parameters
    ----------
    model : MLPBatch or fitted MLP
        Anything :func:`sensitivity.adapters.to_mlp_batch` accepts (a Pipeline with a
        ColumnTransformer is drawn on its encoded inputs).
    ax : matplotlib.axes.Axes, optional
    network : int, default=0
        Which network of a batch.
    show_bias : bool, default=True
    feature_names, output_names : sequence of str, optional
        Labels of the input and output nodes (default: those of the model; a torch module's
        inputs are otherwise ``x0, x1, ...``).
    positive_color, negative_color : str
    max_width : float
        Line width of the largest absolute weight.
    node_color : str
    legend : bool, default=True

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0].collections`` holds one ``LineCollection`` per layer of connections
        (gid ``"weights"``) and one for the bias connections (gid ``"biases"``).
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    from . import adapters
    from .network import MLPBatch

    if isinstance(model, MLPBatch):
        batch = model
    elif adapters.is_encoded_mlp_model(model):
        batch = adapters.to_encoded_mlp(model).batch
    else:
        batch = adapters.to_mlp_batch(model)
    if not 0 <= network < batch.batch_size:
        raise IndexError(f"network={network} but the batch holds {batch.batch_size} networks.")
    coefs, intercepts = batch.numpy_weights()
    coefs = [W[network] for W in coefs]
    intercepts = [b[network] for b in intercepts]
    sizes = list(batch.layer_sizes)
    in_names = list(batch.feature_names) if feature_names is None else list(feature_names)
    out_names = list(batch.output_names) if output_names is None else list(output_names)
    if len(in_names) != sizes[0]:
        raise ValueError(f"{len(in_names)} feature names for a network with {sizes[0]} inputs.")
    if len(out_names) != sizes[-1]:
        raise ValueError(f"{len(out_names)} output names for a network with {sizes[-1]} outputs.")
    biggest = max(float(np.max(np.abs(W))) for W in coefs) or 1.0
    height = max(sizes)

    def ys(n: int) -> np.ndarray:
        return (n - 1) / 2 - np.arange(n, dtype=float)

    positions = [np.column_stack([np.full(n, float(i)), ys(n)]) for i, n in enumerate(sizes)]
    if ax is None:
        _, ax = _plt().subplots(
            figsize=(2.2 * len(sizes) + 3.0, 0.55 * height + 1.5), layout="constrained"
        )

    def lines(src: np.ndarray, dst: np.ndarray, W: np.ndarray, gid: str, bias: bool = False):
        segs, widths, colors, styles = [], [], [], []
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                segs.append([src[i], dst[j]])
                widths.append(min(max_width, max(0.15, max_width * abs(W[i, j]) / biggest)))
                colors.append(positive_color if W[i, j] >= 0 else negative_color)
                styles.append(":" if bias else ("-" if W[i, j] >= 0 else "--"))
        lc = LineCollection(segs, linewidths=widths, colors=colors, linestyles=styles, zorder=1)
        lc.set_gid(gid)
        ax.add_collection(lc)
        return lc

    for layer, W in enumerate(coefs):
        lines(positions[layer], positions[layer + 1], W, "weights")
    top = (height - 1) / 2 + 1.0
    if show_bias:
        for layer, b in enumerate(intercepts):
            bpos = np.array([[layer + 0.5, top]])
            lines(bpos, positions[layer + 1], b.reshape(1, -1), "biases", bias=True)
            ax.scatter(*bpos.T, s=500, color=node_color, edgecolors="black", zorder=2)
            ax.text(*bpos[0], f"B{layer + 1}", ha="center", va="center", fontsize=8, zorder=3)
    for layer, pos in enumerate(positions):
        ax.scatter(pos[:, 0], pos[:, 1], s=500, color=node_color, edgecolors="black", zorder=2)
        if layer == 0:
            names, prefix = in_names, "I"
        elif layer == len(positions) - 1:
            names, prefix = out_names, "O"
        else:
            names, prefix = None, "H" if len(positions) == 3 else f"H{layer}."
        for k, (x, y) in enumerate(pos):
            ax.text(x, y, f"{prefix}{k + 1}", ha="center", va="center", fontsize=7, zorder=3)
            if names is not None:
                side = -0.25 if layer == 0 else 0.25
                ax.text(
                    x + side,
                    y,
                    str(names[k]),
                    ha="right" if layer == 0 else "left",
                    va="center",
                    fontsize=9,
                )
    ax.set_xlim(-1.3, len(sizes) - 1 + 1.3)
    ax.set_ylim(-(height - 1) / 2 - 0.8, top + 0.8)
    ax.set_axis_off()
    if legend:
        handles = [
            Line2D([], [], color=positive_color, lw=2, ls="-", label="positive weight"),
            Line2D([], [], color=negative_color, lw=2, ls="--", label="negative weight"),
        ]
        if show_bias:
            handles.append(Line2D([], [], color="black", lw=1.5, ls=":", label="bias"))
        handles.append(Line2D([], [], color="none", label=f"width ∝ |weight| (max {biggest:.3g})"))
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.0, 1.0),
            frameon=False,
            fontsize=8,
        )
    return ax.figure
