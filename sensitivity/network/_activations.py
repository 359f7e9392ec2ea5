"""Elementwise activations with their first and second derivatives, by scikit-learn name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


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
