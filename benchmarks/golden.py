"""Golden output: every number of the tests and plain functions on fixed seeds, as text (issue 25).

Runs, on one small design with fixed seeds and small settings (seconds of CPU):

* every estimator (Olden, Garson, Dimopoulos, MIV, InputPerturbation, LekProfile,
  PermutationImportance, Attributions) with the refitting tests: ``null="conditional"``,
  ``"variable"`` and ``"response"``, and ``n_bootstrap`` alone; Olden also with the two-stage
  rule (399 draws), a cross-validated penalty, a test and a bootstrap in one fit, and the clone
  refitter (``trainer="estimator"``);
* the plain functions (:func:`olden`, :func:`garson`, :func:`dimopoulos`, :func:`miv`,
  :func:`input_perturbation`, :func:`lekprofile`, :func:`permutation` and the attribution
  functions) on one fitted network;
* :class:`HoldoutConditionalTest` (test set and cross-fitting) and
  :func:`sensitivity.inference.loco_test`.

It prints every resulting number in a stable text format: floats as ``repr`` (exact round
trip), arrays with their shape and the sha256 of their float64 bytes (values too when small),
tables column by column, dicts by sorted key, networks by the digest of their weights, and the
warnings each run raised. To check that a refactor changes no result::

    PYTHONPATH=. python benchmarks/golden.py > before.txt   # on the old commit
    PYTHONPATH=. python benchmarks/golden.py > after.txt    # on the new one
    diff before.txt after.txt                                # empty: the same numbers

Run with ``OMP_NUM_THREADS=1`` on both commits (the same machine and library versions); the
timing of each case goes to stderr, so it never enters the diff.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import make_friedman1
from sklearn.neural_network import MLPRegressor

import sensitivity as sa
from sensitivity.inference import loco_test

FAST = {"max_iter": 40, "tol": 1e-3}
SMALL_ARRAY = 12
"""Arrays with at most this many values are printed in full as well as digested."""

ESTIMATOR_ATTRIBUTES = (
    "importances_",
    "statistics_",
    "null_distribution_",
    "bootstrap_distribution_",
    "path_p_values_",
    "global_test_",
    "inference_",
    "network_",
)
HOLDOUT_ATTRIBUTES = (
    "importances_",
    "statistics_",
    "loss_",
    "null_distribution_",
    "loss_differences_",
    "n_heldout_",
    "untestable_",
    "mode_",
)


def data():
    """Friedman #1 with three pure-noise inputs: 60 rows, 8 inputs (in the two-stage tests
    some variables stop after the first stage and others go on)."""
    X, y = make_friedman1(n_samples=60, n_features=8, noise=0.5, random_state=0)
    return pd.DataFrame(X, columns=[f"v{i}" for i in range(8)]), y


def net(**kw) -> MLPRegressor:
    """A tiny network (3 logistic units) with a fixed seed."""
    return MLPRegressor(
        hidden_layer_sizes=(3,), activation="logistic", max_iter=60, random_state=0, **kw
    )


# ------------------------------------------------------------------------------- printing
def _digest(arr: np.ndarray) -> str:
    a = np.ascontiguousarray(arr, dtype=np.float64)
    return hashlib.sha256(a.tobytes()).hexdigest()


def _number(x) -> str:
    if isinstance(x, bool | np.bool_):
        return repr(bool(x))
    if isinstance(x, int | np.integer):
        return repr(int(x))
    return repr(float(x))


def dump(name: str, value, out: list[str]) -> None:
    """Append ``name: value`` lines for any result value (recursively for containers)."""
    if value is None or isinstance(value, str | bool):
        out.append(f"{name}: {value!r}")
    elif isinstance(value, int | float | np.integer | np.floating | np.bool_):
        out.append(f"{name}: {_number(value)}")
    elif isinstance(value, pd.DataFrame):
        out.append(f"{name}: DataFrame {value.shape} index={list(map(str, value.index))}")
        for col in value.columns:
            dump(f"{name}[{col}]", value[col].to_numpy(), out)
    elif isinstance(value, pd.Series):
        dump(name, value.to_numpy(), out)
    elif isinstance(value, dict):
        out.append(f"{name}: dict keys={sorted(map(str, value))}")
        for key in sorted(value, key=str):
            dump(f"{name}.{key}", value[key], out)
    elif isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            out.append(f"{name}: {list(value)!r}")
        else:
            for i, v in enumerate(value):
                dump(f"{name}[{i}]", v, out)
    elif isinstance(value, np.ndarray):
        _dump_array(name, value, out)
    elif hasattr(value, "numpy_weights"):  # MLPBatch: digest of its weights
        weights, biases = value.numpy_weights()
        parts = [_digest(w) for w in weights] + [_digest(b) for b in biases]
        out.append(f"{name}: MLPBatch {hashlib.sha256(''.join(parts).encode()).hexdigest()}")
    elif hasattr(value, "coefs_"):  # a fitted scikit-learn network
        parts = [_digest(w) for w in value.coefs_] + [_digest(b) for b in value.intercepts_]
        digest = hashlib.sha256("".join(parts).encode()).hexdigest()
        out.append(f"{name}: {type(value).__name__} {digest}")
    elif dataclasses.is_dataclass(value):  # e.g. LocalAttributions: field by field
        out.append(f"{name}: {type(value).__name__}")
        for f in dataclasses.fields(value):
            dump(f"{name}.{f.name}", getattr(value, f.name), out)
    else:
        out.append(f"{name}: <{type(value).__name__}>")


def _dump_array(name: str, value: np.ndarray, out: list[str]) -> None:
    if value.dtype.kind not in "biuf":
        out.append(f"{name}: {value.shape} {[str(v) for v in value.ravel()]!r}")
        return
    line = f"{name}: {value.dtype.kind}{value.shape} sha256={_digest(value)}"
    if value.size <= SMALL_ARRAY:
        line += " [" + ", ".join(_number(v) for v in value.ravel()) + "]"
    out.append(line)


def report(title: str, run, attributes=ESTIMATOR_ATTRIBUTES) -> None:
    """Run one case, then print its attributes (or its returned value) and its warnings."""
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run()
    out = [f"== {title}"]
    if attributes is None:
        dump("result", result, out)
    else:
        for attr in attributes:
            dump(attr, getattr(result, attr, None), out)
    for message in sorted({f"{w.category.__name__}: {w.message}" for w in caught}):
        out.append(f"warning: {message}")
    print("\n".join(out), flush=True)
    print(f"{title}: {time.perf_counter() - start:.1f} s", file=sys.stderr)


# --------------------------------------------------------------------------------- cases
ESTIMATORS = {
    "Olden": (sa.Olden, {}),
    "Garson": (sa.Garson, {}),
    "Dimopoulos": (sa.Dimopoulos, {}),
    "MIV": (sa.MIV, {}),
    "InputPerturbation": (sa.InputPerturbation, {"n_repeats": 2}),
    "LekProfile": (sa.LekProfile, {"steps": 5}),
    "PermutationImportance": (sa.PermutationImportance, {"n_repeats": 2}),
    "Attributions": (sa.Attributions, {"n_baselines": 3, "n_steps": 8}),
}

TESTS = {
    "conditional": {"null": "conditional", "n_permutations": 9},
    "variable": {"null": "variable", "n_permutations": 9},
    "response": {"null": "response", "n_permutations": 9},
    "bootstrap": {"null": "conditional", "n_bootstrap": 5},  # no test: the bootstrap alone
}

OLDEN_EXTRA = {
    # the two-stage rule: 99 first-stage draws, then 399 for the variables that go on
    "conditional two-stage 399": {"null": "conditional", "n_permutations": 399},
    "variable two-stage 399": {"null": "variable", "n_permutations": 399},
    "conditional + bootstrap": {"null": "conditional", "n_permutations": 9, "n_bootstrap": 5},
    "response + bootstrap": {"null": "response", "n_permutations": 9, "n_bootstrap": 5},
    "conditional cv penalty + bootstrap": {
        "null": "conditional",
        "n_permutations": 5,
        "n_bootstrap": 3,
        "train_alpha": "cv",
    },
    "conditional clones": {"null": "conditional", "n_permutations": 3, "trainer": "estimator"},
    "response clones + bootstrap": {
        "null": "response",
        "n_permutations": 3,
        "n_bootstrap": 2,
        "trainer": "estimator",
    },
}


def estimator_cases(X, y) -> None:
    """Each estimator with each test; Olden with the extra designs."""
    for name, (cls, own) in ESTIMATORS.items():
        cases = dict(TESTS)
        if name == "Olden":
            cases.update(OLDEN_EXTRA)
        for test, kw in cases.items():
            params = {"train_alpha": 1.0, "train_params": FAST, "random_state": 0, **own, **kw}

            def run(cls=cls, params=params):
                return cls(net(), **params).fit(X, y)

            report(f"{name} {test}", run)
    # two outputs: each output by the two-stage rule on its own
    y2 = np.column_stack(
        [y, X["v0"] - X["v5"] + 0.1 * np.random.default_rng(0).normal(size=len(y))]
    )
    for null in ("conditional", "variable"):
        report(
            f"Olden two outputs {null} two-stage 399",
            lambda null=null: sa.Olden(
                net(), null=null, n_permutations=399, train_alpha=1.0, train_params=FAST,
                random_state=0,
            ).fit(X, y2),
        )  # fmt: skip


def function_cases(X, y) -> None:
    """The plain functions on one fitted network."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = net().fit(X, y)
    Xs = X.iloc[:20]
    cases = {
        "olden()": lambda: sa.olden(model),
        "garson()": lambda: sa.garson(model),
        "dimopoulos()": lambda: sa.dimopoulos(model, X),
        "miv()": lambda: sa.miv(model, X),
        "input_perturbation()": lambda: sa.input_perturbation(
            model, X, y, n_repeats=2, random_state=0
        ),
        "lekprofile()": lambda: sa.lekprofile(model, X, steps=5),
        "permutation()": lambda: sa.permutation(model, X, y, n_repeats=2, random_state=0),
        "saliency()": lambda: sa.saliency(model, Xs),
        "smoothgrad()": lambda: sa.smoothgrad(model, Xs, n_samples=4, random_state=0),
        "integrated_gradients()": lambda: sa.integrated_gradients(model, Xs, n_steps=8),
        "occlusion()": lambda: sa.occlusion(model, Xs),
    }
    for title, run in cases.items():
        report(title, run, attributes=None)


