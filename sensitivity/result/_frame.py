"""The ranked importance table (``docs/architecture.rst``; :func:`importance_frame`).

One row per input variable (per output, when there are several), sorted by rank, with the
columns ``importance, relative_importance, rank, p_value, p_adjusted, significant, ci_low,
ci_high`` always present, plus ``direction`` where the method gives a sign and any extra
statistics a method reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .._warnings import warn

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
        ``rank`` 1 is the largest ``|importance|`` (ties share the smallest rank). A NaN
        importance (a variable a test could not measure; the caller says why) ranks last.
    """
    feature_names = [str(f) for f in feature_names]
    output_names = [str(o) for o in output_names]
    shape = (len(output_names), len(feature_names))
    imp = _as_2d(importance, shape, "importance")
    if np.isinf(imp).any() or np.isnan(imp).all():
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

    mag = np.abs(imp)  # NaN (a variable a test could not measure) ranks last
    totals = np.nansum(mag, axis=1, keepdims=True)
    if np.any(totals == 0):
        zero = [output_names[i] for i in np.flatnonzero(totals[:, 0] == 0)]
        warn(
            f"All importances are zero for output(s) {zero}; relative importance is undefined "
            "there (NaN).",
            RuntimeWarning,
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(totals > 0, mag / np.where(totals > 0, totals, 1.0), np.nan)

    blocks = []
    for k, out in enumerate(output_names):
        ranks = rankdata(np.nan_to_num(-mag[k], nan=np.inf), method="min").astype(int)
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
