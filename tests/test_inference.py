"""Randomization test, bootstrap and their integration in the estimators."""

from __future__ import annotations

import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_friedman1
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sensitivity import Garson, Olden, olden
from sensitivity.inference import (
    adjust_pvalues,
    bootstrap_interval,
    permutation_pvalues,
    smallest_attainable_p,
)

FAST = {"max_iter": 60, "tol": 1e-3}


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=80, n_features=6, noise=0.5, random_state=0)
    return pd.DataFrame(X, columns=[f"v{i}" for i in range(6)]), y


def _net(**kw):
    return MLPRegressor(hidden_layer_sizes=(4,), activation="logistic", max_iter=50, **kw)


def _fit(cls, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(_net(), train_params=FAST, **kw).fit(X, y)


def test_pvalue_formula_counts_ties_and_adds_one():
    null = np.array([[1.0], [2.0], [3.0], [-4.0]])
    # upper tail: #{null >= 2} = 2 -> (1 + 2) / 5
    assert permutation_pvalues(np.array([2.0]), null, signed=False)[0] == pytest.approx(3 / 5)
    # two-sided on |.|: #{|null| >= 2} = 3 -> 4 / 5; a negative observed value the same
    assert permutation_pvalues(np.array([2.0]), null, signed=True)[0] == pytest.approx(4 / 5)
    assert permutation_pvalues(np.array([-2.0]), null, signed=True)[0] == pytest.approx(4 / 5)
    # beyond every null value: the smallest attainable p, never zero
    assert permutation_pvalues(np.array([9.0]), null, signed=True)[0] == pytest.approx(1 / 5)
    # upper tail ignores large negative null values
    assert permutation_pvalues(np.array([3.5]), null, signed=False)[0] == pytest.approx(1 / 5)


def test_adjustment_interval_and_resolution_helpers():
    p = np.array([[0.01, 0.04, 0.5]])
    np.testing.assert_allclose(adjust_pvalues(p, "holm"), [[0.03, 0.08, 0.5]])
    np.testing.assert_allclose(adjust_pvalues(p, None), p)
    assert smallest_attainable_p(199, 10, "holm") == pytest.approx(10 / 200)
    assert smallest_attainable_p(199, 10, "fdr_bh") == pytest.approx(1 / 200)
    lo, hi = bootstrap_interval(np.arange(101.0)[:, None], 0.1)
    assert lo[0] == pytest.approx(5.0) and hi[0] == pytest.approx(95.0)


def test_olden_test_fills_the_table_and_estimator_holds_the_tested_network(friedman):
    X, y = friedman
    sa = _fit(Olden, X, y, n_permutations=19, n_bootstrap=9, random_state=0)
    frame = sa.importances_
    assert frame["p_value"].between(1 / 20, 1).all()
    assert (frame["p_adjusted"] >= frame["p_value"] - 1e-12).all()
    assert (frame["ci_low"] <= frame["ci_high"]).all()
    assert frame["significant"].equals(frame["p_adjusted"] <= 0.05)
    assert sa.null_distribution_.shape == (19, 1, 6)
    assert sa.bootstrap_distribution_.shape == (9, 1, 6)
    assert sa.path_p_values_.shape == (1, 6, 4)
    # importances_, estimator_ and the null come from one trainer: olden(estimator_) agrees
    again = olden(sa.estimator_).reindex(frame.index)["importance"]
    np.testing.assert_allclose(again, frame["importance"], rtol=1e-10)
    # p-values are reproducible from the null distribution
    obs = sa.statistics_["importance"]
    np.testing.assert_allclose(
        permutation_pvalues(obs, sa.null_distribution_, signed=True)[0],
        frame.reindex(list(X.columns))["p_value"],
    )


def test_garson_test_is_upper_tailed(friedman):
    X, y = friedman
    sa = _fit(Garson, X, y, n_permutations=9, random_state=1)
    obs = sa.statistics_["importance"]
    expected = permutation_pvalues(obs, sa.null_distribution_, signed=False)[0]
    np.testing.assert_allclose(sa.importances_.reindex(list(X.columns))["p_value"], expected)


def test_same_random_state_same_pvalues_for_any_n_jobs_and_chunk_size(friedman):
    X, y = friedman
    a = _fit(Olden, X, y, n_permutations=9, n_bootstrap=3, random_state=3)
    a = Olden(_net(), n_permutations=9, n_bootstrap=3, random_state=3,
              train_params={**FAST, "block_size": 2})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.fit(X, y)
    b = Olden(
        _net(), n_permutations=9, n_bootstrap=3, random_state=3, n_jobs=2,
        train_params={**FAST, "chunk_size": 2, "block_size": 2},
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b.fit(X, y)
    pd.testing.assert_series_equal(a.importances_["p_value"], b.importances_["p_value"])
    np.testing.assert_array_equal(a.null_distribution_, b.null_distribution_)
    np.testing.assert_array_equal(a.importances_["ci_low"], b.importances_["ci_low"])


def test_variable_null_permutes_one_column_per_network(friedman):
    X, y = friedman
    sa = _fit(Olden, X, y, n_permutations=5, null="variable", random_state=0)
    assert sa.null_distribution_.shape == (5, 1, 6)
    assert sa.importances_["p_value"].between(1 / 6, 1).all()


def test_estimator_trainer_refits_clones(friedman):
    X, y = friedman
    sa = _fit(Olden, X, y, n_permutations=4, trainer="estimator", n_init=2, random_state=0)
    assert sa.inference_["trainer"] == "estimator"
    assert sa.null_distribution_.shape == (4, 1, 6)
    again = olden(sa.estimator_, feature_names=list(X.columns))
    again = again.reindex(sa.importances_.index)["importance"]
    np.testing.assert_allclose(again, sa.importances_["importance"], rtol=1e-12)


def test_classifier_test_runs(iris_classifier):
    clf, X, _ = iris_classifier
    y = clf.predict(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = Olden(clf, prefit=True, n_permutations=4, train_params=FAST, random_state=0).fit(X, y)
    assert sa.null_distribution_.shape == (4, 3, X.shape[1])
    assert sa.importances_.index.names == ["output", "variable"]


def test_warning_states_smallest_attainable_p(friedman):
    X, y = friedman
    with pytest.warns(UserWarning, match=r"smallest attainable p-value.* is 0\.3"):
        Olden(_net(), n_permutations=19, train_params=FAST).fit(X, y)


def test_bad_targets_get_clear_errors(friedman):
    X, y = friedman
    y_nan = y.copy()
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Olden(_net(), n_permutations=3).fit(X, y_nan)
    with pytest.raises(ValueError, match="constant"):
        Olden(_net(), n_permutations=3).fit(X, np.ones(len(y)))
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, (y > y.mean()).astype(int))
    with pytest.raises(ValueError, match="single class"):
        Olden(clf, prefit=True, n_permutations=3).fit(X, np.zeros(len(y), dtype=int))
    with pytest.raises(ValueError, match="need y"):
        Olden(clf, prefit=True, n_permutations=3).fit(X)
    with pytest.raises(ValueError, match="null must be"):
        Olden(_net(), n_permutations=3, null="rows").fit(X, y)


def test_without_test_nothing_is_retrained(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = Olden(_net(random_state=0)).fit(X, y)
    assert not hasattr(sa, "null_distribution_")
    expected = olden(sa.estimator_).reindex(sa.importances_.index)["importance"]
    np.testing.assert_allclose(sa.importances_["importance"], expected)


def test_null_pvalues_are_roughly_uniform_when_y_is_noise():
    """Small validity check: y independent of X (the benchmark runs 200+ data sets)."""
    rng = np.random.default_rng(0)
    ps = []
    for seed in range(12):
        X = rng.normal(size=(40, 3))
        y = rng.normal(size=40)
        sa = _fit(Olden, X, y, n_permutations=19, random_state=seed, n_init=2)
        ps.append(sa.importances_["p_value"].to_numpy())
    ps = np.concatenate(ps)
    assert 0.35 < ps.mean() < 0.65
    assert (ps <= 0.1).mean() < 0.25


def test_dask_backend_gives_the_same_pvalues(friedman):
    distributed = pytest.importorskip("distributed")
    X, y = friedman
    kw = {"n_permutations": 6, "random_state": 0, "n_jobs": 2}
    params = {**FAST, "chunk_size": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = Olden(_net(), train_params=params, **kw).fit(X, y)
        with (
            distributed.LocalCluster(
                processes=True, n_workers=2, threads_per_worker=1, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster),
            joblib.parallel_config(backend="dask"),
        ):
            remote = Olden(_net(), train_params=params, **kw).fit(X, y)
    pd.testing.assert_series_equal(local.importances_["p_value"], remote.importances_["p_value"])


def test_undefined_null_statistics_count_as_less_extreme():
    from sensitivity.inference import permutation_pvalues

    null = np.array([[0.1, np.nan], [np.nan, np.nan], [0.9, 0.2], [0.3, np.nan]])
    p = permutation_pvalues(np.array([0.5, 0.5]), null, signed=False)
    np.testing.assert_allclose(p, [(1 + 1) / 5, 1 / 5])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"max_iter": 0}, "max_iter.*positive integer"),
        ({"block_size": 2.5}, "block_size.*positive integer"),
        ({"chunk_size": -1}, "chunk_size.*positive integer or None"),
        ({"tol": -1e-3}, "tol.*non-negative"),
        ({"ftol": float("nan")}, "ftol.*non-negative"),
        ({"memory_budget_mb": 0}, "memory_budget_mb.*positive"),
        ({"dtype": "float16"}, "dtype.*float32"),
        ({"device": "nonsense"}, "not a torch device"),
        ({"no_such": 1}, "Unknown train_params"),
    ],
)
def test_bad_train_params_get_clear_errors(friedman, params, match):
    X, y = friedman
    with pytest.raises(ValueError, match=match):
        Olden(_net(), n_permutations=19, train_params=params).fit(X, y)


def test_cuda_request_without_cuda_is_a_clear_error(friedman, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = friedman
    with pytest.raises(ValueError, match="CUDA"):
        Olden(_net(), n_permutations=19, train_params={"device": "cuda"}).fit(X, y)


def test_dtype_may_be_given_by_name(friedman):
    X, y = friedman
    a = _fit(Olden, X, y, n_permutations=9, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = Olden(_net(), n_permutations=9, random_state=0,
                  train_params={**FAST, "dtype": "float32"}).fit(X, y)  # fmt: skip
    pd.testing.assert_frame_equal(a.importances_, b.importances_)
