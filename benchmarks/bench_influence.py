"""Influence functions (``sensitivity.influence.SampleInfluence``): faithfulness, usefulness,
speed.

1. Faithfulness. A one-hidden-layer MLP (5 inputs, 10 hidden units, n = 200) trained with an
   L2 penalty to convergence (scikit-learn lbfgs, then polished by the batched trainer in
   float64). For a test row, the predicted change of its loss when a training row is left
   out (``loo_change``) is compared with actual leave-one-out retraining (warm start from the
   fitted weights, float64 batched L-BFGS to a gradient of 1e-12 or no further decrease) for the
   50 training rows of largest |influence|: Pearson and Spearman correlation. Test rows: the
   ones of largest, 90th-percentile and median loss among 100 test rows (Koh & Liang examine
   test points the model gets wrong; at a test row with near-zero loss the loss is quadratic in
   the parameter change and a first-order formula cannot track it).
2. Usefulness. 10 % of the labels of a binary classification data set flipped; the share of
   flipped labels found by checking the top 10 % (and 20 %) of the training rows ranked by
   self-influence, by training loss, and at random (expected 10 %, 20 %).
3. Speed. All influences of 1,000 training rows on 100 test rows for a 5-10-1 network, against
   pyDVL's ``DirectInfluence`` (exact Hessian) at equal accuracy, in the same run.

pyDVL 0.10 pins numpy < 2 and pandas < 3: installing it into the shared environment would
downgrade both. It is installed beside it instead, without dependencies:
``pip install --no-deps --target /tmp/pydvl_pkgs pydvl==0.10.0 pyDeprecate Deprecated
zarr==2.18.3 numcodecs==0.15.1 asciitree fasteners`` (the benchmark looks there, or at
``$PYDVL_PATH``; without it the speed table compares against a plain torch.autograd
implementation only).

Run: ``python benchmarks/bench_influence.py [--quick] [--only speed]`` (the speed table is
printed for torch's thread count as the environment sets it and for one thread).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy.stats import pearsonr, spearmanr
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sensitivity import adapters
from sensitivity.influence import SampleInfluence
from sensitivity.methods import influence as inf
from sensitivity.training import fit_networks

D = torch.float64


def _quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **k)


# ---------------------------------------------------------------------- 1. faithfulness
def _median_rel(pred, actual):
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(np.median(np.abs(pred / actual - 1.0)))
    return f"{value:.3f}" if np.isfinite(value) and value < 100 else "n/a"


def _data(task: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    f = np.sin(1.5 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3]
    if task == "regression":
        return X, f + 0.5 * rng.normal(size=n)
    p = 1.0 / (1.0 + np.exp(-2.0 * f))
    return X, (rng.uniform(size=n) < p).astype(int)


def _network(task, hidden, activation, alpha, seed):
    kw = dict(
        hidden_layer_sizes=hidden,
        activation=activation,
        solver="lbfgs",
        alpha=alpha,
        tol=1e-10,
        max_iter=20000,
        random_state=seed,
    )
    return MLPRegressor(**kw) if task == "regression" else MLPClassifier(**kw)


def faithfulness(
    task, hidden=(10,), activation="tanh", alpha=5.0, hessian="exact", n=200, n_top=50, seed=0
):
    X, y = _data(task, n, seed)
    Xt, yt = _data(task, 100, seed + 1000)
    net = _quiet(_network(task, hidden, activation, alpha, seed).fit, X, y)
    # refused (not positive definite, or singular): report, then retry with damping; 1e-6
    # removes the numerically zero directions of hidden units the penalty switched off
    for damping in (0.0, 1e-6, 0.1):
        try:
            si = _quiet(
                SampleInfluence(net, polish=5000, damping=damping, hessian=hessian).fit, X, y
            )
            break
        except ValueError as exc:
            print(f"  {task} {hidden} {activation} alpha={alpha}: {str(exc)[:150]}...")
    obj, theta = si._obj, si._theta
    Zt = torch.as_tensor(Xt, dtype=D)
    Yt = torch.as_tensor(si._encode_y(yt, len(yt)), dtype=D)
    test_loss = inf.row_losses(obj, theta, Zt, Yt).numpy()
    order = np.argsort(test_loss)
    picks = {
        "max": order[-1],
        "p90": order[int(0.9 * len(order))],
        "median": order[len(order) // 2],
    }
    spec = replace(adapters.training_spec(si.estimator_), input_scale=None, input_offset=None)
    W, b = si.network_.numpy_weights()
    rows_out = []
    for name, t in picks.items():
        infl = si.influence_matrix(Xt[t : t + 1], yt[t : t + 1])[0]
        top = np.argsort(-np.abs(infl))[:n_top]
        pred = -infl[top] / n
        sw = np.ones((n_top, n))
        sw[np.arange(n_top), top] = 0.0
        init = ([np.repeat(w, n_top, 0) for w in W], [np.repeat(v, n_top, 0) for v in b])
        t0 = time.perf_counter()
        res = fit_networks(
            spec,
            si._Z.numpy(),
            si._Y.numpy(),
            init,
            sample_weight=sw,
            max_iter=5000,
            tol=1e-12,
            ftol=0.0,
            solver="lbfgs",
            dtype=torch.float64,
        )
        t_loo = time.perf_counter() - t0
        thetas = torch.cat(
            [torch.as_tensor(c.reshape(n_top, -1)) for c in res.coefs]
            + [torch.as_tensor(v.reshape(n_top, -1)) for v in res.intercepts],
            dim=1,
        )
        base = float(test_loss[t])
        actual = np.array(
            [float(obj.row_loss(thetas[k], Zt[t : t + 1], Yt[t : t + 1])[0]) - base
             for k in range(n_top)]
        )  # fmt: skip
        rows_out.append(
            {
                "task": task,
                "net": f"5-{'-'.join(map(str, hidden))}-1 {activation}",
                "alpha": alpha,
                "curvature": hessian,
                "damping": damping,
                "test row": f"{name} (loss {base:.3g})",
                "pearson": pearsonr(pred, actual)[0],
                "spearman": spearmanr(pred, actual)[0],
                "median |pred/actual - 1|": _median_rel(pred, actual),
                "LOO fits converged": f"{res.converged.mean():.0%}",
                "LOO time (s)": round(t_loo, 1),
                "grad ratio": f"{si.stationarity_ratio_:.1e}",
            }
        )
    return rows_out


def well_fitted_test_row(alpha=5.0, n=200, n_top=50, seed=0):
    """The limit of a first-order formula: at the test row of smallest loss, the loss is
    quadratic in the parameter change; the prediction there stays linear."""
    X, y = _data("regression", n, seed)
    Xt, yt = _data("regression", 100, seed + 1000)
    net = _quiet(_network("regression", (10,), "tanh", alpha, seed).fit, X, y)
    si = _quiet(SampleInfluence(net, polish=5000).fit, X, y)
    obj, theta = si._obj, si._theta
    Zt = torch.as_tensor(Xt, dtype=D)
    Yt = torch.as_tensor(yt.reshape(-1, 1), dtype=D)
    test_loss = inf.row_losses(obj, theta, Zt, Yt).numpy()
    t = int(np.argmin(test_loss))
    sp = _quiet(SampleInfluence(si.estimator_, target="prediction").fit, X, y)
    spec = replace(adapters.training_spec(si.estimator_), input_scale=None, input_offset=None)
    W, b = si.network_.numpy_weights()
    out = []
    for name, est in (("loss", si), ("prediction", sp)):
        infl = est.influence_matrix(Xt[t : t + 1], yt[t : t + 1])[0]
        top = np.argsort(-np.abs(infl))[:n_top]
        pred = -infl[top] / n
        sw = np.ones((n_top, n))
        sw[np.arange(n_top), top] = 0.0
        init = ([np.repeat(w, n_top, 0) for w in W], [np.repeat(v, n_top, 0) for v in b])
        res = fit_networks(
            spec, X, y[:, None], init, sample_weight=sw, max_iter=5000, tol=1e-12, ftol=0.0,
            solver="lbfgs", dtype=torch.float64,
        )  # fmt: skip
        thetas = torch.cat(
            [torch.as_tensor(c.reshape(n_top, -1)) for c in res.coefs]
            + [torch.as_tensor(v.reshape(n_top, -1)) for v in res.intercepts],
            dim=1,
        )
        if name == "loss":
            q = [float(obj.row_loss(th, Zt[t : t + 1], Yt[t : t + 1])[0]) for th in thetas]
            base = float(test_loss[t])
        else:
            q = [float(obj.outputs(th, Zt[t : t + 1])[0, 0]) for th in thetas]
            base = float(obj.outputs(theta, Zt[t : t + 1])[0, 0])
        actual = np.array(q) - base
        out.append(
            {
                "target": name,
                "alpha": alpha,
                "test row": f"min (loss {test_loss[t]:.2g})",
                "pearson": pearsonr(pred, actual)[0],
                "spearman": spearmanr(pred, actual)[0],
                "median |pred/actual - 1|": _median_rel(pred, actual),
            }
        )
    return out


def perturbation_faithfulness(task="regression", alpha=5.0, n=200, n_top=30, delta=0.1, seed=0):
    """I_pert: predicted change of the worst test row's loss when x_ij moves by delta (in the
    user's units) vs retraining on the perturbed data (warm start), for the n_top (row,
    variable) pairs of largest |I_pert|."""
    X, y = _data(task, n, seed)
    Xt, yt = _data(task, 100, seed + 1000)
    net = _quiet(_network(task, (10,), "tanh", alpha, seed).fit, X, y)
    si = _quiet(SampleInfluence(net, polish=5000).fit, X, y)
    obj, theta = si._obj, si._theta
    Zt = torch.as_tensor(Xt, dtype=D)
    Yt = torch.as_tensor(si._encode_y(yt, len(yt)), dtype=D)
    test_loss = inf.row_losses(obj, theta, Zt, Yt).numpy()
    t = int(np.argmax(test_loss))
    fr = si.perturbation_influence(Xt[t : t + 1], yt[t : t + 1], top=n_top)
    rows = np.asarray(fr.index.get_level_values("train"), dtype=int)
    cols = np.array([int(v[1:]) for v in fr.index.get_level_values("variable")])
    pred = delta * fr["change_per_unit"].to_numpy()
    Xb = np.repeat(X[None], n_top, axis=0)
    Xb[np.arange(n_top), rows, cols] += delta
    spec = replace(adapters.training_spec(si.estimator_), input_scale=None, input_offset=None)
    W, b = si.network_.numpy_weights()
    init = ([np.repeat(w, n_top, 0) for w in W], [np.repeat(v, n_top, 0) for v in b])
    res = fit_networks(
        spec,
        Xb,
        si._Y.numpy(),
        init,
        max_iter=5000,
        tol=1e-12,
        ftol=0.0,
        solver="lbfgs",
        dtype=torch.float64,
    )
    thetas = torch.cat(
        [torch.as_tensor(c.reshape(n_top, -1)) for c in res.coefs]
        + [torch.as_tensor(v.reshape(n_top, -1)) for v in res.intercepts],
        dim=1,
    )
    actual = np.array(
        [float(obj.row_loss(thetas[k], Zt[t : t + 1], Yt[t : t + 1])[0]) - test_loss[t]
         for k in range(n_top)]
    )  # fmt: skip
    return {
        "task": task,
        "alpha": alpha,
        "delta": delta,
        "pairs": n_top,
        "pearson": pearsonr(pred, actual)[0],
        "spearman": spearmanr(pred, actual)[0],
        "median |pred/actual - 1|": _median_rel(pred, actual),
        "LOO fits converged": f"{res.converged.mean():.0%}",
    }


# ---------------------------------------------------------------------- 2. usefulness
def _flipped_data(dataset: str, seed: int):
    rng = np.random.default_rng(seed)
    if dataset == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
        X = StandardScaler().fit_transform(X)
    else:
        X, y = make_classification(
            n_samples=500, n_features=8, n_informative=5, class_sep=1.5, random_state=seed
        )
    n = len(y)
    flipped = rng.choice(n, size=n // 10, replace=False)
    yf = y.copy()
    yf[flipped] = 1 - yf[flipped]
    is_flip = np.zeros(n, dtype=bool)
    is_flip[flipped] = True
    return X, yf, is_flip


def _self_influence(net, X, y, **kw):
    """Self-influences in row order, or None when the curvature matrix is not positive
    definite at these weights (the estimator refuses)."""
    try:
        si = _quiet(SampleInfluence(net, **kw).fit, X, y)
    except ValueError as exc:
        print(f"    refused ({kw}): {str(exc)[:120]}", flush=True)
        return None, None
    return si.self_influence_["self_influence"].sort_index().to_numpy(), si


USEFULNESS_SCORES = (
    "training loss",
    "SI exact",
    "SI exact, damping 0.01",
    "SI exact, damping 0.1",
    "SI Gauss-Newton",
    "LOO loss 1st order (exact)",
    "LOO loss 1st order (GN)",
    "LOO loss Newton (GN)",
)


def usefulness(dataset: str, seed: int, alpha: float, fraction: float = 0.1) -> dict:
    """Share of the flipped labels among the top ``fraction`` of rows by each score.

    Scores: training loss; self-influence g_i' (C + lambda I)^-1 g_i with C the exact Hessian
    (lambda = 0, 0.01, 0.1) or the Gauss-Newton matrix; the predicted leave-one-out loss of the
    row, to first order l_i + SI_i / n, and with the Newton (Sherman-Morrison) step on the
    Gauss-Newton model, which for a binary log-loss moves the row's logit by
    h_i r_i / (n - w_i h_i) (h_i = J_i' C^-1 J_i, r_i = p_i - y_i, w_i = p_i (1 - p_i); the
    approximate leave-one-out formula of generalised linear models, Rad & Maleki 2020).
    """
    X, yf, is_flip = _flipped_data(dataset, seed)
    n = len(yf)
    net = _quiet(_network("classification", (10,), "tanh", alpha, seed).fit, X, yf)
    base, si = _self_influence(net, X, yf, polish=5000)
    net = si.estimator_ if si is not None else net
    loss = si.train_loss_ if si is not None else None
    scores = {"training loss": loss, "SI exact": base}
    for lam in (0.01, 0.1):
        scores[f"SI exact, damping {lam:g}"] = _self_influence(net, X, yf, damping=lam)[0]
    gn, sg = _self_influence(net, X, yf, hessian="gauss-newton")
    if gn is None:  # near-singular (hidden units the penalty switched off): tiny damping
        gn, sg = _self_influence(net, X, yf, hessian="gauss-newton", damping=1e-6)
    scores["SI Gauss-Newton"] = gn
    if loss is None:  # the polish failed: use the unpolished network for the loss
        sg_loss = sg.train_loss_
        scores["training loss"] = sg_loss
        loss = sg_loss
    scores["LOO loss 1st order (exact)"] = None if base is None else loss + base / n
    scores["LOO loss 1st order (GN)"] = loss + gn / n
    J = inf.logit_jacobians(sg._obj, sg._theta, sg._Z)[:, 0, :]
    h = sg._eig.quadratic_forms(J).numpy()
    s = sg._obj.logits(sg._theta, sg._Z)[:, 0].numpy()
    p = 1.0 / (1.0 + np.exp(-s))
    yb = sg._Y[:, 0].numpy()
    s_loo = s + h * (p - yb) / (n - p * (1 - p) * h)
    scores["LOO loss Newton (GN)"] = np.logaddexp(0.0, s_loo) - yb * s_loo
    k = round(fraction * n)
    out = {}
    for name, sc in scores.items():
        if sc is None:
            out[name] = np.nan
            continue
        top = np.argsort(-sc, kind="stable")[:k]
        out[name] = is_flip[top].sum() / is_flip.sum()
    out["train accuracy"] = float((net.predict(X) == yf).mean())
    out["n"] = n
    return out


def _random_share_se(n: int, fraction: float = 0.1) -> float:
    """Standard deviation of the share of the n/10 flipped rows found among round(f n)
    random rows (hypergeometric)."""
    k, m = round(fraction * n), n // 10
    var = k * (m / n) * (1 - m / n) * (n - k) / (n - 1)
    return float(np.sqrt(var) / m)


def usefulness_table(seeds, alphas, datasets=("synthetic", "breast_cancer")) -> pd.DataFrame:
    rows = []
    for dataset in datasets:
        for alpha in alphas:
            res = pd.DataFrame([usefulness(dataset, s, alpha) for s in seeds])
            S = len(res)
            row = {"data": dataset, "alpha": alpha, "seeds": S}
            row["train acc."] = f"{res['train accuracy'].mean():.3f}"
            for name in USEFULNESS_SCORES:
                v = res[name].dropna()
                txt = f"{v.mean():.3f} ({v.std(ddof=1) / np.sqrt(len(v)):.3f})"
                if name != "training loss":
                    d = (res[name] - res["training loss"]).dropna()
                    txt += f" {d.mean():+.3f} ({d.std(ddof=1) / np.sqrt(len(d)):.3f})"
                if len(v) < S:
                    txt += f" [{S - len(v)} not PD]"
                row[name] = txt
            se = _random_share_se(int(res["n"].iloc[0])) / np.sqrt(S)
            row["random"] = f"0.100 ({se:.3f})"
            rows.append(row)
            print(pd.DataFrame([row]).T.to_string(header=False), flush=True)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- 3. speed
def _load_pydvl():
    for path in (os.environ.get("PYDVL_PATH"), "/tmp/pydvl_pkgs"):
        if path and Path(path).is_dir() and path not in sys.path:
            sys.path.append(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pydvl.influence import InfluenceMode
            from pydvl.influence.torch import DirectInfluence
        return DirectInfluence, InfluenceMode
    except ImportError:
        return None


def _autograd_reference(seq, lam, X, y, Xt, yt):
    """Plain torch.autograd: per-row gradients by a loop, Hessian by double backward."""
    params = list(seq.parameters())

    def flat_grad(loss, create_graph=False):
        gs = torch.autograd.grad(loss, params, create_graph=create_graph)
        return torch.cat([g.reshape(-1) for g in gs])

    def loss_fn(xb, yb):
        return 0.5 * ((seq(xb) - yb) ** 2).mean()

    g = flat_grad(loss_fn(X, y), create_graph=True)
    P = g.numel()
    rows = []
    for j in range(P):
        gj = torch.autograd.grad(g[j], params, retain_graph=True)
        rows.append(torch.cat([t.reshape(-1) for t in gj]))
    H = torch.stack(rows) + lam * torch.eye(P, dtype=D)
    Gtr = torch.stack([flat_grad(loss_fn(X[i : i + 1], y[i : i + 1])) for i in range(len(X))])
    Gte = torch.stack([flat_grad(loss_fn(Xt[i : i + 1], yt[i : i + 1])) for i in range(len(Xt))])
    return -(torch.linalg.solve(H, Gte.T).T @ Gtr.T)


def speed(repeats: int = 5, threads: int = 2):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _speed(repeats)
    finally:
        torch.set_num_threads(before)


def _speed_problem(n: int = 1000, T: int = 100):
    """Data, the polished 5-10-1 tanh regressor and the same network as a torch Sequential."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n + T, 5))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.3 * rng.normal(size=n + T)
    net = _quiet(_network("regression", (10,), "tanh", 1.0, 0).fit, X[:n], y[:n])
    net = _quiet(SampleInfluence(net, polish=5000).fit, X[:n], y[:n]).estimator_
    seq = torch.nn.Sequential(torch.nn.Linear(5, 10), torch.nn.Tanh(), torch.nn.Linear(10, 1))
    with torch.no_grad():
        seq[0].weight.copy_(torch.as_tensor(net.coefs_[0].T))
        seq[0].bias.copy_(torch.as_tensor(net.intercepts_[0]))
        seq[2].weight.copy_(torch.as_tensor(net.coefs_[1].T))
        seq[2].bias.copy_(torch.as_tensor(net.intercepts_[1]))
    return X, y, net, seq.double()


