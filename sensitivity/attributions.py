r"""Local explanations: per-row attributions of a fitted network, and their global summary.

Plain functions (:func:`saliency`, :func:`gradient_x_input`, :func:`smoothgrad`,
:func:`integrated_gradients`, :func:`occlusion`, and the dispatcher :func:`attributions`) return
a :class:`LocalAttributions` result: the attribution of every row, variable and output, with
``.values`` (``(n_rows, n_outputs, n_features)``), ``.to_frame()`` (a long table), the
predictions, the baseline and, for Integrated Gradients, the completeness gap. The estimator
:class:`Attributions` turns them into a global importance (mean absolute attribution over the
rows) with the package's randomization tests and bootstrap intervals. The formulas are in
:mod:`sensitivity.methods.attributions`; plots in :mod:`sensitivity.attribution_plots`.

Choices (documented in ``docs/methods/attributions.rst``):

* **Models.** Gradient methods accept what :func:`sensitivity.adapters.as_differentiable`
  accepts (scikit-learn MLPs and Pipelines of affine scalers ending in one, ``nn.Sequential``
  MLPs: analytic, batched; any other torch module: autograd). Occlusion accepts any fitted
  predictor. Attributions are in the units of the output per the user's variables.
* **Target.** ``target=None`` explains every output (every class probability of a classifier;
  a binary scikit-learn classifier has one, the positive class). A class label (or, if no
  label matches, an index: into ``classes_`` for a classifier, else into the outputs) explains
  one output; ``target="predicted"`` explains, row by row,
  the class the model predicts. The negative class of a binary classifier is explained as
  :math:`1 - p`: its attributions are those of the positive class with the sign flipped.
* **Baseline.** ``"mean"`` (default) or ``"median"`` of ``background`` (default: ``X``),
  ``"zeros"``, a number, a row ``(p,)`` or one row per row of ``X`` ``(n, p)``, or
  ``"sample"``: ``n_baselines`` rows drawn from ``background`` and the attributions averaged
  over them (as in expected gradients, Erion et al. 2021, with the quadrature in
  :math:`\alpha` deterministic).
* **Steps.** ``n_steps="auto"`` (default) chooses the smallest number of Gauss-Legendre (or
  the chosen rule's) steps in 16, 32, ..., 2048 (nodes per piece in 1, 2, ..., 32 for the
  piecewise rule) whose completeness gap on up to 256 rows is below ``tolerance``
  (relative); the gap of every row is then measured and a warning names it when it exceeds
  ``tolerance``. ``integration="auto"`` integrates MLPs with relu units in the first hidden
  layer piece by piece between their kinks.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from . import adapters
from ._warnings import warn
from .methods import _data
from .methods import attributions as _attr
from .network import MLPBatch, TorchNetwork
from .result import importance_frame

__all__ = [
    "ATTRIBUTION_METHODS",
    "LocalAttributions",
    "attributions",
    "gradient_x_input",
    "integrated_gradients",
    "occlusion",
    "saliency",
    "smoothgrad",
]

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


# ====================================================================== result object
@dataclass
class LocalAttributions:
    """Per-row attributions of one model.

    Attributes
    ----------
    method : str
    values : ndarray of shape (n_rows, n_outputs, n_features)
        ``values[r, k, i]``: attribution of variable ``i`` to output ``k`` at row ``r``.
    data : ndarray of shape (n_rows, n_features)
        The rows explained (the user's units).
    feature_names, output_names : tuple of str
        With ``target="predicted"`` the single output is named ``"predicted"`` and
        ``targets`` holds each row's class.
    prediction : ndarray of shape (n_rows, n_outputs)
        :math:`f(x)`.
    baseline_prediction : ndarray of shape (n_rows, n_outputs) or None
        :math:`f(x')` (averaged over the baselines with ``baseline="sample"``); None for
        methods without a baseline (saliency, gradient x input, SmoothGrad).
    baseline : ndarray or None
        The baseline rows: ``(1, p)``, ``(n, p)`` or, with ``"sample"``, ``(n_baselines, p)``.
    completeness_gap : ndarray of shape (n_rows, n_outputs) or None
        Integrated Gradients: :math:`\\sum_i \\mathrm{IG}_i - (f(x) - f(x'))`.
    targets : ndarray of shape (n_rows,) or None
        The class explained at each row (``target="predicted"``).
    settings : dict
        The options used (``n_steps`` as chosen, ``integration``, ...).
    """

    method: str
    values: np.ndarray
    data: np.ndarray
    feature_names: tuple[str, ...]
    output_names: tuple[str, ...]
    prediction: np.ndarray
    baseline_prediction: np.ndarray | None = None
    baseline: np.ndarray | None = None
    completeness_gap: np.ndarray | None = None
    targets: np.ndarray | None = None
    settings: dict = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        """Number of rows explained."""
        return int(self.values.shape[0])

    @property
    def relative_gap(self) -> np.ndarray | None:
        """``|completeness_gap|`` relative to ``|f(x) - f(x')|`` per row and output (see
        :func:`relative_gap`); None unless Integrated Gradients."""
        if self.completeness_gap is None or self.baseline_prediction is None:
            return None
        return relative_gap(self.completeness_gap, self.prediction - self.baseline_prediction)

    def _output_index(self, output) -> int:
        if output is None:
            if len(self.output_names) != 1:
                raise ValueError(
                    f"Several outputs {list(self.output_names)}: name the one to use (output=)."
                )
            return 0
        if isinstance(output, numbers.Integral) and str(output) not in self.output_names:
            if not 0 <= int(output) < len(self.output_names):
                raise ValueError(f"output {output} out of range for {len(self.output_names)}.")
            return int(output)
        if str(output) not in self.output_names:
            raise ValueError(f"Unknown output {output!r}; outputs: {list(self.output_names)}.")
        return self.output_names.index(str(output))

    def to_wide(self, output=None) -> pd.DataFrame:
        """Attributions of one output as a DataFrame (rows x variables)."""
        k = self._output_index(output)
        return pd.DataFrame(self.values[:, k, :], columns=list(self.feature_names))

    def to_frame(self) -> pd.DataFrame:
        """Long table: one line per row, output and variable.

        Columns ``row``, ``output``, ``variable``, ``attribution``, ``value`` (the variable's
        value at that row).
        """
        n, K, p = self.values.shape
        rows = np.repeat(np.arange(n), K * p)
        if self.targets is not None:
            outputs = np.repeat(np.asarray(self.targets, dtype=object), K * p)
        else:
            outputs = np.tile(np.repeat(np.asarray(self.output_names, dtype=object), p), n)
        return pd.DataFrame(
            {
                "row": rows,
                "output": outputs,
                "variable": np.tile(np.asarray(self.feature_names, dtype=object), n * K),
                "attribution": self.values.reshape(-1),
                "value": np.repeat(self.data[:, None, :], K, axis=1).reshape(-1),
            }
        )

    def importances(self) -> pd.DataFrame:
        """Global summary as the ranked importance table (``DESIGN.md`` §3).

        ``importance`` = mean over rows of ``|attribution|``; ``direction`` = sign of the
        covariance between the attribution and the variable's value over the rows (+: larger
        values push the output up); extra columns ``mean`` (mean attribution) and ``std`` (its
        standard deviation over rows, ``ddof=1``: how much the effect varies between rows).
        """
        stats = summarize(self.values[None], self.data)
        return importance_frame(
            stats["importance"][0],
            self.feature_names,
            self.output_names,
            signed=False,
            direction=stats["direction"][0],
            extra={"mean": stats["mean"][0], "std": stats["std"][0]},
            method=f"mean |{self.method}|",
        )

    def __repr__(self) -> str:
        n, K, p = self.values.shape
        extra = ""
        rg = self.relative_gap
        if rg is not None:
            extra = f", max relative completeness gap {np.max(rg):.2g}"
        return (
            f"LocalAttributions(method={self.method!r}, {n} rows x {p} variables x {K} "
            f"output(s){extra})"
        )


def relative_gap(gap, delta) -> np.ndarray:
    r"""Completeness gap relative to the change of the output.

    :math:`|\delta_r| / \max(|\Delta f_r|,\ 0.01\, \overline{|\Delta f|})` per row :math:`r`
    and output, with :math:`\Delta f_r = f(x_r) - f(x'_r)`: rows whose output barely moves
    from the baseline are judged against 1 % of the mean change, not against nearly zero.
    """
    gap = np.abs(np.asarray(gap, dtype=np.float64))
    d = np.abs(np.asarray(delta, dtype=np.float64))
    floor = 0.01 * d.mean(axis=-2, keepdims=True) if d.ndim >= 2 else 0.01 * d.mean()
    denom = np.maximum(np.maximum(d, floor), np.finfo(np.float64).tiny)
    return np.where(gap == 0, 0.0, gap / denom)


def summarize(values: np.ndarray, X: np.ndarray) -> dict[str, np.ndarray]:
    r"""Global statistics of per-row attributions ``(B, n, K, p)`` at rows ``X`` ``(n, p)``.

    Each ``(B, K, p)``: ``importance`` = :math:`n^{-1} \sum_r |a_{rki}|`; ``direction`` =
    :math:`n^{-1} \sum_r a_{rki} (x_{ri} - \bar x_i)`, the covariance of attribution and
    value, whose sign says whether larger values push the output up (the mean attribution
    cannot: with the mean baseline, attributions of a linear effect average to zero);
    ``mean`` = mean attribution; ``std`` = its standard deviation over rows (``ddof=1``; 0
    for a single row).
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[1]
    mean = v.mean(axis=1)
    std = v.std(axis=1, ddof=1) if n > 1 else np.zeros_like(mean)
    xc = np.asarray(X, dtype=np.float64) - np.mean(X, axis=0)
    cov = np.einsum("bnkp,np->bkp", v, xc) / n
    return {"importance": np.abs(v).mean(axis=1), "direction": cov, "mean": mean, "std": std}


