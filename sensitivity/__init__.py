"""Variable importance (sensitivity analysis) for neural networks on tabular data.

Public API: estimator classes (:class:`Garson`, :class:`Olden`, :class:`Dimopoulos`,
:class:`Attributions`, ...), plain functions on a fitted model (:func:`garson`, :func:`olden`,
:func:`integrated_gradients`, ...), the held-out conditional test of any fitted model
(:class:`HoldoutConditionalTest`), sample influence (:class:`SampleInfluence`), the network
batch :class:`MLPBatch` and the data loaders.

The names are imported on first use (PEP 562): ``import sensitivity`` alone loads neither torch
nor scikit-learn, so that the command line answers ``--version`` or an argument error at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# public name -> the submodule that defines it
_SOURCES: dict[str, str] = {
    **dict.fromkeys(
        ("integrated_gradients", "occlusion", "saliency", "smoothgrad"), ".attributions"
    ),
    **dict.fromkeys(("load_diabetes", "load_neuraldat"), ".datasets"),
    **dict.fromkeys(
        (
            "MIV",
            "Attributions",
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
        ),
        ".estimators",
    ),
    "HoldoutConditionalTest": ".holdout",
    "SampleInfluence": ".influence",
    "MLPBatch": ".network",
}

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

if TYPE_CHECKING:  # what static tools see: the eager imports
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


def __getattr__(name: str) -> Any:
    """Import a public name's submodule on first access and keep the name on the package."""
    source = _SOURCES.get(name)
    if source is None:
        # AttributeError (not ImportError): ``from . import submodule`` then imports it
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(source, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
