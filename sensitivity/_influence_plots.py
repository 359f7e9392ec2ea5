"""Figures of :mod:`sensitivity.influence`: the most helpful and harmful training rows for a
test row, and self-influence against training loss."""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd

__all__ = ["plot_influence", "plot_self_influence"]


def _test_label(labels: pd.Index, test):
    """The label of the test row ``test``: a label, else an integer position among them."""
    if test is None:
        return labels[0]
    try:
        found = test in labels
    except TypeError:  # unhashable
        found = False
    if found:
        return test
    if (
        isinstance(test, Integral)
        and not isinstance(test, bool)
        and -len(labels) <= test < len(labels)
    ):
        return labels[int(test)]
    shown = ", ".join(repr(v) for v in labels[:5]) + (", ..." if len(labels) > 5 else "")
    raise ValueError(
        f"Test row {test!r} is not in the frame: it is neither one of its {len(labels)} test "
        f"row labels ({shown}) nor a position 0 to {len(labels) - 1} among them."
    )


def plot_influence(frame: pd.DataFrame, *, test=None, n: int = 10, ax=None):
    """Horizontal bars: the ``n`` most helpful and ``n`` most harmful training rows for one
    test row, by their predicted leave-one-out change (``loo_change``).

    Parameters
    ----------
    frame : DataFrame
        The output of :meth:`SampleInfluence.influence`.
    test : label or int, optional
        The test row: a label of the frame's ``test`` level, or else an integer position
        among its test rows (``test=0``: the first, ``-1``: the last; default: the first).
    n : int
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    test = _test_label(frame.index.get_level_values("test").unique(), test)
    block = frame.xs(test, level="test")
    loss_target = set(block["effect"].astype(str)) <= {"helpful", "harmful"}
    pos_label, neg_label = ("helpful", "harmful") if loss_target else ("lowers", "raises")
    pos = block[block["loo_change"] > 0].nlargest(n, "loo_change")
    neg = block[block["loo_change"] < 0].nsmallest(n, "loo_change")
    rows = pd.concat([neg.iloc[::-1], pos.iloc[::-1]]) if len(neg) else pos.iloc[::-1]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.3 * max(len(rows), 4) + 1.2))
    else:
        fig = ax.figure
    y = np.arange(len(rows))
    vals = rows["loo_change"].to_numpy()
    is_pos = vals > 0
    ax.barh(y[is_pos], vals[is_pos], color="0.25", edgecolor="black", label=pos_label)
    ax.barh(
        y[~is_pos], vals[~is_pos], color="white", edgecolor="black", hatch="///", label=neg_label
    )
    ax.set_yticks(y, [str(i) for i in rows.index])
    ax.axvline(0.0, color="black", linewidth=0.8)
    what = "test loss" if loss_target else "prediction"
    ax.set_xlabel(f"predicted change of the {what} if the row is left out")
    ax.set_ylabel("training row")
    ax.set_title(f"Most influential training rows for test row {test}")
    ax.legend(loc="best", frameon=False)
    fig.tight_layout()
    return fig


def plot_self_influence(
    frame: pd.DataFrame, *, highlight=None, highlight_label: str = "highlighted", ax=None
):
    """Scatter of each training row's self-influence against its training loss.

    Parameters
    ----------
    frame : DataFrame
        ``SampleInfluence.self_influence_``.
    highlight : array-like of labels or bool mask (in ``frame``'s row order), optional
        Rows drawn as black crosses (e.g. known mislabelled rows).
    highlight_label : str
        Legend entry of the highlighted rows.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
    else:
        fig = ax.figure
    mask = np.zeros(len(frame), dtype=bool)
    if highlight is not None:
        h = np.asarray(highlight)
        mask = h.astype(bool) if h.dtype == bool else np.asarray(frame.index.isin(h))
        if mask.shape != (len(frame),):
            raise ValueError("highlight must be labels of the frame or a mask of its length.")
    x, y = frame["loss"].to_numpy(), frame["self_influence"].to_numpy()
    ax.scatter(x[~mask], y[~mask], s=14, facecolors="none", edgecolors="0.35", label="rows")
    if mask.any():
        ax.scatter(x[mask], y[mask], s=28, marker="x", color="black", label=highlight_label)
        ax.legend(loc="best", frameon=False)
    ax.set_xlabel("training loss of the row")
    ax.set_ylabel(r"self-influence $\nabla\ell_i^\top H^{-1}\nabla\ell_i$")
    ax.set_title("Self-influence of the training rows")
    fig.tight_layout()
    return fig
