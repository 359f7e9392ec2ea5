"""Which per-variable test should be the default? Level, power and time of the candidates.

Candidates (each ``candidate(X, y, seed, draws, classifier) -> (p-values, seconds)``, unadjusted
p-values in the order of the columns) all test the user's network

``make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs",
max_iter=500, random_state=seed))`` (``MLPClassifier`` for classification designs):

* ``holdout``: ``HoldoutConditionalTest(net, n_draws=D, cv=5, conditional="auto",
  p_adjust=None)``, cross-fitted held-out conditional randomization test (Tansey et al. 2022)
  of clones of the net, conditional models of the inputs, no refit per variable;
* ``loco``: :func:`sensitivity.inference.loco_test` (``cv=5``, sample splitting), refits
  without each input, no model of the inputs (Williamson et al. 2023);
* ``loco_paired``: the same with paired differences (``split=False``; conservative under the
  null);
* ``refit``: ``Olden(net, n_permutations=D, null="conditional", p_adjust=None)``, the refitting
  conditional randomization test (slow: run on ``--n-datasets-refit`` data sets).

Designs (n = 300 and 6 inputs unless said; "noise" = no effect on y given the other inputs;
"dependent" = no effect but dependent on an influential input, reported one by one):

* ``quadratic``: x ~ N(0, I), x2 = x1^2 - 1 + 0.3 N(0, 1); y = x1 + x3 + N(0, 1); dependent
  x2; noise x4-x6;
* ``t3toeplitz``: multivariate t(3) inputs, Toeplitz 0.7 scale matrix;
  y = x1 - x3 + 0.5 x5 + N(0, 1); dependent x2; noise x4, x6;
* ``discrete``: y = x1 + x3 + N(0, 1) with x1, x3 ~ N(0, 1); x2 = 1{x1 + N(0, 1) > 0} and
  x4 = cut(x3 + N(0, 1) at -0.6, 0.6) in {0, 1, 2} dependent; noise x5, x6;
* ``logistic`` (classifier), ``interaction``, ``correlated``, ``toeplitz``: the designs of
  ``benchmarks/bench_conditional.py`` at n = 300 (its ``_design``); dependent: x2 of
  ``correlated`` (corr 0.8 with x1) and of ``toeplitz`` (between x1 and x3, Toeplitz 0.8);
* ``global``: y = N(0, 1) independent of Toeplitz 0.5 inputs (all six noise);
* power: ``sine`` y = sin(3 x1) + N(0, 0.5^2); ``product`` y = x1 x2 + N(0, 0.5^2) (the
  ``interaction`` design, on data sets from another random stream);
  ``friedman`` make_friedman1 (n = 500, 10 inputs, noise sd 1; ``bench_conditional._design``).

Table, one row per (design, candidate): noise level = fraction of pooled noise (input, data set)
pairs with p <= 0.05 (binomial s.e.); each dependent input's rejection rate (s.e.); power =
fraction of influential (input, data set) pairs with p <= 0.05; for ``friedman`` also the
number of seeds in which x1, x2, x4 and x5 are all significant after Holm at 0.05 with at most
one noise input (x6-x10) significant; median seconds per data set. The table is printed and
written as CSV to ``benchmarks/results/`` (with a second CSV, ``..._pvalues.csv``, of every
data set's p-values, for pooling runs over seed ranges).

Run: ``PYTHONPATH=. python benchmarks/bench_default.py --designs quadratic,t3toeplitz
--candidates holdout,loco --n-datasets 50 --draws 199 --first-seed 0 --jobs 2``. Data sets are
``first_seed, first_seed + 1, ...`` (the same for every candidate); joblib processes run the
(design, candidate, data set) tasks, each with one BLAS and one torch thread, so the results do
not depend on ``--jobs``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.linalg import toeplitz

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

DESIGNS = (
    "quadratic",
    "t3toeplitz",
    "discrete",
    "logistic",
    "interaction",
    "correlated",
    "toeplitz",
    "global",
    "sine",
    "product",
    "friedman",
)
CANDIDATES = ("holdout", "holdout_rank", "holdout_raw", "loco", "loco_paired", "refit")
CLASSIFIERS = ("logistic",)
FRIEDMAN_REQUIRED = (0, 1, 3, 4)  # x1, x2, x4, x5


# ---------------------------------------------------------------------- designs
def design(name: str, seed: int):
    """``(X, y, influential, noise, dependent)`` (0-based column indices) of data set ``seed``."""
    rng = np.random.default_rng(seed)
    n, p = 300, 6
    if name == "quadratic":
        X = rng.normal(size=(n, p))
        X[:, 1] = X[:, 0] ** 2 - 1 + 0.3 * rng.normal(size=n)
        return X, X[:, 0] + X[:, 2] + rng.normal(size=n), [0, 2], [3, 4, 5], [1]
    if name == "t3toeplitz":
        Z = rng.normal(size=(n, p)) @ np.linalg.cholesky(toeplitz(0.7 ** np.arange(p))).T
        X = Z / np.sqrt(rng.chisquare(3, size=n) / 3)[:, None]
        y = X[:, 0] - X[:, 2] + 0.5 * X[:, 4] + rng.normal(size=n)
        return X, y, [0, 2, 4], [3, 5], [1]
    if name == "discrete":
        X = rng.normal(size=(n, p))
        X[:, 1] = (X[:, 0] + rng.normal(size=n) > 0).astype(float)
        X[:, 3] = np.digitize(X[:, 2] + rng.normal(size=n), [-0.6, 0.6]).astype(float)
        return X, X[:, 0] + X[:, 2] + rng.normal(size=n), [0, 2], [4, 5], [1, 3]
    if name == "global":
        X = rng.normal(size=(n, p)) @ np.linalg.cholesky(toeplitz(0.5 ** np.arange(p))).T
        return X, rng.normal(size=n), [], list(range(p)), []
    if name == "sine":
        X = rng.normal(size=(n, p))
        return X, np.sin(3 * X[:, 0]) + 0.5 * rng.normal(size=n), [0], [1, 2, 3, 4, 5], []
    import bench_conditional as bc

    if name == "product":  # interaction300; its own stream (``interaction`` at n = 300 is the
        # same design: with the same generator the two rows would repeat each other)
        rng = np.random.default_rng([seed, 1])
        X, y, active = bc._design("interaction300", rng)
        return X, y, active, [2, 3, 4, 5], []
    if name == "friedman":
        X, y, active = bc._design("friedman", rng)
        return X, y, active, [5, 6, 7, 8, 9], []
    if name in ("logistic", "interaction", "correlated", "toeplitz"):
        bc.N = n  # the designs of bench_conditional read its module-level row count
        X, y, active = bc._design(name, rng)
        dependent = [1] if name in ("correlated", "toeplitz") else []
        noise = [j for j in range(X.shape[1]) if j not in active and j not in dependent]
        return X, y, active, noise, dependent
    raise ValueError(f"unknown design {name!r}; one of {DESIGNS}")


# ---------------------------------------------------------------------- candidates
def _net(seed: int, classifier: bool):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cls = MLPClassifier if classifier else MLPRegressor
    mlp = cls(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=500, random_state=seed)
    return make_pipeline(StandardScaler(), mlp)


def _ordered(frame: pd.DataFrame, p: int) -> np.ndarray:
    """p-values in column order from an ``importances_`` table (names x0, x1, ...)."""
    return frame["p_value"].reindex([f"x{j}" for j in range(p)]).to_numpy()


def _holdout_table(X, y, seed, draws, classifier, test="hrt"):
    from sensitivity import HoldoutConditionalTest

    t = HoldoutConditionalTest(
        _net(seed, classifier), n_draws=draws, cv=5, conditional="auto", p_adjust=None,
        random_state=seed, n_jobs=1, test=test,
    )  # fmt: skip
    return t.fit(X, y).importances_


def holdout_rank(X, y, seed, draws, classifier):
    """As ``holdout`` (what a reader sees) with the row-rank statistic (``test="rank"``)."""
    f = _holdout_table(X, y, seed, draws, classifier, test="rank")
    p = f["p_value"].where(f["reliable"].astype(bool), 1.0).fillna(1.0)
    return _ordered(p.to_frame("p_value"), X.shape[1])


def holdout(X, y, seed, draws, classifier):
    """What a reader of the report sees: a variable that was not tested or whose conditional
    model failed its check gets no star (counted as p = 1)."""
    f = _holdout_table(X, y, seed, draws, classifier)
    p = f["p_value"].where(f["reliable"].astype(bool), 1.0).fillna(1.0)
    return _ordered(p.to_frame("p_value"), X.shape[1])


def holdout_raw(X, y, seed, draws, classifier):
    """The held-out test's p-values whatever its check of the conditional models says."""
    f = _holdout_table(X, y, seed, draws, classifier)
    return _ordered(f["p_value"].fillna(1.0).to_frame("p_value"), X.shape[1])


