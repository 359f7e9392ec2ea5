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
from .network import MLPBatch

__version__ = "0.1.0"

__all__ = [
    "Dimopoulos",
    "Garson",
    "MLPBatch",
    "Olden",
    "__version__",
    "dimopoulos",
    "garson",
    "load_diabetes",
    "load_neuraldat",
    "olden",
]

__all__ += [
    "MIV",
    "InputPerturbation",
    "LekProfile",
    "PermutationImportance",
    "input_perturbation",
    "lekprofile",
    "miv",
    "permutation",
]
