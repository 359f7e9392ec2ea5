"""Speed of the 999-permutation Olden test against a loop of scikit-learn refits (issue 5).

n=500, 10 inputs, 10 logistic hidden units. The baseline refits scikit-learn's MLPRegressor on
permuted y in the same process, on the same standardized data with the same penalty
(``alpha`` = the test's ``train_alpha``), at scikit-learn's own iteration cap (200) and
tolerance, with its ``lbfgs`` solver (the fast one for small data) and its default ``adam``
solver; ``n_refits``
refits are timed and extrapolated to 999. Reports wall and CPU time and the mean final
training loss (scikit-learn's objective: 0.5 * MSE + alpha / (2n) ||W||^2, standardized y).

Run: ``PYTHONPATH=. python benchmarks/bench_speed.py [n_refits]``. The machine may be shared:
wall times are noisy, CPU times less so.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sensitivity import Olden


def main(n_refits: int = 20) -> None:
    X, y = make_friedman1(n_samples=500, n_features=10, noise=1.0, random_state=0)
    net = MLPRegressor(hidden_layer_sizes=(10,), activation="logistic")
    torch.set_num_threads(2)
    rows = []

    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sa = Olden(net, n_permutations=999, random_state=0).fit(X, y)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    info = sa.inference_
    alpha = info["train_alpha"]
    rows.append(("sensitivity Olden (batched)", 999, wall, cpu, float(np.mean(info["null_loss"]))))

    Xs = (X - X.mean(0)) / X.std(0)
    ys = (y - y.mean()) / y.std()
    rng = np.random.default_rng(1)
    for solver in ("lbfgs", "adam"):
        losses = []
        t0, c0 = time.perf_counter(), time.process_time()
        for b in range(n_refits):
            m = MLPRegressor(
                hidden_layer_sizes=(10,),
                activation="logistic",
                solver=solver,
                alpha=alpha,  # the same objective as the batched trainer's
                random_state=b,  # scikit-learn's own max_iter (200) and tol (1e-4)
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                m.fit(Xs, ys[rng.permutation(len(ys))])
            losses.append(m.loss_)
        w, c = time.perf_counter() - t0, time.process_time() - c0
        rows.append(
            (f"sklearn {solver} loop (x999)", n_refits, w / n_refits * 999, c / n_refits * 999,
             float(np.mean(losses)))
        )  # fmt: skip

    base = rows[0]
    print(f"999-permutation Olden test, n=500, p=10, 10 logistic units, alpha={alpha}")
    print(f"{'method':32s} {'fits':>5s} {'wall s':>9s} {'cpu s':>9s} {'mean loss':>10s} "
          f"{'wall ratio':>10s}")  # fmt: skip
    for name, fits, w, c, loss in rows:
        print(f"{name:32s} {fits:5d} {w:9.2f} {c:9.2f} {loss:10.5f} {w / base[2]:10.1f}")
    conv = np.mean(info["null_converged"])
    print(f"batched: mean iterations {np.mean(info['null_n_iter']):.0f}, converged {conv:.1%}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
