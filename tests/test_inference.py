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
    min_p_global,
    permutation_pvalues,
    seed_streams,
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
    """A fast test: fixed penalty unless the test is about its cross-validation."""
    kw.setdefault("train_alpha", 1.0)
    kw.setdefault("null", "conditional")  # this module tests the refitting engine
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


def test_basic_and_bias_corrected_intervals():
    boot = np.arange(101.0)[:, None] * np.ones((1, 2))  # 0..100, median 50
    # basic: reflected around the estimate
    lo, hi = bootstrap_interval(boot, 0.1, observed=np.array([60.0, 50.0]), method="basic")
    np.testing.assert_allclose(lo, [25.0, 5.0])
    np.testing.assert_allclose(hi, [115.0, 95.0])
    # bias-corrected: no bias (estimate at the bootstrap median) -> the percentile interval
    lo, hi = bootstrap_interval(boot, 0.1, observed=50.0, method="bc")
    np.testing.assert_allclose(lo, 5.0, atol=1e-9)
    np.testing.assert_allclose(hi, 95.0, atol=1e-9)
    # estimate above most bootstrap values (shrunk bootstrap): the interval moves up
    rng = np.random.default_rng(0)
    b = rng.normal(size=(20000, 1))
    lo, hi = bootstrap_interval(b, 0.3, observed=np.array([0.5]), method="bc")
    from scipy.stats import norm

    z0, z = 0.5, norm.ppf(0.85)  # z0 = Phi^-1(P(b < 0.5)) for a standard normal
    np.testing.assert_allclose([lo[0], hi[0]], [2 * z0 - z, 2 * z0 + z], atol=0.1)
    with pytest.raises(ValueError, match="observed"):
        bootstrap_interval(boot, 0.1, method="basic")
    with pytest.raises(ValueError, match="method"):
        bootstrap_interval(boot, 0.1, observed=1.0, method="bca")


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
    # p-values are reproducible from each variable's own observed network and null
    obs = sa.inference_["tested_statistic"]
    np.testing.assert_allclose(
        permutation_pvalues(obs, sa.null_distribution_, signed=True)[0],
        frame.reindex(list(X.columns))["p_value"],
    )


def test_garson_test_is_upper_tailed(friedman):
    X, y = friedman
    sa = _fit(Garson, X, y, n_permutations=9, random_state=1)
    obs = sa.inference_["tested_statistic"]
    expected = permutation_pvalues(obs, sa.null_distribution_, signed=False)[0]
    np.testing.assert_allclose(sa.importances_.reindex(list(X.columns))["p_value"], expected)


