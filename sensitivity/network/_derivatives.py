"""Input derivatives of a network: Jacobian, diagonal second derivatives, Hessian.

Everything here works on an :class:`~sensitivity.network.MLPBatch` (analytic chain rule,
batched over networks and rows) or on a :class:`~sensitivity.network.TorchNetwork`
(``torch.func``, vectorized over rows); rows are processed in chunks to a memory budget.
"""

from __future__ import annotations

import numpy as np
import torch

from .._config import DEFAULT_MEMORY_BUDGET_MB, budget_bytes
from .._threads import iter_tasks, n_workers
from ._activations import ACTIVATIONS
from ._batch import MLPBatch
from ._torch import TorchNetwork, prepare_forward_ad

DEFAULT_MAX_MEMORY = int(DEFAULT_MEMORY_BUDGET_MB * 2**20)
"""Deprecated: the default budget in bytes (use ``memory_budget_mb``, in MiB)."""


_CHUNK_TARGET = 2**22
"""Preferred size (bytes) of the largest temporary of one chunk: small enough for the
allocator to reuse memory between chunks instead of mapping fresh pages for every array."""

_MIN_CHUNK_ROWS = 1024


def row_chunks(
    n_rows: int,
    bytes_per_row: int,
    memory_budget_mb: float | None = None,
    largest_per_row: int | None = None,
    *,
    max_memory: int | None = None,
) -> list[slice]:
    """Split ``range(n_rows)`` into slices whose temporaries fit ``memory_budget_mb`` MiB.

    Within the budget, chunks are made smaller still so that their largest temporary
    (``largest_per_row`` bytes a row) stays near 4 MiB (but at least 1024 rows): large fresh
    allocations cost page faults that outweigh the per-chunk overhead. ``max_memory`` (bytes)
    is the deprecated form of the budget.
    """
    budget = budget_bytes(memory_budget_mb, legacy_bytes=max_memory, legacy_name="max_memory")
    size = max(1, budget // max(1, int(bytes_per_row)))
    if largest_per_row:
        size = min(size, max(_MIN_CHUNK_ROWS, _CHUNK_TARGET // max(1, int(largest_per_row))))
    return [slice(i, min(i + size, n_rows)) for i in range(0, n_rows, size)]


def _as_network(model) -> MLPBatch | TorchNetwork:
    if isinstance(model, MLPBatch | TorchNetwork):
        return model
    if isinstance(model, torch.nn.Module):
        raise TypeError(
            "Wrap a torch module with sensitivity.adapters.as_differentiable(module, ...) (it "
            "needs the number of inputs and the output names)."
        )
    raise TypeError(
        f"Expected an MLPBatch or a TorchNetwork, got {type(model).__name__}; convert the "
        "model with sensitivity.adapters.as_differentiable."
    )


def _check_rows(net, X) -> tuple[np.ndarray | torch.Tensor, int]:
    """Validate X: 2-D (or 3-D for an MLPBatch), numeric, finite, ``n_features`` columns."""
    if isinstance(X, torch.Tensor):
        arr = X.detach()
        finite = bool(torch.isfinite(arr).all())
    else:
        arr = np.asarray(X)
        if arr.dtype.kind not in "fiub":
            raise ValueError(f"X must be numeric; got dtype {arr.dtype}.")
        finite = bool(np.isfinite(arr).all())
    ok_ndim = (2, 3) if isinstance(net, MLPBatch) else (2,)
    if arr.ndim not in ok_ndim or arr.shape[-1] != net.n_features:
        raise ValueError(
            f"X has shape {tuple(arr.shape)}; expected (n_samples, {net.n_features}): the model "
            f"has {net.n_features} inputs."
        )
    if arr.ndim == 3 and arr.shape[0] not in (1, net.batch_size):
        raise ValueError(f"X has {arr.shape[0]} row sets for {net.batch_size} networks.")
    if not finite:
        raise ValueError("X contains NaN or infinite values; derivatives need finite inputs.")
    if arr.shape[-2] == 0:
        raise ValueError("X has no rows.")
    return arr, int(arr.shape[-2])


def _chunk_tensor(arr, sl: slice, dtype, device) -> torch.Tensor:
    part = arr[..., sl, :]
    if isinstance(part, torch.Tensor):
        return part.to(dtype=dtype, device=device)
    part = np.require(part, dtype=np.float64, requirements=["C", "W"])  # torch needs writable
    return torch.as_tensor(part, device=device).to(dtype)


def _first_layer(batch: MLPBatch) -> torch.Tensor:
    """``A = diag(input_scale) W1``: d(first pre-activation)/dx, shape (B, p, u1)."""
    W1 = batch.weights[0]
    if batch.input_scale is None:
        return W1
    return W1 * batch.input_scale.reshape(1, -1, 1)


def _hidden_pass(batch: MLPBatch, X: torch.Tensor):
    """Pre-activations of the hidden layers and the output logits."""
    h = batch.transform_inputs(X)
    pres = []
    for W, b, act in zip(
        batch.weights[:-1], batch.biases[:-1], batch.activations[:-1], strict=True
    ):
        z = torch.matmul(h, W) + b.unsqueeze(1)
        h = ACTIVATIONS[act].f(z)
        pres.append((z, h))
    z = torch.matmul(h, batch.weights[-1]) + batch.biases[-1].unsqueeze(1)
    return pres, z


def _bmm(T: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``T @ W`` over the last axis for ``T`` (B, ..., u) and ``W`` (B, u, v), as one batched
    matrix product (B, rows, u) x (B, u, v) instead of a broadcast over many tiny products."""
    B, u = W.shape[0], W.shape[1]
    lead = T.shape[1:-1]
    if T.shape[0] != B:
        T = T.expand(B, *T.shape[1:])
    return torch.bmm(T.reshape(B, -1, u), W).reshape(B, *lead, W.shape[2])


def _logit_jacobian(batch: MLPBatch, pres, n: int) -> torch.Tensor:
    """dz_k/dx_i by reverse accumulation: (B, n, K, p), cost O(n K sum(u_l u_{l+1}))."""
    A = _first_layer(batch)
    B = batch.batch_size
    if not pres:  # no hidden layer: the logits are affine in x
        return A.transpose(1, 2).unsqueeze(1).expand(B, n, -1, -1)
    # G[b, n, k, u] = d z_k / d(activation of the last hidden layer)_u, then back through layers
    G = batch.weights[-1].transpose(1, 2).unsqueeze(1)  # (B, 1, K, u_L)
    for layer in range(len(pres) - 1, -1, -1):
        z, a = pres[layer]
        G = G * ACTIVATIONS[batch.activations[layer]].d1(z, a).unsqueeze(2)  # (B, n, K, u)
        W = A if layer == 0 else batch.weights[layer]
        G = _bmm(G, W.transpose(1, 2))
    return G


def _logit_derivatives(batch: MLPBatch, pres, n: int):
    """dz_k/dx_i and d2z_k/dx_i2 by forward accumulation: two (B, n, K, p) tensors.

    Tangents ``T = dh/dx_i`` and second-order tangents ``S = d2h/dx_i2`` of every unit are
    carried through the layers: for ``h = f(z)``, ``T_h = f'(z) T_z`` and
    ``S_h = f''(z) T_z**2 + f'(z) S_z``; for ``z = h W + b``, ``T_z = T_h W`` and ``S_z = S_h W``.
    """
    A = _first_layer(batch)  # (B, p, u1)
    B, p = A.shape[0], A.shape[1]
    if not pres:
        Tz = A.transpose(1, 2).unsqueeze(1).expand(B, n, -1, -1)
        return Tz, torch.zeros_like(Tz)
    z1, a1 = pres[0]
    act1 = ACTIVATIONS[batch.activations[0]]
    f1, f2 = act1.d1(z1, a1), act1.d2(z1, a1)  # (B, n, u1)
    if len(pres) == 1:
        # One hidden layer: T_z[n, i, k] = sum_u f'(z1)[n, u] A[i, u] W2[u, k], a single matmul
        # of (n, u) by (u, p K); likewise S_z with f'' and A**2. No (n, p, u) temporaries.
        W2 = batch.weights[-1]
        K = W2.shape[2]
        M1 = (A.transpose(1, 2).unsqueeze(3) * W2.unsqueeze(2)).reshape(B, -1, p * K)
        M2 = ((A * A).transpose(1, 2).unsqueeze(3) * W2.unsqueeze(2)).reshape(B, -1, p * K)
        Tz = torch.matmul(f1, M1).reshape(B, n, p, K).transpose(2, 3)
        Sz = torch.matmul(f2, M2).reshape(B, n, p, K).transpose(2, 3)
        return Tz, Sz
    T = f1.unsqueeze(2) * A.unsqueeze(1)  # (B, n, p, u1)
    S = f2.unsqueeze(2) * (A * A).unsqueeze(1)
    for layer in range(1, len(pres) + 1):
        W = batch.weights[layer]  # (B, u, v)
        Tp, Sp = _bmm(T, W), _bmm(S, W)
        if layer == len(pres):
            return Tp.transpose(2, 3), Sp.transpose(2, 3)
        z, a = pres[layer]
        act = ACTIVATIONS[batch.activations[layer]]
        g1, g2 = act.d1(z, a).unsqueeze(2), act.d2(z, a).unsqueeze(2)
        T, S = g1 * Tp, g2 * Tp * Tp + g1 * Sp
    raise AssertionError("unreachable")  # pragma: no cover


def _through_output(act: str, z: torch.Tensor, Jz, Sz):
    """Chain rule through the output activation; ``z`` (B, n, K), ``Jz``/``Sz`` (B, n, K, p).

    Softmax ``y_k = exp(z_k) / sum_m exp(z_m)``: with ``g_i = dz/dx_i`` and
    ``c_ik = g_ik - sum_m y_m g_im``, ``dy_k/dx_i = y_k c_ik`` and
    ``d2y_k/dx_i2 = y_k (c_ik**2 + h_ik - sum_m y_m (c_im g_im + h_im))`` where
    ``h = d2z/dx_i2``.
    """
    if act == "softmax":
        y = torch.softmax(z, dim=-1).unsqueeze(3)  # (B, n, K, 1)
        c = Jz - (y * Jz).sum(dim=2, keepdim=True)
        J = y * c
        if Sz is None:
            return J, None
        D = y * (c * c + Sz - (y * (c * Jz + Sz)).sum(dim=2, keepdim=True))
        return J, D
    spec = ACTIVATIONS[act]
    a = spec.f(z)
    g1 = spec.d1(z, a).unsqueeze(3)
    J = g1 * Jz
    if Sz is None:
        return J, None
    return J, spec.d2(z, a).unsqueeze(3) * Jz * Jz + g1 * Sz


def _mlp_chunk(batch: MLPBatch, X: torch.Tensor, second_order: bool, logits: bool):
    n = X.shape[-2]
    pres, z = _hidden_pass(batch, X)
    if second_order:
        Jz, Sz = _logit_derivatives(batch, pres, n)
    else:
        Jz, Sz = _logit_jacobian(batch, pres, n), None
    if logits:
        return Jz, Sz
    return _through_output(batch.activations[-1], z, Jz, Sz)


def _module_function(net: TorchNetwork):
    module = net.module

    def f(x: torch.Tensor) -> torch.Tensor:
        return module(x.unsqueeze(0)).reshape(-1)

    return f


def _module_output(net: TorchNetwork, k: int):
    f = _module_function(net)

    def fk(x: torch.Tensor) -> torch.Tensor:
        return f(x)[k]

    return fk


def _module_chunk(net: TorchNetwork, X: torch.Tensor, second_order: bool):
    from torch.func import jacfwd, jacrev, jvp, vmap

    prepare_forward_ad()
    f = _module_function(net)
    K, p = net.n_outputs, net.n_features
    if not second_order:
        jac = jacrev(f) if K <= p else jacfwd(f)
        return vmap(jac)(X).unsqueeze(0), None
    eye = torch.eye(p, dtype=X.dtype, device=X.device)

    def both(x: torch.Tensor, e: torch.Tensor):
        # forward over forward along the basis vector e: (d y/d x_i, d2 y/d x_i2)
        return jvp(lambda u: jvp(f, (u,), (e,))[1], (x,), (e,))

    J, D = vmap(vmap(both, in_dims=(None, 0)), in_dims=(0, None))(X, eye)  # (n, p, K)
    return J.transpose(1, 2).unsqueeze(0), D.transpose(1, 2).unsqueeze(0)


def _check_module_output(net: TorchNetwork, X1: torch.Tensor) -> None:
    with torch.no_grad():
        out = net.module(X1)
    if out.ndim not in (1, 2) or out.shape[0] != X1.shape[0]:
        raise ValueError(
            f"The torch module returned shape {tuple(out.shape)} for {X1.shape[0]} rows; "
            "expected (n_samples, n_outputs) or (n_samples,)."
        )
    k = 1 if out.ndim == 1 else int(out.shape[1])
    if k != net.n_outputs:
        raise ValueError(f"The torch module has {k} outputs, but {net.n_outputs} output names.")


def _bytes_per_row(net, second_order: bool, hessian: bool = False) -> tuple[int, int]:
    """Estimated bytes of temporaries per row: in all, and of the largest single array."""
    item = torch.finfo(net.dtype).bits // 8
    p, K, B = net.n_features, net.n_outputs, net.batch_size
    if isinstance(net, MLPBatch):
        widths = [*net.hidden_sizes, K]
        w = max(widths)
        if hessian:
            per, largest = 4 * p * p * w + 4 * p * w + sum(widths), p * p * w
        elif second_order:
            deep = net.n_hidden_layers > 1
            per = (6 * p * w if deep else 2 * w) + 8 * K * p + sum(widths)
            largest = p * w if deep else max(w, K * p)
        else:
            per, largest = 3 * K * w + 4 * K * p + 2 * sum(widths), max(K * w, K * p, w)
        return item * B * per, item * B * largest
    # autograd: a generous guess (several copies of the module's activations per direction)
    scale = p * p if hessian else p * (4 if second_order else 2)
    per = item * max(1, scale) * 64 * max(K, 16)
    return per, per // 4


def iter_input_derivatives(
    model,
    X,
    *,
    second_order: bool = False,
    logits: bool = False,
    memory_budget_mb: float | None = None,
    max_memory: int | None = None,
):
    """Per-row input derivatives, chunk by chunk of rows.

    Parameters
    ----------
    model : MLPBatch or TorchNetwork
        ``B`` networks (analytic chain rule) or a torch module (``torch.func``, ``B = 1``).
    X : array-like or tensor of shape (n, p), or (B, n, p) for an MLPBatch
        Rows in the user's units; must be finite.
    second_order : bool
        Also return the diagonal second derivatives ``d2 y_k / d x_i2``.
    logits : bool
        Differentiate the output layer's pre-activation (the logits of a classifier) instead
        of its activation (MLPBatch only).
    memory_budget_mb : float, optional
        Working memory (MiB) of the chunks in flight (default
        :data:`sensitivity._config.DEFAULT_MEMORY_BUDGET_MB`). It decides only how rows are cut
        into chunks; every row's derivatives are computed alike.
    max_memory : int, optional
        Deprecated: the budget in bytes.

    Yields
    ------
    rows : slice
        The rows of this chunk.
    jacobian : torch.Tensor of shape (B, n_chunk, n_outputs, p)
        ``dy_k / dx_i`` in the user's units (the chain rule through the input transform
        multiplies by ``input_scale``).
    second : torch.Tensor of shape (B, n_chunk, n_outputs, p) or None
        ``d2 y_k / dx_i2`` when ``second_order``.
    """
    net = _as_network(model)
    arr, n = _check_rows(net, X)
    if isinstance(net, TorchNetwork) and logits:
        raise ValueError(
            "logits=True needs an MLP (its output activation is known); a torch module is "
            "differentiated as it returns its outputs."
        )
    per_row, largest = _bytes_per_row(net, second_order)
    chunks = row_chunks(n, per_row, memory_budget_mb, largest, max_memory=max_memory)
    if isinstance(net, MLPBatch) and len(chunks) > 1:
        # chunks in worker threads, one torch thread each (no spinning OpenMP team on a
        # shared machine), as many in flight as the budget holds; yielded in order
        budget = budget_bytes(memory_budget_mb, legacy_bytes=max_memory, warn=False)
        rows = chunks[0].stop - chunks[0].start
        in_flight = max(1, budget // max(1, rows * per_row))
        workers = min(n_workers(None, len(chunks)), in_flight)
        tasks = [(net, arr, sl, second_order, logits) for sl in chunks]
        results = iter_tasks(_mlp_rows, tasks, workers, max(workers, min(in_flight, 2 * workers)))
        for sl, (J, D) in zip(chunks, results, strict=True):
            yield sl, J, D
        return
    for sl in chunks:
        Xc = _chunk_tensor(arr, sl, net.dtype, net.device)
        with torch.no_grad():
            if isinstance(net, MLPBatch):
                J, D = _mlp_chunk(net, Xc, second_order, logits)
            else:
                if sl.start == 0:
                    _check_module_output(net, Xc[:1])
                try:
                    J, D = _module_chunk(net, Xc, second_order)
                except RuntimeError as err:
                    if "random" not in str(err):
                        raise
                    raise ValueError(
                        "The torch module draws random numbers (dropout in training mode?); "
                        "call module.eval() before computing derivatives."
                    ) from err
        yield sl, J, D


def _mlp_rows(net, arr, sl, second_order, logits):
    """One task of :func:`iter_input_derivatives`: the derivatives of the rows ``sl``."""
    Xc = _chunk_tensor(arr, sl, net.dtype, net.device)
    with torch.no_grad():
        return _mlp_chunk(net, Xc, second_order, logits)


def input_derivatives(
    model,
    X,
    *,
    second_order: bool = False,
    logits: bool = False,
    memory_budget_mb: float | None = None,
    max_memory: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """All rows' input Jacobian (and diagonal second derivatives), chunked to a memory budget.

    See :func:`iter_input_derivatives` for the parameters. The result holds
    ``B * n * n_outputs * p`` numbers per array; use :func:`iter_input_derivatives` to
    summarize very large data without keeping them.

    Returns
    -------
    jacobian : torch.Tensor of shape (B, n, n_outputs, p)
    second : torch.Tensor of shape (B, n, n_outputs, p) or None
    """
    Js, Ds = [], []
    for _, J, D in iter_input_derivatives(
        model,
        X,
        second_order=second_order,
        logits=logits,
        memory_budget_mb=memory_budget_mb,
        max_memory=max_memory,
    ):
        Js.append(J)
        Ds.append(D)
    J = torch.cat(Js, dim=1) if len(Js) > 1 else Js[0]
    if not second_order:
        return J, None
    return J, torch.cat(Ds, dim=1) if len(Ds) > 1 else Ds[0]


def input_jacobian(
    model,
    X,
    *,
    logits: bool = False,
    memory_budget_mb: float | None = None,
    max_memory: int | None = None,
) -> torch.Tensor:
    """Per-row input Jacobian ``dy_k / dx_i``, shape ``(B, n, n_outputs, p)``.

    Analytic for an :class:`MLPBatch` (reverse accumulation through the layers, softmax
    included), ``torch.func.jacrev`` for a :class:`TorchNetwork`. See
    :func:`iter_input_derivatives`.
    """
    return input_derivatives(
        model, X, logits=logits, memory_budget_mb=memory_budget_mb, max_memory=max_memory
    )[0]


def _mlp_hessian_chunk(batch: MLPBatch, X: torch.Tensor, output: int, logits: bool):
    n = X.shape[-2]
    pres, z = _hidden_pass(batch, X)
    A = _first_layer(batch)  # (B, p, u1)
    B, p = A.shape[0], A.shape[1]
    AA = A.unsqueeze(2) * A.unsqueeze(1)  # (B, p, p, u1)
    if not pres:
        Tz = A.unsqueeze(1).expand(B, n, -1, -1)  # (B, n, p, K)
        Hz = torch.zeros(B, n, p, p, A.shape[2], dtype=A.dtype, device=A.device)
    else:
        z1, a1 = pres[0]
        act = ACTIVATIONS[batch.activations[0]]
        T = act.d1(z1, a1).unsqueeze(2) * A.unsqueeze(1)  # (B, n, p, u)
        H = act.d2(z1, a1).unsqueeze(2).unsqueeze(2) * AA.unsqueeze(1)  # (B, n, p, p, u)
        for layer in range(1, len(pres) + 1):
            W = batch.weights[layer]
            Tp, Hp = _bmm(T, W), _bmm(H, W)
            if layer == len(pres):
                Tz, Hz = Tp, Hp
                break
            zl, al = pres[layer]
            spec = ACTIVATIONS[batch.activations[layer]]
            g1, g2 = spec.d1(zl, al), spec.d2(zl, al)
            T = g1.unsqueeze(2) * Tp
            H = g2.unsqueeze(2).unsqueeze(2) * Tp.unsqueeze(3) * Tp.unsqueeze(2)
            H = H + g1.unsqueeze(2).unsqueeze(2) * Hp
    k = output
    if logits:
        return Hz[..., k]
    act = batch.activations[-1]
    TT = Tz.unsqueeze(3) * Tz.unsqueeze(2)  # (B, n, p, p, K): g_i g_j per logit
    if act == "softmax":
        y = torch.softmax(z, dim=-1)  # (B, n, K)
        ybar = (Tz * y.unsqueeze(2)).sum(-1, keepdim=True)  # (B, n, p, 1)
        c = Tz - ybar  # (B, n, p, K)
        yk = y[..., k].unsqueeze(-1).unsqueeze(-1)
        cross = (y.unsqueeze(2).unsqueeze(2) * (c.unsqueeze(3) * Tz.unsqueeze(2) + Hz)).sum(-1)
        ck = c[..., k]
        return yk * (ck.unsqueeze(3) * ck.unsqueeze(2) + Hz[..., k] - cross)
    spec = ACTIVATIONS[act]
    zk = z[..., k]
    a = spec.f(zk)
    g1 = spec.d1(zk, a).unsqueeze(-1).unsqueeze(-1)
    g2 = spec.d2(zk, a).unsqueeze(-1).unsqueeze(-1)
    return g2 * TT[..., k] + g1 * Hz[..., k]


def input_hessian(
    model,
    X,
    output: int = 0,
    *,
    logits: bool = False,
    memory_budget_mb: float | None = None,
    max_memory: int | None = None,
) -> torch.Tensor:
    """Per-row full input Hessian ``d2 y_k / dx_i dx_j`` of one output ``k``.

    Analytic for an :class:`MLPBatch` (forward accumulation of tangents ``dh/dx_i`` and of
    second-order tangents ``d2h/dx_i dx_j``: for ``h = f(z)``,
    ``H_h = f''(z) T_i T_j + f'(z) H_z``), ``torch.func.hessian`` for a :class:`TorchNetwork`.

    Parameters
    ----------
    model : MLPBatch or TorchNetwork
    X : array-like of shape (n, p)
    output : int
        Index of the output ``k``.
    logits, memory_budget_mb, max_memory
        As in :func:`iter_input_derivatives`.

    Returns
    -------
    torch.Tensor of shape (B, n, p, p)
    """
    net = _as_network(model)
    arr, n = _check_rows(net, X)
    if not 0 <= int(output) < net.n_outputs:
        raise ValueError(f"output must be in [0, {net.n_outputs}); got {output!r}.")
    if isinstance(net, TorchNetwork) and logits:
        raise ValueError("logits=True needs an MLP; a torch module is differentiated as is.")
    parts = []
    per_row, largest = _bytes_per_row(net, True, hessian=True)
    for sl in row_chunks(n, per_row, memory_budget_mb, largest, max_memory=max_memory):
        Xc = _chunk_tensor(arr, sl, net.dtype, net.device)
        with torch.no_grad():
            if isinstance(net, MLPBatch):
                parts.append(_mlp_hessian_chunk(net, Xc, int(output), logits))
            else:
                from torch.func import hessian, vmap

                prepare_forward_ad()
                if sl.start == 0:
                    _check_module_output(net, Xc[:1])
                parts.append(vmap(hessian(_module_output(net, int(output))))(Xc).unsqueeze(0))
    return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
