"""What the commands share: the method names and settings, the error type, messages."""

from __future__ import annotations

import sys
from collections.abc import Sequence

METHODS: dict[str, str] = {
    "olden": "Olden",
    "garson": "Garson",
    "dimopoulos": "Dimopoulos",
    "miv": "MIV",
    "lek": "LekProfile",
    "perturbation": "InputPerturbation",
    "permutation": "PermutationImportance",
}
"""Command-line method names and the estimator classes (attributes of :mod:`sensitivity`)."""

DEMO_METHODS: tuple[str, ...] = ("olden", "garson", "dimopoulos", "miv")
"""What ``sensitivity demo`` runs (those available), in this order."""

DEMO_PERMUTATIONS = 199
"""Permutations of the demo's randomization tests (``--permutations`` overrides)."""

ANALYZE_METHODS: tuple[str, ...] = ("olden", "dimopoulos", "miv", "garson")
"""What ``sensitivity analyze`` runs without ``--method`` (those available)."""

NULLS: tuple[str, ...] = ("holdout", "conditional", "loco", "variable", "response")
"""Values of ``--null`` (the estimators' ``null`` parameter)."""

UNDERFIT_MARGIN = 0.1
"""A warning when the analysed network's training score is this much below the configured
network's (R² or accuracy): its importances would describe an underfitted network."""

MIN_ROWS = 10
"""Fewer rows than this are refused: no network fitted to them says anything."""

MAX_CLASSES = 20
"""A classification target with more classes than this (or more than a fifth of the rows) is
refused: it is almost always a number written as text (``$24.0k``) or an identifier."""

METHOD_SETTINGS: dict[str, dict[str, object]] = {
    # additive MIV: the multiplicative form is meaningless for variables centred near zero
    # (standardized or centred data, like the diabetes demo), and additive works in any units
    "MIV": {"perturbation": "additive"},
    # derivatives times the input's standard deviation: scale-free, so that a variable measured
    # on a small range does not dominate (raw derivatives are per unit of each input)
    "Dimopoulos": {"scale": "sd"},
}
"""Method-specific settings the command line uses (by class name)."""

UNITS: dict[str, str] = {
    "Olden": "sum over hidden units of input-hidden times hidden-output weights of the network "
    "on standardized inputs (and standardized target for regression): unit-free",
    "Garson": "share of the absolute connection weights (unit-free, sums to 1 per output)",
    "Dimopoulos": "sum over rows of squared derivatives, each derivative multiplied by the "
    "input's standard deviation (scale='sd'): unit-free, target in standard deviations for "
    "regression, class probability for classification",
    "MIV": "mean change of the prediction when the input moves from -0.1 to +0.1 of its "
    "standard deviation (additive MIV); target in standard deviations for regression",
    "LekProfile": "range of the predicted response along the input's range",
    "InputPerturbation": "increase of the prediction error when the input is perturbed by noise",
    "PermutationImportance": "increase of the prediction error when the input is permuted",
}
"""What the statistic of each method measures in ``analyze`` (printed in the report)."""

YLABELS: dict[str, str] = {
    "Olden": "Olden importance (signed, unit-free)",
    "Garson": "Garson share of |weights|",
    "Dimopoulos": "sum of squared sd-scaled derivatives",
    "MIV": "MIV (change of prediction per ±0.1 sd)",
}
"""Axis labels of the bar charts of ``analyze`` (the statistic and its units)."""


class CLIError(Exception):
    """An error reported as one line on stderr with exit status 2."""


def available_methods() -> dict[str, type]:
    """The methods of :data:`METHODS` whose estimator class this package provides."""
    import sensitivity

    found = {}
    for name, cls_name in METHODS.items():
        cls = getattr(sensitivity, cls_name, None)
        if isinstance(cls, type):
            found[name] = cls
    return found


def resolve_methods(spec: str | Sequence[str]) -> list[tuple[str, type]]:
    """Estimator classes for a comma-separated list (or sequence) of method names.

    Raises
    ------
    CLIError
        For an unknown or unavailable name, listing the available ones.
    """
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in names if n]
    if not names:
        raise CLIError("no method given; available: " + ", ".join(available_methods()))
    available = available_methods()
    out = []
    for name in names:
        if name not in available:
            why = "is not available in this version" if name in METHODS else "is unknown"
            raise CLIError(f"method {name!r} {why}; available methods: {', '.join(available)}")
        out.append((name, available[name]))
    return out


def _make(cls: type, estimator, **params):
    """An estimator of class ``cls`` with the given parameters (those it accepts)."""
    accepted = cls().get_params(deep=False)
    params = {**METHOD_SETTINGS.get(cls.__name__, {}), **params}
    return cls(estimator, **{k: v for k, v in params.items() if k in accepted})


def _network(task: str, hidden: int, seed: int):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cls = MLPClassifier if task == "classification" else MLPRegressor
    return make_pipeline(
        StandardScaler(),
        cls(
            hidden_layer_sizes=(hidden,),
            alpha=1.0,
            solver="lbfgs",
            max_iter=2000,
            random_state=seed,
        ),
    )


def _progress(items, desc: str, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, disable=quiet, file=sys.stderr, leave=False)


def _network_bars(quiet: bool) -> int:
    """``verbose`` for the estimators: their per-network bar nests under the methods bar, which
    needs a terminal (in a log file the cursor moves print as escape codes)."""
    return int(not quiet and sys.stderr.isatty())


def _note(message: str) -> None:
    print(f"sensitivity: note: {message}", file=sys.stderr)