def loco(X, y, seed, draws, classifier):
    from sensitivity.inference import loco_test

    return loco_test(_net(seed, classifier), X, y, cv=5, random_state=seed, n_jobs=1).p_value


def loco_paired(X, y, seed, draws, classifier):
    from sensitivity.inference import loco_test

    net = _net(seed, classifier)
    return loco_test(net, X, y, cv=5, split=False, random_state=seed, n_jobs=1).p_value


def refit(X, y, seed, draws, classifier):
    from sensitivity import Olden

    o = Olden(
        _net(seed, classifier), n_permutations=draws, null="conditional", p_adjust=None,
        random_state=seed, n_jobs=1,
    )  # fmt: skip
    return _ordered(o.fit(X, y).importances_, X.shape[1])


RUNNERS = {
    "holdout": holdout,
    "holdout_rank": holdout_rank,
    "holdout_raw": holdout_raw,
    "loco": loco,
    "loco_paired": loco_paired,
    "refit": refit,
}


def run_one(design_name: str, candidate: str, seed: int, draws: int):
    """One (design, candidate, data set) task with one BLAS and one torch thread."""
    import torch
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    X, y, influential, noise, dependent = design(design_name, seed)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        p = RUNNERS[candidate](X, y, seed, draws, design_name in CLASSIFIERS)
        seconds = time.perf_counter() - t0
    p = np.asarray(p, dtype=np.float64)
    if p.shape != (X.shape[1],) or np.isnan(p).any():
        raise RuntimeError(f"{candidate} on {design_name} seed {seed}: p-values {p}")
    return {
        "design": design_name,
        "candidate": candidate,
        "seed": seed,
        "p": p,
        "influential": influential,
        "noise": noise,
        "dependent": dependent,
        "seconds": seconds,
    }


