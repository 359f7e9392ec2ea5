"""Conditional models of one input given the others: which kind ``"auto"`` picks, whether a
classifier can tell their draws from the real column, and what they cost.

Designs (n = 300 training rows; the check uses 300 fresh rows of the same design):

* ``quadratic``: x ~ N(0, I6), x2 = x1^2 - 1 + 0.3 N(0, 1) (1-based names; column ``x1`` of
  the package's 0-based names); the modelled column is x2.
* ``t3-toeplitz``: multivariate t(3) with Toeplitz 0.7 correlation, 6 inputs (a gaussian vector
  divided by sqrt(chi2_3 / 3): heavy tails, and x_j given the others is a t law whose scale
  grows with the Mahalanobis distance of the others); modelled column x3.
* ``binary`` / ``categorical``: z ~ N(0, I4) plus a binary column b, P(b = 1) = logistic(2 z1),
  and a 3-level column c with softmax logits (0, 1.5 z1, 1.5 z2^2 - 1.5); modelled b, then c.
* ``linear-gauss``: Toeplitz 0.8 gaussian, 6 inputs; modelled column x3.

For each design and kind (the parametric kind, the boosted kind, ``auto``; and, where the
conditional law is known, the ``true`` law as a custom sampler, the check's level), over ``R``
data sets: the kind ``auto`` chose (counts), the mean held-out AUC of
:func:`sensitivity.conditional.check_conditional` (boosted classifier, half the fresh rows to
train it, half to test) and its rejection rate at 0.05 with features ``"data"`` (the column and
the other inputs) and ``"residual"`` (plus the model's standardized residual / level log
probability), and the fit time of the conditional model of one column (seconds, one thread).

``holdout`` (optional, slower): the held-out conditional test (``HoldoutConditionalTest``,
cross-fitted ``cv=5``, 199 draws, StandardScaler + ``MLPRegressor((10,), lbfgs)``) on the
quadratic design with y = x1 + x3 + N(0, 1): rejection rate at 0.05 of x2 (no effect) with
``conditional="gaussian"`` and ``"auto"``.

Run: ``PYTHONPATH=. python benchmarks/bench_conditional_models.py [R] [holdout R_holdout]``
(default R = 20).

Measured (R = 20, one thread on a shared 2-core machine; 41 s)::

    design        kind         auto chose                      AUC  rej data rej resid fit s/var
    quadratic     gaussian                                   0.780      1.00      1.00     0.001
    quadratic     boosting                                   0.507      0.05      0.20     0.101
    quadratic     auto         boosting 20/20                0.507      0.05      0.20     0.104
    quadratic     true law                                   0.495      0.00         -     0.000
    t3-toeplitz   gaussian                                   0.525      0.15      0.35     0.000
    t3-toeplitz   boosting                                   0.517      0.10      0.15     0.109
    t3-toeplitz   auto         boosting 15/20, gaussian 5/20  0.518      0.05      0.20     0.105
    binary        logistic                                   0.514      0.05      0.20     0.003
    binary        classifier                                 0.501      0.00      0.15     0.062
    binary        auto         logistic 20/20                0.514      0.05      0.20     0.077
    categorical   multinomial                                0.598      0.70      0.55     0.005
    categorical   classifier                                 0.527      0.05      0.15     0.165
    categorical   auto         classifier 20/20              0.527      0.05      0.15     0.192
    linear-gauss  gaussian                                   0.509      0.05      0.20     0.001
    linear-gauss  boosting                                   0.504      0.05      0.15     0.137
    linear-gauss  auto         gaussian 20/20                0.509      0.05      0.20     0.139
    linear-gauss  true law                                   0.499      0.05         -     0.000

    holdout test, quadratic design, R = 20 (82 s): rejection rate at 0.05
      conditional  x1 (effect) x3 (effect)  x2 (x1^2) x4-x6 (noise)
      gaussian            1.00        1.00       0.75          0.02
      auto                1.00        1.00       0.00          0.02
      auto's kinds (all inputs, models on all rows): {'boosting': 40, 'gaussian': 80}

(``auto`` also models x1 given the others by boosting: x1 given x2 is two-peaked,
:math:`\\pm\\sqrt{x_2 + 1}`, with a spread that grows with x2, which its scale model sees.)
The ``"residual"`` features flag even the right model class (linear-gauss, gaussian: 0.20):
they detect the fitted mean's estimation error; ``"data"`` is the misspecification check.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np
from scipy.linalg import toeplitz

from sensitivity.conditional import check_conditional, fit_conditional_models

N = 300


def quadratic(n, rng):
    X = rng.normal(size=(n, 6))
    X[:, 1] = X[:, 0] ** 2 - 1 + 0.3 * rng.normal(size=n)
    return X


def quadratic_truth(R, j, rng, B):
    return R[:, 0] ** 2 - 1 + 0.3 * rng.standard_normal((B, R.shape[0]))


def t3(n, rng):
    C = toeplitz(0.7 ** np.arange(6))
    g = rng.multivariate_normal(np.zeros(6), C, size=n)
    return g / np.sqrt(rng.chisquare(3, size=n) / 3)[:, None]


def mixed(n, rng):
    z = rng.normal(size=(n, 4))
    b = (rng.random(n) < 1 / (1 + np.exp(-2 * z[:, 0]))).astype(float)
    logits = np.column_stack([np.zeros(n), 1.5 * z[:, 0], 1.5 * z[:, 1] ** 2 - 1.5])
    pr = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    c = (rng.random(n)[:, None] > np.cumsum(pr, 1)[:, :-1]).sum(1).astype(float)
    return np.column_stack([z[:, 0], b, c, z[:, 1:]])


_C8 = toeplitz(0.8 ** np.arange(6))
_O = [0, 1, 3, 4, 5]
_B8 = np.linalg.solve(_C8[np.ix_(_O, _O)], _C8[_O, 2])
_SD8 = float(np.sqrt(_C8[2, 2] - _C8[2, _O] @ _B8))


def linear(n, rng):
    return rng.multivariate_normal(np.zeros(6), _C8, size=n)


def linear_truth(R, j, rng, B):
    return np.delete(R, j, axis=1) @ _B8 + _SD8 * rng.standard_normal((B, R.shape[0]))


# name, generator, modelled column, kinds (the last: custom sampler of the true law or None)
DESIGNS = [
    ("quadratic", quadratic, 1, ("gaussian", "boosting", "auto"), quadratic_truth),
    ("t3-toeplitz", t3, 2, ("gaussian", "boosting", "auto"), None),
    ("binary", mixed, 1, ("logistic", "classifier", "auto"), None),
    ("categorical", mixed, 2, ("multinomial", "classifier", "auto"), None),
    ("linear-gauss", linear, 2, ("gaussian", "boosting", "auto"), linear_truth),
]


def run(R: int) -> None:
    print(
        f"n = {N} (fit) + {N} (check), {R} data sets per design; check_conditional: boosted "
        "classifier, test_size 0.5; rejection at 0.05"
    )
    head = (
        f"{'design':13s} {'kind':12s} {'auto chose':28s} {'AUC':>6s} {'rej data':>9s} "
        f"{'rej resid':>9s} {'fit s/var':>9s}"
    )
    print(head)
    print("-" * len(head))
    t_all = time.perf_counter()
    for name, gen, j, kinds, truth in DESIGNS:
        rows = {k: {"auc": [], "rd": [], "rr": [], "t": [], "chose": []} for k in kinds}
        if truth is not None:
            rows["true law"] = {"auc": [], "rd": [], "rr": [], "t": [], "chose": []}
        for r in range(R):
            rng = np.random.default_rng(10_000 + r)
            X, X_eval = gen(N, rng), gen(N, rng)
            for k, row in rows.items():
                t0 = time.perf_counter()
                if k == "true law":
                    (m,) = fit_conditional_models(X, columns=[j], sampler=truth)
                else:
                    (m,) = fit_conditional_models(X, columns=[j], kinds=k)
                row["t"].append(time.perf_counter() - t0)
                row["chose"].append(m.kind)
                c = check_conditional(m, X_eval, r)
                row["auc"].append(c.auc)
                row["rd"].append(c.p_value <= 0.05)
                if m.kind != "custom":
                    cr = check_conditional(m, X_eval, r, features="residual")
                    row["rr"].append(cr.p_value <= 0.05)
        for k, row in rows.items():
            chose = ""
            if k == "auto":
                kinds_, counts = np.unique(row["chose"], return_counts=True)
                chose = ", ".join(f"{a} {b}/{R}" for a, b in zip(kinds_, counts, strict=True))
            rr = f"{np.mean(row['rr']):9.2f}" if row["rr"] else f"{'-':>9s}"
            print(
                f"{name:13s} {k:12s} {chose:28s} {np.mean(row['auc']):6.3f} "
                f"{np.mean(row['rd']):9.2f} {rr} {np.mean(row['t']):9.3f}"
            )
    print(f"({time.perf_counter() - t_all:.0f} s; binomial s.e. of a rate near 0.05: "
          f"{np.sqrt(0.05 * 0.95 / R):.3f})")  # fmt: skip


def holdout(R: int) -> None:
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sensitivity.holdout import HoldoutConditionalTest

    names = [f"x{k}" for k in range(6)]  # the package's 0-based names
    hits = {"gaussian": np.zeros(6), "auto": np.zeros(6)}
    chose = []
    t0 = time.perf_counter()
    for s in range(R):
        rng = np.random.default_rng(20_000 + s)
        X = quadratic(N, rng)
        y = X[:, 0] + X[:, 2] + rng.normal(size=N)
        net = make_pipeline(
            StandardScaler(),
            MLPRegressor(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=2000, random_state=s),
        )
        for cond in hits:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = HoldoutConditionalTest(net, n_draws=199, conditional=cond, random_state=s)
                t.fit(X, y)
            hits[cond] += t.importances_["p_value"].reindex(names).to_numpy() <= 0.05
            if cond == "auto":
                chose += [str(cm.kind) for cm in t.conditional_models_]
    print(
        f"\nholdout test, quadratic design, y = x1 + x3 + N(0, 1) (1-based), n = {N}, cv=5, "
        f"199 draws, MLP (10,), {R} data sets ({time.perf_counter() - t0:.0f} s): rejection "
        "rate at 0.05 (s.e. of 0.05 over R: "
        f"{np.sqrt(0.05 * 0.95 / R):.3f})"
    )
    print(f"  {'conditional':12s} {'x1 (effect)':>11s} {'x3 (effect)':>11s} {'x2 (x1^2)':>10s} "
          f"{'x4-x6 (noise)':>13s}")  # fmt: skip
    for cond, h in hits.items():
        print(
            f"  {cond:12s} {h[0] / R:11.2f} {h[2] / R:11.2f} {h[1] / R:10.2f} "
            f"{h[3:].sum() / (3 * R):13.2f}"
        )
    kinds_, counts = np.unique(chose, return_counts=True)
    kinds_ = dict(zip(kinds_.tolist(), counts.tolist(), strict=True))
    print("  auto's kinds (all inputs, models on all rows):", kinds_)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    warnings.simplefilter("ignore")
    R = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    if len(sys.argv) > 2 and sys.argv[2] == "holdout":
        holdout(int(sys.argv[3]) if len(sys.argv) > 3 else 20)
    else:
        run(R)
