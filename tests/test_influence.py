"""Influence functions: derivatives against autograd and finite differences, the leave-one-out
scaling against actual retraining, the estimator's surface and its error messages."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sensitivity import adapters
from sensitivity.influence import (
    NotStationaryWarning,
    SampleInfluence,
    plot_influence,
    plot_self_influence,
)
from sensitivity.methods import influence as inf
from sensitivity.training import fit_networks

matplotlib.use("Agg")

D = torch.float64


def _close(a, b, rtol=1e-7, atol=1e-7):
    """``torch.testing.assert_close``'s float64 tolerances (its first call is slow)."""
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=atol)


def _problem(out: str, hidden: str, k: int, n: int = 30, sizes=(3, 4, 3), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    obj = inf.Objective((*sizes, k), (hidden,) * (len(sizes) - 1) + (out,), 0.7, n)
    theta = 0.6 * torch.randn(obj.n_params, generator=g, dtype=D)
    Z = torch.randn(n, sizes[0], generator=g, dtype=D)
    if out == "identity":
        Y = torch.randn(n, k, generator=g, dtype=D)
    elif out == "logistic":
        Y = torch.randint(0, 2, (n, k), generator=g).to(D)
    else:
        Y = torch.nn.functional.one_hot(torch.randint(0, k, (n,), generator=g), k).to(D)
    return obj, theta, Z, Y


CASES = [
    ("identity", "tanh", 2),
    ("identity", "relu", 1),
    ("logistic", "logistic", 1),
    ("softmax", "tanh", 3),
]


# ---------------------------------------------------------------------- pure formulas
@pytest.mark.parametrize(("out", "hidden", "k"), CASES)
def test_row_and_prediction_gradients_equal_autograd(out, hidden, k):
    obj, theta, Z, Y = _problem(out, hidden, k)
    G = inf.row_gradients(obj, theta, Z, Y)
    for i in range(3):
        ref = torch.autograd.functional.jacobian(
            lambda t, i=i: obj.row_loss(t, Z[i : i + 1], Y[i : i + 1]).sum(), theta
        )
        _close(G[i], ref, rtol=1e-12, atol=1e-12)
    for o in range(k):
        for logits in (False, True):
            Pg = inf.prediction_gradients(obj, theta, Z[:2], o, logits=logits)
            f = obj.logits if logits else obj.outputs
            ref = torch.autograd.functional.jacobian(lambda t, o=o, f=f: f(t, Z[:2])[:, o], theta)
            _close(Pg, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("out", "hidden", "k"), CASES)
def test_gradient_and_hessian_equal_finite_differences(out, hidden, k):
    obj, theta, Z, Y = _problem(out, hidden, k)
    g = inf.objective_gradient(obj, theta, Z, Y)
    H = inf.hessian(obj, theta, Z, Y)
    _close(H, H.T, rtol=0, atol=1e-14)
    # the objective is the mean row loss plus alpha / (2 n) ||W||^2 (connection weights only)
    W = theta[: obj.n_coef]
    expected = obj.row_loss(theta, Z, Y).mean() + 0.35 / 30 * (W @ W)
    _close(obj.value(theta, Z, Y), expected)
    h = 1e-6
    rng = np.random.default_rng(1)
    for j in rng.choice(obj.n_params, 6, replace=False):
        e = torch.zeros_like(theta)
        e[j] = h
        fd = (obj.value(theta + e, Z, Y) - obj.value(theta - e, Z, Y)) / (2 * h)
        assert abs(float(fd - g[j])) < 1e-7
        gp = inf.objective_gradient(obj, theta + e, Z, Y)
        gm = inf.objective_gradient(obj, theta - e, Z, Y)
        _close(H[:, j], (gp - gm) / (2 * h), rtol=1e-5, atol=1e-7)
    V = torch.randn(obj.n_params, 3, dtype=D)
    _close(inf.hessian_vector_product(obj, theta, Z, Y, V), H @ V)
    # chunking the rows changes nothing
    small = 8 * 12 * sum(obj.sizes) * obj.n_params * 10 / 2**20  # MiB: chunks of 10 rows
    _close(inf.hessian(obj, theta, Z, Y, memory_budget_mb=small), H)
    tiny = 1 / 2**20  # one byte: one row per chunk
    _close(
        inf.row_gradients(obj, theta, Z, Y, memory_budget_mb=tiny),
        inf.row_gradients(obj, theta, Z, Y),
    )


def _loss_of_logits(loss: str, s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The row losses written out again, as functions of the logits of one row."""
    if loss == "squared_error":
        return 0.5 * ((s - y) ** 2).mean()
    if loss == "binary_log_loss":
        p = torch.sigmoid(s)
        return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).sum()
    return -(y * torch.log(torch.softmax(s, dim=-1))).sum()


@pytest.mark.parametrize(("out", "hidden", "k"), CASES)
def test_gauss_newton_equals_autograd_jacobian_construction(out, hidden, k):
    obj, theta, Z, Y = _problem(out, hidden, k, n=12)
    J = torch.autograd.functional.jacobian(lambda t: obj.logits(t, Z), theta)  # (n, k, P)
    s = obj.logits(theta, Z)
    ref = torch.zeros(obj.n_params, obj.n_params, dtype=D)
    for i in range(len(Z)):
        Lam = torch.autograd.functional.hessian(
            lambda v, i=i: _loss_of_logits(obj.loss, v, Y[i]), s[i]
        )
        ref += J[i].T @ Lam @ J[i]
    ref /= obj.n_train
    ref.diagonal()[: obj.n_coef] += obj.alpha / obj.n_train
    _close(inf.logit_jacobians(obj, theta, Z), J, rtol=1e-12, atol=1e-12)
    G = inf.gauss_newton(obj, theta, Z)
    _close(G, ref, rtol=1e-10, atol=1e-12)
    assert float(torch.linalg.eigvalsh(G)[0]) > -1e-12  # positive semi-definite
    V = torch.randn(obj.n_params, 3, dtype=D)
    _close(inf.gauss_newton_vector_product(obj, theta, Z, V), ref @ V, rtol=1e-10, atol=1e-12)
    _close(inf.gauss_newton_vector_product(obj, theta, Z, V[:, 0]), ref @ V[:, 0])
    one_row = 8 * 3 * k * obj.n_params / 2**20  # MiB: about one row per chunk
    _close(inf.gauss_newton(obj, theta, Z, memory_budget_mb=one_row), G)


def test_gauss_newton_equals_hessian_where_residuals_vanish():
    obj, theta, Z, _ = _problem("identity", "tanh", 2)
    Y = obj.logits(theta, Z).detach()  # a perfect fit: the residual term of H is zero
    _close(inf.gauss_newton(obj, theta, Z), inf.hessian(obj, theta, Z, Y), rtol=1e-10)
    # with residuals the two differ
    Y2 = Y + torch.randn(Y.shape, generator=torch.Generator().manual_seed(3), dtype=D)
    diff = inf.hessian(obj, theta, Z, Y2) - inf.gauss_newton(obj, theta, Z)
    assert float(diff.abs().max()) > 1e-3


def test_perturbation_influence_equals_mixed_derivative():
    obj, theta, Z, Y = _problem("softmax", "tanh", 3, n=8)
    S = torch.randn(2, obj.n_params, dtype=D)
    scale = torch.tensor([2.0, 0.5, 3.0], dtype=D)
    M = inf.perturbation_influence(obj, theta, Z, Y, S, input_scale=scale)
    h = 1e-6
    for i in (0, 5):
        for j in range(3):
            e = torch.zeros_like(Z[i : i + 1])
            e[0, j] = h
            gp = inf.row_gradients(obj, theta, Z[i : i + 1] + e, Y[i : i + 1])[0]
            gm = inf.row_gradients(obj, theta, Z[i : i + 1] - e, Y[i : i + 1])[0]
            fd = -(S @ ((gp - gm) / (2 * h))) * scale[j]
            _close(M[:, i, j], fd, rtol=1e-6, atol=1e-8)


def test_cg_solves_spd_systems_and_rejects_indefinite_ones():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(12, 12, generator=g, dtype=D)
    A = A @ A.T + 0.1 * torch.eye(12, dtype=D)
    B = torch.randn(12, 4, generator=g, dtype=D)
    res = inf.cg_solve(lambda V: A @ V, B, tol=1e-12)
    assert res.converged
    _close(res.x, torch.linalg.solve(A, B), rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="non-positive curvature"):
        inf.cg_solve(lambda V: -A @ V, B)


# ---------------------------------------------------------------------- estimator
def _regression(n=80, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = np.tanh(X[:, 0]) + 0.5 * X[:, 1] + 0.2 * rng.normal(size=n)
    return X, y


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _converged_regressor(X, y, alpha=3.0):
    net = MLPRegressor(
        hidden_layer_sizes=(4,),
        activation="tanh",
        solver="lbfgs",
        alpha=alpha,
        tol=1e-12,
        max_iter=5000,
        random_state=0,
    )
    return _fit(net, X, y)


def test_objective_matches_scikit_learn_loss():
    """The penalised objective is scikit-learn's ``loss_`` at the fitted weights."""
    X, y = _regression()
    net = _converged_regressor(X, y)
    si = _fit(SampleInfluence(net), X, y)
    assert float(si._obj.value(si._theta, si._Z, si._Y)) == pytest.approx(net.loss_, rel=1e-10)
    rng = np.random.default_rng(0)
    for labels in (rng.integers(0, 2, 80), rng.integers(0, 3, 80)):
        clf = MLPClassifier(
            hidden_layer_sizes=(3,), solver="lbfgs", alpha=2.0, max_iter=3000, random_state=0
        )
        clf = _fit(clf, X, np.array(["a", "b", "c"])[labels])
        si = _fit(SampleInfluence(clf), X, np.array(["a", "b", "c"])[labels])
        value = float(si._obj.value(si._theta, si._Z, si._Y))
        assert value == pytest.approx(clf.loss_, rel=1e-7)


def test_leave_one_out_scaling_matches_retraining():
    """loo_change = -I_up / n predicts the change of a test loss when a row is removed; a row
    weighted 1 + delta changes it by delta * I_up / n (checked by retraining, warm start)."""
    X, y = _regression(n=200)
    net = _converged_regressor(X, y)
    si = _fit(SampleInfluence(net, polish=True), X, y)
    assert si.stationarity_ratio_ < 1e-3
    n = len(y)
    rng = np.random.default_rng(5)
    Xt = rng.normal(size=(1, 3))
    yt = np.array([2.0])  # a test row the network gets wrong: the loss is locally linear
    frame = si.influence(Xt, yt).xs(0, level="test")
    rows = frame.index[:6].to_numpy()
    m = len(rows)
    spec = adapters.training_spec(si.estimator_)
    W, b = si.network_.numpy_weights()
    weights = [0.0, 1.05, 0.95]  # removal; central difference of the row weight
    sw = np.ones((3 * m, n))
    for j, w in enumerate(weights):
        sw[j * m + np.arange(m), rows] = w
    init = ([np.repeat(w, 3 * m, 0) for w in W], [np.repeat(v, 3 * m, 0) for v in b])
    res = fit_networks(
        spec, X, y[:, None], init, sample_weight=sw, max_iter=3000, tol=1e-12, ftol=0.0,
        solver="lbfgs", dtype=torch.float64,
    )  # fmt: skip

    def test_loss(k):
        c, i = [c[k] for c in res.coefs], [v[k] for v in res.intercepts]
        h = np.tanh(Xt @ c[0] + i[0]) @ c[1] + i[1]
        return 0.5 * float((h[0, 0] - yt[0]) ** 2)

    h = np.tanh(Xt @ W[0][0] + b[0][0]) @ W[1][0] + b[1][0]
    base = 0.5 * float((h[0, 0] - yt[0]) ** 2)
    loo = np.array([test_loss(k) - base for k in range(m)])
    derivative = np.array([(test_loss(m + k) - test_loss(2 * m + k)) / 0.1 for k in range(m)])
    I_up = frame["influence"].to_numpy()[:m]
    np.testing.assert_allclose(derivative, I_up / n, rtol=2e-3)
    pred = frame["loo_change"].to_numpy()[:m]
    np.testing.assert_allclose(pred, loo, rtol=0.3)  # first order in 1/n: close, not exact
    assert np.corrcoef(pred, loo)[0, 1] > 0.95


def test_loo_loss_predicts_the_left_out_rows_own_loss():
    """loo_loss = loss + self-influence / n: the row's loss after refitting without it."""
    X, y = _regression(n=200)
    si = _fit(SampleInfluence(_converged_regressor(X, y), polish=True), X, y)
    frame = si.self_influence_
    np.testing.assert_allclose(frame["loo_loss"], frame["loss"] + frame["loo_self_change"])
    assert (frame["loo_loss"] > frame["loss"]).all()
    rows = frame.index[:5].to_numpy()
    m = len(rows)
    sw = np.ones((m, len(y)))
    sw[np.arange(m), rows] = 0.0
    W, b = si.network_.numpy_weights()
    res = fit_networks(
        adapters.training_spec(si.estimator_), X, y[:, None],
        ([np.repeat(w, m, 0) for w in W], [np.repeat(v, m, 0) for v in b]),
        sample_weight=sw, max_iter=3000, tol=1e-12, ftol=0.0, solver="lbfgs", dtype=torch.float64,
    )  # fmt: skip
    actual = []
    for k, i in enumerate(rows):
        h = np.tanh(X[i] @ res.coefs[0][k] + res.intercepts[0][k]) @ res.coefs[1][k]
        actual.append(0.5 * float((h + res.intercepts[1][k] - y[i])[0] ** 2))
    pred = frame["loo_loss"].to_numpy()[:m]
    np.testing.assert_allclose(pred, actual, rtol=0.2)  # first order: an underestimate
    # the first-order rise is closer to the actual rise than no rise at all
    loss = frame["loss"].to_numpy()[:m]
    assert np.all(np.abs(pred - actual) < np.abs(loss - np.array(actual)))


def test_pipeline_units_and_solvers_agree():
    """A Pipeline's scaler is part of the input transform: I_up is unchanged, I_pert is in the
    user's units (chain rule), and CG equals the exact solve."""
    X, y = _regression()
    X = X * np.array([10.0, 0.1, 1.0]) + 5.0
    pipe = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs", alpha=3.0, tol=1e-12,
            max_iter=5000, random_state=0,
        ),
    )  # fmt: skip
    pipe = _fit(pipe, X, y)
    Xs = pipe[0].transform(X)
    a = _fit(SampleInfluence(pipe), X, y)
    b = _fit(SampleInfluence(pipe[-1]), Xs, y)
    c = _fit(SampleInfluence(pipe, solver="cg"), X, y)
    np.testing.assert_allclose(a.influence_matrix(X[:3], y[:3]), b.influence_matrix(Xs[:3], y[:3]))
    np.testing.assert_allclose(
        c.influence_matrix(X[:3], y[:3]), a.influence_matrix(X[:3], y[:3]), rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(
        c.self_influence_["self_influence"], a.self_influence_["self_influence"], rtol=1e-6
    )
    pa = a.perturbation_influence(X[:2], y[:2]).sort_index()
    pb = b.perturbation_influence(Xs[:2], y[:2]).sort_index()
    scale = 1.0 / pipe[0].scale_
    factor = np.tile(scale, 2 * len(y))  # sorted by test, train, variable x0..x2
    np.testing.assert_allclose(pa["influence"], pb["influence"].to_numpy() * factor)


def test_frames_are_ranked_and_labelled():
    X, y = _regression()
    Xdf = pd.DataFrame(X, columns=["a", "b", "c"], index=[f"r{i}" for i in range(len(y))])
    net = _converged_regressor(Xdf, y)
    si = _fit(SampleInfluence(net, polish=True), Xdf, y)
    fr = si.influence(Xdf.iloc[:2], y[:2], top=5)
    assert list(fr.columns) == ["influence", "loo_change", "effect", "rank"]
    assert fr.index.names == ["test", "train"]
    assert fr.shape == (10, 4)
    block = fr.xs("r0", level="test")
    assert np.all(np.diff(np.abs(block["influence"])) <= 0)
    assert list(block["rank"]) == [1, 2, 3, 4, 5]
    assert set(block.index) <= set(Xdf.index)
    helpful = block["effect"] == "helpful"
    assert np.all(block.loc[helpful, "loo_change"] > 0)
    np.testing.assert_allclose(block["loo_change"], -block["influence"] / len(y))
    self_inf = si.self_influence_
    assert (self_inf["self_influence"] > 0).all()
    assert list(self_inf["rank"]) == list(range(1, len(y) + 1))
    pert = si.perturbation_influence(Xdf.iloc[:1], y[:1], top=4)
    assert pert.index.names == ["test", "train", "variable"]
    assert set(pert.index.get_level_values("variable")) <= {"a", "b", "c"}
    text = si.summary(top=3)
    assert "alpha = 3" in text and "Polished" in text and "Hessian eigenvalues" in text
    fig = si.plot_influence(Xdf.iloc[:1], y[:1], n=3)
    assert fig.axes[0].get_xlabel() and fig.axes[0].get_ylabel()
    fig = plot_self_influence(self_inf, highlight=["r1", "r2"])
    assert fig.axes[0].get_xlabel() == "training loss of the row"
    with pytest.raises(ValueError, match="not in the frame"):
        plot_influence(fr, test="nope")


def _influence_frame(tests) -> pd.DataFrame:
    """A frame shaped like ``SampleInfluence.influence``: 3 training rows per test row."""
    index = pd.MultiIndex.from_product([tests, ["a", "b", "c"]], names=["test", "train"])
    change = np.tile([0.3, -0.2, 0.1], len(tests)) * np.repeat(np.arange(1, len(tests) + 1), 3)
    return pd.DataFrame(
        {
            "influence": -change,
            "loo_change": change,
            "effect": np.where(change > 0, "helpful", "harmful"),
            "rank": np.tile([1, 2, 3], len(tests)),
        },
        index=index,
    )


def test_plot_influence_takes_a_label_or_a_position():
    import matplotlib.pyplot as plt

    frame = _influence_frame(["r0", "r1", "r2"])
    for test, label in [(None, "r0"), ("r1", "r1"), (0, "r0"), (2, "r2"), (-1, "r2")]:
        fig = plot_influence(frame, test=test)
        assert fig.axes[0].get_title().endswith(f"for test row {label}"), test
        plt.close(fig)
    numbered = _influence_frame([10, 20])  # integer labels come first, then positions
    for test, label in [(20, 20), (1, 20), (0, 10)]:
        fig = plot_influence(numbered, test=test)
        assert fig.axes[0].get_title().endswith(f"for test row {label}"), test
        plt.close(fig)
    with pytest.raises(ValueError) as info:
        plot_influence(_influence_frame([f"r{i}" for i in range(8)]), test=8)
    assert str(info.value) == (
        "Test row 8 is not in the frame: it is neither one of its 8 test row labels ('r0', "
        "'r1', 'r2', 'r3', 'r4', ...) nor a position 0 to 7 among them."
    )
    with pytest.raises(ValueError, match=r"labels \(10, 20\) nor a position 0 to 1"):
        plot_influence(numbered, test="r0")


def test_classifiers_and_prediction_target():
    X, y = _regression()
    labels = np.where(y > 0.3, "hi", "lo")
    clf = MLPClassifier(
        hidden_layer_sizes=(3,), activation="tanh", solver="lbfgs", alpha=2.0, tol=1e-12,
        max_iter=5000, random_state=0,
    )  # fmt: skip
    clf = _fit(clf, X, labels)
    si = _fit(SampleInfluence(clf, polish=True), X, labels)
    assert si.influence_matrix(X[:2], labels[:2]).shape == (2, len(y))
    with pytest.raises(ValueError, match="labels the classifier does not know"):
        si.influence(X[:1], ["zz"])
    sp = _fit(SampleInfluence(si.estimator_, target="prediction"), X, labels)
    fr = sp.influence(X[:1])
    assert set(fr["effect"].astype(str)) <= {"raises", "lowers"}
    three = np.digitize(y, [-0.5, 0.5])
    clf3 = _fit(clone_clf(clf), X, three)
    s3 = _fit(SampleInfluence(clf3, target="prediction", polish=True), X, three)
    with pytest.raises(ValueError, match="pass output="):
        s3.influence(X[:1])
    s3.set_params(output="2")
    assert s3.influence(X[:1]).shape[0] == len(y)


def clone_clf(clf):
    from sklearn.base import clone

    return clone(clf)


def test_torch_sequential_needs_its_penalty_and_supported_layers():
    X, y = _regression()
    torch.manual_seed(0)
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    with pytest.raises(ValueError, match="Pass alpha="):
        SampleInfluence(seq).fit(X, y)
    si = _fit(SampleInfluence(seq, alpha=3.0, polish=True), X, y)
    ref = _fit(SampleInfluence(si.estimator_, alpha=3.0), X, y)
    assert ref.stationarity_ratio_ < 1e-3
    bad = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU(), torch.nn.Linear(4, 1))
    with pytest.raises(TypeError, match="Unsupported module GELU"):
        SampleInfluence(bad, alpha=1.0).fit(X, y)


