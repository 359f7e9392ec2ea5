"""Level and power of the per-variable tests under partial nulls (issue 11).

Designs (n rows, 6 inputs unless said; "noise" = inputs with no effect on y given the others):

* ``logistic``: P(y=1) = sigmoid(1.5 x1 - x2 + x3^2 - 1), noise x4-x6 (a classifier);
* ``interaction``: y = x1 x2 + N(0, 0.5^2), noise x3-x6;
* ``correlated``: y = x1 + x3 + N(0, 1), x2 no effect but corr(x1, x2) = 0.8, noise x2, x4-x6;
* ``toeplitz``: corr(x_i, x_k) = 0.8^|i-k|, y = x1 - x3 + 0.5 x5 + N(0, 1), noise x2, x4, x6;
* power designs at n = 300: ``interaction300`` (as ``interaction``) and ``sin300``:
  y = sin(3 x1) + N(0, 0.5^2), noise x2-x6.

For each data set one test (``n_permutations`` networks per variable, relu MLP with 10 hidden
units, the package's defaults: conditional null, per-variable cross-validated penalty) is run,
and the p-values of four statistics are computed from the same networks: Olden, Garson, the
Dimopoulos ssd and the additive MIV (the statistics form the "outputs" axis of one
:class:`sensitivity.inference.Statistic`, all tested on their magnitude, so the p-values are
exactly those each estimator's test would give for these networks). Reported: the fraction of
noise (variable, data set) pairs with unadjusted p <= 0.05 (target 0.03-0.07) with its binomial
standard error, and the fraction of influential pairs with p <= 0.05.

Run: ``PYTHONPATH=. python benchmarks/bench_conditional.py [n_datasets] [designs] [null]
[first_seed] [n_permutations]`` (data sets ``first_seed, first_seed + 1, ...``; default 1000;
99 draws: one stage; 399 or more: the two-stage test of ``early_stop``);
``... bench_conditional.py power [n_datasets] [n_permutations]`` for the power on Friedman #1
(n = 500, Holm; 199 draws by default).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from scipy.linalg import toeplitz
from sklearn.exceptions import ConvergenceWarning

from sensitivity.conditional import fit_conditional_models
from sensitivity.inference import InferenceConfig, Statistic, run_test, seed_streams
from sensitivity.inference.batched import BatchedRefitter, check_train_params
from sensitivity.methods import derivatives, perturbation, weights
from sensitivity.training import TrainingSpec

N = 200
P = 6
METHODS = ("Olden", "Garson", "Dimopoulos ssd", "MIV additive")


def _design(name: str, rng: np.random.Generator):
    if name == "friedman":  # make_friedman1, n = 500, 10 inputs (x1-x5 matter), noise sd 1
        X = rng.uniform(size=(500, 10))
        y = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3]
             + 5 * X[:, 4] + rng.normal(size=500))  # fmt: skip
        return X, y, [0, 1, 2, 3, 4]
    if name == "logistic":
        X = rng.normal(size=(N, P))
        eta = 1.5 * X[:, 0] - X[:, 1] + X[:, 2] ** 2 - 1
        y = (rng.uniform(size=N) < 1 / (1 + np.exp(-eta))).astype(int)
        return X, y, [0, 1, 2]
    if name == "interaction":
        X = rng.normal(size=(N, P))
        return X, X[:, 0] * X[:, 1] + 0.5 * rng.normal(size=N), [0, 1]
    if name == "interaction300":  # the power design of the issue: n = 300
        X = rng.normal(size=(300, P))
        return X, X[:, 0] * X[:, 1] + 0.5 * rng.normal(size=300), [0, 1]
    if name == "sin300":  # a sin(3 x) main effect, n = 300
        X = rng.normal(size=(300, P))
        return X, np.sin(3 * X[:, 0]) + 0.5 * rng.normal(size=300), [0]
    if name == "correlated":
        X = rng.normal(size=(N, P))
        X[:, 1] = 0.8 * X[:, 0] + 0.6 * X[:, 1]
        return X, X[:, 0] + X[:, 2] + rng.normal(size=N), [0, 2]
    if name == "toeplitz":
        L = np.linalg.cholesky(toeplitz(0.8 ** np.arange(P)))
        X = rng.normal(size=(N, P)) @ L.T
        return X, X[:, 0] - X[:, 2] + 0.5 * X[:, 4] + rng.normal(size=N), [0, 2, 4]
    raise ValueError(name)


def _all_statistics(model, X, y=None):
    """(B, 4, p): |Olden|, Garson, ssd, |MIV additive| for a batch of networks."""
    ol = np.abs(weights.olden(model))[:, :1]
    ga = weights.garson(model, "goh", undefined="nan")[:, :1]
    ssd = derivatives.derivative_summaries(model, X, second_order=False)["ssd"][:, :1]
    mv = np.abs(perturbation.miv(model, X, perturbation="additive"))[:, :1]
    return {"importance": np.concatenate([ol, ga, ssd, mv], axis=1)}


def one(design: str, seed: int, n_perm: int, null: str):
    rng = np.random.default_rng(seed)
    X, y, active = _design(design, rng)
    clf = design == "logistic"
    spec = TrainingSpec(
        hidden_sizes=(10,),
        activation="relu",
        out_activation="logistic" if clf else "identity",
        loss="log_loss" if clf else "squared_error",
        alpha=1e-4,
        is_classifier=clf,
        classes=np.array([0, 1]) if clf else None,
    )
    streams = seed_streams(seed)
    names = tuple(f"x{j + 1}" for j in range(X.shape[1]))
    refitter = BatchedRefitter(
        spec, X, y, train_alpha="cv", train_params=check_train_params(None),
        seed=streams["networks"], feature_names=names, output_names=None,
    )  # fmt: skip
    models = fit_conditional_models(X, feature_names=names) if null == "conditional" else None
    config = InferenceConfig(null=null, n_permutations=n_perm, p_adjust=None)
    res = run_test(
        Statistic(_all_statistics, signed=False), X, y, config, refitter,
        streams=streams, conditional_models=models,
    )  # fmt: skip
    return res.p_value, active  # (4, p)


def power(n_datasets: int = 10, n_perm: int = 199) -> None:
    """Friedman #1 (n = 500): variables flagged after Holm (per statistic) in how many seeds."""
    from statsmodels.stats.multitest import multipletests

    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", UserWarning)
    t0 = time.perf_counter()
    flagged = np.zeros((4, 10))
    for s in range(n_datasets):
        p, _ = one("friedman", 2000 + s, n_perm, "conditional")
        for m in range(4):
            flagged[m] += multipletests(p[m], alpha=0.05, method="holm")[0]
    print(
        f"Friedman #1, n=500, relu (10,), {n_perm} draws per variable, Holm per statistic, "
        f"{n_datasets} data sets ({time.perf_counter() - t0:.0f} s): seeds flagging each input"
    )
    print(f"{'method':<15}" + "".join(f"{f'x{j + 1}':>5}" for j in range(10)))
    for m, name in enumerate(METHODS):
        print(f"{name:<15}" + "".join(f"{int(v):>5}" for v in flagged[m]))


