r"""Local explanations: per-row attributions of a fitted network, and their global summary.

Plain functions (:func:`saliency`, :func:`gradient_x_input`, :func:`smoothgrad`,
:func:`integrated_gradients`, :func:`occlusion`, and the dispatcher :func:`attributions`) return
a :class:`LocalAttributions` result: the attribution of every row, variable and output, with
``.values`` (``(n_rows, n_outputs, n_features)``), ``.to_frame()`` (a long table), the
predictions, the baseline and, for Integrated Gradients, the completeness gap. The estimator
:class:`Attributions` turns them into a global importance (mean absolute attribution over the
rows) with the package's randomization tests and bootstrap intervals. The formulas are in
:mod:`sensitivity.methods.attributions`; plots in :mod:`sensitivity.attribution_plots`.

Choices (documented in ``docs/methods/attributions.rst``):

* **Models.** Gradient methods accept what :func:`sensitivity.adapters.as_differentiable`
  accepts (scikit-learn MLPs and Pipelines of affine scalers ending in one, ``nn.Sequential``
  MLPs: analytic, batched; any other torch module: autograd). Occlusion accepts any fitted
  predictor. Attributions are in the units of the output per the user's variables.
* **Target.** ``target=None`` explains every output (every class probability of a classifier;
  a binary scikit-learn classifier has one, the positive class). A class label (or, if no
  label matches, an index: into ``classes_`` for a classifier, else into the outputs) explains
  one output; ``target="predicted"`` explains, row by row,
  the class the model predicts. The negative class of a binary classifier is explained as
  :math:`1 - p`: its attributions are those of the positive class with the sign flipped.
* **Baseline.** ``"mean"`` (default) or ``"median"`` of ``background`` (default: ``X``),
  ``"zeros"``, a number, a row ``(p,)`` or one row per row of ``X`` ``(n, p)``, or
  ``"sample"``: ``n_baselines`` rows drawn from ``background`` and the attributions averaged
  over them (as in expected gradients, Erion et al. 2021, with the quadrature in
  :math:`\alpha` deterministic).
* **Steps.** ``n_steps="auto"`` (default) chooses the smallest number of Gauss-Legendre (or
  the chosen rule's) steps in 16, 32, ..., 2048 (nodes per piece in 1, 2, ..., 32 for the
  piecewise rule) whose completeness gap on up to 256 rows is below ``tolerance``
  (relative); the gap of every row is then measured and a warning names it when it exceeds
  ``tolerance``. ``integration="auto"`` integrates MLPs with relu units in the first hidden
  layer piece by piece between their kinks.

Import everything from ``sensitivity.attributions``; its private modules are the parts:
``_local`` (:class:`LocalAttributions`, :func:`summarize`), ``_inputs`` (methods, targets,
baselines, steps, noise), ``_compute`` (every network of a batch, by method) and ``_functions``
(the plain functions).
"""

# the underscored names are the Attributions estimator's helpers (re-exported as such)
from ._compute import _compute as _compute
from ._compute import _local_result as _local_result
from ._compute import _Options as _Options
from ._functions import (
    attributions,
    gradient_x_input,
    integrated_gradients,
    occlusion,
    saliency,
    smoothgrad,
)
from ._inputs import (
    ATTRIBUTION_METHODS,
    AUTO_PIECE_STEPS,
    AUTO_STEPS,
)
from ._inputs import _check_method as _check_method
from ._inputs import _view as _view
from ._local import LocalAttributions, relative_gap, summarize

__all__ = [
    "ATTRIBUTION_METHODS",
    "AUTO_PIECE_STEPS",
    "AUTO_STEPS",
    "LocalAttributions",
    "attributions",
    "gradient_x_input",
    "integrated_gradients",
    "occlusion",
    "relative_gap",
    "saliency",
    "smoothgrad",
    "summarize",
]
