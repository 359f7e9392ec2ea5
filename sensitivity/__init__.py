"""Variable importance (sensitivity analysis) for neural networks on tabular data.

Public API: estimator classes (:class:`Garson`, :class:`Olden`, ...), plain functions on a
fitted model (:func:`garson`, :func:`olden`, ...), the network batch :class:`MLPBatch` and the
data loaders.
"""

from .datasets import load_diabetes, load_neuraldat
from .estimators import (
    MIV,
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
from .influence import SampleInfluence
from .network import MLPBatch

__version__ = "0.1.0"

__all__ = [
    "MIV",
    "Dimopoulos",
    "Garson",
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
    "lekprofile",
    "load_diabetes",
    "load_neuraldat",
    "miv",
    "olden",
    "permutation",
]

# local attributions (issue 16)
from .attributions import integrated_gradients, occlusion, saliency, smoothgrad
from .estimators import Attributions

__all__ += ["Attributions", "integrated_gradients", "occlusion", "saliency", "smoothgrad"]