# ====================================================================== input resolution
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


# ====================================================================== batched core
def _baseline_groups(baselines: np.ndarray, average: bool) -> list[np.ndarray]:
    """The baselines to average over: each row of a sample, else the one (1|n, p) array."""
    return [b[None] for b in baselines] if average else [baselines]


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


# ====================================================================== plain functions
def attributions(
    model,
    X,
    method: str = "integrated_gradients",
    *,
    target=None,
    baseline="mean",
    background=None,
    n_baselines: int = 20,
    n_steps="auto",
    integration: str = "auto",
    tolerance: float = 1e-3,
    n_samples: int = 50,
    noise_level: float = 0.15,
    stdevs=None,
    noise=None,
    absolute: bool | None = None,
    logits: bool = False,
    random_state=None,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    memory_budget_mb: float | None = None,
) -> LocalAttributions:
    r"""Per-row attributions of a fitted model.

    Parameters
    ----------
    model : fitted model
        Gradient methods: a scikit-learn ``MLPRegressor``/``MLPClassifier``, a Pipeline of
        affine scalers ending in one, a torch ``nn.Sequential`` MLP (analytic derivatives) or
        any torch ``nn.Module`` (autograd). Occlusion: any fitted predictor.
    X : array-like or DataFrame of shape (n_rows, n_features)
        The rows to explain, in the user's units.
    method : str, default="integrated_gradients"
        One of ``"saliency"``, ``"gradient_x_input"``,
        ``"smoothgrad"``, ``"integrated_gradients"``, ``"occlusion"``.
    target : None, label, int or "predicted"
        Output(s) to explain (module docstring): None = all.
    baseline : {"mean", "median", "zeros", "sample"}, number or array
        Integrated Gradients and occlusion: the reference input :math:`x'`; shape ``(p,)`` or
        ``(n_rows, p)`` for arrays.
    background : array-like of shape (m, n_features), optional
        Training rows for the ``"mean"``/``"median"``/``"sample"`` baselines and the SmoothGrad
        noise scale (default: ``X``).
    n_baselines : int, default=20
        Rows drawn for ``baseline="sample"``.
    n_steps : int or "auto", default="auto"
        Integrated Gradients quadrature steps (at least 1; 2 for the trapezoidal rule).
    integration : str, default="auto"
        Quadrature rule: captum's ``method`` names (``"gausslegendre"``, ``"riemann_left"``,
        ..., see :func:`sensitivity.methods.attributions.integration_rule`) or
        ``"piecewise_gausslegendre"`` (Gauss-Legendre with ``n_steps`` nodes on each piece of
        the path between the kinks of an MLP's first hidden layer: exact with one node for one
        relu hidden layer and a linear output). ``"auto"``: piecewise for MLPs whose first
        hidden layer is relu, else Gauss-Legendre.
    tolerance : float, default=1e-3
        Largest acceptable relative completeness gap (:func:`relative_gap`): ``"auto"`` steps
        aim below it; above it, a warning.
    n_samples : int, default=50
        SmoothGrad noisy copies per row.
    noise_level : float, default=0.15
        SmoothGrad noise standard deviation as a fraction of each variable's range in
        ``background`` (Smilkov et al. 2017 recommend 10-20 %).
    stdevs : float or array-like of shape (n_features,), optional
        SmoothGrad noise standard deviations in the variables' units (overrides
        ``noise_level``).
    noise : array-like of shape (n_samples, n_rows, n_features), optional
        SmoothGrad noise draws to use as given.
    absolute : bool, optional
        Saliency: absolute gradients (default True, as Simonyan et al. and captum); SmoothGrad:
        average absolute gradients (default False: signed).
    logits : bool, default=False
        Gradient methods on an MLP: explain the output layer's pre-activation (classifier
        logits) instead of the probabilities.
    random_state : int, RandomState or None
        Seeds the baseline sample and the SmoothGrad noise.
    feature_names, output_names : sequence of str, optional
    memory_budget_mb : float, optional
        Memory budget in MiB for the temporaries of one chunk of rows (never changes the
        result).

    Returns
    -------
    LocalAttributions
    """
    method = _check_method(method)
    Xa, feature_names = _rows(model, X, feature_names)
    view = _view(model, method, feature_names, output_names, Xa.shape[1])
    p = len(view.feature_names) if view.feature_names is not None else Xa.shape[1]
    if Xa.shape[1] != p:
        raise ValueError(f"X has {Xa.shape[1]} columns but the model has {p} inputs.")
    names = tuple(view.feature_names) if view.feature_names is not None else None
    if names is None:
        names = (
            tuple(feature_names) if feature_names is not None else tuple(f"x{i}" for i in range(p))
        )
    sel, row_index, row_sign, onames, targets = _resolve_target(view, model, target, Xa, logits)
    opts = _Options(
        baseline=baseline,
        background=background,
        n_baselines=n_baselines,
        n_steps=n_steps,
        integration=integration,
        tolerance=tolerance,
        n_samples=n_samples,
        noise_level=noise_level,
        stdevs=stdevs,
        noise=noise,
        absolute=absolute,
        logits=logits,
        random_state=random_state,
        memory_budget_mb=memory_budget_mb,
    )
    res = _compute(view, Xa, method, sel, opts)

    def one(a, complement=False):
        return _gather(a[0], row_index, row_sign, complement=complement)

    return _local_result(method, res, Xa, names, onames, one, targets)


