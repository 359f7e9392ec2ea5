r"""Randomization tests, bootstrap intervals and multiple-testing adjustment.

The only module that knows what a p-value is (``DESIGN.md`` §2). Every method's statistic is a
function of a trained network; inference recomputes it on networks trained, by **the same
procedure**, on permuted or resampled data:

``null="response"`` (Olden & Jackson 2002)
    ``n_init`` networks are trained on the real data from random initial weights; the one
    with the lowest training loss is kept, with its initial weights. ``y`` is permuted
    ``n_permutations`` times and a network is retrained from those same initial weights on
    each permutation. This tests the *global* null that ``y`` is independent of all inputs;
    with ``n_init=1`` (default) the data sets are exchangeable under it and every variable's
    p-value is exact. ``n_init > 1`` (Olden & Jackson's choice) selects the initial weights on
    the real data only, which makes the test somewhat liberal (measured: 7.1% of p <= 0.05
    with 5 inits). In data with real signal, a noise variable's p-value is *not* calibrated
    by this test (the permuted networks have no signal at all), so use it to ask "does the
    network's use of each variable exceed what fitting pure noise produces".
``null="variable"``
    For each variable ``j``, the column ``x_j`` alone is permuted ``n_permutations`` times and
    the network retrained (same initial weights). The null distribution of variable ``j``'s
    statistic: a per-variable test of "``x_j`` is independent of ``y`` and of the other
    inputs" (when ``x_j`` is correlated with other inputs, permuting it also breaks that
    correlation, so the null is not purely conditional).

p-values (Phipson & Smyth 2010; Davison & Hinkley 1997, eq. 4.11):

.. math::

    p = \frac{1 + \#\{b : T_b \text{ at least as extreme as } T_{obs}\}}{1 + B}

"at least as extreme" is ``|T_b| >= |T_obs|`` for signed statistics (two-sided: Olden, mean
derivative, MIV) and ``T_b >= T_obs`` for magnitudes (upper tail: Garson, ssd, rms). The
smallest attainable p is ``1 / (1 + B)``; a hypothesis is rejected when its (adjusted) p is at
most ``alpha``, which keeps the level exactly.

Bootstrap: ``n_bootstrap`` networks are retrained (same initial weights) on resamples of the
rows, given as row-weight counts; ``ci_low, ci_high`` are the ``alpha/2`` and ``1 - alpha/2``
percentiles of the statistic (Efron & Tibshirani 1993, §13.3).

Adjustment: :func:`statsmodels.stats.multitest.multipletests` over all (output, variable)
p-values together.

The test's training procedure (``train_alpha``, standardization) is documented in
:func:`run_inference`.

References
----------
Olden, J. D. & Jackson, D. A. (2002). Illuminating the "black box": a randomization approach
for understanding variable contributions in artificial neural networks. Ecol. Model. 154.
Phipson, B. & Smyth, G. K. (2010). Permutation p-values should never be zero. Stat. Appl.
Genet. Mol. Biol. 9(1).
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. Chapman & Hall.
"""

from __future__ import annotations

import gc
import numbers
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.utils import check_random_state
from statsmodels.stats.multitest import multipletests

from . import adapters
from .network import MLPBatch
from .training import TrainingSpec, TrainResult, init_weights, train_networks

__all__ = [
    "InferenceResult",
    "adjust_pvalues",
    "bootstrap_interval",
    "check_integer",
    "check_target",
    "permutation_pvalues",
    "run_inference",
    "smallest_attainable_p",
]

NULLS = ("response", "variable")
# train_alpha="auto": measured in benchmarks/bench_power.py (see the estimators' docs)
AUTO_TRAIN_ALPHA = {"relu": 30.0, "identity": 30.0, "logistic": 1.0, "tanh": 1.0}
TRAINERS = ("auto", "batched", "estimator")
DEFAULT_TRAIN_PARAMS = {
    "max_iter": 100,
    "tol": 1e-4,
    "ftol": 1e-9,
    "dtype": torch.float32,
    "device": None,
    "chunk_size": None,
    "memory_budget_mb": 256.0,
    "block_size": 512,
}


