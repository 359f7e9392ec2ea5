"""MIV, input perturbation and permutation importance: closed forms, independent reference
computations, batched = one-by-one, any model, clear errors."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import sklearn_mlp, torch_mlp
from sklearn.ensemble import RandomForestRegressor
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.metrics import log_loss
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

import sensitivity as S
from sensitivity import MLPBatch
from sensitivity.adapters import as_model_function, to_mlp_batch
from sensitivity.methods import perturbation as P

ALL_ESTIMATORS = (S.MIV, S.InputPerturbation, S.LekProfile, S.PermutationImportance)


# ---------------------------------------------------------------------- fixtures
def _linear_batch(beta, intercept=0.7, hidden=3, seed=0):
    """An all-identity 2-layer network computing x @ beta + intercept exactly."""
    rng = np.random.default_rng(seed)
    p = len(beta)
    W1 = rng.normal(size=(p, hidden))
    # choose W2 so that W1 @ W2 = beta (least-norm solution of the underdetermined system)
    W2 = np.linalg.lstsq(W1, np.asarray(beta, dtype=float), rcond=None)[0].reshape(-1, 1)
    beta_eff = (W1 @ W2).ravel()
    b1 = rng.normal(size=hidden)
    b2 = np.array([intercept - b1 @ W2[:, 0]])
    net = MLPBatch.from_arrays([W1, W2], [b1, b2], activation="identity")
    return net, beta_eff


def _random_batch(B=4, sizes=(3, 5, 2), act="tanh", out="identity", seed=1, **kw):
    rng = np.random.default_rng(seed)
    coefs = [rng.normal(size=(B, a, b)) for a, b in itertools.pairwise(sizes)]
    ints = [rng.normal(size=(B, b)) for b in sizes[1:]]
    return MLPBatch.from_arrays(coefs, ints, activation=act, out_activation=out, **kw)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(0.5, 3.0, size=(120, 3)), columns=["temp", "depth", "ph"])
    y = np.sin(X.temp) + 0.5 * X.depth + 0.05 * rng.normal(size=len(X))
    return X, pd.Series(y, name="growth")


@pytest.fixture(scope="module")
def iris_pipe():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    pipe = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(5,), max_iter=400, random_state=0)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, names)
    return pipe, X, names


# ---------------------------------------------------------------------- MIV
def test_miv_of_identity_network_equals_closed_form():
    rng = np.random.default_rng(3)
    X = rng.uniform(0.5, 4.0, size=(60, 4)) * np.array([1.0, 10.0, 0.1, 2.0])
    net, beta = _linear_batch([1.5, -0.3, 4.0, 0.0])
    got = P.miv(net, X)[0, 0]
    np.testing.assert_allclose(got, 0.2 * beta * X.mean(axis=0), rtol=0, atol=1e-12)
    got = P.miv(net, X, delta=0.05)[0, 0]
    np.testing.assert_allclose(got, 0.1 * beta * X.mean(axis=0), rtol=0, atol=1e-12)
    add = P.miv(net, X, perturbation="additive", delta=0.2)[0, 0]
    np.testing.assert_allclose(add, 0.4 * beta * X.std(axis=0, ddof=1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("builder", [sklearn_mlp, torch_mlp])
def test_miv_closed_form_through_sklearn_and_torch_identity_networks(builder):
    rng = np.random.default_rng(4)
    W1, W2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 1))
    model = builder([W1, W2], [rng.normal(size=4), rng.normal(size=1)], "identity")
    X = rng.uniform(1.0, 2.0, size=(40, 3))
    frame = S.miv(model, X)
    beta = (W1 @ W2).ravel()
    got = frame["importance"].reindex(["x0", "x1", "x2"]).to_numpy()
    np.testing.assert_allclose(got, 0.2 * beta * X.mean(axis=0), rtol=0, atol=1e-12)
    assert list(frame["direction"].reindex(["x0", "x1", "x2"])) == [
        "+" if b > 0 else "-" for b in beta
    ]


class _Monotone(torch.nn.Module):
    """A non-Sequential module: increasing in x0, x1, decreasing in x2."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Linear(3, 3, bias=False).double()
        with torch.no_grad():
            self.scale.weight.copy_(torch.diag(torch.tensor([0.5, 1.0, 1.0])))

    def forward(self, x):
        z = self.scale(x)
        return torch.exp(z[:, :1]) + z[:, 1:2] ** 3 - torch.tanh(z[:, 2:3])


