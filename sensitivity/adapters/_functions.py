"""Any fitted model as a prediction function (:class:`ModelFunction`) or as something the
derivative methods can differentiate (:func:`as_differentiable`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.base import is_classifier as _sk_is_classifier
from sklearn.utils.validation import check_is_fitted

from ..network import MLPBatch
from ._mlp import (
    SUPPORTED_MLP_MODELS,
    _classifier_output_names,
    _names_or_default,
    _single_output_name,
    is_mlp_model,
    to_mlp_batch,
)


@dataclass(frozen=True)
class ModelFunction:
    """A fitted model seen as a function ``X (n, p) -> (n, n_outputs)``.

    For classifiers the outputs are class probabilities (a binary classifier gives the
    probability of its positive class, one output, as its logistic unit does).

    Attributes
    ----------
    predict : callable
        ``predict(X: ndarray (n, p)) -> ndarray (n, n_outputs)``.
    output_names : tuple of str
    feature_names : tuple of str or None
        Names the model was fitted with, if it knows them.
    is_classifier : bool
    model : object
        The wrapped model.
    """

    predict: Callable[[np.ndarray], np.ndarray]
    output_names: tuple[str, ...]
    feature_names: tuple[str, ...] | None
    is_classifier: bool
    model: object

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.predict(X)


def _torch_module_predict(module: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    params = list(module.parameters())
    dtype = params[0].dtype if params else torch.float32
    device = params[0].device if params else torch.device("cpu")

    def predict(X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module(torch.as_tensor(np.asarray(X), dtype=dtype, device=device))
        out = out.detach().cpu().numpy().astype(np.float64)
        return out.reshape(out.shape[0], -1)

    return predict


def as_model_function(
    model,
    *,
    output_names: Sequence[str] | None = None,
    n_outputs: int | None = None,
    n_features: int | None = None,
) -> ModelFunction:
    """Wrap any fitted model as a plain prediction function.

    Parameters
    ----------
    model : object
        A fitted scikit-learn regressor or classifier (any, Pipelines included), a torch
        ``nn.Module`` (evaluated under ``torch.no_grad``), or an :class:`MLPBatch` of size 1.
    output_names : sequence of str, optional
        Names of the outputs (default: ``classes_`` for classifiers, ``y``/``y0, y1, ...``).
    n_outputs : int, optional
        Number of outputs of a torch module, if the names are not given (else found by a call).
    n_features : int, optional
        Number of columns of the data the model will predict: the width of the call that
        finds a torch module's number of outputs (default: the width its first layer takes,
        else that of its first ``nn.Linear``).

    Returns
    -------
    ModelFunction
    """
    if isinstance(model, MLPBatch):
        if model.batch_size != 1:
            raise ValueError("as_model_function takes a single network (batch size 1).")

        def predict_batch(X: np.ndarray) -> np.ndarray:
            return model.predict(X)[0]

        return ModelFunction(
            predict_batch,
            tuple(output_names) if output_names is not None else model.output_names,
            model.feature_names,
            model.is_classifier,
            model,
        )
    if isinstance(model, torch.nn.Module):
        predict = _torch_module_predict(model)
        if output_names is None:
            if n_outputs is None:
                width = n_features if n_features is not None else _torch_in_features(model)
                n_outputs = predict(np.zeros((1, width))).shape[1]
            names = _single_output_name(n_outputs, None)
        else:
            names = tuple(str(n) for n in output_names)
        return ModelFunction(predict, names, None, False, model)
    if not hasattr(model, "predict"):
        raise TypeError(
            f"{type(model).__name__} has no predict method: expected a fitted scikit-learn "
            "estimator, a torch nn.Module or an MLPBatch."
        )
    check_is_fitted(model)
    fnames = getattr(model, "feature_names_in_", None)
    fnames = None if fnames is None else tuple(str(f) for f in fnames)
    if _sk_is_classifier(model):
        if not hasattr(model, "predict_proba"):
            raise TypeError(
                f"{type(model).__name__} is a classifier without predict_proba; sensitivity "
                "methods need class probabilities."
            )
        classes = np.asarray(model.classes_)
        if classes.ndim != 1:
            raise TypeError("Multi-output classifiers are not supported.")
        binary = classes.shape[0] == 2

        def predict_proba(X: np.ndarray) -> np.ndarray:
            P = np.asarray(model.predict_proba(_maybe_frame(X, fnames)), dtype=np.float64)
            return P[:, 1:] if binary else P

        names = (
            tuple(str(n) for n in output_names)
            if output_names is not None
            else _classifier_output_names(classes, 1 if binary else classes.shape[0])
        )
        return ModelFunction(predict_proba, names, fnames, True, model)

    def predict_reg(X: np.ndarray) -> np.ndarray:
        out = np.asarray(model.predict(_maybe_frame(X, fnames)), dtype=np.float64)
        return out.reshape(out.shape[0], -1)

    if output_names is not None:
        names = tuple(str(n) for n in output_names)
    else:
        k = n_outputs
        if k is None:
            k = int(getattr(model, "n_outputs_", 0)) or None
        if k is None:
            k = 1
        names = _single_output_name(k, None)
    return ModelFunction(predict_reg, names, fnames, False, model)


def _maybe_frame(X, names):
    """Give a model fitted on a DataFrame a DataFrame back (avoids sklearn's name warning)."""
    if names is None or not isinstance(X, np.ndarray):
        return X
    import pandas as pd

    return pd.DataFrame(X, columns=list(names))


def torch_input_width(module: torch.nn.Module) -> int | None:
    """The number of inputs a torch module takes, where its first layer says so.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    int or None
        ``in_features`` of the module if it is an ``nn.Linear``, or of the first layer of an
        ``nn.Sequential`` (nested ones included) when that layer is an ``nn.Linear``; None
        otherwise: the first ``nn.Linear`` of a module says nothing about its input when other
        layers come before it (an ``nn.Conv1d`` behind an ``nn.Unflatten``) or when its
        ``forward`` is the user's own.
    """
    first = module
    while isinstance(first, torch.nn.Sequential) and len(first) > 0:
        first = first[0]
    return int(first.in_features) if isinstance(first, torch.nn.Linear) else None


def _torch_in_features(module: torch.nn.Module) -> int:
    """The width to probe a module with when the data's is not known: its first layer's, else
    (a guess) that of the first ``nn.Linear`` it holds."""
    width = torch_input_width(module)
    if width is not None:
        return width
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            return int(m.in_features)
    raise ValueError(
        "Cannot infer the number of inputs of the torch module; pass n_features (the number "
        "of columns of X) or n_outputs."
    )


def as_differentiable(
    model,
    *,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    n_features: int | None = None,
):
    """What the derivative methods differentiate: an MLPBatch or a ``TorchNetwork``.

    An MLP (anything :func:`to_mlp_batch` accepts) becomes an :class:`MLPBatch` (analytic
    derivatives); any other ``torch.nn.Module`` is wrapped as a
    :class:`~sensitivity.network.TorchNetwork` (derivatives by ``torch.func``), and so is an
    ``nn.Sequential`` holding modules :func:`to_mlp_batch` does not know. A ``TorchNetwork`` is
    returned as is.

    Parameters
    ----------
    model : object
    feature_names, output_names : sequence of str, optional
        Names of the inputs and outputs. For a general torch module the number of inputs comes
        from ``feature_names``, ``n_features`` or its first ``nn.Linear``, and the number of
        outputs from ``output_names`` or from one call on a row of zeros.
    n_features : int, optional
        Number of inputs of a general torch module.
    """
    from ..network import TorchNetwork

    if isinstance(model, TorchNetwork):
        return model
    if is_mlp_model(model):
        try:
            return to_mlp_batch(model, feature_names=feature_names, output_names=output_names)
        except TypeError:
            if not isinstance(model, torch.nn.Sequential):
                raise
            # an nn.Sequential of other modules: differentiate it by autograd instead
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"Derivative methods need a differentiable model; got {type(model).__name__}. "
            f"Supported: {SUPPORTED_MLP_MODELS}, or any torch nn.Module."
        )
    if feature_names is not None:
        p = len(feature_names)
        if n_features is not None and n_features != p:
            raise ValueError(f"{p} feature names for n_features={n_features}.")
    else:
        p = n_features if n_features is not None else _torch_in_features(model)
    fnames = _names_or_default(feature_names, p, "x")
    if output_names is None:
        params = list(model.parameters())
        dtype = params[0].dtype if params else torch.get_default_dtype()
        device = params[0].device if params else torch.device("cpu")
        with torch.no_grad():
            out = model(torch.zeros(1, p, dtype=dtype, device=device))
        k = 1 if out.ndim == 1 else int(out.reshape(out.shape[0], -1).shape[1])
        onames = _single_output_name(k, None)
    else:
        onames = tuple(str(n) for n in output_names)
    return TorchNetwork(model, fnames, onames)
