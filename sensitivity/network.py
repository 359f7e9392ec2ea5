"""A batch of multilayer perceptrons of one architecture, with stacked weights.

:class:`MLPBatch` is the object every method works on (see ``DESIGN.md``): a single fitted
network is a batch of size 1, the networks of a randomization test or a bootstrap are a batch of
``B``. Layer ``l`` holds weights of shape ``(B, n_in, n_out)`` (the scikit-learn ``coefs_``
layout with a leading batch axis) and biases of shape ``(B, n_out)``.

An optional affine input transform ``z = x * input_scale + input_offset`` (the affine scalers
of a scikit-learn ``Pipeline``) maps the variables the user passed in to the network's inputs.
Weight methods use the network's own weights (the scaled space); methods that evaluate the
network on data apply the transform, so they work in the user's units.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ._config import DEFAULT_MEMORY_BUDGET_MB, budget_bytes
from ._threads import n_workers, run_tasks

__all__ = [
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "Activation",
    "MLPBatch",
]


@dataclass(frozen=True)
class Activation:
    """An elementwise activation with its first and second derivatives.

    ``d1`` and ``d2`` take the pre-activation ``z`` and the activation value ``a = f(z)``
    (whichever is cheaper to use) and return ``f'(z)`` and ``f''(z)``. ``d1`` uses ``a``
    only, so ``z`` may be None there (the batched trainer keeps no pre-activations).
    """

    name: str
    f: Callable[[torch.Tensor], torch.Tensor]
    d1: Callable[[torch.Tensor | None, torch.Tensor], torch.Tensor]
    d2: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    smooth: bool = True


def _logistic_d1(z: torch.Tensor | None, a: torch.Tensor) -> torch.Tensor:
    return torch.addcmul(a, a, a, value=-1.0)  # a (1 - a) in one pass


def _logistic_d2(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return a * (1.0 - a) * (1.0 - 2.0 * a)


def _tanh_d1(z: torch.Tensor | None, a: torch.Tensor) -> torch.Tensor:
    return 1.0 - a * a


def _tanh_d2(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return -2.0 * a * (1.0 - a * a)


ACTIVATIONS: dict[str, Activation] = {
    "identity": Activation(
        "identity",
        lambda z: z,
        lambda z, a: torch.ones_like(a),
        lambda z, a: torch.zeros_like(z),
    ),
    "logistic": Activation("logistic", torch.sigmoid, _logistic_d1, _logistic_d2),
    "tanh": Activation("tanh", torch.tanh, _tanh_d1, _tanh_d2),
    "relu": Activation(
        "relu",
        torch.relu,
        lambda z, a: (a > 0).to(a.dtype),  # a = max(z, 0) > 0 exactly where z > 0
        lambda z, a: torch.zeros_like(z),
        smooth=False,
    ),
}
"""Elementwise activations by their scikit-learn names."""

HIDDEN_ACTIVATIONS = frozenset(ACTIVATIONS)
ACTIVATIONS["exp"] = Activation("exp", torch.exp, lambda z, a: a, lambda z, a: a)
OUTPUT_ACTIVATIONS = frozenset([*ACTIVATIONS, "softmax"])


def _as_tensor(a, dtype: torch.dtype, device=None) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        return a.detach().to(dtype=dtype, device=device)
    return torch.as_tensor(np.array(a, dtype=np.float64), dtype=dtype, device=device)


@dataclass(frozen=True, eq=False)
class MLPBatch:
    """``B`` fully connected networks of one architecture, weights stacked on a batch axis.

    Parameters
    ----------
    weights : tuple of torch.Tensor
        Layer ``l`` (input layer first): shape ``(B, n_in_l, n_out_l)``.
    biases : tuple of torch.Tensor
        Layer ``l``: shape ``(B, n_out_l)``.
    activations : tuple of str
        One per layer; the last one is the output activation. Hidden layers: ``identity``,
        ``logistic``, ``tanh``, ``relu``; output: those, ``softmax`` or ``exp`` (the output of
        scikit-learn's Poisson-loss MLPRegressor).
    feature_names, output_names : tuple of str
        Names of the inputs (the user's variables) and of the outputs.
    input_scale, input_offset : torch.Tensor or None
        Affine input transform ``z = x * input_scale + input_offset`` applied before the first
        layer (the scalers of a Pipeline). ``None`` means identity.
    is_classifier : bool
        Whether outputs are class probabilities.
    """

    weights: tuple[torch.Tensor, ...]
    biases: tuple[torch.Tensor, ...]
    activations: tuple[str, ...]
    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    input_scale: torch.Tensor | None = None
    input_offset: torch.Tensor | None = None
    is_classifier: bool = False
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if self._checked:
            return
        if len(self.weights) == 0:
            raise ValueError("An MLPBatch needs at least one layer.")
        if not (len(self.weights) == len(self.biases) == len(self.activations)):
            raise ValueError(
                "weights, biases and activations must have one entry per layer; got "
                f"{len(self.weights)}, {len(self.biases)} and {len(self.activations)}."
            )
        B = self.weights[0].shape[0]
        n_prev = self.weights[0].shape[1]
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if W.ndim != 3 or b.ndim != 2:
                raise ValueError(
                    f"Layer {i}: weights must be (B, n_in, n_out) and biases (B, n_out); got "
                    f"{tuple(W.shape)} and {tuple(b.shape)}."
                )
            if W.shape[0] != B or b.shape[0] != B:
                raise ValueError(f"Layer {i}: batch size differs from layer 0 ({B}).")
            if W.shape[1] != n_prev or b.shape[1] != W.shape[2]:
                raise ValueError(
                    f"Layer {i}: shapes do not chain: weights {tuple(W.shape)}, biases "
                    f"{tuple(b.shape)}, previous layer width {n_prev}."
                )
            n_prev = W.shape[2]
        for i, act in enumerate(self.activations):
            allowed = OUTPUT_ACTIVATIONS if i == len(self.activations) - 1 else HIDDEN_ACTIVATIONS
            if act not in allowed:
                where = "output" if i == len(self.activations) - 1 else f"hidden layer {i + 1}"
                raise ValueError(
                    f"Unsupported activation {act!r} in the {where}; supported: {sorted(allowed)}."
                )
        if len(self.feature_names) != self.n_features:
            raise ValueError(
                f"{len(self.feature_names)} feature names for {self.n_features} inputs."
            )
        if len(self.output_names) != self.n_outputs:
            raise ValueError(f"{len(self.output_names)} output names for {self.n_outputs} outputs.")
        if self.activations[-1] == "softmax" and self.n_outputs < 2:
            raise ValueError("A softmax output layer needs at least two units.")
        object.__setattr__(self, "_checked", True)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        coefs: Sequence,
        intercepts: Sequence,
        activation: str | Sequence[str] = "relu",
        out_activation: str = "identity",
        *,
        feature_names: Sequence[str] | None = None,
        output_names: Sequence[str] | None = None,
        input_scale=None,
        input_offset=None,
        is_classifier: bool = False,
        dtype: torch.dtype = torch.float64,
        device=None,
    ) -> MLPBatch:
        """Build a batch from weight arrays in scikit-learn's layout.

        Parameters
        ----------
        coefs, intercepts : sequence of array-like
            Per layer, ``(n_in, n_out)`` and ``(n_out,)`` for one network, or
            ``(B, n_in, n_out)`` and ``(B, n_out)`` for a batch.
        activation : str or sequence of str
            Hidden activation (one for all hidden layers, or one per hidden layer).
        out_activation : str
            Output activation.
        """
        W = [_as_tensor(c, dtype, device) for c in coefs]
        b = [_as_tensor(c, dtype, device) for c in intercepts]
        if len(W) != len(b):
            raise ValueError("coefs and intercepts must have the same number of layers.")
        if W and W[0].ndim == 2:
            W = [w.unsqueeze(0) for w in W]
            b = [v.reshape(1, -1) for v in b]
        n_hidden = len(W) - 1
        hidden = [activation] * n_hidden if isinstance(activation, str) else list(activation)
        if len(hidden) != n_hidden:
            raise ValueError(f"{len(hidden)} hidden activations for {n_hidden} hidden layers.")
        n_in = W[0].shape[1]
        n_out = W[-1].shape[2]
        fn = tuple(feature_names) if feature_names is not None else _default_names("x", n_in)
        on = tuple(output_names) if output_names is not None else _default_names("y", n_out)
        return cls(
            weights=tuple(W),
            biases=tuple(b),
            activations=(*hidden, out_activation),
            feature_names=tuple(str(n) for n in fn),
            output_names=tuple(str(n) for n in on),
            input_scale=None if input_scale is None else _as_tensor(input_scale, dtype, device),
            input_offset=None if input_offset is None else _as_tensor(input_offset, dtype, device),
            is_classifier=is_classifier,
        )

    @classmethod
    def stack(cls, batches: Sequence[MLPBatch]) -> MLPBatch:
        """Concatenate batches of the same architecture along the batch axis."""
        if not batches:
            raise ValueError("Nothing to stack.")
        first = batches[0]
        for other in batches[1:]:
            if other.layer_sizes != first.layer_sizes or other.activations != first.activations:
                raise ValueError("Only batches of one architecture can be stacked.")
        return replace(
            first,
            weights=tuple(torch.cat(ws) for ws in zip(*(b.weights for b in batches), strict=True)),
            biases=tuple(torch.cat(bs) for bs in zip(*(b.biases for b in batches), strict=True)),
        )

    # ------------------------------------------------------------------ properties
    @property
    def batch_size(self) -> int:
        """Number of networks ``B``."""
        return int(self.weights[0].shape[0])

    @property
    def n_features(self) -> int:
        """Number of inputs."""
        return int(self.weights[0].shape[1])

    @property
    def n_outputs(self) -> int:
        """Number of output units."""
        return int(self.weights[-1].shape[2])

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        """Widths of the hidden layers."""
        return tuple(int(W.shape[2]) for W in self.weights[:-1])

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(n_features, *hidden_sizes, n_outputs)``."""
        return (self.n_features, *self.hidden_sizes, self.n_outputs)

    @property
    def n_hidden_layers(self) -> int:
        """Number of hidden layers."""
        return len(self.weights) - 1

    @property
    def dtype(self) -> torch.dtype:
        """Floating point type of the weights."""
        return self.weights[0].dtype

    @property
    def device(self) -> torch.device:
        """Device of the weights."""
        return self.weights[0].device

    @property
    def has_input_transform(self) -> bool:
        """Whether an affine input transform precedes the first layer."""
        return self.input_scale is not None or self.input_offset is not None

    # ------------------------------------------------------------------ transforms
    def __getitem__(self, index) -> MLPBatch:
        """Select networks along the batch axis (an int keeps a batch of size 1)."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)
        return replace(
            self,
            weights=tuple(W[index] for W in self.weights),
            biases=tuple(b[index] for b in self.biases),
        )

    def to(self, dtype: torch.dtype | None = None, device=None) -> MLPBatch:
        """Return a copy with weights cast to ``dtype`` and/or moved to ``device``."""

        def cast(t):
            return None if t is None else t.to(dtype=dtype or t.dtype, device=device)

        return replace(
            self,
            weights=tuple(cast(W) for W in self.weights),
            biases=tuple(cast(b) for b in self.biases),
            input_scale=cast(self.input_scale),
            input_offset=cast(self.input_offset),
        )

    def with_folded_input_transform(self) -> MLPBatch:
        """Fold the affine input transform into the first layer.

        ``(x * s + o) W + b = x (diag(s) W) + (o W + b)``: the returned batch has no input
        transform and computes the same function of the user's variables.
        """
        if not self.has_input_transform:
            return self
        W0, b0 = self.weights[0], self.biases[0]
        s = self.input_scale if self.input_scale is not None else torch.ones_like(W0[0, :, 0])
        o = self.input_offset if self.input_offset is not None else torch.zeros_like(W0[0, :, 0])
        W0f = W0 * s.reshape(1, -1, 1)
        b0f = b0 + torch.einsum("i,bij->bj", o, W0)
        return replace(
            self,
            weights=(W0f, *self.weights[1:]),
            biases=(b0f, *self.biases[1:]),
            input_scale=None,
            input_offset=None,
        )

    # ------------------------------------------------------------------ evaluation
    def transform_inputs(self, X: torch.Tensor) -> torch.Tensor:
        """Apply the affine input transform (identity when there is none)."""
        if self.input_scale is not None:
            X = X * self.input_scale
        if self.input_offset is not None:
            X = X + self.input_offset
        return X

    def as_input(self, X) -> torch.Tensor:
        """Convert ``X`` (array-like or tensor, ``(n, p)`` or ``(B, n, p)``) to a tensor."""
        Xt = _as_tensor(X, self.dtype, self.device)
        if Xt.ndim not in (2, 3) or Xt.shape[-1] != self.n_features:
            raise ValueError(
                f"X has shape {tuple(Xt.shape)}; expected (n_samples, {self.n_features}) "
                f"or (B, n_samples, {self.n_features})."
            )
        return Xt

    def forward(self, X, *, logits: bool = False) -> torch.Tensor:
        """Batched forward pass.

        Parameters
        ----------
        X : array-like or torch.Tensor
            ``(n, p)`` (the same rows for every network) or ``(B, n, p)`` (per-network rows),
            in the user's units; the input transform is applied here.
        logits : bool
            Return the output layer's pre-activation instead of its activation.

        Returns
        -------
        torch.Tensor of shape ``(B, n, n_outputs)``
        """
        h = self.transform_inputs(self.as_input(X))
        last = len(self.weights) - 1
        for i, (W, b, act) in enumerate(
            zip(self.weights, self.biases, self.activations, strict=True)
        ):
            h = torch.matmul(h, W) + b.unsqueeze(1)
            if i == last:
                if logits:
                    return h
                if act == "softmax":
                    return torch.softmax(h, dim=-1)
            h = ACTIVATIONS[act].f(h)
        return h

    __call__ = forward

    def predict(self, X) -> np.ndarray:
        """Forward pass returned as a numpy array ``(B, n, n_outputs)``."""
        with torch.no_grad():
            return self.forward(X).cpu().numpy()

    def numpy_weights(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Weights and biases as numpy arrays (with the batch axis)."""
        return (
            [W.detach().cpu().numpy() for W in self.weights],
            [b.detach().cpu().numpy() for b in self.biases],
        )


def _default_names(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}" for i in range(n))


# ====================================================================== input derivatives
# Appended for the derivative methods (issue 3). Everything below works on an MLPBatch
# (analytic chain rule, batched over networks and rows) or on a general torch module
# (``torch.func``, vectorized over rows); rows are processed in chunks to a memory budget.

DEFAULT_MAX_MEMORY = int(DEFAULT_MEMORY_BUDGET_MB * 2**20)
"""Deprecated: the default budget in bytes (use ``memory_budget_mb``, in MiB)."""

_PIECEWISE_LINEAR_MODULES = (
    torch.nn.ReLU,
    torch.nn.ReLU6,
    torch.nn.LeakyReLU,
    torch.nn.PReLU,
    torch.nn.RReLU,
    torch.nn.Hardtanh,
    torch.nn.Hardsigmoid,
    torch.nn.Hardshrink,
    torch.nn.Softshrink,
    torch.nn.Threshold,
)


@dataclass(frozen=True, eq=False)
class TorchNetwork:
    """A general torch module seen as a differentiable function of the user's variables.

    Derivatives are computed by automatic differentiation (``torch.func``). The module is
    called on ``(n, n_features)`` tensors in its own parameters' dtype and device and must
    return ``(n, n_outputs)`` or ``(n,)``.

    Parameters
    ----------
    module : torch.nn.Module
    feature_names, output_names : tuple of str
    is_classifier : bool
        Whether the outputs are class probabilities (informative only: they are differentiated
        as the module returns them).
    """

    module: torch.nn.Module
    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    is_classifier: bool = False

    @property
    def batch_size(self) -> int:
        """Always 1 (one module)."""
        return 1

    @property
    def n_features(self) -> int:
        """Number of inputs."""
        return len(self.feature_names)

    @property
    def n_outputs(self) -> int:
        """Number of outputs."""
        return len(self.output_names)

    @property
    def dtype(self) -> torch.dtype:
        """Floating point type of the module's parameters (float32 if it has none)."""
        p = next(iter(self.module.parameters()), None)
        return p.dtype if p is not None else torch.get_default_dtype()

    @property
    def device(self) -> torch.device:
        """Device of the module's parameters."""
        p = next(iter(self.module.parameters()), None)
        return p.device if p is not None else torch.device("cpu")


def is_smooth(model) -> bool:
    """Whether every activation of ``model`` is twice differentiable.

    For an :class:`MLPBatch`, from its activations (``relu`` is not); for a torch module, whether
    it contains none of the piecewise-linear activation modules (``nn.ReLU``, ``nn.LeakyReLU``,
    ``nn.Hardtanh``, ...). Their second derivative is zero wherever it exists.
    """
    if isinstance(model, MLPBatch):
        return all(a == "softmax" or ACTIVATIONS[a].smooth for a in model.activations)
    module = model.module if isinstance(model, TorchNetwork) else model
    return not any(isinstance(m, _PIECEWISE_LINEAR_MODULES) for m in module.modules())


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
        for g in range(0, len(chunks), workers):
            group = chunks[g : g + workers]
            tasks = [(net, arr, sl, second_order, logits) for sl in group]
            for sl, (J, D) in zip(group, run_tasks(_mlp_rows, tasks, workers), strict=True):
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

                if sl.start == 0:
                    _check_module_output(net, Xc[:1])
                parts.append(vmap(hessian(_module_output(net, int(output))))(Xc).unsqueeze(0))
    return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
