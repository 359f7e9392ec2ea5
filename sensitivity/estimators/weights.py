"""Weight-based estimators: :class:`Garson` and :class:`Olden` (formulas in
:mod:`sensitivity.methods.weights`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ..methods import weights as _weights
from ..network import MLPBatch
from ._base import BaseSensitivity, fill_doc, with_common_parameters

__all__ = ["Garson", "Olden"]


@fill_doc
class Garson(BaseSensitivity):
    """Garson's algorithm (relative importance from absolute connection weights).

    Single hidden layer only. See :func:`sensitivity.methods.weights.garson` for the formulas
    of both variants. Magnitudes: the test is upper-tailed.

    Parameters
    ----------
    {common_parameters}
    variant : {"goh", "gevrey"}, default="goh"
        ``"goh"``: Garson (1991) as in Goh (1995), weighting by the hidden-to-output weights;
        ``"gevrey"``: the form of NeuralNetTools and caret (Gevrey et al. 2003).

    Attributes
    ----------
    {attributes}

    References
    ----------
    Garson (1991), AI Expert 6(4); Goh (1995), Artif. Intell. Eng. 9; Gevrey, Dimopoulos & Lek
    (2003), Ecol. Model. 160.
    """

    is_signed = False
    _method_name = "Garson"
    _parameter_constraints: ClassVar[dict] = {
        **BaseSensitivity._parameter_constraints,
        "variant": [StrOptions(set(_weights.GARSON_VARIANTS))],
    }

    @with_common_parameters
    def __init__(self, estimator=None, *, variant: str = "goh", **common) -> None:
        super().__init__(estimator, **common)
        self.variant = variant

    def _statistic(self, model: MLPBatch, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        # a single network must have a defined importance; among the networks of a test, a
        # dead one (all weights zero) gets NaN, which the test counts as the least extreme
        undefined = "raise" if model.batch_size == 1 else "nan"
        values = _weights.garson(model, self.variant, undefined=undefined)
        return {"importance": self._group(values)}


@fill_doc
class Olden(BaseSensitivity):
    """Olden's connection-weight importance (signed, any number of hidden layers).

    ``importance[k, i] = (W1 W2 ... WL)[i, k]``; see :func:`sensitivity.methods.weights.olden`.
    Signed: the test is two-sided on ``|importance|``.

    Parameters
    ----------
    {common_parameters}

    Attributes
    ----------
    {attributes}
    path_p_values_ : ndarray (n_outputs, n_features, n_hidden) or None
        Two-sided p-values of each input -> hidden unit -> output path ``w_ij v_jk`` (Olden &
        Jackson 2002), with a per-variable test on a single-hidden-layer network.

    References
    ----------
    Olden & Jackson (2002), Ecol. Model. 154; Olden, Joy & Death (2004), Ecol. Model. 178.
    """

    is_signed = True
    _method_name = "Olden"

    @with_common_parameters
    def __init__(self, estimator=None, **common) -> None:
        super().__init__(estimator, **common)

    def _statistic(self, model: MLPBatch, X: np.ndarray, y=None) -> dict[str, np.ndarray]:
        return {"importance": self._group(_weights.olden(model), signed=True)}

    def _path_statistic(self, model: MLPBatch) -> np.ndarray | None:
        """Per-path contributions ``(B, n_out, n_feat, n_hidden)`` (one hidden layer only)."""
        if not isinstance(model, MLPBatch) or getattr(self, "_encoding_", None) is not None:
            return None
        if model.n_hidden_layers != 1:
            return None
        return _weights.olden_paths(model)