# ---------------------------------------------------------------------- p-values
def permutation_pvalues(observed, null, *, signed: bool) -> np.ndarray:
    r"""Randomization-test p-values ``(1 + #{null at least as extreme}) / (1 + B)``.

    Parameters
    ----------
    observed : array-like of shape S
        Observed statistic.
    null : array-like of shape (B,) + S
        Statistic on ``B`` networks trained under the null.
    signed : bool
        Two-sided on absolute values (True) or upper-tailed (False).

    Returns
    -------
    ndarray of shape S
        In ``[1/(1+B), 1]``. Values within a relative ``1e-9`` of the observed one count as
        at least as extreme (ties never make a p-value smaller). A null value that is NaN (a
        statistic undefined for that network, e.g. Garson's importance of a network whose
        weights all decayed to zero) counts as less extreme: that network found no effect.
    """
    obs = np.asarray(observed, dtype=np.float64)
    nul = np.asarray(null, dtype=np.float64)
    if nul.shape[1:] != obs.shape:
        raise ValueError(f"null has shape {nul.shape}; expected (B, *{obs.shape}).")
    if signed:
        obs, nul = np.abs(obs), np.abs(nul)
    tol = 1e-9 * np.abs(obs)
    count = (nul >= obs - tol).sum(axis=0)
    return (1.0 + count) / (1.0 + nul.shape[0])


def adjust_pvalues(p, method: str | None) -> np.ndarray:
    """Adjust all p-values together with ``statsmodels``' ``multipletests`` (None: unchanged)."""
    p = np.asarray(p, dtype=np.float64)
    if method is None:
        return p.copy()
    flat = p.ravel()
    ok = ~np.isnan(flat)
    out = np.full_like(flat, np.nan)
    if ok.any():
        out[ok] = _multipletests(flat[ok], method)
    return out.reshape(p.shape)


def _multipletests(p: np.ndarray, method: str) -> np.ndarray:
    """``multipletests(p, method)[1]``, without the cost of the full garbage collection that
    statsmodels' Holm step runs (``gc.collect()``: 0.09 s per call with torch loaded, twice
    per test). The objects that exist before the call are frozen (``gc.freeze``) so that
    collection scans only new ones, then unfrozen; nothing else changes."""
    if gc.get_freeze_count():  # the caller froze objects itself: leave its state alone
        return multipletests(p, method=method)[1]
    gc.freeze()
    try:
        return multipletests(p, method=method)[1]
    finally:
        gc.unfreeze()


def smallest_attainable_p(n_permutations: int, n_tests: int, method: str | None) -> float:
    """Smallest adjusted p-value ``n_permutations`` permutations can give for ``n_tests``."""
    p_min = 1.0 / (1.0 + n_permutations)
    return float(adjust_pvalues(np.full(n_tests, p_min), method).min())


