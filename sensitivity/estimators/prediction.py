"""Prediction-based estimators: :class:`MIV`, :class:`InputPerturbation`, :class:`LekProfile`,
:class:`PermutationImportance` (formulas in :mod:`sensitivity.methods.perturbation` and
:mod:`sensitivity.methods.profile`).

They need only predictions, so they work for any fitted model: an MLP becomes an MLPBatch (B
networks evaluated in one batched forward), anything else a ModelFunction (B = 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace as _replace
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions

from .. import adapters
from ..inference import NULLS
from ..methods import _data as _pdata
from ..methods import perturbation as _perturbation
from ..methods import profile as _profile
from ._base import BaseSensitivity, fill_doc, with_common_parameters

HOLDOUT_NULL = "holdout"
"""``null`` value of :class:`PermutationImportance` and :class:`InputPerturbation` that routes
the test to :class:`sensitivity.HoldoutConditionalTest` (no refitting)."""

__all__ = [
    "MIV",
    "InputPerturbation",
    "LekProfile",
    "PermutationImportance",
    "level_names",
    "prediction_view",
]

_ANY_MODEL_NOTE = """Any scikit-learn regressor or classifier (classifiers need
    ``predict_proba``), a Pipeline, or (with ``prefit=True``) a torch module can be analysed:
    MLPs are evaluated as an exact batched network, other models through their ``predict`` /
    ``predict_proba``. Tests that retrain need an MLP or ``trainer="estimator"``."""


def prediction_view(model, feature_names, output_names):
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
        n_features = None if feature_names is None else len(feature_names)
        view = adapters.as_model_function(model, n_features=n_features)  # probed at X's width
        if feature_names is not None:
            view = _replace(view, feature_names=tuple(feature_names))
    if (
        output_names is not None
        and not view.is_classifier
        and len(output_names) == len(view.output_names)
    ):
        view = _replace(view, output_names=tuple(str(o) for o in output_names))
    return view


def level_names(levels) -> list[str]:
    """Column names of the per-level increases of input perturbation."""
    return [f"increase_{float(v):g}sd" for v in levels]


class _PredictionSensitivity(BaseSensitivity):
    """Base of the prediction-based estimators: any model, clear data errors."""

    def _model_view(self, fitted, output_names):
        self._encoding_ = None
        return prediction_view(fitted, self.variable_names_, output_names)

    def _validate_X(self, X) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            _pdata.check_data(X)  # names non-numeric / missing / constant columns clearly
        X_arr = super()._validate_X(X)
        if X_arr.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} perturbs variables over their observed spread: X needs "
                f"at least 2 rows; got n_samples={X_arr.shape[0]}."
            )
        _pdata.check_data(X_arr, feature_names=self.variable_names_)
        return X_arr


_HOLDOUT_DOC = """holdout_test_ : HoldoutConditionalTest or None
        The fitted held-out test with ``null="holdout"``; else None.

    Notes
    -----
    With ``null="holdout"`` the test is the held-out conditional test of
    :class:`sensitivity.HoldoutConditionalTest` (Tansey et al. 2022; Watson & Wright 2021),
    which never refits the model: pass held-out rows the model was not trained on,
    ``fit(X_train, y_train, X_test=..., y_test=...)`` (with ``prefit=True`` the model is used as
    given and ``y_train`` may be omitted; otherwise it is fitted on ``X_train, y_train``), or,
    with ``prefit=False`` and no ``X_test``, cross-fitting over 5 folds. ``n_permutations`` is
    the number of conditional draws per variable; the statistic becomes the held-out loss
    increase when :math:`x_j` is replaced by draws from its conditional distribution given the
    other inputs (the conditional, held-out analogue of this method's marginal perturbation:
    its p-value would not be this test's), with the holdout randomization test p-value and
    the ``1 - alpha`` t-interval of the mean increase; ``importances_`` is that of the direct
    test (``holdout_test_``), and the report names the test. ``n_bootstrap`` must be 0 and the
    training settings (``trainer``, ``train_alpha``, ``n_init``, ``train_params``) are
    unused; ``conditional`` chooses the conditional models as for the other nulls."""


class _HoldoutNull:
    """``null="holdout"``: the estimator's test routed to HoldoutConditionalTest."""

    def fit(self, X, y=None, X_test=None, y_test=None, **fit_params):
        """Fit the model (unless ``prefit``), compute the importances and run the test.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric inputs without missing values; DataFrame columns name the variables.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), optional
            Target; required unless ``prefit=True`` (and, without ``null="holdout"``, no
            test).
        X_test, y_test : array-like, optional
            Only with ``null="holdout"``: held-out rows the model was not trained on.
        **fit_params : dict
            Passed to the wrapped estimator's ``fit``.

        Returns
        -------
        self
        """
        if self.null != HOLDOUT_NULL:
            if X_test is not None or y_test is not None:
                raise ValueError(
                    f"X_test and y_test are only used with null={HOLDOUT_NULL!r} (the held-out "
                    f"conditional test); got null={self.null!r}."
                )
            self.holdout_test_ = None
            return super().fit(X, y, **fit_params)
        self._validate_params()
        return self._fit_holdout(X, y, X_test, y_test, fit_params)

    def _fit_holdout(self, X, y, X_test, y_test, fit_params):
        from ..holdout import HYPOTHESIS, HoldoutConditionalTest

        name = type(self).__name__
        if self.n_bootstrap:
            raise ValueError(
                f"{name}(null={HOLDOUT_NULL!r}) gives the t-interval of the mean held-out loss "
                f"increase; bootstrap intervals are not used: set n_bootstrap=0 (got "
                f"{self.n_bootstrap})."
            )
        if self.n_permutations < 1:
            raise ValueError(
                f"{name}(null={HOLDOUT_NULL!r}) needs n_permutations >= 1: the number of "
                "conditional draws per variable (e.g. 999)."
            )
        sampler = self.conditional if callable(self.conditional) else None
        test = HoldoutConditionalTest(
            self.estimator,
            prefit=self.prefit,
            n_draws=self.n_permutations,
            conditional="auto" if sampler is not None else self.conditional,
            sampler=sampler,
            loss=self.loss,
            alpha=self.alpha,
            p_adjust=self.p_adjust,
            max_features=self.max_features,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        ).fit(X, y, X_test=X_test, y_test=y_test, **fit_params)
        self.holdout_test_ = test
        self.estimator_ = test.estimator_
        self.n_features_in_ = test.n_features_in_
        if hasattr(test, "feature_names_in_"):
            self.feature_names_in_ = test.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.variable_names_ = test.variable_names_
        self.output_names_ = ("loss",)
        self.n_samples_ = test.n_heldout_
        self._encoding_ = None
        self.statistics_ = test.statistics_
        self.null_distribution_ = test.null_distribution_
        self.bootstrap_distribution_ = self.path_p_values_ = None
        self.global_test_ = self.network_ = None
        self.inference_ = {"null": HOLDOUT_NULL, "hypothesis": HYPOTHESIS}
        self.importances_ = test.importances_
        return self

    @property
    def results_(self):
        """The fitted analysis as a report object (summary, export, plot); with
        ``null="holdout"`` the held-out conditional test's report under this method's name."""
        test = getattr(self, "holdout_test_", None)
        if test is None or self.null != HOLDOUT_NULL:
            return super().results_
        return test.report(
            f"{self._method_name}, null={HOLDOUT_NULL!r}",
            notes=(
                f"Test: held-out conditional test (sensitivity.HoldoutConditionalTest), "
                f"{test.mode_}; the statistic is the conditional held-out loss increase, not "
                "the marginal one of this method.",
            ),
        )


_HOLDOUT_CONSTRAINT = {"null": [StrOptions({*NULLS, HOLDOUT_NULL})]}


@fill_doc
class MIV(_PredictionSensitivity):
    """Mean impact value (Dombi et al. 1995): signed effect of a ±delta change of each input.

    ``MIV_i = mean over rows of f(x with x_i (1 + delta)) - f(x with x_i (1 - delta))``, or
    with ``perturbation="additive"`` ``x_i ± delta * sd(x_i)``; see
    :func:`sensitivity.methods.perturbation.miv`. Signed (two-sided test on ``|MIV|``). The
    multiplicative form is misleading for variables centred near zero (standardized data):
    a warning then points to the additive form. {any_model}

    Parameters
    ----------
    {common_parameters}
    delta : float, default=0.1
        Size of the perturbation, in (0, 1).
    perturbation : {"multiplicative", "additive"}, default="multiplicative"

    Attributes
    ----------
    {attributes}

    References
    ----------
    Dombi, Nandi, Saxe, Ledgerwood & Lucas (1995), Journal of Trauma 39, 915-921.
    """

    is_signed = True
    _method_name = "MIV"
    _parameter_constraints: ClassVar[dict] = {
        **BaseSensitivity._parameter_constraints,
        "delta": [Interval(Real, 0, 1, closed="neither")],
        "perturbation": [StrOptions(set(_perturbation.MIV_PERTURBATIONS))],
    }

    @with_common_parameters
    def __init__(
        self, estimator=None, *, delta: float = 0.1, perturbation: str = "multiplicative", **common
    ) -> None:
        super().__init__(estimator, **common)
        self.delta = delta
        self.perturbation = perturbation

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        values = _perturbation.miv(model, X, delta=self.delta, perturbation=self.perturbation)
        return {"importance": values}


@fill_doc
class InputPerturbation(_HoldoutNull, _PredictionSensitivity):
    """Input perturbation (Scardi & Harding 1999; Gevrey et al. 2003 "Perturb").

    Gaussian noise with sd ``level * sd(x_i)`` for each level in ``noise_levels`` is added to
    one input at a time; the importance is the mean increase of the loss (MSE per output for
    regressors; per-class log-loss components for classifiers, which add up to the increase
    of the total log-loss). Columns ``increase_<level>sd`` give the increase at each level.
    See :func:`sensitivity.methods.perturbation.input_perturbation`. Needs ``y``. A magnitude
    (upper-tailed test). Deterministic given ``random_state``. {any_model}

    Parameters
    ----------
    {common_parameters}
    noise_levels : sequence of float, default=(0.1, 0.2, 0.3, 0.4, 0.5)
        Noise sds as fractions of each variable's sd.
    n_repeats : int, default=5
        Noise draws per level.
    loss : {"auto", "mse", "log_loss"}, default="auto"
        "auto": log-loss for classifiers, MSE otherwise; "mse" on a classifier gives the
        per-class Brier score.

    Attributes
    ----------
    {attributes}
    {holdout}

    References
    ----------
    Scardi & Harding (1999), Ecol. Model. 120, 213-223; Gevrey, Dimopoulos & Lek (2003),
    Ecol. Model. 160, 249-264.
    """

    is_signed = False
    _method_name = "InputPerturbation"
    _parameter_constraints: ClassVar[dict] = {
        **BaseSensitivity._parameter_constraints,
        "noise_levels": ["array-like"],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions({"auto", "mse", "log_loss"})],
        **_HOLDOUT_CONSTRAINT,
    }

    @with_common_parameters
    def __init__(
        self,
        estimator=None,
        *,
        noise_levels: Sequence[float] = _perturbation.DEFAULT_NOISE_LEVELS,
        n_repeats: int = 5,
        loss: str = "auto",
        **common,
    ) -> None:
        super().__init__(estimator, **common)
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
            random_state=self._statistic_seed,
        )
        stats = {"importance": res.importances}
        for k, name in enumerate(level_names(res.noise_levels)):
            stats[name] = res.importances_by_level[..., k]
        return stats


