"""Command line: ``sensitivity demo`` and ``sensitivity analyze`` (also ``python -m sensitivity``).

Methods are found by name through :data:`METHODS`, which maps a command-line name to the name of
an estimator class of the :mod:`sensitivity` package; a method whose class the installed
package does not have is reported as unavailable.

Bad input never gives a traceback: every problem found in the arguments or the data is one line
``sensitivity: error: ...`` on stderr and exit status 2, raised before any network is trained.
Warnings are printed once each as ``sensitivity: warning: ...``; decisions the command takes for
the user (task inferred from the target, constant columns dropped, a column of row names) are
printed as ``sensitivity: note: ...`` and written into the report.

Its private modules are the parts: ``_common`` (method names, settings, :class:`CLIError`),
``_data`` (reading the CSV file, choosing the task), ``_analyze`` (``sensitivity analyze``) and
``_main`` (the parser, ``sensitivity demo``, :func:`main`).
"""

from ._common import (
    DEMO_METHODS,
    MAX_CLASSES,
    METHODS,
    MIN_ROWS,
    CLIError,
    available_methods,
    resolve_methods,
)
from ._main import main

__all__ = [
    "DEMO_METHODS",
    "MAX_CLASSES",
    "METHODS",
    "MIN_ROWS",
    "CLIError",
    "available_methods",
    "main",
    "resolve_methods",
]
