r"""Lek's profile method (Lek et al. 1996), as in NeuralNetTools' ``lekprofile``.

Each input is swept over its observed range in ``steps`` equally spaced values while the other
inputs are held at the constants of one *group*; the groups are quantiles of every variable
(default: the 0, 20, 40, 60, 80 and 100 % quantiles), k-means cluster centres of the data, or
constants the user gives. The predictions along a sweep form a profile; one profile per
variable, group and output. Pure functions of a model and data: ``model`` is an
:class:`~sensitivity.network.MLPBatch` of ``B`` networks (one batched forward pass) or a
``ModelFunction`` (any fitted model; ``B = 1``).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans

from .._config import DEFAULT_MEMORY_BUDGET_MB
from ..network import MLPBatch
from ._data import check_data, replaced_column_predictions

__all__ = [
    "DEFAULT_QUANTILES",
    "LekProfiles",
    "lek_groups",
    "lek_importance",
    "lek_profiles",
    "profile_frame",
]

DEFAULT_QUANTILES = tuple(np.linspace(0.0, 1.0, 6))
"""Quantile probabilities of the default groups: 0, 0.2, ..., 1 (as R's seq(0, 1, by = 0.2))."""


@dataclass(frozen=True)
class LekProfiles:
    """The profiles of every variable under every group.

    Attributes
    ----------
    grid : ndarray of shape (n_features, steps)
        The values each variable is swept over (its observed range).
    constants : ndarray of shape (n_groups, n_features)
        The values the other variables are held at, one row per group.
    group_names : tuple of str
    predictions : ndarray of shape (B, n_features, n_groups, steps, n_outputs)
        ``predictions[b, i, g, s, k]``: output ``k`` of network ``b`` with variable ``i`` at
        ``grid[i, s]`` and the others at ``constants[g]``.
    feature_names, output_names : tuple of str
    """

    grid: np.ndarray
    constants: np.ndarray
    group_names: tuple[str, ...]
    predictions: np.ndarray
    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]


