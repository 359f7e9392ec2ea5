"""Lek's profile: equal to NeuralNetTools' lekprofile to 1e-10, importance convention, any
model, batched = one-by-one, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import neuraldat_weights, sklearn_mlp, torch_mlp
from sklearn.cluster import KMeans
from sklearn.ensemble import RandomForestRegressor

import sensitivity as S
from sensitivity import MLPBatch, load_neuraldat
from sensitivity.methods import profile as L

TOL = 1e-10
INPUTS = ["X1", "X2", "X3"]


@pytest.fixture(scope="module")
def neuraldat():
    return load_neuraldat()


def _neuraldat_models(ref):
    coefs, ints = neuraldat_weights(ref)
    return {
        "batch": MLPBatch.from_arrays(
            coefs, ints, activation="logistic", out_activation="logistic", output_names=["Y1"]
        ),
        "sklearn": sklearn_mlp(coefs, ints, "logistic", "logistic"),
        "torch": torch.nn.Sequential(torch_mlp(coefs, ints, "logistic", "logistic")),
    }


def _r_profiles(entry) -> pd.DataFrame:
    long = entry["values_long"]
    return pd.DataFrame(
        {
            "variable": long["exp_name"],
            "x": long["Explanatory"],
            "prediction": [float.fromhex(h) for h in entry["Response_hex"]],
        }
    )


@pytest.mark.parametrize("kind", ["batch", "sklearn", "torch"])
def test_quantile_profiles_equal_neuralnettools(kind, neuraldat, neuraldat_reference):
    ref = neuraldat_reference["lekprofile_quantile"]
    model = _neuraldat_models(neuraldat_reference)[kind]
    X = neuraldat[INPUTS]
    frame, profiles = S.lekprofile(model, X, return_profiles=True)
    expected = _r_profiles(ref)
    assert len(profiles) == len(expected) == 3 * 6 * 100
    assert list(profiles.columns) == ["variable", "group", "x", "output", "prediction"]
    assert list(profiles["variable"]) == list(expected["variable"])
    np.testing.assert_allclose(profiles["x"], expected["x"], rtol=0, atol=TOL)
    np.testing.assert_allclose(profiles["prediction"], expected["prediction"], rtol=0, atol=TOL)
    assert list(profiles["group"].unique()) == ["0%", "20%", "40%", "60%", "80%", "100%"]
    # the group constants are R's type-7 quantiles
    consts, _ = L.lek_groups(X)
    r_consts = pd.DataFrame(ref["groups_constant_values"])[INPUTS].to_numpy()
    np.testing.assert_allclose(consts, r_consts, rtol=0, atol=TOL)
    assert set(frame.index) == set(INPUTS)


def test_kmeans_variant_with_r_centres_equals_neuralnettools(neuraldat, neuraldat_reference):
    ref = neuraldat_reference["lekprofile_kmeans"]
    centres = pd.DataFrame(ref["groups_constant_values"])
    centres.index = [str(i + 1) for i in range(len(centres))]
    model = _neuraldat_models(neuraldat_reference)["sklearn"]
    est = S.LekProfile(model, prefit=True, groups=centres).fit(neuraldat[INPUTS])
    expected = _r_profiles(ref)
    np.testing.assert_allclose(est.profiles_["x"], expected["x"], rtol=0, atol=TOL)
    np.testing.assert_allclose(
        est.profiles_["prediction"], expected["prediction"], rtol=0, atol=TOL
    )
    assert list(est.profiles_["group"].unique()) == ["1", "2", "3", "4", "5", "6"]
    pd.testing.assert_frame_equal(
        est.group_constants_, centres[INPUTS], check_names=False, check_index_type=False
    )


def test_importance_is_range_of_the_median_profile(neuraldat, neuraldat_reference):
    """Recompute the convention from R's own profile values."""
    expected = _r_profiles(neuraldat_reference["lekprofile_quantile"])
    expected["step"] = np.tile(np.arange(100), 18)
    median = expected.groupby(["variable", "step"])["prediction"].median().unstack()
    want = (median.max(axis=1) - median.min(axis=1)).reindex(INPUTS).to_numpy()
    rise = (median[99] - median[0]).reindex(INPUTS).to_numpy()
    model = _neuraldat_models(neuraldat_reference)["batch"]
    est = S.LekProfile(model, prefit=True).fit(neuraldat[INPUTS])
    got = est.importances_["importance"].reindex(INPUTS).to_numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL)
    signs = ["+" if r > 0 else "-" for r in rise]
    assert list(est.importances_["direction"].reindex(INPUTS)) == signs
    np.testing.assert_allclose(est.statistics_["direction"][0], rise, atol=TOL)


