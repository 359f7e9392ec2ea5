"""A general torch module seen as a differentiable function (:class:`TorchNetwork`), and
whether a network is twice differentiable.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch

from ._activations import ACTIVATIONS
from ._batch import MLPBatch

_forward_ad_ready = False


def prepare_forward_ad() -> None:
    """Load torch's forward-mode differentiation support once, without its deprecation noise.

    The first forward-mode derivative of a process (``torch.func.jvp``, ``jacfwd``,
    ``hessian``) makes torch import ``torch._decomp.decompositions_for_jvp``, which registers
    its decompositions with ``torch.jit.script``: recent torch versions then print one
    ``DeprecationWarning`` per decomposition (18), about torch's own internals, that the user
    can do nothing about. Importing that module here first, with exactly those warnings
    ignored inside a ``warnings.catch_warnings`` block, changes no result and leaves other
    warnings and the user's filters alone. Called before every forward-mode derivative of the
    package; does nothing after the first call, or where torch would not load the module.
    """
    global _forward_ad_ready
    if _forward_ad_ready:
        return
    _forward_ad_ready = True
    if os.environ.get("PYTORCH_JIT", "1") != "1" or not __debug__:  # as torch decides
        return
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`torch\.jit\.script` is deprecated", category=DeprecationWarning
        )
        try:
            import torch._decomp.decompositions_for_jvp  # noqa: F401
        except ImportError:  # another torch version: nothing to prepare
            pass


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