# ---------------------------------------------------------------------- summary
def _rate(hits: int, total: int) -> tuple[float, float]:
    if total == 0:
        return float("nan"), float("nan")
    r = hits / total
    return r, float(np.sqrt(r * (1 - r) / total))


def _fmt(r: float, se: float) -> str:
    return "-" if np.isnan(r) else f"{r:.3f} ({se:.3f})"


def summarise(results: list[dict], alpha: float = 0.05) -> pd.DataFrame:
    from statsmodels.stats.multitest import multipletests

    rows = []
    keys = dict.fromkeys((r["design"], r["candidate"]) for r in results)
    for d, c in keys:
        rs = [r for r in results if r["design"] == d and r["candidate"] == c]
        first = rs[0]
        noise_hits = sum(int((r["p"][r["noise"]] <= alpha).sum()) for r in rs)
        lvl, lvl_se = _rate(noise_hits, len(rs) * len(first["noise"]))
        dep = []
        for j in first["dependent"]:
            rr, se = _rate(sum(int(r["p"][j] <= alpha) for r in rs), len(rs))
            dep.append(f"x{j + 1} {_fmt(rr, se)}")
        pw_hits = sum(int((r["p"][r["influential"]] <= alpha).sum()) for r in rs)
        pw, pw_se = _rate(pw_hits, len(rs) * len(first["influential"]))
        holm = ""
        if d == "friedman":
            good = 0
            for r in rs:
                rej = multipletests(r["p"], alpha=alpha, method="holm")[0]
                good += bool(rej[list(FRIEDMAN_REQUIRED)].all() and rej[r["noise"]].sum() <= 1)
            holm = f"{good}/{len(rs)}"
        rows.append(
            {
                "design": d,
                "candidate": c,
                "n_datasets": len(rs),
                "noise_level": lvl,
                "noise_level_se": lvl_se,
                "dependent": "; ".join(dep) if dep else "-",
                "power": pw,
                "power_se": pw_se,
                "friedman_holm": holm or "-",
                "median_seconds": float(np.median([r["seconds"] for r in rs])),
            }
        )
    return pd.DataFrame(rows)


