r"""Perturbation methods: mean impact value (MIV), input perturbation, permutation importance.

Pure functions of a fitted model and data; no fitting. ``model`` is an
:class:`~sensitivity.network.MLPBatch` of ``B`` networks (all evaluated in one batched forward
pass) or a ``ModelFunction`` from :func:`sensitivity.adapters.as_model_function` (any
scikit-learn model, Pipeline or torch module; ``B = 1``). Results are arrays
``(B, n_outputs, n_features)``: one value per output for multi-output regressors and per class
probability for classifiers (a binary classifier has one output, its positive class).

Every perturbed copy of the data is evaluated in batched calls sized to a memory budget
(``memory_budget_mb``, MiB), never row by row. For an MLPBatch a copy that changes one input
``x_j`` changes the first layer's pre-activations by a rank-one term, ``A + dx (s_j W_1[j])``:
the copies reuse one product ``X W_1`` per chunk of rows, and the chunks run in worker threads
(``n_jobs``). Memory and thread settings never change a result.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Literal

import numpy as np
from sklearn.inspection import permutation_importance as _sk_permutation_importance
from sklearn.utils import Bunch, check_random_state

from .._config import budget_bytes
from .._warnings import warn
from ..network import MLPBatch
from ._data import (
    batch_size,
    check_data,
    chunk_rows,
    predict,
    replaced_column_sums,
)

__all__ = [
    "CENTRED_RATIO",
    "DEFAULT_NOISE_LEVELS",
    "MIV_PERTURBATIONS",
    "encode_target",
    "input_perturbation",
    "miv",
    "permutation",
    "resolve_loss",
    "row_losses",
]

MIV_PERTURBATIONS = ("multiplicative", "additive")
CENTRED_RATIO = 0.25
"""MIV warns when ``|mean(x)| < CENTRED_RATIO * sd(x)`` (a variable centred near zero)."""
ZERO_FRACTION = 0.5
"""MIV warns when more than this fraction of a variable's values are exactly zero."""
DEFAULT_NOISE_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5)
"""Noise standard deviations of :func:`input_perturbation`, as fractions of each sd."""

Loss = Literal["auto", "mse", "log_loss"]


def _n_outputs(model) -> int:
    return len(model.output_names)


def _n_features(model) -> int | None:
    if isinstance(model, MLPBatch):
        return model.n_features
    names = getattr(model, "feature_names", None)
    return None if names is None else len(names)


def _feature_names(model) -> tuple[str, ...] | None:
    names = getattr(model, "feature_names", None)
    return None if names is None else tuple(names)


