r"""Batched trainer: fit ``B`` multilayer perceptrons of one architecture in one computation.

The randomization test and the bootstrap need hundreds of networks of one architecture fitted
to slightly different data (permuted targets, one permuted input, resampled rows). Fitting them
one at a time with scikit-learn costs a Python-level optimizer loop per network; here the ``B``
networks are stacked (:class:`~sensitivity.network.MLPBatch` layout) and trained together by a
**batched L-BFGS**: each network has its own search direction (two-loop recursion over its own
curvature pairs), its own backtracking (Armijo) line search and its own convergence test, so the
result for one network does not depend on which other networks share its batch.

Objective (scikit-learn's, per network ``b``; ``c_i`` row weights, ``W`` the connection
weights without biases, ``\alpha`` the L2 penalty):

.. math::

    L_b = \frac{\sum_i c_{bi}\,\ell(y_{bi}, f_b(x_{bi}))}{\sum_i c_{bi}}
          + \frac{\alpha}{2 \sum_i c_{bi}} \lVert W_b \rVert_2^2

with :math:`\ell = \tfrac12 \operatorname{mean}_k (y_k - \hat y_k)^2` (squared error, identity
output), the binary log-loss :math:`-\sum_k [y_k \log p_k + (1-y_k)\log(1-p_k)]` (logistic
outputs) or the multinomial log-loss :math:`-\sum_k y_k \log p_k` (softmax output), exactly as
``MLPRegressor``/``MLPClassifier`` define them.

Stopping (per network): the largest absolute gradient entry falls below ``tol`` (scikit-learn's
``lbfgs`` uses the same test through SciPy's ``gtol``), or the relative decrease of the
objective over an iteration falls below ``ftol``, or ``max_iter`` iterations.

Determinism: all randomness (initial weights, permutations, bootstrap counts) is drawn by the
caller before training; a network's trajectory depends only on its own data, so results do not
depend on the chunk size or on how chunks are spread over workers (up to floating point
reassociation in batched matrix products, far below the tolerances).

References
----------
Nocedal, J. & Wright, S. J. (2006). Numerical Optimization, 2nd ed., Springer: Algorithm 7.4
(L-BFGS two-loop recursion) and Algorithm 3.1 (backtracking line search).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from joblib import Parallel, delayed

from .network import ACTIVATIONS

__all__ = [
    "TrainResult",
    "TrainingSpec",
    "fit_networks",
    "init_weights",
    "train_networks",
]

LOSSES = ("squared_error", "log_loss")


@dataclass(frozen=True)
class TrainingSpec:
    """What the batched trainer needs to reproduce a network's training problem.

    Parameters
    ----------
    hidden_sizes : tuple of int
        Widths of the hidden layers.
    activation : str
        Hidden activation (``identity``, ``logistic``, ``tanh``, ``relu``).
    out_activation : str
        ``identity`` (regression), ``logistic`` (binary or multilabel) or ``softmax``.
    loss : {"squared_error", "log_loss"}
    alpha : float
        L2 penalty in scikit-learn's units (see the module docstring).
    input_scale, input_offset : ndarray or None
        The wrapped model's own affine input transform ``z = x * scale + offset`` (a Pipeline's
        scalers), used to express trained networks in the model's input space.
    is_classifier : bool
    classes : ndarray or None
        Class labels of a classifier (order of the outputs).
    """

    hidden_sizes: tuple[int, ...]
    activation: str
    out_activation: str
    loss: str
    alpha: float
    input_scale: np.ndarray | None = None
    input_offset: np.ndarray | None = None
    is_classifier: bool = False
    classes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"Unsupported loss {self.loss!r}; supported: {LOSSES}.")
        if self.activation not in ("identity", "logistic", "tanh", "relu"):
            raise ValueError(f"Unsupported hidden activation {self.activation!r}.")
        ok = {"squared_error": ("identity",), "log_loss": ("logistic", "softmax")}[self.loss]
        if self.out_activation not in ok:
            raise ValueError(
                f"Output activation {self.out_activation!r} does not go with loss {self.loss!r}."
            )
        if not math.isfinite(self.alpha) or self.alpha < 0:
            raise ValueError(f"alpha must be a non-negative number; got {self.alpha!r}.")


@dataclass
class TrainResult:
    """Networks fitted by :func:`fit_networks` (numpy, scikit-learn layout with a batch axis)."""

    coefs: list[np.ndarray]
    intercepts: list[np.ndarray]
    loss: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray

    @classmethod
    def concat(cls, parts: Sequence[TrainResult]) -> TrainResult:
        return cls(
            [np.concatenate(c) for c in zip(*(p.coefs for p in parts), strict=True)],
            [np.concatenate(c) for c in zip(*(p.intercepts for p in parts), strict=True)],
            np.concatenate([p.loss for p in parts]),
            np.concatenate([p.n_iter for p in parts]),
            np.concatenate([p.converged for p in parts]),
        )


def layer_sizes(spec: TrainingSpec, n_features: int, n_outputs: int) -> tuple[int, ...]:
    return (n_features, *spec.hidden_sizes, n_outputs)


def init_weights(
    spec: TrainingSpec, n_features: int, n_outputs: int, n_networks: int, seed
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Glorot-uniform initial weights, scikit-learn's scheme, for ``n_networks`` networks.

    Bound :math:`\\sqrt{6/(\\text{fan_in}+\\text{fan_out})}` (factor 2 instead of 6 for a
    logistic hidden activation), for weights and biases alike (Glorot & Bengio 2010, as in
    ``BaseMultilayerPerceptron._init_coef``).
    """
    rng = np.random.default_rng(seed)
    sizes = layer_sizes(spec, n_features, n_outputs)
    factor = 2.0 if spec.activation == "logistic" else 6.0
    coefs, intercepts = [], []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = math.sqrt(factor / (fan_in + fan_out))
        coefs.append(rng.uniform(-bound, bound, (n_networks, fan_in, fan_out)))
        intercepts.append(rng.uniform(-bound, bound, (n_networks, fan_out)))
    return coefs, intercepts