def format_table(table: pd.DataFrame) -> str:
    head = (
        f"{'design':<11} {'candidate':<12} {'sets':>4} {'noise level':>15}  "
        f"{'dependent no-effect':<36} {'power':>15} {'friedman':>8} {'sec':>7}"
    )
    lines = [head, "-" * len(head)]
    for r in table.itertuples():
        lines.append(
            f"{r.design:<11} {r.candidate:<12} {r.n_datasets:>4} "
            f"{_fmt(r.noise_level, r.noise_level_se):>15}  {r.dependent:<36} "
            f"{_fmt(r.power, r.power_se):>15} {r.friedman_holm:>8} {r.median_seconds:>7.2f}"
        )
    return "\n".join(lines)


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument("--candidates", default="holdout,loco,loco_paired,refit")
    ap.add_argument("--n-datasets", type=int, default=50)
    ap.add_argument("--n-datasets-refit", type=int, default=10, help="data sets for refit")
    ap.add_argument("--draws", type=int, default=199)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default=None, help="CSV path (default benchmarks/results/...)")
    args = ap.parse_args(argv)
    designs = [d for d in args.designs.split(",") if d]
    candidates = [c for c in args.candidates.split(",") if c]
    for d in designs:
        if d not in DESIGNS:
            ap.error(f"unknown design {d!r}; choose from {DESIGNS}")
    for c in candidates:
        if c not in CANDIDATES:
            ap.error(f"unknown candidate {c!r}; choose from {CANDIDATES}")
    tasks = []
    for d in designs:
        for c in candidates:
            n_sets = (
                min(args.n_datasets, args.n_datasets_refit) if c == "refit" else args.n_datasets
            )
            tasks += [(d, c, args.first_seed + s) for s in range(n_sets)]
    t0 = time.perf_counter()
    results = Parallel(n_jobs=args.jobs)(delayed(run_one)(d, c, s, args.draws) for d, c, s in tasks)
    table = summarise(results)
    print(
        f"Per-variable tests of a StandardScaler + MLP (10,) lbfgs net, {args.draws} draws, "
        f"unadjusted p <= 0.05 (binomial s.e.); seeds from {args.first_seed}; "
        f"{time.perf_counter() - t0:.0f} s with {args.jobs} job(s)"
    )
    print(format_table(table))
    out = Path(args.out) if args.out else None
    if out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path(__file__).resolve().parent / "results" / f"bench_default_{stamp}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    raw = pd.DataFrame(
        [
            {"design": r["design"], "candidate": r["candidate"], "seed": r["seed"],
             "seconds": r["seconds"], **{f"p_x{j + 1}": v for j, v in enumerate(r["p"])}}
            for r in results
        ]
    )  # fmt: skip
    raw.to_csv(out.with_name(out.stem + "_pvalues.csv"), index=False)
    print(f"written: {out} (and {out.stem}_pvalues.csv)")
    return table


if __name__ == "__main__":
    main()
