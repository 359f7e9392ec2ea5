"""Power of the Olden randomization test at the estimators' defaults (issue 5).

make_friedman1 (n=500, noise=1.0): y depends on x1..x5 (x3 through a symmetric quadratic),
x6..x10 are noise. Given only ``MLPRegressor(hidden_layer_sizes=(10,))`` and 199 permutations,
count per variable the seeds in which it is significant (Holm-adjusted p <= 0.05).

Run: ``PYTHONPATH=. python benchmarks/bench_power.py [n_seeds] [methods]``.
"""

from __future__ import annotations

import sys
import time
import warnings
from functools import partial

import numpy as np
import pandas as pd
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
NAMES = [f"x{i}" for i in range(1, 11)]


def main(n_seeds: int = 10, methods=("Olden",), n_permutations: int = 199, **params) -> None:
    for name in methods:
        cls = METHODS[name]
        flags = np.zeros((n_seeds, 10), dtype=bool)
        pvals = np.zeros((n_seeds, 10))
        t0 = time.perf_counter()
        for seed in range(n_seeds):
            X, y = make_friedman1(n_samples=500, noise=1.0, random_state=seed)
            X = pd.DataFrame(X, columns=NAMES)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                sa = cls(
                    MLPRegressor(hidden_layer_sizes=(10,)),
                    n_permutations=n_permutations,
                    random_state=seed,
                    **params,
                ).fit(X, y)
            frame = sa.importances_.reindex(NAMES)
            flags[seed] = frame["significant"].to_numpy()
            pvals[seed] = frame["p_value"].to_numpy()
        wall = time.perf_counter() - t0
        signal = flags[:, [0, 1, 3, 4]].all(axis=1)
        noise_ok = flags[:, 5:].sum(axis=1) <= 1
        print(f"\n{name}: {n_seeds} seeds, {n_permutations} permutations, {params or 'defaults'}")
        print(
            pd.DataFrame(
                {"flagged (of seeds)": flags.sum(axis=0), "median p": np.median(pvals, axis=0)},
                index=NAMES,
            ).T.to_string()
        )
        print(
            f"seeds flagging x1,x2,x4,x5 and <=1 of x6-x10: {(signal & noise_ok).sum()}/"
            f"{n_seeds} (x3, a symmetric effect, flagged in {flags[:, 2].sum()}); "
            f"wall {wall:.1f} s ({wall / n_seeds:.1f} s per data set)"
        )


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    meths = tuple(sys.argv[2].split(",")) if len(sys.argv) > 2 else ("Olden",)
    extra = eval(sys.argv[3]) if len(sys.argv) > 3 else {}  # e.g. "{'train_alpha': 3.0}"
    main(n, meths, **extra)
