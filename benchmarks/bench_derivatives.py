"""Benchmark: Dimopoulos PaD summaries against a plain numpy chain rule, in one run.

Network: 50 inputs, 100 tanh hidden units, one linear output (random weights, float64);
100,000 rows. Every case runs in its own fresh subprocess so that its peak memory (the rise of
the resident set size, VmHWM, over the level just before the call) is its own; times are the
best of ``--repeat`` calls after a first call that also measures the memory. Also: the
10^6-row x 50-input case (memory budget check) and the largest finite-difference error seen on
the benchmark network.

Usage::

    PYTHONPATH=. python benchmarks/bench_derivatives.py [--threads 2] [--repeat 5] [--omp-passive]

On a machine shared with other busy processes (load above the core count), torch's OpenMP
threads spin at barriers waiting for descheduled peers and the many small parallel regions of
chunked work slow down many times over; ``--threads 1`` or ``--omp-passive`` show the cost
without that effect. The load average is printed with the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

N_ROWS, N_IN, N_HIDDEN = 100_000, 50, 100


def _weights(seed: int = 0):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(size=(N_IN, N_HIDDEN)) / np.sqrt(N_IN)
    b1 = rng.normal(size=N_HIDDEN) * 0.1
    W2 = rng.normal(size=(N_HIDDEN, 1)) / np.sqrt(N_HIDDEN)
    b2 = np.zeros(1)
    return W1, b1, W2, b2


def _data(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, N_IN))


def numpy_chain_rule(X, W1, b1, W2, b2):
    """Plain numpy PaD for one tanh hidden layer and a linear output.

    ``dy/dx_i = sum_j W1[i, j] (1 - tanh(z_j)^2) W2[j]``, then the summaries.
    """
    H = np.tanh(X @ W1 + b1)
    G = (1.0 - H * H) * W2[:, 0]  # (n, u): dy/dz_j
    J = G @ W1.T  # (n, p)
    n = J.shape[0]
    ssd = (J * J).sum(axis=0)
    mean = J.mean(axis=0)
    return {
        "ssd": ssd,
        "relative_contribution": ssd / ssd.sum(),
        "mean": mean,
        "std": J.std(axis=0, ddof=1),
        "rms": np.sqrt(ssd / n),
    }


def _rss_reset() -> int:
    with open("/proc/self/clear_refs", "w") as fh:  # resets VmHWM to the current RSS
        fh.write("5")
    return _status("VmRSS")


def _status(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def worker(case: str, n_rows: int, threads: int, repeat: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from sensitivity.methods.derivatives import derivative_summaries
    from sensitivity.network import MLPBatch

    W1, b1, W2, b2 = _weights()
    X = _data(n_rows)
    batch = MLPBatch.from_arrays([W1, W2], [b1, b2], "tanh", "identity")
    if case == "numpy":

        def run():
            return numpy_chain_rule(X, W1, b1, W2, b2)
    else:
        second = case == "sensitivity+curvature"

        def run():
            return derivative_summaries(batch, X, second_order=second)

    before = _rss_reset()
    out = run()  # first call: its memory (nothing cached by the allocator yet), and warm-up
    peak = _status("VmHWM") - before
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - t0)
    return {
        "case": case,
        "rows": n_rows,
        "best_s": min(times),
        "median_s": float(np.median(times)),
        "peak_bytes": peak,
        "x_bytes": X.nbytes,
        "ssd": np.asarray(out["ssd"]).ravel().tolist(),
    }


def _spawn(case: str, n_rows: int, threads: int, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", case, "--rows", str(n_rows)]
    cmd += ["--threads", str(threads), "--repeat", str(repeat)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def largest_fd_error(n_rows: int = 500) -> tuple[float, float]:
    """Max relative error of the Jacobian and the curvature against central differences."""
    import torch

    from sensitivity.network import MLPBatch, input_derivatives

    W1, b1, W2, b2 = _weights()
    X = _data(n_rows, seed=2)
    batch = MLPBatch.from_arrays([W1, W2], [b1, b2], "tanh", "identity")
    J, D = input_derivatives(batch, X, second_order=True)
    J, D = J[0, :, 0].numpy(), D[0, :, 0].numpy()

    def f(Z):
        with torch.no_grad():
            return batch.forward(Z)[0, :, 0].numpy()

    h = 1e-3
    Jf, Df = np.empty_like(J), np.empty_like(D)
    y0 = f(X)
    for i in range(N_IN):
        e = np.zeros(N_IN)
        e[i] = h
        p1, m1, p2, m2 = f(X + e), f(X - e), f(X + 2 * e), f(X - 2 * e)
        Jf[:, i] = (8 * (p1 - m1) - (p2 - m2)) / (12 * h)
        Df[:, i] = (16 * (p1 + m1) - (p2 + m2) - 30 * y0) / (12 * h**2)
    return (
        float(np.abs(J - Jf).max() / np.abs(Jf).max()),
        float(np.abs(D - Df).max() / np.abs(Df).max()),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rows", type=int, default=N_ROWS)
    parser.add_argument("--worker", default=None)
    parser.add_argument("--skip-million", action="store_true")
    parser.add_argument(
        "--omp-passive",
        action="store_true",
        help="set OMP_WAIT_POLICY=PASSIVE in the workers (helps a lot on an oversubscribed "
        "machine, where OpenMP threads spinning at barriers wait for descheduled peers)",
    )
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows, args.threads, args.repeat)))
        return

    import os

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(args.threads))
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    rows = [_spawn(c, args.rows, args.threads, args.repeat) for c in ("numpy", "sensitivity")]
    rows.append(_spawn("sensitivity+curvature", args.rows, args.threads, args.repeat))
    base = rows[0]
    np.testing.assert_allclose(rows[1]["ssd"], base["ssd"], rtol=1e-10)
    np.testing.assert_allclose(rows[2]["ssd"], base["ssd"], rtol=1e-10)
    print(
        f"PaD summaries: {args.rows:,} rows x {N_IN} inputs, {N_HIDDEN} tanh hidden, 1 output; "
        f"float64, {args.threads} threads, best of {args.repeat}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    header = f"{'case':<34}{'best s':>9}{'median s':>10}{'ratio':>8}{'peak MiB':>10}"
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["best_s"] / base["best_s"]
        name = {
            "numpy": "numpy chain rule (baseline)",
            "sensitivity": "sensitivity Jacobian summaries",
            "sensitivity+curvature": "sensitivity + curvature (2nd order)",
        }[r["case"]]
        print(
            f"{name:<34}{r['best_s']:>9.3f}{r['median_s']:>10.3f}{ratio:>8.2f}"
            f"{r['peak_bytes'] / 2**20:>10.1f}"
        )
    print("ratio = best / numpy best; peak = rise of resident memory during the first call")
    if not args.skip_million:
        big = _spawn("sensitivity+curvature", 1_000_000, args.threads, 1)
        print(
            f"\n10^6 rows x {N_IN} inputs (Jacobian + curvature summaries): "
            f"{big['best_s']:.2f} s, peak rise {big['peak_bytes'] / 2**20:.0f} MiB "
            f"(X itself: {big['x_bytes'] / 2**20:.0f} MiB, not counted)"
        )
    ej, ed = largest_fd_error()
    print(
        f"\nLargest relative error against central differences (500 rows, 4th-order stencils, "
        f"h=1e-3): Jacobian {ej:.1e}, curvature {ed:.1e}"
    )


if __name__ == "__main__":
    main()
