"""Held-out conditional test (issue 13): level, power, interval coverage and speed.

1. Level. Design "corr": n_train = n_test = 300, six inputs, y = 2 x0 + sin(2 x1) + N(0, 0.5^2);
   x2 = 0.8 x0 + 0.6 N(0, 1) (no effect, correlated 0.8 with an influential input), x3-x5
   independent noise. An ``MLPRegressor(hidden_layer_sizes=(20,))`` (lbfgs) is fitted on the
   training rows and tested on the held-out rows (HRT with 199 draws; CPI t-test). Rejection
   rate at unadjusted 0.05 for x2 and x3-x5 over ``R`` data sets, with its binomial s.e.
2. Power. make_friedman1 (10 inputs, x5-x9 noise, noise sd 1; n_train = n_test = 500;
   ``MLPRegressor((50,))`` behind a StandardScaler) and a classification design (six inputs,
   P(y = 1) = logistic(1.5 x0 - x1 + x2 x3), x4-x5 noise; ``MLPClassifier((20,))``): fraction of
   data sets in which each variable is significant after Holm at 0.05.
3. Coverage of the CPI t-interval (95 %) for the "corr" design: the target is the fitted
   network's conditional predictive impact E[Delta] with the true conditional distributions
   of the design, computed on 20,000 fresh rows.
4. Speed: 10 inputs, 1,000 held-out rows, 999 draws each, torch MLP 10-100-1 (ReLU, and Tanh):
   ``HoldoutConditionalTest.fit`` (all of it: conditional models, draws, losses, p-values)
   against a naive loop (one forward call per draw) in the same run; torch with 1 and 2
   threads (torch's OpenMP threads spin-wait when the other core is busy: on a loaded shared
   machine one thread can be faster).

5. An effect carried by one input alone (``sine``; the case the refitting conditional test
   cannot see, issue 11): y = sin(3 x0) + N(0, 0.5^2), six standard normal inputs, n = 300,
   ``HoldoutConditionalTest`` cross-fitted (``cv=5``, 199 draws) on a StandardScaler + MLP
   (10,) (lbfgs): fraction of data sets with unadjusted p <= 0.05 per input.

Run: ``PYTHONPATH=. python benchmarks/bench_holdout.py [R_level] [R_power] [R_coverage] [what]``
with ``what`` a comma list of level,power,coverage,speed (both thread counts),speed1,speed2,
sine (default all but sine; ``sine`` uses ``R_power`` data sets).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import make_friedman1
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensitivity.conditional import fit_conditional_models
from sensitivity.holdout import HoldoutConditionalTest, holdout_losses, prediction_view
from sensitivity.methods.perturbation import encode_target


def corr_design(n, rng):
    x0 = rng.normal(size=n)
    X = np.column_stack(
        [x0, rng.normal(size=n), 0.8 * x0 + 0.6 * rng.normal(size=n), *rng.normal(size=(3, n))]
    )
    y = 2 * X[:, 0] + np.sin(2 * X[:, 1]) + 0.5 * rng.normal(size=n)
    return X, y


def clf_design(n, rng):
    X = rng.normal(size=(n, 6))
    logit = 1.5 * X[:, 0] - X[:, 1] + X[:, 2] * X[:, 3]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def quiet_fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def se(p, r):
    return np.sqrt(p * (1 - p) / r)


# ---------------------------------------------------------------------- 5. lone sine
def sine(R):
    hits = np.zeros(6)
    t0 = time.perf_counter()
    for s in range(R):
        rng = np.random.default_rng(5000 + s)
        X = rng.normal(size=(300, 6))
        y = np.sin(3 * X[:, 0]) + 0.5 * rng.normal(size=300)
        net = make_pipeline(
            StandardScaler(),
            MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=2000, random_state=s),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = HoldoutConditionalTest(net, n_draws=199, random_state=s).fit(X, y)
        hits += t.importances_["p_value"].reindex([f"x{j}" for j in range(6)]).to_numpy() <= 0.05
    print(
        f"\n5. y = sin(3 x0) + N(0, 0.5^2), n = 300, 6 inputs, cv=5, 199 draws, MLP (10,), {R} "
        f"data sets ({time.perf_counter() - t0:.0f} s): fraction with unadjusted p <= 0.05"
    )
    noise = hits[1:].sum() / (5 * R)
    print(f"x0 (effect)  {hits[0] / R:.3f} ± {se(hits[0] / R, R):.3f}")
    print(f"x1-x5 (noise, pooled) {noise:.3f} ± {se(noise, 5 * R):.3f}; per input", hits[1:] / R)


# ---------------------------------------------------------------------- 1. level
def level(R):
    variants = [(rows, test) for rows in ("test", "train") for test in ("p_hrt", "p_cpi")]
    rej = {v: [] for v in variants}
    t0 = time.perf_counter()
    for seed in range(R):
        rng = np.random.default_rng(seed)
        X, y = corr_design(600, rng)
        net = quiet_fit(
            MLPRegressor(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=500, random_state=seed),
            X[:300],
            y[:300],
        )
        for rows in ("test", "train"):
            t = HoldoutConditionalTest(
                net,
                prefit=True,
                n_draws=199,
                p_adjust=None,
                random_state=seed,
                conditional_rows=rows,
            )
            t.fit(X[:300], X_test=X[300:], y_test=y[300:])
            f = t.importances_.loc[[f"x{j}" for j in range(6)]]
            for test in ("p_hrt", "p_cpi"):
                rej[(rows, test)].append(f[test].to_numpy() <= 0.05)
    print(
        f"\n1. Level: 'corr' design, {R} data sets, MLP (20,), n_train = n_test = 300, "
        f"199 draws; rejection rate at unadjusted 0.05 ({time.perf_counter() - t0:.0f} s)"
    )
    print("conditional models fitted on the held-out rows (test) | on the training rows (default)")
    head = "".join(f"{f'{t[2:].upper()} ({r})':>16}" for r, t in variants)
    print(f"{'variable':<28}{head}")
    labels = ["x0 (effect)", "x1 (effect)", "x2 (no effect, r=0.8 w/ x0)"] + [
        f"x{j} (independent noise)" for j in (3, 4, 5)
    ]
    rates = {v: np.mean(rej[v], axis=0) for v in variants}
    for j, lab in enumerate(labels):
        cells = "".join(f"{rates[v][j]:>9.3f} ± {se(rates[v][j], R):.3f}" for v in variants)
        print(f"{lab:<28}{cells}")
    pooled = {v: np.mean(np.array(rej[v])[:, 3:]) for v in variants}
    cells = "".join(f"{pooled[v]:>9.3f} ± {se(pooled[v], 3 * R):.3f}" for v in variants)
    print(f"{'x3-x5 pooled':<28}{cells}")


def level_clf(R):
    """Unadjusted level for the noise inputs x4, x5 of the classification design."""
    rej = {"p_hrt": [], "p_cpi": []}
    t0 = time.perf_counter()
    for seed in range(R):
        Xc, yc = clf_design(1000, np.random.default_rng(1000 + seed))
        clf = quiet_fit(
            MLPClassifier(
                hidden_layer_sizes=(20,), solver="lbfgs", max_iter=500, random_state=seed
            ),
            Xc[:500],
            yc[:500],
        )
        t = HoldoutConditionalTest(clf, prefit=True, n_draws=199, p_adjust=None, random_state=seed)
        t.fit(Xc[:500], X_test=Xc[500:], y_test=yc[500:])
        f = t.importances_.loc[["x4", "x5"]]
        for k in rej:
            rej[k].append(f[k].to_numpy() <= 0.05)
    print(
        f"\n1b. Level, classification design (log-loss), {R} data sets, MLPClassifier (20,), "
        f"n_train = n_test = 500, 199 draws; unadjusted 0.05 ({time.perf_counter() - t0:.0f} s)"
    )
    for k, v in rej.items():
        r = np.mean(v, axis=0)
        pooled = np.mean(v)
        print(
            f"  {k[2:].upper():<4} x4 {r[0]:.3f} ± {se(r[0], R):.3f}   x5 {r[1]:.3f} ± "
            f"{se(r[1], R):.3f}   pooled {pooled:.3f} ± {se(pooled, 2 * R):.3f}"
        )


# ---------------------------------------------------------------------- 2. power
def power(R):
    t0 = time.perf_counter()
    sig_f, sig_c = [], []
    for seed in range(R):
        X, y = make_friedman1(n_samples=1000, n_features=10, noise=1.0, random_state=seed)
        net = quiet_fit(
            make_pipeline(
                StandardScaler(),
                MLPRegressor(
                    hidden_layer_sizes=(50,), solver="lbfgs", max_iter=1000, random_state=seed
                ),
            ),
            X[:500],
            y[:500],
        )
        t = HoldoutConditionalTest(net, prefit=True, n_draws=199, random_state=seed)
        t.fit(X[:500], X_test=X[500:], y_test=y[500:])
        sig_f.append(t.importances_.loc[[f"x{j}" for j in range(10)], "significant"].to_numpy())
        rng = np.random.default_rng(1000 + seed)
        Xc, yc = clf_design(1000, rng)
        clf = quiet_fit(
            MLPClassifier(
                hidden_layer_sizes=(20,), solver="lbfgs", max_iter=500, random_state=seed
            ),
            Xc[:500],
            yc[:500],
        )
        t = HoldoutConditionalTest(clf, prefit=True, n_draws=199, random_state=seed)
        t.fit(Xc[:500], X_test=Xc[500:], y_test=yc[500:])
        sig_c.append(t.importances_.loc[[f"x{j}" for j in range(6)], "significant"].to_numpy())
    pf, pc = np.mean(sig_f, axis=0), np.mean(sig_c, axis=0)
    print(
        f"\n2. Power: fraction of {R} data sets with the variable significant (Holm, 0.05; "
        f"HRT, 199 draws; n_train = n_test = 500) ({time.perf_counter() - t0:.0f} s)"
    )
    print("make_friedman1, MLP (50,): x0-x4 effects, x5-x9 noise")
    print("  " + "".join(f"{f'x{j}':>7}" for j in range(10)))
    print("  " + "".join(f"{v:>7.2f}" for v in pf))
    print(
        "classification, MLPClassifier (20,): x0, x1 main effects, x2*x3 interaction, x4-x5 noise"
    )
    print("  " + "".join(f"{f'x{j}':>7}" for j in range(6)))
    print("  " + "".join(f"{v:>7.2f}" for v in pc))


# ---------------------------------------------------------------------- 3. coverage
def oracle_sampler(j):
    """The true conditional distribution of x_j in the 'corr' design."""

    def sample(Z, jj, rng, B):
        e = rng.standard_normal((B, len(Z)))
        if j == 0:
            return 0.8 * Z[:, 2] + 0.6 * e  # x0 | x2 ~ N(0.8 x2, 0.36)
        if j == 2:
            return 0.8 * Z[:, 0] + 0.6 * e
        return e

    return sample


def coverage(R):
    t0 = time.perf_counter()
    rows_options = ("test", "train")
    covered = {r: [] for r in rows_options}
    widths = {r: [] for r in rows_options}
    truths = []
    for seed in range(R):
        rng = np.random.default_rng(5000 + seed)
        X, y = corr_design(600, rng)
        Xbig, ybig = corr_design(20_000, np.random.default_rng(10**6 + seed))
        net = quiet_fit(
            MLPRegressor(hidden_layer_sizes=(20,), solver="lbfgs", max_iter=500, random_state=seed),
            X[:300],
            y[:300],
        )
        view = prediction_view(net)
        Y, kind = encode_target(view, ybig, len(ybig), "mse")
        oracle = fit_conditional_models(X, sampler={j: oracle_sampler(j) for j in range(6)})
        big = holdout_losses(view, Xbig, Y, kind, oracle, n_draws=20, seeds=list(range(6)))
        truth = big.delta.mean(axis=1)
        truths.append(truth)
        for rows in rows_options:
            t = HoldoutConditionalTest(
                net, prefit=True, n_draws=99, random_state=seed, test="cpi", conditional_rows=rows
            )
            t.fit(X[:300], X_test=X[300:], y_test=y[300:])
            f = t.importances_.loc[[f"x{j}" for j in range(6)]]
            lo, hi = f["ci_low"].to_numpy(), f["ci_high"].to_numpy()
            covered[rows].append((lo <= truth) & (truth <= hi))
            widths[rows].append(hi - lo)
    print(
        f"\n3. Coverage of the 95% CPI t-interval, 'corr' design, {R} data sets, 300 held-out "
        f"rows, 99 draws; truth = the fitted network's CPI with the true conditional "
        f"distributions, on 20,000 fresh rows ({time.perf_counter() - t0:.0f} s)"
    )
    print(
        f"{'variable':<10}{'true CPI':>10}"
        + "".join(f"{f'coverage ({r})':>20}{f'width ({r})':>14}" for r in rows_options)
    )
    for j in range(6):
        cells = ""
        for r in rows_options:
            c = np.mean(covered[r], axis=0)[j]
            cells += f"{c:>13.3f} ± {se(c, R):.3f}{np.mean(widths[r], axis=0)[j]:>14.4f}"
        print(f"{f'x{j}':<10}{np.mean(truths, axis=0)[j]:>10.4f}{cells}")


# ---------------------------------------------------------------------- 4. speed
def naive_loop(net, cms, Xte, yte, n_draws, seed):
    """One forward call per draw (what a user would write), with the test's draws."""
    Xt = torch.as_tensor(Xte, dtype=torch.float32)
    yt = torch.as_tensor(yte, dtype=torch.float32)[:, None]
    seeds = np.random.SeedSequence(seed).spawn(len(cms))
    totals = np.empty((len(cms), n_draws))
    with torch.no_grad():
        for k, cm in enumerate(cms):
            draws = cm.sample(np.random.default_rng(seeds[k]), n_draws, Z=Xte)
            for b in range(n_draws):
                Xb = Xt.clone()
                Xb[:, cm.index] = torch.as_tensor(draws[b], dtype=torch.float32)
                totals[k, b] = float(((net(Xb) - yt) ** 2).sum())
    return totals


