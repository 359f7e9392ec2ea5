r"""p-values and intervals of the held-out conditional tests (HRT and CPI).

The losses come from :func:`sensitivity.holdout.holdout_losses`: for ``k`` tested variables and
``m`` held-out rows, the row losses with the real inputs ``base (m,)``, the per-row mean loss
increases :math:`\Delta_i` under ``B`` conditional draws ``delta (k, m)`` and the total loss of
each draw :math:`T_b = \sum_i \ell_i^{(b)}` ``draw_total (k, B)``.

* Holdout randomization test (Tansey et al. 2022): with :math:`T = \sum_i \ell_i`,
  :math:`p = (1 + \#\{b : T_b \le T\}) / (1 + B)` (:func:`hrt_pvalues`).
* Conditional predictive impact (Watson & Wright 2021): one-sided :math:`t`-test of
  :math:`E\Delta \le 0`, :math:`p = 1 - F_{t,m-1}(\bar\Delta / (s_\Delta / \sqrt m))`, and the
  two-sided :math:`1 - \alpha` interval :math:`\bar\Delta \pm t_{m-1,1-\alpha/2}\,
  s_\Delta/\sqrt m` (:func:`cpi_ttest`).

References
----------
Tansey, W., Veitch, V., Zhang, H., Rabadan, R. & Blei, D. M. (2022). The holdout randomization
test for feature selection in black box models. *Journal of Computational and Graphical
Statistics* 31(1), 151-162.

Watson, D. S. & Wright, M. N. (2021). Testing conditional independence in supervised learning
algorithms. *Machine Learning* 110, 2107-2129.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.utils import Bunch

from .pvalues import permutation_pvalues, smallest_attainable_p

__all__ = [
    "cpi_ttest",
    "holdout_pvalues",
    "hrt_pvalues",
    "min_heldout_rows",
    "row_rank_pvalues",
]


def hrt_pvalues(base: np.ndarray, draw_total: np.ndarray) -> np.ndarray:
    r"""Holdout randomization test p-values.

    .. math:: p_j = \frac{1 + \#\{b : T_{jb} \le T\}}{1 + B},\qquad T = \sum_i \ell_i

    (a draw is "at least as extreme" when its total loss is at most the observed one; exact in
    finite samples when the draws are exchangeable with the real column, Tansey et al. 2022).

    Parameters
    ----------
    base : ndarray of shape (m,)
        Row losses with the real inputs.
    draw_total : ndarray of shape (k, B)
        Total held-out loss of each draw, per variable.

    Returns
    -------
    ndarray of shape (k,)
    """
    base = np.asarray(base, dtype=np.float64)
    draw_total = np.asarray(draw_total, dtype=np.float64)
    if draw_total.ndim != 2 or draw_total.shape[1] < 1:
        raise ValueError(f"draw_total must be (k, B) with B >= 1; got shape {draw_total.shape}.")
    p = permutation_pvalues(np.full(draw_total.shape[0], -base.sum()), -draw_total.T, signed=False)
    return np.asarray(p, dtype=np.float64)


def cpi_ttest(delta: np.ndarray, alpha: float = 0.05) -> Bunch:
    r"""One-sided :math:`t`-test and :math:`t`-interval of the conditional predictive impact.

    With :math:`\bar\Delta` and :math:`s_\Delta` the mean and sd of the ``m`` per-row loss
    increases, :math:`t = \bar\Delta / (s_\Delta/\sqrt m)`,
    :math:`p = 1 - F_{t,m-1}(t)` (:math:`H_0: E\Delta \le 0`; Watson & Wright 2021) and the
    interval is :math:`\bar\Delta \pm t_{m-1,1-\alpha/2}\, s_\Delta/\sqrt m`. A variable with
    :math:`\Delta_i = 0` on every row (the model ignores it) gets :math:`p = 1`.

    Parameters
    ----------
    delta : ndarray of shape (k, m)
        Per-row mean loss increases, ``m >= 2``.
    alpha : float, default=0.05
        The interval has level ``1 - alpha``.

    Returns
    -------
    Bunch with ``importance`` (:math:`\bar\Delta`), ``std_error``, ``t``, ``p_value``,
    ``ci_low``, ``ci_high``, each ``(k,)``.
    """
    delta = np.asarray(delta, dtype=np.float64)
    if delta.ndim != 2 or delta.shape[1] < 2:
        raise ValueError(f"delta must be (k, m) with m >= 2 rows; got shape {delta.shape}.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}.")
    m = delta.shape[1]
    imp = delta.mean(axis=1)
    se = delta.std(axis=1, ddof=1) / np.sqrt(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, imp / np.where(se > 0, se, 1.0), np.where(imp > 0, np.inf, -np.inf))
    p = np.where((se == 0) & (imp == 0), 1.0, stats.t.sf(t, df=m - 1))
    half = stats.t.ppf(1 - alpha / 2, df=m - 1) * se
    return Bunch(
        importance=imp, std_error=se, t=t, p_value=p, ci_low=imp - half, ci_high=imp + half
    )


def row_rank_pvalues(at_most: np.ndarray, n_draws: int) -> np.ndarray:
    r"""Row-rank test of the held-out conditional test: robust to a few rows with huge losses.

    For held-out row :math:`i`, :math:`u_i = (1 + \#\{b : \ell_i^{(b)} \le \ell_i\}) / (1 + B)`
    is the rank of the real column's loss among the real one and the :math:`B` draws'. Under
    :math:`H_{0j}`, with draws from the right conditional law, the real value is exchangeable
    with the draws given the row's other inputs and target, so :math:`u_i` is uniform on
    :math:`\{1, \dots, B + 1\} / (B + 1)` (ties, e.g. an input the model ignores, only make
    it larger) and the :math:`u_i` of different held-out rows are independent (each row has
    its own draws; the model and the conditional model come from other rows). The statistic
    is their mean :math:`ar u` with :math:`Ear u = (B + 2) / (2(B + 1))` and
    :math:`\mathrm{Var}\,ar u = ((B + 1)^2 - 1) / (12 (B + 1)^2 m)`; the one-sided p-value
    is :math:`\Phi((ar u - Ear u) / \mathrm{sd}\,ar u)` (the mean of :math:`m \ge 20`
    independent uniforms is normal to well within the resolution that matters here). Unlike
    the total-loss statistic of :func:`hrt_pvalues`, each row weighs at most :math:`1/m`: a
    heavy-tailed input or a network that extrapolates wildly on a few rows cannot decide the
    p-value alone.

    Parameters
    ----------
    at_most : ndarray of shape (k, m)
        Per variable and row, the number of draws whose loss is at most the real one's.
    n_draws : int
        :math:`B`.

    Returns
    -------
    ndarray of shape (k,)
    """
    at_most = np.asarray(at_most, dtype=np.float64)
    if at_most.ndim != 2 or at_most.shape[1] < 2:
        raise ValueError(f"at_most must be (k, m) with m >= 2 rows; got shape {at_most.shape}.")
    B1 = float(n_draws) + 1.0
    u = (1.0 + at_most) / B1
    m = at_most.shape[1]
    mean = (B1 + 1.0) / (2.0 * B1)
    sd = np.sqrt((B1**2 - 1.0) / (12.0 * B1**2 * m))
    return np.asarray(stats.norm.cdf((u.mean(axis=1) - mean) / sd), dtype=np.float64)


def holdout_pvalues(
    base: np.ndarray, delta: np.ndarray, draw_total: np.ndarray, alpha: float
) -> Bunch:
    """Both tests from the losses of :func:`sensitivity.holdout.holdout_losses`.

    The losses may be pooled over the folds of a cross-fit (rows concatenated, draw totals
    summed). See :func:`hrt_pvalues` and :func:`cpi_ttest` for the formulas.

    Returns
    -------
    Bunch with ``importance`` (mean loss increase, CPI), ``std_error``, ``t``, ``p_hrt``
    (holdout randomization test), ``p_cpi`` (one-sided t-test), ``ci_low``/``ci_high``
    (two-sided ``1 - alpha`` t-interval), each ``(k,)``.
    """
    cpi = cpi_ttest(delta, alpha)
    return Bunch(
        importance=cpi.importance,
        std_error=cpi.std_error,
        t=cpi.t,
        p_hrt=hrt_pvalues(base, draw_total),
        p_cpi=cpi.p_value,
        ci_low=cpi.ci_low,
        ci_high=cpi.ci_high,
    )


def min_heldout_rows(alpha: float, n_tests: int, p_adjust: str | None) -> int:
    """Fewest held-out rows ``m`` at which a test can reach ``alpha`` (after adjustment).

    A loss increase on every row is the strongest evidence ``m`` rows can give; its sign-test
    p-value is :math:`2^{-m}`, so ``m`` must satisfy
    ``smallest_attainable_p(2**m - 1, n_tests, p_adjust) <= alpha``.
    """
    m = 1
    while smallest_attainable_p(2**m - 1, n_tests, p_adjust) > alpha * (1 + 1e-9):
        m += 1
    return m
