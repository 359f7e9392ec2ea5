"""Every public parameter of every estimator is validated, with a clear message, whether or not
a test runs (scikit-learn's ``_parameter_constraints``)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.neural_network import MLPRegressor

from sensitivity import (
    MIV,
    Attributions,
    Dimopoulos,
    Garson,
    InputPerturbation,
    LekProfile,
    Olden,
    PermutationImportance,
)

ESTIMATORS = [
    Garson,
    Olden,
    Dimopoulos,
    MIV,
    InputPerturbation,
    LekProfile,
    PermutationImportance,
    Attributions,
]

COMMON_BAD = [
    ("prefit", "yes"),
    ("n_permutations", -1),
    ("n_permutations", 2.5),
    ("early_stop", "yes"),
    ("n_bootstrap", -3),
    ("alpha", 0.0),
    ("alpha", 1.5),
    ("p_adjust", "nonsense"),
    ("max_features", 0),
    ("random_state", "seed"),
    ("n_jobs", "all"),
    ("verbose", "loud"),
    ("null", "rows"),
    ("n_init", 0),
    ("train_alpha", -5),
    ("train_alpha", "auto"),
    ("trainer", "gpu"),
    ("train_params", "fast"),
    ("conditional", "magic"),
]

SPECIFIC_BAD = {
    Garson: [("variant", "olden")],
    Dimopoulos: [
        ("statistic", "median"),
        ("scale", "mad"),
        ("logits", "no"),
        ("second_order", "sometimes"),
        ("ddof", -1),
        ("memory_budget_mb", 0),
    ],
    MIV: [("delta", 0), ("delta", 1.2), ("perturbation", "relative")],
    InputPerturbation: [("n_repeats", 0), ("loss", "hinge"), ("noise_levels", 0.1)],
    LekProfile: [("steps", 1), ("groups", "quantiles")],
    PermutationImportance: [("n_repeats", 0), ("loss", "hinge")],
    Attributions: [
        ("method", "lime"),
        ("baseline", "random"),
        ("baseline", None),
        ("n_baselines", 0),
        ("n_steps", 0),
        ("n_steps", "many"),
        ("integration", "simpson"),
        ("tolerance", 0),
        ("n_samples", 0),
        ("noise_level", -0.1),
        ("absolute", "yes"),
        ("logits", "no"),
        ("memory_budget_mb", 0),
    ],
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = X[:, 0] + 0.1 * rng.normal(size=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = MLPRegressor(hidden_layer_sizes=(3,), max_iter=30, random_state=0).fit(X, y)
    return net, X, y


def _cases():
    for cls in ESTIMATORS:
        for name, value in COMMON_BAD + SPECIFIC_BAD.get(cls, []):
            yield pytest.param(cls, name, value, id=f"{cls.__name__}-{name}-{value!r}")


@pytest.mark.parametrize(("cls", "name", "value"), list(_cases()))
@pytest.mark.parametrize("n_permutations", [0, 3])
def test_every_bad_parameter_is_refused_by_name(data, cls, name, value, n_permutations):
    net, X, y = data
    params = {"prefit": True, "n_permutations": n_permutations, name: value}
    if name == "n_permutations":
        params["n_permutations"] = value
    est = cls(net, **params)
    with pytest.raises(ValueError, match=rf"'{name}' parameter of {cls.__name__} must be"):
        est.fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_unknown_trainer_settings_are_refused_without_a_test(data, cls):
    net, X, y = data
    with pytest.raises(ValueError, match=r"Unknown train_params \['bogus'\]"):
        cls(net, prefit=True, train_params={"bogus": 1}).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_missing_estimator_is_a_clear_error(data, cls):
    _, X, y = data
    with pytest.raises(ValueError, match="needs an estimator"):
        cls().fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_the_common_parameters_appear_once_in_every_signature(cls):
    params = cls().get_params(deep=False)
    for name, _ in COMMON_BAD:
        assert name in params
    assert params["null"] == "holdout" and params["train_alpha"] == "cv"


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_every_public_parameter_has_a_bad_value_case(cls):
    # a new parameter without a case above fails here
    covered = {name for name, _ in COMMON_BAD + SPECIFIC_BAD.get(cls, [])}
    public = set(cls().get_params(deep=False)) - {"estimator"}
    assert public - covered == set()
