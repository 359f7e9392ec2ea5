"""Benchmark: local attributions against captum 0.9, agreement and speed, in one run.

Agreement: on three torch networks (tanh MLP with a linear output; relu MLP with a softmax
output, every class; a general module with a skip connection, differentiated by autograd) the
largest absolute difference to captum for saliency, gradient x input, Integrated Gradients
(50 Gauss-Legendre steps) and occlusion (window of one variable); SmoothGrad with the same
noise draws; and our Integrated Gradients' largest relative completeness gap at the default
``n_steps="auto"``, on those networks and on scikit-learn MLPs fitted to the diabetes data.

Speed: Integrated Gradients, 50 Gauss-Legendre steps, zero baseline, on ``--rows`` rows x 50
inputs for a 100-unit MLP (tanh and relu; one linear output), float32 (captum's usual type),
captum's ``IntegratedGradients`` (``internal_batch_size`` = 2000 rows x 50 steps, so that its
memory stays near ours) against ours (the analytic first-layer shortcut, chunked to the
default memory budget). Both in this process, one torch thread, alternated, best and median
of ``--repeat`` calls. The load average is printed with the table.

Usage::

    PYTHONPATH=. python benchmarks/bench_attributions.py [--rows 100000] [--repeat 3]
        [--sections agreement,completeness,speed]
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
import warnings

import numpy as np
import torch


def _seq(sizes, act, out=None, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    if out is not None:
        layers.append(out)
    return torch.nn.Sequential(*layers).to(dtype).eval()


class Skip(torch.nn.Module):
    def __init__(self, p: int = 8) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.a = torch.nn.Linear(p, 16)
        self.b = torch.nn.Linear(16, 2)
        self.c = torch.nn.Linear(p, 2)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x))) + torch.sin(self.c(x))


def agreement() -> None:
    from captum.attr import (
        InputXGradient,
        IntegratedGradients,
        NoiseTunnel,
        Occlusion,
        Saliency,
    )

    from sensitivity import attributions as at

    p = 8
    X = np.random.default_rng(0).normal(size=(200, p))
    x = torch.tensor(X)
    base = np.full(p, 0.1)
    nets = {
        "tanh 8-32-16-1": _seq([p, 32, 16, 1], torch.nn.Tanh),
        "relu 8-32-3 softmax": _seq([p, 32, 3], torch.nn.ReLU, torch.nn.Softmax(dim=1)),
        "module (skip), autograd": Skip(p).double().eval(),
    }
    print("\nAgreement with captum 0.9 (float64 networks, 200 rows): max |ours - captum|")
    head = f"{'network':26s} {'saliency':>9s} {'grad*x':>9s} {'IG(GL50)':>9s} {'occlusion':>9s}"
    print(head + f" {'SmoothGrad':>10s} {'IG gap auto':>11s} {'steps':>5s}")
    for name, net in nets.items():
        sal = at.saliency(net, X).values
        gxi = at.gradient_x_input(net, X).values
        ig = at.integrated_gradients(
            net, X, baseline=base, n_steps=50, integration="gausslegendre"
        ).values
        occ = at.occlusion(net, X, baseline=base).values
        d = np.zeros(5)
        for k in range(sal.shape[1]):
            d[0] = max(d[0], np.abs(sal[:, k] - Saliency(net).attribute(x, target=k).numpy()).max())
            ref = InputXGradient(net).attribute(x, target=k).detach().numpy()
            d[1] = max(d[1], np.abs(gxi[:, k] - ref).max())
            ref = IntegratedGradients(net).attribute(
                x, baselines=torch.tensor(base)[None], target=k, n_steps=50
            )
            d[2] = max(d[2], np.abs(ig[:, k] - ref.detach().numpy()).max())
            ref = Occlusion(net).attribute(
                x, sliding_window_shapes=(1,), baselines=torch.tensor(base)[None], target=k
            )
            d[3] = max(d[3], np.abs(occ[:, k] - ref.detach().numpy()).max())
            torch.manual_seed(k)
            ref = NoiseTunnel(Saliency(net)).attribute(
                x, nt_type="smoothgrad", nt_samples=10, stdevs=0.2, target=k, abs=False
            )
            torch.manual_seed(k)
            draws = torch.normal(0, torch.tensor(0.2).repeat(len(X) * 10, p))
            noise = draws.numpy().reshape(len(X), 10, p).transpose(1, 0, 2)
            sg = at.smoothgrad(net, X, target=k, noise=noise).values[:, 0]
            d[4] = max(d[4], np.abs(sg - ref.detach().numpy()).max())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            auto = at.integrated_gradients(net, X)
        print(
            f"{name:26s} "
            + " ".join(f"{v:9.1e}" for v in d[:4])
            + f" {d[4]:10.1e} {auto.relative_gap.max():11.1e} {auto.settings['n_steps']:5d}"
        )


def completeness() -> None:
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sensitivity import attributions as at
    from sensitivity import load_diabetes

    X, y = load_diabetes()
    print("\nIntegrated Gradients completeness at the defaults (n_steps='auto', mean baseline),")
    print("diabetes data (442 rows), MLP(10) in a Pipeline with StandardScaler, alpha=1:")
    print(f"{'model':34s} {'steps':>5s} {'max rel gap':>11s} {'rows > 1e-3':>11s} {'time s':>7s}")
    yb = (np.asarray(y) > np.median(y)).astype(int)
    for act in ("tanh", "logistic", "relu"):
        for kind in ("regressor", "classifier"):
            est = MLPRegressor if kind == "regressor" else MLPClassifier
            mlp = est(
                hidden_layer_sizes=(10,),
                activation=act,
                alpha=1.0,
                solver="lbfgs",
                max_iter=500,
                random_state=0,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                net = make_pipeline(StandardScaler(), mlp).fit(X, y if kind == "regressor" else yb)
                t = time.perf_counter()
                res = at.integrated_gradients(net, X)
                dt = time.perf_counter() - t
            rg = res.relative_gap
            print(
                f"{act + ' ' + kind:34s} {res.settings['n_steps']:5d} {rg.max():11.1e} "
                f"{np.mean(rg > 1e-3):11.1%} {dt:7.2f}"
            )


def speed(n_rows: int, repeat: int) -> None:
    from captum.attr import IntegratedGradients

    from sensitivity.adapters import to_mlp_batch
    from sensitivity.methods import attributions as A

    X = np.random.default_rng(1).normal(size=(n_rows, 50)).astype(np.float32)
    x = torch.from_numpy(X)
    print(
        f"\nSpeed: IG, 50 Gauss-Legendre steps, {n_rows} rows x 50 inputs, MLP 50-100-1, "
        f"float32, 1 torch thread; load average {os.getloadavg()[0]:.2f} "
        f"({os.cpu_count()} cores)"
    )
    print(
        f"{'hidden':7s} {'captum min':>10s} {'median':>8s} {'ours min':>9s} {'median':>8s} "
        f"{'speed-up (median)':>17s} {'max |diff|':>10s} {'max |attr|':>10s}"
    )
    for act in (torch.nn.Tanh, torch.nn.ReLU):
        net = _seq([50, 100, 1], act, dtype=torch.float32)
        batch = to_mlp_batch(net, dtype=torch.float32)
        tc, to = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            ref = IntegratedGradients(net).attribute(
                x, baselines=0.0, target=0, n_steps=50, internal_batch_size=100_000
            )
            tc.append(time.perf_counter() - t)
            t = time.perf_counter()
            ours = A.integrated_gradients(batch, X, 0.0, n_steps=50)
            to.append(time.perf_counter() - t)
        diff = np.abs(ours.attributions[0, :, 0] - ref.detach().numpy()).max()
        print(
            f"{act.__name__:7s} {min(tc):10.2f} {np.median(tc):8.2f} {min(to):9.2f} "
            f"{np.median(to):8.2f} {np.median(tc) / np.median(to):17.1f} {diff:10.1e} "
            f"{np.abs(ours.attributions).max():10.1e}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sections", default="agreement,completeness,speed")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Input Tensor 0 did not already require")
    warnings.filterwarnings("ignore", message="Integrated Gradients: completeness")
    if "agreement" in sections:
        agreement()
    if "completeness" in sections:
        completeness()
    if "speed" in sections:
        speed(args.rows, args.repeat)


if __name__ == "__main__":
    main()
