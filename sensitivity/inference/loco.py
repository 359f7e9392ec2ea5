r"""Leave-one-covariate-out (LOCO) test with cross-fitting: no model of the inputs needed.

For each input :math:`x_j` the null hypothesis is

.. math:: H_{0j}:\ E[y \mid X] = E[y \mid X_{-j}]

(:math:`x_j` adds nothing to the best prediction of :math:`y` from the other inputs; for a
classifier, to the conditional class probabilities). The statistic is the held-out loss increase
when :math:`x_j` is dropped and the model refitted (Lei et al. 2018, §6; Williamson et al. 2023):

.. math::

    \hat\psi_j = \frac{1}{|B|}\sum_{i \in B} \ell\big(y_i, \hat f^{(k_i)}_{-j}(x_{i,-j})\big)
               - \frac{1}{|A|}\sum_{i \in A} \ell\big(y_i, \hat f^{(k_i)}(x_i)\big),

where :math:`\hat f^{(k)}` and :math:`\hat f^{(k)}_{-j}` are clones of the user's estimator
fitted on the rows outside fold :math:`k` with all inputs and without :math:`x_j`, :math:`k_i`
is the fold that holds row :math:`i` out, and :math:`\ell` is the squared error
(:math:`\sum_o (y_{io} - \hat f_o)^2` for several outputs) or the log-loss
:math:`-\log \hat p_{y_i}` of a classifier's ``predict_proba``.

Two variants (``split``):

* ``split=True`` (sample splitting, Williamson et al. 2023, §4): the held-out rows of each fold
  are split at random into halves :math:`A` and :math:`B` (one split for all variables); the
  full model's loss is averaged over :math:`A`, the reduced model's over :math:`B`. Given the
  fitted models the two means are independent, so

  .. math::

      \widehat{\mathrm{se}}^2 = \frac{s_A^2}{|A|} + \frac{s_B^2}{|B|},

  with :math:`s_A^2, s_B^2` the variances of the row losses about their fold means (the
  cross-fitted influence-function variance; Williamson et al. 2023, §3-4). Under
  :math:`H_{0j}` both halves estimate the same expected loss, so
  :math:`\hat\psi_j / \widehat{\mathrm{se}} \to N(0, 1)`: a non-degenerate limit and a test
  of (close to) the nominal level.
* ``split=False`` (paired): both losses on every held-out row, :math:`A = B`, and
  :math:`\widehat{\mathrm{se}} = s_d / \sqrt m` with :math:`s_d` the standard deviation (about
  the fold means) of the row differences :math:`d_i`. Under :math:`H_{0j}` the two models
  estimate the same function, :math:`d_i \to 0` and the normal limit of
  :math:`\hat\psi_j/\widehat{\mathrm{se}}` is degenerate: the null mean of :math:`\hat\psi_j`
  (the extra estimation error of the full model, :math:`O(1/n)`, negative) is no longer small
  against :math:`\widehat{\mathrm{se}}`, which is itself of order :math:`1/n`. The test is then
  conservative (it rejects far less often than ``alpha``) but has more power under the
  alternative (pairing removes the between-row variance of the loss).

p-value (one-sided, :math:`H_1: \psi_j > 0`) and two-sided :math:`1 - \alpha` interval:

.. math::

    p_j = 1 - \Phi(\hat\psi_j / \widehat{\mathrm{se}}_j), \qquad
    \hat\psi_j \pm z_{1-\alpha/2}\, \widehat{\mathrm{se}}_j.

A variable whose losses give :math:`\widehat{\mathrm{se}} = 0` (the reduced and full models
agree on every row, e.g. a tree that never splits on :math:`x_j`) gets :math:`p = 1` when
:math:`\hat\psi_j \le 0` and :math:`p = 0` otherwise.

Default ``split=True``, chosen by its level. Measured with ``LinearRegression`` on
:math:`y = 0.3 x_1 + N(0, 1)`, four standard normal inputs, :math:`n = 200`, ``cv=5``, 200 data
sets (600 noise (variable, data set) pairs): rejection rate of the noise inputs at 0.05, split
0.053 (s.e. 0.009), paired 0.000; the price is power (:math:`x_1` rejected in 0.115 of the data
sets with splitting, 0.63 paired). Only the split test's p-values are uniform under
:math:`H_{0j}`; the paired test suits screening where a conservative level is acceptable.

References
----------
Lei, J., G'Sell, M., Rinaldo, A., Tibshirani, R. J. & Wasserman, L. (2018). Distribution-free
predictive inference for regression. *Journal of the American Statistical Association* 113(523),
1094-1111.

Williamson, B. D., Gilbert, P. B., Simon, N. R. & Carone, M. (2023). A general framework for
inference on algorithm-agnostic variable importance. *Journal of the American Statistical
Association* 118(543), 1645-1658.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from sklearn.base import clone, is_classifier
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils import check_random_state

__all__ = ["LOCO_HYPOTHESIS", "LocoResult", "loco_statistics", "loco_test"]

LOCO_HYPOTHESIS = (
    "H0_j: E[y | X] = E[y | X_-j] (x_j adds nothing to the best prediction of y from the other "
    "inputs; held-out loss of the model refitted without x_j equals that of the full model)"
)

#: Fewest held-out rows per fold (two per half with ``split=True``, for a variance).
MIN_HELDOUT_PER_FOLD = 4

_LOSSES = ("auto", "squared_error", "log_loss")


@dataclass(frozen=True)
class LocoResult:
    """Result of :func:`loco_test`: per-variable arrays in the order of the columns of ``X``.

    Attributes
    ----------
    feature_names : tuple of str
    importance : ndarray of shape (n_features,)
        Mean held-out loss increase when the variable is dropped (reduced minus full).
    std_error : ndarray of shape (n_features,)
    p_value : ndarray of shape (n_features,)
        One-sided (large importance) normal p-value, unadjusted.
    ci_low, ci_high : ndarray of shape (n_features,)
        Two-sided ``1 - alpha`` normal interval of the importance.
    n_heldout : ndarray of shape (n_features,)
        Held-out rows used (all rows of the test folds; with ``split`` half give the full
        model's loss, the other half the reduced model's).
    loss_full : float
        Mean held-out loss of the full models (on all held-out rows).
    loss : str
        ``"squared_error"`` or ``"log_loss"``.
    split : bool
        Sample splitting (True) or paired differences (False).
    alpha : float
    hypothesis : str
    """

    feature_names: tuple[str, ...]
    importance: np.ndarray
    std_error: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_heldout: np.ndarray
    loss_full: float
    loss: str
    split: bool
    alpha: float
    hypothesis: str = field(default=LOCO_HYPOTHESIS)

    def to_frame(self) -> pd.DataFrame:
        """The per-variable arrays as a DataFrame indexed by variable name (columns order)."""
        return pd.DataFrame(
            {
                "importance": self.importance,
                "std_error": self.std_error,
                "p_value": self.p_value,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "n_heldout": self.n_heldout,
            },
            index=pd.Index(self.feature_names, name="variable"),
        )


# ---------------------------------------------------------------------- statistics
def _within_fold_var(values: np.ndarray, folds: np.ndarray) -> float:
    """Sum over rows of squared deviations from the row's fold mean, over ``n - n_folds``."""
    total, n, k = 0.0, 0, 0
    for f in np.unique(folds):
        v = values[folds == f]
        total += float(((v - v.mean()) ** 2).sum())
        n += v.size
        k += 1
    return total / max(n - k, 1)