@fill_doc
class LekProfile(_PredictionSensitivity):
    """Lek's profile method (Lek et al. 1996), as NeuralNetTools' ``lekprofile``.

    Each input is swept over its observed range in ``steps`` points while the others are held
    at group constants (quantiles, k-means centres or given values); see
    :func:`sensitivity.methods.profile.lek_profiles`. Importance: the range (max - min) of the
    median profile across groups, a magnitude (upper-tailed test); ``direction`` is the sign
    of the median profile's change from the variable's minimum to its maximum. The profiles
    themselves are kept in ``profiles_``. {any_model}

    Parameters
    ----------
    {common_parameters}
    steps : int, default=100
        Points per sweep (Lek et al. 1996 used 12).
    groups : None, sequence of float, int, DataFrame or 2-D array, default=None
        Quantile probabilities (None: 0, 0.2, ..., 1), an int ``k`` (k-means centres with
        ``random_state``), or the constants themselves (a DataFrame with a column per
        variable, or an array ``(n_groups, n_features)``).

    Attributes
    ----------
    {attributes}
    profiles_ : pandas.DataFrame
        Long table with columns ``variable, group, x, output, prediction`` (of the analysed
        network).
    group_constants_ : pandas.DataFrame
        The constants of each group (rows) for each variable (columns).

    References
    ----------
    Lek et al. (1996), Ecol. Model. 90, 39-52; Beck (2018), J. Stat. Softw. 85(11).
    """

    is_signed = False
    _method_name = "Lek's profile"
    _parameter_constraints: ClassVar[dict] = {
        **BaseSensitivity._parameter_constraints,
        "steps": [Interval(Integral, 2, None, closed="left")],
        "groups": [None, "array-like", Interval(Integral, 1, None, closed="left"), pd.DataFrame],
    }

    @with_common_parameters
    def __init__(self, estimator=None, *, steps: int = 100, groups=None, **common) -> None:
        super().__init__(estimator, **common)
        self.steps = steps
        self.groups = groups

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        prof = _profile.lek_profiles(
            model, X, steps=self.steps, groups=self.groups, random_state=self._statistic_seed
        )
        if _pdata.batch_size(model) == 1:  # the analysed network: keep its profiles
            self._observed_profiles = prof
        imp, direction = _profile.lek_importance(prof)
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
        prof = self._observed_profiles
        del self._observed_profiles
        self.profiles_ = _profile.profile_frame(prof)
        self.group_constants_ = pd.DataFrame(
            prof.constants,
            index=pd.Index(prof.group_names, name="group"),
            columns=list(self.variable_names_),
        )
        return self