def test_bad_input_gets_clear_messages():
    X, y = _regression()
    rough = MLPRegressor(
        hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs", alpha=3.0, max_iter=3,
        random_state=0,
    )  # fmt: skip
    rough = _fit(rough, X, y)
    with pytest.warns(NotStationaryWarning, match="polish=True"):
        try:
            SampleInfluence(rough, damping=10.0).fit(X, y)
        except ValueError:
            pass
    with warnings.catch_warnings():
        warnings.simplefilter("error", NotStationaryWarning)
        si = SampleInfluence(rough, polish=True).fit(X, y)
    assert si.polish_["gradient_norm_after"] < si.polish_["gradient_norm_before"]
    assert si.estimator_ is not rough
    # far from a minimum the Hessian is indefinite
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotStationaryWarning)
        big = _fit(
            MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", alpha=1e-3, max_iter=3), X, y
        )
        big.coefs_ = [3.0 * c for c in big.coefs_]
        with pytest.raises(ValueError, match=r"not positive definite.*damping"):
            SampleInfluence(big).fit(X, y)
    free = _converged_regressor(X, y, alpha=0.0)
    with pytest.raises(ValueError, match="no L2 penalty"):
        SampleInfluence(free).fit(X, y)
    with pytest.warns(UserWarning, match="no L2 penalty"):
        SampleInfluence(free, damping=1e-2).fit(X, y)
    net = _converged_regressor(X, y)
    for kwargs, match in [
        ({"solver": "lu"}, "solver"),
        ({"target": "x"}, "target"),
        ({"damping": -1.0}, "damping"),
        ({"alpha": "sklearn"}, "alpha"),
        ({"polish": 1.5}, "polish"),
    ]:
        with pytest.raises(ValueError, match=match):
            SampleInfluence(net, **kwargs).fit(X, y)
    si = _fit(SampleInfluence(net), X, y)
    with pytest.raises(ValueError, match="needs y_test"):
        si.influence(X[:1])
    with pytest.raises(ValueError, match="features"):
        si.influence(X[:1, :2], y[:1])
    with pytest.raises(ValueError, match="NaN"):
        si.influence(np.full((1, 3), np.nan), y[:1])
    with pytest.raises(ValueError, match="top"):
        si.influence(X[:1], y[:1], top=0)