def test_same_random_state_same_pvalues_for_any_n_jobs_and_chunk_size(friedman):
    X, y = friedman
    # a fixed penalty: the cross-validation's networks would only repeat what is checked here
    a = Olden(_net(), null="conditional", n_permutations=9, n_bootstrap=3, random_state=3,
              train_alpha=1.0, train_params={**FAST, "block_size": 2})  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.fit(X, y)
    b = Olden(
        _net(), n_permutations=9, n_bootstrap=3, random_state=3, n_jobs=2, train_alpha=1.0,
        null="conditional",
        train_params={**FAST, "chunk_size": 2, "block_size": 2},
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b.fit(X, y)
    pd.testing.assert_series_equal(a.importances_["p_value"], b.importances_["p_value"])
    np.testing.assert_array_equal(a.null_distribution_, b.null_distribution_)
    np.testing.assert_array_equal(a.importances_["ci_low"], b.importances_["ci_low"])


@pytest.mark.parametrize(("cls", "signed"), [(Garson, False), (Olden, True)])
def test_variable_null_permutes_one_column_per_network(cls, signed):
    """The marginal permutation null: a strong effect gets the smallest attainable p-value, an
    independent pure-noise input a large one, and every p-value is (1 + #{null >= observed}) /
    (1 + B) from the stored null and tested statistics (|.| for Olden's signed statistic)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(80, 4)), columns=["strong", "a", "b", "noise"])
    y = 2.0 * X["strong"] + 0.5 * X["a"] * X["b"] + 0.3 * rng.normal(size=80)
    B = 39
    sa = _fit(cls, X, y, n_permutations=B, null="variable", p_adjust=None, random_state=0)
    assert sa.null_distribution_.shape == (B, 1, 4)
    p = sa.importances_["p_value"]
    assert p["strong"] == pytest.approx(1 / (1 + B))
    assert p["noise"] > 0.25  # (0.775 for Garson, 0.425 for Olden on this seed)
    observed = np.asarray(sa.inference_["tested_statistic"])[0]
    null = sa.null_distribution_[:, 0, :]
    if signed:
        observed, null = np.abs(observed), np.abs(null)
    expected = (1 + (null >= observed).sum(axis=0)) / (1 + B)
    np.testing.assert_allclose(p.reindex(list(X.columns)), expected, rtol=1e-12)


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
        sa = Olden(
            clf,
            prefit=True,
            null="conditional",
            n_permutations=4,
            train_params=FAST,
            random_state=0,
        ).fit(X, y)
    assert sa.null_distribution_.shape == (4, 3, X.shape[1])
    assert sa.importances_.index.names == ["output", "variable"]


def test_warning_states_smallest_attainable_p(friedman):
    X, y = friedman
    with pytest.warns(UserWarning, match=r"smallest attainable p-value.* is 0\.3"):
        Olden(_net(), null="conditional", n_permutations=19, train_params=FAST).fit(X, y)


def test_bad_targets_get_clear_errors(friedman):
    X, y = friedman
    y_nan = y.copy()
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Olden(_net(), null="conditional", n_permutations=3).fit(X, y_nan)
    with pytest.raises(ValueError, match="constant"):
        Olden(_net(), null="conditional", n_permutations=3).fit(X, np.ones(len(y)))
    clf = MLPClassifier(hidden_layer_sizes=(3,), max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, (y > y.mean()).astype(int))
    with pytest.raises(ValueError, match="single class"):
        Olden(clf, prefit=True, null="conditional", n_permutations=3).fit(
            X, np.zeros(len(y), dtype=int)
        )
    with pytest.raises(ValueError, match="need y"):
        Olden(clf, prefit=True, null="conditional", n_permutations=3).fit(X)
    with pytest.raises(ValueError, match="null"):
        Olden(_net(), n_permutations=3, null="rows").fit(X, y)


def test_without_test_nothing_is_retrained(friedman):
    X, y = friedman
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = Olden(_net(random_state=0)).fit(X, y)
    assert sa.null_distribution_ is None and sa.bootstrap_distribution_ is None
    assert sa.network_ is None and sa.global_test_ is None
    expected = olden(sa.estimator_).reindex(sa.importances_.index)["importance"]
    np.testing.assert_allclose(sa.importances_["importance"], expected)


def test_null_pvalues_are_roughly_uniform_when_y_is_noise():
    """Small validity check: y independent of X (the benchmark runs 200+ data sets)."""
    rng = np.random.default_rng(0)
    ps = []
    for seed in range(12):
        X = rng.normal(size=(40, 3))
        y = rng.normal(size=40)
        sa = _fit(Olden, X, y, n_permutations=19, random_state=seed, n_init=2, train_alpha=1.0)
        ps.append(sa.importances_["p_value"].to_numpy())
    ps = np.concatenate(ps)
    assert 0.35 < ps.mean() < 0.65
    assert (ps <= 0.1).mean() < 0.25


def test_dask_backend_gives_the_same_pvalues(friedman):
    distributed = pytest.importorskip("distributed")
    X, y = friedman
    kw = {
        "null": "conditional",
        "n_permutations": 6,
        "random_state": 0,
        "n_jobs": 2,
        "train_alpha": 1.0,
    }
    params = {**FAST, "chunk_size": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        local = Olden(_net(), train_params=params, **kw).fit(X, y)
        with (
            distributed.LocalCluster(
                processes=True, n_workers=1, threads_per_worker=2, dashboard_address=None
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
        Olden(_net(), null="conditional", n_permutations=19, train_params=params).fit(X, y)


def test_cuda_request_without_cuda_is_a_clear_error(friedman, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = friedman
    with pytest.raises(ValueError, match="CUDA"):
        Olden(_net(), null="conditional", n_permutations=19, train_params={"device": "cuda"}).fit(
            X, y
        )


def test_dtype_may_be_given_by_name(friedman):
    X, y = friedman
    a = _fit(Olden, X, y, n_permutations=9, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        b = Olden(_net(), null="conditional", n_permutations=9, random_state=0, train_alpha=1.0,
                  train_params={**FAST, "dtype": "float32"}).fit(X, y)  # fmt: skip
    pd.testing.assert_frame_equal(a.importances_, b.importances_)


def test_min_p_global_counts_null_networks_whose_smallest_p_is_as_small():
    # 2 variables, 4 null networks (upper tail). Per-variable p of each network against the
    # null: observed (5, 0) -> (1/5, 3/5) -> m = 0.2; null rows' smallest p: see below
    null = np.array([[1.0, 2.0], [2.0, 0.0], [3.0, 1.0], [0.0, 3.0]])
    obs = np.array([5.0, 0.0])
    # network (3, 1): p = (1+1)/5 for 3 -> 0.4; network (0, 3): p for 3 -> 0.4; (1, 2): 0.8 /
    # 0.6; (2, 0): 0.6 / 1.0. None reaches 0.2 -> global p = 1/5
    assert min_p_global(obs, null, signed=False) == pytest.approx(1 / 5)
    # an observed value inside the null gives a larger global p: (3, 0) -> m = 0.4, and two
    # null networks reach 0.4
    assert min_p_global(np.array([3.0, 0.0]), null, signed=False) == pytest.approx(3 / 5)


def test_response_null_is_one_global_test_without_per_variable_stars(friedman):
    X, y = friedman
    sa = _fit(Olden, X, y, n_permutations=19, null="response", random_state=0)
    frame = sa.importances_
    assert frame["p_value"].isna().all() and frame["p_adjusted"].isna().all()
    assert not frame["significant"].any()
    g = sa.global_test_
    obs = sa.statistics_["importance"][0]
    assert g["p_value"] == pytest.approx(
        min_p_global(obs, sa.null_distribution_[:, 0], signed=True)
    )
    np.testing.assert_allclose(
        np.ravel(g["variable_p_values"]),
        permutation_pvalues(obs, sa.null_distribution_[:, 0], signed=True),
    )
    assert sa.results_.global_test["p_value"] == g["p_value"]
    assert "global" in sa.results_.hypothesis
    # screening keeps the best ranked variables (no per-variable test ran)
    assert sa.get_support().all()


def test_conditional_null_reports_the_conditional_fit(friedman):
    X, y = friedman
    sa = _fit(Olden, X, y, n_permutations=5, random_state=0)
    assert sa.null == "conditional"
    assert "given the other inputs" in sa.results_.hypothesis
    r2 = sa.importances_["conditional_r2"]
    assert r2.between(0, 1).all()
    # the R^2 of x_j on the others, as a least-squares fit computes it
    Xa = X.to_numpy()
    j = 2
    A = np.c_[np.ones(len(Xa)), np.delete(Xa, j, axis=1)]
    resid = Xa[:, j] - A @ np.linalg.lstsq(A, Xa[:, j], rcond=None)[0]
    expected = 1 - resid.var() / Xa[:, j].var()
    assert r2["v2"] == pytest.approx(expected, rel=1e-8)


def test_a_user_sampler_supplies_the_null_draws(friedman):
    X, y = friedman
    calls = []

    def sampler(Xs, j, rng, n_draws):
        calls.append((j, n_draws))
        return np.stack([rng.permutation(Xs[:, j]) for _ in range(n_draws)])

    sa = _fit(Olden, X, y, n_permutations=4, conditional=sampler, random_state=0)
    assert sorted({j for j, _ in calls}) == list(range(6))
    assert {n for _, n in calls} <= {1, 4}
    assert sa.importances_["conditional_r2"].isna().all()


def test_per_variable_penalties_come_from_the_grid_and_fixed_alpha_is_kept(friedman):
    from sensitivity.inference.batched import CV_ALPHA_GRID

    X, y = friedman
    sa = _fit(Olden, X, y, n_permutations=3, random_state=0, train_alpha="cv")
    assert sa.network_["alpha"] in CV_ALPHA_GRID
    assert "CV" in sa.network_["penalty"]
    # estimator_ describes the weights it holds: the penalty the trainer used
    assert sa.estimator_.get_params()["alpha"] == sa.network_["alpha"]
    fixed = _fit(Olden, X, y, n_permutations=3, random_state=0, train_alpha=2.5)
    assert fixed.network_["alpha"] == 2.5 and fixed.estimator_.alpha == 2.5
    # with a fixed penalty every variable's observed network is the analysed network
    np.testing.assert_allclose(
        fixed.inference_["tested_statistic"], fixed.statistics_["importance"], rtol=1e-4, atol=1e-6
    )


def test_report_shows_the_analysed_and_the_users_fit(friedman):
    X, y = friedman
    sa = _fit(Olden, X, y, n_permutations=3, random_state=0, train_alpha="cv")
    fit = sa.network_["fit"]
    assert fit["analysed"]["train"] == pytest.approx(sa.estimator_.score(X, y), abs=1e-4)
    assert 0 < fit["analysed"]["cv"] <= 1 and fit["user"]["train"] is not None
    assert sa.network_["metric"] == "R^2"


@pytest.mark.parametrize("train_alpha", ["cv", 1.0])
def test_the_users_cv_score_uses_shuffled_folds_on_rows_sorted_by_the_target(train_alpha):
    """Unshuffled folds of rows sorted by y extrapolate: R^2 far below zero for any model."""
    X, y = make_friedman1(n_samples=120, n_features=5, noise=0.5, random_state=0)
    order = np.argsort(y)
    X, y = X[order], y[order]
    net = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = Olden(net, null="conditional", n_permutations=3, random_state=0,
                   train_alpha=train_alpha, train_params=FAST).fit(X, y)  # fmt: skip
    fit = sa.network_["fit"]
    assert fit["user"]["cv"] > 0.3
    if train_alpha == "cv":  # the same folds as the analysed network's
        assert abs(fit["user"]["cv"] - fit["analysed"]["cv"]) < 0.4


def test_a_constant_analysed_network_is_never_silent(friedman):
    X, y = friedman
    with pytest.warns(UserWarning, match="constant predictor"):
        Olden(_net(), null="conditional", n_permutations=3, train_alpha=1e6, train_params=FAST).fit(
            X, y
        )


def test_a_single_input_is_tested_against_its_marginal(friedman):
    X, y = friedman
    sa = _fit(Olden, X[["v0"]], y, n_permutations=4, random_state=0)
    assert sa.null_distribution_.shape == (4, 1, 1)


def test_seed_streams_are_independent_children():
    streams = seed_streams(7)
    states = [tuple(s.generate_state(4)) for s in streams.values()]
    assert len(set(states)) == len(states)
    again = seed_streams(7)
    assert [tuple(s.generate_state(4)) for s in again.values()] == states


def test_torch_sequential_is_tested_like_the_same_sklearn_network():
    import torch

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = X[:, 0] - X[:, 1] + 0.3 * rng.normal(size=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk = MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", max_iter=5).fit(X, y)
        torch.manual_seed(0)
        tnet = torch.nn.Sequential(
            torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)
        ).double()
        kw = {
            "null": "conditional",
            "prefit": True,
            "n_permutations": 4,
            "random_state": 0,
            "train_params": FAST,
        }
        a = Olden(tnet, **kw).fit(X, y)
        b = Olden(sk, **kw).fit(X, y)
    pd.testing.assert_frame_equal(a.importances_, b.importances_)
    assert isinstance(a.estimator_, torch.nn.Sequential)
    again = olden(a.estimator_).reindex(a.importances_.index)["importance"]
    np.testing.assert_allclose(again, a.importances_["importance"], rtol=1e-6)


def test_an_untrained_torch_module_gets_a_clear_error():
    import torch

    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(TypeError, match="prefit=True"):
        Olden(net, null="conditional", n_permutations=3).fit(X, X[:, 0])


@pytest.fixture(scope="module")
def lone_sine():
    """y = sin(3 x0) + noise: x0 carries the whole signal, x1 and x2 are noise."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    return X, np.sin(3 * X[:, 0]) + 0.3 * rng.normal(size=150)


def _sine_test(X, y, train_alpha, **kw):
    net = MLPRegressor(hidden_layer_sizes=(8,), max_iter=50)
    return Olden(net, null="conditional", n_permutations=5, random_state=0, train_alpha=train_alpha,
                 train_params=FAST, **kw)  # fmt: skip


def test_cv_warns_when_a_variable_alone_carries_the_signal(lone_sine):
    X, y = lone_sine
    with pytest.warns(UserWarning, match=r"The test of x0 trains its networks with") as rec:
        sa = _sine_test(X, y, "cv").fit(X, y)
    assert sa.inference_["variable_alpha"][0] == 30.0 >= 10 * sa.network_["alpha"]
    # the noise inputs keep a penalty the data choose with the sine present: no warning for them
    assert not any("x1" in str(w.message).split(" trains ")[0] for w in rec)


def test_the_largest_penalty_is_warned_of_only_far_above_the_analysed_one(lone_sine):
    import dataclasses

    from sensitivity.inference.batched import BatchedRefitter, check_train_params
    from sensitivity.training import TrainingSpec

    X, y = lone_sine
    spec = TrainingSpec(hidden_sizes=(8,), activation="relu", out_activation="identity",
                        loss="squared_error", alpha=1e-4, is_classifier=False)  # fmt: skip
    refitter = BatchedRefitter(
        spec, X, y, train_alpha="cv", train_params=check_train_params(FAST),
        seed=np.random.SeedSequence(0), feature_names=("x0", "x1", "x2"), output_names=None,
    )  # fmt: skip
    draw = np.random.default_rng(1).permutation(X[:, 0])  # x0 without its signal
    values0 = np.vstack([draw, X[:, 1], X[:, 2]])
    for analysed, warned in ((1.0, True), (3.0, True), (10.0, False)):
        refitter.spec = dataclasses.replace(refitter.spec, alpha=analysed)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            refitter.set_variable_penalties(values0)
        assert refitter.variable_alpha[0] == 30.0
        assert any("The test of x0 " in str(w.message) for w in rec) == warned


def test_bootstrap_undersmooths_a_cross_validated_penalty_only(friedman):
    from sensitivity import Dimopoulos

    X, y = friedman
    cv = _fit(Dimopoulos, X, y, n_bootstrap=9, random_state=0, train_alpha="cv", statistic="mean")
    alpha = cv.network_["alpha"]
    assert cv.inference_["bootstrap_alpha"] == pytest.approx(alpha / 10)
    assert "undersmoothed" in cv.network_["penalty"]
    # the analysed network keeps the cross-validated penalty (it is not a bootstrap network)
    assert cv.estimator_.get_params()["alpha"] == alpha
    ref = cv.inference_["bootstrap_reference"]
    assert not np.allclose(ref, cv.statistics_["importance"])
    # the interval: percentiles of the bootstrap networks (the reference centres "basic"/"bc")
    lo, hi = bootstrap_interval(cv.bootstrap_distribution_, 0.05)
    frame = cv.importances_.reindex(list(X.columns))
    np.testing.assert_allclose(frame["ci_low"], lo[0])
    np.testing.assert_allclose(frame["ci_high"], hi[0])
    # a fixed penalty is the user's choice: kept, and the analysed network is the reference
    fixed = _fit(Dimopoulos, X, y, n_bootstrap=9, random_state=0, statistic="mean")
    assert fixed.inference_["bootstrap_alpha"] == fixed.network_["alpha"] == 1.0
    assert "undersmoothed" not in fixed.network_["penalty"]
    np.testing.assert_allclose(
        fixed.inference_["bootstrap_reference"], fixed.statistics_["importance"]
    )


class _DrawRefitter:
    """A stand-in refitter for the engine: network ``b``'s statistic is a fresh N(0, 1) draw,
    plus ``effect[j]`` when it saw the real column ``j`` (exchangeable networks under H0_j)."""

    def __init__(self, X, effect, seed):
        self.X, self.effect = X, np.asarray(effect, dtype=float)
        self.rng = np.random.default_rng(seed)
        self.calls = []

    def fit(self, *, col_values=None, **_):
        from sensitivity.inference.batched import Fitted

        cols, values = col_values
        self.calls.append(len(cols))
        pairs = zip(cols, values, strict=True)
        real = np.array([np.array_equal(v, self.X[:, j]) for j, v in pairs])
        stat = self.rng.normal(size=(len(cols), 1, self.X.shape[1]))
        stat[np.arange(len(cols)), 0, cols] += np.where(real, self.effect[cols], 0.0)
        return Fitted(stat)

    def observed_fit(self):
        from sensitivity.inference.batched import Fitted

        return Fitted(self.rng.normal(size=(1, 1, self.X.shape[1])))


def _two_stage(effect, seed, n_perm=399, early_stop=True):
    from sensitivity.inference.engine import InferenceConfig, Statistic, run_test

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, len(effect)))
    refitter = _DrawRefitter(X, effect, seed)
    config = InferenceConfig(
        null="variable", n_permutations=n_perm, early_stop=early_stop, p_adjust=None
    )
    stat = Statistic(lambda m, X, y: {"importance": np.asarray(m)}, signed=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = run_test(stat, X, None, config, refitter, streams=seed_streams(seed))
    return res, refitter


def test_two_stage_pvalues_are_exact_and_keep_the_full_test_for_effects():
    """Under H0 (exchangeable networks) the two-stage p-values are super-uniform at every
    level, most variables stop after 99 draws, and a strong effect gets all 399 draws and the
    smallest p-value; the first stage's networks come first (observed network included)."""
    p_null, stopped = [], []
    for seed in range(150):
        res, refitter = _two_stage([0.0] * 4 + [6.0], seed)
        p_null.append(res.p_value[0, :4])
        stopped.append(res.info["n_draws"][:4] == 99)
        assert res.info["n_draws"][4] == 399 and res.p_value[0, 4] == 1 / 400
        assert refitter.calls[0] == 5 * 100
        stopped_here = res.info["n_draws"] == 99
        assert np.isnan(res.null_distribution[99:, 0, stopped_here]).all()
        assert np.all(res.p_value[0, stopped_here] > 0.2)
    p_null = np.concatenate(p_null)  # 600 null p-values
    se = lambda u: 3 * np.sqrt(u * (1 - u) / p_null.size)  # noqa: E731
    for u in (0.01, 0.05, 0.1, 0.2, 0.3, 0.5):
        assert np.mean(p_null <= u) <= u + se(u), u
    assert 0.7 < np.mean(stopped) < 0.9  # P(p1 > 0.2) = 0.8


def test_two_stage_is_off_below_its_threshold_and_when_asked():
    res, refitter = _two_stage([0.0, 6.0], 0, n_perm=199)
    assert "n_draws" not in res.info and refitter.calls == [2 * 200]
    res, refitter = _two_stage([0.0, 6.0], 0, early_stop=False)
    assert "n_draws" not in res.info and refitter.calls == [2 * 400]


def test_two_stage_applies_its_rule_to_each_output_on_its_own():
    """With two outputs a variable goes on when either output's first-stage p-value is at most
    0.2; an output whose own first-stage p-value is above 0.2 keeps it (exact per output),
    the others get the full p-value."""
    from sensitivity.inference.batched import Fitted
    from sensitivity.inference.engine import InferenceConfig, Statistic, run_test

    class TwoOutputs(_DrawRefitter):
        def fit(self, *, col_values=None, **_):
            one = super().fit(col_values=col_values).model
            other = self.rng.normal(size=one.shape)  # output 1: no effect anywhere
            return Fitted(np.concatenate([one, other], axis=1))

    kept_beside_a_full_test = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(30, 3))
        refitter = TwoOutputs(X, [0.0, 0.0, 6.0], seed)
        config = InferenceConfig(null="variable", n_permutations=399, p_adjust=None)
        stat = Statistic(lambda m, X, y: {"importance": np.asarray(m)}, signed=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = run_test(stat, X, None, config, refitter, streams=seed_streams(seed))
        p1 = res.info["first_stage_p_value"]
        assert res.info["n_draws"][2] == 399 and res.p_value[0, 2] == 1 / 400
        high = p1 > 0.2
        np.testing.assert_array_equal(res.p_value[high], p1[high])
        full = res.p_value[~high] * 400  # the full test: a multiple of 1/400
        np.testing.assert_allclose(full, np.round(full), atol=1e-9)
        kept_beside_a_full_test += bool(high[1, 2])
    assert kept_beside_a_full_test >= 10  # output 1 of x3 kept p1 while output 0 went on


def test_fit_gap_warning_compares_cross_validated_fits_not_training_fits():
    """An overfitted user network (training R^2 1, cross-validated R^2 below 0) does not fit
    better than the analysed network with a cross-validated penalty: no "fits worse" warning.
    Without a cross-validated fit of both, the training fits are compared and the message
    says so."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sensitivity.inference.runner import fit_comparison

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 4)), columns=list("abcd"))
    y = X["a"] + rng.normal(size=60)

    def run(net, **kw):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            sa = Olden(net, n_permutations=4, null="response", random_state=0, **kw)
            sa.fit(X, y)
        return sa, [str(w.message) for w in rec if "fits worse" in str(w.message)]

    overfitted = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(40,), alpha=0.0, solver="lbfgs", max_iter=3000, tol=1e-10,
            random_state=0,
        ),
    )  # fmt: skip
    sa, worse = run(overfitted, train_params={"max_iter": 200})
    fit = sa.network_["fit"]
    assert fit["user"]["train"] > 0.99 and fit["user"]["cv"] < 0 < fit["analysed"]["cv"]
    assert fit["analysed"]["train"] < fit["user"]["train"] - 0.5  # the old warning's case
    assert fit_comparison(fit)[0] == "cv" and worse == []
    # a fixed penalty has no cross-validated fit of the analysed network: training fits
    small = MLPRegressor(hidden_layer_sizes=(3,), alpha=1.0, solver="lbfgs", random_state=0)
    sa, worse = run(make_pipeline(StandardScaler(), small), train_alpha=30.0)
    assert sa.network_["fit"]["analysed"]["cv"] is None
    assert len(worse) == 1 and "(training R^2 " in worse[0]
    assert "no cross-validated fit of both" in worse[0]


def test_the_refitting_tests_statistic_sits_beside_its_p_value(friedman):
    """The per-variable refitting test compares variable j's own network with its nulls: the
    table shows that tested statistic just before p_value, and the p-value follows from it."""
    X, y = friedman
    sa = _fit(Garson, X, y, n_permutations=9, random_state=1)
    f = sa.importances_
    cols = list(f.columns)
    assert cols.index("tested_statistic") == cols.index("p_value") - 1
    tested = sa.inference_["tested_statistic"][0]
    np.testing.assert_allclose(f["tested_statistic"].reindex(X.columns), tested)
    null = sa.null_distribution_[:, 0, :]
    expected = (1 + (null >= tested).sum(axis=0)) / 10
    np.testing.assert_allclose(f["p_value"].reindex(X.columns), expected)
    assert "tested_statistic" in sa.summary()
