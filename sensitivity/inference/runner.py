"""From a fitted model and a statistic to a test result: picks the refitter, builds the
conditional models, runs :func:`~.engine.run_test`, and describes the analysed network.

This is the one function the estimators call (:func:`analyse_model`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .. import adapters
from .._warnings import warn
from .batched import BatchedRefitter, check_train_params
from .clones import CloneRefitter
from .engine import HYPOTHESES, InferenceConfig, InferenceResult, Statistic, run_test, seed_streams

__all__ = [
    "FIT_KIND_WORDS",
    "InferenceSettings",
    "analyse_model",
    "check_target",
    "fit_comparison",
]

# The analysed network fits worse than the user's by more than this (R^2 or accuracy; the
# cross-validated fits where both were measured, see fit_comparison): warn.
FIT_GAP_WARNING = 0.1


@dataclass(frozen=True)
class InferenceSettings:
    """How the test's networks are trained (the estimators' parameters)."""

    trainer: str = "auto"
    train_alpha: object = "cv"
    train_params: dict | None = None
    n_init: int = 1
    n_jobs: int | None = None
    cv: int = 5


def check_target(y, *, is_classifier: bool) -> np.ndarray:
    """Validate the target a network is fitted to or a test retrains on: no NaN/inf, more than
    one class or value (a network fitted to a constant has meaningless weights: its
    importances and any test of them say nothing about the inputs).

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    is_classifier : bool
        Whether ``y`` holds class labels (else numbers).

    Returns
    -------
    ndarray
        ``y`` as an array of shape ``(n,)`` or ``(n, k)`` (float64 for a regressor).

    Raises
    ------
    ValueError
        Naming the problem: no ``y``, fewer than two rows, missing or infinite values (and the
        first rows holding them), a single class, a constant or non-numeric target.
    """
    if y is None:
        raise ValueError(
            "The randomization test and the bootstrap need y (they retrain networks); pass y "
            "to fit, also with prefit=True."
        )
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 0 or arr.shape[0] < 2:
        raise ValueError(
            f"y has {arr.size} row(s) (n_samples={arr.size}): a network fitted to one sample "
            "has meaningless weights; pass at least two rows (many more for a useful network)."
        )
    if is_classifier:
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError("y contains NaN; the network and its test need a complete target.")
        if arr.dtype.kind == "O" and any(v is None or v != v for v in arr.ravel()):
            raise ValueError(
                "y contains missing values; the network and its test need a complete target."
            )
        classes = np.unique(arr)
        if classes.shape[0] < 2:
            raise ValueError(
                f"y has a single class ({classes.tolist()[0]!r} in every row): a classifier "
                "fitted to it has meaningless weights, so its importances and any test of them "
                "say nothing about the inputs."
            )
        return arr
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"y is not numeric ({err}); a regressor needs a numeric target (or use a "
            "classifier for class labels)."
        ) from None
    finite = np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1)
    if not finite.all():
        rows = np.flatnonzero(~finite)
        shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
        raise ValueError(
            f"y contains NaN or infinite values (in {len(rows)} row(s), positions {shown}); "
            "the network and its test need a complete target."
        )
    if np.all(np.ptp(arr.reshape(arr.shape[0], -1), axis=0) == 0):
        value = arr.reshape(arr.shape[0], -1)[0]
        shown = f"{value[0]:g}" if value.size == 1 else str(value.tolist())
        raise ValueError(
            f"y is constant ({shown} in every row): a network (any model) fitted to a constant "
            "target has meaningless weights, so its importances and any test of them say "
            "nothing about the inputs; there is nothing to explain."
        )
    return arr


def _progress(verbose, desc: str):
    if not verbose:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(desc=desc, unit="net")
    return bar, bar.update


def _train_score(model, X, y) -> float | None:
    """A fitted model's own ``score`` on the data (None where it has none or it fails)."""
    try:
        return float(model.score(X, y)) if hasattr(model, "score") else None
    except Exception:
        return None


