"""Lek's profiles and partial derivatives against the input values, one panel per variable."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._common import POSITIVE_COLOR, _grid, _plt

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
