"""From users' models to the objects the methods work on.

This is the only module that knows scikit-learn and torch model classes (``DESIGN.md`` §2).

* :func:`to_mlp_batch`: a fitted ``MLPRegressor`` / ``MLPClassifier``, a ``Pipeline`` of affine
  scalers ending in one of them, or a torch ``nn.Sequential`` of ``nn.Linear`` and activation
  modules, to an :class:`~sensitivity.network.MLPBatch` of size 1.
* :func:`as_model_function`: any fitted model (any scikit-learn regressor or classifier, any
  Pipeline, a torch ``nn.Module``, an MLPBatch) to a :class:`ModelFunction`, a plain
  ``predict(X) -> (n, n_outputs)`` used by the perturbation methods.
* :func:`as_differentiable`: the view the derivative methods differentiate (an MLPBatch where
  possible, else the torch module itself, by autograd).
* :func:`training_spec`, :func:`with_network_weights`: what the batched trainer needs to rebuild
  a network, and the fitted copy holding the weights it trained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral as numbers_Integral

import numpy as np
import torch
from sklearn.base import is_classifier as _sk_is_classifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

from .network import MLPBatch

__all__ = [
    "SUPPORTED_MLP_MODELS",
    "EncodedMLP",
    "ModelFunction",
    "as_differentiable",
    "as_model_function",
    "check_model_fitted",
    "describe_model",
    "is_encoded_mlp_model",
    "is_mlp_model",
    "to_encoded_mlp",
    "to_mlp_batch",
]

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


# ---------------------------------------------------------------------- prediction functions
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
    model, *, output_names: Sequence[str] | None = None, n_outputs: int | None = None
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
                in_features = _torch_in_features(model)
                n_outputs = predict(np.zeros((1, in_features))).shape[1]
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


def _torch_in_features(module: torch.nn.Module) -> int:
    for m in module.modules():
        if isinstance(m, torch.nn.Linear):
            return int(m.in_features)
    raise ValueError("Cannot infer the number of inputs of the torch module; pass n_outputs.")


# ---------------------------------------------------------------------- encoded pipelines
# A Pipeline whose first step is a ColumnTransformer of affine scalers and one-hot encoders,
# followed by optional affine scalers and an MLP. One-hot encoding is not an affine map of one
# variable (one column becomes several 0/1 columns), so weight and derivative methods work on the
# encoded columns (the MLP's inputs) and then sum each variable's group (EncodedMLP.group).


@dataclass(frozen=True)
class EncodedMLP:
    """An MLP behind a ``ColumnTransformer``, seen in its encoded input space.

    Attributes
    ----------
    batch : MLPBatch
        The network on the encoded columns (``batch.feature_names`` are the encoded column
        names). Its input transform is the affine part of the preprocessing: scaled numeric
        columns are in the user's units, one-hot columns are the 0/1 indicators themselves.
    encoded_names : tuple of str
        Names of the encoded columns (``ColumnTransformer.get_feature_names_out``).
    groups : tuple of int
        For each encoded column, the index of the original variable it comes from.
    original_names : tuple of str
        The original variables (the columns passed to the Pipeline), in input order.
    one_hot : tuple of bool
        For each original variable, whether it is one-hot encoded.
    transformer : ColumnTransformer
        The fitted ColumnTransformer.
    center, scale : ndarray of shape (n_encoded,)
        The affine part of the ColumnTransformer's output, undone by :meth:`encode`.
    """

    batch: MLPBatch
    encoded_names: tuple[str, ...]
    groups: tuple[int, ...]
    original_names: tuple[str, ...]
    one_hot: tuple[bool, ...]
    transformer: object
    center: np.ndarray
    scale: np.ndarray

    def encode(self, X) -> np.ndarray:
        """The user's ``X`` (original variables) as inputs of :attr:`batch`.

        Numeric columns stay in the user's units, one-hot columns are 0/1, so
        ``batch.predict(encode(X))`` reproduces the Pipeline's predictions.
        """
        Z = self.transformer.transform(X)
        if hasattr(Z, "toarray"):
            Z = Z.toarray()
        return (np.asarray(Z, dtype=np.float64) - self.center) / self.scale

    def group(self, values, axis: int = -1):
        """Sum ``values`` over each original variable's encoded columns.

        Parameters
        ----------
        values : array-like or torch.Tensor
            Per encoded column along ``axis`` (e.g. ``(B, n_outputs, n_encoded)``).
        axis : int
            The encoded-column axis.

        Returns
        -------
        Same type as ``values``, with ``axis`` of length ``len(original_names)``:
        ``out[..., j] = sum over encoded columns c of variable j of values[..., c]``.
        Variables without any encoded column (dropped by the ColumnTransformer) get 0.
        """
        n_groups = len(self.original_names)
        if isinstance(values, torch.Tensor):
            moved = values.movedim(axis, -1)
            if moved.shape[-1] != len(self.groups):
                raise ValueError(
                    f"Got {moved.shape[-1]} values along axis {axis}; expected "
                    f"{len(self.groups)} encoded columns."
                )
            index = torch.as_tensor(self.groups, device=moved.device)
            out = moved.new_zeros((*moved.shape[:-1], n_groups))
            out.index_add_(-1, index, moved)
            return out.movedim(-1, axis)
        arr = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
        if arr.shape[-1] != len(self.groups):
            raise ValueError(
                f"Got {arr.shape[-1]} values along axis {axis}; expected {len(self.groups)} "
                "encoded columns."
            )
        M = np.zeros((len(self.groups), n_groups))
        M[np.arange(len(self.groups)), self.groups] = 1.0
        return np.moveaxis(arr @ M, -1, axis)


def _column_transformer_of(model):
    from sklearn.compose import ColumnTransformer

    if isinstance(model, Pipeline) and len(model.steps) >= 2:
        first = model.steps[0][1]
        if isinstance(first, ColumnTransformer):
            return first
    return None


def is_encoded_mlp_model(model) -> bool:
    """Whether ``model`` is a Pipeline starting with a ``ColumnTransformer`` and ending in an MLP.

    Such models go through :func:`to_encoded_mlp` (not :func:`to_mlp_batch`).
    """
    if _column_transformer_of(model) is None:
        return False
    return isinstance(model.steps[-1][1], MLPRegressor | MLPClassifier)


SUPPORTED_COLUMN_TRANSFORMERS = (
    "ColumnTransformer blocks of StandardScaler, MinMaxScaler (clip=False), MaxAbsScaler, a "
    "Pipeline of those, OneHotEncoder, 'passthrough' or 'drop' (remainder 'drop' or "
    "'passthrough')"
)


def _resolve_columns(columns, names: tuple[str, ...] | None, n: int) -> list[int]:
    """Input indices selected by a (fitted) ColumnTransformer column specification."""
    if isinstance(columns, str):
        columns = [columns]
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            if names is None:
                raise TypeError("String column slices need a DataFrame with column names.")
            start = names.index(columns.start) if columns.start is not None else 0
            stop = names.index(columns.stop) + 1 if columns.stop is not None else n
            return list(range(start, stop))
        return list(range(n))[columns]
    if isinstance(columns, numbers_Integral):
        return [int(columns)]
    cols = list(np.asarray(columns).ravel()) if not isinstance(columns, list) else columns
    if len(cols) == 0:
        return []
    if all(isinstance(c, bool | np.bool_) for c in cols):
        return [i for i, keep in enumerate(cols) if keep]
    if all(isinstance(c, numbers_Integral) for c in cols):
        return [int(c) for c in cols]
    if names is None:
        raise TypeError("Columns selected by name need a DataFrame with column names.")
    missing = [c for c in cols if str(c) not in names]
    if missing:
        raise ValueError(f"Columns {missing} are not among the inputs {list(names)}.")
    return [names.index(str(c)) for c in cols]


def _one_hot_widths(encoder) -> list[int]:
    """Number of output columns of a fitted OneHotEncoder, per input column."""
    widths = []
    drop_idx = getattr(encoder, "drop_idx_", None)
    infrequent = getattr(encoder, "infrequent_categories_", None)
    for j, cats in enumerate(encoder.categories_):
        w = len(cats)
        if infrequent is not None and infrequent[j] is not None:
            w = w - len(infrequent[j]) + 1
        if drop_idx is not None and drop_idx[j] is not None:
            w -= 1
        widths.append(w)
    return widths


def _block_affine(trans, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)`` of a block of scalers (a scaler or a Pipeline of scalers)."""
    steps = trans.steps if isinstance(trans, Pipeline) else [("", trans)]
    scale, offset, _ = _compose_scalers(
        steps,
        n_cols,
        lambda step: (
            f"ColumnTransformer block {type(step).__name__} is not supported. "
            f"Supported: {SUPPORTED_COLUMN_TRANSFORMERS}."
        ),
    )
    return scale, offset


