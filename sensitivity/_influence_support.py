"""Helpers of :class:`sensitivity.influence.SampleInfluence` that are not formulas: the targets
as the training loss sees them, the polish of the fitted weights, the ranked result frames,
and the thread setting of small computations."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval

from . import adapters
from ._threads import one_intra_op_thread
from .methods import influence as _inf

SMALL_PROBLEM = 5_000_000
"""Largest ``n_rows * n_params`` computed with one torch intra-op thread (see
:func:`threads_for`)."""


@contextlib.contextmanager
def threads_for(n_rows: int, n_params: int) -> Iterator[None]:
    """One torch intra-op thread for a small problem (``n_rows * n_params <= SMALL_PROBLEM``).

    The operations of a small influence computation take microseconds; an OpenMP team then
    costs more in wake-ups and spin-waiting than it gains, and much more when another process
    holds a core (measured: 0.1 s with one thread, 4.3 s with two on a shared 2-core machine
    for 1,000 rows x 71 parameters). The caller's setting is restored on exit.
    """
    if n_rows * n_params <= SMALL_PROBLEM:
        with one_intra_op_thread():
            yield
    else:
        yield


def final_step(model):
    """The last step of a Pipeline, else the model."""
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def encode_targets(estimator, batch, y, n_rows: int) -> np.ndarray:
    """Targets as the network's training loss sees them: ``(n, n_outputs)`` floats."""
    k = batch.n_outputs
    out = batch.activations[-1]
    if y is None:
        raise ValueError(
            "y is needed: the influence on a loss needs the targets (or use "
            "target='prediction' for test rows)."
        )
    final = final_step(estimator)
    if isinstance(final, MLPClassifier):
        ya = np.asarray(y)
        if ya.ndim != 1:
            raise ValueError("y for an MLPClassifier must be one label per row.")
        unknown = ~np.isin(ya, final.classes_)
        if unknown.any():
            raise ValueError(
                f"y holds labels the classifier does not know: {np.unique(ya[unknown])[:5]}"
                f" (classes: {list(final.classes_)})."
            )
        Y = np.asarray(final._label_binarizer.transform(ya), dtype=np.float64)
    else:
        try:
            ya = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must be numeric for this network: {exc}") from None
        if out == "softmax" and ya.ndim == 1:
            if not np.all(np.isin(ya, np.arange(k))):
                raise ValueError(
                    f"y for a softmax network must be class indices 0..{k - 1} or one-hot rows."
                )
            Y = np.eye(k)[ya.astype(int)]
        else:
            Y = ya.reshape(len(ya), -1) if ya.ndim <= 1 else ya
    if Y.shape != (n_rows, k):
        raise ValueError(
            f"y has shape {np.shape(y)}; expected {n_rows} rows and {k} output column(s)."
        )
    if not np.all(np.isfinite(Y)):
        raise ValueError("y contains NaN or infinite values.")
    if out == "logistic" and not np.all(np.isin(Y, (0.0, 1.0))):
        raise ValueError("y for a logistic output must be 0 or 1.")
    return Y


def polish_weights(obj, theta, Z, Y, estimator, batch, alpha: float, max_iter: int):
    """Continue the training from ``theta`` with the batched float64 L-BFGS trainer.

    Returns ``(record, theta, estimator, batch)``: the record of both fits, and the polished
    weights as a vector, a model copy and a batch, or the inputs unchanged when the trainer
    found no lower objective.
    """
    from .training import fit_networks

    try:
        spec = adapters.training_spec(estimator)
    except TypeError as exc:
        raise TypeError(f"polish is not available for this model: {exc}") from None
    spec = replace(spec, alpha=alpha, input_scale=None, input_offset=None)
    before = float(obj.value(theta, Z, Y))
    g_before = float(torch.linalg.vector_norm(_inf.objective_gradient(obj, theta, Z, Y)))
    coefs, ints = _inf.unflatten_parameters(obj, theta)
    res = fit_networks(
        spec,
        Z.numpy(),
        Y.numpy(),
        ([c[None] for c in coefs], [b[None] for b in ints]),
        max_iter=max_iter,
        tol=1e-12,
        ftol=0.0,
        solver="lbfgs",
        dtype=torch.float64,
    )
    new_c = [c[0] for c in res.coefs]
    new_b = [b[0] for b in res.intercepts]
    new = torch.cat([torch.as_tensor(a).reshape(-1) for a in new_c + new_b]).to(torch.float64)
    after = float(obj.value(new, Z, Y))
    record = {
        "objective_before": before,
        "objective_after": before,
        "gradient_norm_before": g_before,
        "gradient_norm_after": g_before,
        "n_iter": 0,
        "max_weight_change": 0.0,
    }
    if not after <= before:  # the trainer could not improve on the fitted weights
        return record, theta, estimator, batch
    g_after = float(torch.linalg.vector_norm(_inf.objective_gradient(obj, new, Z, Y)))
    record.update(
        objective_after=after,
        gradient_norm_after=g_after,
        n_iter=int(res.n_iter[0]),
        max_weight_change=float((new - theta).abs().max()),
    )
    batch = replace(
        batch,
        weights=tuple(torch.as_tensor(c, dtype=torch.float64)[None] for c in new_c),
        biases=tuple(torch.as_tensor(b, dtype=torch.float64)[None] for b in new_b),
    )
    return record, new, adapters.with_network_weights(estimator, new_c, new_b), batch