def bootstrap_interval(boot, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval: the ``alpha/2`` and ``1 - alpha/2`` quantiles over axis 0."""
    boot = np.asarray(boot, dtype=np.float64)
    if np.isnan(boot).any():
        raise ValueError(
            "The statistic is undefined (NaN) for some bootstrap networks (all their connection "
            "weights are zero): no interval. Consider a smaller train_alpha."
        )
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)
    return lo, hi


# ---------------------------------------------------------------------- validation
def check_integer(value, label: str, *, minimum: int, allow_none: bool = False) -> None:
    """Raise a ValueError naming ``label`` unless ``value`` is an integer >= ``minimum``
    (``minimum`` 0 or 1; bools are not integers here), or None where ``allow_none``."""
    if allow_none and value is None:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        kind = "non-negative" if minimum == 0 else "positive"
        extra = " or None" if allow_none else ""
        raise ValueError(f"{label} must be a {kind} integer{extra}; got {value!r}.")


def check_target(y, *, is_classifier: bool) -> np.ndarray:
    """Validate the target of a test: no NaN/inf, more than one class or value.

    Returns ``y`` as an array of shape ``(n,)`` or ``(n, k)``.
    """
    if y is None:
        raise ValueError(
            "The randomization test and the bootstrap need y (they retrain networks); pass y "
            "to fit, also with prefit=True."
        )
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if is_classifier:
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError("y contains NaN; the test needs a complete target.")
        if arr.dtype.kind == "O" and any(v is None or v != v for v in arr.ravel()):
            raise ValueError("y contains missing values; the test needs a complete target.")
        if np.unique(arr).shape[0] < 2:
            raise ValueError("y has a single class; a classifier's importances cannot be tested.")
        return arr
    arr = np.asarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("y contains NaN or infinite values; the test needs a complete target.")
    if np.all(np.ptp(arr.reshape(arr.shape[0], -1), axis=0) == 0):
        raise ValueError("y is constant; there is nothing to test.")
    return arr


# ---------------------------------------------------------------------- result
@dataclass
class InferenceResult:
    """What :func:`run_inference` returns to the estimator."""

    statistics: dict[str, np.ndarray]  # observed, (n_out, n_feat) each
    network: object  # the observed model (MLPBatch of 1 or fitted estimator)
    estimator: object  # fitted estimator carrying the observed network
    p_value: np.ndarray | None = None
    p_adjusted: np.ndarray | None = None
    ci_low: np.ndarray | None = None
    ci_high: np.ndarray | None = None
    null_distribution: np.ndarray | None = None
    bootstrap_distribution: np.ndarray | None = None
    path_p_value: np.ndarray | None = None
    info: dict = field(default_factory=dict)


# ---------------------------------------------------------------------- helpers
INFERENCE_DEFAULTS = {
    "null": "response",
    "trainer": "auto",
    "n_init": 1,
    "train_alpha": "auto",
    "train_params": None,
}


def _param(est, name: str):
    """An inference parameter of the estimator (its default if the class does not define it)."""
    return getattr(est, name, INFERENCE_DEFAULTS[name])


def _stat_of(est, model, X, y) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in est._statistic(model, X, y).items()}


def _stack_stats(parts: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _draws(rng, n: int, p: int, n_perm: int, n_boot: int, null: str):
    """All randomness of a test, drawn up front (chunking and n_jobs cannot change it)."""
    seed_init = int(rng.randint(2**31 - 1))
    if null == "response":
        perms = np.stack([rng.permutation(n) for _ in range(n_perm)]) if n_perm else None
        cols = None
    else:
        perms = np.stack([rng.permutation(n) for _ in range(n_perm * p)]) if n_perm else None
        cols = np.repeat(np.arange(p), n_perm) if n_perm else None
    counts = (
        rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64) if n_boot else None
    )
    return seed_init, perms, cols, counts


def _targets(spec: TrainingSpec, y: np.ndarray):
    """Targets for the trainer and the affine map back to y's units (regression)."""
    if spec.is_classifier:
        classes = spec.classes if spec.classes is not None else np.unique(y)
        idx = np.searchsorted(classes, y)
        if spec.out_activation == "logistic" and len(classes) == 2:
            Y = (idx == 1).astype(np.float64)[:, None]
        else:
            Y = np.eye(len(classes))[idx]
        return Y, None, None
    Y = y.reshape(y.shape[0], -1)
    mu, sd = Y.mean(axis=0), Y.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (Y - mu) / sd, mu, sd


def _to_model_space(res: TrainResult, spec, x_mean, x_sd, y_mu, y_sd):
    """Express networks trained on standardized data in the wrapped model's input space.

    The trainer sees ``u = (x - m) / s``; the model's first layer sees ``z = x * c + o`` (its
    Pipeline scalers, identity without). With ``u = (z - o) / (c s) - m / s`` the first layer
    becomes ``W_z = diag(1/(c s)) W_u``, ``b_z = b_u - ((o/c + m)/s) W_u``. A regressor's
    output layer maps back to y's units: ``W_L * sd_y``, ``b_L * sd_y + mu_y``.
    """
    c = np.ones_like(x_mean) if spec.input_scale is None else np.asarray(spec.input_scale)
    o = np.zeros_like(x_mean) if spec.input_offset is None else np.asarray(spec.input_offset)
    W0, b0 = res.coefs[0], res.intercepts[0]
    shift = (o / c + x_mean) / x_sd
    W0z = W0 / (c * x_sd)[None, :, None]
    b0z = b0 - np.einsum("i,bij->bj", shift, W0)
    coefs = [W0z, *res.coefs[1:]]
    ints = [b0z, *res.intercepts[1:]]
    if y_sd is not None:
        coefs[-1] = coefs[-1] * y_sd[None, None, :]
        ints[-1] = ints[-1] * y_sd[None, :] + y_mu[None, :]
    return coefs, ints


def _batch(coefs, ints, spec, feature_names, output_names) -> MLPBatch:
    return MLPBatch.from_arrays(
        coefs,
        ints,
        activation=spec.activation,
        out_activation=spec.out_activation,
        feature_names=feature_names,
        output_names=output_names,
        input_scale=spec.input_scale,
        input_offset=spec.input_offset,
        is_classifier=spec.is_classifier,
    )


def _progress(verbose: int, total: int, desc: str):
    if not verbose:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="net")
    return bar, bar.update


