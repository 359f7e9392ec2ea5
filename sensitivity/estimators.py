"""Estimator classes and plain functions: thin orchestration of adapters, methods, inference
and result (``DESIGN.md`` §2). No formulas live here.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import replace as _replace

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.base import is_classifier as _is_classifier
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, validate_data

from . import adapters
from . import inference as _inference
from .methods import _data as _pdata
from .methods import derivatives as _derivatives
from .methods import perturbation as _perturbation
from .methods import profile as _profile
from .methods import weights as _weights
from .network import MLPBatch
from .result import SensitivityResult, importance_frame

__all__ = [
    "MIV",
    "BaseSensitivity",
    "Dimopoulos",
    "Garson",
    "InputPerturbation",
    "LekProfile",
    "Olden",
    "PermutationImportance",
    "dimopoulos",
    "garson",
    "input_perturbation",
    "lekprofile",
    "miv",
    "olden",
    "permutation",
]


def _check_params(est: BaseSensitivity) -> None:
    """Validate the common parameters with messages that name the problem."""

    _inference.check_integer(est.n_permutations, "n_permutations", minimum=0)
    _inference.check_integer(est.n_bootstrap, "n_bootstrap", minimum=0)
    if not isinstance(est.alpha, numbers.Real) or not 0 < est.alpha < 1:
        raise ValueError(f"alpha must be in (0, 1); got {est.alpha!r}.")
    _inference.check_integer(est.max_features, "max_features", minimum=1, allow_none=True)
    if est.estimator is None:
        raise ValueError(f"{type(est).__name__} needs an estimator (a network to analyse).")


def _output_names_from_y(y, fitted) -> tuple[str, ...] | None:
    """Output names from the target (Series name / DataFrame columns) for regressors."""
    if y is None or (isinstance(fitted, BaseEstimator) and _is_classifier(fitted)):
        return None  # (torch modules have no sklearn tags; the view decides for them)
    if isinstance(y, pd.DataFrame):
        return tuple(str(c) for c in y.columns)
    if isinstance(y, pd.Series) and y.name is not None:
        return (str(y.name),)
    return None


def _group_encoded(encoding, values, *, signed: bool = False):
    """Values per encoded column ``(..., n_encoded)`` summed per original variable.

    The importance of a one-hot encoded variable is the sum over its indicator columns; for a
    signed statistic, the sum of their absolute values: the indicators of one variable sum to a
    constant, so their signed contributions cancel and a signed sum would hide the variable
    (numeric columns keep their sign). ``encoding`` None: ``values`` unchanged.
    """
    if encoding is None:
        return values
    if signed:
        one_hot = np.array([encoding.one_hot[g] for g in encoding.groups])
        values = np.where(one_hot, np.abs(values), values)
    return encoding.group(values)


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

    def _group(self, values, *, signed: bool = False):
        """Per-encoded-column values summed per original variable (see :func:`_group_encoded`);
        identity unless the network sits behind a ColumnTransformer (see ``_model_view``)."""
        return _group_encoded(getattr(self, "_encoding_", None), values, signed=signed)

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
        # a network behind a ColumnTransformer takes the user's columns as they are (string
        # categories included); everything else must be numeric
        encoded = adapters.is_encoded_mlp_model(self.estimator)
        X_arr = validate_data(
            self, X, reset=True, dtype=None if encoded else np.float64, ensure_all_finite=True
        )
        self.n_samples_ = int(X_arr.shape[0])
        self._feature_names = (
            tuple(str(c) for c in self.feature_names_in_)
            if hasattr(self, "feature_names_in_")
            else tuple(f"x{i}" for i in range(X_arr.shape[1]))
        )
        if self.n_permutations or self.n_bootstrap:  # a test retrains: y must be usable
            _inference.check_target(y, is_classifier=_is_classifier(self.estimator))
        if self.prefit:
            adapters.check_model_fitted(self.estimator)
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
        if not hasattr(self.estimator_, "score"):
            raise TypeError(f"{type(self.estimator_).__name__} has no score method.")
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
                "One-hot encoded variables (importance summed over their indicator columns; "
                "absolute values for a signed statistic): " + ", ".join(grouped)
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
        "null",
        "n_init",
        "train_alpha",
        "trainer",
        "train_params",
    )

    def _set_common_params(self, params: dict) -> None:
        """Store the common parameters from a subclass ``__init__``'s ``locals()`` (scikit-learn
        needs every parameter in each ``__init__`` signature, stored unchanged)."""
        for name in self._COMMON_PARAMS:
            setattr(self, name, params[name])

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
        on the real data and not on the permuted ones breaks the exchangeability of the
        observed and null networks, so the default is 1, for which the test is exact by
        construction (see ``benchmarks/bench_validity.py`` for the measured level).
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
        Trainer settings: ``max_iter`` (100 L-BFGS iterations; at the benchmark's settings
        this already reaches a lower mean training loss than scikit-learn's lbfgs at its
        defaults, ``benchmarks/bench_speed.py``), ``tol`` (1e-4, max-abs gradient), ``ftol``
        (1e-9), ``dtype`` (torch.float32; or "float64"), ``device`` (None: CPU; "cuda"
        needs a CUDA build of torch and a GPU),
        ``chunk_size`` (None: from ``memory_budget_mb``, 256), ``block_size`` (512 networks
        optimized together; part of the result's definition, unlike ``chunk_size`` and
        ``n_jobs``, which never change the numbers).

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
        self._set_common_params(locals())
        self.variant = variant

    def _statistic(self, model: MLPBatch, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        # a single network must have a defined importance; among the networks of a test, a
        # dead one (all weights zero) gets NaN, which the test counts as the least extreme
        undefined = "raise" if model.batch_size == 1 else "nan"
        values = _weights.garson(model, self.variant, undefined=undefined)
        return {"importance": self._group(values)}


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
        self._set_common_params(locals())

    def _statistic(self, model: MLPBatch, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        return {"importance": self._group(_weights.olden(model), signed=True)}

    def _path_statistic(self, model: MLPBatch) -> np.ndarray | None:
        """Per-path contributions ``(B, n_out, n_feat, n_hidden)`` (one hidden layer only)."""
        if model.n_hidden_layers != 1:
            return None
        return _weights.olden_paths(model)


# ---------------------------------------------------------------------- plain functions
def _weight_view(model, feature_names):
    """``(batch, names, encoding)`` for the plain weight functions.

    For a Pipeline starting with a ColumnTransformer, ``batch`` is the network on the encoded
    columns and ``encoding`` maps them to the original variables (named by ``names``; see
    :func:`_group_encoded`); otherwise ``encoding`` is None and ``names`` the batch's names.
    """
    if adapters.is_encoded_mlp_model(model):
        enc = adapters.to_encoded_mlp(model, feature_names=feature_names)
        return enc.batch, enc.original_names, enc
    batch = adapters.to_mlp_batch(model, feature_names=feature_names)
    return batch, batch.feature_names, None


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
    batch, names, encoding = _weight_view(model, feature_names)
    values = _group_encoded(encoding, _weights.garson(batch, variant))
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
    batch, names, encoding = _weight_view(model, feature_names)
    values = _group_encoded(encoding, _weights.olden(batch), signed=True)
    return _weight_frame(values, batch, names, signed=True, method="Olden")


# ====================================================================== prediction-based methods
# MIV, input perturbation, Lek's profile and permutation importance need only predictions, so
# they work for any fitted model: an MLP becomes an MLPBatch (B networks evaluated in one
# batched forward), anything else a ModelFunction (B = 1).


def _prediction_view(model, feature_names, output_names):
    """An MLPBatch for MLPs (batched, exact), else a ModelFunction; both named.

    ``output_names`` (from the target) rename the outputs of regressors only, and only when
    their number matches (a classifier's outputs are its classes).
    """
    view = None
    if adapters.is_mlp_model(model):
        try:
            view = adapters.to_mlp_batch(model, feature_names=feature_names)
        except TypeError:  # e.g. an nn.Sequential with layers the MLPBatch does not model
            view = None
    if view is None:
        view = adapters.as_model_function(model)
        if feature_names is not None:
            view = _replace(view, feature_names=tuple(feature_names))
    if (
        output_names is not None
        and not view.is_classifier
        and len(output_names) == len(view.output_names)
    ):
        view = _replace(view, output_names=tuple(str(o) for o in output_names))
    return view


def _frame_names(X, feature_names):
    if isinstance(X, pd.DataFrame):
        return tuple(str(c) for c in X.columns)
    return None if feature_names is None else tuple(str(f) for f in feature_names)


def _single(view):
    if _pdata.batch_size(view) != 1:
        raise ValueError(
            "The plain functions analyse one model; got an MLPBatch of "
            f"{_pdata.batch_size(view)} networks (use sensitivity.methods for batches)."
        )
    return view


def _prediction_frame(values, view, names, *, signed, method, direction=None, extra=None):
    feature_names = names if names is not None else view.feature_names
    if feature_names is None:
        feature_names = tuple(f"x{i}" for i in range(values.shape[-1]))
    return importance_frame(
        values[0],
        feature_names,
        view.output_names,
        signed=signed,
        direction=None if direction is None else direction[0],
        extra=None if extra is None else {k: v[0] for k, v in extra.items()},
        method=method,
    )


_ANY_MODEL_DOC = """
    estimator : estimator object
        Any scikit-learn regressor or classifier (classifiers need ``predict_proba``), a
        Pipeline, or (with ``prefit=True``) a torch module. MLPs (``MLPRegressor``,
        ``MLPClassifier``, Pipelines of affine scalers ending in one, ``nn.Sequential``) are
        evaluated as an exact batched network; other models through their ``predict`` /
        ``predict_proba``.
""" + _COMMON_DOC[_COMMON_DOC.index("    prefit : bool") :]

_ATTRIBUTES_DOC = """
    Attributes
    ----------
    estimator_ : estimator
        The fitted model.
    importances_ : pandas.DataFrame
        Ranked table (``DESIGN.md`` §3); classifiers get one block per class probability
        (binary: the positive class), multi-output regressors one per output.
    statistics_ : dict of ndarray
        Raw statistics, ``(n_outputs, n_features)`` each.
    output_names_ : tuple of str
    n_features_in_ : int
"""


class _PredictionSensitivity(BaseSensitivity):
    """Base of the prediction-based estimators: any model, clear data errors, one seed."""

    def _model_view(self, fitted, output_names):
        return _prediction_view(fitted, self._feature_names, output_names)

    def fit(self, X, y=None, **fit_params):
        """Fit the model (unless ``prefit``) and compute the importances.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric inputs without missing values or constant columns.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
            Target; required unless ``prefit=True`` (and always for the methods that score
            predictions: input perturbation and permutation).
        **fit_params : dict
            Passed to the wrapped estimator's ``fit``.

        Returns
        -------
        self
        """
        _pdata.check_data(X)  # names non-numeric / missing / constant columns clearly
        # one seed per fit: the statistic of every network (observed and null) sees the same
        # noise, permutations and clusters
        self._seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return super().fit(X, y, **fit_params)


class MIV(_PredictionSensitivity):
    __doc__ = (
        """Mean impact value (Dombi et al. 1995): signed effect of a ±delta change of each input.

    ``MIV_i = mean over rows of f(x with x_i (1 + delta)) - f(x with x_i (1 - delta))``, or
    with ``perturbation="additive"`` ``x_i ± delta * sd(x_i)``; see
    :func:`sensitivity.methods.perturbation.miv`. Signed (two-sided test on ``|MIV|``). The
    multiplicative form is misleading for variables centred near zero (standardized data):
    a warning then points to the additive form.

    Parameters
    ----------"""
        + _ANY_MODEL_DOC
        + """    delta : float, default=0.1
        Size of the perturbation, in (0, 1).
    perturbation : {"multiplicative", "additive"}, default="multiplicative"
"""
        + _ATTRIBUTES_DOC
        + """
    References
    ----------
    Dombi, Nandi, Saxe, Ledgerwood & Lucas (1995), Journal of Trauma 39, 915-921.
    """
    )

    _signed = True
    _method_name = "MIV"

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
        delta: float = 0.1,
        perturbation: str = "multiplicative",
    ) -> None:
        self._set_common_params(locals())
        self.delta = delta
        self.perturbation = perturbation

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        values = _perturbation.miv(model, X, delta=self.delta, perturbation=self.perturbation)
        return {"importance": values}


def _level_names(levels) -> list[str]:
    return [f"increase_{float(v):g}sd" for v in levels]


class InputPerturbation(_PredictionSensitivity):
    __doc__ = (
        """Input perturbation (Scardi & Harding 1999; Gevrey et al. 2003 "Perturb").

    Gaussian noise with sd ``level * sd(x_i)`` for each level in ``noise_levels`` is added to
    one input at a time; the importance is the mean increase of the loss (MSE per output for
    regressors; per-class log-loss components for classifiers, which add up to the increase
    of the total log-loss). Columns ``increase_<level>sd`` give the increase at each level.
    See :func:`sensitivity.methods.perturbation.input_perturbation`. Needs ``y``. A magnitude
    (upper-tailed test). Deterministic given ``random_state``.

    Parameters
    ----------"""
        + _ANY_MODEL_DOC
        + """    noise_levels : sequence of float, default=(0.1, 0.2, 0.3, 0.4, 0.5)
        Noise sds as fractions of each variable's sd.
    n_repeats : int, default=5
        Noise draws per level.
    loss : {"auto", "mse", "log_loss"}, default="auto"
        "auto": log-loss for classifiers, MSE otherwise; "mse" on a classifier gives the
        per-class Brier score.
"""
        + _ATTRIBUTES_DOC
        + """
    References
    ----------
    Scardi & Harding (1999), Ecol. Model. 120, 213-223; Gevrey, Dimopoulos & Lek (2003),
    Ecol. Model. 160, 249-264.
    """
    )

    _signed = False
    _method_name = "InputPerturbation"

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
        noise_levels: Sequence[float] = _perturbation.DEFAULT_NOISE_LEVELS,
        n_repeats: int = 5,
        loss: str = "auto",
    ) -> None:
        self._set_common_params(locals())
        self.noise_levels = noise_levels
        self.n_repeats = n_repeats
        self.loss = loss

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        res = _perturbation.input_perturbation(
            model,
            X,
            y,
            noise_levels=self.noise_levels,
            n_repeats=self.n_repeats,
            loss=self.loss,
            random_state=getattr(self, "_seed", self.random_state),
        )
        stats = {"importance": res.importances}
        for k, name in enumerate(_level_names(res.noise_levels)):
            stats[name] = res.importances_by_level[..., k]
        return stats


class LekProfile(_PredictionSensitivity):
    __doc__ = (
        """Lek's profile method (Lek et al. 1996), as NeuralNetTools' ``lekprofile``.

    Each input is swept over its observed range in ``steps`` points while the others are held
    at group constants (quantiles, k-means centres or given values); see
    :func:`sensitivity.methods.profile.lek_profiles`. Importance: the range (max - min) of the
    median profile across groups, a magnitude (upper-tailed test); ``direction`` is the sign
    of the median profile's change from the variable's minimum to its maximum. The profiles
    themselves are kept in ``profiles_``.

    Parameters
    ----------"""
        + _ANY_MODEL_DOC
        + """    steps : int, default=100
        Points per sweep.
    groups : None, sequence of float, int, DataFrame or 2-D array, default=None
        Quantile probabilities (None: 0, 0.2, ..., 1), an int ``k`` (k-means centres with
        ``random_state``), or the constants themselves (a DataFrame with a column per
        variable, or an array ``(n_groups, n_features)``).
"""
        + _ATTRIBUTES_DOC
        + """    profiles_ : pandas.DataFrame
        Long table with columns ``variable, group, x, output, prediction``.
    group_constants_ : pandas.DataFrame
        The constants of each group (rows) for each variable (columns).

    References
    ----------
    Lek et al. (1996), Ecol. Model. 90, 39-52; Beck (2018), J. Stat. Softw. 85(11).
    """
    )

    _signed = False
    _method_name = "LekProfile"

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
        steps: int = 100,
        groups=None,
    ) -> None:
        self._set_common_params(locals())
        self.steps = steps
        self.groups = groups

    def _profiles(self, model, X):
        return _profile.lek_profiles(
            model,
            X,
            steps=self.steps,
            groups=self.groups,
            random_state=getattr(self, "_seed", self.random_state),
        )

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        imp, direction = _profile.lek_importance(self._profiles(model, X))
        return {"importance": imp, "direction": direction}

    def fit(self, X, y=None, **fit_params):
        """Fit the model (unless ``prefit``), compute the profiles and importances.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like, optional
            Target; required unless ``prefit=True``.
        **fit_params : dict
            Passed to the wrapped estimator's ``fit``.

        Returns
        -------
        self
        """
        super().fit(X, y, **fit_params)
        X_arr, _ = _pdata.check_data(X, feature_names=self._feature_names)
        model = self._model_view(self.estimator_, self.output_names_)
        prof = self._profiles(model, X_arr)
        self.profiles_ = _profile.profile_frame(prof)
        self.group_constants_ = pd.DataFrame(
            prof.constants,
            index=pd.Index(prof.group_names, name="group"),
            columns=list(self._feature_names),
        )
        return self


class PermutationImportance(_PredictionSensitivity):
    __doc__ = (
        """Permutation importance: increase of the loss when one input is shuffled.

    Computed with :func:`sklearn.inspection.permutation_importance` (scorer: minus the loss of
    each output; MSE for regressors, per-class log-loss components for classifiers); see
    :func:`sensitivity.methods.perturbation.permutation`. Needs ``y``. A magnitude
    (upper-tailed test); column ``importance_sd`` is the sd over the repeats.

    Parameters
    ----------"""
        + _ANY_MODEL_DOC
        + """    n_repeats : int, default=5
        Permutations per variable.
    loss : {"auto", "mse", "log_loss"}, default="auto"
"""
        + _ATTRIBUTES_DOC
        + """
    References
    ----------
    Breiman (2001), Machine Learning 45, 5-32; Fisher, Rudin & Dominici (2019), JMLR 20(177).
    """
    )

    _signed = False
    _method_name = "PermutationImportance"

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
        n_repeats: int = 5,
        loss: str = "auto",
    ) -> None:
        self._set_common_params(locals())
        self.n_repeats = n_repeats
        self.loss = loss

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        res = _perturbation.permutation(
            model,
            X,
            y,
            n_repeats=self.n_repeats,
            loss=self.loss,
            random_state=getattr(self, "_seed", self.random_state),
            n_jobs=self.n_jobs,
        )
        return {"importance": res.importances, "importance_sd": res.importances_std}


# ---------------------------------------------------------------------- plain functions
def miv(
    model,
    X,
    *,
    delta: float = 0.1,
    perturbation: str = "multiplicative",
    feature_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean impact value of a fitted model as a ranked DataFrame (signed, with direction).

    Parameters
    ----------
    model : fitted model
        Any scikit-learn regressor/classifier or Pipeline, a torch module, or an MLPBatch.
    X : array-like or DataFrame of shape (n_samples, n_features)
    delta : float, default=0.1
    perturbation : {"multiplicative", "additive"}
        See :func:`sensitivity.methods.perturbation.miv`.
    feature_names : sequence of str, optional
        Names of the variables when ``X`` is not a DataFrame.

    Returns
    -------
    pandas.DataFrame
        The table of ``DESIGN.md`` §3 without inference.
    """
    names = _frame_names(X, feature_names)
    view = _single(_prediction_view(model, names, None))
    values = _perturbation.miv(view, X, delta=delta, perturbation=perturbation)
    return _prediction_frame(values, view, names, signed=True, method="MIV")


def input_perturbation(
    model,
    X,
    y,
    *,
    noise_levels: Sequence[float] = _perturbation.DEFAULT_NOISE_LEVELS,
    n_repeats: int = 5,
    loss: str = "auto",
    random_state=None,
    feature_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Input-perturbation importance of a fitted model as a ranked DataFrame.

    See :func:`sensitivity.methods.perturbation.input_perturbation` (noise of
    ``noise_levels`` times each variable's sd, one variable at a time; importance = mean
    increase of the loss). Columns ``increase_<level>sd`` hold the increase per level.
    """
    names = _frame_names(X, feature_names)
    view = _single(_prediction_view(model, names, None))
    res = _perturbation.input_perturbation(
        view,
        X,
        y,
        noise_levels=noise_levels,
        n_repeats=n_repeats,
        loss=loss,
        random_state=random_state,
    )
    extra = {
        name: res.importances_by_level[..., k]
        for k, name in enumerate(_level_names(res.noise_levels))
    }
    return _prediction_frame(
        res.importances, view, names, signed=False, method="InputPerturbation", extra=extra
    )


def lekprofile(
    model,
    X,
    *,
    steps: int = 100,
    groups=None,
    random_state=None,
    feature_names: Sequence[str] | None = None,
    return_profiles: bool = False,
):
    """Lek's profile importance of a fitted model as a ranked DataFrame.

    Importance = range of the median profile across groups; ``direction`` = sign of its change
    from the variable's minimum to maximum. See :func:`sensitivity.methods.profile.lek_profiles`
    for ``steps`` and ``groups``.

    Returns
    -------
    pandas.DataFrame, or (DataFrame, DataFrame) with ``return_profiles=True``
        The ranked table and the long table of profiles (``variable, group, x, output,
        prediction``).
    """
    names = _frame_names(X, feature_names)
    view = _single(_prediction_view(model, names, None))
    prof = _profile.lek_profiles(view, X, steps=steps, groups=groups, random_state=random_state)
    imp, direction = _profile.lek_importance(prof)
    frame = _prediction_frame(
        imp, view, prof.feature_names, signed=False, method="LekProfile", direction=direction
    )
    if return_profiles:
        return frame, _profile.profile_frame(prof)
    return frame


def permutation(
    model,
    X,
    y,
    *,
    n_repeats: int = 5,
    loss: str = "auto",
    random_state=None,
    n_jobs: int | None = None,
    feature_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Permutation importance of a fitted model as a ranked DataFrame.

    Built on :func:`sklearn.inspection.permutation_importance`; see
    :func:`sensitivity.methods.perturbation.permutation`. Column ``importance_sd`` is the sd
    over the repeats.
    """
    names = _frame_names(X, feature_names)
    view = _single(_prediction_view(model, names, None))
    res = _perturbation.permutation(
        view, X, y, n_repeats=n_repeats, loss=loss, random_state=random_state, n_jobs=n_jobs
    )
    return _prediction_frame(
        res.importances,
        view,
        names,
        signed=False,
        method="PermutationImportance",
        extra={"importance_sd": res.importances_std},
    )


# ====================================================================== Dimopoulos (PaD)
# Appended for issue 3 (derivative methods).

_DIMOPOULOS_DOC = """
    statistic : str, default="ssd"
        The summary used as ``importance`` and for ranking: ``"ssd"`` (sum of squared
        derivatives, PaD), ``"relative_contribution"``, ``"mean"`` (signed: two-sided test),
        ``"std"``, ``"rms"``, ``"curvature"`` or ``"derivative_curvature"``. All computed
        summaries are also columns of ``importances_``.
    scale : {"sd"}, array-like of shape (n_features,) or None, default=None
        ``"sd"``: multiply each derivative by the input's sample standard deviation in ``X``
        (``ddof=1``; second derivatives by its square) so that inputs in different units are
        comparable; an array: these factors; None: derivatives in the user's units.
    logits : bool, default=False
        For classifiers, differentiate the logits (output pre-activations) instead of the
        predicted class probabilities.
    second_order : bool or "auto", default="auto"
        Compute ``curvature`` and ``derivative_curvature``. "auto": when every activation is
        twice differentiable (not for relu networks, whose second derivative is zero almost
        everywhere; True there warns). Forced on by a curvature ``statistic``.
    ddof : float, default=1
        Delta degrees of freedom of the ``std`` summary (1 as R NeuralSens, 0 as its Python
        port).
    max_memory : int or None, default=None
        Budget in bytes for the temporaries of one chunk of rows (default 256 MiB).
"""


def _check_statistic(statistic) -> None:
    if statistic not in _derivatives.SUMMARIES:
        raise ValueError(
            f"statistic must be one of {list(_derivatives.SUMMARIES)}; got {statistic!r}."
        )


def _derivative_stats(
    model, X, *, statistic, scale, logits, second_order, ddof, max_memory, derivatives=False
):
    """The summaries of :func:`~sensitivity.methods.derivatives.derivative_summaries` keyed for
    the result table (``importance`` = the chosen ``statistic``, ``direction`` = mean); with
    ``derivatives`` the per-row ``jacobian`` and ``second`` derivatives too."""
    _check_statistic(statistic)
    if statistic in _derivatives.SECOND_ORDER_SUMMARIES:
        second_order = True
    with warnings.catch_warnings():
        if getattr(model, "batch_size", 1) > 1:
            # among the networks of a test, one whose output is constant (all weights decayed)
            # is expected; its importance (0) is well defined, only its relative share is not
            warnings.filterwarnings("ignore", message="Every derivative", category=RuntimeWarning)
        res = _derivatives.derivative_summaries(
            model,
            X,
            second_order=second_order,
            logits=logits,
            scale=scale,
            ddof=ddof,
            max_memory=max_memory,
            return_derivatives=derivatives,
        )
    out = {"importance": res[statistic], "direction": res["mean"]}
    out.update({k: res[k] for k in _derivatives.SUMMARIES if k in res})
    if derivatives:
        out.update(jacobian=res["jacobian"], second=res["second"])
    return out


class Dimopoulos(BaseSensitivity):
    __doc__ = (
        """Dimopoulos' partial derivatives (PaD): importance from the input derivatives.

    For every row of ``X`` the derivatives of each output with respect to each input (analytic
    chain rule for MLPs, any depth, softmax included; autograd for other torch modules) are
    summarized per input: ``ssd`` = sum of squared derivatives, ``relative_contribution``,
    ``mean`` (direction), ``std``, ``rms``, ``curvature``, ``derivative_curvature``; see
    :mod:`sensitivity.methods.derivatives` for the formulas and sources. Derivatives are with
    respect to the variables passed in (through a Pipeline's scalers) and, for classifiers, of
    the class probabilities. ``direction`` is the sign of the mean derivative. Magnitude
    statistics are tested upper-tailed, ``mean`` two-sided.

    Parameters
    ----------"""
        + _COMMON_DOC
        + _DIMOPOULOS_DOC
        + """
    Attributes
    ----------
    estimator_ : estimator
        The fitted network.
    importances_ : pandas.DataFrame
        Ranked table (``DESIGN.md`` §3) with ``direction`` and one column per summary.
    statistics_ : dict of ndarray
        Raw statistics, ``(n_outputs, n_features)`` each.
    output_names_ : tuple of str
    n_features_in_ : int

    References
    ----------
    Dimopoulos, Bourret & Lek (1995), Neural Process. Lett. 2; Dimopoulos et al. (1999),
    Ecol. Model. 120; Gevrey, Dimopoulos & Lek (2003), Ecol. Model. 160; Pizarroso, Portela &
    Muñoz (2022), J. Stat. Softw. 102(7).
    """
    )

    _method_name = "Dimopoulos"

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
        statistic: str = "ssd",
        scale=None,
        logits: bool = False,
        second_order="auto",
        ddof: float = 1,
        max_memory: int | None = None,
    ) -> None:
        self._set_common_params(locals())
        self.statistic = statistic
        self.scale = scale
        self.logits = logits
        self.second_order = second_order
        self.ddof = ddof
        self.max_memory = max_memory

    @property
    def _signed(self) -> bool:  # type: ignore[override]
        """Only the mean derivative is signed (two-sided test); the rest are magnitudes."""
        return self.statistic == "mean"

    def _model_view(self, fitted, output_names):
        """An MLPBatch for MLPs (on the encoded columns behind a ColumnTransformer); any other
        torch module is differentiated by autograd."""
        if adapters.is_encoded_mlp_model(fitted):
            return super()._model_view(fitted, output_names)
        self._encoding_ = None
        return adapters.as_differentiable(
            fitted, feature_names=self._feature_names, output_names=output_names
        )

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        encoding = getattr(self, "_encoding_", None)
        if encoding is not None:
            # derivatives with respect to the encoded columns (numeric ones in the user's
            # units, one-hot indicators), then summed per original variable
            X = encoding.encode(pd.DataFrame(X, columns=list(self._feature_names)))
        stats = _derivative_stats(
            model,
            X,
            statistic=self.statistic,
            scale=self.scale,
            logits=self.logits,
            second_order=self.second_order,
            ddof=self.ddof,
            max_memory=self.max_memory,
        )
        signed = ("mean", "direction")
        return {k: self._group(v, signed=k in signed) for k, v in stats.items()}

    def partial_derivatives(self, X, *, second_order=None):
        """Per-row derivatives of the fitted network on ``X`` (for plots).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        second_order : bool, "auto" or None
            Also the second derivatives (None: as the ``second_order`` parameter).

        Returns
        -------
        sklearn.utils.Bunch
            ``jacobian`` (and ``second``, or None): arrays ``(n_samples, n_outputs,
            n_features)``, scaled as the summaries (``scale``, computed on this ``X``);
            ``feature_names``, ``output_names``.
        """
        from sklearn.utils import Bunch

        check_is_fitted(self, "estimator_")
        X_arr = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=True)
        model = self._model_view(self.estimator_, self.output_names_)
        J, D = _derivatives.partial_derivatives(
            model,
            X_arr,
            second_order=self.second_order if second_order is None else second_order,
            logits=self.logits,
            scale=self.scale,
            max_memory=self.max_memory,
        )
        return Bunch(
            jacobian=J[0],
            second=None if D is None else D[0],
            feature_names=self._feature_names,
            output_names=self.output_names_,
        )


