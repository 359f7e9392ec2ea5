"""The clone refitter: the test's networks are clones of the user's estimator, refitted.

For models the batched trainer cannot rebuild (any scikit-learn estimator with ``fit``): each
network of the test is ``clone(estimator)`` fitted with the same ``random_state`` on the variant
of the data, through joblib. Slower than the batched trainer, but the training procedure is the
user's own.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from .. import adapters
from .batched import Fitted

__all__ = ["CloneRefitter"]


def _fit_clone(estimator, seed_names, seed, X, y, fit_params):
    model = clone(estimator)
    if seed_names:
        model.set_params(**dict.fromkeys(seed_names, seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, **fit_params)
    return model


class CloneRefitter:
    """Refits clones of ``estimator`` (same ``random_state``) on variants of ``(X, y)``.

    Parameters
    ----------
    estimator : scikit-learn estimator
    X, y : ndarray
    view : callable
        ``view(fitted_model)`` -> what the statistic receives (an MLPBatch or a model function).
    seed : numpy.random.SeedSequence
    n_init : int
        Clones fitted with different seeds on the observed data; the lowest loss is kept.
    n_jobs : int or None
    fit_params : dict
    """

    def __init__(
        self,
        estimator,
        X: np.ndarray,
        y,
        *,
        view: Callable,
        seed: np.random.SeedSequence,
        n_init: int = 1,
        n_jobs: int | None = None,
        fit_params: dict | None = None,
    ) -> None:
        if not hasattr(estimator, "fit") or not hasattr(estimator, "get_params"):
            raise TypeError(
                f"trainer='estimator' refits clones of the estimator; {type(estimator).__name__}"
                " is not a scikit-learn estimator. Use the held-out test "
                "(sensitivity.HoldoutConditionalTest) for a fitted model that cannot be refitted."
            )
        self.estimator = estimator
        self.X, self.y = X, np.asarray(y)
        self.view = view
        self.fit_params = fit_params or {}
        self.jobs = Parallel(n_jobs=n_jobs)
        self.seed_names = adapters.seed_params(estimator)
        seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=n_init)
        inits = self.jobs(
            delayed(_fit_clone)(estimator, self.seed_names, int(s), X, self.y, self.fit_params)
            for s in seeds
        )
        self.init_loss = np.asarray([adapters.training_loss(m, X, self.y) for m in inits])
        best = int(np.argmin(self.init_loss))
        self.seed = int(seeds[best])
        self.observed = inits[best]

    def _fit_all(self, datas) -> list:
        return self.jobs(
            delayed(_fit_clone)(self.estimator, self.seed_names, self.seed, Xd, yd, self.fit_params)
            for Xd, yd in datas
        )

    def fit(self, *, y_perm=None, col_values=None, sample_weight=None) -> Fitted:
        """As :meth:`BatchedRefitter.fit`; row 0 of the design is the observed model itself."""
        X, y = self.X, self.y
        if y_perm is not None:
            datas = ((X, y[pm]) for pm in y_perm)
        elif col_values is not None:

            def replaced(j, v):
                Xp = X.copy()
                Xp[:, j] = v
                return Xp

            datas = ((replaced(j, v), y) for j, v in zip(*col_values, strict=True))
        else:
            idx = (np.repeat(np.arange(X.shape[0]), c.astype(int)) for c in sample_weight)
            datas = ((X[i], y[i]) for i in idx)
        models = self._fit_all(datas)
        return Fitted([self.view(m) for m in models])

    def observed_fit(self) -> Fitted:
        """The analysed model: the best clone fitted on the observed data."""
        return Fitted([self.view(self.observed)])

    def describe(self) -> dict:
        return {
            "trainer": f"clones of {type(self.estimator).__name__} refitted (its own fit)",
            "penalty": "the estimator's own",
            "alpha": None,
        }
