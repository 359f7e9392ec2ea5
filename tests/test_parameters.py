"""The shared parameter contract of every estimator.

Every public parameter is validated, with a clear message naming it, whether or not a test runs
(scikit-learn's ``_parameter_constraints``); ``get_params``, ``set_params`` and ``clone`` carry
every setting, the wrapped network's included.

``SampleInfluence`` validates its parameters by hand in ``fit`` (its own messages, not
``InvalidParameterError``): its bad values are tested in ``test_influence.py``; it is in the
``get_params`` / ``clone`` contract below.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.neural_network import MLPRegressor
from sklearn.utils._param_validation import InvalidParameterError

import sensitivity
from sensitivity import (
    MIV,
    Attributions,
    Dimopoulos,
    Garson,
    HoldoutConditionalTest,
    InputPerturbation,
    LekProfile,
    Olden,
    PermutationImportance,
    SampleInfluence,
)

# the randomization-test family: they share the common parameters below
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

# the held-out conditional test has its own parameters (no refitting, no n_permutations)
HOLDOUT_BAD = [
    ("estimator", 3),
    ("prefit", "yes"),
    ("n_draws", 0),
    ("test", "z"),
    ("cv", "five"),
    ("conditional", 1.5),
    ("conditional_rows", "all"),
    ("sampler", 2),
    ("loss", "hinge"),
    ("alpha", 1.0),
    ("p_adjust", "bogus"),
    ("max_features", 0),
    ("random_state", "seed"),
    ("memory_budget_mb", 0),
    ("n_jobs", 1.5),
]

BAD = {cls: COMMON_BAD + SPECIFIC_BAD.get(cls, []) for cls in ESTIMATORS}
BAD[HoldoutConditionalTest] = HOLDOUT_BAD
VALIDATED = [*ESTIMATORS, HoldoutConditionalTest]

# every estimator, with a non-default setting of its own parameters (what clone must carry)
SETTINGS = {
    Garson: {"variant": "gevrey", "alpha": 0.1},
    Olden: {"max_features": 2},
    Dimopoulos: {"statistic": "rms", "scale": None},
    MIV: {"delta": 0.05},
    InputPerturbation: {"noise_levels": (0.2,), "n_repeats": 2},
    LekProfile: {"steps": 5},
    PermutationImportance: {"n_repeats": 2},
    Attributions: {"method": "saliency"},
    HoldoutConditionalTest: {"n_draws": 19, "test": "cpi", "cv": 3},
    SampleInfluence: {"damping": 1e-3, "solver": "exact"},
}
ALL_ESTIMATORS = list(SETTINGS)


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
        for n_permutations in (0, 3):  # without and with a test
            base = {"prefit": True, "n_permutations": n_permutations}
            for name, value in BAD[cls]:
                yield pytest.param(
                    cls, base, name, value, id=f"{cls.__name__}-B{n_permutations}-{name}-{value!r}"
                )
    base = {"prefit": True, "n_draws": 19, "p_adjust": None}
    for name, value in HOLDOUT_BAD:
        yield pytest.param(
            HoldoutConditionalTest, base, name, value, id=f"Holdout-{name}-{value!r}"
        )


@pytest.mark.parametrize(("cls", "base", "name", "value"), list(_cases()))
def test_every_bad_parameter_is_refused_by_name(data, cls, base, name, value):
    net, X, y = data
    est = cls(**{"estimator": net, **base, name: value})
    got = re.escape(f"Got {value!r} instead.")
    with pytest.raises(
        InvalidParameterError, match=rf"The '{name}' parameter of {cls.__name__} must be .*{got}"
    ):
        est.fit(X, y)
    # the same through set_params, as a search sets it
    est = cls(net, **base).set_params(**{name: value})
    with pytest.raises(InvalidParameterError, match=rf"'{name}' parameter of {cls.__name__}"):
        est.fit(X, y)


def test_a_range_is_stated_in_the_message(data):
    net, X, _ = data
    with pytest.raises(ValueError, match=r"'delta' parameter of MIV must be a float in the range"):
        MIV(net, prefit=True, delta=2.0).fit(X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_unknown_trainer_settings_are_refused_without_a_test(data, cls):
    net, X, y = data
    with pytest.raises(ValueError, match=r"Unknown train_params \['bogus'\]"):
        cls(net, prefit=True, train_params={"bogus": 1}).fit(X, y)


@pytest.mark.parametrize("cls", VALIDATED)
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


@pytest.mark.parametrize("cls", VALIDATED)
def test_every_public_parameter_has_a_bad_value_case(cls):
    # a new parameter without a case above fails here
    covered = {name for name, _ in BAD[cls]}
    public = set(cls().get_params(deep=False)) - {"estimator"}
    assert public - covered == set()


def test_every_estimator_is_in_the_contract():
    public = {
        obj
        for name in sensitivity.__all__
        if isinstance(obj := getattr(sensitivity, name), type) and issubclass(obj, BaseEstimator)
    }
    assert public == set(ALL_ESTIMATORS)
    assert set(ALL_ESTIMATORS) - set(VALIDATED) == {SampleInfluence}


@pytest.mark.parametrize("cls", ALL_ESTIMATORS, ids=lambda c: c.__name__)
def test_get_params_set_params_and_clone_carry_every_setting(cls):
    settings = SETTINGS[cls]
    net = MLPRegressor(hidden_layer_sizes=(3,))
    est = cls(net, **settings)
    params = est.get_params(deep=False)
    assert params["estimator"] is net
    assert {k: params[k] for k in settings} == settings
    deep = est.get_params(deep=True)
    assert deep["estimator__alpha"] == net.alpha and deep["estimator__hidden_layer_sizes"] == (3,)
    # set_params reaches the wrapped network and the estimator's own parameters
    assert est.set_params(estimator__alpha=3.0) is est and net.alpha == 3.0
    again = cls(MLPRegressor(hidden_layer_sizes=(3,))).set_params(**settings)
    assert {k: v for k, v in again.get_params(deep=False).items() if k != "estimator"} == {
        k: v for k, v in params.items() if k != "estimator"
    }
    # clone: a new estimator and a new (unfitted) network with the same settings
    c = clone(est)
    assert c is not est and c.estimator is not net
    assert c.estimator.alpha == 3.0 and c.estimator.hidden_layer_sizes == (3,)
    assert all(getattr(c, k) == v for k, v in settings.items())
    own = {k: v for k, v in c.get_params(deep=False).items() if k != "estimator"}
    assert own == {k: v for k, v in est.get_params(deep=False).items() if k != "estimator"}