def saliency(model, X, *, target=None, absolute: bool = True, logits: bool = False, **kwargs):
    r"""Saliency (Simonyan et al. 2014): :math:`|\partial f_k / \partial x_i|` at each row.

    ``absolute=False`` keeps the sign (the plain input gradient). See :func:`attributions`
    for the other parameters.
    """
    return attributions(
        model, X, "saliency", target=target, absolute=absolute, logits=logits, **kwargs
    )


def gradient_x_input(model, X, *, target=None, logits: bool = False, **kwargs):
    r"""Gradient x input (Shrikumar et al. 2016): :math:`x_i\, \partial f_k / \partial x_i`.

    See :func:`attributions` for the parameters.
    """
    return attributions(model, X, "gradient_x_input", target=target, logits=logits, **kwargs)


def smoothgrad(
    model,
    X,
    *,
    target=None,
    n_samples: int = 50,
    noise_level: float = 0.15,
    stdevs=None,
    noise=None,
    absolute: bool = False,
    random_state=None,
    **kwargs,
):
    r"""SmoothGrad (Smilkov et al. 2017): gradients averaged over noisy copies of each row.

    :math:`S^{-1} \sum_s \partial f_k(x + \varepsilon_s) / \partial x_i` with
    :math:`\varepsilon_{si} \sim N(0, \sigma_i^2)`, :math:`\sigma_i` = ``noise_level`` times
    the range of variable :math:`i` in ``background`` (or ``stdevs``). See
    :func:`attributions` for the parameters.
    """
    return attributions(
        model,
        X,
        "smoothgrad",
        target=target,
        n_samples=n_samples,
        noise_level=noise_level,
        stdevs=stdevs,
        noise=noise,
        absolute=absolute,
        random_state=random_state,
        **kwargs,
    )


