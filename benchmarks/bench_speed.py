"""Speed of the randomization tests' trainer, quiet and next to a competing process (issue 15).

Tables (all ratios from the same run):

1. The 999-permutation Olden test (n=500, p=10, 10 logistic units, the test's own penalty;
   Olden & Jackson's response permutation):
   the ``Olden`` estimator end to end, the batched trainer alone, and two loops of single
   fits to the same permuted targets, extrapolated from ``n_refits`` fits:
   * an R-nnet-equivalent loop: ``nnet`` minimizes the penalized sum of squares with
     ``optim``'s BFGS (``maxit = 100``); here SciPy's BFGS on the same objective as the
     trainer's (scikit-learn's), with an analytic gradient, 100 iterations at most;
   * scikit-learn's ``MLPRegressor(solver="lbfgs")`` (its default 200 iterations, tol 1e-4).
   Mean final training loss (scikit-learn's objective) printed next to each.
2. The conditional test's refits: all ``p`` variables x 999 networks, each seeing one column
   replaced (the trainer's ``col_values`` mode), and the conditional test end to end.
3. Each headline job quiet and with one competing CPU-bound process (started and stopped by
   this script): ratio busy / quiet.
4. ``n_jobs=2`` against ``n_jobs=1`` on a small test (99 permutations).

Run: ``PYTHONPATH=. python benchmarks/bench_speed.py [n_refits] [n_permutations]``.
The machine may be shared with other work: the load average is printed; repeat and compare
ratios.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
from scipy.optimize import minimize
from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from sensitivity import Olden, dimopoulos
from sensitivity.training import DEFAULTS, TrainingSpec, init_weights, train_networks

N, P, H = 500, 10, 10


def _data():
    X, y = make_friedman1(n_samples=N, n_features=P, noise=1.0, random_state=0)
    Xs = (X - X.mean(0)) / X.std(0)
    ys = (y - y.mean()) / y.std()
    return X, y, Xs, ys


def _train_params():
    return {"block_size": DEFAULTS.block_size}


def olden_test(X, y, n_perm, n_jobs=None, null="response"):
    """The ``Olden`` estimator end to end: Olden & Jackson's response permutation by default,
    or the conditional test of every variable (``n_perm`` networks each)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = MLPRegressor(hidden_layer_sizes=(H,), activation="logistic")
        return Olden(
            net, n_permutations=n_perm, random_state=0, n_jobs=n_jobs, null=null,
            train_params=_train_params(),
        ).fit(X, y)  # fmt: skip


def trainer_alone(Xs, ys, alpha, n_perm):
    spec = TrainingSpec((H,), "logistic", "identity", "squared_error", alpha)
    init = init_weights(spec, P, 1, 1, seed=0)
    init = ([np.repeat(c, n_perm, 0) for c in init[0]], [np.repeat(b, n_perm, 0) for b in init[1]])
    rng = np.random.default_rng(2)
    perms = np.stack([rng.permutation(N) for _ in range(n_perm)])
    return train_networks(spec, Xs, ys[:, None], init, y_perm=perms)


def conditional_refits(Xs, ys, alpha, n_perm):
    """p x n_perm networks, network b sees column cols[b] replaced (a permutation of it)."""
    spec = TrainingSpec((H,), "logistic", "identity", "squared_error", alpha)
    B = P * n_perm
    init = init_weights(spec, P, 1, 1, seed=0)
    init = ([np.repeat(c, B, 0) for c in init[0]], [np.repeat(b, B, 0) for b in init[1]])
    rng = np.random.default_rng(3)
    cols = np.repeat(np.arange(P), n_perm)
    values = np.stack([Xs[rng.permutation(N), j] for j in cols])
    return train_networks(spec, Xs, ys[:, None], init, col_values=(cols, values))


def _objective(theta, Xs, y, alpha):
    """scikit-learn's objective of a 1-hidden-layer logistic net and its gradient (numpy)."""
    n = len(y)
    W1 = theta[: P * H].reshape(P, H)
    b1 = theta[P * H : P * H + H]
    w2 = theta[P * H + H : P * H + 2 * H]
    b2 = theta[-1]
    A = 1.0 / (1.0 + np.exp(-(Xs @ W1 + b1)))
    r = A @ w2 + b2 - y
    f = 0.5 * np.mean(r * r) + alpha / (2 * n) * (np.sum(W1 * W1) + np.sum(w2 * w2))
    d = r / n
    gw2 = A.T @ d + alpha / n * w2
    gb2 = d.sum()
    dA = np.outer(d, w2) * A * (1 - A)
    gW1 = Xs.T @ dA + alpha / n * W1
    gb1 = dA.sum(axis=0)
    return f, np.concatenate([gW1.ravel(), gb1, gw2, [gb2]])


