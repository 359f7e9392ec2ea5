r"""A check of a conditional model: a classifier two-sample test of real against drawn columns.

A conditional test of :math:`x_j` is right only if the draws :math:`\tilde x_j` have the law of
:math:`x_j` given :math:`z = x_{-j}`; a wrong model puts a fitted network off its data
(``DESIGN.md`` §7). :func:`check_conditional` asks whether a classifier can tell the real pairs
:math:`(x_{ij}, z_i)` from drawn pairs :math:`(\tilde x_{ij}, z_i)` on rows the conditional model
was not fitted on (Lopez-Paz & Oquab 2017).

The test
--------
Each evaluation row :math:`i` gives one real pair (label 1) and one drawn pair (label 0, one
draw). The pairs are split into ``n_folds`` folds *by row* (a row's real and drawn pair always in
the same fold); for each fold a classifier is trained on the other folds' pairs and scores the
fold's pairs, :math:`f(x_{ij}, z_i)` and :math:`f(\tilde x_{ij}, z_i)`. Features: the column,
the other inputs, and what the model says about the column: the standardized residual
:math:`(x_j - \hat m(z)) / \hat s(z)` for a model with a mean (gaussian kinds: :math:`\hat s` the
residual sd; boosting: its scale model), the log probability of the level under the model for a
discrete one.

* ``auc``: the held-out area under the ROC curve of real against drawn pairs (per fold, averaged
  with the folds' sizes as weights); 0.5 is chance.
* ``p_value``: a one-sided *paired sign test*. ``n_wins`` counts the pairs whose real member the
  classifier scores higher than the drawn one, ``n_ties`` the pairs it scores equally (e.g. a
  discrete draw equal to the real level); :math:`p = P(\mathrm{Bin}(n - n_\mathrm{ties}, 1/2)
  \ge n_\mathrm{wins})`.

Why the sign test is valid: if the model is right, then given :math:`z_i` the real and the drawn
value of row :math:`i` are independent draws from the same law, hence exchangeable; a classifier
trained without row :math:`i` scores them as :math:`(f(a), f(b))` with :math:`(a, b)`
exchangeable, so which member scores higher is a fair coin, independently over the rows of the
fold given the other folds. Each fold's count is therefore exactly binomial. Pooled over folds
it is approximately so (the folds' classifiers share training rows, a weak dependence between
the folds' counts); the measured rejection rate of a right model at level 0.05 is reported in
``benchmarks/bench_conditional_models.py``. A Mann-Whitney test of the AUC would instead assume
independent real and drawn samples, which pairs sharing :math:`z_i` are not, and the sign test
needs no variance estimate. A model fitted on estimated parameters is never exactly right, so with
many rows any model is eventually rejected: read ``auc`` as the size of the discrepancy.

References
----------
Lopez-Paz, D. & Oquab, M. (2017). Revisiting classifier two-sample tests. *International
Conference on Learning Representations*.

Friedman, J. H. (2004). On multivariate goodness-of-fit and two-sample testing. Stanford
technical report (the classifier two-sample idea).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from scipy.stats import binom, rankdata
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from . import _boosting
from ._models import ConditionalModel

__all__ = ["ConditionalCheck", "check_conditional"]

CHECK_CLASSIFIER = {
    "learning_rate": 0.1,
    "max_iter": 50,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 10,
    "max_bins": 64,
}
"""The boosted classifier of :func:`check_conditional` (scikit-learn
``HistGradientBoostingClassifier``)."""


@dataclass(frozen=True)
class ConditionalCheck:
    """Result of :func:`check_conditional` for one conditional model.

    Attributes
    ----------
    name, kind : str
        The variable and the kind of its conditional model.
    auc : float
        Held-out AUC of the classifier telling real from drawn pairs (0.5: chance).
    p_value : float
        One-sided paired sign test that the classifier scores the real member of a pair above
        the drawn one more often than chance (small: the model's draws are distinguishable).
    n_pairs, n_wins, n_ties : int
        Evaluation rows; pairs whose real member scored higher; pairs scored equally.
    """

    name: str
    kind: str
    auc: float
    p_value: float
    n_pairs: int
    n_wins: int
    n_ties: int

    @property
    def pair_accuracy(self) -> float:
        """Share of untied pairs whose real member scored higher (0.5: chance)."""
        untied = self.n_pairs - self.n_ties
        return self.n_wins / untied if untied else float("nan")


def _features(model: ConditionalModel, X: np.ndarray, col: np.ndarray) -> np.ndarray:
    """``[x_j, x_-j, what the model says about x_j]`` for the column values ``col``."""
    others = np.delete(X, model.index, axis=1)
    parts = [col[:, None], others]
    if model.kind in ("gaussian", "gaussian-normal"):
        parts.append(((col - model.predict_mean(X)) / model.noise_sd)[:, None])
    elif model.kind == "boosting":
        parts.append(((col - model.predict_mean(X)) / model.predict_scale(X))[:, None])
    elif model.levels is not None:
        proba = model.predict_proba(X)
        idx = np.clip(np.searchsorted(model.levels, col), 0, model.levels.size - 1)
        known = model.levels[idx] == col
        p = np.where(known, proba[np.arange(col.size), idx], 0.0)
        parts.append(np.log(np.clip(p, 1e-12, None))[:, None])
    return np.column_stack(parts)


def _auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUC: P(score of a real pair > a drawn pair) + half the ties."""
    r = rankdata(np.concatenate([pos, neg]))
    return float((r[: pos.size].sum() - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def _classifier(kind: str):
    if kind == "boosting":
        return HistGradientBoostingClassifier(
            early_stopping=False, random_state=0, **CHECK_CLASSIFIER
        )
    return LogisticRegression(C=1.0, max_iter=1000)


def _logistic_features(F: np.ndarray, center, scale) -> np.ndarray:
    Fs = (F - center) / scale
    return np.column_stack([Fs, Fs * Fs])


def check_conditional(
    model: ConditionalModel,
    X_eval,
    rng: np.random.Generator | int | None = None,
    *,
    n_folds: int = 5,
    classifier: str = "boosting",
) -> ConditionalCheck:
    """Classifier two-sample test of a conditional model on rows it was not fitted on.

    Parameters
    ----------
    model : ConditionalModel
        From :func:`fit_conditional_models`.
    X_eval : array-like of shape (m, p)
        Full rows the model was *not* fitted on (the check of the rows it was fitted on would
        reward overfitting); at least ``2 * n_folds`` of them.
    rng : numpy Generator, int or None
        Source of the draws (one per row) and of the folds; same ``rng``, same result.
    n_folds : int, default 5
        Folds of the cross-fitted classifier (by row: a row's real and drawn pairs together).
    classifier : {"boosting", "logistic"}, default "boosting"
        Boosted trees (``CHECK_CLASSIFIER``), or a logistic regression on the standardized
        features and their squares.

    Returns
    -------
    ConditionalCheck
        ``auc`` (held-out, 0.5: chance) and ``p_value`` (one-sided paired sign test; see the
        module docstring for why it is valid), with the counts.
    """
    if not isinstance(model, ConditionalModel):
        raise TypeError(f"model must be a ConditionalModel; got {type(model).__name__}.")
    if classifier not in ("boosting", "logistic"):
        raise ValueError(f"classifier must be 'boosting' or 'logistic'; got {classifier!r}.")
    X = model._check_rows(np.asarray(X_eval, dtype=np.float64))
    m = X.shape[0]
    if not isinstance(n_folds, Integral) or isinstance(n_folds, bool) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2; got {n_folds!r}.")
    if m < 2 * n_folds:
        raise ValueError(
            f"check_conditional needs at least 2 * n_folds = {2 * n_folds} evaluation rows; "
            f"got {m}."
        )
    real = X[:, model.index]
    if not np.all(np.isfinite(real)):
        raise ValueError(f"X_eval contains missing or infinite values in {model.name}.")
    rng = np.random.default_rng(rng)
    drawn = model.sample(rng, 1, Z=X)[0]
    folds = rng.permutation(m) % n_folds
    with _boosting.one_openmp_thread():
        F1, F0 = _features(model, X, real), _features(model, X, drawn)
        s1 = np.empty(m)
        s0 = np.empty(m)
        auc = 0.0
        for k in range(n_folds):
            te = folds == k
            F = np.vstack([F1[~te], F0[~te]])
            y = np.repeat([1, 0], int((~te).sum()))
            A, B = F1[te], F0[te]
            if classifier == "logistic":
                center, scale = F.mean(axis=0), F.std(axis=0)
                scale = np.where(scale > 0, scale, 1.0)
                F, A, B = (_logistic_features(G, center, scale) for G in (F, A, B))
            clf = _classifier(classifier).fit(F, y)
            s1[te] = clf.decision_function(A)
            s0[te] = clf.decision_function(B)
            auc += _auc(s1[te], s0[te]) * te.sum() / m
    d = s1 - s0
    wins = int(np.sum(d > 0))
    ties = int(np.sum(d == 0))
    untied = m - ties
    p = float(binom.sf(wins - 1, untied, 0.5)) if untied else 1.0
    return ConditionalCheck(
        name=model.name,
        kind=model.kind,
        auc=float(auc),
        p_value=p,
        n_pairs=m,
        n_wins=wins,
        n_ties=ties,
    )
