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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ._config import DEFAULT_MEMORY_BUDGET_MB, check_memory_budget_mb
from ._lbfgs import _lbfgs
from ._objective import _Problem, _VarProProblem
from ._threads import n_workers, run_tasks
from ._warnings import warn

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
        warn(
            f"One block of {min(block, B)} networks needs about {need:.0f} MiB, more than "
            f"memory_budget_mb={budget:g}; it runs anyway (a smaller block_size lowers the "
            "memory, but changes the floating-point rounding of the results).",
            UserWarning,
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