def test_miv_sign_follows_monotone_direction_for_any_torch_module():
    rng = np.random.default_rng(5)
    X = rng.uniform(0.2, 2.0, size=(80, 3))
    values = S.miv(_Monotone(), X)["importance"].reindex(["x0", "x1", "x2"]).to_numpy()
    assert values[0] > 0 and values[1] > 0 and values[2] < 0
    est = S.MIV(_Monotone(), prefit=True).fit(X)
    np.testing.assert_allclose(
        est.importances_["importance"].reindex(["x0", "x1", "x2"]), values, atol=1e-14
    )


def test_miv_warns_for_centred_and_mostly_zero_variables():
    rng = np.random.default_rng(6)
    X = np.column_stack(
        [
            rng.normal(size=200),  # centred
            rng.uniform(1, 2, size=200),  # fine
            np.where(rng.uniform(size=200) < 0.8, 0.0, 1.0),  # mostly zero
        ]
    )
    net = _random_batch(B=1)
    with pytest.warns(UserWarning, match=r"centred near zero.*\['x0'\].*|additive") as rec:
        P.miv(net, X)
    messages = " ".join(str(w.message) for w in rec)
    assert "['x0']" in messages and "additive" in messages
    assert "Most values of ['x2'] are zero" in messages
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        P.miv(net, X, perturbation="additive")  # no warning


def test_miv_per_class_probability_and_pipeline_equals_generic_path(iris_pipe):
    pipe, X, _ = iris_pipe
    batch_view = P.miv(to_mlp_batch(pipe), X)
    generic = P.miv(as_model_function(pipe), X)
    assert batch_view.shape == (1, 3, 4)
    np.testing.assert_allclose(batch_view, generic, atol=1e-10)
    # class probabilities sum to one, so their impact values sum to zero over classes
    np.testing.assert_allclose(batch_view.sum(axis=1), 0.0, atol=1e-12)
    frame = S.miv(pipe, X)
    assert list(frame.index.get_level_values("output").unique()) == list(pipe.classes_)


# ---------------------------------------------------------------------- input perturbation
def _reference_input_perturbation(predict, X, Y, levels, R, seed, loss):
    """Loop-based reference written from the formula (common noise draws)."""
    n, p = X.shape
    eps = check_random_state(seed).standard_normal((R, n))
    sd = X.std(axis=0, ddof=1)
    base = loss(predict(X), Y)
    out = np.zeros((np.size(base), p, len(levels)))
    for j in range(p):
        for li, lam in enumerate(levels):
            acc = 0.0
            for r in range(R):
                Xp = X.copy()
                Xp[:, j] += lam * sd[j] * eps[r]
                acc = acc + (loss(predict(Xp), Y) - base)
            out[:, j, li] = np.ravel(acc / R)
    return out


def test_input_perturbation_equals_loop_reference_for_a_regressor(data):
    X, y = data
    Xa = X.to_numpy()
    net = _random_batch(B=1, sizes=(3, 4, 1))
    levels = (0.1, 0.3, 0.5)
    res = P.input_perturbation(net, Xa, y, noise_levels=levels, n_repeats=3, random_state=7)

    def mse(pred, Y):
        return np.mean((pred[0] - Y[:, None]) ** 2, axis=0)

    ref = _reference_input_perturbation(
        net.predict, Xa, y.to_numpy(), levels, 3, 7, mse
    )  # (1, p, L)
    np.testing.assert_allclose(res.importances_by_level[0], ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.importances[0], ref.mean(axis=2), rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.baseline_loss[0], mse(net.predict(Xa), y.to_numpy()))


def test_input_perturbation_log_loss_components_add_up_to_the_total(iris_pipe):
    pipe, X, labels = iris_pipe
    Xa = X.to_numpy()
    res = P.input_perturbation(
        to_mlp_batch(pipe), Xa, labels, noise_levels=(0.2, 0.4), n_repeats=2, random_state=3
    )

    def total(pred, Y):
        return log_loss(Y, pred, labels=pipe.classes_)

    ref = _reference_input_perturbation(
        lambda Z: pipe.predict_proba(pd.DataFrame(Z, columns=X.columns)),
        Xa,
        labels,
        (0.2, 0.4),
        2,
        3,
        total,
    )
    np.testing.assert_allclose(res.importances_by_level[0].sum(axis=0), ref[0], atol=1e-10)