def lek_groups(
    X,
    groups=None,
    *,
    random_state=None,
    feature_names=None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The constant values of the groups.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
    groups : None, sequence of float, int, DataFrame or 2-D array
        * None or a 1-D sequence of probabilities in [0, 1]: the quantiles of each variable
          (R's type 7, numpy's default ``"linear"``); default 0, 0.2, ..., 1. Group names
          ``"0%", "20%", ...``.
        * an int ``k``: the centres of ``KMeans(n_clusters=k, n_init=10,
          random_state=random_state)`` fitted to ``X`` (as NeuralNetTools' ``kmeans``
          variant, whose centres depend on R's random seed). Names ``"1", ..., "k"``.
        * a DataFrame with a column per variable (names from its index) or a 2-D array
          ``(n_groups, n_features)`` (names ``"1", ...``): the constants themselves.
    random_state : int, RandomState or None
        For k-means only.
    feature_names : sequence of str, optional

    Returns
    -------
    constants : ndarray of shape (n_groups, n_features)
    group_names : tuple of str
    """
    Xa, names = check_data(X, feature_names=feature_names)
    p = Xa.shape[1]
    if groups is None:
        groups = DEFAULT_QUANTILES
    if isinstance(groups, pd.DataFrame):
        missing = [v for v in names if v not in groups.columns.astype(str)]
        if missing:
            raise ValueError(f"The groups DataFrame lacks column(s) {missing}.")
        frame = groups.copy()
        frame.columns = frame.columns.astype(str)
        consts, _ = check_data(frame[list(names)], allow_constant=True, min_rows=1)
        return consts, tuple(str(i) for i in groups.index)
    if isinstance(groups, numbers.Integral) and not isinstance(groups, bool):
        k = int(groups)
        n_distinct = np.unique(Xa, axis=0).shape[0]
        if not 1 <= k <= n_distinct:
            raise ValueError(
                f"groups={k} k-means clusters needs 1 <= k <= {n_distinct} (distinct rows of X)."
            )
        km = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(Xa)
        return km.cluster_centers_.astype(np.float64), tuple(str(g + 1) for g in range(k))
    arr = np.asarray(groups)
    if arr.ndim == 2:
        if arr.shape[1] != p:
            raise ValueError(f"groups has {arr.shape[1]} columns; X has {p}.")
        consts, _ = check_data(arr, allow_constant=True, min_rows=1)
        return consts, tuple(str(g + 1) for g in range(arr.shape[0]))
    if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iuf":
        raise ValueError(
            "groups must be quantile probabilities (a 1-D sequence in [0, 1]), an int (number "
            f"of k-means clusters), or a DataFrame / 2-D array of constants; got {groups!r}."
        )
    probs = arr.astype(np.float64)
    if not np.all((probs >= 0) & (probs <= 1)):
        raise ValueError(f"Quantile probabilities must lie in [0, 1]; got {probs.tolist()}.")
    consts = np.quantile(Xa, probs, axis=0)  # method="linear" = R's type 7
    return consts, tuple(f"{100 * q:g}%" for q in probs)


def lek_profiles(
    model,
    X,
    *,
    steps: int = 100,
    groups=None,
    random_state=None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
) -> LekProfiles:
    r"""Lek's profiles of every variable.

    For variable :math:`i`, group :math:`g` and step :math:`s = 0, \dots, S - 1`, the input
    row has :math:`x_i = \min x_i + s\,(\max x_i - \min x_i)/(S - 1)` and
    :math:`x_j = c_{gj}` for :math:`j \ne i` (:func:`lek_groups`); the profile is the model's
    prediction along :math:`s`. All ``n_features * n_groups * steps`` rows are predicted in
    batched calls for all networks at once. Equal to NeuralNetTools' ``lekprofile`` values
    (tested to 1e-10).

    Parameters
    ----------
    model : MLPBatch or ModelFunction
    X : array-like or DataFrame of shape (n_samples, n_features)
        Data giving the ranges (and the quantiles or clusters).
    steps : int, default=100
        Points per sweep (at least 2).
    groups : see :func:`lek_groups`
    random_state : int, RandomState or None
        For k-means groups.
    memory_budget_mb : float
        Memory budget in MiB of one chunk of rows (never changes the result).

    Returns
    -------
    LekProfiles

    References
    ----------
    Lek, S., Delacoste, M., Baran, P., Dimopoulos, I., Lauga, J. & Aulagnier, S. (1996).
    Application of neural networks to modelling nonlinear relationships in ecology.
    Ecological Modelling 90, 39-52.
    Beck, M. W. (2018). NeuralNetTools: visualization and analysis tools for neural networks.
    Journal of Statistical Software 85(11), 1-20.
    """
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps must be an integer >= 2; got {steps!r}.")
    n_features = model.n_features if isinstance(model, MLPBatch) else None
    fnames = getattr(model, "feature_names", None)
    Xa, names = check_data(X, n_features=n_features, feature_names=fnames)
    consts, group_names = lek_groups(Xa, groups, random_state=random_state, feature_names=names)
    if consts.shape[1] != Xa.shape[1]:  # pragma: no cover - guarded in lek_groups
        raise ValueError("groups do not match the columns of X.")
    p, G = Xa.shape[1], consts.shape[0]
    grid = np.linspace(Xa.min(axis=0), Xa.max(axis=0), steps, axis=1)  # (p, steps)
    base = np.repeat(consts, steps, axis=0)  # (G * steps, p): group-major, then step

    def values(c: np.ndarray, i: np.ndarray) -> np.ndarray:
        return grid[c, i % steps]

    pred = replaced_column_predictions(
        model, base, np.arange(p), values, memory_budget_mb=memory_budget_mb
    )  # (B, p, G * steps, n_out)
    pred = pred.reshape(pred.shape[0], p, G, steps, pred.shape[-1])
    return LekProfiles(
        grid=grid,
        constants=consts,
        group_names=group_names,
        predictions=pred,
        feature_names=names,
        output_names=tuple(model.output_names),
    )


def lek_importance(profiles: LekProfiles) -> tuple[np.ndarray, np.ndarray]:
    r"""Importance of each variable from its profiles: the range of the median profile.

    .. math::

        m_{ik}(s) = \operatorname{median}_g\, f_k(\text{row}_{i,g,s}), \qquad
        I_{ik} = \max_s m_{ik}(s) - \min_s m_{ik}(s)

    The range of the median profile (across groups) is the spread of the typical response
    over the variable's observed range; Lek et al. (1996) read importance from the profiles'
    amplitude and Gevrey et al. (2003) summarise them by the median. It is a magnitude (no
    sign); the ``direction`` returned beside it is :math:`m_{ik}(S-1) - m_{ik}(0)`, the change
    of the median profile from the variable's minimum to its maximum (its sign says whether
    the response rises or falls over the range; it can be near zero for non-monotone effects).

    Returns
    -------
    importance, direction : ndarray of shape (B, n_outputs, n_features)
    """
    med = np.median(profiles.predictions, axis=2)  # (B, p, steps, n_out)
    imp = med.max(axis=2) - med.min(axis=2)  # (B, p, n_out)
    direction = med[:, :, -1] - med[:, :, 0]
    return imp.transpose(0, 2, 1).copy(), direction.transpose(0, 2, 1).copy()


def profile_frame(profiles: LekProfiles, network: int = 0) -> pd.DataFrame:
    """The profiles of one network as a long DataFrame.

    Columns ``variable, group, x, output, prediction``; rows ordered by variable, group, step
    and output (NeuralNetTools' ``lekprofile(..., val_out = TRUE)`` layout for one output).
    """
    pred = profiles.predictions[network]  # (p, G, steps, n_out)
    p, G, S, K = pred.shape
    v, g, s, k = np.meshgrid(np.arange(p), np.arange(G), np.arange(S), np.arange(K), indexing="ij")
    v, g, s, k = v.ravel(), g.ravel(), s.ravel(), k.ravel()
    return pd.DataFrame(
        {
            "variable": np.asarray(profiles.feature_names, dtype=object)[v],
            "group": np.asarray(profiles.group_names, dtype=object)[g],
            "x": profiles.grid[v, s],
            "output": np.asarray(profiles.output_names, dtype=object)[k],
            "prediction": pred.ravel(),
        }
    )