# ---------------------------------------------------------------------- objective
class _Problem:
    """Loss and gradient of ``B`` networks whose parameters are rows of a (B, P) tensor."""

    def __init__(self, spec, sizes, X, Y, weights, dtype, device):
        self.spec = spec
        self.sizes = sizes
        self.X = X  # (n, p) shared or (B, n, p)
        self.Y = Y  # (n, k) shared or (B, n, k)
        self.weights = weights  # (B, n) normalised to sum 1 per network, or None
        self.n_eff = None
        self._set_layout(sizes)
        self.n_layers = len(sizes) - 1
        self.act = ACTIVATIONS[spec.activation].f

    def _set_layout(self, sizes):
        """Where each layer's weights and biases sit in a parameter row: all weight matrices
        first (``n_coef`` entries, the penalized ones), then the biases."""
        self.shapes = []
        off = 0
        for fi, fo in itertools.pairwise(sizes):
            self.shapes.append(("W", off, fi, fo))
            off += fi * fo
        self.n_coef = off
        for fo in sizes[1:]:
            self.shapes.append(("b", off, fo))
            off += fo
        self.n_params = off

    def unpack(self, theta):
        B = theta.shape[0]
        Ws, bs = [], []
        for entry in self.shapes:
            if entry[0] == "W":
                _, off, fi, fo = entry
                Ws.append(theta[:, off : off + fi * fo].reshape(B, fi, fo))
            else:
                _, off, fo = entry
                bs.append(theta[:, off : off + fo])
        return Ws, bs

    def subset(self, idx):
        """The problem restricted to the networks ``idx`` (per-network data gathered)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        if self.X.ndim == 3:
            new.X = self.X[idx]
        if self.Y.ndim == 3:
            new.Y = self.Y[idx]
        if self.weights is not None:
            new.weights = self.weights[idx]
        new.penalty = self.penalty[idx]
        return new

    def loss(self, theta):
        """Per-network objective, shape (B,)."""
        Ws, bs = self.unpack(theta)
        h = self.X
        for i in range(self.n_layers):
            h = torch.matmul(h, Ws[i]) + bs[i].unsqueeze(1)
            if i < self.n_layers - 1:
                h = self.act(h)
        Y = self.Y
        if self.spec.loss == "squared_error":
            per_row = 0.5 * ((h - Y) ** 2).mean(dim=2)
        elif self.spec.out_activation == "softmax":
            per_row = -(Y * torch.log_softmax(h, dim=2)).sum(dim=2)
        else:
            # binary log-loss from logits: softplus(z) - y z
            per_row = (torch.nn.functional.softplus(h) - Y * h).sum(dim=2)
        if self.weights is None:
            data = per_row.mean(dim=1)
        else:
            data = (per_row * self.weights).sum(dim=1)
        sq = theta[:, : self.n_coef].pow(2).sum(dim=1)
        return data + self.penalty * sq

    def loss_grad(self, theta):
        """Per-network objective (B,) and its gradient (B, P), by explicit back-propagation."""
        Ws, bs = self.unpack(theta)
        acts = [self.X]
        zs = []
        h = self.X
        for i in range(self.n_layers):
            z = torch.matmul(h, Ws[i]) + bs[i].unsqueeze(1)
            zs.append(z)
            h = self.act(z) if i < self.n_layers - 1 else z
            if i < self.n_layers - 1:
                acts.append(h)
        z, Y = zs[-1], self.Y
        k = z.shape[2]
        if self.spec.loss == "squared_error":
            r = z - Y
            per_row = (0.5 / k) * (r * r).sum(dim=2)
            delta = r / k
        elif self.spec.out_activation == "softmax":
            logp = torch.log_softmax(z, dim=2)
            per_row = -(Y * logp).sum(dim=2)
            delta = torch.exp(logp) - Y
        else:
            per_row = (torch.nn.functional.softplus(z) - Y * z).sum(dim=2)
            delta = torch.sigmoid(z) - Y
        if self.weights is None:
            n = z.shape[1]
            data = per_row.mean(dim=1)
            delta = delta / n
        else:
            data = (per_row * self.weights).sum(dim=1)
            delta = delta * self.weights.unsqueeze(2)
        coef = theta[:, : self.n_coef]
        f = data + self.penalty * (coef * coef).sum(dim=1)
        return f, self._backprop(Ws, acts, zs, delta, self.n_layers)

    def _backprop(self, Ws, acts, zs, delta, n_layers):
        """Gradient (B, P) of layers ``0..n_layers-1`` given ``delta`` = dL/dz of the last one
        (penalty ``self.penalty * ||W||^2`` included)."""
        B = Ws[0].shape[0]
        gW: list = [None] * n_layers
        gb: list = [None] * n_layers
        d1 = ACTIVATIONS[self.spec.activation].d1
        for i in range(n_layers - 1, -1, -1):
            a_prev = acts[i]
            if a_prev.ndim == 2:
                gW[i] = torch.matmul(a_prev.T, delta)
            else:
                gW[i] = torch.matmul(a_prev.transpose(1, 2), delta)
            gW[i] = gW[i] + (2.0 * self.penalty).reshape(B, 1, 1) * Ws[i]
            gb[i] = delta.sum(dim=1)
            if i > 0:
                delta = torch.matmul(delta, Ws[i].transpose(1, 2)) * d1(zs[i - 1], acts[i])
        return torch.cat([w.reshape(B, -1) for w in gW] + gb, dim=1)


class _VarProProblem(_Problem):
    r"""Squared error with a linear output layer: the output weights are eliminated.

    For fixed hidden-layer parameters the objective is a ridge regression in the output
    weights ``V`` (intercept unpenalised), solved exactly from the normal equations
    ``(H^T C H + 2 k \lambda D) V = H^T C Y`` (``C`` the normalised row weights, ``D`` the
    identity without the intercept entry). The optimizer works on the reduced objective
    ``F(theta) = min_V L(theta, V)``, whose gradient is ``dL/dtheta`` at the optimal ``V``
    (variable projection; Golub & Pereyra 1973, 2003; Sjoeberg & Viberg 1997). Same objective,
    far fewer iterations.
    """

    def __init__(self, spec, sizes, X, Y, weights, dtype, device):
        super().__init__(spec, sizes, X, Y, weights, dtype, device)
        self.full_sizes = sizes
        hidden = sizes[:-1]  # the output layer is solved exactly, not a parameter
        self._set_layout(hidden)
        self.n_hidden_layers = len(hidden) - 1

    def _hidden(self, theta):
        Ws, bs = self.unpack(theta)
        acts = [self.X]
        zs = []
        h = self.X
        for i in range(self.n_hidden_layers):
            z = torch.matmul(h, Ws[i]) + bs[i].unsqueeze(1)
            h = self.act(z)
            zs.append(z)
            acts.append(h)
        return Ws, acts, zs

    def _solve_output(self, H):
        B, n, m = H.shape
        k = self.Y.shape[-1]
        H1 = torch.cat([H, torch.ones(B, n, 1, dtype=H.dtype, device=H.device)], dim=2)
        Hw = H1 / n if self.weights is None else H1 * self.weights.unsqueeze(2)
        G = torch.matmul(Hw.transpose(1, 2), H1)
        R = torch.matmul(Hw.transpose(1, 2), self.Y)
        diag = torch.ones(m + 1, dtype=H.dtype, device=H.device)
        diag[-1] = 0.0
        ridge = (2.0 * k * self.penalty).reshape(B, 1) * diag
        # a tiny jitter keeps the unpenalised intercept / alpha = 0 case solvable
        jitter = 1e-10 * torch.diagonal(G, dim1=1, dim2=2).mean(dim=1, keepdim=True) + 1e-30
        G = G + torch.diag_embed(ridge + jitter)
        L, info = torch.linalg.cholesky_ex(G)
        if bool((info != 0).any()):
            V = torch.linalg.lstsq(G, R).solution
        else:
            V = torch.cholesky_solve(R, L)
        return H1, V

    def output_weights(self, theta):
        _, acts, _ = self._hidden(theta)
        _, V = self._solve_output(acts[-1])
        return V[:, :-1, :], V[:, -1, :]

    def loss_grad(self, theta):
        Ws, acts, zs = self._hidden(theta)
        H1, V = self._solve_output(acts[-1])
        k = V.shape[2]
        r = torch.matmul(H1, V) - self.Y
        per_row = (0.5 / k) * (r * r).sum(dim=2)
        if self.weights is None:
            n = r.shape[1]
            data = per_row.mean(dim=1)
            delta = r / (k * n)
        else:
            data = (per_row * self.weights).sum(dim=1)
            delta = r * (self.weights.unsqueeze(2) / k)
        coef = theta[:, : self.n_coef]
        Vw = V[:, :-1, :]
        sq = (coef * coef).sum(dim=1) + (Vw * Vw).sum(dim=(1, 2))
        f = data + self.penalty * sq
        d1 = ACTIVATIONS[self.spec.activation].d1
        delta = torch.matmul(delta, Vw.transpose(1, 2)) * d1(zs[-1], acts[-1])
        return f, self._backprop(Ws, acts, zs, delta, self.n_hidden_layers)


def _lbfgs(problem, theta, *, max_iter, tol, ftol, memory, max_backtrack=12):
    """Batched L-BFGS with a per-network Armijo backtracking line search."""
    B, P = theta.shape
    dtype, device = theta.dtype, theta.device
    out_theta = theta.clone()
    out_f = torch.empty(B, dtype=dtype, device=device)
    out_iter = torch.zeros(B, dtype=torch.long, device=device)
    out_conv = torch.zeros(B, dtype=torch.bool, device=device)

    idx = torch.arange(B, device=device)  # global index of working rows
    prob = problem
    f, g = prob.loss_grad(theta)
    S = torch.zeros(B, memory, P, dtype=dtype, device=device)
    Yh = torch.zeros(B, memory, P, dtype=dtype, device=device)
    rho = torch.zeros(B, memory, dtype=dtype, device=device)
    gamma = torch.ones(B, dtype=dtype, device=device)
    n_iter = torch.zeros(B, dtype=torch.long, device=device)
    done = g.abs().amax(dim=1) <= tol
    conv = done.clone()
    pos = 0  # circular position shared by all rows (invalid pairs have rho = 0)
    c1 = 1e-4
    # objective values closer than a few rounding errors count as equal (float32 safety)
    slack = 16 * torch.finfo(dtype).eps
    first = True
    for it in range(max_iter + 1):
        if bool(done.any()) or it == max_iter:
            finished = done | (it == max_iter)
            fin = finished.nonzero().squeeze(1)
            gi = idx[fin]
            out_theta[gi] = theta[fin]
            out_f[gi] = f[fin]
            out_iter[gi] = n_iter[fin]
            out_conv[gi] = conv[fin]
            keep = (~finished).nonzero().squeeze(1)
            if keep.numel() == 0:
                break
            idx, theta, f, g = idx[keep], theta[keep], f[keep], g[keep]
            S, Yh, rho, gamma = S[keep], Yh[keep], rho[keep], gamma[keep]
            n_iter, conv = n_iter[keep], conv[keep]
            prob = prob.subset(keep) if prob is not problem else problem.subset(idx)
        # two-loop recursion (newest pair first)
        q = g.clone()
        a = torch.zeros_like(rho)
        order = [(pos - 1 - j) % memory for j in range(memory)]
        for j in order:
            a[:, j] = rho[:, j] * (S[:, j] * q).sum(dim=1)
            q = q - a[:, j : j + 1] * Yh[:, j]
        r = gamma.unsqueeze(1) * q
        for j in reversed(order):
            beta = rho[:, j] * (Yh[:, j] * r).sum(dim=1)
            r = r + S[:, j] * (a[:, j] - beta).unsqueeze(1)
        d = -r
        gd = (g * d).sum(dim=1)
        bad = gd >= 0  # not a descent direction: fall back to steepest descent
        if bool(bad.any()):
            d = torch.where(bad.unsqueeze(1), -g, d)
            gd = torch.where(bad, -(g * g).sum(dim=1), gd)
        if first:
            t = torch.clamp(1.0 / g.abs().sum(dim=1), max=1.0)
            first = False
        else:
            t = torch.ones_like(f)
        t = torch.where(bad, torch.clamp(1.0 / g.abs().sum(dim=1), max=1.0), t)
        # backtracking: evaluate loss and gradient together, shrink rejected rows
        new_theta = theta + t.unsqueeze(1) * d
        f_new, g_new = prob.loss_grad(new_theta)
        ok = f_new <= f + c1 * t * gd + slack * f.abs()
        for _ in range(max_backtrack):
            if bool(ok.all()):
                break
            rej = (~ok).nonzero().squeeze(1)
            t[rej] = t[rej] * 0.5
            cand = theta[rej] + t[rej].unsqueeze(1) * d[rej]
            fr, gr = prob.subset(rej).loss_grad(cand)
            new_theta[rej] = cand
            f_new[rej], g_new[rej] = fr, gr
            ok[rej] = fr <= f[rej] + c1 * t[rej] * gd[rej] + slack * f[rej].abs()
        # rows whose line search failed keep their point and are declared done
        stuck = ~ok
        new_theta = torch.where(stuck.unsqueeze(1), theta, new_theta)
        f_new = torch.where(stuck, f, f_new)
        g_new = torch.where(stuck.unsqueeze(1), g, g_new)
        s = new_theta - theta
        yv = g_new - g
        sy = (s * yv).sum(dim=1)
        yy = (yv * yv).sum(dim=1)
        good = sy > 1e-10 * torch.sqrt((s * s).sum(dim=1) * yy)
        S[:, pos] = s
        Yh[:, pos] = yv
        rho[:, pos] = torch.where(good, 1.0 / torch.where(good, sy, 1.0), 0.0)
        gamma = torch.where(good, sy / torch.where(good, yy, 1.0), gamma)
        pos = (pos + 1) % memory
        rel = (f - f_new) / torch.clamp(torch.maximum(f.abs(), f_new.abs()), min=1e-12)
        theta, f, g = new_theta, f_new, g_new
        n_iter = n_iter + 1
        gconv = g.abs().amax(dim=1) <= tol
        conv = gconv | (rel <= max(ftol, float(slack)))
        done = conv | stuck
    return out_theta, out_f, out_iter, out_conv


def fit_networks(
    spec: TrainingSpec,
    X: np.ndarray,
    Y: np.ndarray,
    init: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
    *,
    sample_weight: np.ndarray | None = None,
    max_iter: int = 500,
    tol: float = 1e-5,
    ftol: float = 1e-10,
    memory: int = 10,
    solver: str = "auto",
    dtype: torch.dtype = torch.float64,
    device=None,
) -> TrainResult:
    """Fit ``B`` networks at once (one chunk; see :func:`train_networks` for chunking).

    Parameters
    ----------
    spec : TrainingSpec
    X : ndarray (n, p) shared by all networks, or (B, n, p) per network
        Inputs in the space the networks see (already standardized by the caller).
    Y : ndarray (n, k) shared, or (B, n, k) per network
        Targets (one-hot / 0-1 indicators for classifiers).
    init : (coefs, intercepts)
        Initial weights, per layer ``(B, n_in, n_out)`` and ``(B, n_out)``.
    sample_weight : ndarray (B, n) or None
        Non-negative row weights per network (bootstrap counts).
    max_iter, tol, ftol, memory
        Iteration cap, gradient tolerance (max-abs), relative objective-decrease tolerance,
        L-BFGS history length.
    dtype, device
        Torch floating type and device of the computation.

    Returns
    -------
    TrainResult
    """
    coefs0, ints0 = init
    B = coefs0[0].shape[0]
    sizes = (coefs0[0].shape[1], *(c.shape[2] for c in coefs0))
    tens = {"dtype": dtype, "device": device}
    Xt = torch.as_tensor(np.asarray(X), **tens)
    Yt = torch.as_tensor(np.asarray(Y), **tens)
    if Yt.ndim == 1:
        Yt = Yt.unsqueeze(-1)
    n = Xt.shape[-2]
    if sample_weight is None:
        wt = None
        wsum = torch.full((B,), float(n), **tens)
    else:
        sw = torch.as_tensor(np.asarray(sample_weight), **tens)
        wsum = sw.sum(dim=1)
        if bool((wsum <= 0).any()):
            raise ValueError("Every network needs a positive total row weight.")
        wt = sw / wsum.unsqueeze(1)
    if solver == "auto":
        solver = "varpro" if spec.loss == "squared_error" and spec.hidden_sizes else "lbfgs"
    if solver not in ("varpro", "lbfgs"):
        raise ValueError(f"Unknown solver {solver!r}; use 'auto', 'varpro' or 'lbfgs'.")
    if solver == "varpro" and spec.loss != "squared_error":
        raise ValueError("solver='varpro' needs the squared-error loss (a linear output layer).")
    varpro = solver == "varpro"
    prob = (_VarProProblem if varpro else _Problem)(spec, sizes, Xt, Yt, wt, dtype, device)
    prob.penalty = 0.5 * spec.alpha / wsum
    n_opt = len(coefs0) - 1 if varpro else len(coefs0)
    theta0 = torch.cat(
        [torch.as_tensor(np.asarray(c), **tens).reshape(B, -1) for c in coefs0[:n_opt]]
        + [torch.as_tensor(np.asarray(b), **tens).reshape(B, -1) for b in ints0[:n_opt]],
        dim=1,
    )
    with torch.no_grad():
        theta, f, it, conv = _lbfgs(
            prob, theta0, max_iter=max_iter, tol=tol, ftol=ftol, memory=memory
        )
        Ws, bs = prob.unpack(theta)
        if varpro:
            V, c = prob.output_weights(theta)
            Ws, bs = [*Ws, V], [*bs, c]
    return TrainResult(
        [W.cpu().numpy().astype(np.float64) for W in Ws],
        [b.cpu().numpy().astype(np.float64) for b in bs],
        f.cpu().numpy().astype(np.float64),
        it.cpu().numpy(),
        conv.cpu().numpy(),
    )


def chunk_size_for(
    n_samples: int, sizes: Sequence[int], *, per_network_X: bool, memory: int, budget_mb: float
) -> int:
    """Networks per chunk so that one chunk's working tensors stay near ``budget_mb``."""
    width = sum(sizes[1:]) * 4 + (sizes[0] if per_network_X else 0) + 2
    params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    per_net = (n_samples * width + params * (2 * memory + 8)) * 8
    return max(1, int(budget_mb * 2**20 // per_net))


def _fit_task(spec, X, Y, init, sample_weight, col_perm, y_perm, opts, block):
    """One joblib task: fit its networks block by block (fixed blocks: deterministic)."""
    B = init[0][0].shape[0]
    parts = []
    for s in range(0, B, block):
        e = min(B, s + block)
        sub_init = ([c[s:e] for c in init[0]], [b[s:e] for b in init[1]])
        Yb = Y if y_perm is None else Y[y_perm[s:e]]  # (b, n, k)
        Xb = X
        if col_perm is not None:
            cols, perms = col_perm[0][s:e], col_perm[1][s:e]
            Xb = np.broadcast_to(X, (e - s, *X.shape)).copy()
            rows = np.arange(e - s)[:, None]
            Xb[rows, np.arange(X.shape[0])[None, :], cols[:, None]] = X[perms, cols[:, None]]
        sw = None if sample_weight is None else sample_weight[s:e]
        parts.append(fit_networks(spec, Xb, Yb, sub_init, sample_weight=sw, **opts))
    return TrainResult.concat(parts)


def train_networks(
    spec: TrainingSpec,
    X: np.ndarray,
    Y: np.ndarray,
    init: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
    *,
    y_perm: np.ndarray | None = None,
    col_perm: tuple[np.ndarray, np.ndarray] | None = None,
    sample_weight: np.ndarray | None = None,
    chunk_size: int | None = None,
    memory_budget_mb: float = 256.0,
    block_size: int = 64,
    n_jobs: int | None = None,
    progress=None,
    **opts,
) -> TrainResult:
    """Fit ``B`` networks in chunks run as independent joblib tasks.

    Parameters
    ----------
    spec : TrainingSpec
    X : ndarray (n, p)
        Inputs shared by all networks.
    Y : ndarray (n, k)
        Targets.
    init : (coefs, intercepts)
        Per-network initial weights (leading axis ``B``).
    y_perm : ndarray (B, n) of int, optional
        Network ``b`` is fitted to ``Y[y_perm[b]]`` (the permuted targets).
    col_perm : (cols (B,), perms (B, n)), optional
        Network ``b`` sees ``X`` with column ``cols[b]`` replaced by ``X[perms[b], cols[b]]``.
    sample_weight : ndarray (B, n), optional
        Per-network row weights (bootstrap counts).
    chunk_size : int, optional
        Networks per joblib task (rounded up to whole blocks); by default as many as fit
        ``memory_budget_mb``.
    block_size : int
        Networks trained together in one batched computation (fewer if one block would exceed
        ``memory_budget_mb``). Blocks depend only on the data and this setting, never on
        ``chunk_size`` or ``n_jobs``, so neither changes any result, even in float32.
    n_jobs : int, optional
        joblib workers (``joblib.parallel_config(backend="dask")`` sends the chunks to Dask).
    progress : callable, optional
        Called with the number of networks of each finished chunk (a tqdm ``update``).
    **opts
        Passed to :func:`fit_networks` (``max_iter``, ``tol``, ``dtype``, ``device``...).

    Returns
    -------
    TrainResult
        Networks in the order of ``init``, whatever the chunking.
    """
    B = init[0][0].shape[0]
    sizes = (X.shape[1], *(c.shape[2] for c in init[0]))
    fits = chunk_size_for(
        X.shape[0],
        sizes,
        per_network_X=col_perm is not None,
        memory=opts.get("memory", 10),
        budget_mb=memory_budget_mb,
    )
    block = max(1, min(int(block_size), fits))
    if chunk_size is None:
        chunk_size = max(block, fits)
    chunk_size = block * max(1, -(-int(chunk_size) // block))
    bounds = [(s, min(B, s + chunk_size)) for s in range(0, B, chunk_size)]

    def part(a, s, e):
        return None if a is None else a[s:e]

    tasks = (
        delayed(_fit_task)(
            spec,
            X,
            Y,
            ([c[s:e] for c in init[0]], [b[s:e] for b in init[1]]),
            part(sample_weight, s, e),
            None if col_perm is None else (col_perm[0][s:e], col_perm[1][s:e]),
            part(y_perm, s, e),
            opts,
            block,
        )
        for s, e in bounds
    )
    if n_jobs in (None, 1) and len(bounds) == 1:
        results = [_fit_task(*t[1], **t[2]) for t in tasks]  # no joblib overhead
        if progress is not None:
            progress(B)
    else:
        results = []
        for (s, e), res in zip(
            bounds, Parallel(n_jobs=n_jobs, return_as="generator")(tasks), strict=True
        ):
            results.append(res)
            if progress is not None:
                progress(e - s)
    return TrainResult.concat(results)
