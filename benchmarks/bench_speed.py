"""Speed of the 999-permutation Olden test against a loop of scikit-learn refits (issue 5).

n=500, 10 inputs, 10 logistic hidden units. The baseline refits scikit-learn's MLPRegressor on
permuted y in the same process, on the same standardized data with the same penalty
(``alpha`` = the test's ``train_alpha``), at scikit-learn's own iteration cap (200) and
tolerance, with its ``lbfgs`` solver (the fast one for small data) and its default ``adam``
solver; ``n_refits`` refits are timed and extrapolated to 999. Reports wall and CPU time and the
mean final training loss (scikit-learn's objective: 0.5 * MSE + alpha / (2n) ||W||^2,
standardized y).

A second table times the batched trainer alone (999 networks, same data, one initial weight
vector as in the test) stopped after ``k`` iterations, for the smallest multiple of 5 whose
mean loss is at most each loop's: the trainer's speed at equal training loss.

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
from sensitivity.training import TrainingSpec, init_weights, train_networks

ITERATION_GRID = tuple(range(5, 205, 5))


def _trainer_at_equal_loss(Xs, ys, alpha, targets):
    """Smallest grid ``k`` whose mean loss is <= each target: {target: (k, wall, loss)}."""
    spec = TrainingSpec((10,), "logistic", "identity", "squared_error", alpha)
    init = init_weights(spec, Xs.shape[1], 1, 1, seed=0)
    init = ([np.repeat(c, 999, 0) for c in init[0]], [np.repeat(b, 999, 0) for b in init[1]])
    rng = np.random.default_rng(2)
    perms = np.stack([rng.permutation(len(ys)) for _ in range(999)])
    found = {}
    for k in ITERATION_GRID:
        t0 = time.perf_counter()
        res = train_networks(
            spec, Xs, ys[:, None], init, y_perm=perms, max_iter=k, tol=1e-4, ftol=1e-9,
            dtype=torch.float32, block_size=512,
        )  # fmt: skip
        wall, loss = time.perf_counter() - t0, float(np.mean(res.loss))
        for target in targets:
            if target not in found and loss <= target:
                found[target] = (k, wall, loss)
        if len(found) == len(targets):
            break
    return found


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

    loops = {name: (w, loss) for name, _, w, _, loss in rows[1:]}
    found = _trainer_at_equal_loss(Xs, ys, alpha, [loss for _, loss in loops.values()])
    print("\nBatched trainer alone (999 networks) stopped at the first grid iteration count whose")
    print("mean loss is at most the loop's:")
    print(f"{'loop':32s} {'loop loss':>10s} {'iters':>6s} {'wall s':>8s} {'mean loss':>10s} "
          f"{'loop / trainer':>15s}")  # fmt: skip
    for name, (w, loss) in loops.items():
        if loss in found:
            k, tw, tl = found[loss]
            print(f"{name:32s} {loss:10.5f} {k:6d} {tw:8.2f} {tl:10.5f} {w / tw:15.1f}")
        else:
            print(f"{name:32s} {loss:10.5f}   not reached within {ITERATION_GRID[-1]} iterations")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