def _null_by_variable(stat: np.ndarray, p: int, n_perm: int) -> np.ndarray:
    """``(p*n_perm, n_out, p)`` statistics -> null of variable j from the x_j-permuted nets."""
    out = np.empty((n_perm, stat.shape[1], p))
    for j in range(p):
        out[:, :, j] = stat[j * n_perm : (j + 1) * n_perm, :, j]
    return out


def _null_paths_by_variable(paths: np.ndarray, p: int, n_perm: int) -> np.ndarray:
    out = np.empty((n_perm, *paths.shape[1:]))
    for j in range(p):
        out[:, :, j] = paths[j * n_perm : (j + 1) * n_perm, :, j]
    return out


# ---------------------------------------------------------------------- main entry
def run_inference(
    est,
    X: np.ndarray,
    y,
    *,
    fitted,
    feature_names,
    output_names,
    model_view: Callable,
    trainer: str = "auto",
    fit_params: dict | None = None,
) -> InferenceResult:
    r"""Run the randomization test and/or bootstrap configured on a sensitivity estimator.

    Reads ``est.n_permutations, n_bootstrap, null, alpha, p_adjust, random_state, n_jobs,
    verbose, n_init, train_alpha, train_params`` and calls ``est._statistic(model, X, y)`` on
    batches of networks (``est._signed`` chooses the tail).

    The test's training procedure (``trainer="batched"``, the default for scikit-learn MLPs,
    Pipelines of scalers ending in one, and torch ``nn.Sequential`` MLPs):

    * the wrapped model's architecture, activations and loss (squared error / log-loss);
    * inputs standardized (mean 0, sd 1) and, for regressors, targets too, inside the
      trainer, so the penalty means the same whatever the variables' units;
    * L2 penalty ``train_alpha`` in scikit-learn's units (``alpha / (2n) * ||W||^2`` added to
      ``0.5 * mean squared error``); ``"auto"`` (default): 30.0 for relu/identity hidden
      units, 1.0 for logistic/tanh (chosen by measurement, see the estimators' docs and
      ``benchmarks/bench_power.py``), or the estimator's own ``alpha`` with
      ``train_alpha="estimator"``;
    * full-batch L-BFGS (variable projection for squared error), per network, to a gradient
      tolerance or ``max_iter`` iterations (``train_params``).

    The networks are then expressed in the wrapped model's own input space (through its
    scalers, if any), and the observed network's weights are put into a copy of the fitted
    estimator: ``estimator_``, the reported importances and the null all come from this one
    procedure. ``trainer="estimator"`` instead refits clones of the user's estimator through
    joblib (any scikit-learn estimator; initial weights fixed through ``random_state``).

    Returns
    -------
    InferenceResult
    """
    n_perm, n_boot = int(est.n_permutations), int(est.n_bootstrap)
    null = _param(est, "null")
    if null not in NULLS:
        raise ValueError(f"null must be one of {NULLS}; got {null!r}.")
    if trainer not in TRAINERS:
        raise ValueError(f"trainer must be one of {TRAINERS}; got {trainer!r}.")
    n_init = _param(est, "n_init")
    check_integer(n_init, "n_init", minimum=1)
    tp = dict(DEFAULT_TRAIN_PARAMS)
    user_tp = _param(est, "train_params") or {}
    unknown = set(user_tp) - set(tp)
    if unknown:
        raise ValueError(
            f"Unknown train_params {sorted(unknown)}; allowed: {sorted(DEFAULT_TRAIN_PARAMS)}."
        )
    tp.update(user_tp)
    tp = _check_train_params(tp)
    template = fitted if fitted is not None else est.estimator
    spec = None
    if trainer in ("auto", "batched"):
        try:
            spec = adapters.training_spec(template)
        except TypeError:
            if trainer == "batched":
                raise
    is_clf = spec.is_classifier if spec is not None else _looks_classifier(template)
    y_arr = check_target(y, is_classifier=is_clf)
    n, p = X.shape
    n_tests = len(output_names) * p if output_names is not None else p
    _warn_resolution(n_perm, n_tests, est.alpha, est.p_adjust)
    rng = check_random_state(est.random_state)
    seed_init, perms, cols, counts = _draws(rng, n, p, n_perm, n_boot, null)
    if spec is not None:
        res = _run_batched(
            est,
            X,
            y_arr,
            spec,
            tp,
            fitted,
            feature_names,
            output_names,
            seed_init,
            perms,
            cols,
            counts,
            n_init,
        )
    else:
        res = _run_estimator(
            est,
            X,
            y,
            fitted,
            model_view,
            output_names,
            seed_init,
            perms,
            cols,
            counts,
            n_init,
            fit_params or {},
        )
    obs, null_stats, boot_stats, paths = res["obs"], res["null"], res["boot"], res["paths"]
    signed = bool(est._signed)
    out = InferenceResult(
        statistics={k: v[0] for k, v in obs.items()},
        network=res["network"],
        estimator=res["estimator"],
        info=res["info"],
    )
    if n_perm:
        imp_null = null_stats["importance"]
        if null == "variable":
            imp_null = _null_by_variable(imp_null, p, n_perm)
        n_dead = int(np.isnan(imp_null).any(axis=tuple(range(1, imp_null.ndim))).sum())
        out.info["n_undefined_null"] = n_dead
        if n_dead:
            warnings.warn(
                f"The statistic is undefined for {n_dead} of {imp_null.shape[0]} null networks "
                "(all their connection weights are zero); they count as less extreme than the "
                "observed value. Many such networks mean the test's weight penalty is too "
                "strong for these data: consider a smaller train_alpha.",
                RuntimeWarning,
                stacklevel=3,
            )
        out.null_distribution = imp_null
        out.p_value = permutation_pvalues(obs["importance"][0], imp_null, signed=signed)
        out.p_adjusted = adjust_pvalues(out.p_value, est.p_adjust)
        if paths is not None:
            obs_paths, null_paths = paths
            if null == "variable":
                null_paths = _null_paths_by_variable(null_paths, p, n_perm)
            out.path_p_value = permutation_pvalues(obs_paths[0], null_paths, signed=True)
    if n_boot:
        out.bootstrap_distribution = boot_stats["importance"]
        out.ci_low, out.ci_high = bootstrap_interval(boot_stats["importance"], est.alpha)
    return out


