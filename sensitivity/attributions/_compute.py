"""Attributions of every network of a batch, by method (:func:`_compute`), and the
:class:`LocalAttributions` of one network built from them.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from .._warnings import warn
from ..methods import attributions as _attr
from ._inputs import (
    _AUTO_ROWS,
    AUTO_PIECE_STEPS,
    AUTO_STEPS,
    _baseline_groups,
    _check_steps,
    _check_tolerance,
    _noise,
    _noise_sigma,
    _resolve_baselines,
    _resolve_integration,
)
from ._local import LocalAttributions, relative_gap


def _ig_batch(
    view, X, baselines, average, *, n_steps, integration, tolerance, sel, logits, memory_budget_mb
):
    """Integrated Gradients of every network of ``view`` (averaged over a baseline sample).

    With ``n_steps="auto"`` the steps are chosen per network (from the gap on the probe
    rows), so a network's result never depends on which other networks share its batch.
    Returns (attr, fx, fb, gap, steps) with leading axis B; ``steps`` an int, or an int array
    (B,) when networks differ.
    """
    n = X.shape[0]
    groups = _baseline_groups(baselines, average)

    def run(net, rows, steps):
        acc = None
        for b in groups:
            bb = b[rows] if b.shape[0] == n and n > 1 else b
            r = _attr.integrated_gradients(
                net,
                X[rows],
                bb,
                n_steps=steps,
                method=integration,
                outputs=sel,
                logits=logits,
                memory_budget_mb=memory_budget_mb,
            )
            parts = (r.attributions, r.prediction, r.baseline_prediction, r.gap)
            acc = parts if acc is None else tuple(a + q for a, q in zip(acc, parts, strict=True))
        return tuple(a / len(groups) for a in acc)

    everything = np.arange(n)
    if n_steps != "auto":
        return (*run(view, everything, n_steps), n_steps)
    probe = np.unique(np.linspace(0, n - 1, min(n, _AUTO_ROWS)).round().astype(int))
    ladder = AUTO_PIECE_STEPS if integration == _attr.PIECEWISE else AUTO_STEPS
    ladder = [s for s in ladder if s >= (2 if integration == "riemann_trapezoid" else 1)]
    B = getattr(view, "batch_size", 1)
    chosen = np.full(B, ladder[-1])
    open_ = np.arange(B)  # networks still looking for their number of steps
    for steps in ladder[:-1]:
        net = view if len(open_) == B else view[open_.tolist()]
        _, fx, fb, gap = run(net, probe, steps)
        worst = relative_gap(gap, fx - fb).reshape(len(open_), -1).max(axis=1)
        ok = worst <= tolerance
        chosen[open_[ok]] = steps
        open_ = open_[~ok]
        if len(open_) == 0:
            break
    out = None
    for steps in np.unique(chosen):
        idx = np.flatnonzero(chosen == steps)
        net = view if len(idx) == B else view[idx.tolist()]
        parts = run(net, everything, int(steps))
        if len(idx) == B:
            return (*parts, int(steps))
        if out is None:
            out = [np.empty((B, *a.shape[1:])) for a in parts]
        for o, a in zip(out, parts, strict=True):
            o[idx] = a
    return (*out, chosen)


@dataclass(frozen=True)
class _Options:
    """The settings of an attribution method (see :func:`attributions` for each)."""

    baseline: object = "mean"
    background: object = None
    n_baselines: int = 20
    n_steps: object = "auto"
    integration: str = "auto"
    tolerance: float = 1e-3
    n_samples: int = 50
    noise_level: float = 0.15
    stdevs: object = None
    noise: object = None
    absolute: bool | None = None
    logits: bool = False
    random_state: object = None
    memory_budget_mb: float | None = None


def _gradient_values(view, X, method: str, sel, opts: _Options, out: dict, settings: dict):
    G = _attr.gradients(
        view, X, outputs=sel, logits=opts.logits, memory_budget_mb=opts.memory_budget_mb
    )
    if method == "saliency":
        absolute = True if opts.absolute is None else bool(opts.absolute)
        settings["absolute"] = absolute
        out["values"] = np.abs(G) if absolute else G
    else:
        out["values"] = G * X[None, :, None, :]


def _smoothgrad_values(view, X, sel, opts: _Options, rng, out: dict, settings: dict):
    noise = opts.noise
    if noise is None:
        n_samples = opts.n_samples
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
            raise TypeError(f"n_samples must be an integer; got {n_samples!r}.")
        if n_samples < 1:
            raise ValueError(f"n_samples must be at least 1; got {n_samples}.")
        sigma = _noise_sigma(X, opts.background, opts.noise_level, opts.stdevs)
        noise = _noise(X, sigma, int(n_samples), rng)
        settings.update(n_samples=int(n_samples), stdevs=sigma)
    absolute = False if opts.absolute is None else bool(opts.absolute)
    settings["absolute"] = absolute
    out["values"] = _attr.smoothgrad(
        view,
        X,
        noise,
        absolute=absolute,
        outputs=sel,
        logits=opts.logits,
        memory_budget_mb=opts.memory_budget_mb,
    )


def _ig_values(view, X, sel, opts: _Options, rng, out: dict, settings: dict):
    integration = _resolve_integration(view, opts.integration)
    n_steps = _check_steps(opts.n_steps, integration)
    tolerance = _check_tolerance(opts.tolerance)
    base, average = _resolve_baselines(opts.baseline, X, opts.background, opts.n_baselines, rng)
    attr, fx, fb, gap, steps = _ig_batch(
        view,
        X,
        base,
        average,
        n_steps=n_steps,
        integration=integration,
        tolerance=tolerance,
        sel=sel,
        logits=opts.logits,
        memory_budget_mb=opts.memory_budget_mb,
    )
    out.update(values=attr, prediction=fx, baseline_prediction=fb, gap=gap, baseline=base)
    settings.update(n_steps=steps, integration=integration, tolerance=tolerance)


def _occlusion_values(view, X, sel, opts: _Options, rng, out: dict):
    if opts.logits:
        raise ValueError("logits=True is for the gradient methods; occlusion uses outputs.")
    base, average = _resolve_baselines(opts.baseline, X, opts.background, opts.n_baselines, rng)
    groups = _baseline_groups(base, average)
    vals, fb = 0.0, 0.0
    for b in groups:
        vals = vals + _attr.occlusion(view, X, b, outputs=sel)
        fb = fb + _attr.predictions(view, np.array(np.broadcast_to(b, X.shape)))[..., sel]
    out.update(values=vals / len(groups), baseline_prediction=fb / len(groups), baseline=base)


def _compute(view, X: np.ndarray, method: str, sel, opts: _Options) -> dict:
    """Attributions of every network of ``view`` (leading axis B) as a dict of arrays:
    ``values``, ``prediction``, ``baseline_prediction``, ``baseline``, ``gap`` (Integrated
    Gradients) and the ``settings`` used."""
    rng = check_random_state(opts.random_state)
    fx = _attr.predictions(view, X, logits=opts.logits)[..., sel]
    out = {"prediction": fx, "baseline_prediction": None, "baseline": None, "gap": None}
    settings: dict = {}
    if method in ("saliency", "gradient_x_input"):
        _gradient_values(view, X, method, sel, opts, out, settings)
    elif method == "smoothgrad":
        _smoothgrad_values(view, X, sel, opts, rng, out, settings)
    elif method == "integrated_gradients":
        _ig_values(view, X, sel, opts, rng, out, settings)
    else:
        _occlusion_values(view, X, sel, opts, rng, out)
    if isinstance(opts.baseline, str) and method in ("integrated_gradients", "occlusion"):
        settings["baseline"] = opts.baseline
    out["settings"] = settings
    return out


def _warn_gap(rel: np.ndarray, tolerance: float, steps) -> None:
    worst = float(np.max(rel, initial=0.0))
    if worst > tolerance:
        frac = float(np.mean(rel > tolerance))
        warn(
            f"Integrated Gradients: completeness gap up to {worst:.3g} of |f(x) - f(baseline)| "
            f"({frac:.1%} of rows above tolerance={tolerance:g}) with n_steps={steps}; "
            "increase n_steps (or use a smoother network: relu kinks slow the quadrature).",
            UserWarning,
        )


def _local_result(method, res: dict, X, names, output_names, pick, targets=None):
    """The :class:`LocalAttributions` of one network from :func:`_compute`'s arrays.

    ``pick`` maps an array with the leading network axis to the one network's rows and
    outputs. Integrated Gradients warns when the completeness gap exceeds the tolerance.
    """

    def take(a, **kwargs):
        return None if a is None else pick(a, **kwargs)

    result = LocalAttributions(
        method=method,
        values=take(res["values"]),
        data=X,
        feature_names=tuple(names),
        output_names=tuple(output_names),
        prediction=take(res["prediction"], complement=True),
        baseline_prediction=take(res["baseline_prediction"], complement=True),
        baseline=res["baseline"],
        completeness_gap=take(res["gap"]),
        targets=targets,
        settings=res["settings"],
    )
    if method == "integrated_gradients":
        _warn_gap(result.relative_gap, res["settings"]["tolerance"], res["settings"]["n_steps"])
    return result