def test_pickle_keeps_the_analysis():
    import pickle

    X, y = _regression()
    net = _converged_regressor(X, y)
    fitted = _fit(SampleInfluence(net, damping=1e-3, solver="exact"), X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(
        again.influence_matrix(X[:2], y[:2]), fitted.influence_matrix(X[:2], y[:2])
    )


# ---------------------------------------------------------------------- curvature options
def test_gauss_newton_makes_relu_networks_usable():
    X, y = _regression()
    relu = MLPRegressor(
        hidden_layer_sizes=(6,), activation="relu", solver="lbfgs", alpha=1.0, tol=1e-12,
        max_iter=5000, random_state=0,
    )  # fmt: skip
    relu = _fit(relu, X, y)
    si = _fit(SampleInfluence(relu, hessian="gauss-newton", polish=True), X, y)
    # positive semi-definite, and the exact Hessian at the same weights is not required to be
    assert np.linalg.eigvalsh(si.hessian_)[0] > -1e-12
    assert si.hessian_eigenvalues_[0] > -1e-12
    C = inf.gauss_newton(si._obj, si._theta, si._Z)
    _close(si.hessian_, C.numpy(), rtol=1e-12, atol=1e-14)
    assert "Gauss-Newton matrix eigenvalues" in si.summary()
    # the CG solver on Gauss-Newton products gives the same influences
    cg = _fit(
        SampleInfluence(si.estimator_, hessian="gauss-newton", solver="cg", damping=1e-6), X, y
    )
    ex = _fit(SampleInfluence(si.estimator_, hessian="gauss-newton", damping=1e-6), X, y)
    _close(cg.influence_matrix(X[:3], y[:3]), ex.influence_matrix(X[:3], y[:3]), rtol=1e-6)


# ---------------------------------------------------------------------- warnings and params
def test_warnings_point_at_the_callers_line():
    X, y = _regression()
    rough = MLPRegressor(
        hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs", alpha=3.0, max_iter=3,
        random_state=0,
    )  # fmt: skip
    rough = _fit(rough, X, y)
    with pytest.warns(NotStationaryWarning) as rec:
        SampleInfluence(rough, damping=10.0).fit(X, y)
    assert {r.filename for r in rec if r.category is NotStationaryWarning} == {__file__}
    free = _converged_regressor(X, y, alpha=0.0)
    with pytest.warns(UserWarning, match="no L2 penalty") as rec:
        SampleInfluence(free, damping=1e-2).fit(X, y)
    assert rec[0].filename == __file__
    net = _converged_regressor(X, y)
    # conjugate gradients cut short: warned from fit (self-influences) and from influence()
    with pytest.warns(UserWarning, match="Conjugate gradients stopped") as rec:
        si = SampleInfluence(net, solver="cg", cg_max_iter=1).fit(X, y)
    assert {r.filename for r in rec} == {__file__}
    with pytest.warns(UserWarning, match="Conjugate gradients stopped") as rec:
        si.influence(X[:2], y[:2])
    assert {r.filename for r in rec} == {__file__}


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("prefit", "yes"),
        ("alpha", -1.0),
        ("alpha", "sklearn"),
        ("alpha", float("nan")),
        ("damping", -1.0),
        ("damping", "big"),
        ("hessian", "fisher"),
        ("hessian", None),
        ("solver", "lu"),
        ("target", "x"),
        ("polish", 1.5),
        ("polish", -1),
        ("stationarity_tol", 0.0),
        ("stationarity_tol", float("inf")),
        ("max_exact_params", 0),
        ("max_exact_params", 2.5),
        ("cg_tol", 0.0),
        ("cg_max_iter", 0),
        ("cg_max_iter", True),
        ("memory_budget_mb", 0),
        ("memory_budget_mb", "lots"),
    ],
)
def test_each_bad_parameter_value_is_named(param, value):
    X, y = _regression(n=30)
    net = _converged_regressor(X, y)
    with pytest.raises(ValueError, match=param):
        SampleInfluence(net, **{param: value}).fit(X, y)


