r"""p-values, multiple-testing adjustment and bootstrap intervals from null / bootstrap arrays.

Randomization p-values (Phipson & Smyth 2010; Davison & Hinkley 1997, eq. 4.11):

.. math::

    p = \frac{1 + \#\{b : T_b \text{ at least as extreme as } T_{obs}\}}{1 + B}

"at least as extreme" is ``|T_b| >= |T_obs|`` for signed statistics (two-sided) and
``T_b >= T_obs`` for magnitudes (upper tail). The smallest attainable p is ``1 / (1 + B)``; a
hypothesis is rejected when its (adjusted) p is at most ``alpha``, which keeps the level exactly.

The global test of the response permutation uses the min-p statistic (Westfall & Young 1993,
§2.6): every network's per-variable p-values are computed against the same null, and the
observed smallest p is compared with the smallest p of each null network, so the test does not
depend on the variables' units.

References
----------
Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero. Stat. Appl.
Genet. Mol. Biol. 9(1).
Westfall, P. H. & Young, S. S. (1993). Resampling-Based Multiple Testing. Wiley.
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
"""

from __future__ import annotations

import gc

import numpy as np
from statsmodels.stats.multitest import multipletests

from .._warnings import warn

__all__ = [
    "P_ADJUST_METHODS",
    "adjust_pvalues",
    "bootstrap_interval",
    "min_p_global",
    "permutation_pvalues",
    "permutations_needed",
    "resolution_message",
    "smallest_attainable_p",
    "warn_resolution",
]

#: ``statsmodels.stats.multitest.multipletests`` method names (None: no adjustment).
P_ADJUST_METHODS = (
    "bonferroni",
    "sidak",
    "holm-sidak",
    "holm",
    "simes-hochberg",
    "hommel",
    "fdr_bh",
    "fdr_by",
    "fdr_tsbh",
    "fdr_tsbky",
)

_REL_TIES = 1e-9


def permutation_pvalues(observed, null, *, signed: bool) -> np.ndarray:
    r"""Randomization-test p-values ``(1 + #{null at least as extreme}) / (1 + B)``.

    Parameters
    ----------
    observed : array-like of shape S
        Observed statistic.
    null : array-like of shape (B,) + S
        Statistic on ``B`` networks trained under the null.
    signed : bool
        Two-sided on absolute values (True) or upper-tailed (False).

    Returns
    -------
    ndarray of shape S
        In ``[1/(1+B), 1]``. Values within a relative ``1e-9`` of the observed one count as
        at least as extreme (ties never make a p-value smaller). A null value that is NaN (a
        statistic undefined for that network, e.g. Garson's importance of a network whose
        weights all decayed to zero) counts as less extreme: that network found no effect.
    """
    obs = np.asarray(observed, dtype=np.float64)
    nul = np.asarray(null, dtype=np.float64)
    if nul.shape[1:] != obs.shape:
        raise ValueError(f"null has shape {nul.shape}; expected (B, *{obs.shape}).")
    if signed:
        obs, nul = np.abs(obs), np.abs(nul)
    count = (nul >= obs - _REL_TIES * np.abs(obs)).sum(axis=0)
    return (1.0 + count) / (1.0 + nul.shape[0])


def min_p_global(observed, null, *, signed: bool) -> float:
    r"""Global p-value of the min-p statistic over all (output, variable) statistics.

    Each of the ``B + 1`` networks (observed first) gets per-statistic p-values against the
    ``B`` null networks; ``m_b = min`` over statistics. Then

    .. math:: p = \frac{1 + \#\{b : m_b \le m_{obs}\}}{1 + B}

    Exact under the global null for exchangeable networks (Westfall & Young 1993, §2.6).
    """
    obs = np.asarray(observed, dtype=np.float64)
    nul = np.asarray(null, dtype=np.float64)
    allv = np.concatenate([obs[None], nul])
    if signed:
        allv = np.abs(allv)
    flat = allv.reshape(allv.shape[0], -1)
    flat = np.where(np.isnan(flat), -np.inf, flat)  # undefined: least extreme
    nulf = flat[1:]
    # p of every network's statistic against the null networks (rank counts per column)
    srt = np.sort(nulf, axis=0)
    B = nulf.shape[0]
    thr = flat - _REL_TIES * np.abs(np.where(np.isfinite(flat), flat, 0.0))
    counts = np.stack(
        [B - np.searchsorted(srt[:, k], thr[:, k], side="left") for k in range(flat.shape[1])],
        axis=1,
    )
    m = ((1.0 + counts) / (1.0 + B)).min(axis=1)
    return float((1.0 + np.sum(m[1:] <= m[0] * (1 + _REL_TIES))) / (1.0 + B))


def adjust_pvalues(p, method: str | None) -> np.ndarray:
    """Adjust all p-values together with ``statsmodels``' ``multipletests`` (None: unchanged).

    NaN p-values are left out of the adjustment and stay NaN.
    """
    p = np.asarray(p, dtype=np.float64)
    if method is None:
        return p.copy()
    if method not in P_ADJUST_METHODS:
        raise ValueError(f"p_adjust must be one of {P_ADJUST_METHODS} or None; got {method!r}.")
    flat = p.ravel()
    ok = ~np.isnan(flat)
    out = np.full_like(flat, np.nan)
    if ok.any():
        out[ok] = _multipletests(flat[ok], method)
    return out.reshape(p.shape)


