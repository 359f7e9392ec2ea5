"""From users' models to the objects the methods work on.

This is the only module that knows scikit-learn and torch model classes (``docs/architecture.rst``).

* :func:`to_mlp_batch`: a fitted ``MLPRegressor`` / ``MLPClassifier``, a ``Pipeline`` of affine
  scalers ending in one of them, or a torch ``nn.Sequential`` of ``nn.Linear`` and activation
  modules, to an :class:`~sensitivity.network.MLPBatch` of size 1.
* :func:`as_model_function`: any fitted model (any scikit-learn regressor or classifier, any
  Pipeline, a torch ``nn.Module``, an MLPBatch) to a :class:`ModelFunction`, a plain
  ``predict(X) -> (n, n_outputs)`` used by the perturbation methods.
* :func:`as_differentiable`: the view the derivative methods differentiate (an MLPBatch where
  possible, else the torch module itself, by autograd).
* :func:`to_encoded_mlp`: a Pipeline starting with a ``ColumnTransformer`` (scalers and one-hot
  encoders) and ending in an MLP, seen in its encoded input space (:class:`EncodedMLP`).
* :func:`training_spec`, :func:`with_network_weights`: what the batched trainer needs to rebuild
  a network, and the fitted copy holding the weights it trained.

Import everything from ``sensitivity.adapters``; its private modules are the parts: ``_mlp``
(MLPs and Pipelines of scalers to an MLPBatch, shared checks), ``_functions`` (prediction
functions and differentiable views), ``_encoded`` (ColumnTransformer pipelines) and
``_training`` (the trainer's view of a model).
"""

from ._encoded import (
    SUPPORTED_COLUMN_TRANSFORMERS,
    EncodedMLP,
    is_encoded_mlp_model,
    to_encoded_mlp,
)
from ._functions import ModelFunction, as_differentiable, as_model_function, torch_input_width
from ._mlp import (
    SUPPORTED_MLP_MODELS,
    check_model_fitted,
    describe_model,
    is_classifier_model,
    is_mlp_model,
    is_refittable_model,
    to_mlp_batch,
)
from ._training import (
    seed_params,
    set_training_record,
    training_loss,
    training_spec,
    with_network_weights,
)

__all__ = [
    "SUPPORTED_COLUMN_TRANSFORMERS",
    "SUPPORTED_MLP_MODELS",
    "EncodedMLP",
    "ModelFunction",
    "as_differentiable",
    "as_model_function",
    "check_model_fitted",
    "describe_model",
    "is_classifier_model",
    "is_encoded_mlp_model",
    "is_mlp_model",
    "is_refittable_model",
    "seed_params",
    "set_training_record",
    "to_encoded_mlp",
    "to_mlp_batch",
    "torch_input_width",
    "training_loss",
    "training_spec",
    "with_network_weights",
]
