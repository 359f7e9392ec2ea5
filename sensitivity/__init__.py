"""Variable importance (sensitivity analysis) for neural networks on tabular data.

Public API: estimator classes (:class:`Garson`, :class:`Olden`, :class:`Dimopoulos`,
:class:`Attributions`, ...), plain functions on a fitted model (:func:`garson`, :func:`olden`,
:func:`integrated_gradients`, ...), the held-out conditional test of any fitted model
(:class:`HoldoutConditionalTest`), sample influence (:class:`SampleInfluence`), the network
batch :class:`MLPBatch` and the data loaders.
"""

from .attributions import integrated_gradients, occlusion, saliency, smoothgrad
from .datasets import load_diabetes, load_neuraldat
from .estimators import (
    MIV,
    Attributions,
    Dimopoulos,
    Garson,
    InputPerturbation,
    LekProfile,
    Olden,
    PermutationImportance,
    dimopoulos,
    garson,
    input_perturbation,
    lekprofile,
    miv,
    olden,
    permutation,
)
from .holdout import HoldoutConditionalTest
from .influence import SampleInfluence
from .network import MLPBatch

__version__ = "0.2.0"

__all__ = [
    "MIV",
    "Attributions",
    "Dimopoulos",
    "Garson",
    "HoldoutConditionalTest",
    "InputPerturbation",
    "LekProfile",
    "MLPBatch",
    "Olden",
    "PermutationImportance",
    "SampleInfluence",
    "__version__",
    "dimopoulos",
    "garson",
    "input_perturbation",
    "integrated_gradients",
    "lekprofile",
    "load_diabetes",
    "load_neuraldat",
    "miv",
    "occlusion",
    "olden",
    "permutation",
    "saliency",
    "smoothgrad",
]