def test_input_perturbation_is_deterministic_and_scales_with_the_squared_level(data):
    X, _ = data
    net = _random_batch(B=1, sizes=(3, 4, 1), act="identity")
    y = net.predict(X.to_numpy())[0, :, 0]  # exact fit: base MSE 0, increase = (beta s eps)^2
    a = P.input_perturbation(net, X, y, random_state=0)
    b = P.input_perturbation(net, X, y, random_state=0)
    c = P.input_perturbation(net, X, y, random_state=1)
    np.testing.assert_array_equal(a.importances, b.importances)
    assert not np.allclose(a.importances, c.importances)
    by_level = a.importances_by_level[0, 0]  # (p, L)
    ratio = by_level / np.asarray(P.DEFAULT_NOISE_LEVELS) ** 2
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(ratio.shape[1], axis=1), rtol=1e-10)


# ---------------------------------------------------------------------- permutation
def test_permutation_equals_sklearn_for_a_regressor_and_a_classifier(data, iris_pipe):
    X, y = data
    rf = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    ours = S.permutation(rf, X, y, n_repeats=3, random_state=0)
    ref = sk_permutation_importance(
        rf, X, y, scoring="neg_mean_squared_error", n_repeats=3, random_state=0
    )
    np.testing.assert_allclose(
        ours["importance"].reindex(X.columns), ref.importances_mean, rtol=1e-12
    )
    pipe, Xi, labels = iris_pipe
    res = P.permutation(to_mlp_batch(pipe), Xi, labels, n_repeats=2, random_state=1)
    ref = sk_permutation_importance(
        pipe, Xi, labels, scoring="neg_log_loss", n_repeats=2, random_state=1
    )
    # per-class log-loss components add up to the total log-loss increase
    np.testing.assert_allclose(res.importances[0].sum(axis=0), ref.importances_mean, atol=1e-10)


def test_binary_classifier_log_loss_and_multi_output_regressor_names(data):
    X, y = data
    labels = np.where(y > y.median(), "high", "low")
    clf = make_pipeline(
        StandardScaler(), MLPClassifier(hidden_layer_sizes=(4,), max_iter=300, random_state=0)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, labels)
    frame = S.permutation(clf, X, labels, n_repeats=2, random_state=0)
    ref = sk_permutation_importance(
        clf, X, labels, scoring="neg_log_loss", n_repeats=2, random_state=0
    )
    assert frame.index.name == "variable"  # one output: the positive class "low"
    np.testing.assert_allclose(frame["importance"].reindex(X.columns), ref.importances_mean)
    with pytest.raises(ValueError, match="besides the positive class"):
        S.permutation(clf, X, np.where(y > y.median(), "up", "down"))
    Y = pd.DataFrame({"growth": y, "yield": 2 * y})
    rf = RandomForestRegressor(n_estimators=5, random_state=0)
    est = S.InputPerturbation(rf, n_repeats=1, random_state=0).fit(X, Y)
    assert est.output_names_ == ("growth", "yield")
    assert list(est.importances_.index.get_level_values("output").unique()) == ["growth", "yield"]


def test_permutation_is_the_same_for_any_n_jobs(data):
    from joblib import parallel_config

    X, y = data
    net = _random_batch(B=2, sizes=(3, 4, 1))
    serial = P.permutation(net, X, y, n_repeats=2, random_state=4).importances
    with parallel_config(backend="threading"):
        parallel = P.permutation(net, X, y, n_repeats=2, random_state=4, n_jobs=2).importances
    np.testing.assert_array_equal(serial, parallel)


# ---------------------------------------------------------------------- batching
METHODS = {
    "miv": lambda m, X, y: P.miv(m, X),
    "miv_additive": lambda m, X, y: P.miv(m, X, perturbation="additive"),
    "input_perturbation": lambda m, X, y: (
        P.input_perturbation(m, X, y, n_repeats=2, random_state=0).importances
    ),
    "permutation": lambda m, X, y: P.permutation(m, X, y, n_repeats=2, random_state=0).importances,
}


@pytest.mark.parametrize("method", METHODS)
def test_batched_networks_equal_network_by_network(method, data):
    X, y = data
    Y2 = np.column_stack([y, -y])
    batch = _random_batch(B=4, sizes=(3, 5, 2))
    whole = METHODS[method](batch, X, Y2)
    assert whole.shape == (4, 2, 3)
    single = np.concatenate([METHODS[method](batch[b], X, Y2) for b in range(4)])
    np.testing.assert_allclose(whole, single, rtol=0, atol=1e-12)
    # tiny memory budget: many chunks, same numbers
    small = getattr(P, method.replace("_additive", ""))
    kw = {"perturbation": "additive"} if method == "miv_additive" else {}
    if method in ("input_perturbation", "permutation"):
        kw.update(n_repeats=2, random_state=0)
        chunked = small(batch, X, Y2, memory_budget_mb=5_000 / 2**20, **kw).importances
    else:
        chunked = small(batch, X, memory_budget_mb=5_000 / 2**20, **kw)
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)


