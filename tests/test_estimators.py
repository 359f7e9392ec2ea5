"""Garson and Olden estimators and plain functions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_regression
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensitivity import Garson, Olden, garson, olden
from sensitivity.adapters import to_mlp_batch
from sensitivity.methods import weights as W


@pytest.fixture(scope="module")
def regression():
    X, y = make_regression(n_samples=150, n_features=4, n_informative=2, random_state=0)
    X = pd.DataFrame(X, columns=["temp", "depth", "ph", "flow"])
    return X, pd.Series(y / y.std(), name="biomass")


def _net():
    return MLPRegressor(
        hidden_layer_sizes=(6,), solver="lbfgs", max_iter=500, alpha=1.0, random_state=0
    )


def test_olden_estimator_fits_a_clone_and_reports_ranked_named_table(regression):
    X, y = regression
    base = _net()
    sa = Olden(base).fit(X, y)
    assert not hasattr(base, "coefs_")  # the user's estimator is untouched
    expected = W.olden(to_mlp_batch(sa.estimator_))[0, 0]
    got = sa.importances_["importance"].reindex(list(X.columns)).to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert sa.importances_.index.name == "variable"
    assert list(sa.importances_["rank"]) == [1, 2, 3, 4]
    assert sa.output_names_ == ("biomass",)
    assert sa.score(X, y) == pytest.approx(sa.estimator_.score(X, y))


def test_garson_estimator_prefit_and_pipeline(regression):
    X, y = regression
    pipe = make_pipeline(StandardScaler(), _net()).fit(X, y)
    sa = Garson(pipe, prefit=True, variant="gevrey").fit(X)
    assert sa.estimator_ is pipe
    frame = garson(pipe, "gevrey")
    pd.testing.assert_frame_equal(
        sa.importances_, frame, check_like=True, check_exact=False, check_names=False
    )
    np.testing.assert_allclose(sa.importances_["importance"].sum(), 1.0)


def test_multiclass_classifier_gives_one_block_per_class(iris_classifier):
    clf, X, _names = iris_classifier
    frame = Olden(clf, prefit=True).fit(X).importances_
    assert frame.index.names == ["output", "variable"]
    assert list(frame.index.get_level_values("output").unique()) == list(clf.classes_)
    for cls in clf.classes_:
        assert sorted(frame.loc[cls, "rank"]) == [1, 2, 3, 4]
    assert len(garson(clf)) == 12 and len(olden(clf)) == 12


def test_transform_keeps_top_ranked_variables_without_a_test(regression):
    X, y = regression
    sa = Olden(_net(), max_features=2).fit(X, y)
    kept = sa.get_feature_names_out()
    top = list(sa.importances_.index[:2])
    assert sorted(kept) == sorted(top)
    assert sa.transform(X).shape == (len(X), 2)


def test_bad_inputs_have_clear_errors(regression):
    X, y = regression
    with pytest.raises(NotFittedError):
        Olden(_net(), prefit=True).fit(X)
    Xn = X.copy()
    Xn.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Olden(_net()).fit(Xn, y)
    with pytest.raises(ValueError, match="needs y"):
        Olden(_net()).fit(X)
    deep = MLPRegressor(hidden_layer_sizes=(4, 3), max_iter=50, random_state=0)
    with pytest.raises(ValueError, match="Olden"):
        Garson(deep).fit(X, y)
    Xs = X.astype(object)
    Xs.iloc[0, 1] = "deep"
    with pytest.raises(ValueError):
        Olden(_net()).fit(Xs, y)


def test_prefit_torch_sequential_is_accepted():
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    X = np.random.default_rng(0).normal(size=(20, 3))
    sa = Olden(net, prefit=True).fit(X)
    expected = (net[0].weight.T @ net[2].weight.T).detach().numpy()[:, 0]
    got = sa.importances_["importance"].reindex(["x0", "x1", "x2"]).to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with pytest.raises(TypeError, match="no score"):
        sa.score(X, np.zeros(20))