_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _check_train_params(tp: dict) -> dict:
    """Validate the trainer settings (clear errors instead of failures deep inside torch)."""
    out = dict(tp)

    def non_negative(name, strict=False):
        v = out[name]
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)
        if not ok or v < 0 or (strict and v == 0):
            what = "a positive" if strict else "a non-negative"
            raise ValueError(f"train_params[{name!r}] must be {what} number; got {v!r}.")

    for name in ("max_iter", "block_size", "chunk_size"):
        check_integer(
            out[name], f"train_params[{name!r}]", minimum=1, allow_none=name == "chunk_size"
        )
    non_negative("tol")
    non_negative("ftol")
    non_negative("memory_budget_mb", strict=True)
    dtype = (
        _DTYPES.get(out["dtype"], out["dtype"]) if isinstance(out["dtype"], str) else out["dtype"]
    )
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(
            f"train_params['dtype'] must be torch.float32 or torch.float64 (or 'float32', "
            f"'float64'); got {out['dtype']!r}."
        )
    out["dtype"] = dtype
    device = out["device"]
    if device is not None:
        try:
            device = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"train_params['device'] is not a torch device: {device!r}.") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                "train_params['device'] asks for CUDA, but torch.cuda.is_available() is False "
                "here (a CPU build of torch, or no GPU); leave device=None to train on the CPU."
            )
        out["device"] = device
    return out


def _looks_classifier(model) -> bool:
    from sklearn.base import is_classifier

    return bool(is_classifier(model))


def _warn_resolution(n_perm: int, n_tests: int, alpha: float, method) -> None:
    if not n_perm:
        return
    smallest = smallest_attainable_p(n_perm, n_tests, method)
    if smallest > alpha * (1 + 1e-9):
        adj = f" after {method} adjustment over {n_tests} tests" if method else ""
        warnings.warn(
            f"With n_permutations={n_perm} the smallest attainable p-value{adj} is "
            f"{smallest:.4g} > alpha={alpha}: no variable can be significant. Use at least "
            f"{_needed(n_tests, alpha, method)} permutations.",
            UserWarning,
            stacklevel=4,
        )