class _Stacked:
    """The same networks seen as a plain predict function (the stacked-copies path)."""

    def __init__(self, batch):
        self.batch = batch
        self.output_names = batch.output_names
        self.is_classifier = batch.is_classifier
        self.feature_names = None

    def predict(self, X):
        return self.batch.predict(X)[0]


@pytest.mark.parametrize("act", ["tanh", "logistic"])
@pytest.mark.parametrize("hidden", [(5,), (5, 4)])
@pytest.mark.parametrize("out", ["identity", "logistic", "softmax"])
def test_rank_one_first_layer_equals_predicting_the_copies(out, hidden, act, data):
    """MIV and input perturbation of an MLP (a rank-one change of the first layer, rows
    summed before a linear output layer; tanh as 2 sigmoid(2 z) - 1) equal the predictions of
    the perturbed copies; one and two hidden layers and an input transform."""
    X, y = data
    sizes = (3, *hidden, 3 if out == "softmax" else 1)
    batch = _random_batch(B=1, sizes=sizes, act=act, out=out, input_scale=np.array([0.5, 2.0, 1.5]),
                          input_offset=np.array([0.1, -0.2, 0.3]))  # fmt: skip
    stacked = _Stacked(batch)
    for kw in ({}, {"perturbation": "additive"}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            a, b = P.miv(batch, X, **kw), P.miv(stacked, X, **kw)
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    yv = np.asarray(y) if out == "identity" else (np.asarray(y) > 1.5).astype(int)
    if out == "softmax":
        yv = np.digitize(np.asarray(y), [1.0, 1.8])
    if out != "identity":
        names = [str(c) for c in range(sizes[-1])] if out == "softmax" else ["1"]
        batch = MLPBatch(**{**batch.__dict__, "output_names": tuple(names),
                            "is_classifier": True})  # fmt: skip
        stacked = _Stacked(batch)
    kw = {"n_repeats": 2, "noise_levels": (0.2, 0.5), "random_state": 0}
    a = P.input_perturbation(batch, X, yv, **kw).importances
    b = P.input_perturbation(stacked, X, yv, **kw).importances
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_memory_budget_and_threads_never_change_the_numbers(data):
    X, _ = data
    batch = _random_batch(B=3, sizes=(3, 6, 2))
    ref = P.miv(batch, X, perturbation="additive", n_jobs=1)
    for kw in ({"memory_budget_mb": 0.01}, {"n_jobs": 2}, {"memory_budget_mb": 0.01, "n_jobs": 2}):
        np.testing.assert_array_equal(P.miv(batch, X, perturbation="additive", **kw), ref)
    with pytest.warns(FutureWarning, match="memory_budget_mb"):
        old = P.miv(batch, X, perturbation="additive", memory_budget=10_000)
    np.testing.assert_array_equal(old, ref)
    with pytest.raises(ValueError, match="memory_budget_mb"):
        P.miv(batch, X, memory_budget_mb=0)
    with pytest.raises(ValueError, match="not both"):
        P.miv(batch, X, memory_budget_mb=1.0, memory_budget=10_000)


# ---------------------------------------------------------------------- any model
def test_estimators_work_for_random_forest(data):
    X, y = data
    rf = RandomForestRegressor(n_estimators=10, random_state=0)
    for cls in ALL_ESTIMATORS:
        kw = {"steps": 10} if cls is S.LekProfile else {}
        est = cls(rf, random_state=0, **kw).fit(X, y)
        frame = est.importances_
        assert list(frame.index) and set(frame.index) == set(X.columns)
        assert est.output_names_ == ("growth",)
        assert np.all(np.isfinite(frame["importance"]))
        # the forest uses temp and depth, not ph
        assert frame.loc["ph", "rank"] == 3, cls.__name__


def test_estimators_work_for_pipeline_classifier(iris_pipe):
    pipe, X, labels = iris_pipe
    for cls in ALL_ESTIMATORS:
        kw = {"steps": 10} if cls is S.LekProfile else {}
        est = cls(pipe, prefit=True, random_state=0, **kw).fit(X, labels)
        assert est.importances_.index.names == ["output", "variable"]
        assert est.output_names_ == tuple(pipe.classes_)
        for c in pipe.classes_:
            assert sorted(est.importances_.loc[c, "rank"]) == [1, 2, 3, 4]


def test_estimators_work_for_torch_modules(data):
    X, y = data
    rng = np.random.default_rng(2)
    seq = torch_mlp([rng.normal(size=(3, 4)), rng.normal(size=(4, 1))], [np.zeros(4), [0.0]])
    for module in (seq, _Monotone()):
        for cls in ALL_ESTIMATORS:
            kw = {"steps": 10} if cls is S.LekProfile else {}
            est = cls(module, prefit=True, random_state=0, **kw).fit(X, y)
            assert est.importances_.shape[0] == 3
            if module is not seq and "direction" in est.importances_:
                # increasing in the first two inputs, decreasing in the third
                signs = est.importances_["direction"].reindex(list(X.columns))
                assert list(signs) == ["+", "+", "-"], cls.__name__
    # nn.Sequential goes through the exact MLPBatch; same numbers as the generic path
    via_batch = S.MIV(seq, prefit=True).fit(X).statistics_["importance"]
    generic = P.miv(as_model_function(seq), X.to_numpy())[0]
    np.testing.assert_allclose(via_batch, generic, atol=1e-12)


def test_input_perturbation_estimator_uses_one_seed_per_fit(data):
    X, y = data
    rf = RandomForestRegressor(n_estimators=5, random_state=0).fit(X, y)
    a = S.InputPerturbation(rf, prefit=True, random_state=3).fit(X, y).importances_
    b = S.InputPerturbation(rf, prefit=True, random_state=3).fit(X, y).importances_
    pd.testing.assert_frame_equal(a, b)
    assert "increase_0.3sd" in a.columns and "importance_sd" not in a.columns


# ---------------------------------------------------------------------- bad input
def test_bad_inputs_give_clear_errors(data):
    X, y = data
    net = _random_batch(B=1, sizes=(3, 4, 1))
    rf = RandomForestRegressor(n_estimators=3, random_state=0).fit(X, y)
    const = X.assign(ph=1.0)
    with pytest.raises(ValueError, match=r"Constant column.*\['ph'\]"):
        P.miv(net, const)
    with pytest.raises(ValueError, match=r"Constant column.*\['ph'\]"):
        S.MIV(rf, prefit=True).fit(const)
    text = X.astype(object)
    text.iloc[3, 1] = "deep"
    with pytest.raises(ValueError, match=r"Non-numeric column.*\['depth'\]"):
        S.miv(rf, text)
    with pytest.raises(ValueError, match=r"Non-numeric column.*\['depth'\]"):
        S.PermutationImportance(rf, prefit=True).fit(text, y)
    with pytest.raises(ValueError, match=r"Non-numeric column\(s\) \[.x2.\] in X"):
        P.miv(net, np.array([["1", "2", "a"], ["3", "4", "5"]]))
    missing = X.copy()
    missing.iloc[5, 0] = np.nan
    with pytest.raises(ValueError, match=r"missing values.*\['temp'\]"):
        P.input_perturbation(net, missing, y)
    with pytest.raises(ValueError, match=r"missing values.*\['temp'\]"):
        S.LekProfile(rf, prefit=True).fit(missing)
    for delta in (0, 1, -0.1, 1.5, float("nan"), "0.1"):
        with pytest.raises(ValueError, match=r"delta must be a number in \(0, 1\)"):
            P.miv(net, X, delta=delta)
    with pytest.raises(ValueError, match="Unknown perturbation"):
        P.miv(net, X, perturbation="relative")
    with pytest.raises(ValueError, match="noise_levels"):
        P.input_perturbation(net, X, y, noise_levels=(0.1, -0.2))
    with pytest.raises(ValueError, match="y is required"):
        S.InputPerturbation(rf, prefit=True).fit(X)
    with pytest.raises(ValueError, match="y is required"):
        S.PermutationImportance(rf, prefit=True).fit(X)
    with pytest.raises(ValueError, match="log_loss"):
        P.permutation(net, X, y, loss="log_loss")
    with pytest.raises(ValueError, match="takes 3 inputs"):
        P.miv(net, X.iloc[:, :2])


def test_unknown_class_labels_are_named(iris_pipe):
    pipe, X, labels = iris_pipe
    bad = labels.copy()
    bad[0] = "orchid"
    with pytest.raises(ValueError, match="orchid"):
        S.permutation(pipe, X, bad)