def loco_statistics(
    full: np.ndarray,
    reduced: np.ndarray,
    folds: np.ndarray,
    half: np.ndarray | None,
    alpha: float = 0.05,
) -> dict[str, np.ndarray]:
    r"""Importance, standard error, one-sided p-value and interval from held-out row losses.

    Parameters
    ----------
    full : ndarray of shape (m,)
        Row losses of the full models :math:`\ell(y_i, \hat f^{(k_i)}(x_i))`.
    reduced : ndarray of shape (k, m)
        Row losses of the reduced models, one row per tested variable.
    folds : ndarray of shape (m,)
        Fold of each held-out row (variances are taken about the fold means).
    half : ndarray of bool of shape (m,) or None
        Sample splitting: rows where ``half`` is True give the full model's loss (:math:`A`),
        the others the reduced model's (:math:`B`). None: paired differences.
    alpha : float
        The interval has level ``1 - alpha``.

    Returns
    -------
    dict
        ``importance``, ``std_error``, ``p_value``, ``ci_low``, ``ci_high`` (arrays of shape
        ``(k,)``); formulas in the module docstring.
    """
    full = np.asarray(full, dtype=np.float64)
    reduced = np.atleast_2d(np.asarray(reduced, dtype=np.float64))
    folds = np.asarray(folds)
    k = reduced.shape[0]
    imp, se = np.empty(k), np.empty(k)
    if half is None:
        for j in range(k):
            d = reduced[j] - full
            imp[j] = d.mean()
            se[j] = np.sqrt(_within_fold_var(d, folds) / d.size)
    else:
        half = np.asarray(half, dtype=bool)
        a, b = half, ~half
        mean_a = full[a].mean()
        var_a = _within_fold_var(full[a], folds[a]) / a.sum()
        for j in range(k):
            imp[j] = reduced[j, b].mean() - mean_a
            se[j] = np.sqrt(var_a + _within_fold_var(reduced[j, b], folds[b]) / b.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        z = imp / se
    p = np.where(se > 0, stats.norm.sf(z), np.where(imp > 0, 0.0, 1.0))
    q = stats.norm.ppf(1 - alpha / 2)
    return {
        "importance": imp,
        "std_error": se,
        "p_value": p,
        "ci_low": imp - q * se,
        "ci_high": imp + q * se,
    }


# ---------------------------------------------------------------------- row losses
def _row_losses(model, X, y, loss: str) -> np.ndarray:
    """Per-row held-out loss of a fitted model."""
    if loss == "log_loss":
        proba = np.asarray(model.predict_proba(X), dtype=np.float64)
        classes = np.asarray(model.classes_)
        idx = np.searchsorted(classes, y)
        idx = np.clip(idx, 0, len(classes) - 1)
        missing = classes[idx] != y
        if missing.any():
            raise ValueError(
                f"Held-out class(es) {sorted(set(np.asarray(y)[missing].tolist()))} were absent "
                "from a training fold: use fewer folds or a stratified splitter."
            )
        eps = np.finfo(np.float64).eps
        p = np.clip(proba[np.arange(len(y)), idx], eps, 1.0)
        return -np.log(p)
    pred = np.asarray(model.predict(X), dtype=np.float64)
    yy = np.asarray(y, dtype=np.float64)
    if pred.ndim == 1 and yy.ndim == 2 and yy.shape[1] == 1:
        pred = pred[:, None]
    if yy.ndim == 1 and pred.ndim == 2 and pred.shape[1] == 1:
        yy = yy[:, None]
    r = (yy - pred) ** 2
    return r.sum(axis=1) if r.ndim == 2 else r


def _take(X, rows, drop: int | None):
    """Rows of ``X`` (array or DataFrame) without column ``drop`` (None: all columns)."""
    if isinstance(X, pd.DataFrame):
        sub = X.iloc[rows]
        return sub if drop is None else sub.drop(columns=X.columns[drop])
    sub = X[rows]
    return sub if drop is None else np.delete(sub, drop, axis=1)


def _fit_eval(estimator, X, y, train, test, drop, loss, fit_params) -> np.ndarray:
    """Fit a clone on ``train`` (without column ``drop``), return its held-out row losses."""
    ytr = y.iloc[train] if hasattr(y, "iloc") else y[train]
    model = clone(estimator).fit(_take(X, train, drop), ytr, **fit_params)
    yte = np.asarray(y.iloc[test] if hasattr(y, "iloc") else y[test])
    return _row_losses(model, _take(X, test, drop), yte, loss)


# ---------------------------------------------------------------------- checks
def _check_inputs(estimator, X, y):
    if not hasattr(estimator, "fit"):
        raise TypeError(
            f"loco_test needs an estimator with a fit method (it refits clones of it); got "
            f"{type(estimator).__name__}."
        )
    if not hasattr(estimator, "get_params"):
        raise TypeError(
            f"loco_test refits clones of the estimator: {type(estimator).__name__} is not a "
            "scikit-learn estimator (no get_params), so it cannot be cloned."
        )
    if isinstance(X, pd.DataFrame):
        names = tuple(str(c) for c in X.columns)
        shape = X.shape
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
        if X.dtype.kind in "fc" and not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinite values.")
        shape = X.shape
        names = tuple(f"x{j}" for j in range(shape[1]))
    if shape[1] < 2:
        raise ValueError(
            f"loco_test needs at least 2 inputs (it drops one and keeps the others); X has "
            f"{shape[1]}."
        )
    y_arr = np.asarray(y)
    if y_arr.shape[0] != shape[0]:
        raise ValueError(f"X has {shape[0]} rows but y has {y_arr.shape[0]}.")
    if y_arr.dtype.kind in "fc" and not np.isfinite(y_arr).all():
        raise ValueError("y contains NaN or infinite values.")
    return X, names


def _resolve_loss(estimator, loss: str) -> str:
    if loss not in _LOSSES:
        raise ValueError(f"loss must be one of {_LOSSES}; got {loss!r}.")
    if loss == "auto":
        loss = "log_loss" if is_classifier(estimator) else "squared_error"
    if loss == "log_loss" and not hasattr(estimator, "predict_proba"):
        raise ValueError(
            f"The log-loss needs predict_proba, which {type(estimator).__name__} does not "
            "have (a classifier without probabilities cannot be tested by its log-loss)."
        )
    return loss


def cross_fitting_folds(cv, y_arr: np.ndarray, *, classifier: bool, rs) -> list:
    """The cross-fitting splits of the held-out tests (this one and the held-out conditional
    test): an integer ``cv`` gives shuffled ``KFold`` (``StratifiedKFold`` for a classifier)
    seeded by one draw of ``rs``; a splitter is used as given. Each row must be held out at most
    once (the tests pool the held-out rows)."""
    if isinstance(cv, numbers.Integral):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds; got {cv}.")
        split_cls = StratifiedKFold if classifier else KFold
        splitter = split_cls(n_splits=int(cv), shuffle=True, random_state=rs.randint(2**31))
    else:
        splitter = check_cv(cv, y_arr, classifier=classifier)
    folds = list(splitter.split(np.zeros((len(y_arr), 1)), y_arr))
    seen = np.zeros(len(y_arr), dtype=int)
    for _, test in folds:
        seen[test] += 1
    if seen.max() > 1:
        raise ValueError(
            "The cv splitter holds some rows out more than once; the pooled test needs each "
            "row held out at most once (use KFold-like splits)."
        )
    return folds


def _folds(estimator, X, y_arr, cv, rs) -> list:
    folds = cross_fitting_folds(cv, y_arr, classifier=is_classifier(estimator), rs=rs)
    smallest = min(len(test) for _, test in folds)
    if smallest < MIN_HELDOUT_PER_FOLD:
        raise ValueError(
            f"Too few rows per fold: a fold holds out {smallest} row(s) ({len(y_arr)} rows, "
            f"{len(folds)} folds); loco_test needs at least {MIN_HELDOUT_PER_FOLD} held-out "
            "rows per fold. Use fewer folds or more rows."
        )
    return folds


def _halves(folds: list, rs) -> np.ndarray:
    """Random half of each fold's held-out rows (True: full model's rows); the odd row goes
    to A and B in turn so that the halves stay balanced."""
    n = sum(len(t) for _, t in folds)
    half = np.zeros(n, dtype=bool)
    start, extra = 0, True
    for _, test in folds:
        m = len(test)
        n_a = m // 2 + (m % 2 if extra else 0)
        if m % 2:
            extra = not extra
        order = rs.permutation(m)
        half[start + order[:n_a]] = True
        start += m
    return half


# ---------------------------------------------------------------------- public function
def loco_test(
    estimator,
    X,
    y,
    *,
    cv=5,
    loss: str = "auto",
    alpha: float = 0.05,
    split: bool = True,
    random_state=None,
    n_jobs: int | None = None,
    fit_params: dict | None = None,
) -> LocoResult:
    r"""Leave-one-covariate-out test of every input, cross-fitted (no model of the inputs).

    Tests :math:`H_{0j}: E[y \mid X] = E[y \mid X_{-j}]` for each column :math:`j` of ``X``
    by the held-out loss increase when :math:`x_j` is dropped and the estimator refitted
    (Lei et al. 2018; Williamson et al. 2023). For each fold, clones of ``estimator`` are
    fitted on the other folds with all inputs and without each :math:`x_j`; the statistic,
    standard error, one-sided normal p-value and :math:`1 - \alpha` interval are those of
    :func:`loco_statistics` (formulas in :mod:`sensitivity.inference.loco`).

    Parameters
    ----------
    estimator : scikit-learn estimator or Pipeline
        Unfitted (it is cloned). A classifier needs ``predict_proba`` (log-loss). Fix its
        ``random_state`` for reproducible fits. With a DataFrame ``X``, each reduced model is
        fitted on ``X`` without the column, so a Pipeline that names columns must accept that.
    X : array-like or DataFrame of shape (n_samples, n_features)
        At least 2 inputs.
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    cv : int or cross-validation splitter, default=5
        Folds (an int: shuffled ``KFold``, ``StratifiedKFold`` for classifiers, seeded from
        ``random_state``). Each row is held out at most once, and each fold must hold out at
        least 4 rows.
    loss : {"auto", "squared_error", "log_loss"}, default="auto"
        Row loss; ``"auto"``: log-loss for classifiers, squared error otherwise (summed over
        outputs).
    alpha : float, default=0.05
        The intervals have level ``1 - alpha``.
    split : bool, default=True
        Sample splitting (the full and reduced losses on different random halves of the
        held-out rows; a test of close to the nominal level) or paired differences on every
        held-out row (more power, conservative under the null). See the module docstring.
    random_state : int, RandomState or None
        Seeds the folds (for an int ``cv``) and the halves.
    n_jobs : int or None, default=None
        joblib workers over the ``n_folds * (n_features + 1)`` fits; never changes the result.
    fit_params : dict, optional
        Passed to every clone's ``fit``.

    Returns
    -------
    LocoResult
        Per-variable ``importance``, ``std_error``, ``p_value`` (unadjusted), ``ci_low``,
        ``ci_high``, ``n_heldout``, and ``hypothesis``. The fold models are not kept.

    Raises
    ------
    TypeError
        ``estimator`` has no ``fit`` (or cannot be cloned).
    ValueError
        Fewer than 2 inputs, fewer than 4 held-out rows in a fold, NaN/inf in ``X`` or ``y``,
        a classifier without ``predict_proba``, an invalid ``loss``.

    References
    ----------
    Lei et al. (2018), JASA 113(523), 1094-1111; Williamson et al. (2023), JASA 118(543),
    1645-1658.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 3))
    >>> y = 2 * X[:, 0] + rng.normal(size=400)
    >>> res = loco_test(LinearRegression(), X, y, random_state=0)
    >>> bool(res.p_value[0] < 1e-6), bool(abs(res.importance[0] - 4) < 1)
    (True, True)
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    X, names = _check_inputs(estimator, X, y)
    loss = _resolve_loss(estimator, loss)
    y_in = y if hasattr(y, "iloc") else np.asarray(y)
    y_arr = np.asarray(y)
    rs = check_random_state(random_state)
    folds = _folds(estimator, X, y_arr, cv, rs)
    p = len(names)
    fit_params = fit_params or {}
    drops = [None, *range(p)]
    tasks = [(f, d) for f in range(len(folds)) for d in drops]
    out = Parallel(n_jobs=n_jobs)(
        delayed(_fit_eval)(estimator, X, y_in, folds[f][0], folds[f][1], d, loss, fit_params)
        for f, d in tasks
    )
    per = {(f, d): r for (f, d), r in zip(tasks, out, strict=True)}
    full = np.concatenate([per[(f, None)] for f in range(len(folds))])
    reduced = np.stack([np.concatenate([per[(f, j)] for f in range(len(folds))]) for j in range(p)])
    fold_of = np.concatenate([np.full(len(t), f) for f, (_, t) in enumerate(folds)])
    half = _halves(folds, rs) if split else None
    st = loco_statistics(full, reduced, fold_of, half, alpha)
    return LocoResult(
        feature_names=names,
        importance=st["importance"],
        std_error=st["std_error"],
        p_value=st["p_value"],
        ci_low=st["ci_low"],
        ci_high=st["ci_high"],
        n_heldout=np.full(p, full.size),
        loss_full=float(full.mean()),
        loss=loss,
        split=bool(split),
        alpha=float(alpha),
    )
