"""Plain functions: the ranked importance table of an already fitted model, without inference
(``garson(model)``, ``olden(model)``, ``dimopoulos(model, X)``, ``miv(model, X)``, ...)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.utils import Bunch
from sklearn.utils.validation import check_array

from .. import adapters
from ..methods import _data as _pdata
from ..methods import derivatives as _derivatives
from ..methods import perturbation as _perturbation
from ..methods import profile as _profile
from ..methods import weights as _weights
from ..network import MLPBatch
from ..result import importance_frame
from ._base import group_encoded as _group_encoded
from .derivative import derivative_stats
from .prediction import level_names as _level_names
from .prediction import prediction_view as _prediction_view

__all__ = [
    "dimopoulos",
    "garson",
    "input_perturbation",
    "lekprofile",
    "miv",
    "olden",
    "permutation",
]


def _weight_view(model, feature_names):
    """``(batch, names, encoding)`` for the plain weight functions.

    For a Pipeline starting with a ColumnTransformer, ``batch`` is the network on the encoded
    columns and ``encoding`` maps them to the original variables (named by ``names``; see
    :func:`_group_encoded`); otherwise ``encoding`` is None and ``names`` the batch's names.
    """
    if adapters.is_encoded_mlp_model(model):
        enc = adapters.to_encoded_mlp(model, feature_names=feature_names)
        return enc.batch, enc.original_names, enc
    batch = adapters.to_mlp_batch(model, feature_names=feature_names)
    return batch, batch.feature_names, None


def _weight_frame(values: np.ndarray, batch: MLPBatch, names, *, signed: bool, method: str):
    return importance_frame(values[0], names, batch.output_names, signed=signed, method=method)


def garson(
    model, variant: str = "goh", *, feature_names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Garson's importance of a fitted single-hidden-layer MLP as a ranked DataFrame.

    Parameters
    ----------
    model : fitted MLP
        Anything :func:`sensitivity.adapters.to_mlp_batch` accepts.
    variant : {"goh", "gevrey"}
        See :func:`sensitivity.methods.weights.garson`.
    feature_names : sequence of str, optional

    Returns
    -------
    pandas.DataFrame
        The table of ``docs/architecture.rst`` without inference (p-values and intervals NaN).
    """
    batch, names, encoding = _weight_view(model, feature_names)
    values = _group_encoded(encoding, _weights.garson(batch, variant))
    return _weight_frame(values, batch, names, signed=False, method="Garson")