# ---------------------------------------------------------------------- MIV
def miv(
    model,
    X,
    *,
    delta: float = 0.1,
    perturbation: Literal["multiplicative", "additive"] = "multiplicative",
    memory_budget_mb: float | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    memory_budget: int | None = None,
) -> np.ndarray:
    r"""Mean impact value of every input (signed).

    For variable :math:`i` two copies of the data are made, with :math:`x_i` raised and
    lowered, the others unchanged:

    * ``"multiplicative"`` (Dombi et al. 1995; the usual MIV):
      :math:`x_i^{\pm} = x_i (1 \pm \delta)`;
    * ``"additive"``: :math:`x_i^{\pm} = x_i \pm \delta\, s_i`, with :math:`s_i` the sample
      standard deviation (ddof 1) of :math:`x_i`.

    The impact value of row :math:`r` is :math:`IV_r = f(x_r^{+}) - f(x_r^{-})` and

    .. math::

        MIV_{ik} = \frac{1}{n} \sum_{r=1}^{n} \left[ f_k(x_r^{+}) - f_k(x_r^{-}) \right]

    for output :math:`k`. Its sign is the direction of the effect; rank by :math:`|MIV|`. For a
    linear model :math:`f(x) = x^\top\beta + b` the multiplicative MIV is
    :math:`2\delta\beta_i\,\bar x_i` and the additive one :math:`2\delta\beta_i s_i`.

    The multiplicative form is unreliable for variables centred near zero (standardized data):
    the change :math:`2\delta x_i` is proportional to :math:`x_i`, so the MIV scales with the
    variable's mean, whatever its effect, and values of opposite signs move in opposite
    directions. A ``UserWarning`` is given when :math:`|\bar x_i| < 0.25\, s_i`
    (:data:`CENTRED_RATIO`) or when most values (:data:`ZERO_FRACTION`) are exactly zero (they
    are not perturbed at all); use ``perturbation="additive"`` there. Signed statistics cannot
    see symmetric effects (e.g. :math:`(x_i - c)^2`).

    Parameters
    ----------
    model : MLPBatch or ModelFunction
    X : array-like or DataFrame of shape (n_samples, n_features)
        Data on which the effects are averaged (numeric, finite, no constant column).
    delta : float, default=0.1
        Relative perturbation, in (0, 1).
    perturbation : {"multiplicative", "additive"}, default="multiplicative"
    memory_budget_mb : float, optional
        Working memory (MiB) of the chunks in flight (default 256); never changes a result.
    n_jobs : int, optional
        Worker threads over chunks of rows (None: ``torch.get_num_threads()``).
    progress : bool, optional
        Show a tqdm bar (None: only for long computations).
    memory_budget : int, optional
        Deprecated: the budget in bytes.

    Returns
    -------
    ndarray of shape (B, n_outputs, n_features)

    References
    ----------
    Dombi, G. W., Nandi, P., Saxe, J. M., Ledgerwood, A. M. & Lucas, C. E. (1995). Prediction of
    rib fracture injury outcome by an artificial neural network. Journal of Trauma 39, 915-921.
    """
    if perturbation not in MIV_PERTURBATIONS:
        raise ValueError(
            f"Unknown perturbation {perturbation!r}; choose one of {MIV_PERTURBATIONS}."
        )
    if (
        not isinstance(delta, numbers.Real)
        or isinstance(delta, bool)
        or not np.isfinite(delta)
        or not 0 < delta < 1
    ):
        raise ValueError(f"delta must be a number in (0, 1); got {delta!r}.")
    Xa, names = check_data(X, n_features=_n_features(model), feature_names=_feature_names(model))
    n, p = Xa.shape
    mean = Xa.mean(axis=0)
    sd = Xa.std(axis=0, ddof=1)
    if perturbation == "multiplicative":
        _warn_multiplicative(Xa, names, mean, sd)
        factors = np.r_[np.full(p, 1.0 + delta), np.full(p, 1.0 - delta)]
        offsets = np.zeros(2 * p)
    else:
        factors = np.ones(2 * p)
        offsets = np.r_[delta * sd, -delta * sd]
    cols = np.r_[np.arange(p), np.arange(p)]

    def values(c: np.ndarray, i: np.ndarray) -> np.ndarray:
        return Xa[i, cols[c]] * factors[c] + offsets[c]

    budget = _budget(memory_budget_mb, memory_budget)
    sums = replaced_column_sums(
        model, Xa, cols, values, None, memory_budget_mb=budget, n_jobs=n_jobs, progress=progress
    )  # (B, 2p, n_out)
    out = (sums[:, :p] - sums[:, p:]) / n  # (B, p, n_out)
    return out.transpose(0, 2, 1).copy()


def _budget(memory_budget_mb, memory_budget) -> float:
    """The budget in MiB from the new keyword or the deprecated byte count (with a warning)."""
    nbytes = budget_bytes(memory_budget_mb, legacy_bytes=memory_budget, legacy_name="memory_budget")
    return nbytes / 2**20


