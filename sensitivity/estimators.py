"""Estimator classes and plain functions: thin orchestration of adapters, methods, inference
and result (``DESIGN.md`` §2). No formulas live here.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.base import is_classifier as _is_classifier
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from . import adapters
from .methods import weights as _weights
from .network import MLPBatch
from .result import SensitivityResult, importance_frame

__all__ = ["BaseSensitivity", "Garson", "Olden", "garson", "olden"]


def _check_params(est: BaseSensitivity) -> None:
    """Validate the common parameters with messages that name the problem."""

    def nonneg_int(name: str) -> None:
        v = getattr(est, name)
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be a non-negative integer; got {v!r}.")

    nonneg_int("n_permutations")
    nonneg_int("n_bootstrap")
    if not isinstance(est.alpha, numbers.Real) or not 0 < est.alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {est.alpha!r}.")
    if est.max_features is not None and (
        not isinstance(est.max_features, numbers.Integral) or est.max_features < 1
    ):
        raise ValueError(
            f"max_features must be a positive integer or None; got {est.max_features!r}."
        )
    if est.estimator is None:
        raise ValueError(f"{type(est).__name__} needs an estimator (a network to analyse).")


def _output_names_from_y(y, fitted) -> tuple[str, ...] | None:
    """Output names from the target (Series name / DataFrame columns) for regressors."""
    if y is None or _is_classifier(fitted):
        return None
    if isinstance(y, pd.DataFrame):
        return tuple(str(c) for c in y.columns)
    if isinstance(y, pd.Series) and y.name is not None:
        return (str(y.name),)
    return None


class BaseSensitivity(MetaEstimatorMixin, SelectorMixin, BaseEstimator):
    """Common machinery of the sensitivity estimators (not for direct use).

    Subclasses define ``_signed`` (whether the statistic is signed; signed statistics are
    tested two-sided on ``|value|``, magnitudes upper-tailed) and ``_statistic(model, X, y)``
    (``X`` the validated float array, ``y`` the target as passed to ``fit`` or None), which
    returns a dict of arrays ``(B, n_outputs, n_features)`` (``B`` networks when ``model`` is an
    MLPBatch of ``B``) with at least the key ``"importance"``; ``"direction"`` (a signed
    companion statistic) and other keys become columns of ``importances_``.
    """

    _signed: bool = False
    _method_name: str = ""

    # ------------------------------------------------------------------ hooks
    def _model_view(self, fitted, output_names):
        """What ``_statistic`` receives for the fitted estimator (an MLPBatch by default).

        A Pipeline starting with a ColumnTransformer (one-hot encoders, scalers) gives the
        MLPBatch on the encoded columns; ``self._encoding_`` then maps them back to the
        original variables and ``_statistic`` sums each group with :meth:`_group`.
        """
        self._encoding_ = None
        if adapters.is_encoded_mlp_model(fitted):
            self._encoding_ = adapters.to_encoded_mlp(
                fitted, feature_names=self._feature_names, output_names=output_names
            )
            return self._encoding_.batch
        return adapters.to_mlp_batch(
            fitted, feature_names=self._feature_names, output_names=output_names
        )

    def _group(self, values):
        """Per-encoded-column values ``(..., n_encoded)`` summed per original variable.

        Identity unless the network sits behind a ColumnTransformer (see ``_model_view``):
        the importance of a one-hot encoded variable is the sum over its indicator columns.
        """
        encoding = getattr(self, "_encoding_", None)
        return values if encoding is None else encoding.group(values)

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None, **fit_params):
        """Fit the network (unless ``prefit``), compute the importances and run the tests.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric inputs without missing values; DataFrame columns name the variables.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
            Target; required unless ``prefit=True``.
        **fit_params : dict
            Passed to the wrapped estimator's ``fit``.

        Returns
        -------
        self
        """
        _check_params(self)
        X_arr = validate_data(self, X, reset=True, dtype=np.float64, ensure_all_finite=True)
        self._feature_names = (
            tuple(str(c) for c in self.feature_names_in_)
            if hasattr(self, "feature_names_in_")
            else tuple(f"x{i}" for i in range(X_arr.shape[1]))
        )
        if self.prefit:
            check_is_fitted(self.estimator)
            self.estimator_ = self.estimator
        else:
            if y is None:
                raise ValueError(
                    f"{type(self).__name__}.fit needs y to fit the network; pass y, or "
                    "prefit=True with an already fitted network."
                )
            self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        if self.n_permutations or self.n_bootstrap:
            raise NotImplementedError(
                "Randomization tests and bootstrap intervals are not available yet; use "
                "n_permutations=0 and n_bootstrap=0."
            )
        model = self._model_view(self.estimator_, _output_names_from_y(y, self.estimator_))
        self.output_names_ = tuple(model.output_names)
        stats = self._statistic(model, X_arr, y)
        self.statistics_ = {k: np.asarray(v)[0] for k, v in stats.items()}
        self.importances_ = self._frame(self.statistics_)
        return self

    def _frame(self, stats: dict[str, np.ndarray], **inference) -> pd.DataFrame:
        extra = {k: v for k, v in stats.items() if k not in ("importance", "direction")}
        return importance_frame(
            stats["importance"],
            self._feature_names,
            self.output_names_,
            signed=self._signed,
            alpha=self.alpha,
            direction=stats.get("direction"),
            extra=extra,
            method=self._method_name,
            **inference,
        )

    # ------------------------------------------------------------------ delegation
    def score(self, X, y, sample_weight=None) -> float:
        """The wrapped network's ``score`` (R² for regressors, accuracy for classifiers)."""
        check_is_fitted(self, "estimator_")
        if sample_weight is None:
            return float(self.estimator_.score(X, y))
        return float(self.estimator_.score(X, y, sample_weight=sample_weight))

    def predict(self, X):
        """The wrapped network's ``predict`` on the original variables (all of them)."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(lambda self: hasattr(self.estimator, "predict_proba"))
    def predict_proba(self, X):
        """The wrapped classifier's ``predict_proba`` on the original variables."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @property
    def results_(self) -> SensitivityResult:
        """The fitted analysis as a report object (summary, LaTeX/Markdown/CSV, plot).

        See :class:`sensitivity.result.SensitivityResult`.
        """
        check_is_fitted(self, "importances_")
        common = set(BaseSensitivity._COMMON_PARAMS)
        settings = {k: v for k, v in self.get_params(deep=False).items() if k not in common}
        notes = []
        encoding = getattr(self, "_encoding_", None)
        if encoding is not None and any(encoding.one_hot):
            grouped = [
                n for n, oh in zip(encoding.original_names, encoding.one_hot, strict=True) if oh
            ]
            notes.append(
                "One-hot encoded variables (importance summed over their indicator columns): "
                + ", ".join(grouped)
            )
        return SensitivityResult(
            self.importances_,
            self._method_name or type(self).__name__,
            model=adapters.describe_model(self.estimator_),
            n_samples=getattr(self, "n_samples_", None),
            signed=self._signed,
            n_permutations=self.n_permutations,
            n_bootstrap=self.n_bootstrap,
            alpha=self.alpha,
            p_adjust=self.p_adjust,
            settings=settings,
            notes=notes,
        )

    def summary(self, digits: int = 4) -> str:
        """Text report of the fitted analysis (:meth:`SensitivityResult.summary`)."""
        return self.results_.summary(digits)

    _COMMON_PARAMS = (
        "estimator",
        "prefit",
        "n_permutations",
        "n_bootstrap",
        "alpha",
        "p_adjust",
        "max_features",
        "random_state",
        "n_jobs",
        "verbose",
    )

    def _get_support_mask(self) -> np.ndarray:
        """Variables kept by ``transform``.

        With a test: those significant for at least one output (at most ``max_features`` of
        them, best ranked first). Without: the ``max_features`` best ranked (all if None).
        """
        check_is_fitted(self, "importances_")
        frame = self.importances_
        names = list(self._feature_names)
        tested = bool(frame["p_value"].notna().any())
        best = frame.groupby(level="variable", sort=False)["rank"].min()
        if tested:
            sig = frame.groupby(level="variable", sort=False)["significant"].any()
            best = best[sig.reindex(best.index).to_numpy()]
        best = best.sort_values(kind="stable")
        if self.max_features is not None:
            best = best.iloc[: self.max_features]
        keep = set(best.index)
        return np.array([n in keep for n in names], dtype=bool)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