def integrated_gradients(
    model,
    X,
    *,
    target=None,
    baseline="mean",
    n_steps="auto",
    integration: str = "auto",
    tolerance: float = 1e-3,
    **kwargs,
):
    r"""Integrated Gradients (Sundararajan, Taly & Yan 2017) with the completeness gap.

    :math:`\mathrm{IG}_i(x) = (x_i - x'_i) \int_0^1 \partial f(x' + \alpha (x - x')) /
    \partial x_i \, d\alpha`, by quadrature; the result's ``completeness_gap`` is
    :math:`\sum_i \mathrm{IG}_i - (f(x) - f(x'))` per row. ``n_steps="auto"`` picks the steps
    from the gap; a warning gives the measured gap when it exceeds ``tolerance``. See
    :func:`attributions` for the parameters.
    """
    return attributions(
        model,
        X,
        "integrated_gradients",
        target=target,
        baseline=baseline,
        n_steps=n_steps,
        integration=integration,
        tolerance=tolerance,
        **kwargs,
    )


def occlusion(model, X, *, target=None, baseline="mean", **kwargs):
    r"""Occlusion (Zeiler & Fergus 2014): :math:`f(x) - f(x \text{ with } x_i \leftarrow x'_i)`.

    Works for any fitted predictor. See :func:`attributions` for the parameters.
    """
    return attributions(model, X, "occlusion", target=target, baseline=baseline, **kwargs)
