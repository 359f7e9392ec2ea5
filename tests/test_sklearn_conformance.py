"""The estimators behave as scikit-learn meta-estimators: checks, clone, Pipeline screening,
model selection, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

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
from sensitivity.result import importance_frame


def _tiny_net():
    return MLPRegressor(hidden_layer_sizes=(3,), max_iter=20, random_state=0)


# Every check of scikit-learn's suite passes on every estimator (none is an expected failure).
@parametrize_with_checks(
    [
        Garson(_tiny_net()),
        Garson(_tiny_net(), variant="gevrey"),
        Olden(_tiny_net()),
        Dimopoulos(_tiny_net()),
        MIV(_tiny_net(), perturbation="additive"),
        InputPerturbation(_tiny_net(), n_repeats=2),
        LekProfile(_tiny_net(), steps=5),
        PermutationImportance(_tiny_net(), n_repeats=2),
        Attributions(_tiny_net(), method="saliency"),
        Attributions(_tiny_net(), method="occlusion"),
        Attributions(_tiny_net(), method="integrated_gradients", n_steps=8),
    ]
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(n_samples=120, n_features=5, n_informative=2, random_state=1)
    X = pd.DataFrame(X, columns=["a", "b", "c", "d", "e"])
    return X, pd.Series(y / y.std(), name="target")


def _net():
    return MLPRegressor(
        hidden_layer_sizes=(4,), solver="lbfgs", alpha=1.0, max_iter=300, random_state=0
    )


@pytest.mark.parametrize("cls", [Garson, Olden])
def test_screening_step_in_a_pipeline_keeps_the_top_ranked_variables(cls, data):
    X, y = data
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("screen", cls(_net(), max_features=2)),
            ("model", LinearRegression()),
        ]
    ).fit(X, y)
    screen = pipe.named_steps["screen"]
    top2 = {int(v[1:]) for v in screen.importances_.index[:2]}  # x0.. (scaler gives arrays)
    assert set(np.flatnonzero(screen.get_support())) == top2
    kept = [c for i, c in enumerate(X.columns) if i in top2]
    assert list(pipe[:-1].get_feature_names_out()) == kept
    Xt = pipe[:-1].transform(X)
    np.testing.assert_allclose(Xt, StandardScaler().fit_transform(X)[:, sorted(top2)])
    assert pipe.named_steps["model"].coef_.shape == (2,)
    assert pipe.predict(X).shape == (len(X),)
    # with pandas output the names travel through the screen
    framed = clone(pipe).set_output(transform="pandas").fit(X, y)
    best = set(framed.named_steps["screen"].importances_.index[:2])
    assert list(framed.named_steps["model"].feature_names_in_) == [c for c in X if c in best]


def test_screening_keeps_significant_variables_when_a_test_ran(data):
    X, y = data
    sa = Olden(_net()).fit(X, y)
    # what the randomization test would give: a and d significant, d ranked first
    sa.importances_ = importance_frame(
        [[0.5, 0.1, 0.2, -2.0, 0.3]],
        list(X.columns),
        ["target"],
        signed=True,
        p_value=[[0.001, 0.5, 0.04, 0.001, 0.2]],
        p_adjusted=[[0.005, 0.5, 0.16, 0.005, 0.6]],
    )
    assert list(sa.get_feature_names_out()) == ["a", "d"]
    sa.max_features = 1
    assert list(sa.get_feature_names_out()) == ["d"]
    np.testing.assert_allclose(sa.transform(X), X[["d"]].to_numpy())


def test_grid_search_over_a_screening_pipeline_finds_the_informative_count(data):
    X, y = data  # two informative inputs of five (make_regression, no noise)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("screen", Olden(_net())), ("model", LinearRegression())]
    )
    search = GridSearchCV(pipe, {"screen__max_features": [1, 2, 5]}, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    # one variable misses part of the signal; two recover it, as well as all five do
    assert scores[0] < scores[1] - 0.03 and scores[1] > 0.97 and scores[2] > 0.97
    assert search.best_params_["screen__max_features"] in (2, 5)
    kept = search.best_estimator_.named_steps["screen"].get_support()
    _, _, coef = make_regression(
        n_samples=120, n_features=5, n_informative=2, random_state=1, coef=True
    )
    assert kept[coef != 0].all()


def test_cross_val_score_uses_the_network_score(data):
    X, y = data
    cv = KFold(3, shuffle=True, random_state=0)
    ours = cross_val_score(Garson(_net()), X, y, cv=cv)
    net = cross_val_score(_net(), X, y, cv=cv)
    np.testing.assert_allclose(ours, net)
    r2 = cross_val_score(Garson(_net()), X, y, cv=cv, scoring="r2")  # needs predict
    np.testing.assert_allclose(r2, net)


def test_grid_search_over_the_wrapped_network(data):
    X, y = data
    search = GridSearchCV(Olden(_net()), {"estimator__alpha": [0.1, 30.0]}, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    best = search.best_params_["estimator__alpha"]
    assert best == [0.1, 30.0][int(np.argmax(scores))] and scores.max() > scores.min()
    # the refitted best estimator is the analysis of the network with the chosen penalty
    alone = Olden(clone(_net()).set_params(alpha=best)).fit(X, y)
    pd.testing.assert_frame_equal(search.best_estimator_.importances_, alone.importances_)


def test_pickled_fitted_estimator_gives_the_same_results(data):
    X, y = data
    sa = Olden(_net(), max_features=3).fit(X, y)
    back = pickle.loads(pickle.dumps(sa))
    pd.testing.assert_frame_equal(back.importances_, sa.importances_)
    np.testing.assert_array_equal(back.predict(X), sa.predict(X))
    np.testing.assert_array_equal(back.transform(X), sa.transform(X))
    assert back.summary() == sa.summary()


def test_predict_is_delegated_and_predict_proba_only_for_classifiers(data, iris_classifier):
    X, y = data
    sa = Olden(_net()).fit(X, y)
    np.testing.assert_array_equal(sa.predict(X), sa.estimator_.predict(X))
    assert not hasattr(sa, "predict_proba")
    clf, Xi, _ = iris_classifier
    sc = Olden(clf, prefit=True).fit(Xi)
    np.testing.assert_array_equal(sc.predict_proba(Xi), clf.predict_proba(Xi))
    assert hasattr(Olden(MLPClassifier()), "predict_proba")


def test_screening_pipeline_with_a_real_randomization_test_and_grid_search(data):
    """The issue's pipeline: scale, screen with Olden's test, regress; then a grid search.

    39 permutations, unadjusted p-values and a fixed penalty for the test's networks keep it
    fast: the smallest attainable p (0.025) is below alpha, and the penalty's cross-validation
    is tested elsewhere."""
    X, y = data
    _, _, coef = make_regression(
        n_samples=120, n_features=5, n_informative=2, random_state=1, coef=True
    )
    informative = {f"x{i}" for i in np.flatnonzero(coef != 0)}  # the scaler gives arrays
    screen = Olden(_net(), n_permutations=39, p_adjust=None, train_alpha=1.0, random_state=0)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("screen", screen), ("model", LinearRegression())]
    )
    pipe.fit(X, y)
    screen = pipe.named_steps["screen"]
    kept = list(screen.get_feature_names_out())
    expected = list(screen.importances_.index[screen.importances_["significant"]])
    assert sorted(kept) == sorted(expected) and set(kept) >= informative
    columns = sorted(int(v[1:]) for v in kept)
    np.testing.assert_allclose(
        pipe[:-1].transform(X), StandardScaler().fit_transform(X)[:, columns]
    )
    search = GridSearchCV(pipe, {"screen__max_features": [1, 5]}, cv=2, refit=False).fit(X, y)
    # each cell is the pipeline (its test included) fitted on the training fold
    train, test = next(KFold(2).split(X))
    again = clone(pipe).set_params(screen__max_features=5)
    again.fit(X.iloc[train], y.iloc[train])
    expected = again.score(X.iloc[test], y.iloc[test])
    assert search.cv_results_["split0_test_score"][1] == pytest.approx(expected, rel=1e-12)
