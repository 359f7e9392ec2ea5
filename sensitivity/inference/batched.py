r"""The batched refitter: networks of the analysed architecture retrained by the batched trainer.

The test's networks (observed, null, bootstrap) are all trained by one procedure: inputs (and a
regression target) standardized, scikit-learn's penalised objective with the L2 penalty
``train_alpha`` (chosen by K-fold cross-validation by default), the same initial weights for
every network, L-BFGS (:mod:`sensitivity.training`). Trained networks are expressed in the
wrapped model's own input space (:func:`to_model_space`), so every statistic is computed on
them exactly as on the user's model.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold

from .._warnings import warn
from ..network import MLPBatch
from ..training import (
    DEFAULT_TRAIN_PARAMS,
    TrainingSpec,
    TrainResult,
    init_weights,
    train_networks,
)

__all__ = [
    "CV_ALPHA_GRID",
    "DEFAULT_TRAIN_PARAMS",
    "BatchedRefitter",
    "check_train_params",
    "to_model_space",
]


#: Penalties (scikit-learn's ``alpha`` units, on standardized inputs) tried by ``train_alpha="cv"``.
CV_ALPHA_GRID = (1e-3, 1e-2, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)

#: A per-variable penalty at the grid's top this many times the analysed network's is warned of.
BLIND_RATIO = 10.0

#: The bootstrap networks use the cross-validated penalty divided by this (undersmoothing).
BOOTSTRAP_UNDERSMOOTHING = 10.0

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _check_integer(value, label: str, *, minimum: int, allow_none: bool = False) -> None:
    if allow_none and value is None:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        kind = "non-negative" if minimum == 0 else "positive"
        extra = " or None" if allow_none else ""
        raise ValueError(f"{label} must be a {kind} integer{extra}; got {value!r}.")


def check_train_params(train_params: dict | None) -> dict:
    """The trainer settings: defaults completed by ``train_params``, each validated.

    Raises a ValueError naming the setting for an unknown key or a bad value.
    """
    user = dict(train_params or {})
    unknown = set(user) - set(DEFAULT_TRAIN_PARAMS)
    if unknown:
        raise ValueError(
            f"Unknown train_params {sorted(unknown)}; allowed: {sorted(DEFAULT_TRAIN_PARAMS)}."
        )
    out = {**DEFAULT_TRAIN_PARAMS, **user}
    for name in ("max_iter", "block_size", "chunk_size"):
        _check_integer(
            out[name], f"train_params[{name!r}]", minimum=1, allow_none=name == "chunk_size"
        )
    for name, strict in (("tol", False), ("ftol", False), ("memory_budget_mb", True)):
        v = out[name]
        ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)
        if not ok or v < 0 or (strict and v == 0):
            what = "a positive" if strict else "a non-negative"
            raise ValueError(f"train_params[{name!r}] must be {what} number; got {v!r}.")
    dtype = (
        _DTYPES.get(out["dtype"], out["dtype"]) if isinstance(out["dtype"], str) else out["dtype"]
    )
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(
            "train_params['dtype'] must be torch.float32 or torch.float64 (or 'float32', "
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
    Y = y.reshape(y.shape[0], -1).astype(np.float64)
    mu, sd = Y.mean(axis=0), Y.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    return (Y - mu) / sd, mu, sd


def to_model_space(res: TrainResult, spec: TrainingSpec, x_mean, x_sd, y_mu, y_sd):
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
    coefs = [W0 / (c * x_sd)[None, :, None], *res.coefs[1:]]
    ints = [b0 - np.einsum("i,bij->bj", shift, W0), *res.intercepts[1:]]
    if y_sd is not None:
        coefs[-1] = coefs[-1] * y_sd[None, None, :]
        ints[-1] = ints[-1] * y_sd[None, :] + y_mu[None, :]
    return coefs, ints


@dataclass
class Fitted:
    """Networks of one training call: the statistic's view and the trainer's diagnostics."""

    model: object  # MLPBatch of B networks (or a list of model views, clone refitter)
    loss: np.ndarray | None = None
    n_iter: np.ndarray | None = None
    converged: np.ndarray | None = None


def _fit_metric(spec: TrainingSpec, Y: np.ndarray, P: np.ndarray) -> float:
    """R^2 (regression, standardized Y, averaged over outputs) or accuracy (classification)."""
    if spec.is_classifier:
        if Y.shape[1] == 1:
            return float(np.mean((P[:, 0] > 0.5) == (Y[:, 0] > 0.5)))
        return float(np.mean(P.argmax(1) == Y.argmax(1)))
    ss = ((Y - Y.mean(0)) ** 2).sum(0)
    return float(np.mean(1 - ((Y - P) ** 2).sum(0) / np.where(ss > 0, ss, 1.0)))


def _mean_loss(spec: TrainingSpec, Y: np.ndarray, P: np.ndarray) -> float:
    if not spec.is_classifier:
        return float(0.5 * np.mean((Y - P) ** 2))
    P = np.clip(P, 1e-12, 1 - 1e-12)
    if Y.shape[1] == 1:
        return float(-np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P)))
    return float(-np.mean((Y * np.log(P)).sum(1)))


class BatchedRefitter:
    """Retrains networks of one architecture on variants of ``(X, y)`` with the batched trainer.

    Parameters
    ----------
    spec : TrainingSpec
        The architecture and loss (from :func:`sensitivity.adapters.training_spec`).
    X : ndarray (n, p)
        Inputs in the user's units.
    y : ndarray (n,) or (n, k)
        Target.
    train_alpha : float, "cv" or "estimator"
        The L2 penalty; "cv": chosen by ``cv``-fold cross-validation over :data:`CV_ALPHA_GRID`
        on the observed data (each variable's networks: :meth:`set_variable_penalties`);
        "estimator": ``spec.alpha``.
    train_params : dict
        Validated trainer settings (:func:`check_train_params`).
    seed : numpy.random.SeedSequence
        Source of the initial weights and of the folds.
    feature_names, output_names : sequence of str
    n_init : int
        With ``n_init > 1`` the initial weights with the lowest training loss on the observed
        data are kept (Olden & Jackson 2002; makes the test slightly liberal).
    n_jobs : int or None
    progress : callable or None
        Called with the number of networks of each finished chunk.
    cv : int
        Folds of the penalty selection.
    """

    def __init__(
        self,
        spec: TrainingSpec,
        X: np.ndarray,
        y: np.ndarray,
        *,
        train_alpha,
        train_params: dict,
        seed: np.random.SeedSequence,
        feature_names: Sequence[str],
        output_names: Sequence[str] | None,
        n_init: int = 1,
        n_jobs: int | None = None,
        progress: Callable[[int], object] | None = None,
        cv: int = 5,
    ) -> None:
        self.X = X
        self.feature_names = tuple(feature_names)
        self.output_names = None if output_names is None else tuple(output_names)
        self.n_jobs = n_jobs
        self.progress = progress
        self.x_mean = X.mean(axis=0)
        sd = X.std(axis=0)
        self.x_sd = np.where(sd > 0, sd, 1.0)
        self.Xs = (X - self.x_mean) / self.x_sd
        self.Y, self.y_mu, self.y_sd = _targets(spec, y)
        self.opts = {k: train_params[k] for k in ("max_iter", "tol", "ftol", "dtype", "device")}
        self.run = {k: train_params[k] for k in ("chunk_size", "memory_budget_mb", "block_size")}
        init_seq, fold_seq = seed.spawn(2)
        n_out = self.Y.shape[1]
        init = init_weights(spec, X.shape[1], n_out, n_init, np.random.default_rng(init_seq))
        self.cv_table = None
        self.cv_score = None
        self.variable_alpha = None
        if train_alpha == "cv":
            alpha = self._select_alpha(spec, init, cv, np.random.default_rng(fold_seq))
        elif train_alpha == "estimator":
            alpha = float(spec.alpha)
        else:
            alpha = float(train_alpha)
        self.alpha_source = train_alpha if isinstance(train_alpha, str) else "fixed"
        self.spec = dataclasses.replace(spec, alpha=alpha)
        # bootstrap networks: a cross-validated penalty is undersmoothed (see fit)
        cv_chosen = self.alpha_source == "cv"
        self.boot_alpha = alpha / BOOTSTRAP_UNDERSMOOTHING if cv_chosen else alpha
        self.boot_used = False
        self.init_loss = None
        best = 0
        if n_init > 1:  # Olden & Jackson: the best of several initial weights on the real data
            first = self._train(init, {})
            best = int(np.argmin(first.loss))
            self.init_loss = first.loss
        self.init = ([c[best : best + 1] for c in init[0]], [b[best : best + 1] for b in init[1]])

    # ------------------------------------------------------------------ training
    def _train(self, init, data: dict, spec: TrainingSpec | None = None) -> TrainResult:
        return train_networks(
            spec or self.spec,
            self.Xs,
            self.Y,
            init,
            n_jobs=self.n_jobs,
            progress=self.progress,
            **data,
            **self.run,
            **self.opts,
        )

    def _repeat(self, B: int, init=None):
        coefs, ints = init or self.init
        return [np.repeat(c, B, axis=0) for c in coefs], [np.repeat(b, B, axis=0) for b in ints]

    def _standardized_batch(self, res: TrainResult, spec: TrainingSpec) -> MLPBatch:
        return MLPBatch.from_arrays(
            res.coefs,
            res.intercepts,
            activation=spec.activation,
            out_activation=spec.out_activation,
            is_classifier=spec.is_classifier,
        )

    def _folds(self, spec: TrainingSpec, cv: int, rng) -> list[np.ndarray]:
        n = self.Xs.shape[0]
        seed = int(rng.integers(2**31 - 1))
        if spec.is_classifier:
            labels = self.Y.argmax(1) if self.Y.shape[1] > 1 else self.Y[:, 0]
            counts = np.bincount(labels.astype(int))
            k = int(min(cv, counts[counts > 0].min()))
            if k < 2:
                raise ValueError(
                    "train_alpha='cv' needs at least 2 rows of every class; pass a number."
                )
            return [t for _, t in StratifiedKFold(k, shuffle=True, random_state=seed).split(
                self.Xs, labels)]  # fmt: skip
        k = min(cv, n)
        return [t for _, t in KFold(k, shuffle=True, random_state=seed).split(self.Xs)]

    def held_out_folds(self, cv: int) -> list[np.ndarray] | None:
        """Held-out row indices of each fold: the penalty's cross-validation folds, or shuffled
        folds of the same kind with a fixed penalty (None where a class has too few rows), so
        that another model's cross-validated score compares with the analysed network's."""
        held = getattr(self, "held", None)
        if held is not None:
            return held
        try:
            return self._folds(self.spec, cv, np.random.default_rng(0))
        except ValueError:
            return None

    def _cv_losses(self, spec, init, held, col_values=None):
        """Out-of-fold mean loss and score for each penalty of the grid, ``(G, groups)``:
        one group, or one per replaced column of ``col_values`` ``(cols (m,), values (m, n))``
        (standardized units). All ``G * groups * folds`` networks train in one call (one
        penalty per network), ordered grid, then group, then fold."""
        k, n = len(held), self.Xs.shape[0]
        G = len(CV_ALPHA_GRID)
        weights = np.ones((k, n))
        for f, test in enumerate(held):
            weights[f, test] = 0.0
        m = 1 if col_values is None else len(col_values[0])
        data = {
            "sample_weight": np.tile(weights, (G * m, 1)),
            "alpha": np.repeat(np.asarray(CV_ALPHA_GRID, dtype=np.float64), m * k),
        }
        if col_values is not None:
            cols, values = col_values
            data["col_values"] = (
                np.tile(np.repeat(cols, k), G),
                np.tile(np.repeat(values, k, axis=0), (G, 1)),
            )
        init1 = ([c[:1] for c in init[0]], [b[:1] for b in init[1]])
        res = self._train(self._repeat(G * m * k, init1), data, spec)
        batch = self._standardized_batch(res, spec)
        losses = np.empty((G, m))
        scores = np.empty((G, m))
        for j in range(m):
            Xj = self.Xs
            if col_values is not None:
                Xj = self.Xs.copy()
                Xj[:, col_values[0][j]] = col_values[1][j]
            for g in range(G):
                start = (g * m + j) * k
                P = batch[start : start + k].predict(Xj)  # (k, n, n_out)
                oof = np.empty_like(self.Y)
                for f, test in enumerate(held):
                    oof[test] = P[f][test]
                losses[g, j] = _mean_loss(spec, self.Y, oof)
                scores[g, j] = _fit_metric(spec, self.Y, oof)
        return losses, scores

    def _select_alpha(self, spec: TrainingSpec, init, cv: int, rng) -> float:
        """K-fold cross-validation of the penalty (held-out mean loss; lowest wins)."""
        self.held = self._folds(spec, cv, rng)
        self.cv_folds = len(self.held)
        self._cv_spec = spec
        self._cv_init = init
        losses, scores = self._cv_losses(spec, init, self.held)
        best = int(np.argmin(losses[:, 0]))
        self.cv_table = {
            "alpha": CV_ALPHA_GRID,
            "loss": tuple(losses[:, 0]),
            "score": tuple(scores[:, 0]),
        }
        self.cv_score = float(scores[best, 0])
        return float(CV_ALPHA_GRID[best])

    def set_variable_penalties(self, values0: np.ndarray) -> None:
        """Per-variable penalties for the per-variable nulls.

        With ``train_alpha="cv"``, variable ``j``'s networks (its observed network and its null
        networks) use the penalty chosen by cross-validation on the data with ``x_j`` replaced
        by ``values0[j]`` (one extra draw from the null of ``x_j``). The penalty is then a
        function of ``(x_-j, y)`` and an independent draw only, so the observed and null
        networks of ``j`` stay exchangeable under ``H0_j``, and the penalty suits data without
        ``x_j``'s information (a penalty tuned on the real data lets the null networks fit
        noise with large weights). But without ``x_j`` an effect carried by ``x_j`` alone
        leaves no signal, the largest penalty wins and no network of the block can fit the
        effect: no power for it (a warning names such variables). With a fixed penalty every
        variable uses the one penalty.
        """
        p = values0.shape[0]
        if self.alpha_source != "cv":
            self.variable_alpha = np.full(p, self.spec.alpha)
            return
        vs = (values0 - self.x_mean[:, None]) / self.x_sd[:, None]
        losses, _ = self._cv_losses(self._cv_spec, self._cv_init, self.held, (np.arange(p), vs))
        self.variable_alpha = np.asarray(CV_ALPHA_GRID)[np.argmin(losses, axis=0)]
        # the data without x_j favour a (nearly) constant network while the real data do not
        top = CV_ALPHA_GRID[-1]
        blind = np.flatnonzero(self.variable_alpha >= top)
        if len(blind) and self.spec.alpha <= top / BLIND_RATIO:
            names = ", ".join(self.feature_names[j] for j in blind)
            warn(
                f"The test of {names} trains its networks with the grid's largest penalty "
                f"({top:g}; the analysed network's is {self.spec.alpha:g}): cross-validated on "
                "the data without that variable, where little signal is left. Such networks "
                "can hardly fit an effect that the variable carries alone, so the test has "
                "little power for one (inference_['variable_alpha']). For such an effect use "
                "a penalty fixed beforehand (train_alpha=<number>) or the held-out test "
                "(HoldoutConditionalTest).",
                UserWarning,
            )

    def fit(self, *, y_perm=None, col_values=None, sample_weight=None) -> Fitted:
        """Train one network per row of ``y_perm`` / ``col_values`` / ``sample_weight``.

        Exactly one of them is given, with ``B`` rows: ``y_perm`` (B, n) row permutations of
        the target; ``col_values`` ``(cols (B,), values (B, n))`` column ``cols[b]`` replaced
        by ``values[b]`` (user units; trained with the penalty of variable ``cols[b]`` after
        :meth:`set_variable_penalties`); ``sample_weight`` (B, n) row weights: the bootstrap,
        trained with :attr:`boot_alpha` (a cross-validated penalty divided by
        :data:`BOOTSTRAP_UNDERSMOOTHING`: undersmoothing, so that the penalty's shrinkage is
        small against the interval's width; a fixed penalty is kept).
        """
        alpha = None
        if col_values is not None and getattr(self, "variable_alpha", None) is not None:
            alpha = self.variable_alpha[np.asarray(col_values[0])]
        base = self.spec.alpha
        if sample_weight is not None:
            base, self.boot_used = self.boot_alpha, True
        return self._fit(
            {"y_perm": y_perm, "col_values": col_values, "sample_weight": sample_weight},
            base,
            alpha,
        )

    def observed_fit(self) -> Fitted:
        """The analysed network: trained on the observed data with the selected penalty."""
        return self._fit({"sample_weight": np.ones((1, self.Xs.shape[0]))}, self.spec.alpha)

    def _fit(self, design: dict, alpha: float, alphas: np.ndarray | None = None) -> Fitted:
        spec = dataclasses.replace(self.spec, alpha=alpha)
        data: dict = {} if alphas is None else {"alpha": np.asarray(alphas, dtype=np.float64)}
        if design.get("y_perm") is not None:
            B, data["y_perm"] = design["y_perm"].shape[0], design["y_perm"]
        elif design.get("col_values") is not None:
            cols, values = design["col_values"]
            B = len(cols)
            vs = (values - self.x_mean[cols][:, None]) / self.x_sd[cols][:, None]
            data["col_values"] = (cols, vs)
        else:
            B, data["sample_weight"] = design["sample_weight"].shape[0], design["sample_weight"]
        res = self._train(self._repeat(B), data, spec)
        coefs, ints = to_model_space(res, spec, self.x_mean, self.x_sd, self.y_mu, self.y_sd)
        batch = MLPBatch.from_arrays(
            coefs,
            ints,
            activation=spec.activation,
            out_activation=spec.out_activation,
            feature_names=self.feature_names,
            output_names=self.output_names,
            input_scale=spec.input_scale,
            input_offset=spec.input_offset,
            is_classifier=spec.is_classifier,
        )
        return Fitted(batch, res.loss, res.n_iter, res.converged)

    def train_score(self, batch: MLPBatch) -> float:
        """R^2 or accuracy of network 0 of ``batch`` on the observed data."""
        P = batch[0].predict(self.X)[0]
        if not self.spec.is_classifier and self.y_sd is not None:
            P = (P - self.y_mu) / self.y_sd
        return _fit_metric(self.spec, self.Y, P)

    def describe(self) -> dict:
        """How the networks were trained (for reports)."""
        if self.alpha_source == "cv":
            grid = f"{CV_ALPHA_GRID[0]:g}..{CV_ALPHA_GRID[-1]:g}"
            penalty = f"alpha = {self.spec.alpha:g} ({self.cv_folds}-fold CV over {grid})"
            if self.boot_used and self.boot_alpha != self.spec.alpha:
                penalty += f"; bootstrap: alpha = {self.boot_alpha:g} (undersmoothed)"
        elif self.alpha_source == "estimator":
            penalty = f"alpha = {self.spec.alpha:g} (the estimator's)"
        else:
            penalty = f"alpha = {self.spec.alpha:g} (fixed)"
        o = self.opts
        trainer = (
            f"batched L-BFGS (sensitivity.training), standardized inputs"
            f"{'' if self.spec.is_classifier else ' and target'}, max_iter={o['max_iter']}, "
            f"{str(o['dtype']).replace('torch.', '')}, same initial weights for every network"
        )
        return {"trainer": trainer, "penalty": penalty, "alpha": self.spec.alpha}
