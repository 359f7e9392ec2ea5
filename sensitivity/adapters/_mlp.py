"""Fitted scikit-learn MLPs, Pipelines of affine scalers and torch ``nn.Sequential`` MLPs to an
:class:`~sensitivity.network.MLPBatch`, and the model checks every adapter shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral as numbers_Integral

import numpy as np
import torch
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

from ..network import MLPBatch

SUPPORTED_MLP_MODELS = (
    "a fitted sklearn MLPRegressor or MLPClassifier; a fitted sklearn Pipeline whose earlier "
    "steps are StandardScaler, MinMaxScaler (clip=False), MaxAbsScaler or 'passthrough' and "
    "whose last step is an MLPRegressor or MLPClassifier; a torch nn.Sequential of nn.Linear "
    "layers and activation modules (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.Dropout, a "
    "final nn.Softmax); or a sensitivity.MLPBatch"
)

_AFFINE_SCALERS = (StandardScaler, MinMaxScaler, MaxAbsScaler)

_TORCH_ACTIVATIONS: dict[type, str] = {
    torch.nn.ReLU: "relu",
    torch.nn.Tanh: "tanh",
    torch.nn.Sigmoid: "logistic",
    torch.nn.Identity: "identity",
}


# ---------------------------------------------------------------------- helpers
def _names_or_default(names, n: int, prefix: str) -> tuple[str, ...]:
    if names is None:
        return tuple(f"{prefix}{i}" for i in range(n))
    names = tuple(str(v) for v in names)
    if len(names) != n:
        raise ValueError(
            f"Got {len(names)} names for {n} {'inputs' if prefix == 'x' else 'outputs'}."
        )
    return names


def _single_output_name(n_outputs: int, output_names) -> tuple[str, ...]:
    if output_names is not None:
        return _names_or_default(output_names, n_outputs, "y")
    if n_outputs == 1:
        return ("y",)
    return tuple(f"y{i}" for i in range(n_outputs))


def _classifier_output_names(classes, n_outputs: int) -> tuple[str, ...]:
    classes = np.asarray(classes)
    if n_outputs == 1 and classes.shape[0] == 2:
        return (str(classes[1]),)  # one logistic unit: the probability of the positive class
    if classes.ndim == 1 and classes.shape[0] == n_outputs:
        return tuple(str(c) for c in classes)
    return tuple(f"label{i}" for i in range(n_outputs))


def _affine_of_scaler(step, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)`` with ``transform(x) = x * scale + offset`` for a fitted scaler."""
    check_is_fitted(step)
    if isinstance(step, StandardScaler):
        use_std = step.with_std and step.scale_ is not None
        use_mean = step.with_mean and step.mean_ is not None
        scale = 1.0 / np.asarray(step.scale_, dtype=float) if use_std else np.ones(n_features)
        mean = np.asarray(step.mean_, dtype=float) if use_mean else np.zeros(n_features)
        return scale, -mean * scale
    if isinstance(step, MinMaxScaler):
        if step.clip:
            raise TypeError(
                "MinMaxScaler(clip=True) is not an affine map (it clips values outside the "
                "training range); refit the Pipeline with clip=False."
            )
        return np.asarray(step.scale_, dtype=float), np.asarray(step.min_, dtype=float)
    if isinstance(step, MaxAbsScaler):
        return 1.0 / np.asarray(step.scale_, dtype=float), np.zeros(n_features)
    raise TypeError(
        f"Pipeline step {type(step).__name__} is not a supported affine scaler. "
        f"Supported models: {SUPPORTED_MLP_MODELS}."
    )


