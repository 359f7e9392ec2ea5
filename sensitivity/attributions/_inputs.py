"""What the attribution functions accept: methods, targets, baselines, steps, noise."""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .. import adapters
from ..methods import _data
from ..methods import attributions as _attr
from ..network import MLPBatch, TorchNetwork

ATTRIBUTION_METHODS = (
    "saliency",
    "gradient_x_input",
    "smoothgrad",
    "integrated_gradients",
    "occlusion",
)
"""Names accepted by :func:`attributions` and :class:`Attributions`."""

AUTO_STEPS = (16, 32, 64, 128, 256, 512, 1024, 2048)
"""Numbers of steps tried by ``n_steps="auto"``."""

AUTO_PIECE_STEPS = (1, 2, 4, 8, 16, 32)
"""Nodes per piece tried by ``n_steps="auto"`` with ``"piecewise_gausslegendre"``."""

_AUTO_ROWS = 256
_NOISE_BLOCK = 1024  # rows per noise draw: fixed, so results never depend on memory settings


def _check_method(method) -> str:
    if method not in ATTRIBUTION_METHODS:
        raise ValueError(f"method must be one of {list(ATTRIBUTION_METHODS)}; got {method!r}.")
    return method


def _model_classes(model):
    """``classes_`` of a scikit-learn classifier (or Pipeline ending in one), else None."""
    classes = getattr(model, "classes_", None)
    if classes is None and hasattr(model, "steps"):
        classes = getattr(model.steps[-1][1], "classes_", None)
    return None if classes is None else np.asarray(classes)


def _view(model, method: str, feature_names, output_names, n_features):
    """The model as the methods see it: MLPBatch / TorchNetwork (gradients) or any predictor."""
    if isinstance(model, MLPBatch) and model.batch_size != 1:
        raise ValueError(
            f"The plain functions explain one model; got an MLPBatch of {model.batch_size} "
            "networks (use sensitivity.methods.attributions for batches)."
        )
    if adapters.is_encoded_mlp_model(model):
        raise TypeError(
            "Attributions of a Pipeline with a ColumnTransformer (one-hot encoding) are not "
            "supported: explain the network on the encoded columns instead."
        )
    if method != "occlusion":
        return adapters.as_differentiable(
            model, feature_names=feature_names, output_names=output_names, n_features=n_features
        )
    if isinstance(model, TorchNetwork):
        return model
    if adapters.is_mlp_model(model):
        try:
            return adapters.to_mlp_batch(
                model, feature_names=feature_names, output_names=output_names
            )
        except TypeError:
            pass
    view = adapters.as_model_function(model, output_names=output_names)
    names = feature_names if feature_names is not None else view.feature_names
    from dataclasses import replace

    return replace(view, feature_names=None if names is None else tuple(str(f) for f in names))


def _resolve_target(view, model, target, X: np.ndarray, logits: bool):
    """``(sel, row_index, row_sign, names, targets)``.

    The methods compute outputs ``sel``; the result keeps, per row ``r``, output
    ``sel[row_index[r]]`` times ``row_sign[r]`` (``row_index`` None: every output of ``sel``).
    """
    names = tuple(view.output_names)
    K = len(names)
    classes = _model_classes(model)
    is_clf = bool(getattr(view, "is_classifier", False)) or classes is not None
    binary = classes is not None and len(classes) == 2 and K == 1
    n = X.shape[0]
    if target is None:
        return list(range(K)), None, None, names, None
    if isinstance(target, str) and target == "predicted" and "predicted" not in names:
        if not is_clf:
            raise ValueError("target='predicted' needs a classifier.")
        P = _attr.predictions(view, X, logits=logits)[0]
        if binary:
            pos = P[:, 0] >= (0.0 if logits else 0.5)
            sign = np.where(pos, 1.0, -1.0)
            targets = np.where(pos, classes[1], classes[0])
            return [0], np.zeros(n, dtype=int), sign, ("predicted",), targets
        idx = P.argmax(axis=1)
        labels = classes if classes is not None and len(classes) == K else np.asarray(names)
        return list(range(K)), idx, np.ones(n), ("predicted",), np.asarray(labels)[idx]
    if str(target) in names:
        return [names.index(str(target))], None, None, (str(target),), None
    integer = isinstance(target, numbers.Integral) and not isinstance(target, bool)
    if binary and (str(target) == str(classes[0]) or (integer and target in (0, 1))):
        # a binary classifier: a label, or an index into its two classes
        if not (str(target) == str(classes[0]) or (integer and target == 0)):
            return [0], None, None, (str(classes[1]),), None
        if logits:
            raise ValueError(
                "The negative class of a binary classifier has no logit of its own; explain "
                f"the positive class {classes[1]!r} (its attributions with the sign flipped)."
            )
        return [0], np.zeros(n, dtype=int), -np.ones(n), (str(classes[0]),), None
    if integer and 0 <= target < K:
        return [int(target)], None, None, (names[int(target)],), None
    what = f"classes {list(map(str, classes))}" if classes is not None else f"outputs {list(names)}"
    raise ValueError(
        f"target {target!r} does not exist: the model has {what} (give a label, an output "
        f"index in 0..{K - 1}, 'predicted' for a classifier, or None for every output)."
    )


def _gather(values, row_index, row_sign, *, complement: bool = False):
    """Keep per row the chosen output (and sign) of ``values`` ``(n, K_sel[, p])``."""
    if values is None or row_index is None:
        return values
    n = values.shape[0]
    v = values[np.arange(n), row_index][:, None]
    s = row_sign.reshape((n, 1) + (1,) * (v.ndim - 2))
    if complement:  # predictions of the negative class: 1 - p
        return np.where(s < 0, 1.0 - v, v)
    return v * s


