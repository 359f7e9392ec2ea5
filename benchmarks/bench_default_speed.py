"""Time of the default test against the previous default, in the same run (issue 23).

Two jobs, each with the new default (``null="holdout"``: the held-out conditional test of
cross-fitted clones of the user's network) and the previous one (``null="conditional"``: the
refitting conditional randomization test, two-stage):

1. the README example: ``Olden`` on scikit-learn's diabetes data (442 rows, 10 inputs),
   StandardScaler + MLPRegressor((10,), lbfgs, alpha=1.0), 999 draws per variable;
2. ``sensitivity analyze`` with its default methods (Olden, Dimopoulos, MIV, Garson) on a
   Boston-shaped table written by this script (506 rows, 13 inputs: correlated, heavy-tailed,
   one binary and one integer-valued input; the Boston housing file itself cannot be shipped),
   999 draws per variable.

Each job runs ``repeats`` times (the minimum and the median are printed) with one torch and
one BLAS thread, and the ratio previous / new is printed. The load average is printed: on a
shared machine compare the ratios, not the seconds.

Run: ``PYTHONPATH=. python benchmarks/bench_default_speed.py [repeats] [--skip-previous-cli]``
(``--skip-previous-cli``: the previous default's ``analyze`` takes many minutes; skip it).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.linalg import toeplitz
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sensitivity import Olden, load_diabetes
from sensitivity.cli import main as cli_main
from sensitivity.estimators import _heldout


def boston_like(path: Path, seed: int = 0) -> None:
    """A 506 x 13 table shaped like the Boston housing data (written to ``path``)."""
    rng = np.random.default_rng(seed)
    p = 13
    Z = rng.standard_t(5, size=(506, p)) @ np.linalg.cholesky(toeplitz(0.6 ** np.arange(p))).T
    X = pd.DataFrame(Z, columns=[f"v{j}" for j in range(p)])
    X["v3"] = (Z[:, 3] > 1.0).astype(int)  # a binary input (like chas)
    X["v8"] = np.clip(np.round(2 * Z[:, 8] + 5), 1, 9)  # an integer index (like rad)
    y = 22 + 3 * Z[:, 5] - 2 * Z[:, 12] + 1.5 * np.tanh(Z[:, 0]) * Z[:, 7] + rng.normal(size=506)
    X.assign(medv=y).to_csv(path, index=False)


def readme(null: str) -> None:
    X, y = load_diabetes()
    mlp = MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=2000, alpha=1.0)
    net = make_pipeline(StandardScaler(), mlp.set_params(random_state=0))
    Olden(net, n_permutations=999, random_state=0, null=null).fit(X, y)


def analyze(null: str, csv: Path) -> None:
    with tempfile.TemporaryDirectory() as out:
        args = ["analyze", str(csv), "--target", "medv", "--out", out, "--quiet"]
        if cli_main([*args, "--null", null]) != 0:
            raise RuntimeError(f"sensitivity analyze --null {null} failed")


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        # each repeat from scratch: the estimators reuse the last cross-fitted test of the same
        # data and settings (which is what makes the 4 methods of analyze share one test)
        _heldout._CROSS_FIT_CACHE.clear()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str]) -> None:
    repeats = int(argv[0]) if argv and argv[0].isdigit() else 3
    skip_cli = "--skip-previous-cli" in argv
    torch.set_num_threads(1)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        csv = Path(tmp) / "boston_like.csv"
        boston_like(csv)
        jobs = [
            ("README example (Olden, 999 draws)", "holdout", lambda: readme("holdout")),
            ("README example (Olden, 999 draws)", "conditional", lambda: readme("conditional")),
            ("analyze, 506 x 13, 4 methods, 999", "holdout", lambda: analyze("holdout", csv)),
        ]
        if not skip_cli:
            jobs.append(
                (
                    "analyze, 506 x 13, 4 methods, 999",
                    "conditional",
                    lambda: analyze("conditional", csv),
                )
            )
        for name, null, fn in jobs:
            times = timed(fn, 1 if null == "conditional" and "analyze" in name else repeats)
            rows.append((name, null, min(times), statistics.median(times), len(times)))
            print(f"  {name:36s} null={null:12s} min {min(times):7.1f} s", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    print()
    print(f"{'job':36s} {'null':12s} {'min s':>8s} {'median s':>9s} {'runs':>5s} {'ratio':>7s}")
    new = {name: t for name, null, t, _, _ in rows if null == "holdout"}
    for name, null, t_min, t_med, n in rows:
        ratio = t_min / new[name]
        print(f"{name:36s} {null:12s} {t_min:8.1f} {t_med:9.1f} {n:5d} {ratio:7.1f}")
    print("(ratio: min time over the new default's min time, same run)")


if __name__ == "__main__":
    main(sys.argv[1:])