@fill_doc
class PermutationImportance(_HoldoutNull, _PredictionSensitivity):
    """Permutation importance: increase of the loss when one input is shuffled.

    Computed with :func:`sklearn.inspection.permutation_importance` (scorer: minus the loss of
    each output; MSE for regressors, per-class log-loss components for classifiers); see
    :func:`sensitivity.methods.perturbation.permutation`. Needs ``y``. A magnitude
    (upper-tailed test); column ``importance_sd`` is the sd over the repeats. {any_model}

    Parameters
    ----------
    {common_parameters}
    n_repeats : int, default=5
        Permutations per variable.
    loss : {"auto", "mse", "log_loss"}, default="auto"

    Attributes
    ----------
    {attributes}
    {holdout}

    References
    ----------
    Breiman (2001), Machine Learning 45, 5-32; Fisher, Rudin & Dominici (2019), JMLR 20(177).
    """

    is_signed = False
    _method_name = "Permutation importance"
    _parameter_constraints: ClassVar[dict] = {
        **BaseSensitivity._parameter_constraints,
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "loss": [StrOptions({"auto", "mse", "log_loss"})],
        **_HOLDOUT_CONSTRAINT,
    }

    @with_common_parameters
    def __init__(self, estimator=None, *, n_repeats: int = 5, loss: str = "auto", **common) -> None:
        super().__init__(estimator, **common)
        self.n_repeats = n_repeats
        self.loss = loss

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        res = _perturbation.permutation(
            model,
            X,
            y,
            n_repeats=self.n_repeats,
            loss=self.loss,
            random_state=self._statistic_seed,
            n_jobs=self.n_jobs,
        )
        return {"importance": res.importances, "importance_sd": res.importances_std}


for _cls in (MIV, InputPerturbation, LekProfile, PermutationImportance):
    _cls.__doc__ = _cls.__doc__.replace("{any_model}", _ANY_MODEL_NOTE).replace(
        "{holdout}", _HOLDOUT_DOC
    )