def nnet_loop(Xs, ys, alpha, n_refits):
    spec = TrainingSpec((H,), "logistic", "identity", "squared_error", alpha)
    rng = np.random.default_rng(1)
    losses = []
    for b in range(n_refits):
        (W1, w2), (b1, b2) = init_weights(spec, P, 1, 1, seed=b)
        theta0 = np.concatenate([W1[0].ravel(), b1[0], w2[0].ravel(), b2[0]])
        yp = ys[rng.permutation(N)]
        res = minimize(_objective, theta0, args=(Xs, yp, alpha), jac=True, method="BFGS",
                       options={"maxiter": 100})  # fmt: skip
        losses.append(res.fun)
    return float(np.mean(losses))


def sklearn_loop(Xs, ys, alpha, n_refits):
    rng = np.random.default_rng(1)
    losses = []
    for b in range(n_refits):
        m = MLPRegressor(hidden_layer_sizes=(H,), activation="logistic", solver="lbfgs",
                         alpha=alpha, random_state=b)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            m.fit(Xs, ys[rng.permutation(N)])
        losses.append(m.loss_)
    return float(np.mean(losses))


def _timed(fn, *args, repeat=1):
    walls, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(*args)
        walls.append(time.perf_counter() - t0)
    return float(np.median(walls)), out


def main(n_refits: int = 10, n_perm: int = 999) -> None:
    X, y, Xs, ys = _data()
    print(f"load average {os.getloadavg()}, torch threads {torch.get_num_threads()}")
    olden_test(X, y, 9)  # warm-up (imports, first allocations)
    wall_test, sa = _timed(olden_test, X, y, n_perm)
    alpha = sa.network_["alpha"]
    wall_trainer, res = _timed(trainer_alone, Xs, ys, alpha, n_perm)
    rows = [
        (f"Olden test, {n_perm} permutations", n_perm, wall_test,
         float(np.mean(sa.inference_["null_loss"]))),
        ("batched trainer alone", n_perm, wall_trainer, float(np.mean(res.loss))),
    ]  # fmt: skip
    for name, loop in (("R-nnet-equivalent BFGS loop", nnet_loop),
                       ("sklearn lbfgs loop", sklearn_loop)):  # fmt: skip
        w, loss = _timed(loop, Xs, ys, alpha, n_refits)
        rows.append((f"{name} (x{n_perm})", n_refits, w / n_refits * n_perm, loss))
    print(f"\n{n_perm}-permutation Olden test, n={N}, p={P}, {H} logistic units, alpha={alpha}")
    print(f"{'job':40s} {'fits':>5s} {'wall s':>8s} {'mean loss':>10s} {'/ test':>7s}")
    for name, fits, w, loss in rows:
        print(f"{name:40s} {fits:5d} {w:8.2f} {loss:10.5f} {w / wall_test:7.1f}")
    it, conv = np.mean(res.n_iter), np.mean(res.converged)
    print(f"trainer: mean iterations {it:.0f}, converged {conv:.1%}")

    jobs = {
        f"Olden test ({n_perm} perm.)": lambda: olden_test(X, y, n_perm),
        f"conditional refits ({P} x {n_perm})": lambda: conditional_refits(Xs, ys, alpha, n_perm),
        f"Olden conditional test ({P} x {n_perm})": lambda: olden_test(
            X, y, n_perm, null="conditional"
        ),
        "dimopoulos() 1e5 x 50, 100 tanh": _dimopoulos_job(),
    }
    quiet = {name: _timed(job)[0] for name, job in jobs.items()}
    busy_proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        busy = {name: _timed(job)[0] for name, job in jobs.items()}
    finally:
        busy_proc.kill()
        busy_proc.wait()
    print("\nHeadline jobs quiet and with one competing CPU-bound process")
    print(f"{'job':40s} {'quiet s':>8s} {'busy s':>8s} {'busy/quiet':>10s}")
    for name in jobs:
        print(f"{name:40s} {quiet[name]:8.2f} {busy[name]:8.2f} {busy[name] / quiet[name]:10.2f}")

    small = {}
    for n_jobs in (1, 2, None):
        small[n_jobs] = _timed(olden_test, X, y, 99, n_jobs, repeat=3)[0]
    print("\nn_jobs on a small test (99 permutations; median of 3)")
    for n_jobs, w in small.items():
        print(f"n_jobs={n_jobs!s:5s} {w:8.2f} s  ratio to n_jobs=1 {w / small[1]:5.2f}")


def _dimopoulos_job():
    rng = np.random.default_rng(0)
    Xd = rng.normal(size=(100_000, 50))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPRegressor(hidden_layer_sizes=(100,), activation="tanh", max_iter=5).fit(
            Xd[:2000], Xd[:2000, 0]
        )
    return lambda: dimopoulos(model, Xd)


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
