"""Derivative-based estimator: :class:`Dimopoulos` (formulas in
:mod:`sensitivity.methods.derivatives`)."""

from __future__ import annotations

import warnings
from numbers import Real
from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import adapters
from ..methods import derivatives as _derivatives
from ._base import BaseSensitivity, fill_doc, with_common_parameters

__all__ = ["Dimopoulos", "derivative_stats"]


def derivative_stats(
    model, X, *, statistic, scale, logits, second_order, ddof, memory_budget_mb, derivatives=False
):
    """The summaries of :func:`~sensitivity.methods.derivatives.derivative_summaries` keyed for
    the result table (``importance`` = the chosen ``statistic``, ``direction`` = mean); with
    ``derivatives`` the per-row ``jacobian`` and ``second`` derivatives too."""
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
            memory_budget_mb=memory_budget_mb,
            return_derivatives=derivatives,
        )
    out = {"importance": res[statistic], "direction": res["mean"]}
    out.update({k: res[k] for k in _derivatives.SUMMARIES if k in res})
    if derivatives:
        out.update(jacobian=res["jacobian"], second=res["second"])
    return out


@fill_doc
class Dimopoulos(BaseSensitivity):
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
    ----------
    {common_parameters}
    statistic : str, default="ssd"
        The summary used as ``importance`` and for ranking: ``"ssd"`` (sum of squared
        derivatives, PaD), ``"relative_contribution"``, ``"mean"`` (signed: two-sided test),
        ``"std"``, ``"rms"``, ``"curvature"`` or ``"derivative_curvature"``. All computed
        summaries are also columns of ``importances_``.
    scale : {"sd"}, array-like of shape (n_features,) or None, default="sd"
        ``"sd"`` (default): multiply each derivative by the input's sample standard deviation
        in ``X`` (``ddof=1``; second derivatives by its square): the change of the output per
        standard deviation of the input, so that inputs in different units are comparable and
        the ranking does not change when a variable is recorded in other units (grams instead
        of kilograms). An array: these factors. None: derivatives in the user's raw units
        (NeuralSens' convention), which rank a variable measured in small numbers first only
        because of its units.
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
    memory_budget_mb : float or None, default=None
        Memory budget in MiB for the temporaries of one chunk of rows (None: 256).

    Attributes
    ----------
    {attributes}

    References
    ----------
    Dimopoulos, Bourret & Lek (1995), Neural Process. Lett. 2; Dimopoulos et al. (1999),
    Ecol. Model. 120; Gevrey, Dimopoulos & Lek (2003), Ecol. Model. 160; Pizarroso, Portela &
    Muñoz (2022), J. Stat. Softw. 102(7).
    """

    _method_name = "Dimopoulos"
    _parameter_constraints: ClassVar[dict] = {
        **BaseSensitivity._parameter_constraints,
        "statistic": [StrOptions(set(_derivatives.SUMMARIES))],
        "scale": [StrOptions({"sd"}), "array-like", None],
        "logits": ["boolean"],
        "second_order": ["boolean", StrOptions({"auto"})],
        "ddof": [Interval(Real, 0, None, closed="left")],
        "memory_budget_mb": [Interval(Real, 0, None, closed="neither"), None],
    }

    @with_common_parameters
    def __init__(
        self,
        estimator=None,
        *,
        statistic: str = "ssd",
        scale="sd",
        logits: bool = False,
        second_order="auto",
        ddof: float = 1,
        memory_budget_mb: float | None = None,
        **common,
    ) -> None:
        super().__init__(estimator, **common)
        self.statistic = statistic
        self.scale = scale
        self.logits = logits
        self.second_order = second_order
        self.ddof = ddof
        self.memory_budget_mb = memory_budget_mb

    @property
    def is_signed(self) -> bool:  # type: ignore[override]
        """Only the mean derivative is signed (two-sided test); the rest are magnitudes."""
        return self.statistic == "mean"

    def _validate_X(self, X) -> np.ndarray:
        X_arr = super()._validate_X(X)
        if X_arr.shape[0] < 2:
            raise ValueError(
                "Dimopoulos summarizes derivatives over rows (std with ddof="
                f"{self.ddof}): X needs at least 2 rows; got n_samples={X_arr.shape[0]}."
            )
        return X_arr

    def _model_view(self, fitted, output_names):
        """An MLPBatch for MLPs (on the encoded columns behind a ColumnTransformer); any other
        torch module is differentiated by autograd."""
        if adapters.is_encoded_mlp_model(fitted):
            return super()._model_view(fitted, output_names)
        self._encoding_ = None
        return adapters.as_differentiable(
            fitted, feature_names=self.variable_names_, output_names=output_names
        )

    def _statistic(self, model, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        encoding = getattr(self, "_encoding_", None)
        if encoding is not None:
            # derivatives with respect to the encoded columns (numeric ones in the user's
            # units, one-hot indicators), then summed per original variable
            X = encoding.encode(pd.DataFrame(X, columns=list(self.variable_names_)))
        stats = derivative_stats(
            model,
            X,
            statistic=self.statistic,
            scale=self.scale,
            logits=self.logits,
            second_order=self.second_order,
            ddof=self.ddof,
            memory_budget_mb=self.memory_budget_mb,
        )
        signed = ("mean", "direction")
        return {k: self._group(v, signed=k in signed) for k, v in stats.items()}

    def partial_derivatives(self, X, *, second_order=None) -> Bunch:
        """Per-row derivatives of the analysed network on ``X`` (for plots).

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
        check_is_fitted(self, "estimator_")
        X_arr = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite=True)
        model = self._model_view(self.estimator_, self.output_names_)
        J, D = _derivatives.partial_derivatives(
            model,
            X_arr,
            second_order=self.second_order if second_order is None else second_order,
            logits=self.logits,
            scale=self.scale,
            memory_budget_mb=self.memory_budget_mb,
        )
        return Bunch(
            jacobian=J[0],
            second=None if D is None else D[0],
            feature_names=self.variable_names_,
            output_names=self.output_names_,
        )