def main(n_datasets: int = 100, designs=("logistic", "interaction", "correlated", "toeplitz"),
         null: str = "conditional", n_perm: int = 99, first_seed: int = 1000) -> None:  # fmt: skip
    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", UserWarning)
    stages = " (two-stage)" if n_perm >= 399 else ""
    print(f"null={null!r}, n={N}, {P} inputs, relu MLP (10,), {n_perm} draws per variable{stages}, "
          f"{n_datasets} data sets per design (seeds {first_seed}-{first_seed + n_datasets - 1}); "
          "fraction of p <= 0.05 (binomial s.e.)")  # fmt: skip
    print(f"{'design':<12} {'method':<15} {'noise (level)':>18} {'influential (power)':>22}")
    for design in designs:
        t0 = time.perf_counter()
        noise_hits, noise_n = np.zeros(4), 0
        act_hits, act_n = np.zeros(4), 0
        for s in range(n_datasets):
            p, active = one(design, first_seed + s, n_perm, null)
            rej = p <= 0.05
            noise = [j for j in range(P) if j not in active]
            noise_hits += rej[:, noise].sum(1)
            noise_n += len(noise)
            act_hits += rej[:, active].sum(1)
            act_n += len(active)
        for m, name in enumerate(METHODS):
            lv, pw = noise_hits[m] / noise_n, act_hits[m] / act_n
            se_l, se_p = np.sqrt(lv * (1 - lv) / noise_n), np.sqrt(pw * (1 - pw) / act_n)
            print(f"{design:<12} {name:<15} {lv:>9.3f} ({se_l:.3f}) {pw:>14.3f} ({se_p:.3f})")
        print(f"{'':<12} ({time.perf_counter() - t0:.0f} s for {n_datasets} data sets)", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "power":
        power(int(args[1]) if len(args) > 1 else 10, int(args[2]) if len(args) > 2 else 199)
        sys.exit()
    main(
        int(args[0]) if args else 100,
        tuple(args[1].split(","))
        if len(args) > 1
        else ("logistic", "interaction", "correlated", "toeplitz"),
        args[2] if len(args) > 2 else "conditional",
        first_seed=int(args[3]) if len(args) > 3 else 1000,
        n_perm=int(args[4]) if len(args) > 4 else 99,
    )