def _warn_multiplicative(X: np.ndarray, names, mean: np.ndarray, sd: np.ndarray) -> None:
    zero = np.mean(X == 0, axis=0) > ZERO_FRACTION
    if zero.any():
        cols = [names[j] for j in np.flatnonzero(zero)]
        warn(
            f"Most values of {cols} are zero: a multiplicative perturbation leaves them "
            "unchanged, so their MIV reflects only the few non-zero rows. Consider "
            'perturbation="additive".',
            UserWarning,
        )
    centred = (np.abs(mean) < CENTRED_RATIO * sd) & ~zero
    if centred.any():
        cols = [names[j] for j in np.flatnonzero(centred)]
        warn(
            f"Variable(s) {cols} are centred near zero (|mean| < {CENTRED_RATIO} sd): the "
            "multiplicative MIV scales with the mean, not with the effect, and can rank such "
            "variables arbitrarily (see the MIV page of the documentation). Use "
            'perturbation="additive".',
            UserWarning,
        )


# ---------------------------------------------------------------------- losses
def resolve_loss(model, loss: str) -> str:
    if loss not in ("auto", "mse", "log_loss"):
        raise ValueError(f"Unknown loss {loss!r}; choose 'auto', 'mse' or 'log_loss'.")
    classifier = bool(getattr(model, "is_classifier", False))
    if loss == "auto":
        return "log_loss" if classifier else "mse"
    if loss == "log_loss" and not classifier:
        raise ValueError("loss='log_loss' needs a classifier (outputs that are probabilities).")
    return loss