_COMMON_DOC = """
    estimator : estimator object
        The network: an ``MLPRegressor``/``MLPClassifier``, a Pipeline of affine scalers
        ending in one, or a torch ``nn.Sequential`` (with ``prefit=True``).
    prefit : bool, default=False
        Use ``estimator`` as already fitted instead of fitting a clone on ``(X, y)``.
    n_permutations : int, default=0
        Permutations of the randomization test (0: no test).
    n_bootstrap : int, default=0
        Bootstrap resamples for confidence intervals (0: none).
    alpha : float, default=0.05
        Level of the tests and ``1 - alpha`` the confidence level of the intervals.
    p_adjust : str or None, default="holm"
        A ``statsmodels.stats.multitest.multipletests`` method, or None.
    max_features : int or None, default=None
        ``transform`` keeps at most this many variables (see ``get_support``).
    random_state : int, RandomState or None
    n_jobs : int or None
    verbose : int, default=0
"""


class Garson(BaseSensitivity):
    __doc__ = (
        """Garson's algorithm (relative importance from absolute connection weights).

    Single hidden layer only. See :func:`sensitivity.methods.weights.garson` for the formulas
    of both variants. Magnitudes: the test is upper-tailed.

    Parameters
    ----------"""
        + _COMMON_DOC
        + """    variant : {"goh", "gevrey"}, default="goh"
        ``"goh"``: Garson (1991) as in Goh (1995), weighting by the hidden-to-output weights;
        ``"gevrey"``: the form of NeuralNetTools and caret (Gevrey et al. 2003).

    Attributes
    ----------
    estimator_ : estimator
        The fitted network.
    importances_ : pandas.DataFrame
        Ranked table (``DESIGN.md`` §3).
    statistics_ : dict of ndarray
        Raw statistics, ``(n_outputs, n_features)`` each.
    output_names_ : tuple of str
    feature_names_in_ : ndarray of str
        Only when X had column names.
    n_features_in_ : int

    References
    ----------
    Garson (1991), AI Expert 6(4); Goh (1995), Artif. Intell. Eng. 9; Gevrey, Dimopoulos & Lek
    (2003), Ecol. Model. 160.
    """
    )

    _signed = False
    _method_name = "Garson"

    def __init__(
        self,
        estimator=None,
        *,
        prefit: bool = False,
        n_permutations: int = 0,
        n_bootstrap: int = 0,
        alpha: float = 0.05,
        p_adjust: str | None = "holm",
        max_features: int | None = None,
        random_state=None,
        n_jobs: int | None = None,
        verbose: int = 0,
        variant: str = "goh",
    ) -> None:
        self.estimator = estimator
        self.prefit = prefit
        self.n_permutations = n_permutations
        self.n_bootstrap = n_bootstrap
        self.alpha = alpha
        self.p_adjust = p_adjust
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.variant = variant

    def _statistic(self, model: MLPBatch, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        return {"importance": self._group(_weights.garson(model, self.variant))}


class Olden(BaseSensitivity):
    __doc__ = (
        """Olden's connection-weight importance (signed, any number of hidden layers).

    ``importance[k, i] = (W1 W2 ... WL)[i, k]``; see :func:`sensitivity.methods.weights.olden`.
    Signed: the test is two-sided on ``|importance|``.

    Parameters
    ----------"""
        + _COMMON_DOC
        + """
    Attributes
    ----------
    estimator_ : estimator
        The fitted network.
    importances_ : pandas.DataFrame
        Ranked table (``DESIGN.md`` §3) with a ``direction`` column.
    statistics_ : dict of ndarray
        Raw statistics, ``(n_outputs, n_features)`` each.
    output_names_ : tuple of str
    n_features_in_ : int

    References
    ----------
    Olden & Jackson (2002), Ecol. Model. 154; Olden, Joy & Death (2004), Ecol. Model. 178.
    """
    )

    _signed = True
    _method_name = "Olden"

    def __init__(
        self,
        estimator=None,
        *,
        prefit: bool = False,
        n_permutations: int = 0,
        n_bootstrap: int = 0,
        alpha: float = 0.05,
        p_adjust: str | None = "holm",
        max_features: int | None = None,
        random_state=None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.prefit = prefit
        self.n_permutations = n_permutations
        self.n_bootstrap = n_bootstrap
        self.alpha = alpha
        self.p_adjust = p_adjust
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _statistic(self, model: MLPBatch, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        return {"importance": self._group(_weights.olden(model))}


# ---------------------------------------------------------------------- plain functions
def _weight_view(model, feature_names):
    """``(batch, names, group)`` for the plain weight functions.

    For a Pipeline starting with a ColumnTransformer, ``batch`` is the network on the encoded
    columns and ``group`` sums its values per original variable (named by ``names``);
    otherwise ``group`` is the identity and ``names`` the batch's feature names.
    """
    if adapters.is_encoded_mlp_model(model):
        enc = adapters.to_encoded_mlp(model, feature_names=feature_names)
        return enc.batch, enc.original_names, enc.group
    batch = adapters.to_mlp_batch(model, feature_names=feature_names)
    return batch, batch.feature_names, lambda values: values


def _weight_frame(values: np.ndarray, batch: MLPBatch, names, *, signed: bool, method: str):
    return importance_frame(values[0], names, batch.output_names, signed=signed, method=method)


def garson(
    model, variant: str = "goh", *, feature_names: Sequence[str] | None = None
) -> pd.DataFrame:
    """Garson's importance of a fitted single-hidden-layer MLP as a ranked DataFrame.

    Parameters
    ----------
    model : fitted MLP
        Anything :func:`sensitivity.adapters.to_mlp_batch` accepts.
    variant : {"goh", "gevrey"}
        See :func:`sensitivity.methods.weights.garson`.
    feature_names : sequence of str, optional

    Returns
    -------
    pandas.DataFrame
        The table of ``DESIGN.md`` §3 without inference (p-values and intervals NaN).
    """
    batch, names, group = _weight_view(model, feature_names)
    values = group(_weights.garson(batch, variant))
    return _weight_frame(values, batch, names, signed=False, method="Garson")


def olden(model, *, feature_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Olden's connection-weight importance of a fitted MLP as a ranked DataFrame.

    Parameters
    ----------
    model : fitted MLP
        Anything :func:`sensitivity.adapters.to_mlp_batch` accepts.
    feature_names : sequence of str, optional

    Returns
    -------
    pandas.DataFrame
        The table of ``DESIGN.md`` §3 without inference, with a ``direction`` column.
    """
    batch, names, group = _weight_view(model, feature_names)
    values = group(_weights.olden(batch))
    return _weight_frame(values, batch, names, signed=True, method="Olden")
