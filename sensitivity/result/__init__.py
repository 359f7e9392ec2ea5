"""The ranked importance table (``docs/architecture.rst``) and the report built on it.

One row per input variable (per output, when there are several), sorted by rank, with the
columns ``importance, relative_importance, rank, p_value, p_adjusted, significant, ci_low,
ci_high`` always present, plus ``direction`` where the method gives a sign and any extra
statistics a method reports.

Import everything from ``sensitivity.result``; its private modules are the parts: ``_frame``
(:func:`importance_frame`), ``_text`` (significance codes, test names, number formats),
``_journal`` (Markdown and LaTeX tables) and ``_result`` (:class:`SensitivityResult`).
"""

from ._frame import BASE_COLUMNS, importance_frame
from ._result import SensitivityResult
from ._text import (
    ADJUSTMENT_NAMES,
    CONDITIONAL_R2,
    METHOD_TITLES,
    NULL_HYPOTHESES,
    RESPONSE_NOTE,
    SIGNIFICANCE_CODES,
    SIGNIFICANCE_LEGEND,
    TEST_NAMES,
    significance_stars,
)

__all__ = [
    "ADJUSTMENT_NAMES",
    "BASE_COLUMNS",
    "CONDITIONAL_R2",
    "METHOD_TITLES",
    "NULL_HYPOTHESES",
    "RESPONSE_NOTE",
    "SIGNIFICANCE_CODES",
    "SIGNIFICANCE_LEGEND",
    "TEST_NAMES",
    "SensitivityResult",
    "importance_frame",
    "significance_stars",
]
