"""Attribution-based estimator: :class:`Attributions` (formulas in
:mod:`sensitivity.methods.attributions`, local results in :mod:`sensitivity.attributions`)."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..attributions import (
    ATTRIBUTION_METHODS,
    LocalAttributions,
    _check_method,
    _compute,
    _local_result,
    _Options,
    _view,
    summarize,
)
from ..methods import attributions as _attr
from ._base import BaseSensitivity, fill_doc, with_common_parameters

__all__ = ["Attributions"]

# the estimator's parameters passed to the attribution method as they are
_OPTIONS = (
    "baseline",
    "n_baselines",
    "n_steps",
    "integration",
    "tolerance",
    "n_samples",
    "noise_level",
    "absolute",
    "logits",
    "memory_budget_mb",
)


@fill_doc
class Attributions(BaseSensitivity):
    """Global importance from local attributions: mean absolute attribution over the rows.

    For each row of ``X`` (the data passed to ``fit``) the chosen local attribution is computed
    for every output and summarized per variable: ``importance`` = mean absolute attribution,
    ``direction`` = sign of the covariance of attribution and value, ``mean``, ``std``
    (spread over rows: how much the variable's effect varies). Magnitudes: the randomization
    test is upper-tailed; the bootstrap gives intervals of the mean absolute attribution.

    Parameters
    ----------
    estimator : estimator object
        The network (as for the other estimators; occlusion accepts any predictor).
    method : str, default="integrated_gradients"
        One of :data:`ATTRIBUTION_METHODS`.
    {common_parameters}
    baseline, n_baselines, n_steps, integration, tolerance, n_samples, noise_level, absolute, \
logits
        As in :func:`sensitivity.attributions.attributions`; the ``"mean"``/``"median"``/
        ``"sample"`` baselines and the SmoothGrad noise scale come from ``X``; ``random_state``
        also seeds the baseline sample and the noise (the same for every network of a test).
    memory_budget_mb : float or None, default=None
        Memory budget in MiB of one chunk of rows.

    Attributes
    ----------
    {attributes}
    """

    is_signed = False

    _parameter_constraints: ClassVar[dict] = {
        **BaseSensitivity._parameter_constraints,
        "method": [StrOptions(set(ATTRIBUTION_METHODS))],
        "baseline": [StrOptions({"mean", "median", "zeros", "sample"}), Real, "array-like"],
        "n_baselines": [Interval(Integral, 1, None, closed="left")],
        "n_steps": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "integration": [StrOptions({"auto", *_attr.INTEGRATION_METHODS, _attr.PIECEWISE})],
        "tolerance": [Interval(Real, 0, None, closed="neither")],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "absolute": ["boolean", None],
        "logits": ["boolean"],
        "memory_budget_mb": [Interval(Real, 0, None, closed="neither"), None],
    }

    @with_common_parameters
    def __init__(
        self,
        estimator=None,
        *,
        method: str = "integrated_gradients",
        baseline="mean",
        n_baselines: int = 20,
        n_steps="auto",
        integration: str = "auto",
        tolerance: float = 1e-3,
        n_samples: int = 50,
        noise_level: float = 0.15,
        absolute: bool | None = None,
        logits: bool = False,
        memory_budget_mb: float | None = None,
        **common,
    ) -> None:
        super().__init__(estimator, **common)
        self.method = method
        self.baseline = baseline
        self.n_baselines = n_baselines
        self.n_steps = n_steps
        self.integration = integration
        self.tolerance = tolerance
        self.n_samples = n_samples
        self.noise_level = noise_level
        self.absolute = absolute
        self.logits = logits
        self.memory_budget_mb = memory_budget_mb

    _encoded_pipelines = False  # a Pipeline(ColumnTransformer, network) is not explained

    @property
    def _method_name(self) -> str:  # type: ignore[override]
        return f"mean |{self.method}|"

    def _model_view(self, fitted, output_names):
        self._encoding_ = None
        return _view(fitted, _check_method(self.method), self.variable_names_, output_names, None)

    def _local(self, model, X: np.ndarray) -> dict:
        K = len(model.output_names)
        with warnings.catch_warnings():
            if getattr(model, "batch_size", 1) > 1:
                warnings.filterwarnings("ignore", message="Integrated Gradients: completeness")
            options = {name: getattr(self, name) for name in _OPTIONS}
            opts = _Options(**options, random_state=self._statistic_seed)
            return _compute(model, X, self.method, list(range(K)), opts)

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        return summarize(self._local(model, X)["values"], X)

    def local_attributions(self, X=None) -> LocalAttributions:
        """Per-row attributions of the fitted network (for plots), on ``X`` (default: none;
        pass the rows to explain). Baselines and noise scale come from these rows, as in
        ``fit``."""
        check_is_fitted(self, "estimator_")
        Xa = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=True)
        model = self._model_view(self.estimator_, self.output_names_)
        res = self._local(model, Xa)

        def first(a, complement=False):
            return a[0]

        return _local_result(self.method, res, Xa, self.variable_names_, self.output_names_, first)