def to_encoded_mlp(
    model,
    *,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dtype: torch.dtype = torch.float64,
) -> EncodedMLP:
    """Read a fitted ``Pipeline(ColumnTransformer(...), [scalers...], MLP)``.

    Numeric blocks must be affine scalers (or ``'passthrough'``); categorical blocks
    ``OneHotEncoder``. The returned :class:`EncodedMLP` holds the network on the encoded
    columns (affine parts kept as the batch's input transform, so numeric columns stay in the
    user's units) and the map from encoded columns to original variables.

    Parameters
    ----------
    model : Pipeline
        Fitted; see :func:`is_encoded_mlp_model`.
    feature_names : sequence of str, optional
        Names of the original variables (default: the Pipeline's ``feature_names_in_``, else
        ``x0, x1, ...``).
    output_names : sequence of str, optional
    dtype : torch.dtype

    Returns
    -------
    EncodedMLP
    """
    from sklearn.preprocessing import OneHotEncoder

    if not is_encoded_mlp_model(model):
        raise TypeError(
            "Expected a Pipeline whose first step is a ColumnTransformer and whose last step is "
            "an MLPRegressor or MLPClassifier."
        )
    check_is_fitted(model)
    ct = model.steps[0][1]
    check_is_fitted(ct)
    n_in = int(ct.n_features_in_)
    known = (
        tuple(str(c) for c in ct.feature_names_in_) if hasattr(ct, "feature_names_in_") else None
    )
    originals = _names_or_default(feature_names if feature_names is not None else known, n_in, "x")
    try:
        encoded_names = tuple(str(c) for c in ct.get_feature_names_out())
    except Exception:  # transformers without feature names: positional names
        encoded_names = None
    n_enc = int(sum(s.stop - s.start for s in ct.output_indices_.values()))
    scale = np.ones(n_enc)
    offset = np.zeros(n_enc)
    groups = np.full(n_enc, -1)
    one_hot = [False] * n_in
    for name, trans, columns in ct.transformers_:
        out = ct.output_indices_.get(name, slice(0, 0))
        if out.stop == out.start or trans == "drop":
            continue
        idx = _resolve_columns(columns, known, n_in)
        if isinstance(trans, OneHotEncoder):
            widths = _one_hot_widths(trans)
            if len(widths) != len(idx) or sum(widths) != out.stop - out.start:
                raise ValueError(f"Cannot map the OneHotEncoder {name!r} outputs to its inputs.")
            pos = out.start
            for i, w in zip(idx, widths, strict=True):
                groups[pos : pos + w] = i
                one_hot[i] = True
                pos += w
            continue
        if len(idx) != out.stop - out.start:
            raise TypeError(
                f"ColumnTransformer block {name!r} ({type(trans).__name__}) maps {len(idx)} "
                f"columns to {out.stop - out.start}: not supported. Supported: "
                f"{SUPPORTED_COLUMN_TRANSFORMERS}."
            )
        if trans == "passthrough":
            s, o = np.ones(len(idx)), np.zeros(len(idx))
        else:
            s, o = _block_affine(trans, len(idx))
        scale[out], offset[out] = s, o
        groups[out] = idx
    if np.any(groups < 0):
        raise ValueError("Some encoded columns could not be mapped to an input variable.")
    # affine scalers after the ColumnTransformer act on every encoded column
    s, o, _ = _compose_scalers(
        model.steps[1:-1],
        n_enc,
        lambda step: (
            f"Pipeline step {type(step).__name__} after the ColumnTransformer is not "
            f"an affine scaler. Supported models: {SUPPORTED_MLP_MODELS}."
        ),
    )
    scale, offset = scale * s, offset * s + o
    if encoded_names is None:
        encoded_names = tuple(f"{originals[g]}_{k}" for k, g in enumerate(groups))
    final = model.steps[-1][1]
    batch = _from_sklearn_mlp(final, encoded_names, output_names, scale, offset, dtype)
    # what the ColumnTransformer computes, with the affine part undone: numeric columns stay
    # in the user's units, one-hot columns are 0/1 (their scale is 1, offset 0)
    ct_scale = np.ones(n_enc)
    ct_offset = np.zeros(n_enc)
    for name, trans, _ in ct.transformers_:
        out = ct.output_indices_.get(name, slice(0, 0))
        if out.stop == out.start or trans in ("drop", "passthrough"):
            continue
        if not isinstance(trans, OneHotEncoder):
            ct_scale[out], ct_offset[out] = _block_affine(trans, out.stop - out.start)
    return EncodedMLP(
        batch=batch,
        encoded_names=encoded_names,
        groups=tuple(int(g) for g in groups),
        original_names=originals,
        one_hot=tuple(one_hot),
        transformer=ct,
        center=ct_offset,
        scale=ct_scale,
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
    from .network import TorchNetwork

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


# ---------------------------------------------------------------------- training specification
def training_spec(model):
    """The training problem of an MLP, for the batched trainer (:mod:`sensitivity.training`).

    Reads the hidden layer sizes, hidden and output activations, loss, L2 penalty ``alpha`` and
    the affine input transform of a Pipeline's scalers. Works on fitted or unfitted
    ``MLPRegressor``/``MLPClassifier`` and Pipelines (an unfitted Pipeline has no scaler
    transform yet: ``input_scale`` is then None), and on a torch ``nn.Sequential`` of
    ``nn.Linear`` layers with one hidden activation (see :func:`_torch_training_spec`: the
    final module decides regression or classification).

    Parameters
    ----------
    model : estimator or nn.Sequential

    Returns
    -------
    sensitivity.training.TrainingSpec

    Raises
    ------
    TypeError
        If the batched trainer cannot reproduce the model's training (a Poisson loss, mixed
        hidden activations, a multilabel classifier, any other model); use
        ``trainer="estimator"`` in the estimators.
    """
    from .training import TrainingSpec

    scale = offset = None
    final = model
    if isinstance(model, Pipeline):
        if not is_mlp_model(model):
            raise TypeError(
                "The batched trainer needs a Pipeline of affine scalers ending in an MLP; got "
                f"{[type(s).__name__ for _, s in model.steps]}."
            )
        final = model.steps[-1][1]
        try:
            _, scale, offset = _split_pipeline(model)
        except Exception:  # unfitted pipeline: no transform known yet
            scale = offset = None
    if isinstance(final, MLPRegressor | MLPClassifier):
        sizes = final.hidden_layer_sizes
        sizes = (int(sizes),) if np.isscalar(sizes) else tuple(int(s) for s in sizes)
        loss = getattr(final, "loss", "squared_error")
        if isinstance(final, MLPRegressor):
            if loss != "squared_error":
                raise TypeError(
                    f"MLPRegressor(loss={loss!r}): the batched trainer reproduces the "
                    "squared-error loss only; use trainer='estimator'."
                )
            out, loss, classes = "identity", "squared_error", None
        else:
            classes = getattr(final, "classes_", None)
            out_act = getattr(final, "out_activation_", None)
            if out_act is None and classes is None:
                raise TypeError("Fit the MLPClassifier first (its classes decide the output).")
            if classes is not None and np.asarray(classes).ndim != 1:
                raise TypeError("Multilabel MLPClassifier is not supported by the trainer.")
            if getattr(final, "_label_binarizer", None) is not None and getattr(
                final._label_binarizer, "y_type_", "binary"
            ) not in ("binary", "multiclass"):
                raise TypeError("Multilabel MLPClassifier is not supported by the trainer.")
            out = out_act or ("logistic" if len(classes) == 2 else "softmax")
            loss = "log_loss"
        return TrainingSpec(
            hidden_sizes=sizes,
            activation=final.activation,
            out_activation=out,
            loss=loss,
            alpha=float(final.alpha),
            input_scale=scale,
            input_offset=offset,
            is_classifier=isinstance(final, MLPClassifier),
            classes=None if classes is None else np.asarray(classes),
        )
    if isinstance(model, torch.nn.Sequential):
        return _torch_training_spec(model)
    raise TypeError(
        f"The batched trainer cannot reproduce the training of {type(model).__name__}; "
        "use trainer='estimator' (refits clones of the estimator)."
    )


def _torch_training_spec(model: torch.nn.Sequential):
    """The training problem of a torch ``nn.Sequential`` MLP.

    The modules are ``nn.Linear`` layers with one kind of hidden activation between them
    (``nn.ReLU``, ``nn.Tanh``, ``nn.Sigmoid`` or none, i.e. ``nn.Identity``; ``nn.Dropout`` is
    ignored, as in evaluation mode). **The final module says what the network predicts:**

    * ends in ``nn.Linear`` (or ``nn.Identity``): a regressor, squared-error loss;
    * ends in ``nn.Softmax(dim=1)`` (or ``dim=-1``): a classifier of ``k >= 2`` classes coded
      ``0..k-1`` (the output units), log-loss;
    * ends in ``nn.Sigmoid``: a binary classifier with one output unit (classes ``0, 1``;
      several units: multilabel), log-loss.

    A classifier trained on logits (``nn.CrossEntropyLoss`` on a network ending in
    ``nn.Linear``) is therefore read as a regressor: append ``nn.Softmax(dim=1)`` (or
    ``nn.Sigmoid()``) to the module before passing it. A final ``nn.ReLU``/``nn.Tanh`` is not
    a loss the trainer knows (``TypeError``). The module holds no penalty: ``alpha = 0`` (the
    estimators' ``train_alpha`` sets the test's own penalty).
    """
    from .training import TrainingSpec

    batch = _from_torch_sequential(model, None, None, torch.float64)
    hidden = set(batch.activations[:-1])
    if len(hidden) > 1:
        raise TypeError(
            f"Mixed hidden activations {sorted(hidden)} in the nn.Sequential: the batched "
            "trainer uses one hidden activation for all layers."
        )
    out = batch.activations[-1]
    if out not in ("identity", "logistic", "softmax"):
        raise TypeError(
            f"The nn.Sequential ends in a {out} activation: the batched trainer knows a "
            "final nn.Linear (regression), nn.Softmax(dim=1) or nn.Sigmoid (classification)."
        )
    classifier = out != "identity"
    classes = None
    if classifier:
        classes = np.arange(2 if batch.n_outputs == 1 else batch.n_outputs)
    return TrainingSpec(
        hidden_sizes=batch.hidden_sizes,
        activation=hidden.pop() if hidden else "identity",
        out_activation=out,
        loss="log_loss" if classifier else "squared_error",
        alpha=0.0,
        is_classifier=classifier,
        classes=classes,
    )


def with_network_weights(model, coefs, intercepts):
    """A copy of a fitted MLP (or Pipeline, or nn.Sequential) holding the given weights.

    ``coefs``/``intercepts`` are per layer ``(n_in, n_out)``/``(n_out,)`` arrays in the
    model's own input space (after a Pipeline's scalers). The model passed in is not modified.
    For a torch ``nn.Sequential`` the result is a deep copy of the module whose ``nn.Linear``
    layers hold ``weight = coefs[l].T`` and ``bias = intercepts[l]`` in the module's own dtype
    and device (a layer without bias must get zero intercepts).
    """
    import copy

    new = copy.deepcopy(model)
    final = new.steps[-1][1] if isinstance(new, Pipeline) else new
    if isinstance(final, MLPRegressor | MLPClassifier):
        check_is_fitted(final, "coefs_")
        if [c.shape for c in final.coefs_] != [np.shape(c) for c in coefs]:
            raise ValueError("The weights do not match the model's architecture.")
        final.coefs_ = [np.array(c, dtype=np.float64) for c in coefs]
        final.intercepts_ = [np.array(b, dtype=np.float64) for b in intercepts]
        return new
    if isinstance(new, torch.nn.Sequential):
        linears = [m for m in _flatten_sequential(new) if isinstance(m, torch.nn.Linear)]
        have = [(m.in_features, m.out_features) for m in linears]
        got = [tuple(np.shape(W)) for W in coefs]
        got_b = [tuple(np.shape(b)) for b in intercepts]
        if have != got or got_b != [(o,) for _, o in have]:
            raise ValueError(
                f"The weights do not match the nn.Sequential's layers: it has (n_in, n_out) "
                f"{have}; got coefs {got} and intercepts {got_b}."
            )
        with torch.no_grad():
            for lin, W, b in zip(linears, coefs, intercepts, strict=True):
                lin.weight.copy_(torch.as_tensor(np.asarray(W).T, dtype=lin.weight.dtype))
                if lin.bias is not None:
                    lin.bias.copy_(torch.as_tensor(np.asarray(b), dtype=lin.bias.dtype))
                elif np.any(np.asarray(b) != 0):
                    raise ValueError(
                        "An nn.Linear without bias cannot hold non-zero intercepts; build it "
                        "with bias=True."
                    )
        return new
    raise TypeError(f"Cannot set network weights into {type(model).__name__}.")


def seed_params(estimator) -> list[str]:
    """Names of the ``random_state`` parameters of an estimator (nested ones included)."""
    if not hasattr(estimator, "get_params"):
        return []
    return [k for k in estimator.get_params(deep=True) if k.split("__")[-1] == "random_state"]


def training_loss(fitted, X, y) -> float:
    """The final training loss of a fitted estimator (``loss_`` if it has one, else -score)."""
    final = fitted.steps[-1][1] if isinstance(fitted, Pipeline) else fitted
    loss = getattr(final, "loss_", None)
    if loss is not None and np.isfinite(loss):
        return float(loss)
    return -float(fitted.score(X, y))


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


def set_training_record(model, *, alpha: float, loss: float | None) -> None:
    """Record in a fitted MLP copy how its weights were trained by the test's trainer: its
    ``alpha`` becomes the penalty used, ``loss_`` the trainer's final loss, and the history
    attributes of the discarded fit (``loss_curve_``, ``best_loss_``, ``n_iter_``...) are
    removed so that ``get_params()`` and the attributes describe the weights it holds."""
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if not isinstance(final, MLPRegressor | MLPClassifier):
        return
    final.set_params(alpha=float(alpha))
    if loss is not None:
        final.loss_ = float(loss)
    for attr in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
        if hasattr(final, attr):
            setattr(final, attr, None)