def _compose_scalers(steps, n_cols: int, unsupported) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(scale, offset, any)`` of a chain of affine scalers ``x * scale + offset``.

    ``steps`` are Pipeline ``(name, step)`` pairs; None/'passthrough' are skipped; a step that
    is not an affine scaler gets ``TypeError(unsupported(step))``.
    """
    scale, offset, used = np.ones(n_cols), np.zeros(n_cols), False
    for _, step in steps:
        if step is None or step == "passthrough":
            continue
        if not isinstance(step, _AFFINE_SCALERS):
            raise TypeError(unsupported(step))
        s, o = _affine_of_scaler(step, n_cols)
        scale, offset, used = scale * s, offset * s + o, True
    return scale, offset, used


def _split_pipeline(model) -> tuple[object, np.ndarray | None, np.ndarray | None]:
    """Return ``(final_estimator, scale, offset)`` of a Pipeline of affine scalers."""
    check_is_fitted(model)
    final = model.steps[-1][1]
    if final is None or final == "passthrough":
        raise TypeError("The Pipeline has no final estimator.")
    n_features = int(getattr(model, "n_features_in_", final.n_features_in_))
    scale, offset, used = _compose_scalers(
        model.steps[:-1],
        n_features,
        lambda step: (
            f"Pipeline step {type(step).__name__} is not a supported affine scaler. "
            f"Supported models: {SUPPORTED_MLP_MODELS}."
        ),
    )
    if not used:
        return final, None, None
    return final, scale, offset


def check_model_fitted(model) -> None:
    """Raise scikit-learn's ``NotFittedError`` for an unfitted scikit-learn model.

    torch modules and MLPBatch objects carry their weights and count as fitted.
    """
    if isinstance(model, MLPBatch | torch.nn.Module):
        return
    check_is_fitted(model)


def is_mlp_model(model) -> bool:
    """Whether :func:`to_mlp_batch` accepts ``model`` (its type, not its fitted state)."""
    if isinstance(model, MLPBatch | MLPRegressor | MLPClassifier | torch.nn.Sequential):
        return True
    if isinstance(model, Pipeline):
        final = model.steps[-1][1]
        if not isinstance(final, MLPRegressor | MLPClassifier):
            return False
        for _, step in model.steps[:-1]:
            ok = step is None or step == "passthrough"
            ok = ok or isinstance(step, StandardScaler | MaxAbsScaler)
            ok = ok or (isinstance(step, MinMaxScaler) and not step.clip)
            if not ok:
                return False
        return True
    return False


# ---------------------------------------------------------------------- to_mlp_batch
def to_mlp_batch(
    model,
    *,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dtype: torch.dtype = torch.float64,
) -> MLPBatch:
    """Read the architecture, weights and input transform of a fitted MLP.

    Parameters
    ----------
    model : object
        One of: a fitted ``MLPRegressor`` or ``MLPClassifier``; a fitted ``Pipeline`` of affine
        scalers (``StandardScaler``, ``MinMaxScaler(clip=False)``, ``MaxAbsScaler``,
        ``'passthrough'``) ending in one; a torch ``nn.Sequential`` of ``nn.Linear`` layers and
        activation modules; an :class:`MLPBatch` (returned as is, renamed if names are given).
    feature_names, output_names : sequence of str, optional
        Override the names read from the model (``feature_names_in_``, ``classes_``).
    dtype : torch.dtype
        Floating point type of the returned weights (float64 by default: exact methods).

    Returns
    -------
    MLPBatch
        A batch of size 1.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If a scikit-learn model is not fitted.
    TypeError
        If the model is not one of the supported kinds.
    ValueError
        If the model uses an activation the methods do not support.
    """
    if isinstance(model, MLPBatch):
        batch = model
        if feature_names is not None or output_names is not None:
            from dataclasses import replace

            batch = replace(
                batch,
                feature_names=_names_or_default(feature_names, batch.n_features, "x")
                if feature_names is not None
                else batch.feature_names,
                output_names=_names_or_default(output_names, batch.n_outputs, "y")
                if output_names is not None
                else batch.output_names,
            )
        return batch.to(dtype=dtype)
    if isinstance(model, Pipeline):
        if not is_mlp_model(model):
            raise TypeError(
                f"Unsupported Pipeline {[type(s).__name__ for _, s in model.steps]}. "
                f"Supported models: {SUPPORTED_MLP_MODELS}."
            )
        final, scale, offset = _split_pipeline(model)
        names = feature_names
        if names is None and hasattr(model, "feature_names_in_"):
            names = model.feature_names_in_
        return _from_sklearn_mlp(final, names, output_names, scale, offset, dtype)
    if isinstance(model, MLPRegressor | MLPClassifier):
        names = feature_names
        if names is None and hasattr(model, "feature_names_in_"):
            names = model.feature_names_in_
        return _from_sklearn_mlp(model, names, output_names, None, None, dtype)
    if isinstance(model, torch.nn.Sequential):
        return _from_torch_sequential(model, feature_names, output_names, dtype)
    if isinstance(model, torch.nn.Module):
        raise TypeError(
            f"{type(model).__name__} is a general torch Module: weight-based methods need its "
            "layers, which only an nn.Sequential of nn.Linear and activation modules exposes. "
            "Use a derivative or perturbation method (they accept any module)."
        )
    raise TypeError(
        f"Unsupported model type {type(model).__name__}. Supported models: {SUPPORTED_MLP_MODELS}."
    )


def _from_sklearn_mlp(model, feature_names, output_names, scale, offset, dtype) -> MLPBatch:
    check_is_fitted(model, "coefs_")
    n_in = model.coefs_[0].shape[0]
    n_out = model.coefs_[-1].shape[1]
    if isinstance(model, MLPClassifier):
        outs = (
            _names_or_default(output_names, n_out, "y")
            if output_names is not None
            else _classifier_output_names(model.classes_, n_out)
        )
    else:
        outs = _single_output_name(n_out, output_names)
    return MLPBatch.from_arrays(
        model.coefs_,
        model.intercepts_,
        activation=model.activation,
        out_activation=model.out_activation_,
        feature_names=_names_or_default(feature_names, n_in, "x"),
        output_names=outs,
        input_scale=scale,
        input_offset=offset,
        is_classifier=isinstance(model, MLPClassifier),
        dtype=dtype,
    )


def _flatten_sequential(module: torch.nn.Module) -> list[torch.nn.Module]:
    out: list[torch.nn.Module] = []
    for child in module.children():
        if isinstance(child, torch.nn.Sequential):
            out.extend(_flatten_sequential(child))
        else:
            out.append(child)
    return out


def _from_torch_sequential(model, feature_names, output_names, dtype) -> MLPBatch:
    layers = [m for m in _flatten_sequential(model) if not isinstance(m, torch.nn.Dropout)]
    coefs: list[torch.Tensor] = []
    intercepts: list[torch.Tensor] = []
    acts: list[str] = []
    pending_act: str | None = None
    for pos, m in enumerate(layers):
        if isinstance(m, torch.nn.Linear):
            if coefs:
                acts.append(pending_act or "identity")
            pending_act = None
            W = m.weight.detach().T
            b = m.bias.detach() if m.bias is not None else torch.zeros(W.shape[1])
            coefs.append(W)
            intercepts.append(b)
            continue
        if not coefs:
            raise TypeError(
                f"nn.Sequential must start with nn.Linear; found {type(m).__name__} first. "
                f"Supported models: {SUPPORTED_MLP_MODELS}."
            )
        if pending_act is not None:
            raise TypeError(
                f"Two activations in a row ({pending_act}, {type(m).__name__}) in the "
                "nn.Sequential are not supported."
            )
        if isinstance(m, torch.nn.Softmax):
            if pos != len(layers) - 1:
                raise TypeError("nn.Softmax is supported only as the last module.")
            if m.dim not in (-1, 1):
                raise TypeError(f"nn.Softmax(dim={m.dim}) is not over the features axis.")
            pending_act = "softmax"
            continue
        name = _TORCH_ACTIVATIONS.get(type(m))
        if name is None:
            raise TypeError(
                f"Unsupported module {type(m).__name__} in nn.Sequential. Supported models: "
                f"{SUPPORTED_MLP_MODELS}."
            )
        pending_act = name
    if not coefs:
        raise TypeError("The nn.Sequential holds no nn.Linear layer.")
    acts.append(pending_act or "identity")
    n_in, n_out = coefs[0].shape[0], coefs[-1].shape[1]
    if "softmax" in acts[:-1]:
        raise TypeError("nn.Softmax is supported only as the output activation.")
    return MLPBatch(
        weights=tuple(W.to(dtype).unsqueeze(0) for W in coefs),
        biases=tuple(b.to(dtype).unsqueeze(0) for b in intercepts),
        activations=tuple(acts),
        feature_names=_names_or_default(feature_names, n_in, "x"),
        output_names=_single_output_name(n_out, output_names),
        is_classifier=acts[-1] in ("softmax", "logistic"),
    )


def describe_model(model) -> str:
    """A one-line description of a fitted model for reports (steps and layer sizes)."""
    if isinstance(model, MLPBatch):
        sizes = "-".join(str(s) for s in model.layer_sizes)
        return f"MLP {sizes} ({', '.join(model.activations)})"
    if isinstance(model, Pipeline):
        return " -> ".join(describe_model(step) for _, step in model.steps if step is not None)
    if isinstance(model, MLPRegressor | MLPClassifier):
        hidden = model.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, numbers_Integral) else tuple(hidden)
        return (
            f"{type(model).__name__}(hidden_layer_sizes={hidden}, activation={model.activation!r})"
        )
    if isinstance(model, torch.nn.Module):
        return f"torch {type(model).__name__}"
    return type(model).__name__


def is_refittable_model(model) -> bool:
    """Whether a model can be cloned and refitted the scikit-learn way (``fit`` and
    ``get_params``): what cross-fitting and leave-one-covariate-out need. A torch module, an
    MLPBatch or a plain function cannot."""
    return hasattr(model, "fit") and hasattr(model, "get_params")


def is_classifier_model(model) -> bool:
    """Whether a model is a classifier (scikit-learn tags; an MLPBatch's flag; a torch module
    ending in a softmax or sigmoid)."""
    from sklearn.base import is_classifier

    if isinstance(model, MLPBatch):
        return bool(model.is_classifier)
    if isinstance(model, torch.nn.Module):
        if isinstance(model, torch.nn.Sequential):
            layers = _flatten_sequential(model)
            return bool(layers) and isinstance(layers[-1], torch.nn.Softmax | torch.nn.Sigmoid)
        return False
    try:
        return bool(is_classifier(model))
    except (AttributeError, TypeError):
        return False
