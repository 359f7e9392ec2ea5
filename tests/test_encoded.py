"""Networks behind a ColumnTransformer (scalers + OneHotEncoder): encoded space and grouping."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.impute import SimpleImputer
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from sensitivity import Dimopoulos, Garson, Olden, garson, olden
from sensitivity.adapters import is_encoded_mlp_model, to_encoded_mlp, to_mlp_batch
from sensitivity.methods import weights as W


def _net():
    return MLPRegressor(
        hidden_layer_sizes=(5,), solver="lbfgs", alpha=1.0, max_iter=300, random_state=0
    )


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(0)
    n = 150
    X = pd.DataFrame(
        {
            "temp": rng.normal(15, 4, n),
            "site": rng.choice(["north", "south", "east"], n),
            "depth": rng.uniform(0, 30, n),
            "season": rng.integers(0, 2, n),
        }
    )
    y = 0.3 * X["temp"] + 2.0 * (X["site"] == "north") + rng.normal(0, 0.5, n)
    ct = ColumnTransformer(
        [
            ("num", StandardScaler(), ["temp"]),
            ("cat", OneHotEncoder(), make_column_selector(pattern="^site$")),
            ("mm", make_pipeline(MinMaxScaler()), ["depth"]),
            ("bin", OneHotEncoder(drop="first"), [3]),
        ]
    )
    pipe = Pipeline([("prep", ct), ("scale", StandardScaler()), ("mlp", _net())]).fit(X, y)
    return X, y, pipe


def test_encoded_network_reproduces_the_pipeline_and_maps_columns(mixed):
    X, _, pipe = mixed
    assert is_encoded_mlp_model(pipe)
    enc = to_encoded_mlp(pipe)
    assert enc.original_names == ("temp", "site", "depth", "season")
    assert enc.encoded_names == (
        "num__temp",
        "cat__site_east",
        "cat__site_north",
        "cat__site_south",
        "mm__depth",
        "bin__season_1",
    )
    assert enc.groups == (0, 1, 1, 1, 2, 3)
    assert enc.one_hot == (False, True, False, True)
    Z = enc.encode(X)
    np.testing.assert_allclose(Z[:, 0], X["temp"])  # numeric columns stay in user units
    np.testing.assert_allclose(Z[:, 4], X["depth"])
    np.testing.assert_array_equal(Z[:, 1:4].sum(axis=1), 1.0)  # one indicator per row
    np.testing.assert_allclose(enc.batch.predict(Z)[0, :, 0], pipe.predict(X), atol=1e-12)


def test_group_sums_encoded_columns_for_numpy_and_torch(mixed):
    enc = to_encoded_mlp(mixed[2])
    values = np.arange(12.0).reshape(1, 2, 6)
    expected = np.stack(
        [values[..., 0], values[..., 1:4].sum(-1), values[..., 4], values[..., 5]], -1
    )
    np.testing.assert_allclose(enc.group(values), expected)
    np.testing.assert_allclose(enc.group(torch.as_tensor(values)).numpy(), expected)
    np.testing.assert_allclose(
        enc.group(np.moveaxis(values, -1, 0), axis=0), np.moveaxis(expected, -1, 0)
    )
    with pytest.raises(ValueError, match="expected 6 encoded columns"):
        enc.group(np.ones((1, 1, 4)))


def test_weight_functions_sum_each_variables_indicator_columns(mixed):
    X, _, pipe = mixed
    enc = to_encoded_mlp(pipe)
    one_hot = np.array([enc.one_hot[g] for g in enc.groups])
    olden_raw = W.olden(enc.batch)
    # signed Olden: a categorical variable gets the sum of |indicator contributions| (the
    # indicators sum to a constant, so signed contributions cancel); numeric keep their sign
    olden_abs = np.where(one_hot, np.abs(olden_raw), olden_raw)
    for func, raw in [(garson, W.garson(enc.batch, "goh")), (olden, olden_abs)]:
        frame = func(pipe)
        assert sorted(frame.index) == sorted(X.columns)
        expected = dict(zip(enc.original_names, enc.group(raw)[0, 0], strict=True))
        for var, value in expected.items():
            assert frame.loc[var, "importance"] == pytest.approx(value, abs=1e-12)
    np.testing.assert_allclose(garson(pipe)["importance"].sum(), 1.0)


def test_column_transformer_of_scalers_equals_the_plain_scaler_pipeline():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.normal(size=(80, 3)) * [1, 5, 10], columns=["a", "b", "c"])
    y = X["a"] - 0.1 * X["c"] + rng.normal(size=80)
    plain = make_pipeline(StandardScaler(), _net()).fit(X, y)
    coded = Pipeline(
        [("ct", ColumnTransformer([("s", StandardScaler(), ["a", "b", "c"])])), ("m", _net())]
    ).fit(X, y)
    enc = to_encoded_mlp(coded)
    ref = to_mlp_batch(plain)
    torch.testing.assert_close(enc.batch.input_scale, ref.input_scale)
    torch.testing.assert_close(enc.batch.input_offset, ref.input_offset)
    pd.testing.assert_series_equal(olden(coded)["importance"], olden(plain)["importance"])


def test_estimators_report_original_variables_with_integer_coded_categories():
    rng = np.random.default_rng(2)
    n = 120
    X = pd.DataFrame(
        {"x": rng.normal(size=n), "zone": rng.integers(0, 3, n), "w": rng.normal(size=n)}
    )
    y = X["x"] + (X["zone"] == 1) + rng.normal(0, 0.3, n)
    pipe = Pipeline(
        [
            (
                "ct",
                ColumnTransformer(
                    [("num", StandardScaler(), ["x", "w"]), ("cat", OneHotEncoder(), ["zone"])]
                ),
            ),
            ("mlp", _net()),
        ]
    )
    sa = Garson(pipe).fit(X, y)
    assert sorted(sa.importances_.index) == ["w", "x", "zone"]
    np.testing.assert_allclose(sa.importances_["importance"].sum(), 1.0)
    enc = to_encoded_mlp(sa.estimator_)
    expected = enc.group(W.garson(enc.batch, "goh"))[0, 0]
    got = sa.importances_["importance"].reindex(["x", "zone", "w"]).to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert "zone" in sa.summary() and "summed over their indicator columns" in sa.summary()
    so = Olden(sa.estimator_, prefit=True).fit(X)
    raw = W.olden(enc.batch)
    one_hot = np.array([enc.one_hot[g] for g in enc.groups])
    np.testing.assert_allclose(
        so.importances_["importance"].reindex(["x", "zone", "w"]),
        enc.group(np.where(one_hot, np.abs(raw), raw))[0, 0],
        atol=1e-12,
    )
    assert so.importances_.loc["zone", "importance"] > 0


def test_estimators_accept_string_categories_behind_a_column_transformer():
    rng = np.random.default_rng(5)
    n = 150
    X = pd.DataFrame({"a": rng.normal(size=n), "site": rng.choice(["north", "south", "east"], n)})
    y = 2 * X["a"] + 1.5 * (X["site"] == "north") + rng.normal(0, 0.3, n)
    pipe = Pipeline(
        [
            (
                "ct",
                ColumnTransformer(
                    [("num", StandardScaler(), ["a"]), ("cat", OneHotEncoder(), ["site"])]
                ),
            ),
            ("mlp", _net()),
        ]
    )
    for cls in (Olden, Dimopoulos):
        frame = cls(pipe).fit(X, y).importances_
        assert sorted(frame.index) == ["a", "site"]
        assert frame.loc["site", "importance"] > 0 and np.isfinite(frame["importance"]).all()
    Xn = X.copy()
    Xn.loc[0, "site"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Olden(pipe).fit(Xn, y)


def test_unsupported_column_block_is_named():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
    pipe = Pipeline(
        [("ct", ColumnTransformer([("imp", SimpleImputer(), ["a", "b"])])), ("m", _net())]
    ).fit(X, [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match="SimpleImputer"):
        olden(pipe)