def test_bad_output_and_estimator_are_named():
    X, y = _regression(n=30)
    with pytest.raises(ValueError, match="needs an estimator"):
        SampleInfluence(None).fit(X, y)
    net = _converged_regressor(X, y)
    for output, match in [(3, "out of range"), ("z", "Unknown output"), (1.5, "output must")]:
        si = _fit(SampleInfluence(net, target="prediction", output=output), X, y)
        with pytest.raises(ValueError, match=match):
            si.influence(X[:1])


@parametrize_with_checks(
    [
        SampleInfluence(
            MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", alpha=1.0, max_iter=200),
            prefit=False,
            damping=1.0,
        )
    ]
)
def test_scikit_learn_conformance(estimator, check):
    # unconverged fits of the checks' tiny data sets warn (NotStationaryWarning): expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotStationaryWarning)
        check(estimator)


def test_gauss_newton_leaves_out_the_flat_directions_of_a_switched_off_unit():
    X, y = _regression()
    net = _converged_regressor(X, y)
    net.coefs_[0][:, 0] = [1e-3, -1e-3, 5e-4]  # hidden unit 0 hardly sees its inputs ...
    net.coefs_[1][0] = 1e-3  # ... and barely reaches the output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotStationaryWarning)
        with pytest.raises(ValueError, match=r"Hessian.*hessian='gauss-newton'"):
            SampleInfluence(net, damping=1e-12).fit(X, y)  # exact: refused (not a minimum)
        si = SampleInfluence(net, hessian="gauss-newton").fit(X, y)
        tiny = SampleInfluence(net, hessian="gauss-newton", damping=1e-10).fit(X, y)
    assert si.n_flat_directions_ >= 1
    # the pseudo-inverse is the limit of vanishing damping along the flat directions
    np.testing.assert_allclose(
        si.self_influence_["self_influence"].sort_index(),
        tiny.self_influence_["self_influence"].sort_index(),
        rtol=0.02,  # damping 1e-10 also moves the next eigenvalue (1.4e-8) by 0.7%
    )


def test_small_problems_run_on_one_thread_and_restore_the_callers_setting(monkeypatch):
    X, y = _regression()
    net = _converged_regressor(X, y)
    seen = []
    original = inf.hessian

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(inf, "hessian", spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        si = _fit(SampleInfluence(net), X, y)
        assert seen == [1]
        assert torch.get_num_threads() == 2
        si.influence(X[:2], y[:2])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
