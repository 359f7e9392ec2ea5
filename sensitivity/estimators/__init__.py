"""Estimator classes (scikit-learn meta-estimators and selectors) and plain functions.

Modules: :mod:`._base` (common parameters, validation, ``fit``, report, screening),
:mod:`.weights` (Garson, Olden), :mod:`.prediction` (MIV, input perturbation, Lek's profile,
permutation importance), :mod:`.derivative` (Dimopoulos), :mod:`.functions` (plain functions
on a fitted model).
"""

from ._base import BaseSensitivity
from .attribution import Attributions
from .derivative import Dimopoulos
from .functions import dimopoulos, garson, input_perturbation, lekprofile, miv, olden, permutation
from .prediction import MIV, InputPerturbation, LekProfile, PermutationImportance
from .weights import Garson, Olden

__all__ = [
    "MIV",
    "Attributions",
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
