"""Which model the held-out test evaluates, and a first check that it can predict X."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace as _replace

import numpy as np
import torch

from .. import adapters
from ..methods import _data as _pdata
from ..network import MLPBatch

__all__ = ["check_predicts", "prediction_view"]


# ---------------------------------------------------------------------- model view
@dataclass(frozen=True)
class _FunctionModel:
    """A plain ``predict(X) -> (n, n_outputs)`` callable seen as a ModelFunction."""

    predict: Callable[[np.ndarray], np.ndarray]
    output_names: tuple[str, ...]
    feature_names: tuple[str, ...] | None
    is_classifier: bool
    model: object


def _torch_dtype(model) -> torch.dtype:
    if isinstance(model, torch.nn.Module):
        params = list(model.parameters())
        if params and params[0].dtype == torch.float32:
            return torch.float32
    return torch.float64


def _n_inputs(model) -> int | None:
    """Number of inputs the model takes, where it says so."""
    if isinstance(model, MLPBatch):
        return model.n_features
    if isinstance(model, torch.nn.Module):  # its first layer's width (not a later Linear's)
        return adapters.torch_input_width(model)
    n = getattr(model, "n_features_in_", None)
    return None if n is None else int(n)


def prediction_view(model, *, feature_names=None, loss: str = "auto", n_features=None):
    """What the held-out test evaluates: an MLPBatch (fast path) or a prediction function.

    ``model`` is a fitted scikit-learn estimator or Pipeline, a torch module, an MLPBatch or a
    plain callable ``predict(X) -> predictions``. MLPs (anything
    :func:`~sensitivity.adapters.to_mlp_batch` accepts) become an MLPBatch in the model's own
    floating point type (float32 for a float32 torch module); anything else a prediction
    function. A callable or a general torch module is a regressor unless ``loss="log_loss"``,
    which marks its outputs as class probabilities (one output: the positive class).
    """
    n_in = _n_inputs(model)
    if n_features is not None and n_in is not None and n_in != n_features:
        raise ValueError(
            f"X has {n_features} columns but the model takes {n_in} inputs; pass the columns "
            "the model was trained on, in the same order."
        )
    view = None
    if adapters.is_mlp_model(model):
        try:
            view = adapters.to_mlp_batch(
                model, feature_names=feature_names, dtype=_torch_dtype(model)
            )
        except TypeError:  # e.g. an nn.Sequential with modules an MLPBatch does not model
            view = None
    if view is not None:
        return view
    if isinstance(model, torch.nn.Module) or (
        callable(model) and not hasattr(model, "predict") and not isinstance(model, type)
    ):
        clf = loss == "log_loss"
        if isinstance(model, torch.nn.Module):
            predict = adapters.as_model_function(model, n_outputs=1).predict
        else:

            def predict(X, _f=model):
                out = np.asarray(_f(X), dtype=np.float64)
                return out.reshape(out.shape[0], -1)

        k = _probe(predict, n_features or n_in or 1)
        names = ("y",) if k == 1 else tuple(f"y{i}" for i in range(k))
        if clf:
            names = ("1",) if k == 1 else tuple(str(i) for i in range(k))
        return _FunctionModel(predict, names, feature_names, clf, model)
    view = adapters.as_model_function(model)
    if feature_names is not None:
        view = _replace(view, feature_names=tuple(feature_names))
    return view


def _probe(predict, p: int) -> int:
    try:
        out = np.asarray(predict(np.zeros((2, p))))
    except Exception as err:
        raise ValueError(
            f"The model raised {type(err).__name__} when predicting 2 rows of {p} columns: "
            f"{err}. Does it take {p} inputs and return predictions (n_rows, n_outputs)?"
        ) from err
    return 1 if out.ndim == 1 else int(np.prod(out.shape[1:]))


def check_predicts(view, X: np.ndarray) -> None:
    """One small call on real rows: a clear message if the model cannot predict them."""
    rows = X[: min(2, X.shape[0])]
    try:
        out = _pdata.predict(view, rows)
    except Exception as err:
        raise ValueError(
            f"The model raised {type(err).__name__} when predicting {rows.shape[0]} rows of X "
            f"with {X.shape[1]} columns: {err}"
        ) from err
    if out.shape[-1] != len(view.output_names):
        raise ValueError(
            f"The model returned {out.shape[-1]} outputs; expected {len(view.output_names)}."
        )
