"""The :class:`MLPBatch`: ``B`` networks of one architecture with stacked weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ._activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS


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