def speed(threads, repeats=3):
    """Wall and CPU seconds, the methods interleaved run by run (the load drifts)."""
    import os

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 10))
    y = X[:, 0] + np.sin(X[:, 1]) + X[:, 2] * X[:, 3] + rng.normal(size=2000)
    print(
        "\n4. Speed: 10 inputs, 1,000 held-out rows, 999 draws each (9.99 M evaluated rows), "
        f"torch MLP 10-100-1, torch threads {threads}; {repeats} interleaved runs"
    )
    print(f"   load average before: {os.getloadavg()[0]:.2f} (shared 2-core machine)")
    print(
        f"{'network':<8}{'method':<30}{'wall min':>9}{'wall med':>9}{'cpu med':>9}"
        f"{'wall ratio':>11}{'cpu ratio':>10}"
    )
    for act in (torch.nn.ReLU, torch.nn.Tanh):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(10, 100), act(), torch.nn.Linear(100, 1))
        cms = fit_conditional_models(X[:1000])  # on the training rows, as the test does
        names = ["fit (auto)", "fit (rank_one)", "naive loop"]
        if act is torch.nn.Tanh:  # auto is rank-one already
            names = ["fit (auto)", "naive loop"]
        wall = {n: [] for n in names}
        cpu = {n: [] for n in names}
        for _ in range(repeats):
            for name in names:
                w0, c0 = time.perf_counter(), time.process_time()
                if name == "naive loop":
                    naive_loop(net, cms, X[1000:], y[1000:], 999, 0)
                else:
                    t = HoldoutConditionalTest(net, prefit=True, n_draws=999, random_state=0)
                    if name == "fit (rank_one)":
                        t._method = "rank_one"
                    t.fit(X[:1000], X_test=X[1000:], y_test=y[1000:])
                wall[name].append(time.perf_counter() - w0)
                cpu[name].append(time.process_time() - c0)
        label = act.__name__
        engine = {"ReLU": "piecewise-linear", "Tanh": "rank-one"}[label]
        bw, bc = np.median(wall["naive loop"]), np.median(cpu["naive loop"])
        for name in names:
            desc = f"fit (auto = {engine})" if name == "fit (auto)" else name
            w, c = np.median(wall[name]), np.median(cpu[name])
            print(
                f"{label:<8}{desc:<30}{min(wall[name]):>9.2f}{w:>9.2f}{c:>9.2f}"
                f"{bw / w:>10.1f}x{bc / c:>9.1f}x"
            )
    print(f"   load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    args = sys.argv[1:]
    R_level = int(args[0]) if len(args) > 0 else 200
    R_power = int(args[1]) if len(args) > 1 else 40
    R_cov = int(args[2]) if len(args) > 2 else 100
    what = args[3].split(",") if len(args) > 3 else ["level", "power", "coverage", "speed"]
    torch.set_num_threads(1)
    for threads in (1, 2):
        if f"speed{threads}" in what or "speed" in what:
            speed(threads)
    torch.set_num_threads(1)
    if "level" in what:
        level(R_level)
    if "level_clf" in what:
        level_clf(R_level)
    if "power" in what:
        power(R_power)
    if "coverage" in what:
        coverage(R_cov)
    if "sine" in what:
        sine(R_power)
