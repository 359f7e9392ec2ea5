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

Stopping (per network), in terms free of the number of rows ``n``: the largest absolute entry
of the gradient of the *mean* objective :math:`L_b` falls below ``tol`` (scikit-learn's
``lbfgs`` uses the same test through SciPy's ``gtol``), or the relative decrease of
:math:`L_b` over an accepted iteration is at most ``ftol``, or ``max_iter`` iterations, or no
acceptable step after 12 backtracking steps (not converged). The objective is accumulated in
float64 whatever the working type, and a step whose change of the objective is within float32
rounding is accepted but never counts as convergence: before, at n = 20,000 rows such steps
stopped float32 fits after 16 iterations on average (100 at n = 500). The same objective
written with 20 times more rows stops after the same iterations (``tests/test_training.py``).
On permuted targets fewer iterations at large ``n`` remain (60 at n = 20,000, 94 at 5,000,
100 at 500; float64 alike: 72, 99, 100): with many rows there is little noise to overfit and
more networks meet the gradient test (78 % at n = 20,000 against 6 % at n = 500).

Determinism: all randomness (initial weights, permutations, bootstrap counts) is drawn by the
caller before training; a network's trajectory depends only on its own data and on the block
(``block_size`` consecutive networks) it is trained in, so results do not depend on
``n_jobs``, ``chunk_size`` or ``memory_budget_mb``, which only decide how many blocks run at
once. Blocks run as tasks in worker threads with one torch intra-op thread each (see
:mod:`sensitivity._threads`).

References
----------
Nocedal, J. & Wright, S. J. (2006). Numerical Optimization, 2nd ed., Springer: Algorithm 7.4
(L-BFGS two-loop recursion) and Algorithm 3.1 (backtracking line search).
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import itertools
import math
import platform
import sys
import types
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._config import DEFAULT_MEMORY_BUDGET_MB, check_memory_budget_mb
from ._threads import n_workers, run_tasks
from .network import ACTIVATIONS

__all__ = [
    "DEFAULTS",
    "DEFAULT_TRAIN_PARAMS",
    "TrainResult",
    "TrainerOptions",
    "TrainingSpec",
    "fit_networks",
    "init_weights",
    "keep_freed_blocks_in_heap",
    "train_networks",
]

LOSSES = ("squared_error", "log_loss")


@dataclass(frozen=True)
class TrainerOptions:
    """The batched trainer's settings and their defaults (defined here only).

    ``max_iter``, ``tol``, ``ftol``, ``memory``: iteration cap, gradient tolerance (largest
    absolute entry), relative objective-decrease tolerance, L-BFGS history (see the stopping
    rule in the module docstring). ``dtype``, ``device``: torch type and device.
    ``block_size``: networks fitted together in one batched computation (fixes the rounding of
    the results); ``chunk_size``, ``memory_budget_mb``: how many blocks may be in flight at once
    (never change a result).
    """

    max_iter: int = 100
    tol: float = 1e-4
    ftol: float = 1e-9
    memory: int = 10
    dtype: torch.dtype = torch.float32
    device: object = None
    chunk_size: int | None = None
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB
    block_size: int = 128


DEFAULTS = TrainerOptions()
DEFAULT_TRAIN_PARAMS = types.MappingProxyType(
    {k: v for k, v in dataclasses.asdict(DEFAULTS).items() if k != "memory"}
)
"""The user-settable trainer settings (``train_params``) and their defaults, read-only."""


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


# ---------------------------------------------------------------------- memory
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (glibc's <malloc.h>)
_MMAP_THRESHOLD_MAX = 4 * 1024 * 1024 * ctypes.sizeof(ctypes.c_long)  # 32 MiB on 64-bit


@functools.cache
def keep_freed_blocks_in_heap() -> bool:
    """Opt-in: ask glibc to keep freed large blocks in the heap (a process-wide setting).

    glibc serves blocks above its mmap threshold (128 KiB at start) with fresh ``mmap`` pages
    and returns free memory at the heap's top to the kernel, so code that allocates and frees
    the same megabyte arrays over and over page-faults them back in. glibc raises both
    thresholds by itself as large blocks are freed (up to a 32 MiB mmap threshold and a trim
    threshold twice that); this sets that end state at once. It changes the allocator of the
    **whole process**, so the package never calls it by itself: call it once if you want it
    (measured effect on the trainer: see ``benchmarks/bench_speed.py``; small, since glibc's own
    dynamic thresholds reach the same state after the first pass). Linux/glibc only; elsewhere
    nothing happens. Returns whether it was set.
    """
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        ok &= libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)
    except (OSError, AttributeError):
        return False
    return bool(ok)


# ---------------------------------------------------------------------- objective
def _rows_first(t: torch.Tensor) -> torch.Tensor:
    """(B, n, w) -> (n, B, w), contiguous."""
    return t.transpose(0, 1).contiguous()


class _Problem:
    """Loss and gradient of ``B`` networks whose parameters are rows of a (B, P) tensor.

    Layout (the trainer's inner loop; chosen by measurement, see ``benchmarks/bench_speed.py``):
    every activation is stored **rows first**, ``(n, B, width)``, so that with inputs shared by
    all networks the first layer of all ``B`` networks is **one** matrix product
    ``[X, 1] @ [W_1 | ... | W_B]`` of shape ``(n, p+1) @ (p+1, B h)``, and its gradient one
    product ``[X, 1]^T @ delta`` with ``delta`` seen as ``(n, B h)``. Batched products of many
    tiny matrices (what a ``(B, n, h)`` layout needs) ran 4-8x slower per flop than these two
    large ones. Products with one output column (a single output, the usual case) are
    elementwise multiply-and-sum; other layers use batched products on strided views.

    A network may see the shared inputs with one column replaced (``col = (cols, values)``,
    ``values`` of shape (n, B): a permuted or resampled column of a per-variable test). The first
    layer is then the shared product plus a rank-one term per network,
    ``z_b += (values_b - x_{cols_b}) w_{b, cols_b}^T``, and the gradient of row ``cols_b`` of
    ``W_b`` gets the matching correction: no per-network copy of ``X`` is made.
    """

    def __init__(self, spec, sizes, X, Y, weights, dtype, device, col=None):
        self.spec = spec
        self.sizes = sizes
        ones = torch.ones(*X.shape[:-1], 1, dtype=X.dtype, device=X.device)
        X1 = torch.cat([X, ones], dim=-1)  # (n, p+1) or (B, n, p+1)
        self.shared = X.ndim == 2
        if self.shared:
            self.X1 = X1
            self.X1T = X1.T.contiguous()  # a transposed view would make matmul loop
        else:
            self.X1 = X1  # (B, n, p+1)
            self.X1T = X1.transpose(1, 2)
        self.col = None
        if col is not None:
            if not self.shared:
                raise ValueError("A replaced column needs inputs shared by all networks.")
            cols, values = col
            cols = torch.as_tensor(cols, dtype=torch.long, device=X.device)
            self.col = (cols, values - X[:, cols])  # (B,), (n, B): the change of the column
        # targets and row weights rows first: (n, B, k) / (n, 1, k) shared, (n, B)
        self.Y = _rows_first(Y) if Y.ndim == 3 else Y.unsqueeze(1)
        self.weights = None if weights is None else weights.T.contiguous()
        self._set_layout(sizes)
        self.n_layers = len(sizes) - 1
        self.act = ACTIVATIONS[spec.activation].f
        self.act_d1 = ACTIVATIONS[spec.activation].d1  # from the activation value alone
        self._work: dict = {}  # reusable (n, B, h) buffers of the first layer (no-grad path)

    def _buf(self, name: str, shape) -> torch.Tensor | None:
        """A reusable workspace of ``shape`` (None when autograd records: tests' ``loss``).

        Every pass needs the same few ``(n, B, h)`` arrays; allocating them afresh makes the
        allocator hand the memory back to the kernel and page-fault it in again at the next
        pass (measured: 180,000-240,000 minor faults and 40-60 % more CPU time per 50 passes
        of 256 networks), unless the process-wide :func:`keep_freed_blocks_in_heap` is used.
        Buffers are per problem (one block, one thread) and shrink with the working set.
        """
        if torch.is_grad_enabled():
            return None
        size = math.prod(shape)
        buf = self._work.get(name)
        if buf is None or buf.numel() < size:
            buf = torch.empty(size, dtype=self.X1.dtype, device=self.X1.device)
            self._work[name] = buf
        return buf[:size].view(shape)

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
        if not self.shared:
            new.X1 = self.X1[idx]
            new.X1T = new.X1.transpose(1, 2)
        if self.col is not None:
            new.col = (self.col[0][idx], self.col[1][:, idx].contiguous())
        if self.Y.shape[1] > 1:
            new.Y = self.Y[:, idx]
        if self.weights is not None:
            new.weights = self.weights[:, idx]
        new.penalty = self.penalty[idx]
        return new

    # -- products in the rows-first layout
    def _first_layer(self, W, b):
        """Pre-activation of the first layer, (n, B, h)."""
        B, _, h = W.shape
        W1 = torch.cat([W, b.unsqueeze(1)], dim=1)  # (B, p+1, h)
        if not self.shared:
            return _rows_first(torch.bmm(self.X1, W1))
        n = self.X1.shape[0]
        W1c = W1.transpose(0, 1).reshape(-1, B * h)
        out = self._buf("z", (n, B * h))
        z = (torch.mm(self.X1, W1c) if out is None else torch.mm(self.X1, W1c, out=out)).view(
            n, B, h
        )
        if self.col is not None:
            cols, dx = self.col
            w_col = W[torch.arange(B, device=W.device), cols]  # (B, h)
            z.addcmul_(dx.unsqueeze(2), w_col.unsqueeze(0))
        return z

    def _first_layer_grad(self, delta):
        """Gradient (B, p+1, h) of ``[W; b]`` of the first layer for ``delta`` (n, B, h)."""
        n, B, h = delta.shape
        if not self.shared:
            return torch.bmm(self.X1T, delta.transpose(0, 1))
        g = torch.mm(self.X1T, delta.reshape(n, B * h)).view(-1, B, h).transpose(0, 1)
        if self.col is not None:
            cols, dx = self.col
            g = g.contiguous()
            g[torch.arange(B, device=g.device), cols] += self._mul(dx.unsqueeze(2), delta).sum(
                dim=0
            )
        return g

    def _mul(self, a, b, name="tmp"):
        """``a * b`` (broadcast) into the workspace ``name`` when there is one."""
        shape = torch.broadcast_shapes(a.shape, b.shape)
        out = self._buf(name, shape)
        return a * b if out is None else torch.mul(a, b, out=out)

    def _act0(self, z):
        """The hidden activation of the first layer, in place on its workspace when possible."""
        if torch.is_grad_enabled():
            return self.act(z)
        name = self.spec.activation
        if name == "logistic":
            return z.sigmoid_()
        if name == "tanh":
            return z.tanh_()
        if name == "relu":
            return z.relu_()
        return z

    def _times_d1(self, delta, a):
        """``delta * f'(.)`` from the activation value ``a``, in place (workspace ``d1``)."""
        out = self._buf("d1", a.shape)
        name = self.spec.activation
        if out is None or name not in ("logistic", "tanh"):
            return delta.mul_(self.act_d1(None, a))
        if name == "logistic":
            d1 = torch.addcmul(a, a, a, value=-1.0, out=out)  # a (1 - a)
        else:
            d1 = torch.mul(a, a, out=out).neg_().add_(1.0)  # 1 - a^2
        return delta.mul_(d1)

    def _layer(self, a, W):
        """``a @ W_b`` per network: (n, B, m) x (B, m, o) -> (n, B, o)."""
        if W.shape[2] == 1:
            return self._mul(a, W[:, :, 0]).sum(dim=2, keepdim=True)
        return torch.bmm(a.transpose(0, 1), W).transpose(0, 1)

    def _layer_grad(self, a, delta):
        """``a_b^T delta_b`` per network: (n, B, m), (n, B, o) -> (B, m, o)."""
        if delta.shape[2] == 1:
            return self._mul(a, delta).sum(dim=0).unsqueeze(2)
        return torch.bmm(a.permute(1, 2, 0), delta.transpose(0, 1))

    def _back(self, delta, W, name=None):
        """``delta_b @ W_b^T`` per network: (n, B, o), (B, m, o) -> (n, B, m) (into the
        workspace ``name`` when given: the delta of the first layer)."""
        if W.shape[2] == 1:
            return delta * W[:, :, 0] if name is None else self._mul(delta, W[:, :, 0], name)
        return torch.bmm(delta.transpose(0, 1), W.transpose(1, 2)).transpose(0, 1)

    def _forward(self, Ws, bs, n_layers):
        """Activations of layers ``0..n_layers-1`` (the last one's pre-activation if it is
        the output layer): ``[a_1, ..., a_L]``, each (n, B, width)."""
        outs = []
        for i in range(n_layers):
            if i == 0:
                z = self._first_layer(Ws[0], bs[0])
                outs.append(self._act0(z) if i < self.n_hidden else z)
                continue
            z = self._layer(outs[-1], Ws[i]).add_(bs[i])
            outs.append(self.act(z) if i < self.n_hidden else z)
        return outs

    @property
    def n_hidden(self):
        return self.n_layers - 1

    def _data_term(self, per_row):
        """Mean (or weighted sum) over rows of ``per_row`` (n, B): (B,)."""
        if self.weights is None:
            return per_row.sum(dim=0, dtype=torch.float64).div_(per_row.shape[0])
        return (per_row * self.weights).sum(dim=0, dtype=torch.float64)

    def _per_row_loss(self, z):
        Y = self.Y
        if self.spec.loss == "squared_error":
            return 0.5 * ((z - Y) ** 2).mean(dim=2)
        if self.spec.out_activation == "softmax":
            return -(Y * torch.log_softmax(z, dim=2)).sum(dim=2)
        # binary log-loss from logits: softplus(z) - y z
        return (torch.nn.functional.softplus(z) - Y * z).sum(dim=2)

    def loss(self, theta):
        """Per-network objective, shape (B,) (plain operations: autograd checks the gradient)."""
        Ws, bs = self.unpack(theta)
        z = self._forward(Ws, bs, self.n_layers)[-1]
        sq = theta[:, : self.n_coef].pow(2).sum(dim=1)
        return self._data_term(self._per_row_loss(z)) + self.penalty * sq

    def _output_delta(self, delta):
        """``delta`` (dloss/dz per row, unweighted) scaled by the row weights (1/n or c_i)."""
        if self.weights is None:
            return delta.mul_(1.0 / delta.shape[0])
        return delta.mul_(self.weights.unsqueeze(2))

    def loss_grad(self, theta):
        """Per-network objective (B,) and its gradient (B, P), by explicit back-propagation."""
        Ws, bs = self.unpack(theta)
        outs = self._forward(Ws, bs, self.n_layers)
        z, Y = outs[-1], self.Y
        k = z.shape[2]
        if self.spec.loss == "squared_error":
            r = z - Y
            per_row = (0.5 / k) * (r * r).sum(dim=2)
            delta = r.mul_(1.0 / k)
        elif self.spec.out_activation == "softmax":
            logp = torch.log_softmax(z, dim=2)
            per_row = -(Y * logp).sum(dim=2)
            delta = logp.exp_().sub_(Y)
        else:
            per_row = (torch.nn.functional.softplus(z) - Y * z).sum(dim=2)
            delta = torch.sigmoid(z).sub_(Y)
        coef = theta[:, : self.n_coef]
        f = self._data_term(per_row) + self.penalty * (coef * coef).sum(dim=1)
        return f, self._backprop(Ws, outs[:-1], self._output_delta(delta), self.n_layers)

    def _backprop(self, Ws, acts, delta, n_layers):
        """Gradient (B, P) of layers ``0..n_layers-1`` given ``delta`` = dL/dz of the last one
        and the hidden activations ``acts`` (penalty ``self.penalty * ||W||^2`` included)."""
        B = Ws[0].shape[0]
        gW: list = [None] * n_layers
        gb: list = [None] * n_layers
        pen2 = (2.0 * self.penalty).reshape(B, 1, 1)
        for i in range(n_layers - 1, -1, -1):
            if i == 0:
                g0 = self._first_layer_grad(delta)  # (B, p+1, h): weights and bias rows
                gW[0], gb[0] = g0[:, :-1], g0[:, -1]
            else:
                gW[i] = self._layer_grad(acts[i - 1], delta)
                gb[i] = delta.sum(dim=0)
            gW[i] = torch.addcmul(gW[i], pen2, Ws[i])
            if i > 1:
                delta = self._back(delta, Ws[i]).mul_(self.act_d1(None, acts[i - 1]))
            elif i == 1:
                delta = self._times_d1(self._back(delta, Ws[1], "delta"), acts[0])
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

    def __init__(self, spec, sizes, X, Y, weights, dtype, device, col=None):
        super().__init__(spec, sizes, X, Y, weights, dtype, device, col=col)
        self.full_sizes = sizes
        hidden = sizes[:-1]  # the output layer is solved exactly, not a parameter
        self._set_layout(hidden)
        self.n_hidden_layers = len(hidden) - 1

    @property
    def n_hidden(self):
        return self.n_hidden_layers

    def _solve_output(self, H):
        """Ridge output weights ``V`` (B, m, k) and intercepts ``c`` (B, k) for hidden
        activations ``H`` (n, B, m): the normal equations built blockwise (no ``[H, 1]`` copy)."""
        n, B, m = H.shape
        Y = self.Y  # (n, B, k) or (n, 1, k)
        k = Y.shape[-1]
        w = self.weights  # (n, B) or None
        Hw = H if w is None else self._mul(H, w.unsqueeze(2), "hw")  # weighted rows
        scale = 1.0 / n if w is None else 1.0
        G = torch.empty(B, m + 1, m + 1, dtype=H.dtype, device=H.device)
        G[:, :m, :m] = torch.bmm(Hw.permute(1, 2, 0), H.transpose(0, 1))
        s = Hw.sum(dim=0)
        G[:, :m, m] = s
        G[:, m, :m] = s
        G[:, m, m] = float(n) if w is None else w.sum(dim=0)
        R = torch.empty(B, m + 1, k, dtype=H.dtype, device=H.device)
        R[:, :m] = self._layer_grad(Hw, Y.expand(n, B, k))
        R[:, m] = (Y.sum(dim=0) if w is None else (w.unsqueeze(2) * Y).sum(dim=0)).expand(B, k)
        diag = G.diagonal(dim1=1, dim2=2)
        # a tiny jitter keeps the unpenalised intercept / alpha = 0 case solvable
        jitter = 1e-10 * diag.mean(dim=1, keepdim=True) + 1e-30
        diag.add_(jitter)
        diag[:, :m].add_((2.0 * k / scale) * self.penalty.unsqueeze(1))
        L, info = torch.linalg.cholesky_ex(G)
        if bool((info != 0).any()):
            V = torch.linalg.lstsq(G, R).solution
        else:
            V = torch.cholesky_solve(R, L)
        return V[:, :m], V[:, m]

    def output_weights(self, theta):
        Ws, bs = self.unpack(theta)
        acts = self._forward(Ws, bs, self.n_hidden_layers)
        return self._solve_output(acts[-1])

    def loss_grad(self, theta):
        Ws, bs = self.unpack(theta)
        acts = self._forward(Ws, bs, self.n_hidden_layers)
        H = acts[-1]
        V, c = self._solve_output(H)
        k = V.shape[2]
        r = self._layer(H, V).add_(c).sub_(self.Y)  # (n, B, k)
        per_row = (0.5 / k) * (r * r).sum(dim=2)
        coef = theta[:, : self.n_coef]
        sq = (coef * coef).sum(dim=1) + (V * V).sum(dim=(1, 2))
        f = self._data_term(per_row) + self.penalty * sq
        delta = self._output_delta(r.mul_(1.0 / k))
        if self.n_hidden_layers == 1:  # H is the first layer's: workspaces
            delta = self._times_d1(self._back(delta, V, "delta"), H)
        else:
            delta = self._back(delta, V).mul_(self.act_d1(None, H))
        return f, self._backprop(Ws, acts, delta, self.n_hidden_layers)


def _lbfgs(problem, theta, *, max_iter, tol, ftol, memory, max_backtrack=12):
    """Batched L-BFGS with a per-network Armijo backtracking line search.

    Every pass evaluates all working networks once, each at its own trial point: a network
    whose trial point fails the Armijo condition keeps its point and tries a shorter step
    along the same direction at the next pass. Backtracking is thus spread over passes (one
    batched evaluation per pass, never a small subset), and each network's trajectory is that
    of a serial L-BFGS: it depends only on its own data. The history holds the curvature pairs of
    the last ``memory`` passes (a pass in which a network rejected its trial point leaves an
    inert slot); a pass costs one objective-and-gradient evaluation plus the two-loop
    recursion's ``O(memory * P)`` work per network.
    """
    B, P = theta.shape
    dtype, device = theta.dtype, theta.device
    out_theta = theta.clone()
    out_f = torch.empty(B, dtype=torch.float64, device=device)
    out_iter = torch.zeros(B, dtype=torch.long, device=device)
    out_conv = torch.zeros(B, dtype=torch.bool, device=device)

    idx = torch.arange(B, device=device)  # global index of working rows
    prob = problem
    f, g = prob.loss_grad(theta)
    S = torch.zeros(B, memory, P, dtype=dtype, device=device)
    Yh = torch.zeros(B, memory, P, dtype=dtype, device=device)
    rho = torch.zeros(B, memory, dtype=dtype, device=device)  # 0: no usable pair in the slot
    pos = 0  # next slot to write, shared by all networks
    gamma = torch.ones(B, dtype=dtype, device=device)
    n_iter = torch.zeros(B, dtype=torch.long, device=device)
    n_back = torch.zeros(B, dtype=torch.long, device=device)  # rejections in this line search
    d = torch.zeros_like(theta)
    t = torch.zeros(B, dtype=dtype, device=device)  # step lengths, in the parameters' type
    gd = torch.zeros(B, dtype=dtype, device=device)
    conv = g.abs().amax(dim=1) <= tol
    done = conv.clone()
    c1 = 1e-4
    # objective values closer than a few rounding errors count as equal (float32 safety)
    slack = 16 * torch.finfo(dtype).eps
    for _ in range(max_iter * (max_backtrack + 1) + 1):
        finished = done | (n_iter >= max_iter)
        if bool(finished.any()):
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
            n_iter, n_back, conv = n_iter[keep], n_back[keep], conv[keep]
            d, t, gd = d[keep], t[keep], gd[keep]
            prob = problem.subset(idx)
        new = n_back == 0  # networks starting a line search need a direction
        if bool(new.any()):
            # two-loop recursion over the pairs, newest first; slots without a usable pair
            # (empty, or written in a pass where the network rejected its trial point or the
            # pair failed the curvature test) have rho = 0 and no effect
            order = [(pos - 1 - j) % memory for j in range(memory)]
            q = g.clone()
            alphas = []
            for j in order:
                a_j = rho[:, j] * torch.linalg.vecdot(S[:, j], q)
                q.addcmul_(a_j.unsqueeze(1), Yh[:, j], value=-1.0)
                alphas.append(a_j)
            r = gamma.unsqueeze(1) * q
            for j, a_j in zip(reversed(order), reversed(alphas), strict=True):
                beta = rho[:, j] * torch.linalg.vecdot(Yh[:, j], r)
                r.addcmul_(S[:, j], (a_j - beta).unsqueeze(1))
            dn = -r
            gdn = (g * dn).sum(dim=1)
            bad = gdn >= 0  # not a descent direction: fall back to steepest descent
            dn = torch.where(bad.unsqueeze(1), -g, dn)
            gdn = torch.where(bad, -(g * g).sum(dim=1), gdn)
            cautious = bad | (n_iter == 0)  # no curvature information: a short first step
            tn = torch.where(
                cautious, torch.clamp(1.0 / g.abs().sum(dim=1), max=1.0), torch.ones_like(t)
            )
            nc = new.unsqueeze(1)
            d, gd, t = torch.where(nc, dn, d), torch.where(new, gdn, gd), torch.where(new, tn, t)
        trial = theta + t.unsqueeze(1) * d
        f_new, g_new = prob.loss_grad(trial)
        ok = f_new <= f + c1 * t * gd + slack * f.abs()
        # rejected: a shorter step at the next pass, the minimizer of the quadratic through
        # f(0), f'(0) and f(t), kept in [0.1 t, 0.5 t] (Nocedal & Wright, section 3.5)
        n_back = torch.where(ok, 0, n_back + 1)
        curv = f_new - f - gd * t
        t_q = -gd * t * t / (2.0 * torch.where(curv > 0, curv, 1.0))
        t_q = torch.where(curv > 0, t_q, 0.5 * t)
        t = torch.where(ok, t, torch.minimum(torch.maximum(t_q, 0.1 * t), 0.5 * t)).to(dtype)
        stuck = n_back > max_backtrack
        # accepted: the curvature pair joins the network's history (if it is usable)
        s = trial - theta
        yv = g_new - g
        sy = (s * yv).sum(dim=1)
        yy = (yv * yv).sum(dim=1)
        good = ok & (sy > 1e-10 * torch.sqrt((s * s).sum(dim=1) * yy))
        # one slot per pass for every network (a circular buffer with a shared position:
        # cheap, and a network's history still depends only on its own passes)
        S[:, pos] = s
        Yh[:, pos] = yv
        rho[:, pos] = torch.where(good, 1.0 / torch.where(good, sy, 1.0), 0.0)
        gamma = torch.where(good, sy / torch.where(good, yy, 1.0), gamma)
        pos = (pos + 1) % memory
        rel = (f - f_new) / torch.clamp(torch.maximum(f.abs(), f_new.abs()), min=1e-12)
        okc = ok.unsqueeze(1)
        theta = torch.where(okc, trial, theta)
        g = torch.where(okc, g_new, g)
        f = torch.where(ok, f_new, f)
        n_iter = n_iter + ok.long()
        conv = ok & ((g.abs().amax(dim=1) <= tol) | (rel <= ftol))
        done = conv | stuck
    return out_theta, out_f, out_iter, out_conv


def fit_networks(
    spec: TrainingSpec,
    X: np.ndarray,
    Y: np.ndarray,
    init: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
    *,
    sample_weight: np.ndarray | None = None,
    replace_column: tuple[np.ndarray, np.ndarray] | None = None,
    alpha: np.ndarray | None = None,
    max_iter: int = DEFAULTS.max_iter,
    tol: float = DEFAULTS.tol,
    ftol: float = DEFAULTS.ftol,
    memory: int = DEFAULTS.memory,
    solver: str = "auto",
    dtype: torch.dtype = DEFAULTS.dtype,
    device=DEFAULTS.device,
) -> TrainResult:
    """Fit ``B`` networks at once (one block; see :func:`train_networks` for many blocks).

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
    replace_column : (cols (B,), values (B, n)), optional
        Network ``b`` sees the shared ``X`` with column ``cols[b]`` replaced by ``values[b]``
        (computed as a rank-one change of the first layer, without copying ``X``).
    alpha : ndarray (B,), optional
        Per-network L2 penalties (default: ``spec.alpha`` for every network); networks with
        different penalties train together in one batched computation.
    max_iter, tol, ftol, memory
        Iteration cap, gradient tolerance (max-abs), relative objective-decrease tolerance,
        L-BFGS history length (defaults: :data:`DEFAULT_TRAIN_PARAMS`).
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
    col = None
    if replace_column is not None:
        if Xt.ndim != 2:
            raise ValueError("replace_column needs inputs X shared by all networks (n, p).")
        cols, values = replace_column
        col = (np.asarray(cols), torch.as_tensor(np.asarray(values), **tens).T)
    if solver == "auto":
        solver = "varpro" if spec.loss == "squared_error" and spec.hidden_sizes else "lbfgs"
    if solver not in ("varpro", "lbfgs"):
        raise ValueError(f"Unknown solver {solver!r}; use 'auto', 'varpro' or 'lbfgs'.")
    if solver == "varpro" and spec.loss != "squared_error":
        raise ValueError("solver='varpro' needs the squared-error loss (a linear output layer).")
    varpro = solver == "varpro"
    prob = (_VarProProblem if varpro else _Problem)(spec, sizes, Xt, Yt, wt, dtype, device, col=col)
    if alpha is None:
        prob.penalty = 0.5 * spec.alpha / wsum
    else:
        alpha_t = torch.as_tensor(np.asarray(alpha, dtype=np.float64), **tens)
        if alpha_t.shape != (B,) or not bool(torch.isfinite(alpha_t).all() & (alpha_t >= 0).all()):
            raise ValueError(f"alpha must be {B} non-negative finite penalties, one per network.")
        prob.penalty = 0.5 * alpha_t / wsum
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


def block_memory_mb(
    n_samples: int,
    sizes: Sequence[int],
    n_networks: int,
    *,
    memory: int = DEFAULTS.memory,
    itemsize: int = 4,
) -> float:
    """Estimated working memory (MiB) of one block of ``n_networks`` networks.

    Per network: a few ``(n, width)`` arrays per layer (activations, deltas, temporaries) and
    the L-BFGS history (``2 * memory`` parameter vectors plus a few more).
    """
    width = sum(sizes[1:]) * 4 + 4
    params = sum(a * b + b for a, b in itertools.pairwise(sizes))
    per_net = (n_samples * width + params * (2 * memory + 8)) * itemsize
    return n_networks * per_net / 2**20


def _fit_block(spec, X, Y, init, sample_weight, y_perm, col_perm, col_values, alpha, opts):
    """One task: fit the networks of one block (per-network data gathered here)."""
    Yb = Y if y_perm is None else Y[y_perm]  # (b, n, k)
    replace = None
    if col_perm is not None:
        cols, perms = col_perm
        replace = (cols, X[perms, cols[:, None]])  # (b,), (b, n)
    elif col_values is not None:
        replace = col_values
    return fit_networks(
        spec, X, Yb, init, sample_weight=sample_weight, replace_column=replace, alpha=alpha, **opts
    )


def train_networks(
    spec: TrainingSpec,
    X: np.ndarray,
    Y: np.ndarray,
    init: tuple[Sequence[np.ndarray], Sequence[np.ndarray]],
    *,
    y_perm: np.ndarray | None = None,
    col_perm: tuple[np.ndarray, np.ndarray] | None = None,
    col_values: tuple[np.ndarray, np.ndarray] | None = None,
    sample_weight: np.ndarray | None = None,
    alpha: np.ndarray | None = None,
    chunk_size: int | None = DEFAULTS.chunk_size,
    memory_budget_mb: float = DEFAULTS.memory_budget_mb,
    block_size: int = DEFAULTS.block_size,
    n_jobs: int | None = None,
    progress=None,
    **opts,
) -> TrainResult:
    """Fit ``B`` networks, block by block, the blocks spread over worker threads.

    The networks are cut into **blocks** of ``block_size`` consecutive networks; each block is
    one batched computation (:func:`fit_networks`) and one task. Blocks depend only on
    ``block_size``; ``n_jobs``, ``chunk_size`` and ``memory_budget_mb`` decide only how many
    blocks run at once, so none of them changes any number (even in float32).

    Threads: each task runs in a worker thread with torch limited to one intra-op thread in
    that thread (:mod:`sensitivity._threads`): no OpenMP team spins between operations, so a
    machine whose cores are shared with other busy processes slows the fits down only in
    proportion to the cores it takes. The setting is restored after every task; nothing
    process-wide is changed. ``joblib.parallel_config(backend=...)`` (processes, Dask) takes
    precedence over the thread backend.

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
    col_values : (cols (B,), values (B, n)), optional
        Network ``b`` sees ``X`` with column ``cols[b]`` replaced by ``values[b]`` (draws of a
        conditional randomization test, in the units of ``X``). Not together with ``col_perm``.
    sample_weight : ndarray (B, n), optional
        Per-network row weights (bootstrap counts).
    alpha : ndarray (B,), optional
        Per-network L2 penalties (default ``spec.alpha``): e.g. a cross-validation grid or
        per-variable penalties trained in the same blocks.
    chunk_size : int, optional
        Upper bound on the networks in flight at once (rounded up to whole blocks); by default
        as many blocks as ``memory_budget_mb`` holds.
    memory_budget_mb : float
        Working memory (MiB) of the blocks in flight together; limits only how many blocks run
        at once. A ``UserWarning`` says when one block alone needs more.
    block_size : int
        Networks trained together in one batched computation.
    n_jobs : int, optional
        Worker threads; ``None``: ``torch.get_num_threads()`` (the cores, or the user's torch
        setting); ``-1``: all cores.
    progress : callable, optional
        Called with the number of networks of each finished block (a tqdm ``update``).
    **opts
        Passed to :func:`fit_networks` (``max_iter``, ``tol``, ``dtype``, ``device``...).

    Returns
    -------
    TrainResult
        Networks in the order of ``init``, whatever the threads and memory settings.
    """
    B = init[0][0].shape[0]
    if col_perm is not None and col_values is not None:
        raise ValueError("Pass col_perm or col_values, not both.")
    budget = check_memory_budget_mb(memory_budget_mb)
    block = int(block_size)
    if block < 1:
        raise ValueError(f"block_size must be a positive integer; got {block_size!r}.")
    sizes = (X.shape[1], *(c.shape[2] for c in init[0]))
    dtype = opts.get("dtype", DEFAULTS.dtype)
    need = block_memory_mb(
        X.shape[0],
        sizes,
        min(block, B),
        memory=opts.get("memory", DEFAULTS.memory),
        itemsize=torch.finfo(dtype).bits // 8,
    )
    if need > budget:
        warnings.warn(
            f"One block of {min(block, B)} networks needs about {need:.0f} MiB, more than "
            f"memory_budget_mb={budget:g}; it runs anyway (a smaller block_size lowers the "
            "memory, but changes the floating-point rounding of the results).",
            UserWarning,
            stacklevel=2,
        )
    in_flight = max(1, int(budget // max(need, 1e-9)))
    if chunk_size is not None:
        in_flight = min(in_flight, max(1, -(-int(chunk_size) // block)))
    bounds = [(s, min(B, s + block)) for s in range(0, B, block)]

    def part(a, s, e):
        return None if a is None else a[s:e]

    tasks = [
        (
            spec,
            X,
            Y,
            ([c[s:e] for c in init[0]], [b[s:e] for b in init[1]]),
            part(sample_weight, s, e),
            part(y_perm, s, e),
            None if col_perm is None else (col_perm[0][s:e], col_perm[1][s:e]),
            None if col_values is None else (col_values[0][s:e], col_values[1][s:e]),
            part(alpha, s, e),
            opts,
        )
        for s, e in bounds
    ]
    n = min(n_workers(n_jobs, len(tasks)), in_flight)

    def done(i):
        if progress is not None:
            progress(bounds[i][1] - bounds[i][0])

    results = run_tasks(_fit_block, tasks, n, on_done=done)
    return TrainResult.concat(results)
