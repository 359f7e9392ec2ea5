"""Warnings that point at the user's call.

A fixed ``stacklevel`` is right for one call path only: the same check is reached from a plain
function, from an estimator's ``fit`` (through scikit-learn's ``_fit_context`` wrapper) or from
another function of the package. :func:`warn` counts the frames instead: the warning is
attributed to the first frame outside this package (and outside the scikit-learn wrappers
around ``fit``), like ``warnings.warn(..., skip_file_prefixes=...)`` of Python 3.12.
"""

from __future__ import annotations

import os
import sys
import warnings

import sklearn

__all__ = ["warn"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_SKLEARN_DIR = os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep
# scikit-learn modules whose wrappers stand between a user's call and the estimator's method
_SKLEARN_WRAPPERS = tuple(
    _SKLEARN_DIR + os.path.join(*name.split("/"))
    for name in ("base.py", "utils/_param_validation.py", "utils/_set_output.py")
)


def _internal(filename: str) -> bool:
    path = os.path.abspath(filename)
    return path.startswith(_PACKAGE_DIR) or path.startswith(_SKLEARN_WRAPPERS)


def user_stacklevel(skip: int = 1) -> int:
    """The ``stacklevel`` that attributes a warning issued ``skip`` frames above this call to
    the first frame outside the package.

    ``skip=1``: the function calling :func:`user_stacklevel` issues the warning itself.
    """
    frame = sys._getframe(skip)
    level = 1
    while frame.f_back is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    return level


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the user's call (module docstring)."""
    warnings.warn(message, category, stacklevel=user_stacklevel(2) + 1)