def _class_indicator(y: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """One column per output: 1 where the row's label is that output's class."""
    labels = y.astype(str)
    known = np.isin(labels, np.asarray(names))
    if len(names) == 1:  # binary: one output, the positive class
        uniq = np.unique(y)
        if uniq.size > 2:
            raise ValueError(
                f"y has {uniq.size} classes but the classifier is binary (one output, "
                f"{names[0]!r})."
            )
        if known.any() or not _integer_labels(y, 2):
            others = np.unique(labels[labels != names[0]])
            if others.size > 1:
                raise ValueError(
                    f"y has labels {others.tolist()[:5]} besides the positive class "
                    f"{names[0]!r} of the binary classifier; expected one other class."
                )
            return (labels == names[0]).astype(np.float64)[:, None]
        return (y.astype(np.float64) == 1).astype(np.float64)[:, None]
    if known.all():
        index = {name: k for k, name in enumerate(names)}
        codes = np.array([index[v] for v in labels])
    elif _integer_labels(y, len(names)):
        codes = y.astype(np.int64)
    else:
        unknown = sorted(set(labels[~known].tolist()))[:5]
        raise ValueError(f"Labels {unknown} of y are not classes of the model {list(names)}.")
    return np.eye(len(names))[codes]


def _integer_labels(y: np.ndarray, k: int) -> bool:
    if y.dtype.kind not in "biuf":
        return False
    yf = y.astype(np.float64)
    return bool(np.all(yf == np.round(yf)) and yf.min() >= 0 and yf.max() < k)


def encode_target(model, y, n: int, loss: str) -> tuple[np.ndarray, str]:
    """The target as a float array ``(n, n_outputs)`` and the row loss to compare it with.

    The loss kind is ``"mse"``, ``"binary"`` (log-loss of each output as a separate
    probability: a binary classifier's one output, or multi-label outputs) or
    ``"categorical"`` (per-class components of the multi-class log-loss).
    """
    if y is None:
        raise ValueError("This method scores predictions against the target: y is required.")
    k = _n_outputs(model)
    y_arr = np.asarray(y)
    if y_arr.shape[0] != n:
        raise ValueError(f"y has {y_arr.shape[0]} rows but X has {n}.")
    if bool(getattr(model, "is_classifier", False)):
        if y_arr.ndim == 2 and y_arr.shape[1] == k and y_arr.dtype.kind in "biuf":
            Y = y_arr.astype(np.float64)  # indicator matrix (multi-label)
            if not np.isin(Y, (0.0, 1.0)).all():
                raise ValueError("A 2-D y for a classifier must be a 0/1 indicator matrix.")
            multilabel = k == 1 or bool(np.any(Y.sum(axis=1) != 1))
            return Y, _kind(loss, "binary" if multilabel else "categorical")
        y1 = y_arr.ravel() if y_arr.ndim == 2 and y_arr.shape[1] == 1 else y_arr
        if y1.ndim != 1:
            raise ValueError(f"y has shape {y_arr.shape}; expected class labels (n_samples,).")
        if y1.dtype.kind == "O" and any(v is None or v != v for v in y1):
            raise ValueError("y contains missing labels.")
        Y = _class_indicator(y1, tuple(model.output_names))
        return Y, _kind(loss, "binary" if k == 1 else "categorical")
    try:
        Y = y_arr.astype(np.float64).reshape(n, -1)
    except (TypeError, ValueError):
        raise ValueError("y must be numeric for a regressor.") from None
    if Y.shape[1] != k:
        raise ValueError(f"y has {Y.shape[1]} column(s) but the model has {k} output(s).")
    if not np.all(np.isfinite(Y)):
        raise ValueError("y contains missing or infinite values.")
    return Y, "mse"


def _kind(loss: str, log_kind: str) -> str:
    return "mse" if loss == "mse" else log_kind


_EPS = np.finfo(np.float64).eps


def row_losses(pred: np.ndarray, Y: np.ndarray, loss: str) -> np.ndarray:
    """Per-row, per-output loss ``(B, r, n_out)`` of predictions ``(B, r, n_out)``."""
    if loss == "mse":
        return (pred - Y) ** 2
    P = np.clip(pred, _EPS, 1.0 - _EPS)
    if loss == "binary":
        return -(Y * np.log(P) + (1.0 - Y) * np.log1p(-P))
    return -Y * np.log(P)


# ---------------------------------------------------------------------- input perturbation
def input_perturbation(
    model,
    X,
    y,
    *,
    noise_levels: Sequence[float] = DEFAULT_NOISE_LEVELS,
    n_repeats: int = 5,
    loss: Loss = "auto",
    random_state=None,
    memory_budget_mb: float | None = None,
    n_jobs: int | None = None,
    progress: bool | None = None,
    memory_budget: int | None = None,
) -> Bunch:
    r"""Input perturbation: increase of the loss when one input is blurred with noise.

    Following Scardi & Harding (1999) and the "Perturb" method of Gevrey et al. (2003), white
    noise of increasing magnitude is added to one input at a time, the others unchanged:
    :math:`\tilde x_{ri} = x_{ri} + \lambda\, s_i\, \varepsilon_r`, with
    :math:`\varepsilon_r \sim N(0, 1)`, :math:`s_i` the sample sd (ddof 1) of :math:`x_i` and
    :math:`\lambda` in ``noise_levels`` (default 0.1, 0.2, ..., 0.5: Gevrey's 10 % to 50 %,
    here relative to the sd so that the noise is unit-free and also works for variables
    centred at zero). The importance of input :math:`i` for output :math:`k` is the increase
    of the loss averaged over levels and repeats:

    .. math::

        I_{ik} = \frac{1}{LR} \sum_{l=1}^{L} \sum_{r=1}^{R}
                 \left[ \mathcal{L}_k(\tilde X^{(i, l, r)}) - \mathcal{L}_k(X) \right]

    Losses, per output: the mean squared error for regressors; for classifiers (``"auto"``)
    the log-loss, split by class so that the values over classes add up to the increase of
    the total log-loss: :math:`\mathcal{L}_k = -\frac1n\sum_r 1[y_r = k]\log p_{rk}` (a binary
    classifier has one output and gets the whole binary log-loss); with ``loss="mse"`` a
    classifier gets the per-class Brier score :math:`\frac1n\sum_r (p_{rk} - 1[y_r = k])^2`.
    Probabilities are clipped to :math:`[\epsilon, 1 - \epsilon]`.

    The same standard normal draws :math:`\varepsilon` (common random numbers) are used for
    every variable, level and network, so the result is deterministic given
    ``random_state`` and comparisons between variables and between networks are not blurred
    by independent noise. An importance can be slightly negative when the noise does not hurt.

    Parameters
    ----------
    model : MLPBatch or ModelFunction
    X : array-like or DataFrame of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets (regression) or class labels (classification).
    noise_levels : sequence of float, default=(0.1, 0.2, 0.3, 0.4, 0.5)
        Noise sds as fractions of each variable's sd (positive).
    n_repeats : int, default=5
        Noise draws per level.
    loss : {"auto", "mse", "log_loss"}
    random_state : int, RandomState or None
    memory_budget_mb, n_jobs, progress, memory_budget
        Performance settings, as in :func:`miv` (they never change a result).

    Returns
    -------
    Bunch with
        ``importances`` ``(B, n_outputs, n_features)``; ``importances_by_level``
        ``(B, n_outputs, n_features, L)`` (mean over repeats); ``baseline_loss``
        ``(B, n_outputs)``; ``noise_levels`` ``(L,)``; ``loss`` (the loss used).

    References
    ----------
    Scardi, M. & Harding, L. W. (1999). Developing an empirical model of phytoplankton primary
    production: a neural network case study. Ecological Modelling 120, 213-223.
    Gevrey, M., Dimopoulos, I. & Lek, S. (2003). Review and comparison of methods to study the
    contribution of variables in artificial neural network models. Ecological Modelling 160,
    249-264.
    """
    levels = np.asarray(noise_levels, dtype=np.float64).ravel()
    if levels.size == 0 or not np.all(np.isfinite(levels)) or np.any(levels <= 0):
        raise ValueError(f"noise_levels must be positive numbers; got {noise_levels!r}.")
    _check_repeats(n_repeats)
    loss = resolve_loss(model, loss)
    Xa, _ = check_data(X, n_features=_n_features(model), feature_names=_feature_names(model))
    n, p = Xa.shape
    Y, kind = encode_target(model, y, n, loss)
    sd = Xa.std(axis=0, ddof=1)
    eps = check_random_state(random_state).standard_normal((n_repeats, n))
    L, R = levels.size, n_repeats
    # copy 0: the data as is; then (variable j, level l, repeat r) in that order
    j_idx, l_idx, r_idx = (
        a.ravel() for a in np.meshgrid(np.arange(p), np.arange(L), np.arange(R), indexing="ij")
    )
    cols = np.r_[0, j_idx]
    scale = np.r_[0.0, levels[l_idx] * sd[j_idx]]
    rep = np.r_[0, r_idx]

    def values(c: np.ndarray, i: np.ndarray) -> np.ndarray:
        return Xa[i, cols[c]] + scale[c] * eps[rep[c], i]

    sums = replaced_column_sums(
        model,
        Xa,
        cols,
        values,
        lambda pred, i: row_losses(pred, Y[i], kind),
        memory_budget_mb=_budget(memory_budget_mb, memory_budget),
        n_jobs=n_jobs,
        progress=progress,
    )  # (B, 1 + p L R, n_out)
    mean_loss = sums / n
    base = mean_loss[:, 0]  # (B, n_out)
    inc = mean_loss[:, 1:] - base[:, None]
    inc = inc.reshape(inc.shape[0], p, L, R, inc.shape[-1]).mean(axis=3)  # (B, p, L, n_out)
    by_level = inc.transpose(0, 3, 1, 2).copy()  # (B, n_out, p, L)
    return Bunch(
        importances=by_level.mean(axis=3),
        importances_by_level=by_level,
        baseline_loss=base,
        noise_levels=levels,
        loss=loss,
    )


def _check_repeats(n_repeats) -> None:
    if not isinstance(n_repeats, numbers.Integral) or isinstance(n_repeats, bool) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer; got {n_repeats!r}.")


# ---------------------------------------------------------------------- permutation
class _FrozenModel:
    """A fitted model for ``sklearn.inspection.permutation_importance`` (never refitted)."""

    def __init__(self, model, memory_budget_mb: float) -> None:
        self.model = model
        self.memory_budget_mb = memory_budget_mb

    def fit(self, X, y=None):  # pragma: no cover - required by sklearn's parameter check
        raise RuntimeError("The analysed model is already fitted; it is never refitted here.")

    def predict_all(self, X: np.ndarray) -> np.ndarray:
        """Predictions ``(B, n, n_out)`` in chunks that fit the memory budget."""
        X = np.asarray(X, dtype=np.float64)
        step = chunk_rows(self.model, X.shape[1], self.memory_budget_mb)
        parts = [predict(self.model, X[s : s + step]) for s in range(0, X.shape[0], step)]
        return np.concatenate(parts, axis=1)


def _loss_scorer(loss: str, n_networks: int, n_out: int):
    keys = [f"{b}:{k}" for b in range(n_networks) for k in range(n_out)]

    def scorer(estimator: _FrozenModel, X, Y) -> dict[str, float]:
        per = row_losses(estimator.predict_all(X), np.asarray(Y), loss).mean(axis=1)
        flat = (-per).ravel()  # score = -loss, so that importance = increase of the loss
        return {key: float(v) for key, v in zip(keys, flat, strict=True)}

    return scorer, keys


def permutation(
    model,
    X,
    y,
    *,
    n_repeats: int = 5,
    loss: Loss = "auto",
    random_state=None,
    n_jobs: int | None = None,
    memory_budget_mb: float | None = None,
    memory_budget: int | None = None,
) -> Bunch:
    r"""Permutation importance: increase of the loss when one input is shuffled.

    Computed by :func:`sklearn.inspection.permutation_importance` (Breiman 2001; Fisher, Rudin
    & Dominici 2019), with a scorer that returns minus the loss of every output of every
    network from one batched prediction of each permuted copy, so that

    .. math::

        I_{ik} = \frac1R \sum_{r=1}^{R}
                 \left[ \mathcal{L}_k(X^{(i, \pi_r)}) - \mathcal{L}_k(X) \right]

    with :math:`X^{(i, \pi_r)}` the data with column :math:`i` permuted. The losses are those
    of :func:`input_perturbation` (per-output MSE; per-class log-loss components for
    classifiers). The same permutations are used for every network and variable (scikit-learn
    seeds every column alike), so the result is deterministic given ``random_state`` for any
    ``n_jobs``.

    Parameters
    ----------
    model : MLPBatch or ModelFunction
    X : array-like or DataFrame of shape (n_samples, n_features)
    y : array-like
        Targets or class labels.
    n_repeats : int, default=5
    loss : {"auto", "mse", "log_loss"}
    random_state : int, RandomState or None
    n_jobs : int or None
        Parallel jobs over variables (scikit-learn's).
    memory_budget_mb : float, optional
        Working memory (MiB) of one batched prediction call (default 256).
    memory_budget : int, optional
        Deprecated: the budget in bytes.

    Returns
    -------
    Bunch with ``importances`` and ``importances_std`` ``(B, n_outputs, n_features)`` (mean
    and sd over the repeats), ``baseline_loss`` ``(B, n_outputs)`` and ``loss``.

    References
    ----------
    Breiman, L. (2001). Random forests. Machine Learning 45, 5-32.
    Fisher, A., Rudin, C. & Dominici, F. (2019). All models are wrong, but many are useful.
    Journal of Machine Learning Research 20(177), 1-81.
    """
    _check_repeats(n_repeats)
    loss = resolve_loss(model, loss)
    Xa, _ = check_data(X, n_features=_n_features(model), feature_names=_feature_names(model))
    n, p = Xa.shape
    Y, kind = encode_target(model, y, n, loss)
    B, k = batch_size(model), _n_outputs(model)
    scorer, keys = _loss_scorer(kind, B, k)
    frozen = _FrozenModel(model, _budget(memory_budget_mb, memory_budget))
    res = _sk_permutation_importance(
        frozen,
        Xa,
        Y,
        scoring=scorer,
        n_repeats=n_repeats,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    mean = np.array([res[key].importances_mean for key in keys]).reshape(B, k, p)
    std = np.array([res[key].importances_std for key in keys]).reshape(B, k, p)
    baseline = scorer(frozen, Xa, Y)
    base = -np.array([baseline[key] for key in keys]).reshape(B, k)
    return Bunch(importances=mean, importances_std=std, baseline_loss=base, loss=loss)
