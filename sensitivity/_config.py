"""Package-wide performance settings, defined once.

``memory_budget_mb`` is the one name and unit (MiB, a float) of every memory setting of the
package: the trainer's chunks, the rows of one derivative chunk, the rows of one batched
prediction call. A memory budget decides only how work is split into pieces; it never changes
a result.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._warnings import warn as _warn_user

__all__ = ["DEFAULT_MEMORY_BUDGET_MB", "budget_bytes", "check_memory_budget_mb"]

DEFAULT_MEMORY_BUDGET_MB = 256.0
"""Working memory (MiB) that one piece of work (a trainer chunk, a chunk of rows) may use."""


def check_memory_budget_mb(value, name: str = "memory_budget_mb") -> float:
    """``value`` as a positive finite float (MiB), or a ``ValueError`` naming ``name``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive number of MiB; got {value!r}.")
    return float(value)


def budget_bytes(
    memory_budget_mb=None,
    *,
    legacy_bytes=None,
    legacy_name: str = "max_memory",
    warn: bool = True,
) -> int:
    """The budget in bytes from ``memory_budget_mb`` (MiB) or a deprecated byte count.

    ``legacy_bytes`` is the value of a keyword that took bytes (``max_memory``,
    ``memory_budget``); it still works, with a ``FutureWarning``, and cannot be combined with
    ``memory_budget_mb`` (``warn=False``: accepted silently, for internal callers).
    """
    if legacy_bytes is not None:
        if memory_budget_mb is not None:
            raise ValueError(f"Pass memory_budget_mb (MiB) or {legacy_name}, not both.")
        if warn:
            _warn_user(
                f"{legacy_name} (bytes) is deprecated; use memory_budget_mb (MiB).",
                FutureWarning,
            )
        ok = isinstance(legacy_bytes, numbers.Real) and not isinstance(legacy_bytes, bool)
        if not ok or not np.isfinite(legacy_bytes) or legacy_bytes <= 0:
            raise ValueError(
                f"{legacy_name} must be a positive number of bytes; got {legacy_bytes!r}."
            )
        return max(1, int(legacy_bytes))
    mb = DEFAULT_MEMORY_BUDGET_MB if memory_budget_mb is None else memory_budget_mb
    return max(1, int(check_memory_budget_mb(mb) * 2**20))