def olden(model, *, feature_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Olden's connection-weight importance of a fitted MLP as a ranked DataFrame.

    Parameters
    ----------
    model : fitted MLP
        Anything :func:`sensitivity.adapters.to_mlp_batch` accepts.
    feature_names : sequence of str, optional

    Returns
    -------
    pandas.DataFrame
        The table of ``docs/architecture.rst`` without inference, with a ``direction`` column.
    """
    batch, names, encoding = _weight_view(model, feature_names)
    values = _group_encoded(encoding, _weights.olden(batch), signed=True)
    return _weight_frame(values, batch, names, signed=True, method="Olden")


def _frame_names(X, feature_names):
    if isinstance(X, pd.DataFrame):
        return tuple(str(c) for c in X.columns)
    return None if feature_names is None else tuple(str(f) for f in feature_names)


def _single(view):
    if _pdata.batch_size(view) != 1:
        raise ValueError(
            "The plain functions analyse one model; got an MLPBatch of "
            f"{_pdata.batch_size(view)} networks (use sensitivity.methods for batches)."
        )
    return view


def _prediction_frame(values, view, names, *, signed, method, direction=None, extra=None):
    feature_names = names if names is not None else view.feature_names
    if feature_names is None:
        feature_names = tuple(f"x{i}" for i in range(values.shape[-1]))
    return importance_frame(
        values[0],
        feature_names,
        view.output_names,
        signed=signed,
        direction=None if direction is None else direction[0],
        extra=None if extra is None else {k: v[0] for k, v in extra.items()},
        method=method,
    )


def miv(
    model,
    X,
    *,
    delta: float = 0.1,
    perturbation: str = "multiplicative",
    feature_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean impact value of a fitted model as a ranked DataFrame (signed, with direction).

    Parameters
    ----------
    model : fitted model
        Any scikit-learn regressor/classifier or Pipeline, a torch module, or an MLPBatch.
    X : array-like or DataFrame of shape (n_samples, n_features)
    delta : float, default=0.1
    perturbation : {"multiplicative", "additive"}
        See :func:`sensitivity.methods.perturbation.miv`.
    feature_names : sequence of str, optional
        Names of the variables when ``X`` is not a DataFrame.

    Returns
    -------
    pandas.DataFrame
        The table of ``docs/architecture.rst`` without inference.
    """
    names = _frame_names(X, feature_names)
    view = _single(_prediction_view(model, names, None))
    values = _perturbation.miv(view, X, delta=delta, perturbation=perturbation)
    return _prediction_frame(values, view, names, signed=True, method="MIV")


def input_perturbation(
    model,
    X,
    y,
    *,
    noise_levels: Sequence[float] = _perturbation.DEFAULT_NOISE_LEVELS,
    n_repeats: int = 5,
    loss: str = "auto",
    random_state=None,
    feature_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Input-perturbation importance of a fitted model as a ranked DataFrame.

    See :func:`sensitivity.methods.perturbation.input_perturbation` (noise of
    ``noise_levels`` times each variable's sd, one variable at a time; importance = mean
    increase of the loss). Columns ``increase_<level>sd`` hold the increase per level.
    """
    names = _frame_names(X, feature_names)
    view = _single(_prediction_view(model, names, None))
    res = _perturbation.input_perturbation(
        view,
        X,
        y,
        noise_levels=noise_levels,
        n_repeats=n_repeats,
        loss=loss,
        random_state=random_state,
    )
    extra = {
        name: res.importances_by_level[..., k]
        for k, name in enumerate(_level_names(res.noise_levels))
    }
    return _prediction_frame(
        res.importances, view, names, signed=False, method="InputPerturbation", extra=extra
    )


def lekprofile(
    model,
    X,
    *,
    steps: int = 100,
    groups=None,
    random_state=None,
    feature_names: Sequence[str] | None = None,
    return_profiles: bool = False,
):
    """Lek's profile importance of a fitted model as a ranked DataFrame.

    Importance = range of the median profile across groups; ``direction`` = sign of its change
    from the variable's minimum to maximum. See :func:`sensitivity.methods.profile.lek_profiles`
    for ``steps`` and ``groups``.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, DataFrame) with ``return_profiles=True``
        The ranked table and the long table of profiles (``variable, group, x, output,
        prediction``).
    """
    names = _frame_names(X, feature_names)
    view = _single(_prediction_view(model, names, None))
    prof = _profile.lek_profiles(view, X, steps=steps, groups=groups, random_state=random_state)
    imp, direction = _profile.lek_importance(prof)
    frame = _prediction_frame(
        imp, view, prof.feature_names, signed=False, method="LekProfile", direction=direction
    )
    if return_profiles:
        return frame, _profile.profile_frame(prof)
    return frame


def permutation(
    model,
    X,
    y,
    *,
    n_repeats: int = 5,
    loss: str = "auto",
    random_state=None,
    n_jobs: int | None = None,
    feature_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Permutation importance of a fitted model as a ranked DataFrame.

    Built on :func:`sklearn.inspection.permutation_importance`; see
    :func:`sensitivity.methods.perturbation.permutation`. Column ``importance_sd`` is the sd
    over the repeats.
    """
    names = _frame_names(X, feature_names)
    view = _single(_prediction_view(model, names, None))
    res = _perturbation.permutation(
        view, X, y, n_repeats=n_repeats, loss=loss, random_state=random_state, n_jobs=n_jobs
    )
    return _prediction_frame(
        res.importances,
        view,
        names,
        signed=False,
        method="PermutationImportance",
        extra={"importance_sd": res.importances_std},
    )


def dimopoulos(
    model,
    X,
    *,
    statistic: str = "ssd",
    scale="sd",
    logits: bool = False,
    second_order="auto",
    ddof: float = 1,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    memory_budget_mb: float | None = None,
    return_derivatives: bool = False,
):
    """Dimopoulos' partial-derivative importance of a fitted model on ``X``, ranked.

    Parameters
    ----------
    model : fitted MLP or torch nn.Module
        Anything :func:`sensitivity.adapters.as_differentiable` accepts (an MLP, a Pipeline of
        scalers ending in one, an ``nn.Sequential``, any torch module, an MLPBatch).
    X : array-like or DataFrame of shape (n_samples, n_features)
        Rows at which to differentiate, in the user's units (finite, numeric).
    statistic, scale, logits, second_order, ddof, memory_budget_mb
        As in :class:`Dimopoulos`: by default (``scale="sd"``) derivatives per standard
        deviation of each input in ``X``; ``scale=None`` gives them in the raw units.
    feature_names, output_names : sequence of str, optional
        Default: from the model, else from ``X``'s columns, else ``x0, x1, ...``.
    return_derivatives : bool
        Also return the per-row derivatives.

    Returns
    -------
    frame : pandas.DataFrame
        The table of ``docs/architecture.rst`` without inference, with ``direction`` (sign of
        the mean derivative) and one column per summary.
    derivatives : sklearn.utils.Bunch
        Only with ``return_derivatives``: ``jacobian`` and ``second`` (or None), arrays
        ``(n_samples, n_outputs, n_features)``.
    """
    if statistic not in _derivatives.SUMMARIES:
        raise ValueError(
            f"statistic must be one of {list(_derivatives.SUMMARIES)}; got {statistic!r}."
        )
    if (
        feature_names is None
        and isinstance(X, pd.DataFrame)
        and getattr(model, "feature_names_in_", None) is None
        and not hasattr(model, "feature_names")  # MLPBatch, TorchNetwork: named already
    ):
        feature_names = [str(c) for c in X.columns]
    X_arr = check_array(X, dtype=np.float64, ensure_all_finite=True)
    net = adapters.as_differentiable(
        model, feature_names=feature_names, output_names=output_names, n_features=None
    )
    if X_arr.shape[1] != net.n_features:
        raise ValueError(
            f"X has {X_arr.shape[1]} columns but the model has {net.n_features} inputs."
        )
    res = derivative_stats(
        net,
        X_arr,
        statistic=statistic,
        scale=scale,
        logits=logits,
        second_order=second_order,
        ddof=ddof,
        memory_budget_mb=memory_budget_mb,
        derivatives=return_derivatives,
    )
    extra = {k: res[k][0] for k in _derivatives.SUMMARIES if k in res}
    frame = importance_frame(
        res["importance"][0],
        net.feature_names,
        net.output_names,
        signed=statistic == "mean",
        direction=res["mean"][0],
        extra=extra,
        method="Dimopoulos",
    )
    if not return_derivatives:
        return frame
    second = res["second"]
    return frame, Bunch(
        jacobian=res["jacobian"][0],
        second=None if second is None else second[0],
        feature_names=net.feature_names,
        output_names=net.output_names,
    )
