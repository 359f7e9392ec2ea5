r"""Gradient-boosted conditional models and held-out (cross-validated) scores of conditional
models.

Everything here works on ``K`` folds of the rows a conditional model is fitted on (fold ids from
:func:`fold_ids`, the same for every candidate model of a column, so their held-out scores are
paired row by row). The scores are *log predictive densities*: for row :math:`i` of fold
:math:`k`, the log density (continuous column) or log probability (discrete column) of the real
:math:`x_{ij}` under the model fitted without fold :math:`k`, given :math:`x_{i,-j}`. The mean
over rows is a proper score of the conditional *distribution* (Gneiting & Raftery 2007): it
rewards the right mean, the right spread and the right shape of the residual law at once.

References
----------
Friedman, J. H. (2001). Greedy function approximation: a gradient boosting machine. *Annals of
Statistics* 29(5), 1189-1232.

Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and estimation.
*Journal of the American Statistical Association* 102(477), 359-378.

Silverman, B. W. (1986). *Density Estimation for Statistics and Data Analysis*. Chapman & Hall
(the rule-of-thumb bandwidth :math:`0.9\,\min(\hat\sigma, \mathrm{IQR}/1.349)\,n^{-1/5}`).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping

import numpy as np
from scipy.special import logsumexp
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression

REGRESSOR = {
    "learning_rate": 0.2,
    "max_iter": 40,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 10,
    "max_bins": 64,
}
"""Trees of the conditional mean (on the residuals of the least-squares base); the number of
trees used is chosen from 0 to ``max_iter`` by the out-of-fold squared error. Measured at
n = 300 (a quadratic, a t(3) Toeplitz, a heteroscedastic, a linear and a sine-plus-interaction
column; 4-6 data sets each, log density of 3,000 fresh rows): learning rate 0.2 with at most 40
trees fits as well as 0.1 with at most 100 (within 0.03 nats per row) in half the time (the cost
is about linear in the number of trees); 4 leaves, or 60 trees, changed the fit by at most 0.02
nats."""

SCALE = {
    "learning_rate": 0.2,
    "max_iter": 20,
    "max_depth": 2,
    "min_samples_leaf": 20,
    "max_bins": 32,
}
"""Trees of the conditional scale :math:`E[|e| \\mid z]` (0 trees: a constant scale)."""

CLASSIFIER = {
    "learning_rate": 0.2,
    "max_iter": 30,
    "max_leaf_nodes": 4,
    "min_samples_leaf": 10,
    "max_bins": 64,
}
"""Trees of the ``"classifier"`` kind (0 trees: the level frequencies). Measured on the binary
and 3-level columns of ``benchmarks/bench_conditional_models.py`` (n = 300, 20 data sets):
4 leaves gave a better held-out log-loss than 8 (-0.489 against -0.507 binary, -0.834 against
-0.855 3-level), draws that :func:`check_conditional` flagged less (0.00 and 0.05 against 0.10
and 0.30) and a third less time; a learning rate of 0.1 with 60 trees did no better."""

SCALE_FLOOR = 0.05
"""Smallest conditional scale, as a fraction of the mean absolute residual."""

_MIN_CAP = 15
"""Fewest trees grown on a fold of the boosted mean once earlier folds preferred few."""

DEFENSIVE = 0.02
"""Weight of the heavy-tailed (Cauchy) part of the residual law in held-out log scores."""

_LOG_FLOOR = 1e-12
"""Probabilities below this count as this in log scores (a level unseen in a training fold)."""

_CONTROLLER = None


@contextlib.contextmanager
def one_openmp_thread() -> Iterator[None]:
    """Run the body with one OpenMP thread in the calling thread (scikit-learn's boosting).

    On a machine whose cores are busy, OpenMP teams spin-wait: a boosting fit at n = 240 took
    0.6-1.1 s with the default team against 16-53 ms with one thread (2 shared cores). The
    models here are small, so one thread is also the fastest on an idle machine. The limit is
    restored on exit; nothing is changed outside the package's own calls.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="openmp"):
        yield


def fold_ids(n: int, n_folds: int, seed, codes: np.ndarray | None = None) -> np.ndarray:
    """Fold id (0..K-1) of each row: a random permutation dealt out cyclically; with ``codes``
    the rows are dealt level by level (stratified), so each fold holds each level's share."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    if codes is not None:
        order = order[np.argsort(codes[order], kind="stable")]
    ids = np.empty(n, dtype=np.intp)
    ids[order] = np.arange(n) % n_folds
    return ids


def _silverman(u: np.ndarray) -> float:
    sd = float(u.std())
    q75, q25 = np.percentile(u, [75, 25])
    iqr = float(q75 - q25) / 1.349
    a = min(sd, iqr) if iqr > 0 else sd
    return 0.9 * max(a, 1e-12 * (abs(float(u.mean())) + 1.0)) * u.size ** (-0.2)


def kde_logpdf(train: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Log density at ``at`` of the residual law estimated from ``train``: a gaussian kernel
    density estimate (Silverman's bandwidth) mixed with weight ``DEFENSIVE`` with a Cauchy law
    (centre the median, scale half the interquartile range). The kernel estimate alone decays
    like :math:`\\exp(-u^2 / 2h^2)` beyond its data, so one held-out residual a little outside
    the training ones would dominate a mean log score; the heavy-tailed part bounds that."""
    h = _silverman(train)
    d = (at[:, None] - train[None, :]) / h
    kde = logsumexp(-0.5 * d * d, axis=1) - np.log(train.size * h * np.sqrt(2 * np.pi))
    q75, q50, q25 = np.percentile(train, [75, 50, 25])
    gamma = max(float(q75 - q25) / 2, h)
    cauchy = -np.log(np.pi * gamma * (1 + ((at - q50) / gamma) ** 2))
    return np.logaddexp(np.log1p(-DEFENSIVE) + kde, np.log(DEFENSIVE) + cauchy)


def residual_log_density(e: np.ndarray, s: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Per-row held-out log density of out-of-fold residuals ``e`` under a location-scale law:
    :math:`\\log \\hat f_{-k}(e_i / s_i) - \\log s_i`, with :math:`\\hat f_{-k}` the kernel
    density estimate of the standardized residuals of the other folds."""
    u = e / s
    out = np.empty_like(e)
    for k in range(int(folds.max()) + 1):
        te = folds == k
        out[te] = kde_logpdf(u[~te], u[te]) - np.log(s[te])
    return out


def design(Zs: np.ndarray, degree: int = 1) -> np.ndarray:
    """``[1, Zs]`` (degree 1) or ``[1, Zs, Zs**2]`` (degree 2: squares, no interactions)."""
    parts = [np.ones(Zs.shape[0]), Zs] + ([Zs * Zs] if degree == 2 else [])
    return np.column_stack(parts)


def _lstsq_oof(x: np.ndarray, D: np.ndarray, folds: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    for k in range(int(folds.max()) + 1):
        te = folds == k
        out[te] = D[te] @ np.linalg.lstsq(D[~te], x[~te], rcond=None)[0]
    return out


def _staged(model, Zte: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Predictions after 0, 1, ..., T trees: ``(T + 1, m)`` with ``start`` as stage 0."""
    return np.vstack([start[None], np.array(list(model.staged_predict(Zte)))])


def _boosted_oof(target, features, folds, params, start_fn):
    """Out-of-fold staged predictions of ``target``; the number of trees (0..max_iter) with
    the smallest out-of-fold squared error and the predictions it gives."""
    err = None
    oof = []
    for k in range(int(folds.max()) + 1):
        te = folds == k
        start = start_fn(~te)
        model = HistGradientBoostingRegressor(early_stopping=False, random_state=0, **params)
        model.fit(features[~te], target[~te])
        stages = _staged(model, features[te], np.full(int(te.sum()), start))
        e = ((stages - target[te]) ** 2).sum(axis=1)
        err = e if err is None else err + e
        oof.append(stages)
    t = int(np.argmin(err))
    pred = np.empty_like(target)
    for k, stages in enumerate(oof):
        pred[folds == k] = stages[t]
    return t, pred


def _mahalanobis(Zs: np.ndarray, prec: np.ndarray) -> np.ndarray:
    return np.einsum("ij,jk,ik->i", Zs, prec, Zs)


def fit_boosting(
    x: np.ndarray,
    Z: np.ndarray,
    Zs: np.ndarray,
    folds: np.ndarray,
    params: Mapping | None = None,
    scale_params: Mapping | None = None,
) -> dict:
    """The out-of-fold part of the ``"boosting"`` model of ``x`` given the other columns ``Z``
    (``Zs``: standardized); :func:`finish_boosting` adds the full-data fits.

    Mean: :math:`m(z) = b(z) + T(z)`: a least-squares base :math:`b`, linear in the
    standardized other columns or linear plus their squares (no interactions), whichever has
    the smaller out-of-fold squared error, plus ``t`` boosted trees on its residuals, ``t``
    chosen by the out-of-fold squared error (0 allowed: the base alone). The smooth base spares
    the trees approximating a smooth trend by steps: with the linear base alone the step error
    of :math:`x_1^2` at n = 300 was detectable by :func:`check_conditional` in 0.23 of data sets.
    Residuals out of fold, :math:`e_i = x_i - m_{-k(i)}(z_i)`. Scale: ``t_s`` boosted trees of
    :math:`|e|` on ``z``, the fitted mean and the Mahalanobis distance of ``z`` (the
    conditional scale of an elliptical law is a function of it), chosen the same way (0: a
    constant); floored at ``SCALE_FLOOR`` times the mean :math:`|e|`. Standardized residuals
    :math:`u_i = e_i / s_{-k(i)}(z_i)`.

    Returns a dict with the out-of-fold parts (``oof_mean``, ``oof_scale``, ``u``,
    ``residuals``, per-row ``log_density`` and ``linear_log_density``: that of the least-squares
    regression with a homoscedastic residual law, on the same folds), ``n_trees``,
    ``n_scale_trees`` and what :func:`finish_boosting` needs.
    """
    params = {**REGRESSOR, **(params or {})}
    scale_params = {**SCALE, **(scale_params or {})}
    lin = _lstsq_oof(x, design(Zs, 1), folds)
    quad = _lstsq_oof(x, design(Zs, 2), folds)
    degree = 2 if np.sum((x - quad) ** 2) < np.sum((x - lin) ** 2) else 1
    D = design(Zs, degree)
    base = np.empty_like(x)
    err = None
    oof = []
    cap = int(params["max_iter"])
    for k in range(int(folds.max()) + 1):
        te = folds == k
        beta = np.linalg.lstsq(D[~te], x[~te], rcond=None)[0]
        base[te] = D[te] @ beta
        # trees on the residuals of the training fold's own regression
        model = HistGradientBoostingRegressor(
            early_stopping=False, random_state=0, **{**params, "max_iter": cap}
        )
        model.fit(Z[~te], x[~te] - D[~te] @ beta)
        stages = _staged(model, Z[te], np.zeros(int(te.sum())))
        e = ((stages - (x[te] - base[te])) ** 2).sum(axis=1)
        err = e if err is None else err[: cap + 1] + e
        oof.append(stages)
        # later folds grow at most twice the trees the folds so far prefer (plus 10): the
        # choice is the same unless the first folds' best is far below the overall best
        cap = min(cap, max(_MIN_CAP, 2 * int(np.argmin(err)) + 10))
    t = int(np.argmin(err))
    oof_mean = base.copy()
    for k, stages in enumerate(oof):
        oof_mean[folds == k] += stages[t]
    e = x - oof_mean
    a = np.abs(e)
    prec = np.linalg.pinv(np.atleast_2d(np.cov(Zs, rowvar=False, bias=True)))
    feats = np.column_stack([Z, oof_mean, _mahalanobis(Zs, prec)])
    t_s, oof_scale = _boosted_oof(a, feats, folds, scale_params, lambda tr: float(a[tr].mean()))
    floor = SCALE_FLOOR * float(a.mean())
    oof_scale = np.maximum(oof_scale, floor)
    return {
        "params": params,
        "degree": degree,
        "scale_params": scale_params,
        "prec": prec,
        "oof_mean": oof_mean,
        "oof_scale": oof_scale,
        "u": e / oof_scale,
        "residuals": e,
        "abs_residuals": a,
        "scale_features": feats,
        "scale_floor": floor,
        "log_density": residual_log_density(e, oof_scale, folds),
        "linear_log_density": residual_log_density(x - lin, np.ones_like(x), folds),
        "n_trees": t,
        "n_scale_trees": t_s,
    }


def finish_boosting(parts: dict, x: np.ndarray, Z: np.ndarray, Zs: np.ndarray) -> dict:
    """Full-data fits of a :func:`fit_boosting` model with its chosen numbers of trees: the
    regression ``beta`` on ``design(Zs, degree)``, the ``tree`` model of its residuals (None
    for 0 trees), the ``scale_tree`` (None: the constant ``scale_const``, the mean
    :math:`|e|`)."""
    D = design(Zs, parts["degree"])
    beta = np.linalg.lstsq(D, x, rcond=None)[0]
    tree = None
    if parts["n_trees"] > 0:
        tree = HistGradientBoostingRegressor(
            early_stopping=False,
            random_state=0,
            **{**parts["params"], "max_iter": parts["n_trees"]},
        ).fit(Z, x - D @ beta)
    scale_tree = None
    if parts["n_scale_trees"] > 0:
        scale_tree = HistGradientBoostingRegressor(
            early_stopping=False,
            random_state=0,
            **{**parts["scale_params"], "max_iter": parts["n_scale_trees"]},
        ).fit(parts["scale_features"], parts["abs_residuals"])
    return {
        **parts,
        "beta": beta,
        "tree": tree,
        "scale_tree": scale_tree,
        "scale_const": float(parts["abs_residuals"].mean()),
    }


# ---------------------------------------------------------------------- discrete columns
def _full_proba(model, Z: np.ndarray, n_levels: int) -> np.ndarray:
    """``predict_proba`` of a classifier fitted on codes, as ``(m, n_levels)`` (levels absent
    from its training rows get probability 0)."""
    out = np.zeros((Z.shape[0], n_levels))
    out[:, model.classes_.astype(np.intp)] = model.predict_proba(Z)
    return out


def row_log_prob(proba: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-row log probability of the observed level (floored at ``_LOG_FLOOR``)."""
    return np.log(np.clip(proba[np.arange(codes.size), codes], _LOG_FLOOR, None))


def logistic_oof(codes, n_levels, Zs, folds, C) -> np.ndarray:
    """Out-of-fold probabilities ``(n, L)`` of (multinomial) logistic regression."""
    out = np.zeros((codes.size, n_levels))
    for k in range(int(folds.max()) + 1):
        te = folds == k
        tr_codes = codes[~te]
        if np.unique(tr_codes).size < 2:
            out[np.ix_(te, tr_codes[:1])] = 1.0
            continue
        clf = LogisticRegression(C=C, max_iter=1000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence under (quasi-)separation
            clf.fit(Zs[~te], tr_codes)
        out[te] = _full_proba(clf, Zs[te], n_levels)
    return out


def _prior(codes: np.ndarray, n_levels: int) -> np.ndarray:
    return np.bincount(codes, minlength=n_levels) / codes.size


def fit_classifier(
    codes: np.ndarray, n_levels: int, Z: np.ndarray, folds: np.ndarray, params=None
) -> dict:
    """Fit the ``"classifier"`` model: boosted trees of the level codes on ``Z``, the number of
    trees (0..max_iter; 0: the level frequencies) chosen by the out-of-fold log-loss.

    Returns a dict with ``classifier`` (full data, or None for 0 trees), ``prior``,
    ``oof_proba`` ``(n, L)``, per-row ``log_prob`` and ``n_trees``.
    """
    params = {**CLASSIFIER, **(params or {})}
    loss = None
    oof = []
    for k in range(int(folds.max()) + 1):
        te = folds == k
        m = int(te.sum())
        prior = _prior(codes[~te], n_levels)
        stages = [np.broadcast_to(prior, (m, n_levels))]
        if np.unique(codes[~te]).size >= 2:
            clf = HistGradientBoostingClassifier(
                early_stopping=False, random_state=0, **params
            ).fit(Z[~te], codes[~te])
            cols = clf.classes_.astype(np.intp)
            for p in clf.staged_predict_proba(Z[te]):
                full = np.zeros((m, n_levels))
                full[:, cols] = p
                stages.append(full)
        else:  # one level in the training fold: the prior at every stage
            stages += [stages[0]] * int(params["max_iter"])
        stages = np.stack(stages)  # (T + 1, m, L)
        ll = -np.log(np.clip(stages[:, np.arange(m), codes[te]], _LOG_FLOOR, None)).sum(axis=1)
        loss = ll if loss is None else loss + ll
        oof.append(stages)
    t = int(np.argmin(loss))
    oof_proba = np.empty((codes.size, n_levels))
    for k, stages in enumerate(oof):
        oof_proba[folds == k] = stages[t]
    classifier = None
    if t > 0:
        classifier = HistGradientBoostingClassifier(
            early_stopping=False, random_state=0, **{**params, "max_iter": t}
        ).fit(Z, codes)
    return {
        "classifier": classifier,
        "prior": _prior(codes, n_levels),
        "oof_proba": oof_proba,
        "log_prob": row_log_prob(oof_proba, codes),
        "n_trees": t,
    }