def _multipletests(p: np.ndarray, method: str) -> np.ndarray:
    """``multipletests(p, method)[1]``, without the cost of the full garbage collection that
    statsmodels' Holm step runs (``gc.collect()``: 0.09 s per call with torch loaded). The
    objects that exist before the call are frozen (``gc.freeze``) so that collection scans only
    new ones, then unfrozen; nothing else changes."""
    if gc.get_freeze_count():  # the caller froze objects itself: leave its state alone
        return multipletests(p, method=method)[1]
    gc.freeze()
    try:
        return multipletests(p, method=method)[1]
    finally:
        gc.unfreeze()


def smallest_attainable_p(n_permutations: int, n_tests: int, method: str | None) -> float:
    """Smallest adjusted p-value ``n_permutations`` permutations can give for ``n_tests``."""
    p_min = 1.0 / (1.0 + n_permutations)
    return float(adjust_pvalues(np.full(n_tests, p_min), method).min())


def permutations_needed(n_tests: int, alpha: float, method: str | None) -> int:
    """Fewest permutations for which the smallest attainable adjusted p is at most alpha."""
    lo, hi = 1, 10
    while smallest_attainable_p(hi, n_tests, method) > alpha * (1 + _REL_TIES):
        lo, hi = hi, hi * 2
    while lo < hi:
        mid = (lo + hi) // 2
        if smallest_attainable_p(mid, n_tests, method) > alpha * (1 + _REL_TIES):
            lo = mid + 1
        else:
            hi = mid
    return lo


def resolution_message(
    n_permutations: int, n_tests: int, alpha: float, method: str | None
) -> str | None:
    """Why no variable can be significant, or None when some p-value can reach ``alpha``.

    With ``B`` permutations the smallest p-value is ``1 / (1 + B)``; after an adjustment over
    ``n_tests`` p-values (Holm: times ``n_tests``) it may stay above ``alpha`` whatever the
    data, and a table without stars would then read as "nothing matters". This one sentence is
    the warning of the fit (:func:`warn_resolution`, also printed by the command line) and the
    warning of every report (summary, Markdown, LaTeX).
    """
    if not n_permutations:
        return None
    smallest = smallest_attainable_p(n_permutations, n_tests, method)
    if smallest <= alpha * (1 + _REL_TIES):
        return None
    adj = f" after {method} adjustment over {n_tests} tests" if method else ""
    return (
        f"With n_permutations={n_permutations} the smallest attainable p-value{adj} is "
        f"{smallest:.4g} > alpha={alpha:g}: no variable can be significant, so a variable "
        "without a star is not shown to be unimportant. Use at least "
        f"{permutations_needed(n_tests, alpha, method)} permutations."
    )


def warn_resolution(n_permutations: int, n_tests: int, alpha: float, method) -> None:
    """Warn when no p-value can reach ``alpha`` after adjustment (:func:`resolution_message`)."""
    message = resolution_message(n_permutations, n_tests, alpha, method)
    if message:
        warn(message, UserWarning)


INTERVAL_METHODS = ("percentile", "basic", "bc")


def bootstrap_interval(
    boot, alpha: float, observed=None, method: str = "percentile"
) -> tuple[np.ndarray, np.ndarray]:
    r"""Bootstrap interval of level ``1 - alpha`` from the bootstrap statistics (axis 0).

    ``"percentile"``: the ``alpha/2`` and ``1 - alpha/2`` quantiles :math:`q_{lo}, q_{hi}` of
    the bootstrap statistics (Efron & Tibshirani 1993, §13.3).
    ``"basic"``: :math:`(2\hat\theta - q_{hi},\ 2\hat\theta - q_{lo})` (Davison & Hinkley
    1997, eq. 5.6), which corrects a bias of the estimator that the bootstrap reproduces.
    ``"bc"``: bias-corrected percentile (Efron & Tibshirani 1993, §14.3 with acceleration 0):
    quantiles at :math:`\Phi(2 z_0 \pm z_{1-\alpha/2})` with
    :math:`z_0 = \Phi^{-1}(\#\{\hat\theta^*_b < \hat\theta\} / B)` (ties count half).
    ``observed`` (:math:`\hat\theta`, the statistic of the analysed network) is needed by the
    last two.
    """
    boot = np.asarray(boot, dtype=np.float64)
    if np.isnan(boot).any():
        raise ValueError(
            "The statistic is undefined (NaN) for some bootstrap networks (all their connection "
            "weights are zero): no interval. Consider a smaller train_alpha."
        )
    if method not in INTERVAL_METHODS:
        raise ValueError(f"method must be one of {INTERVAL_METHODS}; got {method!r}.")
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    if method == "percentile":
        return lo, hi
    if observed is None:
        raise ValueError(f"The {method!r} interval needs the observed statistic.")
    theta = np.broadcast_to(np.asarray(observed, dtype=np.float64), boot.shape[1:])
    if method == "basic":
        return 2 * theta - hi, 2 * theta - lo
    from scipy.stats import norm

    B = boot.shape[0]
    below = (boot < theta).sum(axis=0) + 0.5 * (boot == theta).sum(axis=0)
    z0 = norm.ppf(np.clip(below / B, 0.5 / B, 1 - 0.5 / B))
    z = norm.ppf(1 - alpha / 2)
    q_lo, q_hi = norm.cdf(2 * z0 - z), norm.cdf(2 * z0 + z)
    flat = boot.reshape(B, -1)
    out_lo = np.array([np.quantile(flat[:, i], q) for i, q in enumerate(q_lo.ravel())])
    out_hi = np.array([np.quantile(flat[:, i], q) for i, q in enumerate(q_hi.ravel())])
    return out_lo.reshape(theta.shape), out_hi.reshape(theta.shape)
