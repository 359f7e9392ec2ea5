"""Input checks shared by every estimator: text columns, constant targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.neural_network import MLPClassifier, MLPRegressor

import sensitivity
from sensitivity.methods._data import check_numeric_columns

# the weight and derivative methods analyse a Pipeline(ColumnTransformer, network) in the
# user's columns; the others need the columns encoded before the call
IN_THE_MODEL = ("Olden", "Garson", "Dimopoulos")
ESTIMATORS = (
    *IN_THE_MODEL,
    "MIV",
    "PermutationImportance",
    "Attributions",
    "HoldoutConditionalTest",
)


def _net():
    return MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=50, random_state=0)


@pytest.fixture(scope="module")
def with_text():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {"a": rng.normal(size=40), "site": rng.choice(["u", "v"], 40), "b": rng.normal(size=40)}
    )
    return X, pd.Series(X["a"] + rng.normal(0, 0.1, 40), name="y")


@pytest.mark.parametrize("name", ESTIMATORS)
def test_a_text_column_is_named_with_the_fix(with_text, name):
    X, y = with_text
    with pytest.raises(ValueError) as info:
        getattr(sensitivity, name)(_net()).fit(X, y)
    message = str(info.value)
    assert message.startswith("Non-numeric column(s) ['site'] in X (e.g. 'v'")
    assert "could not convert" not in message
    assert "OneHotEncoder" in message and "or drop them from X" in message
    assert ("encode them inside the model" in message) == (name in IN_THE_MODEL)


def test_text_in_an_array_and_numbers_stored_as_text():
    X = np.array([[1.0, "u"], [2.0, "v"], [3.0, "u"]], dtype=object)
    with pytest.raises(
        ValueError, match=r"Non-numeric column\(s\) \['x1'\] in X_test \(e.g. 'u'\)"
    ):
        check_numeric_columns(X, name="X_test")
    check_numeric_columns(pd.DataFrame({"a": ["1.5", "2", "3"], "b": [1, 2, 3]}))
    check_numeric_columns(np.ones((3, 2)))


def _no_test(name):
    return {} if name == "HoldoutConditionalTest" else {"n_permutations": 0}


@pytest.mark.parametrize(
    "name", [*ESTIMATORS, "LekProfile", "InputPerturbation", "PermutationImportance-holdout"]
)
def test_a_network_is_not_fitted_to_a_constant_target(with_text, name):
    X = with_text[0].drop(columns="site")
    holdout = {"null": "holdout", "n_permutations": 19, "p_adjust": None}
    params = holdout if name.endswith("-holdout") else _no_test(name)
    estimator = getattr(sensitivity, name.split("-")[0])(_net(), **params)
    with pytest.raises(ValueError, match=r"^y is constant \(2\.5 in every row\): a network"):
        estimator.fit(X, np.full(len(X), 2.5))


def test_a_classifier_is_not_fitted_to_a_single_class(with_text):
    X = with_text[0].drop(columns="site")
    clf = MLPClassifier(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=50, random_state=0)
    with pytest.raises(ValueError, match=r"^y has a single class \('a' in every row\)"):
        sensitivity.Olden(clf, n_permutations=0).fit(X, np.full(len(X), "a"))
    with pytest.raises(ValueError, match=r"^y has a single class \(1 in every row\)"):
        sensitivity.HoldoutConditionalTest(clf).fit(X, np.ones(len(X), dtype=int))


def test_a_prefit_network_without_a_test_needs_no_usable_target(with_text):
    X = with_text[0].drop(columns="site")
    net = _net().fit(X, X["a"])
    assert sensitivity.Olden(net, prefit=True, n_permutations=0).fit(X).importances_ is not None