def heldout_cases(X, y) -> None:
    """The held-out conditional test (test set, cross-fitting) and leave-one-covariate-out."""
    Xtr, ytr, Xte, yte = X.iloc[:40], y[:40], X.iloc[40:], y[40:]
    report(
        "HoldoutConditionalTest test set",
        lambda: sa.HoldoutConditionalTest(net(), n_draws=159, random_state=0).fit(
            Xtr, ytr, X_test=Xte, y_test=yte
        ),
        HOLDOUT_ATTRIBUTES,
    )
    report(
        "HoldoutConditionalTest cross-fitting",
        lambda: sa.HoldoutConditionalTest(net(), n_draws=159, cv=3, random_state=0).fit(X, y),
        HOLDOUT_ATTRIBUTES,
    )
    report(
        "Olden null=holdout",
        lambda: sa.Olden(net(), n_permutations=159, random_state=0).fit(X, y),
    )
    report(
        "loco_test split",
        lambda: loco_test(net(), X, y, cv=3, random_state=0).to_frame(),
        attributes=None,
    )
    report(
        "loco_test paired",
        lambda: loco_test(net(), X, y, cv=3, split=False, random_state=0).to_frame(),
        attributes=None,
    )


def main() -> None:
    X, y = data()
    estimator_cases(X, y)
    function_cases(X, y)
    heldout_cases(X, y)


if __name__ == "__main__":
    main()
