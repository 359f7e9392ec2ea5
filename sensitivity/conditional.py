"""Conditional models of one input given the others, and draws from them.

A conditional test of variable :math:`x_j` (``DESIGN.md`` §4) replaces :math:`x_j` by draws
:math:`\\tilde x_j \\sim P(x_j \\mid x_{-j})` and compares a statistic computed with the real
column against the same statistic computed with the draws. Under
:math:`H_{0j}: y \\perp x_j \\mid x_{-j}` the real column is exchangeable with the draws, so the
comparison gives an exact-in-the-limit p-value: the conditional randomization test of Candès,
Fan, Janson & Lv (2018) retrains on the drawn columns, the holdout randomization test of Tansey,
Veitch, Zhang, Rabadan & Blei (2022) evaluates a fitted model on held-out rows with drawn columns.
Both need a model of :math:`x_j \\mid x_{-j}`; this module fits one per requested column.

Kinds of model (``kind``):

``"gaussian"``
    Linear regression with intercept of :math:`x_j` on the other columns,
    :math:`x_j = \\beta_0 + x_{-j}^\\top\\beta + \\varepsilon`, fitted by least squares on the
    standardized other columns (a minimum-norm solution if the *other* columns are collinear
    among themselves: the fitted values, the only thing the draws use, are still the unique
    projection; ``ridge`` adds :math:`\\lambda I` to the standardized Gram matrix if asked).
    Draws are fitted values plus residuals resampled:

    * in-sample (the rows the model was fitted on): each draw is the fitted values plus a
      *permutation* of the fitted residuals :math:`\\hat\\varepsilon`, projected onto the
      orthogonal complement of :math:`\\mathrm{span}(1, x_{-j})` and rescaled to the norm of
      :math:`\\hat\\varepsilon`. Every draw then has exactly the real column's fitted values
      and residual sum of squares, the sufficient statistics of the gaussian linear model: only
      the direction of the residual varies, as it does under the model (conditioning on
      sufficient statistics: Huang & Janson 2020, Ann. Statist. 48). Raw permuted residuals
      are not orthogonal to :math:`x_{-j}`, so their draws had a larger part explained by the
      other inputs and a smaller unique part than the real column (by about :math:`p/n`); a
      network can tell the difference, which made the test liberal with strongly correlated
      inputs (Toeplitz-0.8, ``benchmarks/bench_conditional.py``). The observed column is
      itself one of the draws (the identity permutation), and the permuted residuals keep the
      empirical residual distribution approximately (exactly before the projection).
      ``"gaussian-normal"`` draws are made the same way from normal noise, which makes them
      exact under the gaussian linear model (uniform residual direction).
    * new rows: fitted values :math:`\\hat\\beta_0 + z^\\top\\hat\\beta` plus residuals drawn
      with replacement, again unscaled, i.e. with the maximum-likelihood variance
      :math:`\\mathrm{RSS}/n`, whose expectation is :math:`\\sigma^2(1 - p/n)` (``p``
      coefficients with the intercept). The fitted mean of a new row is off by
      :math:`(\\hat\\beta - \\beta)^\\top z`, whose mean square over new rows is about
      :math:`\\sigma^2 p/n`; the two add up to :math:`\\sigma^2`, so a draw's expected squared
      distance from the true conditional mean equals the real column's. Scaling the residuals
      by :math:`\\sqrt{n/(n-p)}` (the unbiased :math:`\\hat\\sigma^2`) would over-disperse
      the draws by about :math:`2p/n`, which a sensitive model can tell from the real column.
      ``ConditionalModel.new_row_scale`` holds the factor (1).

    ``r2`` is the ordinary :math:`R^2 = 1 - \\mathrm{RSS}/\\mathrm{TSS}`.
``"gaussian-normal"``
    The same regression with normal noise :math:`N(0, \\hat\\sigma^2)`,
    :math:`\\hat\\sigma^2 = \\mathrm{RSS}/n` (maximum likelihood, for the reasons above),
    on new rows; in-sample the noise is projected and rescaled as above.
``"logistic"``
    A column with two distinct values :math:`v_0 < v_1`: logistic regression of
    :math:`1\\{x_j = v_1\\}` on the standardized other columns (scikit-learn
    ``LogisticRegression`` with a large ``C``, i.e. essentially unpenalised; the finite ``C``
    keeps the fit defined under quasi-separation). A column whose levels the fit classifies
    without error (complete separation: the unpenalised fit would give probabilities 0 and 1
    and draws equal to the column) is an error. Draws are Bernoulli(:math:`\\hat\\pi(z)`) mapped
    back to :math:`v_0, v_1`.
``"multinomial"``
    An integer-coded categorical column with at most ``max_levels`` levels, only when asked
    (``kinds`` says ``"multinomial"`` or ``"categorical"``): multinomial logistic regression,
    draws from the predicted class probabilities.

    For both, ``r2`` is McFadden's pseudo-:math:`R^2 = 1 - \\ell(\\hat\\theta) / \\ell_0`, the
    log-likelihood of the fit against that of the intercept-only model (the observed level
    frequencies).
``"custom"``
    A user sampler ``sampler(X, j, rng, n_draws) -> (n_draws, n_rows)``; ``r2`` is NaN.

``kinds="auto"`` chooses ``"logistic"`` for a column with exactly two distinct values and
``"gaussian"`` otherwise; integer columns with few levels are *not* treated as categorical unless
``kinds`` says so (a count or an ordinal score is often better modelled by a regression).

References
----------
Candès, E., Fan, Y., Janson, L. & Lv, J. (2018). Panning for gold: 'model-X' knockoffs for high
dimensional controlled variable selection. *Journal of the Royal Statistical Society B* 80(3),
551-577.

Tansey, W., Veitch, V., Zhang, H., Rabadan, R. & Blei, D. M. (2022). The holdout randomization
test for feature selection in black box models. *Journal of Computational and Graphical
Statistics* 31(1), 151-162.

McFadden, D. (1974). Conditional logit analysis of qualitative choice behavior. In P. Zarembka
(ed.), *Frontiers in Econometrics*, 105-142. Academic Press.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from ._warnings import warn

__all__ = [
    "KINDS",
    "ConditionalModel",
    "LowPowerWarning",
    "fit_conditional_models",
]

KINDS = ("gaussian", "gaussian-normal", "logistic", "multinomial", "custom")
"""The kinds of conditional model (``"binary"`` and ``"categorical"`` are accepted aliases)."""

_ALIASES = {"binary": "logistic", "categorical": "multinomial", "normal": "gaussian-normal"}

R2_WARN = 0.95
"""Above this fit the drawn column is close to the real one and a test has little power."""

_R2_EXACT = 1.0 - 1e-9


def _orthonormal_basis(A: np.ndarray) -> np.ndarray:
    """Orthonormal basis ``(n, r)`` of the column space of ``A`` (rank by singular values)."""
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    keep = s > s[0] * max(A.shape) * np.finfo(np.float64).eps
    return U[:, keep]


"""At or above this R^2 the column counts as an exact linear function of the others."""

Sampler = Callable[[np.ndarray, int, np.random.Generator, int], np.ndarray]


class LowPowerWarning(UserWarning):
    """A variable is nearly determined by the other inputs: conditional tests lose power."""


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
        ``"gaussian"``, ``"gaussian-normal"``, ``"logistic"``, ``"multinomial"`` or
        ``"custom"``.
    r2 : float
        Fit of :math:`x_j` on the others: :math:`R^2` for the gaussian kinds, McFadden's
        pseudo-:math:`R^2` for logistic and multinomial, NaN for custom.
    n_train : int
        Rows the model was fitted on.
    levels : ndarray or None
        The values of a binary or categorical column (sorted), else None.
    coef, intercept : ndarray / float or None
        Gaussian kinds: the regression on the *raw* other columns,
        :math:`E[x_j \\mid z] = \\text{intercept} + z_{-j}^\\top \\text{coef}`.
    noise_sd : float
        Gaussian kinds: the maximum-likelihood residual sd
        :math:`\\hat\\sigma = \\sqrt{\\mathrm{RSS}/n}` (the sd of the residuals).
    new_row_scale : float
        ``"gaussian"``: factor applied to the resampled residuals on new rows (1: the raw
        residuals, see the module docstring; ``sqrt(n / (n - p))`` would give them the unbiased
        variance instead).
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
    _fitted: np.ndarray | None = field(default=None, repr=False)  # (n,) mean or (n, K) probs
    _residuals: np.ndarray | None = field(default=None, repr=False)
    _basis: np.ndarray | None = field(default=None, repr=False)  # (n, r) of span(1, x_-j)
    _classifier: LogisticRegression | None = field(default=None, repr=False)
    _center: np.ndarray | None = field(default=None, repr=False)
    _scale: np.ndarray | None = field(default=None, repr=False)
    _sampler: Sampler | None = field(default=None, repr=False)
    _X: np.ndarray | None = field(default=None, repr=False)
    _n_features: int = field(default=0, repr=False)

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
        """Conditional mean :math:`E[x_j \\mid x_{-j}]` (gaussian kinds), fitted or new rows."""
        if self.kind not in ("gaussian", "gaussian-normal"):
            raise TypeError(f"predict_mean needs a gaussian model; {self.name} is {self.kind}.")
        if Z is None:
            return self._fitted.copy()
        Z = self._check_rows(Z)
        return self.intercept + self._others(Z) @ self.coef

    def predict_proba(self, Z: np.ndarray | None = None) -> np.ndarray:
        """Probabilities ``(n_rows, n_levels)`` of the levels (logistic / multinomial kinds)."""
        if self.kind not in ("logistic", "multinomial"):
            raise TypeError(f"predict_proba needs a logistic model; {self.name} is {self.kind}.")
        if Z is None:
            return self._fitted.copy()
        Z = self._check_rows(Z)
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


def _exact_error(name: str, what: str) -> ValueError:
    return ValueError(
        f"{name} is {what} of the other inputs (R^2 = 1): draws from its conditional model "
        f"would equal {name} itself and a conditional test of it has no power. Drop {name} "
        "or the inputs that determine it."
    )


def _warn_r2(name: str, r2: float, pseudo: bool) -> None:
    if r2 > R2_WARN:
        which = "McFadden pseudo-R^2" if pseudo else "R^2"
        warn(
            f"{name} is nearly determined by the other inputs ({which} = {r2:.3f} > "
            f"{R2_WARN}): its conditional draws stay close to it, so a conditional test of "
            f"{name} has low power.",
            LowPowerWarning,
        )


def _fit_gaussian(X, j, name, kind, ridge) -> ConditionalModel:
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


def _fit_logistic(X, j, name, kind, levels, C) -> ConditionalModel:
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
        raise ValueError(
            f"{name} is perfectly predicted by the other inputs (a linear function of them "
            f"separates its levels, so the unpenalised logistic fit diverges; McFadden "
            f"pseudo-R^2 = {r2:.4f}): draws from its conditional model would "
            f"equal {name} itself and a conditional test of it has no power. Drop {name} or the "
            "inputs that determine it."
        )
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
) -> list[ConditionalModel]:
    """Fit a model of each requested column given the other columns of ``X``.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n, p)
        The inputs (the training rows); numeric, finite.
    columns : sequence of int or str, optional
        Columns to model (indices or names); all by default.
    kinds : str, list or dict
        ``"auto"`` (two distinct values: ``"logistic"``; else ``"gaussian"``), one kind for all
        columns, a list (one per requested column) or a dict (name or index -> kind; missing
        ones ``"auto"``). Kinds: ``"gaussian"``, ``"gaussian-normal"``, ``"logistic"``
        (``"binary"``), ``"multinomial"`` (``"categorical"``), ``"custom"``. See the module
        docstring for each model and its draws.
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
        Most levels a ``"multinomial"`` column may have (integer codes only).

    Returns
    -------
    list of ConditionalModel
        In the order of ``columns``.

    Raises
    ------
    ValueError
        NaN or infinite values, a constant requested column, no more rows than columns
        (``n <= p``), a column that is an exact linear function of the others (or a binary
        column perfectly separated by them), a kind that does not fit the column.

    Warns
    -----
    LowPowerWarning
        When a column's (pseudo-):math:`R^2` exceeds 0.95.
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
            raise ValueError(
                f"{name} is constant: its conditional model cannot be fitted; drop it."
            )
        if kind == "auto":
            kind = "logistic" if levels.size == 2 else "gaussian"
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
