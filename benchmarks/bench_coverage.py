"""Coverage of the bootstrap intervals of the mean partial derivative (issue 11).

Linear truth y = X beta + N(0, 1), beta = (1, 0.5, 0, -0.5, 0), 5 standard normal inputs,
n = 200: the mean partial derivative of a network that fits the truth is beta. For each data
set ``Dimopoulos(statistic="mean", n_bootstrap=...)`` (defaults otherwise: cross-validated
penalty) gives a 95 % percentile interval; reported: the fraction of data sets whose interval
covers beta_j, with its binomial standard error, and the mean estimate.

Run: ``PYTHONPATH=. python benchmarks/bench_coverage.py [n_datasets] [n_bootstrap]``.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from sklearn.neural_network import MLPRegressor

from sensitivity import Dimopoulos

BETA = np.array([1.0, 0.5, 0.0, -0.5, 0.0])


def main(n_datasets: int = 100, n_boot: int = 199, activation: str = "tanh") -> None:
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    cover = np.zeros(5)
    est = np.zeros(5)
    for s in range(n_datasets):
        rng = np.random.default_rng(s)
        X = rng.normal(size=(200, 5))
        y = X @ BETA + rng.normal(size=200)
        net = MLPRegressor(hidden_layer_sizes=(10,), activation=activation, max_iter=300)
        sa = Dimopoulos(net, statistic="mean", n_bootstrap=n_boot, random_state=s).fit(X, y)
        f = sa.importances_.reindex([f"x{j}" for j in range(5)])
        cover += (f["ci_low"].to_numpy() <= BETA) & (BETA <= f["ci_high"].to_numpy())
        est += f["importance"].to_numpy()
    c = cover / n_datasets
    print(f"{activation} MLP (10,), n=200, {n_boot} bootstrap networks, {n_datasets} data sets "
          f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
    print(f"{'':<10}" + "".join(f"{f'x{j} ({BETA[j]:+.1f})':>14}" for j in range(5)))
    print(f"{'coverage':<10}" + "".join(f"{v:>14.3f}" for v in c))
    se = np.sqrt(c * (1 - c) / n_datasets)
    print(f"{'(s.e.)':<10}" + "".join(f"{v:>14.3f}" for v in se))
    print(f"{'mean est.':<10}" + "".join(f"{v:>14.3f}" for v in est / n_datasets))


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]) if a else 100, int(a[1]) if len(a) > 1 else 199, a[2] if len(a) > 2 else "tanh")