def _cv_score(model, X, y, folds: list[np.ndarray] | None) -> float | None:
    """Cross-validated score of clones of a scikit-learn model on the held-out ``folds`` (the
    analysed network's, so the two scores compare; shuffled, unlike ``cv=5`` on rows sorted by
    the target). None for other models."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    if folds is None or not hasattr(model, "get_params"):
        return None
    n = len(y)
    splits = [(np.setdiff1d(np.arange(n), test), test) for test in folds]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(np.mean(cross_val_score(clone(model), X, y, cv=splits)))
    except Exception:
        return None


def analyse_model(
    statistic: Statistic,
    user_model,
    X: np.ndarray,
    y,
    config: InferenceConfig,
    settings: InferenceSettings,
    *,
    feature_names: Sequence[str],
    output_names: Sequence[str] | None,
    view: Callable,
    fit_params: dict | None = None,
    desc: str = "test",
    streams: dict | None = None,
    X_user=None,
) -> tuple[InferenceResult, object, dict]:
    """Run the test configured by ``config``/``settings`` on ``user_model``'s architecture.

    Returns
    -------
    result : InferenceResult
    estimator : the analysed network as a fitted copy of ``user_model`` (its weights), or the
        best clone for the clone refitter, or None where it cannot be expressed
    network : dict
        Description for reports: ``description, trainer, penalty, metric, fit`` (``fit`` has the
        analysed and the user's training and cross-validated scores).
    """
    tp = check_train_params(settings.train_params)
    null = config.null
    if streams is None:
        streams = seed_streams(config.random_state)
    spec = _training_spec(user_model, settings.trainer)
    is_clf = spec.is_classifier if spec is not None else adapters.is_classifier_model(user_model)
    y_arr = check_target(y, is_classifier=is_clf)
    config, conditional_models = _prepare_null(config, X, feature_names)
    bar, update = _progress(config.verbose, desc)
    try:
        if spec is not None:
            refitter = BatchedRefitter(
                spec,
                X,
                y_arr,
                train_alpha=settings.train_alpha,
                train_params=tp,
                seed=streams["networks"],
                feature_names=feature_names,
                output_names=output_names,
                n_init=settings.n_init,
                n_jobs=settings.n_jobs,
                progress=update,
                cv=settings.cv,
            )
        else:
            refitter = CloneRefitter(
                user_model,
                X,
                y,
                view=view,
                seed=streams["networks"],
                n_init=settings.n_init,
                n_jobs=settings.n_jobs,
                fit_params=fit_params,
            )
        result = run_test(
            statistic,
            X,
            y,
            config,
            refitter,
            streams=streams,
            conditional_models=conditional_models,
        )
    finally:
        if bar is not None:
            bar.close()
    result.info["trainer"] = "batched" if spec is not None else "estimator"
    result.info["init_loss"] = refitter.init_loss
    result.info["hypothesis"] = HYPOTHESES[null] if config.n_permutations else None
    estimator, network = _describe_fits(
        result, refitter, spec, user_model, X, y, settings, is_clf, X_user
    )
    _warn_fit_gap(network)
    return result, estimator, network


def _training_spec(user_model, trainer: str):
    """The batched trainer's spec of the user's architecture, or None for the clone refitter."""
    if trainer not in ("auto", "batched"):
        return None
    try:
        return adapters.training_spec(user_model)
    except TypeError:
        if trainer == "batched":
            raise
        return None


def _refit_kinds(kinds, X: np.ndarray):
    """The conditional models of the refitting test: ``"auto"`` there keeps the parametric
    models its level was measured with (logistic for a two-valued input, linear-gaussian with
    permuted residuals otherwise; the boosted models' in-sample draws are not measured for it).
    Other requests are passed on as they are."""
    if not (isinstance(kinds, str) and kinds == "auto"):
        return kinds
    return ["logistic" if np.unique(x).size == 2 else "gaussian" for x in X.T]


def _prepare_null(config: InferenceConfig, X: np.ndarray, feature_names):
    """The null actually tested and the conditional models it needs (one input: the
    conditional law is the marginal one, so the marginal permutation is used)."""
    if config.null == "conditional" and X.shape[1] == 1:
        return dataclasses.replace(config, null="variable"), None
    if config.null == "conditional" and config.n_permutations:
        from ..conditional import fit_conditional_models

        models = fit_conditional_models(
            X,
            kinds=(
                config.conditional_kinds
                if config.conditional_sampler is not None
                else _refit_kinds(config.conditional_kinds, X)
            ),
            sampler=config.conditional_sampler,
            feature_names=feature_names,
        )
        return config, models
    if config.null == "variable" and config.n_permutations:
        _warn_correlated(X, feature_names)
    return config, None


def _describe_fits(result, refitter, spec, user_model, X, y, settings, is_clf, X_user):
    """The analysed network as a copy of the user's model, and the report's description of
    the analysed and the user's fits (training and cross-validated scores)."""
    metric = "accuracy" if is_clf else "R^2"
    if spec is not None:
        weights = result.network.numpy_weights()
        estimator = _analysed_copy(user_model, weights, refitter.spec.alpha, result.observed_loss)
        analysed = {"train": refitter.train_score(result.network), "cv": refitter.cv_score}
        result.info["cv_table"] = refitter.cv_table
        described = estimator if estimator is not None else user_model
    else:
        estimator = refitter.observed
        analysed = {"train": _train_score(estimator, X, y), "cv": None}
        described = estimator
    X_user = X if X_user is None else X_user  # as the user passed it (column names)
    user = (
        {
            "train": _train_score(user_model, X_user, y),
            "cv": _cv_score(user_model, X_user, y, refitter.held_out_folds(settings.cv)),
        }
        if spec is not None
        else analysed
    )
    network = {
        "description": adapters.describe_model(described),
        **refitter.describe(),
        "metric": metric,
        "fit": {"analysed": analysed, "user": user},
    }
    return estimator, network


def _analysed_copy(user_model, weights, alpha: float, loss):
    """A copy of the user's model holding the analysed network's weights and penalty."""
    coefs = [c[0] for c in weights[0]]
    ints = [b[0] for b in weights[1]]
    try:
        est = adapters.with_network_weights(user_model, coefs, ints)
    except (TypeError, ValueError):
        return None
    adapters.set_training_record(est, alpha=alpha, loss=loss)
    return est


def fit_comparison(fit: dict) -> tuple[str, float, float] | None:
    """Which fits compare the analysed network with the user's: ``(kind, analysed, user)``.

    The cross-validated fits (``kind="cv"``) when both were measured: a training fit rewards
    overfitting, so an overfitted network (cross-validated R^2 below 0) would look better than
    a well-penalised one. Else the training fits (``"train"``); None when neither pair exists.

    Parameters
    ----------
    fit : dict
        ``{"analysed": {"train": float or None, "cv": float or None}, "user": {...}}`` (the
        ``"fit"`` entry of an estimator's ``network_``).
    """
    a, u = fit.get("analysed") or {}, fit.get("user") or {}
    for kind in ("cv", "train"):
        if a.get(kind) is not None and u.get(kind) is not None:
            return kind, float(a[kind]), float(u[kind])
    return None


FIT_KIND_WORDS = {"cv": "cross-validated", "train": "training"}
"""How the messages name the fits that :func:`fit_comparison` compared."""


def _warn_fit_gap(network: dict) -> None:
    a = network["fit"]["analysed"]
    metric = network["metric"]
    if a["train"] is not None and metric == "R^2" and a["train"] < 0.01:
        warn(
            f"The analysed network is (nearly) a constant predictor (training R^2 "
            f"{a['train']:.3f}); its importances and tests say little. Use a smaller "
            "train_alpha or check the data.",
            UserWarning,
        )
        return
    compared = fit_comparison(network["fit"])
    if compared is None:
        return
    kind, analysed, user = compared
    if user - analysed > FIT_GAP_WARNING:
        note = "" if kind == "cv" else "; no cross-validated fit of both to compare"
        warn(
            f"The analysed network fits worse than yours ({FIT_KIND_WORDS[kind]} {metric} "
            f"{analysed:.3f} against {user:.3f}{note}): the test retrains networks of your "
            f"architecture with {network['penalty']}. Consider train_alpha='cv' or a number.",
            UserWarning,
        )


def _warn_correlated(X: np.ndarray, names: Sequence[str], threshold: float = 0.1) -> None:
    """null='variable' with inputs correlated with the others: the marginal test is invalid."""
    if X.shape[1] < 2 or X.shape[0] <= X.shape[1] + 1:
        return
    Z = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1.0)
    r2 = []
    for j in range(X.shape[1]):
        others = np.delete(Z, j, axis=1)
        coef, *_ = np.linalg.lstsq(np.c_[np.ones(len(Z)), others], Z[:, j], rcond=None)
        resid = Z[:, j] - np.c_[np.ones(len(Z)), others] @ coef
        r2.append(1 - resid.var() / max(Z[:, j].var(), 1e-300))
    bad = [f"{n} (R^2 {v:.2f})" for n, v in zip(names, r2, strict=True) if v > threshold]
    if bad:
        warn(
            "null='variable' permutes each input marginally, which is not a test of that input "
            "when it is correlated with the others: " + ", ".join(bad) + ". Use "
            "null='conditional'.",
            UserWarning,
        )