def _speed(repeats):
    n = 1000
    X, y, net, seq = _speed_problem(n)
    lam = net.alpha / n  # equal objective for all: the penalty alpha/(2n)||theta||^2 as damping
    Xtr, Xte = X[:n], X[n:]
    ytr, yte = y[:n], y[n:]

    def ours():
        si = _quiet(SampleInfluence(seq, alpha=0.0, damping=lam).fit, Xtr, ytr)
        return si.influence_matrix(Xte, yte)

    def ours_frame():
        si = _quiet(SampleInfluence(net).fit, Xtr, ytr)  # penalty on weights only
        return si.influence(Xte, yte)

    tX, ty = torch.as_tensor(Xtr), torch.as_tensor(ytr).reshape(-1, 1)
    tXt, tyt = torch.as_tensor(Xte), torch.as_tensor(yte).reshape(-1, 1)
    methods = {
        "sensitivity SampleInfluence (matrix)": ours,
        "sensitivity SampleInfluence (ranked frame, 100k rows)": ours_frame,
        "plain torch.autograd (loop over rows)": lambda: _autograd_reference(
            seq, lam, tX, ty, tXt, tyt
        ).numpy(),
    }
    loaded = _load_pydvl()
    if loaded is not None:
        DirectInfluence, InfluenceMode = loaded
        from torch.utils.data import DataLoader, TensorDataset

        def half_mse(out, target):
            return 0.5 * torch.nn.functional.mse_loss(out, target)

        def pydvl():
            model = DirectInfluence(seq, half_mse, regularization=lam)
            model = model.fit(DataLoader(TensorDataset(tX, ty), batch_size=n))
            return model.influences(tXt, tyt, tX, ty, mode=InfluenceMode.Up).numpy()

        methods["pyDVL 0.10 DirectInfluence"] = pydvl
    reference = None
    rows = []
    for name, fn in methods.items():
        t0 = time.perf_counter()
        out = fn()
        cold = time.perf_counter() - t0
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        if isinstance(out, pd.DataFrame):
            err = "(penalty on weights only)"
        else:
            if reference is None:
                reference = out
            # pyDVL reports <H^-1 grad test, grad train>, our influence is minus that
            sign = -1.0 if "pyDVL" in name else 1.0
            rel = np.abs(sign * out - reference).max() / np.abs(reference).max()
            err = f"{rel:.1e}"
        rows.append(
            {
                "method": name,
                "first call (s)": round(cold, 3),
                "min (s)": round(min(times), 3),
                "median (s)": round(float(np.median(times)), 3),
                "max rel. difference": err,
            }
        )
    frame = pd.DataFrame(rows).set_index("method")
    base = frame.loc["sensitivity SampleInfluence (matrix)", "median (s)"]
    frame["median / ours"] = (frame["median (s)"] / base).round(1)
    return frame


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only",
        choices=[
            "faithfulness",
            "faithfulness-gn",
            "well-fitted",
            "perturbation",
            "usefulness",
            "speed",
        ],
        default=None,
    )
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    print(f"load: {os.getloadavg()}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    if args.only in (None, "speed"):
        for threads in sorted({torch.get_num_threads(), 1}, reverse=True):
            print(
                f"\n== 3. Speed: 1,000 training rows x 100 test rows, 5-10-1 tanh network, "
                f"{threads} torch thread(s) =="
            )
            print(speed(3 if args.quick else 7, threads).to_string(), flush=True)
    if args.only in (None, "faithfulness", "faithfulness-gn"):
        print("\n== 1. Faithfulness: predicted vs actual leave-one-out change of a test loss ==")
        configs = [((10,), "tanh", 5.0), ((10,), "tanh", 1.0), ((10,), "tanh", 20.0)]
        if not args.quick:
            configs += [((10,), "relu", 5.0), ((10,), "logistic", 5.0), ((10, 10), "tanh", 5.0)]
        configs = [(*c, "exact") for c in configs]
        configs += [((10,), "tanh", 5.0, "gauss-newton")]
        if not args.quick:
            configs += [
                ((10,), "relu", 5.0, "gauss-newton"),
                ((10, 10), "tanh", 5.0, "gauss-newton"),
            ]
        if args.only == "faithfulness-gn":
            configs = [c for c in configs if c[3] != "exact"]
        rows = []
        for task in ("regression", "classification"):
            for hidden, act, alpha, hessian in configs:
                rows += faithfulness(task, hidden, act, alpha, hessian)
                print(pd.DataFrame(rows[-3:]).round(3).to_string(index=False), flush=True)
        print("\nAll together:")
        print(pd.DataFrame(rows).round(3).to_string(index=False))
    if args.only in (None, "faithfulness", "well-fitted"):
        print("\n== 1c. A test row the network fits almost exactly: loss vs prediction ==")
        rows = well_fitted_test_row(5.0) + well_fitted_test_row(20.0)
        print(pd.DataFrame(rows).round(3).to_string(index=False), flush=True)
    if args.only in (None, "faithfulness", "perturbation"):
        print("\n== 1b. Perturbation influence: predicted vs refitted change, x_ij + delta ==")
        pert = [perturbation_faithfulness(task) for task in ("regression", "classification")]
        print(pd.DataFrame(pert).round(3).to_string(index=False))
    if args.only in (None, "usefulness"):
        print(
            "\n== 2. Usefulness: share of the flipped labels among the top 10% of rows "
            "(10% of labels flipped; MLPClassifier(10, tanh)) =="
        )
        print(
            "cells: mean over seeds (s.e.); for the other scores also the paired difference "
            "from training loss (s.e.)"
        )
        seeds = range(args.seeds)
        table = usefulness_table(seeds, (0.1, 1.0, 10.0) if not args.quick else (1.0,))
        print("\nAll together:")
        print(table.set_index(["data", "alpha"]).T.to_string())


if __name__ == "__main__":
    main()
