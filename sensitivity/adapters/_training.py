"""What the batched trainer (:mod:`sensitivity.training`) needs from a model: its training problem
(:func:`training_spec`), a fitted copy holding other weights (:func:`with_network_weights`)
and how it was trained.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._mlp import _flatten_sequential, _from_torch_sequential, _split_pipeline, is_mlp_model


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
    from ..training import TrainingSpec

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
    from ..training import TrainingSpec

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