def _top_order(values: np.ndarray, top) -> np.ndarray:
    """Per row, the column order of decreasing ``|value|``, the first ``top`` kept."""
    order = np.argsort(-np.abs(values), axis=1, kind="stable")
    if top is None:
        return order
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
        raise ValueError(f"top must be a positive integer or None; got {top!r}.")
    return order[:, : int(top)]


def ranked_influence(infl, test_ids, train_ids, n: int, target: str, top) -> pd.DataFrame:
    """The frame of :meth:`SampleInfluence.influence` from the matrix ``infl (T, n)``."""
    order = _top_order(infl, top)
    T, m = order.shape
    vals = np.take_along_axis(infl, order, axis=1).ravel()
    if target == "loss":
        effect = np.where(vals < 0, "helpful", "harmful")
    else:
        effect = np.where(vals > 0, "raises", "lowers")
    index = pd.MultiIndex.from_arrays(
        [np.repeat(np.asarray(test_ids), m), np.asarray(train_ids)[order.ravel()]],
        names=["test", "train"],
    )
    return pd.DataFrame(
        {
            "influence": vals,
            "loo_change": -vals / n,
            "effect": pd.Categorical(effect),
            "rank": np.tile(np.arange(1, m + 1), T),
        },
        index=index,
    )


def ranked_perturbation(M, test_ids, train_ids, feature_names, top) -> pd.DataFrame:
    """The frame of :meth:`SampleInfluence.perturbation_influence` from ``M (T, n, p)``."""
    T, n, p = M.shape
    flat = M.reshape(T, n * p)
    order = _top_order(flat, top)
    m = order.shape[1]
    vals = np.take_along_axis(flat, order, axis=1).ravel()
    rows, cols = np.divmod(order.ravel(), p)
    names = np.asarray(feature_names, dtype=object)
    index = pd.MultiIndex.from_arrays(
        [np.repeat(np.asarray(test_ids), m), np.asarray(train_ids)[rows], names[cols]],
        names=["test", "train", "variable"],
    )
    return pd.DataFrame(
        {
            "influence": vals,
            "change_per_unit": vals / n,
            "rank": np.tile(np.arange(1, m + 1), T),
        },
        index=index,
    )


class Count(Interval):
    """Parameter constraint: an integer of at least ``minimum``, not a bool (scikit-learn's
    ``Interval(Integral, ...)`` accepts ``True`` as 1)."""

    def __init__(self, minimum: int) -> None:
        super().__init__(numbers.Integral, minimum, None, closed="left")

    def is_satisfied_by(self, val) -> bool:
        return not isinstance(val, bool | np.bool_) and super().is_satisfied_by(val)

    def __str__(self) -> str:
        return f"an int (not a bool) in the range [{self.left}, inf)"


def summary_text(est, top: int, digits: int) -> str:
    """The text of :meth:`SampleInfluence.summary`."""
    lo, hi = est.hessian_eigenvalues_
    rows = [
        ("Method", "influence functions (Koh & Liang 2017)"),
        ("Model", adapters.describe_model(est.estimator_)),
        ("No. training rows", str(est.n_samples_)),
        ("No. parameters", str(est.n_params_)),
        ("Objective", f"mean {est._obj.loss} + alpha/(2n) ||W||^2, alpha = {est.alpha_:g}"),
        ("Curvature", est._curvature_name()),
        ("Damping", f"{float(est.damping):g}"),
        ("Solver", est.solver_),
        ("Target", est.target),
        (
            "Gradient norm",
            f"{est.gradient_norm_:.3g} ({est.stationarity_ratio_:.3g} x one row's "
            f"gradient; tolerance {est.stationarity_tol:g})",
        ),
    ]
    if est.solver_ == "exact":
        rows.append(
            (
                f"{est._curvature_name()} eigenvalues",
                f"smallest {lo:.4g}, largest {hi:.4g} (damped)",
            )
        )
        if est.n_flat_directions_:
            rows.append(
                (
                    "Flat directions",
                    f"{est.n_flat_directions_} ("
                    + (
                        "zero curvature, no row's loss moves along them"
                        if est.hessian == "exact"
                        else "numerically zero curvature"
                    )
                    + ": left out by the pseudo-inverse)",
                )
            )
    if est.polish_ is not None and est.polish_["n_iter"] == 0:
        rows.append(("Polished", "no improvement found; the fitted weights are kept"))
    elif est.polish_ is not None:
        p = est.polish_
        rows.append(
            (
                "Polished",
                f"{p['n_iter']} L-BFGS iterations: objective {p['objective_before']:.6g} -> "
                f"{p['objective_after']:.6g}, gradient norm {p['gradient_norm_before']:.3g}"
                f" -> {p['gradient_norm_after']:.3g}",
            )
        )
    key_w = max(len(k) for k, _ in rows)
    head = [f"{k + ':':<{key_w + 1}} {v}" for k, v in rows]
    table = est.self_influence_.head(int(top)).round(digits).to_string()
    width = max([len(line) for line in head + table.splitlines()] + [60])
    lines = ["Sample influence".center(width), "=" * width, *head, "=" * width]
    lines.append(f"Largest self-influence (top {min(int(top), est.n_samples_)}):")
    lines.append(table)
    lines.append("=" * width)
    if est.stationarity_ratio_ > est.stationarity_tol:
        lines.append("Warning: not at a stationary point; influences may be wrong.")
    return "\n".join(lines)