def _background(background, X: np.ndarray, p: int) -> np.ndarray:
    if background is None:
        return X
    B = _data.check_data(background, n_features=p, allow_constant=True, min_rows=1)[0]
    return B


def _resolve_baselines(baseline, X, background, n_baselines, rng) -> tuple[np.ndarray, bool]:
    """Baseline rows and whether to average over them: (1, p) or (n, p) (one per row of X),
    False; for ``"sample"``, (n_baselines, p), True."""
    n, p = X.shape
    if isinstance(baseline, str):
        if baseline == "zeros":
            return np.zeros((1, p)), False
        bg = _background(background, X, p)
        if baseline == "mean":
            return bg.mean(axis=0, keepdims=True), False
        if baseline == "median":
            return np.median(bg, axis=0, keepdims=True), False
        if baseline == "sample":
            if isinstance(n_baselines, bool) or not isinstance(n_baselines, numbers.Integral):
                raise TypeError(f"n_baselines must be an integer; got {n_baselines!r}.")
            if n_baselines < 1:
                raise ValueError(f"n_baselines must be at least 1; got {n_baselines}.")
            m = bg.shape[0]
            idx = rng.choice(m, size=int(n_baselines), replace=int(n_baselines) > m)
            return bg[idx], True
        raise ValueError(
            "baseline must be 'zeros', 'mean', 'median', 'sample', a number, an array of "
            f"shape ({p},) or ({n}, {p}); got {baseline!r}."
        )
    if isinstance(baseline, pd.Series | pd.DataFrame):
        baseline = baseline.to_numpy(dtype=np.float64)
    try:
        b = np.asarray(baseline, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"baseline must be numeric; got {baseline!r}.") from None
    if b.ndim == 0:
        b = np.full((1, p), float(b))
    elif b.shape == (p,):
        b = b.reshape(1, p)
    elif b.shape != (n, p):
        raise ValueError(
            f"baseline has shape {b.shape}; expected a number, ({p},) (one baseline row) or "
            f"({n}, {p}) (one per row of X): X has {n} rows and {p} variables."
        )
    if not np.all(np.isfinite(b)):
        raise ValueError("baseline contains NaN or infinite values.")
    return b, False


def _resolve_integration(view, integration) -> str:
    """``"auto"``: piecewise Gauss-Legendre for an MLP with relu units in its first hidden
    layer (their kinks are where plain quadrature converges slowly), else Gauss-Legendre."""
    allowed = (*_attr.INTEGRATION_METHODS, _attr.PIECEWISE)
    if integration == "auto":
        relu_first = (
            isinstance(view, MLPBatch)
            and view.n_hidden_layers >= 1
            and view.activations[0] == "relu"
        )
        return _attr.PIECEWISE if relu_first else "gausslegendre"
    if integration not in allowed:
        raise ValueError(
            f"Unknown integration method {integration!r}; choose 'auto' or one of {list(allowed)}."
        )
    if integration == _attr.PIECEWISE and not isinstance(view, MLPBatch):
        raise ValueError(
            f"integration={_attr.PIECEWISE!r} needs an MLP (the kinks of its first hidden "
            "layer); this model is differentiated by autograd: use 'gausslegendre'."
        )
    return integration


def _check_steps(n_steps, integration: str):
    if isinstance(n_steps, str):
        if n_steps != "auto":
            raise ValueError(f"n_steps must be a positive integer or 'auto'; got {n_steps!r}.")
        return n_steps
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral):
        raise TypeError(f"n_steps must be a positive integer or 'auto'; got {n_steps!r}.")
    rule = "gausslegendre" if integration == _attr.PIECEWISE else integration
    _attr.integration_rule(rule, int(n_steps))  # the rule's own checks (steps >= 1)
    return int(n_steps)


def _check_tolerance(tolerance) -> float:
    if not isinstance(tolerance, numbers.Real) or not tolerance > 0:
        raise ValueError(f"tolerance must be a positive number; got {tolerance!r}.")
    return float(tolerance)


def _rows(model, X, feature_names):
    """Validated float rows and the names to use (DataFrame columns when the model has none)."""
    if (
        feature_names is None
        and isinstance(X, pd.DataFrame)
        and getattr(model, "feature_names_in_", None) is None
        and not hasattr(model, "feature_names")
    ):
        feature_names = [str(c) for c in X.columns]
    arr, _ = _data.check_data(X, allow_constant=True, min_rows=1)
    return arr, feature_names


def _baseline_groups(baselines: np.ndarray, average: bool) -> list[np.ndarray]:
    """The baselines to average over: each row of a sample, else the one (1|n, p) array."""
    return [b[None] for b in baselines] if average else [baselines]


def _noise(X, sigma, n_samples, rng) -> np.ndarray:
    """Noise draws (S, n, p), drawn block by block of rows in a fixed order."""
    n, p = X.shape
    out = np.empty((n_samples, n, p))
    for start in range(0, n, _NOISE_BLOCK):
        stop = min(start + _NOISE_BLOCK, n)
        out[:, start:stop] = rng.standard_normal((n_samples, stop - start, p)) * sigma
    return out


def _noise_sigma(X, background, noise_level, stdevs) -> np.ndarray:
    p = X.shape[1]
    if stdevs is not None:
        s = np.broadcast_to(np.asarray(stdevs, dtype=np.float64), (p,)).copy()
        if not np.all(np.isfinite(s)) or np.any(s < 0):
            raise ValueError(f"stdevs must be {p} finite non-negative numbers.")
        return s
    if not isinstance(noise_level, numbers.Real) or not noise_level >= 0:
        raise ValueError(f"noise_level must be a non-negative number; got {noise_level!r}.")
    bg = _background(background, X, p)
    return float(noise_level) * np.ptp(bg, axis=0)