def test_kmeans_groups_use_sklearn_kmeans_with_random_state(neuraldat):
    X = neuraldat[INPUTS].iloc[:200]
    consts, names = L.lek_groups(X, 4, random_state=0)
    km = KMeans(n_clusters=4, n_init=10, random_state=0).fit(X.to_numpy())
    np.testing.assert_allclose(consts, km.cluster_centers_)
    assert names == ("1", "2", "3", "4")


def test_batched_profiles_equal_network_by_network(neuraldat):
    rng = np.random.default_rng(0)
    B = 3
    batch = MLPBatch.from_arrays(
        [rng.normal(size=(B, 3, 4)), rng.normal(size=(B, 4, 2))],
        [rng.normal(size=(B, 4)), rng.normal(size=(B, 2))],
        activation="tanh",
    )
    X = neuraldat[INPUTS].iloc[:300]
    whole = L.lek_profiles(batch, X, steps=12)
    assert whole.predictions.shape == (B, 3, 6, 12, 2)
    for b in range(B):
        one = L.lek_profiles(batch[b], X, steps=12)
        np.testing.assert_allclose(whole.predictions[b], one.predictions[0], atol=1e-12)
    chunked = L.lek_profiles(batch, X, steps=12, memory_budget_mb=4_000 / 2**20)
    np.testing.assert_allclose(chunked.predictions, whole.predictions, atol=1e-12)
    imp, _ = L.lek_importance(whole)
    assert imp.shape == (B, 2, 3)


def test_any_model_random_forest(neuraldat):
    X, y = neuraldat[INPUTS], neuraldat["Y1"]
    rf = RandomForestRegressor(n_estimators=10, max_depth=4, random_state=0)
    est = S.LekProfile(rf, steps=20).fit(X, y)
    prof = est.profiles_
    assert len(prof) == 3 * 6 * 20 and set(prof["output"]) == {"Y1"}
    # the profile is the forest's prediction on the constructed rows
    row = prof.iloc[25]
    q = est.group_constants_.loc[row["group"]].copy()
    q[row["variable"]] = row["x"]
    pred = est.estimator_.predict(pd.DataFrame([q.to_numpy()], columns=INPUTS))[0]
    assert pred == pytest.approx(row["prediction"], abs=1e-12)


def test_bad_inputs_give_clear_errors(neuraldat):
    X = neuraldat[INPUTS]
    net = MLPBatch.from_arrays([np.ones((3, 1))], [np.zeros(1)])
    with pytest.raises(ValueError, match="steps"):
        L.lek_profiles(net, X, steps=1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        L.lek_profiles(net, X, groups=[0.5, 1.5])
    with pytest.raises(ValueError, match="k-means"):
        L.lek_profiles(net, X.iloc[:3], groups=5)
    with pytest.raises(ValueError, match=r"lacks column.*\['X3'\]"):
        L.lek_profiles(net, X, groups=X[["X1", "X2"]].iloc[:2])
    with pytest.raises(ValueError, match="groups must be"):
        L.lek_profiles(net, X, groups="quartiles")
    with pytest.raises(ValueError, match=r"Constant column.*\['X2'\]"):
        L.lek_profiles(net, X.assign(X2=0.5))
    bad = X.astype(object)
    bad.iloc[0, 2] = "high"
    with pytest.raises(ValueError, match=r"Non-numeric column.*\['X3'\]"):
        S.lekprofile(net, bad)
    with pytest.raises(ValueError, match="missing values"):
        S.lekprofile(net, X.mask(X > 3.4))
