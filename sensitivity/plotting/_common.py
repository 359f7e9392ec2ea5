"""Colours, significance codes and the figure helpers shared by the plots."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..result import SensitivityResult

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
