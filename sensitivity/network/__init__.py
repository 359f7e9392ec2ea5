"""A batch of multilayer perceptrons of one architecture, with stacked weights.

:class:`MLPBatch` is the object every method works on (``docs/architecture.rst``): a single fitted
network is a batch of size 1, the networks of a randomization test or a bootstrap are a batch of
``B``. Layer ``l`` holds weights of shape ``(B, n_in, n_out)`` (the scikit-learn ``coefs_``
layout with a leading batch axis) and biases of shape ``(B, n_out)``.

An optional affine input transform ``z = x * input_scale + input_offset`` (the affine scalers
of a scikit-learn ``Pipeline``) maps the variables the user passed in to the network's inputs.
Weight methods use the network's own weights (the scaled space); methods that evaluate the
network on data apply the transform, so they work in the user's units.

Import everything from ``sensitivity.network``; the private modules are its parts:

* ``_activations``: :data:`ACTIVATIONS` and their first and second derivatives;
* ``_batch``: :class:`MLPBatch` (forward pass, weights);
* ``_torch``: :class:`TorchNetwork` (any torch module, derivatives by autograd), :func:`is_smooth`;
* ``_derivatives``: input Jacobian, diagonal second derivatives and Hessian, in row chunks to
  a memory budget (:func:`input_derivatives`, :func:`input_jacobian`, :func:`input_hessian`).
"""

from ._activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, Activation
from ._batch import MLPBatch

# private helpers shared with the method modules (re-exported, their import path)
from ._batch import _as_tensor as _as_tensor
from ._batch import _default_names as _default_names
from ._derivatives import (
    DEFAULT_MAX_MEMORY,
    input_derivatives,
    input_hessian,
    input_jacobian,
    iter_input_derivatives,
    row_chunks,
)
from ._derivatives import _chunk_tensor as _chunk_tensor
from ._derivatives import _first_layer as _first_layer
from ._torch import _PIECEWISE_LINEAR_MODULES as _PIECEWISE_LINEAR_MODULES
from ._torch import TorchNetwork, is_smooth

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_MAX_MEMORY",
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "Activation",
    "MLPBatch",
    "TorchNetwork",
    "input_derivatives",
    "input_hessian",
    "input_jacobian",
    "is_smooth",
    "iter_input_derivatives",
    "row_chunks",
]
