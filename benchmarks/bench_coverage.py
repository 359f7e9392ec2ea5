"""Coverage of the bootstrap intervals of the mean partial derivative (issue 11).

Linear truth y = X beta + N(0, 1), beta = (1, 0.5, 0, -0.5, 0), 5 standard normal inputs,
n = 200: the mean partial derivative of a network that fits the truth is beta. For each data
set ``Dimopoulos(statistic="mean", n_bootstrap=...)`` (defaults otherwise: cross-validated
penalty, bootstrap networks with a tenth of it) gives a 95 % percentile interval (the default)
and, from the same bootstrap networks and their full-data reference
(``inference_["bootstrap_reference"]``), the basic and bias-corrected ones; reported: the
fraction of data sets whose interval covers beta_j, with its binomial standard error, and the
mean estimate (the analysed network's, cross-validated penalty) and the mean reference
(bootstrap penalty).

Run: ``PYTHONPATH=. python benchmarks/bench_coverage.py [n_datasets] [n_bootstrap]``.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from sklearn.neural_network import MLPRegressor

from sensitivity import Dimopoulos
from sensitivity.inference import bootstrap_interval

BETA = np.array([1.0, 0.5, 0.0, -0.5, 0.0])


def main(n_datasets: int = 100, n_boot: int = 199, activation: str = "tanh") -> None:
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    methods = ("percentile", "basic", "bc")
    cover = np.zeros((3, 5))
    est = np.zeros(5)
    ref = np.zeros(5)
    for s in range(n_datasets):
        rng = np.random.default_rng(s)
        X = rng.normal(size=(200, 5))
        y = X @ BETA + rng.normal(size=200)
        net = MLPRegressor(hidden_layer_sizes=(10,), activation=activation, max_iter=300)
        sa = Dimopoulos(net, statistic="mean", n_bootstrap=n_boot, random_state=s).fit(X, y)
        f = sa.importances_.reindex([f"x{j}" for j in range(5)])
        est += f["importance"].to_numpy()
        theta = sa.inference_["bootstrap_reference"]
        ref += theta[0]
        for m, method in enumerate(methods):
            lo, hi = bootstrap_interval(sa.bootstrap_distribution_, 0.05, theta, method)
            cover[m] += (lo[0] <= BETA) & (BETA <= hi[0])
    c = cover / n_datasets
    print(f"{activation} MLP (10,), n=200, {n_boot} bootstrap networks, {n_datasets} data sets "
          f"({time.perf_counter() - t0:.0f} s); coverage of the 95 % intervals (s.e.)")  # fmt: skip
    print(f"{'':<12}" + "".join(f"{f'x{j} ({BETA[j]:+.1f})':>15}" for j in range(5)))
    for m, method in enumerate(methods):
        se = np.sqrt(c[m] * (1 - c[m]) / n_datasets)
        cells = (f"{v:>8.3f} ({s:.3f})" for v, s in zip(c[m], se, strict=True))
        print(f"{method:<12}" + "".join(cells))
    print(f"{'mean est.':<12}" + "".join(f"{v:>15.3f}" for v in est / n_datasets))
    print(f"{'mean ref.':<12}" + "".join(f"{v:>15.3f}" for v in ref / n_datasets))


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]) if a else 100, int(a[1]) if len(a) > 1 else 199, a[2] if len(a) > 2 else "tanh")
