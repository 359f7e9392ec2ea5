"""Validity of the randomization tests (issue 5).

1. ``null="response"``: y independent of X (n=100, 5 standard normal inputs, y standard normal),
   ``n_datasets`` data sets; the fraction of *global* p-values (min-p over the variables, the
   only p-value this null reports) <= 0.05 must lie in 0.03-0.07 (an exact test gives 0.05 with
   99 permutations).
2. ``null="variable"``: make_friedman1 (n=100, noise=1); the fraction for the noise variables
   x6-x10.

Run: ``PYTHONPATH=. python benchmarks/bench_validity.py [n_datasets] [methods] [which]``.
"""

from __future__ import annotations

import sys
import time
import warnings
from functools import partial

import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sensitivity import MIV, Dimopoulos, Garson, Olden

METHODS = {
    "Olden": Olden,
    "Garson": Garson,
    "Dimopoulos": Dimopoulos,  # statistic="ssd"
    "MIV": partial(MIV, perturbation="additive"),
}


def _pvalues(cls, X, y, seed, **kw):
    """p-values of one data set; all 1 when the statistic of the observed network is undefined
    (Garson of a network whose weights all decayed to zero: the estimator raises a clear error,
    and such a network has found no effect)."""
    try:
        return _pvalues_or_raise(cls, X, y, seed, **kw)
    except ValueError as exc:
        if "undefined" not in str(exc):
            raise
        UNDEFINED.append(seed)
        return np.ones(1 if kw.get("null") == "response" else X.shape[1])


UNDEFINED: list[int] = []


def _pvalues_or_raise(cls, X, y, seed, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        sa = cls(
            MLPRegressor(hidden_layer_sizes=(10,)),
            n_permutations=99,
            random_state=seed,
            p_adjust=None,
            **kw,
        ).fit(X, y)
    if kw.get("null") == "response":
        return np.array([sa.global_test_["p_value"]])
    return sa.importances_.reindex([f"x{i}" for i in range(X.shape[1])])["p_value"].to_numpy()


def response_null(n_datasets: int, methods) -> None:
    for name in methods:
        t0 = time.perf_counter()
        ps = []
        for seed in range(n_datasets):
            rng = np.random.default_rng(seed)
            X = rng.normal(size=(100, 5))
            y = rng.normal(size=100)
            ps.append(_pvalues(METHODS[name], X, y, seed, null="response")[0])
        ps = np.array(ps)
        frac = float((ps <= 0.05).mean())
        se = np.sqrt(frac * (1 - frac) / n_datasets)
        print(f"\nnull='response', y independent of X: {name}, {n_datasets} data sets, 99 "
              f"permutations ({time.perf_counter() - t0:.0f} s)")  # fmt: skip
        print(
            f"global test (min-p): P(p <= 0.05) = {frac:.3f} (binomial s.e. {se:.3f}); "
            f"mean p {ps.mean():.3f}"
        )
        if UNDEFINED:
            print(f"{len(UNDEFINED)} data sets with an undefined observed statistic (p = 1)")
            UNDEFINED.clear()


def variable_null(n_datasets: int, methods) -> None:
    for name in methods:
        t0 = time.perf_counter()
        ps = []
        for seed in range(n_datasets):
            X, y = make_friedman1(n_samples=100, noise=1.0, random_state=seed)
            ps.append(_pvalues(METHODS[name], X, y, seed, null="variable"))
        ps = np.array(ps)
        frac = (ps <= 0.05).mean(axis=0)
        print(f"\nnull='variable', make_friedman1: {name}, {n_datasets} data sets, 99 "
              f"permutations ({time.perf_counter() - t0:.0f} s)")  # fmt: skip
        print("variable        " + " ".join(f"{f'x{i + 1}':>6s}" for i in range(10)))
        print("P(p <= 0.05)    " + " ".join(f"{v:6.3f}" for v in frac))
        print(f"noise x6-x10 together: {frac[5:].mean():.3f}")


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    meths = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("Olden", "Garson")
    which = sys.argv[3] if len(sys.argv) > 3 else "both"
    if which in ("both", "response"):
        response_null(n, meths)
    if which in ("both", "variable"):
        variable_null(n, meths)
