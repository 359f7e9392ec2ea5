"""Figures for sensitivity analyses (matplotlib).

Every function draws on a new figure unless given an ``ax`` and returns what it drew on:

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

References
----------
Beck, M. W. (2018). NeuralNetTools: visualization and analysis tools for neural networks.
Journal of Statistical Software 85(11).
Olden, J. D. & Jackson, D. A. (2002). Illuminating the "black box": a randomization approach
for understanding variable contributions in artificial neural networks. Ecol. Model. 154.
Lek, S. et al. (1996). Application of neural networks to modelling nonlinear relationships in
ecology. Ecol. Model. 90.
Dimopoulos, I., Chronopoulos, J., Chronopoulou-Sereli, A. & Lek, S. (1999). Neural network
models to study relationships between lead concentration in grasses and permanent urban
descriptors in Athens city (Greece). Ecol. Model. 120.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .result import significance_stars

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

POSITIVE_COLOR = "#2166ac"
"""Colour of positive effects / weights (blue)."""
NEGATIVE_COLOR = "#b2182b"
"""Colour of negative effects / weights (red)."""
NEUTRAL_COLOR = "#636363"
"""Colour of unsigned statistics."""


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
        constrained_layout=True,
    )
    flat = axes.ravel()
    for ax in flat[n_panels:]:
        ax.set_visible(False)
    return fig, flat[:n_panels]


# ---------------------------------------------------------------------- importance bars
def plot_importance(
    frame: pd.DataFrame,
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
):
    """Ranked bar chart of a sensitivity table.

    Bars are ordered by rank. For signed methods (a ``direction`` column) they are coloured by
    sign; bootstrap intervals (``ci_low``, ``ci_high``) are drawn as error bars and significant
    variables get stars (from ``p_adjusted``: ``***`` < 0.001, ``**`` < 0.01, ``*`` < 0.05,
    ``.`` < 0.1).

    Parameters
    ----------
    frame : pandas.DataFrame
        A ranked table (``importances_`` of an estimator, or a plain function's result).
    output : str, optional
        For multi-output tables, the output to draw; by default one panel per output.
    ax : matplotlib.axes.Axes, optional
        Where to draw (single output only).
    relative : bool, default=False
        Draw ``relative_importance`` instead of ``importance`` (intervals are then omitted).
    show_ci, show_significance : bool, default=True
    positive_color, negative_color, color : str
        Colours of positive, negative and unsigned bars.
    title : str, optional
        Default: the method's name (``frame.attrs["method"]``).

    Returns
    -------
    matplotlib.axes.Axes, or numpy.ndarray of Axes (one per output) for a multi-output table
    drawn without ``output``.
    """
    if not isinstance(frame, pd.DataFrame) or "importance" not in frame.columns:
        raise TypeError("plot_importance needs the ranked DataFrame of a sensitivity analysis.")
    if isinstance(frame.index, pd.MultiIndex):
        outputs = list(frame.index.get_level_values(0).unique())
        if output is None:
            if ax is not None:
                raise ValueError(
                    f"The table has several outputs {outputs}; pass output= to draw one on ax."
                )
            _, axes = _grid(len(outputs), None, panel_size=(4.5, 3.2))
            for out, a in zip(outputs, axes, strict=True):
                plot_importance(
                    frame,
                    output=out,
                    ax=a,
                    relative=relative,
                    show_ci=show_ci,
                    show_significance=show_significance,
                    positive_color=positive_color,
                    negative_color=negative_color,
                    color=color,
                    title=f"{title or frame.attrs.get('method', '')} - {out}".strip(" -"),
                )
            return axes
        if output not in outputs:
            raise ValueError(f"Unknown output {output!r}; the table has outputs {outputs}.")
        block = frame.xs(output, level=0)
        block.attrs = dict(frame.attrs)
    else:
        if output is not None:
            raise ValueError("output= is only for tables with several outputs.")
        block = frame
    block = block.sort_values("rank", kind="stable")
    column = "relative_importance" if relative else "importance"
    values = block[column].to_numpy(dtype=float)
    if "direction" in block.columns:
        colors = [
            positive_color if d == "+" else negative_color if d == "-" else color
            for d in block["direction"]
        ]
        if relative:  # relative importance is a magnitude: show the sign by colour only
            values = np.abs(values)
    else:
        colors = [color] * len(values)
    if ax is None:
        _, ax = _plt().subplots(figsize=(max(4.0, 0.6 * len(values) + 1.5), 3.5))
    x = np.arange(len(values))
    ax.bar(x, values, color=colors, edgecolor="black", linewidth=0.5)
    top = values.copy()
    if show_ci and not relative and block["ci_low"].notna().any():
        lo = block["ci_low"].to_numpy(dtype=float)
        hi = block["ci_high"].to_numpy(dtype=float)
        yerr = np.vstack([np.clip(values - lo, 0, None), np.clip(hi - values, 0, None)])
        yerr = np.nan_to_num(yerr)
        ax.errorbar(x, values, yerr=yerr, fmt="none", ecolor="black", capsize=3, lw=1)
        top = np.where(values >= 0, np.fmax(values, np.nan_to_num(hi, nan=-np.inf)), values)
        top = np.where(values < 0, np.fmin(values, np.nan_to_num(lo, nan=np.inf)), top)
    if show_significance and block["p_value"].notna().any():
        p = block["p_adjusted"].where(block["p_adjusted"].notna(), block["p_value"])
        stars = significance_stars(p.to_numpy(dtype=float))
        span = float(np.nanmax(np.abs(np.r_[top, values]))) or 1.0
        for xi, yi, s in zip(x, top, stars, strict=True):
            if s:
                offset = 0.03 * span * (1 if yi >= 0 else -1)
                ax.text(
                    xi,
                    yi + offset,
                    s,
                    ha="center",
                    va="bottom" if yi >= 0 else "top",
                    fontsize=11,
                    gid="significance",
                )
        ax.margins(y=0.15)
    if np.any(values < 0):
        ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([str(v) for v in block.index], rotation=45, ha="right")
    ax.set_ylabel("relative importance" if relative else "importance")
    ax.set_title(title if title is not None else str(block.attrs.get("method", "")))
    return ax


# ---------------------------------------------------------------------- null distribution
def plot_null_distribution(
    null,
    observed: float,
    *,
    ax=None,
    variable: str | None = None,
    two_sided: bool = False,
    p_value: float | None = None,
    bins: int | str = 30,
    color: str = NEUTRAL_COLOR,
    observed_color: str = NEGATIVE_COLOR,
):
    """Histogram of a randomization-test null distribution with the observed statistic.

    Olden & Jackson (2002, Fig. 3): the statistic of networks trained on permuted responses,
    and the value of the network trained on the real data as a vertical line.

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
    p_value : float, optional
        Written in the legend.
    bins : int or str, default=30
    color, observed_color : str

    Returns
    -------
    matplotlib.axes.Axes
    """
    values = np.asarray(null, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(
            f"null must be a non-empty 1-D array (one value per permutation); got shape "
            f"{values.shape}."
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("null contains NaN or infinite values.")
    obs = float(np.asarray(observed, dtype=np.float64))
    if not np.isfinite(obs):
        raise ValueError(f"observed must be a finite number; got {observed!r}.")
    if ax is None:
        _, ax = _plt().subplots(figsize=(5, 3.5))
    ax.hist(values, bins=bins, color=color, edgecolor="white", label="null (permuted)")
    label = f"observed = {obs:.4g}"
    if p_value is not None:
        label += f" (p = {p_value:.3g})"
    ax.axvline(obs, color=observed_color, lw=2, label=label)
    if two_sided and obs != 0:
        ax.axvline(-obs, color=observed_color, lw=1.5, ls="--", label="-observed")
    ax.set_xlabel("statistic")
    ax.set_ylabel("frequency")
    ax.set_title(f"Null distribution{'' if variable is None else f': {variable}'}")
    ax.legend(frameon=False, fontsize=8)
    return ax


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
    axes[0].set_ylabel(str(output))
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
    positive_color: str = POSITIVE_COLOR,
    negative_color: str = NEGATIVE_COLOR,
    max_width: float = 5.0,
    node_color: str = "#f0f0f0",
):
    """Network diagram: line width proportional to ``|weight|``, colour by sign.

    The neural interpretation diagram of Özesmi & Özesmi (1999) as drawn by NeuralNetTools'
    ``plotnet`` (Beck 2018): layers from left (inputs, labelled by variable) to right
    (outputs), bias nodes ``B1, B2, ...`` above, every connection a line whose width is
    ``max_width * |w| / max |w|``.

    Parameters
    ----------
    model : MLPBatch or fitted MLP
        Anything :func:`sensitivity.adapters.to_mlp_batch` accepts (a Pipeline with a
        ColumnTransformer is drawn on its encoded inputs).
    ax : matplotlib.axes.Axes, optional
    network : int, default=0
        Which network of a batch.
    show_bias : bool, default=True
    positive_color, negative_color : str
    max_width : float
        Line width of the largest absolute weight.
    node_color : str

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.collections`` holds one ``LineCollection`` per layer of connections (gid
        ``"weights"``) and one for the bias connections (gid ``"biases"``).
    """
    from matplotlib.collections import LineCollection

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
    biggest = max(float(np.max(np.abs(W))) for W in coefs)
    if show_bias:
        biggest = max(biggest, max(float(np.max(np.abs(b))) for b in intercepts))
    biggest = biggest or 1.0
    height = max(sizes)

    def ys(n: int) -> np.ndarray:
        return (n - 1) / 2 - np.arange(n, dtype=float)

    positions = [np.column_stack([np.full(n, float(i)), ys(n)]) for i, n in enumerate(sizes)]
    if ax is None:
        _, ax = _plt().subplots(figsize=(2.2 * len(sizes) + 1.5, 0.55 * height + 1.5))

    def lines(src: np.ndarray, dst: np.ndarray, W: np.ndarray, gid: str):
        segs, widths, colors = [], [], []
        for i in range(W.shape[0]):
            for j in range(W.shape[1]):
                segs.append([src[i], dst[j]])
                widths.append(max(0.15, max_width * abs(W[i, j]) / biggest))
                colors.append(positive_color if W[i, j] >= 0 else negative_color)
        lc = LineCollection(segs, linewidths=widths, colors=colors, zorder=1)
        lc.set_gid(gid)
        ax.add_collection(lc)
        return lc

    for layer, W in enumerate(coefs):
        lines(positions[layer], positions[layer + 1], W, "weights")
    top = (height - 1) / 2 + 1.0
    if show_bias:
        for layer, b in enumerate(intercepts):
            bpos = np.array([[layer + 0.5, top]])
            lc = lines(bpos, positions[layer + 1], b.reshape(1, -1), "biases")
            lc.set_linestyle("--")
            ax.scatter(*bpos.T, s=500, color=node_color, edgecolors="black", zorder=2)
            ax.text(*bpos[0], f"B{layer + 1}", ha="center", va="center", fontsize=8, zorder=3)
    for layer, pos in enumerate(positions):
        ax.scatter(pos[:, 0], pos[:, 1], s=500, color=node_color, edgecolors="black", zorder=2)
        if layer == 0:
            names, prefix = batch.feature_names, "I"
        elif layer == len(positions) - 1:
            names, prefix = batch.output_names, "O"
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
    return ax
