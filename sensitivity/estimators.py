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
from sklearn.utils.validation import check_is_fitted, validate_data

from . import adapters
from . import inference as _inference
from .methods import weights as _weights
from .network import MLPBatch
from .result import importance_frame

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
        """What ``_statistic`` receives for the fitted estimator (an MLPBatch by default)."""
        return adapters.to_mlp_batch(
            fitted, feature_names=self._feature_names, output_names=output_names
        )

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
        if self.n_permutations or self.n_bootstrap:  # a test retrains: y must be usable
            _inference.check_target(y, is_classifier=_is_classifier(self.estimator))
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
        output_names = _output_names_from_y(y, self.estimator_)
        model = self._model_view(self.estimator_, output_names)
        self.output_names_ = tuple(model.output_names)
        if not (self.n_permutations or self.n_bootstrap):
            stats = self._statistic(model, X_arr, y)
            self.statistics_ = {k: np.asarray(v)[0] for k, v in stats.items()}
            self.importances_ = self._frame(self.statistics_)
            return self
        # Inference: the importances, estimator_ and the null distribution all come from
        # networks trained by one procedure (see sensitivity.inference.run_inference).
        res = _inference.run_inference(
            self,
            X_arr,
            y,
            fitted=self.estimator_,
            feature_names=self._feature_names,
            output_names=self.output_names_,
            model_view=self._model_view,
            trainer=getattr(self, "trainer", "auto"),
            fit_params=fit_params,
        )
        if res.estimator is not None:
            self.estimator_ = res.estimator
        self.statistics_ = res.statistics
        self.null_distribution_ = res.null_distribution
        self.bootstrap_distribution_ = res.bootstrap_distribution
        if res.path_p_value is not None:
            self.path_p_values_ = res.path_p_value
        self.inference_ = res.info
        self.importances_ = self._frame(
            self.statistics_,
            p_value=res.p_value,
            p_adjusted=res.p_adjusted,
            ci_low=res.ci_low,
            ci_high=res.ci_high,
        )
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
        Seeds the initial weights, permutations and resamples of the test.
    n_jobs : int or None
        joblib workers for the chunks of networks (``joblib.parallel_config(backend="dask")``
        sends them to a Dask cluster). Results do not depend on it.
    verbose : int, default=0
        A tqdm progress bar while networks train.
    null : {"response", "variable"}, default="response"
        ``"response"``: Olden & Jackson's (2002) test, permuting ``y`` (tests the global null
        that ``y`` is independent of the inputs). ``"variable"``: permutes each ``x_j`` alone
        (a per-variable test); ``n_permutations`` networks per variable.
    n_init : int, default=1
        Networks trained from random initial weights on the real data; the best (lowest
        loss) is kept with its initial weights, from which every null and bootstrap network
        is retrained. Olden & Jackson (2002) use several; but choosing the initial weights
        on the real data and not on the permuted ones breaks exchangeability: with 5 the
        test was liberal (7.1% of p <= 0.05 under the null, ``benchmarks/bench_validity.py``),
        with 1 it is exact.
    train_alpha : float, "auto" or "estimator", default="auto"
        L2 penalty (scikit-learn's ``alpha`` units: ``alpha / (2n) * ||W||^2``) of the test's
        trainer, which standardizes inputs and a regression target; ``"estimator"`` uses the
        wrapped estimator's ``alpha``; ``"auto"``: 30.0 for relu (and identity) hidden units,
        1.0 for logistic and tanh ones. Weak penalties (scikit-learn's default 1e-4) let the
        networks fitted to permuted ``y`` overfit noise, grow larger weights than the real
        network and remove the test's power. Measured on make_friedman1 (n=500, 199
        permutations, Holm): relu nets (``MLPRegressor(hidden_layer_sizes=(10,))``) flag
        x1, x2, x4, x5 in 0/10 seeds with 1.0, 6/10 with 10.0 and 10/10 with 30.0 (no noise
        variable flagged); logistic nets work with 1.0, while with 30.0 their null networks
        collapse to constants (``benchmarks/bench_power.py``). The test then asks whether a
        regularized network of this architecture uses a variable more than such networks
        fitted to noise do.
    trainer : {"auto", "batched", "estimator"}, default="auto"
        ``"batched"``: the batched trainer (:mod:`sensitivity.training`) reproducing the
        network's architecture and loss; ``"estimator"``: refit clones of ``estimator``
        through joblib (any scikit-learn estimator; slower); ``"auto"``: batched when the
        model is an MLP it can reproduce.
    train_params : dict or None
        Trainer settings: ``max_iter`` (200), ``tol`` (1e-4, max-abs gradient), ``ftol``
        (1e-9), ``dtype`` (torch.float32), ``device`` (None: CPU; e.g. "cuda"),
        ``chunk_size`` (None: from ``memory_budget_mb``, 256).

    With a test (``n_permutations`` or ``n_bootstrap`` > 0) the reported importances are those
    of the network the test's trainer fitted on the real data, and ``estimator_`` holds that
    network (a copy of the fitted estimator with its weights), so importances, ``estimator_``
    and the null distribution come from one training procedure.
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
        null: str = "response",
        n_init: int = 1,
        train_alpha: float | str = "auto",
        trainer: str = "auto",
        train_params: dict | None = None,
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
        self.null = null
        self.n_init = n_init
        self.train_alpha = train_alpha
        self.trainer = trainer
        self.train_params = train_params
        self.variant = variant

    def _statistic(self, model: MLPBatch, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        return {"importance": _weights.garson(model, self.variant)}


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
    null_distribution_ : ndarray (n_permutations, n_outputs, n_features)
        The importances of the networks trained under the null (with a test).
    bootstrap_distribution_ : ndarray (n_bootstrap, n_outputs, n_features) or None
    path_p_values_ : ndarray (n_outputs, n_features, n_hidden)
        Two-sided p-values of each input -> hidden unit -> output path ``w_ij v_jk`` (Olden &
        Jackson 2002), with a test on a single-hidden-layer network.
    inference_ : dict
        Diagnostics of the test's training (losses, iterations, convergence).
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
        null: str = "response",
        n_init: int = 1,
        train_alpha: float | str = "auto",
        trainer: str = "auto",
        train_params: dict | None = None,
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
        self.null = null
        self.n_init = n_init
        self.train_alpha = train_alpha
        self.trainer = trainer
        self.train_params = train_params

    def _statistic(self, model: MLPBatch, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        return {"importance": _weights.olden(model)}

    def _path_statistic(self, model: MLPBatch) -> np.ndarray | None:
        """Per-path contributions ``(B, n_out, n_feat, n_hidden)`` (one hidden layer only)."""
        if model.n_hidden_layers != 1:
            return None
        return _weights.olden_paths(model)


# ---------------------------------------------------------------------- plain functions
def _weight_frame(values: np.ndarray, batch: MLPBatch, *, signed: bool, method: str):
    return importance_frame(
        values[0], batch.feature_names, batch.output_names, signed=signed, method=method
    )


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
    batch = adapters.to_mlp_batch(model, feature_names=feature_names)
    values = _weights.garson(batch, variant)
    return _weight_frame(values, batch, signed=False, method="Garson")


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
    batch = adapters.to_mlp_batch(model, feature_names=feature_names)
    return _weight_frame(_weights.olden(batch), batch, signed=True, method="Olden")