def dimopoulos(
    model,
    X,
    *,
    statistic: str = "ssd",
    scale=None,
    logits: bool = False,
    second_order="auto",
    ddof: float = 1,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    max_memory: int | None = None,
    return_derivatives: bool = False,
):
    """Dimopoulos' partial-derivative importance of a fitted model on ``X``, ranked.

    Parameters
    ----------
    model : fitted MLP or torch nn.Module
        Anything :func:`sensitivity.adapters.as_differentiable` accepts (an MLP, a Pipeline of
        scalers ending in one, an ``nn.Sequential``, any torch module, an MLPBatch).
    X : array-like or DataFrame of shape (n_samples, n_features)
        Rows at which to differentiate, in the user's units (finite, numeric).
    statistic, scale, logits, second_order, ddof, max_memory
        As in :class:`Dimopoulos`.
    feature_names, output_names : sequence of str, optional
        Default: from the model, else from ``X``'s columns, else ``x0, x1, ...``.
    return_derivatives : bool
        Also return the per-row derivatives.

    Returns
    -------
    frame : pandas.DataFrame
        The table of ``DESIGN.md`` §3 without inference, with ``direction`` (sign of the mean
        derivative) and one column per summary.
    derivatives : sklearn.utils.Bunch
        Only with ``return_derivatives``: ``jacobian`` and ``second`` (or None), arrays
        ``(n_samples, n_outputs, n_features)``.
    """
    from sklearn.utils import Bunch
    from sklearn.utils.validation import check_array

    _check_statistic(statistic)
    if (
        feature_names is None
        and isinstance(X, pd.DataFrame)
        and getattr(model, "feature_names_in_", None) is None
        and not hasattr(model, "feature_names")  # MLPBatch, TorchNetwork: named already
    ):
        feature_names = [str(c) for c in X.columns]
    X_arr = check_array(X, dtype=np.float64, ensure_all_finite=True)
    net = adapters.as_differentiable(
        model, feature_names=feature_names, output_names=output_names, n_features=None
    )
    if X_arr.shape[1] != net.n_features:
        raise ValueError(
            f"X has {X_arr.shape[1]} columns but the model has {net.n_features} inputs."
        )
    res = _derivative_stats(
        net,
        X_arr,
        statistic=statistic,
        scale=scale,
        logits=logits,
        second_order=second_order,
        ddof=ddof,
        max_memory=max_memory,
        derivatives=return_derivatives,
    )
    extra = {k: res[k][0] for k in _derivatives.SUMMARIES if k in res}
    frame = importance_frame(
        res["importance"][0],
        net.feature_names,
        net.output_names,
        signed=statistic == "mean",
        direction=res["mean"][0],
        extra=extra,
        method="Dimopoulos",
    )
    if not return_derivatives:
        return frame
    second = res["second"]
    return frame, Bunch(
        jacobian=res["jacobian"][0],
        second=None if second is None else second[0],
        feature_names=net.feature_names,
        output_names=net.output_names,
    )