def _needed(n_tests: int, alpha: float, method) -> int:
    lo, hi = 1, 10
    while smallest_attainable_p(hi, n_tests, method) > alpha * (1 + 1e-9):
        lo, hi = hi, hi * 2
        if hi > 10**8:
            return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if smallest_attainable_p(mid, n_tests, method) > alpha * (1 + 1e-9):
            lo = mid + 1
        else:
            hi = mid
    return lo


def _take(r: TrainResult, sl: slice) -> TrainResult:
    """Networks ``sl`` of a training result."""
    return TrainResult(
        [c[sl] for c in r.coefs], [b[sl] for b in r.intercepts], r.loss[sl], r.n_iter[sl],
        r.converged[sl],
    )  # fmt: skip


def _run_batched(
    est, X, y, spec, tp, fitted, feature_names, output_names,
    seed_init, perms, cols, counts, n_init,
):  # fmt: skip
    train_alpha = _param(est, "train_alpha")
    if train_alpha == "auto":
        train_alpha = AUTO_TRAIN_ALPHA[spec.activation]
    if train_alpha != "estimator":
        a = train_alpha
        if not isinstance(a, numbers.Real) or isinstance(a, bool) or not a >= 0:
            raise ValueError(
                f"train_alpha must be a non-negative number, 'auto' or 'estimator'; got {a!r}."
            )
        spec = TrainingSpec(**{**spec.__dict__, "alpha": float(a)})
    x_mean = X.mean(axis=0)
    x_sd = X.std(axis=0)
    x_sd = np.where(x_sd > 0, x_sd, 1.0)
    Xs = (X - x_mean) / x_sd
    Y, y_mu, y_sd = _targets(spec, y)
    n_out = Y.shape[1]
    opts = {k: tp[k] for k in ("max_iter", "tol", "ftol", "dtype", "device")}
    run = {k: tp[k] for k in ("chunk_size", "memory_budget_mb", "block_size")}
    n_perm = 0 if perms is None else perms.shape[0]
    n_boot = 0 if counts is None else counts.shape[0]
    n_first = n_init if n_init > 1 else 0
    bar, update = _progress(est.verbose, n_first + n_perm + n_boot + 1, type(est).__name__)
    n = X.shape[0]
    identity = np.arange(n)[None, :]
    try:
        init = init_weights(spec, X.shape[1], n_out, n_init, seed_init)
        if n_init > 1:  # Olden & Jackson: the best of several initial weights on the real data
            first = train_networks(spec, Xs, Y, init, n_jobs=1, progress=update, **run, **opts)
            best = int(np.argmin(first.loss))
        else:
            first, best = None, 0
        init_best = ([c[best : best + 1] for c in init[0]], [b[best : best + 1] for b in init[1]])

        def repeat(B):
            return (
                [np.repeat(c, B, axis=0) for c in init_best[0]],
                [np.repeat(b, B, axis=0) for b in init_best[1]],
            )

        common = {"n_jobs": est.n_jobs, "progress": update, **run, **opts}
        # Like with like: the observed network is network 0 of the same call as the null (or
        # bootstrap) networks, with the identity permutation (or unit weights), so it is
        # trained by exactly the same code path, block and arithmetic as they are.
        null_res = boot_res = None
        if n_perm:
            if cols is None:
                both = train_networks(
                    spec, Xs, Y, repeat(n_perm + 1), y_perm=np.vstack([identity, perms]), **common
                )
            else:
                both = train_networks(
                    spec, Xs, Y, repeat(len(cols) + 1),
                    col_perm=(np.r_[0, cols], np.vstack([identity, perms])), **common,
                )  # fmt: skip
            obs_res, null_res = _take(both, slice(0, 1)), _take(both, slice(1, None))
        if n_boot:
            weights = counts if n_perm else np.vstack([np.ones((1, n)), counts])
            boot_all = train_networks(
                spec, Xs, Y, repeat(weights.shape[0]), sample_weight=weights, **common
            )
            if n_perm:
                boot_res = boot_all
            else:
                obs_res, boot_res = _take(boot_all, slice(0, 1)), _take(boot_all, slice(1, None))
    finally:
        if bar is not None:
            bar.close()

    def batch_of(r: TrainResult) -> MLPBatch:
        coefs, ints = _to_model_space(r, spec, x_mean, x_sd, y_mu, y_sd)
        return _batch(coefs, ints, spec, feature_names, output_names)

    obs_batch = batch_of(obs_res)
    obs = _stat_of(est, obs_batch, X, y)
    null_stats = _stat_of(est, batch_of(null_res), X, y) if null_res is not None else None
    boot_stats = _stat_of(est, batch_of(boot_res), X, y) if boot_res is not None else None
    paths = None
    path_fn = getattr(est, "_path_statistic", None)
    if path_fn is not None and null_res is not None:
        obs_p = path_fn(obs_batch)
        if obs_p is not None:
            paths = (obs_p, path_fn(batch_of(null_res)))
    coefs_obs = [c[0] for c in obs_batch.numpy_weights()[0]]
    ints_obs = [b[0] for b in obs_batch.numpy_weights()[1]]
    estimator = (
        adapters.with_network_weights(fitted, coefs_obs, ints_obs) if fitted is not None else None
    )
    if estimator is not None:
        final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
        if hasattr(final, "loss_"):
            final.loss_ = float(obs_res.loss[0])
    info = {
        "trainer": "batched",
        "train_alpha": spec.alpha,
        "init_loss": None if first is None else first.loss,
        "observed_loss": float(obs_res.loss[0]),
        "null_loss": None if null_res is None else null_res.loss,
        "null_n_iter": None if null_res is None else null_res.n_iter,
        "null_converged": None if null_res is None else null_res.converged,
        "boot_loss": None if boot_res is None else boot_res.loss,
    }
    return {
        "obs": obs,
        "null": null_stats,
        "boot": boot_stats,
        "paths": paths,
        "network": obs_batch,
        "estimator": estimator,
        "info": info,
    }


