"""Batched perturbation methods against naive loops, in one process.

For B networks of one architecture (what the randomization test evaluates), compare
* batched: one call of the method on the MLPBatch of B networks (all perturbed copies, all
  networks, predicted in memory-budget chunks);
* per network: the same method called once per network (B calls);
* naive: a Python loop over variables (and signs / noise draws) with one prediction per
  perturbed copy per network, as a straightforward implementation would do.
Numbers are checked equal before timing.
A second table (``--large [rows]``) times MIV, the ``MIV`` estimator, the derivatives and the
``Dimopoulos`` estimator on ``rows`` x 50 inputs, 100 tanh units (default 10^6 rows), each in a
fresh process that reports its peak resident memory: MIV is computed by a rank-one update of
the first layer's pre-activations per perturbed copy; "stacked copies" is the same MIV through a
plain predict function (every copy built and predicted in full), on 1/10 of the rows.
Run: ``PYTHONPATH=. python benchmarks/bench_perturbation.py [--large [rows]]``.
The machine may be shared: treat timings as indicative.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
import torch

from sensitivity import MLPBatch
from sensitivity.methods import perturbation as P
from sensitivity.methods import profile as L


def _timeit(fn, repeat=3):
    best = np.inf
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _per_net(fn, batch: MLPBatch) -> np.ndarray:
    return np.concatenate([fn(batch[b]) for b in range(batch.batch_size)])


def naive_miv(batch: MLPBatch, X: np.ndarray, delta=0.1) -> np.ndarray:
    out = np.zeros((batch.batch_size, batch.n_outputs, X.shape[1]))
    for b in range(batch.batch_size):
        net = batch[b]
        for j in range(X.shape[1]):
            up, down = X.copy(), X.copy()
            up[:, j] *= 1 + delta
            down[:, j] *= 1 - delta
            out[b, :, j] = (net.predict(up)[0] - net.predict(down)[0]).mean(axis=0)
    return out


def naive_lek(batch: MLPBatch, X: np.ndarray, steps: int) -> np.ndarray:
    consts = np.quantile(X, np.linspace(0, 1, 6), axis=0)
    p = X.shape[1]
    out = np.zeros((batch.batch_size, p, len(consts), steps, batch.n_outputs))
    for b in range(batch.batch_size):
        net = batch[b]
        for j in range(p):
            grid = np.linspace(X[:, j].min(), X[:, j].max(), steps)
            for g, c in enumerate(consts):
                rows = np.tile(c, (steps, 1))
                rows[:, j] = grid
                out[b, j, g] = net.predict(rows)[0]
    return out


def main() -> None:
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    n, p, h = 500, 8, 16
    X = rng.normal(size=(n, p)) + 2.0
    rows = []
    for B in (1, 32, 128):
        batch = MLPBatch.from_arrays(
            [rng.normal(size=(B, p, h)), rng.normal(size=(B, h, 1))],
            [rng.normal(size=(B, h)), rng.normal(size=(B, 1))],
            activation="tanh",
        )
        y = batch.predict(X)[0, :, 0] + 0.1 * rng.normal(size=n)

        t_b, v_b = _timeit(lambda batch=batch: P.miv(batch, X))
        t_1, v_1 = _timeit(lambda batch=batch: _per_net(lambda m: P.miv(m, X), batch), 3)
        t_n, v_n = _timeit(lambda batch=batch: naive_miv(batch, X), 3)
        assert np.allclose(v_b, v_1, atol=1e-10) and np.allclose(v_b, v_n, atol=1e-10)
        rows.append(("MIV", B, t_b, t_1, t_n))

        t_b, v_b = _timeit(lambda batch=batch: L.lek_profiles(batch, X, steps=50).predictions)
        t_1, _ = _timeit(
            lambda batch=batch: _per_net(
                lambda m: L.lek_profiles(m, X, steps=50).predictions, batch
            ),
            3,
        )
        t_n, v_n = _timeit(lambda batch=batch: naive_lek(batch, X, 50), 3)
        assert np.allclose(v_b, v_n, atol=1e-10)
        rows.append(("Lek profile", B, t_b, t_1, t_n))

        def ip(m, y=y):
            return P.input_perturbation(m, X, y, n_repeats=2, random_state=0).importances

        t_b, v_b = _timeit(lambda batch=batch: ip(batch))
        t_1, v_1 = _timeit(lambda batch=batch: _per_net(ip, batch), 3)
        assert np.allclose(v_b, v_1, atol=1e-10)
        rows.append(("input perturbation", B, t_b, t_1, np.nan))

    print(f"n={n}, p={p}, hidden={h}, float64, 2 torch threads (shared machine: indicative)")
    head = f"{'method':<20}{'B':>5}{'batched s':>12}{'per-net s':>12}{'naive s':>10}"
    print(head + f"{'per-net/batched':>17}{'naive/batched':>15}")
    for name, B, tb, t1, tn in rows:
        print(f"{name:<20}{B:>5}{tb:>12.4f}{t1:>12.4f}{tn:>10.3f}{t1 / tb:>17.1f}{tn / tb:>15.1f}")


class _Stacked:
    """An MLP seen as a plain predict function (MIV then predicts every copy in full)."""

    def __init__(self, batch: MLPBatch) -> None:
        self.batch = batch
        self.output_names = batch.output_names
        self.is_classifier = False
        self.feature_names = None

    def predict(self, X):
        return self.batch.predict(X)[0]


def _large_case(case: str, rows: int) -> dict:
    """One case of the large table, in this (fresh) process."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    from sensitivity import MIV, Dimopoulos, dimopoulos, miv
    from sensitivity.adapters import to_mlp_batch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 50)) + 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = MLPRegressor(hidden_layer_sizes=(100,), activation="tanh", max_iter=5)
        model.fit(X[:2000], X[:2000, 0])
    y = model.predict(X[:1000])
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if case == "miv":
        miv(model, X)
    elif case == "MIV estimator":
        MIV(model, prefit=True).fit(X, np.r_[y, np.zeros(rows - len(y))])
    elif case == "dimopoulos":
        dimopoulos(model, X)
    elif case == "Dimopoulos estimator":
        Dimopoulos(model, prefit=True).fit(X, np.r_[y, np.zeros(rows - len(y))])
    elif case == "stacked copies (rows/10)":
        P.miv(_Stacked(to_mlp_batch(model)), X[: rows // 10])
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall": wall, "peak_mb": (peak - base) / 1024, "data_mb": X.nbytes / 2**20}


def large(rows: int) -> None:
    cases = (
        "miv", "MIV estimator", "dimopoulos", "Dimopoulos estimator", "stacked copies (rows/10)"
    )  # fmt: skip
    print(f"{rows} rows x 50 inputs, 100 tanh units, torch threads {torch.get_num_threads()}")
    print(f"{'job':28s} {'wall s':>8s} {'peak rise MiB':>14s} {'/ dimopoulos':>13s}")
    res = {}
    for case in cases:
        out = subprocess.run(
            [sys.executable, __file__, "--case", case, str(rows)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        res[case] = json.loads(out.stdout.strip().splitlines()[-1])
    for case in cases:
        r = res[case]
        ratio = r["wall"] / res["dimopoulos"]["wall"]
        print(f"{case:28s} {r['wall']:8.2f} {r['peak_mb']:14.0f} {ratio:13.2f}")
    print(f"(the data themselves: {res['miv']['data_mb']:.0f} MiB, allocated before the peak "
          "is measured)")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--case":
        print(json.dumps(_large_case(sys.argv[2], int(sys.argv[3]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--large":
        large(int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
    else:
        main()
