"""Conditional models: the model class, the parametric fits and :func:`fit_conditional_models`
(the kinds and their draws are described in the package docstring,
:mod:`sensitivity.conditional`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from .._warnings import warn
from . import _boosting

__all__ = [
    "KINDS",
    "ConditionalModel",
    "LowPowerWarning",
    "UntestableVariableError",
    "fit_conditional_models",
]

KINDS = (
    "gaussian",
    "gaussian-normal",
    "logistic",
    "multinomial",
    "boosting",
    "classifier",
    "custom",
)
"""The kinds of conditional model (``"binary"`` and ``"categorical"`` are accepted aliases)."""

_ALIASES = {"binary": "logistic", "categorical": "multinomial", "normal": "gaussian-normal"}

R2_WARN = 0.95
"""Above this fit the drawn column is close to the real one and a test has little power."""

_R2_EXACT = 1.0 - 1e-9
"""At or above this R^2 the column counts as an exact linear function of the others."""

R2_DETERMINED = 0.99
"""``"boosting"``: at or above this held-out R^2 the column counts as determined by the others
(its out-of-fold residuals, below a tenth of its sd, are then mostly the trees' approximation
error rather than noise, so draws built from them are not draws of the column)."""

SEPARATED_ACCURACY = 0.95
"""``"auto"``, discrete column separated by a linear function of the others: at or above this
held-out accuracy of the boosted classifier the column counts as determined by the others."""

SELECT_SE = 2.0
"""``kinds="auto"``: the boosted model replaces the parametric one when its held-out log score
is higher by more than this many standard errors of the paired per-row difference."""


def _orthonormal_basis(A: np.ndarray) -> np.ndarray:
    """Orthonormal basis ``(n, r)`` of the column space of ``A`` (rank by singular values)."""
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    keep = s > s[0] * max(A.shape) * np.finfo(np.float64).eps
    return U[:, keep]


Sampler = Callable[[np.ndarray, int, np.random.Generator, int], np.ndarray]


class LowPowerWarning(UserWarning):
    """A variable is nearly determined by the other inputs: conditional tests lose power."""


class UntestableVariableError(ValueError):
    """A variable has no usable conditional model: it is constant, or determined by the other
    inputs (an exact linear function of them, levels they predict without error, or a boosted
    fit with held-out :math:`R^2 \\ge` ``R2_DETERMINED``). A conditional test of it has no power;
    callers testing several variables can catch this per variable and report it untestable.

    Attributes
    ----------
    variable : str
        The variable's name.
    """

    def __init__(self, message: str, variable: str):
        super().__init__(message)
        self.variable = variable

    def __reduce__(self):
        return (type(self), (str(self), self.variable))


# ---------------------------------------------------------------------- the model
@dataclass
class ConditionalModel:
    """One fitted model of :math:`x_j` given the other columns.

    Attributes
    ----------
    index : int
        Column :math:`j` of ``X``.
    name : str
        Variable name.
    kind : str
        ``"gaussian"``, ``"gaussian-normal"``, ``"logistic"``, ``"multinomial"``,
        ``"boosting"``, ``"classifier"`` or ``"custom"``.
    r2 : float
        Fit of :math:`x_j` on the others: :math:`R^2` for the gaussian kinds, McFadden's
        pseudo-:math:`R^2` for logistic and multinomial, the *held-out* (out-of-fold)
        :math:`R^2` for boosting and the held-out McFadden pseudo-:math:`R^2` for classifier,
        NaN for custom.
    n_train : int
        Rows the model was fitted on.
    levels : ndarray or None
        The values of a binary or categorical column (sorted), else None.
    coef, intercept : ndarray / float or None
        Gaussian kinds: the regression on the *raw* other columns,
        :math:`E[x_j \\mid z] = \\text{intercept} + z_{-j}^\\top \\text{coef}` (None for the
        other kinds; boosting's mean is :meth:`predict_mean`).
    noise_sd : float
        Gaussian kinds: the maximum-likelihood residual sd
        :math:`\\hat\\sigma = \\sqrt{\\mathrm{RSS}/n}` (the sd of the residuals); boosting: the
        root mean square of the out-of-fold residuals.
    new_row_scale : float
        ``"gaussian"``: factor applied to the resampled residuals on new rows (1: the raw
        residuals, see the module docstring; ``sqrt(n / (n - p))`` would give them the unbiased
        variance instead). ``"boosting"``: the square root of the in-sample over the
        out-of-fold mean squared residual (at most 1), which offsets the fitted mean's own
        error on new rows so that draws are not over-dispersed.
    cv_score : float
        Held-out fit of the model: the mean over the rows of the log density (continuous
        column; nats, in the column's units) or log probability (discrete column) of the real
        value under the model fitted on the other folds. Computed for ``"boosting"``,
        ``"classifier"`` and every kind chosen by ``"auto"``; NaN otherwise.
    cv_scores : dict
        ``"auto"``: the held-out score of each candidate kind compared (on the same folds).
    n_trees, n_scale_trees : int
        Boosting and classifier: trees of the mean (or class probabilities) and of the scale
        model, chosen by held-out error (0: the linear regression / level frequencies, a
        constant scale).
    """

    index: int
    name: str
    kind: str
    r2: float
    n_train: int = 0
    levels: np.ndarray | None = None
    coef: np.ndarray | None = None
    intercept: float | None = None
    noise_sd: float = float("nan")
    new_row_scale: float = 1.0
    cv_score: float = float("nan")
    cv_scores: dict = field(default_factory=dict)
    n_trees: int = 0
    n_scale_trees: int = 0
    _fitted: np.ndarray | None = field(default=None, repr=False)  # (n,) mean or (n, K) probs
    _residuals: np.ndarray | None = field(default=None, repr=False)
    _basis: np.ndarray | None = field(default=None, repr=False)  # (n, r) of span(1, x_-j)
    _classifier: object = field(default=None, repr=False)  # logistic or boosted trees
    _center: np.ndarray | None = field(default=None, repr=False)
    _scale: np.ndarray | None = field(default=None, repr=False)
    _sampler: Sampler | None = field(default=None, repr=False)
    _X: np.ndarray | None = field(default=None, repr=False)
    _n_features: int = field(default=0, repr=False)
    _boost: dict | None = field(default=None, repr=False)  # boosting / classifier parts

    # ------------------------------------------------------------------ predictions
    def _others(self, Z: np.ndarray) -> np.ndarray:
        return np.delete(Z, self.index, axis=1)

    def _check_rows(self, Z) -> np.ndarray:
        Z = np.asarray(Z, dtype=np.float64)
        if Z.ndim != 2 or Z.shape[1] != self._n_features:
            raise ValueError(
                f"Z must be the full rows (n_rows, {self._n_features}) of X (column {self.name} "
                f"is ignored); got shape {Z.shape}."
            )
        others = self._others(Z)
        if not np.all(np.isfinite(others)):
            raise ValueError(
                f"Z contains missing or infinite values in the inputs that {self.name} is "
                "conditioned on; impute or drop those rows."
            )
        return Z

    def predict_mean(self, Z: np.ndarray | None = None) -> np.ndarray:
        """Conditional mean :math:`E[x_j \\mid x_{-j}]` (gaussian kinds and boosting), fitted
        or new rows. Boosting, ``Z`` None: the out-of-fold (cross-fitted) means, on which its
        in-sample draws are centred."""
        if self.kind not in ("gaussian", "gaussian-normal", "boosting"):
            raise TypeError(
                f"predict_mean needs a gaussian or boosting model; {self.name} is {self.kind}."
            )
        if Z is None:
            return self._fitted.copy()
        Z = self._check_rows(Z)
        others = self._others(Z)
        if self.kind != "boosting":
            return self.intercept + others @ self.coef
        b = self._boost
        Zs = (others - self._center) / self._scale
        mean = _boosting.design(Zs, b["degree"]) @ b["beta"]
        if b["tree"] is not None:
            with _boosting.one_openmp_thread():
                mean = mean + b["tree"].predict(others)
        return mean

    def predict_scale(self, Z: np.ndarray | None = None) -> np.ndarray:
        """Boosting: the conditional scale :math:`s(z)` (on the scale of the mean absolute
        residual) by which the standardized residuals are multiplied; ``Z`` None: the
        out-of-fold scales of the fitted rows."""
        if self.kind != "boosting":
            raise TypeError(f"predict_scale needs a boosting model; {self.name} is {self.kind}.")
        b = self._boost
        if Z is None:
            return b["oof_scale"].copy()
        Z = self._check_rows(Z)
        if b["scale_tree"] is None:
            return np.full(Z.shape[0], b["scale_const"])
        others = self._others(Z)
        Zs = (others - self._center) / self._scale
        feats = np.column_stack(
            [others, self.predict_mean(Z), _boosting._mahalanobis(Zs, b["prec"])]
        )
        with _boosting.one_openmp_thread():
            s = b["scale_tree"].predict(feats)
        return np.maximum(s, b["scale_floor"])

    def predict_proba(self, Z: np.ndarray | None = None) -> np.ndarray:
        """Probabilities ``(n_rows, n_levels)`` of the levels (logistic, multinomial and
        classifier kinds). Classifier, ``Z`` None: the out-of-fold probabilities, from which its
        in-sample draws are made."""
        if self.kind not in ("logistic", "multinomial", "classifier"):
            raise TypeError(
                f"predict_proba needs a logistic or classifier model; {self.name} is {self.kind}."
            )
        if Z is None:
            return self._fitted.copy()
        Z = self._check_rows(Z)
        if self.kind == "classifier":
            if self._classifier is None:
                return np.tile(self._boost["prior"], (Z.shape[0], 1))
            with _boosting.one_openmp_thread():
                return _boosting._full_proba(self._classifier, self._others(Z), self.levels.size)
        return self._classifier.predict_proba((self._others(Z) - self._center) / self._scale)

    # ------------------------------------------------------------------ draws
    def _match_residual(self, noise: np.ndarray) -> np.ndarray:
        """Residual draws ``(D, n)`` made orthogonal to ``span(1, x_-j)`` and rescaled to the
        real residual's norm, so every draw has the real column's fitted values and RSS."""
        Q = self._basis
        noise = noise - (noise @ Q) @ Q.T
        norm = np.linalg.norm(noise, axis=1, keepdims=True)
        target = float(np.linalg.norm(self._residuals))
        return noise * (target / np.where(norm > 0, norm, 1.0))

    def sample(
        self, rng: np.random.Generator | int | None, n_draws: int, Z: np.ndarray | None = None
    ) -> np.ndarray:
        """Draws of :math:`x_j` given the other inputs, all at once.

        Parameters
        ----------
        rng : numpy Generator (or a seed)
            Source of randomness; the draws are a deterministic function of it.
        n_draws : int
            Number of draws per row.
        Z : ndarray of shape (n_rows, p), optional
            None: draws for the rows the model was fitted on (in-sample, the conditional
            randomization test; gaussian residuals are *permuted*). Else the full rows of new
            data (column ``index`` ignored; the held-out test; gaussian residuals are drawn
            with replacement, unscaled: see the module docstring).

        Returns
        -------
        ndarray of shape (n_draws, n_rows)
        """
        rng = np.random.default_rng(rng)
        if not isinstance(n_draws, Integral) or isinstance(n_draws, bool) or n_draws < 1:
            raise ValueError(f"n_draws must be a positive integer; got {n_draws!r}.")
        n_draws = int(n_draws)
        if self.kind == "custom":
            rows = self._X if Z is None else self._check_rows(Z)
            out = np.asarray(self._sampler(rows, self.index, rng, n_draws), dtype=np.float64)
            if out.shape != (n_draws, rows.shape[0]):
                raise ValueError(
                    f"The sampler for {self.name} returned shape {out.shape}; expected "
                    f"(n_draws, n_rows) = {(n_draws, rows.shape[0])}."
                )
            if not np.all(np.isfinite(out)):
                raise ValueError(f"The sampler for {self.name} returned NaN or infinite draws.")
            return out
        if self.kind in ("gaussian", "gaussian-normal"):
            mean = self.predict_mean(Z)
            m = mean.shape[0]
            if self.kind == "gaussian-normal":
                noise = self.noise_sd * rng.standard_normal((n_draws, m))
                if Z is None:
                    noise = self._match_residual(noise)
                return mean + noise
            res = self._residuals
            if Z is None:
                noise = rng.permuted(np.broadcast_to(res, (n_draws, m)), axis=1)
                noise = self._match_residual(noise)
            else:
                idx = rng.integers(0, self.n_train, size=(n_draws, m))
                noise = res[idx] * self.new_row_scale
            return mean + noise
        if self.kind == "boosting":
            mean = self.predict_mean(Z)
            scale = self.predict_scale(Z)
            u = self._boost["u"]
            if Z is None:  # the real column is the identity permutation
                noise = rng.permuted(np.broadcast_to(u, (n_draws, u.size)), axis=1)
            else:  # new rows: residuals shrunk by new_row_scale (see _fit_boosted)
                noise = u[rng.integers(0, self.n_train, size=(n_draws, mean.shape[0]))]
                noise = noise * self.new_row_scale
            return mean + scale * noise
        proba = self.predict_proba(Z)
        u = rng.random((n_draws, proba.shape[0]))
        if self.kind == "logistic":
            return np.where(u < proba[:, 1], self.levels[1], self.levels[0])
        cum = np.cumsum(proba, axis=1)[:, :-1]  # (m, K-1)
        idx = (u[:, :, None] >= cum[None]).sum(axis=2)  # (n_draws, m) in 0..K-1
        return self.levels[idx]


# ---------------------------------------------------------------------- fitting
def _column_names(X, feature_names, p: int) -> tuple[str, ...]:
    if isinstance(X, pd.DataFrame):
        return tuple(str(c) for c in X.columns)
    if feature_names is not None:
        names = tuple(str(f) for f in feature_names)
        if len(names) != p:
            raise ValueError(f"{len(names)} feature names for {p} columns of X.")
        return names
    return tuple(f"x{i}" for i in range(p))


def _as_array(X) -> np.ndarray:
    if isinstance(X, pd.DataFrame):
        bad = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c].dtype)]
        if bad:
            raise ValueError(f"Non-numeric column(s) {bad} in X: encode them as numbers first.")
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    arr = np.asarray(X)
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"X has dtype {arr.dtype}; conditional models need numbers.") from None
    return np.asarray(arr, dtype=np.float64)


def _resolve_columns(columns, names: tuple[str, ...]) -> list[int]:
    p = len(names)
    if columns is None:
        return list(range(p))
    if isinstance(columns, str | Integral):
        columns = [columns]
    out = []
    for c in columns:
        if isinstance(c, str):
            if c not in names:
                raise ValueError(f"Unknown column {c!r}; X has columns {list(names)}.")
            out.append(names.index(c))
        elif isinstance(c, Integral) and not isinstance(c, bool):
            if not -p <= c < p:
                raise ValueError(f"Column index {c} out of range for X with {p} columns.")
            out.append(int(c) % p)
        else:
            raise TypeError(f"columns must hold names or integer indices; got {c!r}.")
    if len(set(out)) != len(out):
        raise ValueError(f"Repeated columns in {list(columns)}.")
    return out


def _requested_kind(kinds, pos: int, j: int, name: str) -> str:
    if isinstance(kinds, str):
        kind = kinds
    elif isinstance(kinds, Mapping):
        kind = kinds.get(name, kinds.get(j, "auto"))
    elif isinstance(kinds, Sequence):
        kind = kinds[pos]
    else:
        raise TypeError(
            "kinds must be 'auto', a kind name, a list (one per column) or a dict "
            f"(name or index -> kind); got {type(kinds).__name__}."
        )
    if not isinstance(kind, str):
        raise TypeError(f"The kind for {name} must be a string; got {kind!r}.")
    kind = _ALIASES.get(kind, kind)
    if kind != "auto" and kind not in KINDS:
        raise ValueError(
            f"Unknown kind {kind!r} for {name}; choose 'auto' or one of {KINDS} "
            f"(aliases {sorted(_ALIASES)})."
        )
    return kind


def _standardize(others: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    center = others.mean(axis=0)
    scale = others.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (others - center) / scale, center, scale


def _exact_error(name: str, what: str) -> UntestableVariableError:
    return UntestableVariableError(
        f"{name} is {what} of the other inputs (R^2 = 1): draws from its conditional model "
        f"would equal {name} itself and a conditional test of it has no power. Drop {name} "
        "or the inputs that determine it.",
        name,
    )


def _warn_r2(name: str, r2: float, pseudo: bool, held_out: bool = False) -> None:
    if r2 > R2_WARN:
        which = "McFadden pseudo-R^2" if pseudo else "R^2"
        which = f"held-out {which}" if held_out else which
        warn(
            f"{name} is nearly determined by the other inputs ({which} = {r2:.3f} > "
            f"{R2_WARN}): its conditional draws stay close to it, so a conditional test of "
            f"{name} has low power.",
            LowPowerWarning,
        )


def _fit_gaussian(X, j, name, kind, ridge, check=True) -> ConditionalModel:
    n, p = X.shape
    x = X[:, j]
    others = np.delete(X, j, axis=1)
    Zs, center, scale = _standardize(others)
    xbar = x.mean()
    xc = x - xbar
    if ridge > 0:
        gram = Zs.T @ Zs + ridge * np.eye(p - 1)
        b = np.linalg.solve(gram, Zs.T @ xc)
    else:
        b = np.linalg.lstsq(Zs, xc, rcond=None)[0]
    fitted = xbar + Zs @ b
    resid = x - fitted
    basis = _orthonormal_basis(np.column_stack([np.ones(n), Zs]))
    rss = float(resid @ resid)
    tss = float(xc @ xc)
    r2 = 1.0 - rss / tss
    if r2 >= _R2_EXACT:
        raise _exact_error(name, "an exact linear function")
    if check:
        _warn_r2(name, r2, pseudo=False)
    coef = b / scale
    return ConditionalModel(
        index=j,
        name=name,
        kind=kind,
        r2=r2,
        n_train=n,
        coef=coef,
        intercept=float(xbar - center @ coef),
        noise_sd=float(np.sqrt(rss / n)),
        _fitted=fitted,
        _residuals=resid,
        _basis=basis,
        _n_features=p,
    )


def _log_lik(proba: np.ndarray, codes: np.ndarray) -> float:
    return float(np.sum(np.log(np.clip(proba[np.arange(codes.size), codes], 1e-300, None))))


def _fit_logistic(X, j, name, kind, levels, C, check=True) -> ConditionalModel:
    n, p = X.shape
    codes = np.searchsorted(levels, X[:, j])
    Zs, center, scale = _standardize(np.delete(X, j, axis=1))
    clf = LogisticRegression(C=C, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence under (quasi-)separation: checked below
        clf.fit(Zs, codes)
    proba = clf.predict_proba(Zs)
    freq = np.bincount(codes, minlength=levels.size) / n
    ll0 = _log_lik(np.broadcast_to(freq, proba.shape), codes)
    r2 = 1.0 - _log_lik(proba, codes) / ll0
    if np.all(np.argmax(proba, axis=1) == codes):
        raise UntestableVariableError(
            f"{name} is perfectly predicted by the other inputs (a linear function of them "
            f"separates its levels, so the unpenalised logistic fit diverges; McFadden "
            f"pseudo-R^2 = {r2:.4f}): draws from its conditional model would "
            f"equal {name} itself and a conditional test of it has no power. Drop {name} or the "
            "inputs that determine it.",
            name,
        )
    if check:
        _warn_r2(name, r2, pseudo=True)
    return ConditionalModel(
        index=j,
        name=name,
        kind=kind,
        r2=float(r2),
        n_train=n,
        levels=levels,
        _fitted=proba,
        _classifier=clf,
        _center=center,
        _scale=scale,
        _n_features=p,
    )


def _fit_boosted(X, j, name, folds, params, parts=None) -> ConditionalModel:
    """The ``"boosting"`` model (``parts``: its out-of-fold part if already computed)."""
    n, p = X.shape
    x = X[:, j]
    others = np.delete(X, j, axis=1)
    Zs, center, scale = _standardize(others)
    with _boosting.one_openmp_thread():
        if parts is None:
            parts = _boosting.fit_boosting(x, others, Zs, folds, params)
        parts = _boosting.finish_boosting(parts, x, others, Zs)
    e = parts["residuals"]
    r2 = 1.0 - float(e @ e) / float(np.sum((x - x.mean()) ** 2))
    if r2 >= R2_DETERMINED:
        raise UntestableVariableError(
            f"{name} is determined by the other inputs: boosted trees predict it on held-out "
            f"rows with R^2 = {r2:.4f} >= {R2_DETERMINED}, so its residuals are mostly the "
            f"trees' approximation error and draws built from them are not draws of {name}; a "
            f"conditional test of {name} has no power. Drop {name} or the inputs that "
            "determine it.",
            name,
        )
    model = ConditionalModel(
        index=j,
        name=name,
        kind="boosting",
        r2=r2,
        n_train=n,
        noise_sd=float(np.sqrt(np.mean(e * e))),
        cv_score=float(parts["log_density"].mean()),
        n_trees=parts["n_trees"],
        n_scale_trees=parts["n_scale_trees"],
        _fitted=parts["oof_mean"],
        _center=center,
        _scale=scale,
        _n_features=p,
        _boost=parts,
    )
    # new rows: the fitted mean is off the true one by about the estimation error d, and the
    # out-of-fold residuals carry it too (their mean square is about s^2 + d), so draws would
    # be over-dispersed by about 2d (measured: 9 % on a linear-gaussian column, 12 % on the
    # quadratic one, n = 240). Scaled by sqrt(in-sample / out-of-fold mean square), which is
    # about sqrt((s^2 - d) / (s^2 + d)) for a least-squares fit, a draw's expected squared
    # distance from the true mean is s^2 again (measured: 1.01 on both); never scaled up.
    e_in = x - model.predict_mean(X)
    model.new_row_scale = float(np.sqrt(min(1.0, float(e_in @ e_in) / float(e @ e))))
    return model


def _fit_classifier(X, j, name, levels, folds, params, parts=None) -> ConditionalModel:
    """The ``"classifier"`` model (``parts``: from :func:`_boosting.fit_classifier`)."""
    n, p = X.shape
    codes = np.searchsorted(levels, X[:, j])
    others = np.delete(X, j, axis=1)
    with _boosting.one_openmp_thread():
        if parts is None:
            parts = _boosting.fit_classifier(codes, levels.size, others, folds, params)
    proba = parts["oof_proba"]
    ll0 = float(np.sum(np.log(parts["prior"][codes])))
    r2 = 1.0 - float(parts["log_prob"].sum()) / ll0
    if np.all(np.argmax(proba, axis=1) == codes):
        raise UntestableVariableError(
            f"{name} is perfectly predicted by the other inputs (boosted trees predict its "
            f"level without error on every held-out row; held-out McFadden pseudo-R^2 = "
            f"{r2:.4f}): draws from its conditional model would equal {name} itself and a "
            f"conditional test of it has no power. Drop {name} or the inputs that determine it.",
            name,
        )
    return ConditionalModel(
        index=j,
        name=name,
        kind="classifier",
        r2=r2,
        n_train=n,
        levels=levels,
        cv_score=float(parts["log_prob"].mean()),
        n_trees=parts["n_trees"],
        _fitted=proba,
        _classifier=parts["classifier"],
        _n_features=p,
        _boost=parts,
    )


def _richer_wins(rich: np.ndarray, simple: np.ndarray) -> bool:
    """Whether the per-row held-out log scores ``rich`` beat ``simple`` by more than
    ``SELECT_SE`` standard errors of their mean paired difference."""
    d = rich - simple
    se = float(d.std(ddof=1)) / np.sqrt(d.size)
    return float(d.mean()) > SELECT_SE * se


def _fit_auto_continuous(X, j, name, ridge, folds, params) -> ConditionalModel:
    """``"auto"`` for a continuous column: gaussian or boosting, by held-out log density."""
    gauss = _fit_gaussian(X, j, name, "gaussian", ridge, check=False)  # exact: raises
    x = X[:, j]
    others = np.delete(X, j, axis=1)
    Zs = _standardize(others)[0]
    with _boosting.one_openmp_thread():
        parts = _boosting.fit_boosting(x, others, Zs, folds, params)
    lin, boost = parts["linear_log_density"], parts["log_density"]
    scores = {"gaussian": float(lin.mean()), "boosting": float(boost.mean())}
    if _richer_wins(boost, lin):
        model = _fit_boosted(X, j, name, folds, params, parts)
    else:
        model = gauss
    model.cv_score = scores[model.kind]
    model.cv_scores = scores
    return model


def _fit_auto_discrete(X, j, name, levels, C, folds, params) -> ConditionalModel:
    """``"auto"`` for a discrete column: (multinomial) logistic or classifier, by held-out
    log-loss. When a linear function of the others separates the levels on these rows (the
    logistic fit diverges) the column is determined by the others if the classifier also
    predicts at least ``SEPARATED_ACCURACY`` of the held-out levels (the logistic error is
    raised); otherwise the separation is a small-sample accident (few rows per level and
    parameter) and the classifier is used."""
    simple = "logistic" if levels.size == 2 else "multinomial"
    codes = np.searchsorted(levels, X[:, j])
    others = np.delete(X, j, axis=1)
    with _boosting.one_openmp_thread():
        parts = _boosting.fit_classifier(codes, levels.size, others, folds, params)
    scores = {"classifier": float(parts["log_prob"].mean())}
    try:
        logistic = _fit_logistic(X, j, name, simple, levels, C, check=False)
    except UntestableVariableError:
        accuracy = float(np.mean(np.argmax(parts["oof_proba"], axis=1) == codes))
        if accuracy >= SEPARATED_ACCURACY:
            raise
        logistic = None
    if logistic is not None:
        Zs = _standardize(others)[0]
        oof = _boosting.logistic_oof(codes, levels.size, Zs, folds, C)
        logit = _boosting.row_log_prob(oof, codes)
        scores = {simple: float(logit.mean()), **scores}
    if logistic is None or _richer_wins(parts["log_prob"], logit):
        model = _fit_classifier(X, j, name, levels, folds, params, parts)
    else:
        model = logistic
    model.cv_score = scores[model.kind]
    model.cv_scores = scores
    return model


def _is_discrete(levels: np.ndarray, max_levels: int) -> bool:
    """``"auto"``'s rule: two distinct values, or integer values with at most ``max_levels``
    distinct ones."""
    return levels.size == 2 or (
        levels.size <= max_levels and bool(np.all(levels == np.round(levels)))
    )


def fit_conditional_models(
    X,
    *,
    columns: Sequence[int | str] | int | str | None = None,
    kinds: str | Sequence[str] | Mapping[int | str, str] = "auto",
    sampler: Sampler | Mapping[int | str, Sampler] | None = None,
    feature_names: Sequence[str] | None = None,
    ridge: float = 0.0,
    C: float = 1e4,
    max_levels: int = 10,
    n_folds: int = 5,
    random_state: int | None = 0,
    boosting: Mapping | None = None,
) -> list[ConditionalModel]:
    """Fit a model of each requested column given the other columns of ``X``.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n, p)
        The inputs (the training rows); numeric, finite.
    columns : sequence of int or str, optional
        Columns to model (indices or names); all by default.
    kinds : str, list or dict
        ``"auto"`` (chosen per column by held-out fit, see below), one kind for all columns, a
        list (one per requested column) or a dict (name or index -> kind; missing ones
        ``"auto"``). Kinds: ``"gaussian"``, ``"gaussian-normal"``, ``"logistic"``
        (``"binary"``), ``"multinomial"`` (``"categorical"``), ``"boosting"``,
        ``"classifier"``, ``"custom"``. See the package docstring for each model and its draws.

        ``"auto"``: a column with two distinct values, or with integer values and at most
        ``max_levels`` distinct ones, is *discrete*: ``"logistic"`` (two levels) or
        ``"multinomial"`` against ``"classifier"``; any other column is continuous:
        ``"gaussian"`` against ``"boosting"``. The two are compared by their held-out log
        score on the same ``n_folds`` folds (mean log predictive density or log probability of
        the real value, ``ConditionalModel.cv_scores``); the boosted model is chosen when it is
        better by more than two standard errors of the paired per-row difference, else the
        parametric one (also when they tie, e.g. when the boosted fit chose no trees).
    sampler : callable or dict, optional
        ``sampler(X, j, rng, n_draws) -> ndarray (n_draws, n_rows)``: user draws of column
        ``j`` given the rows ``X`` (the training rows in-sample, new rows otherwise), wrapped as
        kind ``"custom"``. A callable applies to every requested column; a dict (name or index
        -> callable) to the columns it names.
    feature_names : sequence of str, optional
        Names for an array ``X`` (a DataFrame's columns are used otherwise).
    ridge : float, default 0
        :math:`\\lambda \\ge 0` added to the Gram matrix of the standardized other columns in
        the gaussian regressions. Not needed for stability: without it the least-squares
        solution is the minimum-norm one, whose fitted values are the exact projection even
        when the other columns are collinear among themselves.
    C : float, default 1e4
        Inverse penalty of the logistic models on standardized inputs (large: essentially
        unpenalised, yet finite under separation).
    max_levels : int, default 10
        Most levels a ``"multinomial"`` (integer codes only) or ``"classifier"`` column may
        have; ``"auto"`` treats integer columns with at most this many levels as discrete.
    n_folds : int, default 5
        Folds of the held-out fits (``"boosting"``, ``"classifier"``, ``"auto"``): out-of-fold
        residuals and probabilities, the number of trees, the held-out scores. At most
        ``n // 2`` (two rows per fold); with fewer than 4 rows ``"auto"`` takes the parametric
        kind unscored (logistic / multinomial for a discrete column, else gaussian).
    random_state : int, SeedSequence or None, default 0
        Seed of the folds (column ``j``'s folds come from child ``j`` of
        ``numpy.random.SeedSequence(random_state)``, whatever other columns are requested);
        None: fresh entropy. The explicit parametric kinds do not use it.
    boosting : dict, optional
        Settings of scikit-learn's ``HistGradientBoostingRegressor`` (``"boosting"``'s mean)
        and ``HistGradientBoostingClassifier`` (``"classifier"``) that replace the defaults
        (``sensitivity.conditional._boosting.REGRESSOR`` and ``CLASSIFIER``); ``max_iter`` is
        the most trees the held-out choice may take.

    Returns
    -------
    list of ConditionalModel
        In the order of ``columns``.

    Raises
    ------
    UntestableVariableError
        (a ``ValueError`` with the variable's name as ``variable``) A constant requested
        column, a column that is an exact linear function of the others, a binary column
        perfectly separated by them, levels that the classifier predicts without error on
        held-out rows, a boosted fit with held-out :math:`R^2 \\ge 0.99`.
    ValueError
        NaN or infinite values, no more rows than columns (``n <= p``), a kind that does not
        fit the column, bad settings.

    Warns
    -----
    LowPowerWarning
        When a column's (pseudo-):math:`R^2` exceeds 0.95 (held-out for the boosted kinds).
    """
    names = _column_names(X, feature_names, np.shape(X)[1] if np.ndim(X) == 2 else 0)
    X = _as_array(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features); got shape {X.shape}.")
    n, p = X.shape
    if p < 2:
        raise ValueError(
            f"X has {p} column(s): a conditional model of one input given the others needs at "
            "least two."
        )
    if not np.all(np.isfinite(X)):
        bad = [names[k] for k in np.flatnonzero(~np.isfinite(X).all(axis=0))]
        what = "missing values (NaN)" if np.isnan(X).any() else "infinite values"
        raise ValueError(f"X contains {what} in column(s) {bad}; impute or drop them first.")
    if n <= p:
        raise ValueError(
            f"X has {n} rows and {p} inputs: the model of each input given the other {p - 1} "
            f"(plus an intercept) needs more rows than inputs (n > p)."
        )
    if ridge < 0 or not np.isfinite(ridge):
        raise ValueError(f"ridge must be a finite number >= 0; got {ridge!r}.")
    if not (C > 0):
        raise ValueError(f"C must be positive; got {C!r}.")
    if not isinstance(n_folds, Integral) or isinstance(n_folds, bool) or n_folds < 2:
        raise ValueError(f"n_folds must be an integer >= 2; got {n_folds!r}.")
    n_folds = min(int(n_folds), n // 2)  # at least two rows per fold
    if boosting is not None and not isinstance(boosting, Mapping):
        raise TypeError(f"boosting must be a dict of settings; got {type(boosting).__name__}.")
    root = (
        random_state
        if isinstance(random_state, np.random.SeedSequence)
        else np.random.SeedSequence(random_state)
    )
    seeds = root.spawn(p)
    cols = _resolve_columns(columns, names)
    if isinstance(kinds, Sequence) and not isinstance(kinds, str) and len(kinds) != len(cols):
        raise ValueError(f"kinds has {len(kinds)} entries for {len(cols)} columns.")
    models = []
    for pos, j in enumerate(cols):
        name = names[j]
        kind = _requested_kind(kinds, pos, j, name)
        user = sampler
        if isinstance(sampler, Mapping):
            user = sampler.get(name, sampler.get(j))
        if user is not None and kind in ("auto", "custom"):
            if not callable(user):
                raise TypeError(f"The sampler for {name} is not callable: {user!r}.")
            models.append(
                ConditionalModel(
                    index=j,
                    name=name,
                    kind="custom",
                    r2=float("nan"),
                    n_train=n,
                    _sampler=user,
                    _X=X,
                    _n_features=p,
                )
            )
            continue
        if kind == "custom":
            raise ValueError(f"kind 'custom' for {name} needs a sampler.")
        x = X[:, j]
        levels = np.unique(x)
        if levels.size == 1:
            raise UntestableVariableError(
                f"{name} is constant: its conditional model cannot be fitted; drop it.", name
            )
        discrete = _is_discrete(levels, max_levels)
        if n_folds < 2 and kind in ("boosting", "classifier"):
            raise ValueError(f"kind {kind!r} needs at least 4 rows (2 folds of 2); got {n}.")
        if n_folds < 2 and kind == "auto":  # too few rows to compare models held out
            kind = ("logistic" if levels.size == 2 else "multinomial") if discrete else "gaussian"
        if kind in ("auto", "classifier"):
            codes = np.searchsorted(levels, x) if discrete or kind == "classifier" else None
            folds = _boosting.fold_ids(n, n_folds, seeds[j], codes)
        if kind == "auto":
            if discrete:
                model = _fit_auto_discrete(X, j, name, levels, C, folds, boosting)
            else:
                model = _fit_auto_continuous(X, j, name, ridge, folds, boosting)
            _warn_r2(
                name,
                model.r2,
                model.kind != "gaussian" and model.kind != "boosting",
                held_out=model.kind == "boosting" or model.kind == "classifier",
            )
            models.append(model)
            continue
        if kind == "boosting":
            folds = _boosting.fold_ids(n, n_folds, seeds[j])
            model = _fit_boosted(X, j, name, folds, boosting)
            _warn_r2(name, model.r2, pseudo=False, held_out=True)
            models.append(model)
            continue
        if kind == "classifier":
            if levels.size > max_levels:
                raise ValueError(
                    f"kind 'classifier' needs a column with at most {max_levels} levels "
                    f"(max_levels); {name} has {levels.size} distinct values."
                )
            model = _fit_classifier(X, j, name, levels, folds, boosting)
            _warn_r2(name, model.r2, pseudo=True, held_out=True)
            models.append(model)
            continue
        if kind == "logistic" and levels.size != 2:
            raise ValueError(
                f"kind 'logistic' needs a binary column; {name} has {levels.size} distinct values."
            )
        if kind == "multinomial":
            if levels.size > max_levels or not np.all(levels == np.round(levels)):
                raise ValueError(
                    f"kind 'multinomial' needs integer codes with at most {max_levels} levels; "
                    f"{name} has {levels.size} distinct values"
                    + ("" if np.all(levels == np.round(levels)) else ", not all integers")
                    + "."
                )
        if kind in ("logistic", "multinomial"):
            models.append(_fit_logistic(X, j, name, kind, levels, C))
        else:
            models.append(_fit_gaussian(X, j, name, kind, ridge))
    return models