# ---------------------------------------------------------------------- refit with clones
def _fit_clone(estimator, seed_names, seed, X, y, fit_params):
    import warnings as _w

    from sklearn.exceptions import ConvergenceWarning

    model = clone(estimator)
    if seed_names:
        model.set_params(**dict.fromkeys(seed_names, seed))
    with _w.catch_warnings():
        _w.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, **fit_params)
    return model


def _run_estimator(
    est, X, y, fitted, model_view, output_names, seed_init, perms, cols, counts, n_init,
    fit_params,
):  # fmt: skip
    estimator = est.estimator
    if est.prefit and not hasattr(estimator, "fit"):
        raise TypeError(
            f"trainer='estimator' refits clones of the estimator; {type(estimator).__name__} "
            "has no fit method."
        )
    seed_names = adapters.seed_params(estimator)
    y_arr = np.asarray(y)
    seeds = np.random.default_rng(seed_init).integers(0, 2**31 - 1, size=n_init)
    jobs = Parallel(n_jobs=est.n_jobs)
    inits = jobs(
        delayed(_fit_clone)(estimator, seed_names, int(s), X, y_arr, fit_params) for s in seeds
    )
    losses = [adapters.training_loss(m, X, y_arr) for m in inits]
    best = int(np.argmin(losses))
    seed = int(seeds[best])
    observed = inits[best]

    def stats_of(models):
        views = [model_view(m, output_names) for m in models]
        if all(isinstance(v, MLPBatch) for v in views):
            return _stat_of(est, MLPBatch.stack(views), X, y)
        return _stack_stats([_stat_of(est, v, X, y) for v in views])

    obs = stats_of([observed])
    null_stats = boot_stats = None
    if perms is not None:
        if cols is None:
            datas = ((X, y_arr[pm]) for pm in perms)
        else:

            def permuted(j, pm):
                Xp = X.copy()
                Xp[:, j] = X[pm, j]
                return Xp

            datas = ((permuted(j, pm), y_arr) for j, pm in zip(cols, perms, strict=True))
        models = jobs(
            delayed(_fit_clone)(estimator, seed_names, seed, Xd, yd, fit_params) for Xd, yd in datas
        )
        null_stats = stats_of(models)
    if counts is not None:
        idx = [np.repeat(np.arange(X.shape[0]), c.astype(int)) for c in counts]
        models = jobs(
            delayed(_fit_clone)(estimator, seed_names, seed, X[i], y_arr[i], fit_params)
            for i in idx
        )
        boot_stats = stats_of(models)
    return {
        "obs": obs,
        "null": null_stats,
        "boot": boot_stats,
        "paths": None,
        "network": model_view(observed, output_names),
        "estimator": observed,
        "info": {"trainer": "estimator", "init_loss": np.asarray(losses), "seed": seed},
    }
