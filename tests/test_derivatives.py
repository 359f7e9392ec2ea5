"""Dimopoulos partial derivatives (PaD), curvature and their summaries.

Pinned down by: NeuralSens' per-row derivatives and summaries (1e-10), the closed-form input
Hessian of the reference, central finite differences of the network function (relative 1e-6,
float64) for every activation, depth 1-3, softmax, Pipelines and arbitrary torch modules, and
hypothesis properties on random networks.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import load_reference, sklearn_mlp, torch_mlp
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensitivity import Dimopoulos, dimopoulos
from sensitivity.adapters import as_differentiable, to_mlp_batch
from sensitivity.methods import derivatives as deriv
from sensitivity.network import (
    MLPBatch,
    TorchNetwork,
    input_derivatives,
    input_hessian,
    input_jacobian,
)

REL = 1e-6
COLUMNS = ["x1", "x2", "x3", "x4", "x5"]


# ---------------------------------------------------------------------- helpers
def central_differences(f, X: np.ndarray, h: float = 1e-3):
    """First and diagonal second derivatives of ``f: (n, p) -> (..., n, K)`` from function
    values alone, by fourth-order central stencils (truncation error O(h^4)): (..., n, K, p)."""
    y0 = np.asarray(f(X))
    J = np.empty((*y0.shape, X.shape[1]), dtype=np.result_type(y0.dtype, np.float64))
    D = np.empty_like(J)
    for i in range(X.shape[1]):
        e = np.zeros(X.shape[1])
        e[i] = h
        p1, m1 = np.asarray(f(X + e)), np.asarray(f(X - e))
        p2, m2 = np.asarray(f(X + 2 * e)), np.asarray(f(X - 2 * e))
        J[..., i] = (8 * (p1 - m1) - (p2 - m2)) / (12 * h)
        D[..., i] = (16 * (p1 + m1) - (p2 + m2) - 30 * y0) / (12 * h**2)
    return J, D


def assert_rel_close(actual, expected, rel=REL):
    """|actual - expected| <= rel * max|expected| (the scale of the quantity)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(float(np.abs(expected).max()), 1e-3)
    err = float(np.abs(actual - expected).max())
    assert err <= rel * scale, f"relative error {err / scale:.3g} > {rel}"
    return err / scale


def random_batch(rng, sizes, hidden, out, B=2, transform=True):
    coefs = [rng.normal(size=(B, a, b)) * 0.8 for a, b in itertools.pairwise(sizes)]
    ints = [rng.normal(size=(B, b)) * 0.3 for b in sizes[1:]]
    p = sizes[0]
    return MLPBatch.from_arrays(
        coefs,
        ints,
        hidden,
        out,
        input_scale=rng.uniform(0.5, 2.0, p) if transform else None,
        input_offset=rng.normal(size=p) if transform else None,
    )


def forward_longdouble(batch: MLPBatch, X: np.ndarray, logits: bool = False) -> np.ndarray:
    """An independent forward pass in extended precision (numpy longdouble), so that the
    rounding noise of second differences (eps |y| / h^2) is negligible."""
    ld = np.longdouble
    Ws, bs = batch.numpy_weights()
    h = np.asarray(X, dtype=ld)
    if batch.input_scale is not None:
        h = h * batch.input_scale.numpy().astype(ld)
    if batch.input_offset is not None:
        h = h + batch.input_offset.numpy().astype(ld)
    h = np.broadcast_to(h, (batch.batch_size, *h.shape))
    for i, (W, b, act) in enumerate(zip(Ws, bs, batch.activations, strict=True)):
        h = np.einsum("bnu,buv->bnv", h, W.astype(ld)) + b.astype(ld)[:, None, :]
        if i == len(Ws) - 1 and logits:
            return h
        if act == "logistic":
            h = 1 / (1 + np.exp(-h))
        elif act == "tanh":
            h = np.tanh(h)
        elif act == "relu":
            h = np.maximum(h, 0)
        elif act == "exp":
            h = np.exp(h)
        elif act == "softmax":
            e = np.exp(h - h.max(axis=-1, keepdims=True))
            h = e / e.sum(axis=-1, keepdims=True)
    return h


def fd_of_batch(batch, X, logits=False, h=1e-3):
    return central_differences(lambda Z: forward_longdouble(batch, Z, logits), X, h=h)


@pytest.fixture(scope="module")
def neuralsens():
    nets = load_reference("neuralsens", "nets.json")
    ref = load_reference("neuralsens", "reference.json")["results"]
    return np.array(nets["X"]), nets["nets"], ref


def _neuralsens_model(spec):
    return sklearn_mlp(spec["coefs_"], spec["intercepts_"], spec["activation"], "identity")


# ---------------------------------------------------------------------- references
@pytest.mark.parametrize("name", ["tanh_8", "relu_8_6"])
def test_raw_derivatives_and_summaries_match_neuralsens(neuralsens, name):
    X, nets, ref = neuralsens
    model = _neuralsens_model(nets[name])
    r = ref[name]
    frame, d = dimopoulos(model, X, scale=None, ddof=0, second_order=False, return_derivatives=True)
    np.testing.assert_allclose(d.jacobian[:, 0, :], np.array(r["raw_sens"]), rtol=0, atol=1e-10)
    frame = frame.reindex([f"x{i}" for i in range(5)])
    for ours, theirs in [("mean", "mean"), ("std", "std"), ("rms", "mean_squared")]:
        expected = [r["jacobian_sens"][c][theirs] for c in COLUMNS]
        np.testing.assert_allclose(frame[ours], expected, rtol=0, atol=1e-10)
    # ddof=1 is R NeuralSens' convention (and our default)
    frame1 = dimopoulos(model, X, scale=None, second_order=False).reindex(
        [f"x{i}" for i in range(5)]
    )
    expected = [r["std_ddof1_R_convention"][c] for c in COLUMNS]
    np.testing.assert_allclose(frame1["std"], expected, rtol=0, atol=1e-10)
    # ranking as NeuralSens' meanSensSQ
    assert [f"x{int(v[1:]) + 1}" for v in frame1.sort_values("rms", ascending=False).index] == (
        r["ranking_by_mean_squared"]
    )


def test_full_and_diagonal_hessian_match_closed_form_reference(neuralsens):
    X, nets, ref = neuralsens
    model = _neuralsens_model(nets["tanh_8"])
    r = ref["tanh_8"]["hessian_numpy_reference"]
    H = input_hessian(as_differentiable(model), X)[0].numpy()  # (n, p, p)
    np.testing.assert_allclose(H.mean(axis=0), r["mean"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(H.std(axis=0), r["std"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.sqrt((H**2).mean(axis=0)), r["mean_squared"], atol=1e-10)
    # the diagonal is what the curvature summary uses: curvature = N * mean_squared_ii^2
    frame = dimopoulos(model, X, scale=None).reindex([f"x{i}" for i in range(5)])
    n = X.shape[0]
    expected = n * np.diag(np.array(r["mean_squared"])) ** 2
    np.testing.assert_allclose(frame["curvature"], expected, rtol=1e-12)
    _, d = dimopoulos(model, X, scale=None, return_derivatives=True)
    np.testing.assert_allclose(d.second[:, 0, :], np.diagonal(H, axis1=1, axis2=2), atol=1e-12)


def test_relu_hessian_is_zero_as_neuralsens_and_curvature_warns(neuralsens):
    X, nets, ref = neuralsens
    model = _neuralsens_model(nets["relu_8_6"])
    H = input_hessian(as_differentiable(model), X[:20])[0].numpy()
    np.testing.assert_array_equal(H, np.zeros_like(H))
    np.testing.assert_array_equal(ref["relu_8_6"]["hessian_sens"]["mean"], np.zeros((5, 5)))
    with pytest.warns(UserWarning, match="zero almost everywhere"):
        frame = dimopoulos(model, X, statistic="ssd", second_order=True)
    assert (frame["curvature"] == 0).all()
    with (
        pytest.warns(UserWarning, match="zero almost everywhere"),
        pytest.warns(RuntimeWarning, match="All importances are zero"),
    ):
        dimopoulos(model, X, statistic="curvature")
    # "auto" leaves the curvature out of relu networks, silently
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = dimopoulos(model, X)
    assert "curvature" not in frame.columns


# ---------------------------------------------------------------------- finite differences
_OUTPUTS = ["identity", "logistic", "tanh", "exp", "softmax"]


@pytest.mark.parametrize("hidden", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_jacobian_and_curvature_equal_central_differences(hidden, depth):
    rng = np.random.default_rng(depth * 10 + len(hidden))
    sizes = (4, *[5, 6, 4][:depth], 3)
    X = rng.normal(size=(9, 4))
    for out in _OUTPUTS:
        batch = random_batch(rng, sizes, hidden, out)
        J, D = input_derivatives(batch, X, second_order=True)
        Jr = input_jacobian(batch, X)  # reverse accumulation equals forward accumulation
        np.testing.assert_allclose(Jr.numpy(), J.numpy(), rtol=1e-12, atol=1e-14)
        Jf, Df = fd_of_batch(batch, X, h=1e-6 if hidden == "relu" else 1e-3)
        assert_rel_close(J.numpy(), Jf)
        if hidden != "relu":  # second differences straddle relu kinks
            assert_rel_close(D.numpy(), Df)


@pytest.mark.parametrize("out", ["logistic", "softmax"])
def test_logits_option_differentiates_the_pre_activation(out):
    rng = np.random.default_rng(3)
    batch = random_batch(rng, (3, 6, 5, 4), "tanh", out)
    X = rng.normal(size=(8, 3))
    J, D = input_derivatives(batch, X, second_order=True, logits=True)
    Jf, Df = fd_of_batch(batch, X, logits=True)
    assert_rel_close(J.numpy(), Jf)
    assert_rel_close(D.numpy(), Df)
    Jp = input_jacobian(batch, X)
    assert not np.allclose(Jp.numpy(), J.numpy())


@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("out", ["identity", "softmax", "logistic"])
def test_full_hessian_equals_differences_of_the_jacobian(depth, out):
    rng = np.random.default_rng(depth + 7)
    batch = random_batch(rng, (3, *[5, 4][:depth], 3), "tanh", out)
    X = rng.normal(size=(6, 3))
    for k in range(3):
        H = input_hessian(batch, X, output=k).numpy()  # (B, n, p, p)
        np.testing.assert_allclose(H, np.swapaxes(H, 2, 3), atol=1e-13)  # symmetric
        h = 1e-5
        Hf = np.empty_like(H)
        for j in range(3):
            e = np.zeros(3)
            e[j] = h
            Hf[..., j] = (
                input_jacobian(batch, X + e)[:, :, k].numpy()
                - input_jacobian(batch, X - e)[:, :, k].numpy()
            ) / (2 * h)
        assert_rel_close(H, Hf)


def test_softmax_classifier_probabilities_equal_differences(iris_classifier):
    clf, X, _ = iris_classifier
    Xa = X.to_numpy()[::10]
    frame, d = dimopoulos(clf, Xa, scale=None, return_derivatives=True)  # relu: first order only
    assert d.second is None and "curvature" not in frame.columns
    Jf, _ = central_differences(
        lambda Z: clf.predict_proba(pd.DataFrame(Z, columns=X.columns)), Xa, h=1e-6
    )
    assert_rel_close(d.jacobian, Jf)
    # probabilities sum to one: their derivatives sum to zero over classes
    np.testing.assert_allclose(d.jacobian.sum(axis=1), 0, atol=1e-12)
    assert frame.index.names == ["output", "variable"]
    assert set(frame.index.get_level_values("output")) == {"setosa", "versicolor", "virginica"}


def test_binary_classifier_differentiates_the_positive_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] - 0.5 * X[:, 1] > 0, "yes", "no")
    clf = MLPClassifier(
        hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs", max_iter=300, random_state=0
    )
    clf.fit(X, y)
    _, d = dimopoulos(clf, X[:10], scale=None, return_derivatives=True)
    Jf, Df = central_differences(lambda Z: clf.predict_proba(Z)[:, 1:], X[:10])
    assert d.jacobian.shape == (10, 1, 3)
    assert_rel_close(d.jacobian, Jf)
    assert_rel_close(
        d.second,
        Df,
    )


def test_pipeline_with_standard_scaler_gives_derivatives_in_user_units():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3)) * np.array([1000.0, 1.0, 0.01]) + np.array([5e3, 0.0, 2.0])
    y = X[:, 0] / 1000 + np.sin(X[:, 1]) + 100 * X[:, 2]
    pipe = make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(6,), activation="tanh", solver="lbfgs", random_state=0),
    ).fit(X, y)
    _, d = dimopoulos(pipe, X[:15], scale=None, return_derivatives=True)
    # differences in the user's units, each input with a step proportional to its spread
    for i, h in enumerate([10.0, 1e-2, 1e-4]):

        def along(t, i=i):
            Z = np.repeat(X[:15], 1, axis=0)
            Z[:, i] = t[:, 0]
            return pipe.predict(Z)[:, None]

        Jf, Df = central_differences(along, X[:15, i : i + 1], h=h)
        assert_rel_close(d.jacobian[:, 0, i], Jf[:, 0, 0])
        assert_rel_close(
            d.second[:, 0, i],
            Df[:, 0, 0],
        )
    # folding the scaler into the first layer changes nothing
    batch = to_mlp_batch(pipe)
    J1 = input_jacobian(batch, X[:15]).numpy()
    J2 = input_jacobian(batch.with_folded_input_transform(), X[:15]).numpy()
    np.testing.assert_allclose(J1, J2, rtol=1e-10)


class _Quirky(torch.nn.Module):
    """Not an MLP: a multiplicative interaction, a sine and a residual softmax head."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(3, 5)
        self.b = torch.nn.Linear(5, 2)

    def forward(self, x):
        h = torch.sin(self.a(x)) * x[:, :1] + torch.exp(-(x**2)).sum(dim=1, keepdim=True)
        return torch.softmax(self.b(h), dim=-1)


def test_arbitrary_torch_module_by_autograd_equals_differences():
    torch.manual_seed(0)
    module = _Quirky().double()
    net = as_differentiable(module)
    assert isinstance(net, TorchNetwork) and net.output_names == ("y0", "y1")
    X = np.random.default_rng(0).normal(size=(7, 3))

    def f(Z):
        with torch.no_grad():
            return module(torch.as_tensor(Z)).numpy()[None]

    J, D = input_derivatives(
        net, X, second_order=True, memory_budget_mb=4096 / 2**20
    )  # several chunks
    Jf, Df = central_differences(f, X)
    assert_rel_close(J.numpy(), Jf)
    assert_rel_close(
        D.numpy(),
        Df,
    )
    H = input_hessian(net, X, output=1)
    np.testing.assert_allclose(torch.diagonal(H, dim1=2, dim2=3), D[:, :, 1], atol=1e-12)
    # an nn.Sequential with a module the analytic path does not know goes through autograd
    gelu = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.GELU(), torch.nn.Linear(4, 2))
    gelu = gelu.double()
    _, dg = dimopoulos(gelu, X, scale=None, return_derivatives=True)
    Jf, Df = central_differences(lambda Z: gelu(torch.as_tensor(Z)).detach().numpy(), X)
    assert_rel_close(dg.jacobian, Jf)
    assert_rel_close(
        dg.second,
        Df,
    )
    frame = dimopoulos(module, pd.DataFrame(X, columns=["a", "b", "c"]))
    assert set(frame.index.get_level_values("variable")) == {"a", "b", "c"}


def test_autograd_path_equals_analytic_path_on_a_sequential():
    rng = np.random.default_rng(5)
    coefs = [rng.normal(size=(4, 6)), rng.normal(size=(6, 5)), rng.normal(size=(5, 3))]
    ints = [rng.normal(size=6), rng.normal(size=5), rng.normal(size=3)]
    seq = torch_mlp(coefs, ints, "tanh", "softmax")
    X = rng.normal(size=(10, 4))
    analytic = input_derivatives(as_differentiable(seq), X, second_order=True)
    autograd = input_derivatives(
        TorchNetwork(seq, ("a", "b", "c", "d"), ("p", "q", "r")), X, second_order=True
    )
    for a, b in zip(analytic, autograd, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-13)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    depth=st.integers(0, 3),
    hidden=st.sampled_from(["identity", "logistic", "tanh"]),
    out=st.sampled_from(_OUTPUTS),
)
def test_pad_equals_finite_differences_on_random_networks(seed, depth, hidden, out):
    rng = np.random.default_rng(seed)
    p = int(rng.integers(1, 5))
    sizes = (p, *rng.integers(1, 6, size=depth).tolist(), int(rng.integers(2, 4)))
    batch = random_batch(rng, sizes, hidden, out, B=int(rng.integers(1, 3)))
    X = rng.normal(size=(5, p))
    J, D = input_derivatives(batch, X, second_order=True)
    Jf, Df = fd_of_batch(batch, X)
    assert_rel_close(J.numpy(), Jf)
    assert_rel_close(D.numpy(), Df)


# ---------------------------------------------------------------------- summaries
def test_summaries_follow_their_formulas_and_chunking_changes_nothing():
    rng = np.random.default_rng(2)
    batch = random_batch(rng, (4, 7, 2), "logistic", "identity", B=3)
    X = rng.normal(size=(301, 4))
    whole = deriv.derivative_summaries(batch, X, return_derivatives=True)
    chunked = deriv.derivative_summaries(batch, X, memory_budget_mb=2000 / 2**20)
    J, D = whole.jacobian, whole.second
    n = X.shape[0]
    expected = {
        "ssd": (J**2).sum(1),
        "mean": J.mean(1),
        "std": J.std(1, ddof=1),
        "rms": np.sqrt((J**2).mean(1)),
        "curvature": (D**2).sum(1),
        "derivative_curvature": ((J * D) ** 2).sum(1),
    }
    expected["relative_contribution"] = expected["ssd"] / expected["ssd"].sum(-1, keepdims=True)
    for key, value in expected.items():
        assert whole[key].shape == (3, 2, 4)
        np.testing.assert_allclose(whole[key], value, rtol=1e-12, err_msg=key)
        np.testing.assert_allclose(chunked[key], value, rtol=1e-10, err_msg=key)
    assert whole.n_samples == chunked.n_samples == n
    np.testing.assert_allclose(whole.relative_contribution.sum(-1), 1.0)
    same = deriv.summarize(J, D)
    for key in deriv.SUMMARIES:
        np.testing.assert_allclose(same[key], whole[key], rtol=1e-12)


def test_scale_sd_multiplies_by_the_sample_standard_deviation():
    rng = np.random.default_rng(4)
    batch = random_batch(rng, (3, 5, 1), "tanh", "identity", B=1)
    X = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.1]
    raw = deriv.derivative_summaries(batch, X)
    scaled = deriv.derivative_summaries(batch, X, scale="sd")
    s = X.std(axis=0, ddof=1)
    np.testing.assert_allclose(scaled.scale, s)
    np.testing.assert_allclose(scaled.ssd, raw.ssd * s**2, rtol=1e-12)
    np.testing.assert_allclose(scaled.mean, raw.mean * s, rtol=1e-12)
    np.testing.assert_allclose(scaled.curvature, raw.curvature * s**4, rtol=1e-12)
    np.testing.assert_allclose(
        scaled.derivative_curvature, raw.derivative_curvature * s**6, rtol=1e-12
    )
    # equivalently: derivatives of the network on the standardized variable u = x / s
    J, _ = deriv.partial_derivatives(batch, X, scale="sd")
    Jf, _ = central_differences(lambda U: batch.predict(U * s), X / s)
    assert_rel_close(J, Jf)
    with pytest.warns(UserWarning, match="constant"):
        deriv.derivative_summaries(batch, np.c_[X[:, :2], np.ones(50)], scale="sd")


# ---------------------------------------------------------------------- estimator
@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-1, 1, size=(200, 4)), columns=["temp", "depth", "ph", "flow"])
    y = 2 * X["temp"] - X["depth"] ** 2 + 0.1 * rng.normal(size=200)
    return X, pd.Series(y, name="biomass")


def _net():
    return MLPRegressor(
        hidden_layer_sizes=(8,), activation="tanh", solver="lbfgs", max_iter=500, random_state=0
    )


def test_estimator_matches_function_and_reports_all_summaries(regression):
    X, y = regression
    sa = Dimopoulos(_net()).fit(X, y)
    frame = dimopoulos(sa.estimator_, X)
    pd.testing.assert_frame_equal(sa.importances_, frame, check_exact=False, rtol=1e-12)
    for col in (*deriv.SUMMARIES, "direction"):
        assert col in sa.importances_.columns
    top = sa.importances_.index[0]
    assert top == "temp" and sa.importances_.loc["temp", "direction"] == "+"
    assert sa.importances_["importance"].equals(sa.importances_["ssd"])
    assert sa.output_names_ == ("biomass",)
    assert not sa.is_signed
    # the statistic picks the importance column; only the mean is signed
    mean = Dimopoulos(_net(), statistic="mean").fit(X, y)
    assert mean.is_signed
    np.testing.assert_allclose(
        mean.importances_["importance"].sort_index(), frame["mean"].sort_index(), rtol=1e-12
    )
    rms = clone(sa).set_params(statistic="rms").fit(X, y)
    np.testing.assert_allclose(
        rms.importances_["importance"].sort_index(), frame["rms"].sort_index(), rtol=1e-12
    )
    d = sa.partial_derivatives(X)
    assert d.jacobian.shape == (200, 1, 4) and d.second.shape == (200, 1, 4)
    np.testing.assert_allclose((d.jacobian[:, 0] ** 2).sum(0), sa.statistics_["ssd"][0])


def test_estimator_scale_sd_and_symmetric_effect(regression):
    X, y = regression
    sa = Dimopoulos(_net(), scale="sd").fit(X, y)
    # depth enters as -depth^2: its mean derivative is near zero but its ssd is not
    depth = sa.importances_.loc["depth"]
    assert abs(depth["mean"]) < 0.25 * depth["rms"]
    assert depth["rank"] == 2


def test_default_ranking_does_not_depend_on_the_units_of_a_variable(regression):
    """A variable recorded in other units (temp times 1000: "milli-degrees") is the same
    variable: the default (scale="sd") ranks it as before, in the class and the function;
    raw derivatives (scale=None) divide its derivative by 1000 and demote it."""
    X, y = regression
    fitted = make_pipeline(StandardScaler(), _net()).fit(X, y)
    # the same network for temp in the other units: its scaler takes the units out
    X_milli = X.assign(temp=1000 * X["temp"])
    milli = clone(fitted).fit(X, y)
    scaler = milli[0]
    scaler.mean_[0] *= 1000
    scaler.scale_[0] *= 1000
    np.testing.assert_allclose(milli.predict(X_milli), fitted.predict(X), rtol=1e-12)
    before = Dimopoulos(fitted, prefit=True).fit(X).importances_
    after = Dimopoulos(milli, prefit=True).fit(X_milli).importances_
    assert before.index[0] == "temp" and list(after.index) == list(before.index)
    np.testing.assert_allclose(after["importance"], before["importance"], rtol=1e-9)
    f_before, f_after = dimopoulos(fitted, X), dimopoulos(milli, X_milli)
    assert list(f_after.index) == list(f_before.index)
    np.testing.assert_allclose(f_after["ssd"], f_before["ssd"], rtol=1e-9)
    raw = dimopoulos(milli, X_milli, scale=None)
    assert raw.loc["temp", "rank"] == 4


def test_estimator_accepts_a_prefit_torch_module():
    torch.manual_seed(0)
    module = _Quirky().double()
    X = np.random.default_rng(0).normal(size=(20, 3))
    sa = Dimopoulos(module, prefit=True).fit(X)

    def f(Z):
        with torch.no_grad():
            return module(torch.as_tensor(Z)).numpy()

    # fourth-order central differences of its predictions (20, 2, 3): error ~1e-12 here
    J, _ = central_differences(f, X)
    # per-row derivatives on a few rows, scaled by the sd of those rows (scale="sd")
    rows = X[[0, 5, 11, 17]]
    d = sa.partial_derivatives(rows)
    assert_rel_close(d.jacobian, J[[0, 5, 11, 17]] * rows.std(axis=0, ddof=1), rel=1e-9)
    # the table: one row per (output, variable), importance = ssd of the scaled derivatives
    ssd = ((J * X.std(axis=0, ddof=1)) ** 2).sum(axis=0)
    table = sa.importances_["importance"]
    assert len(table) == 6
    for k, out in enumerate(sa.output_names_):
        got = table.loc[out].reindex(["x0", "x1", "x2"]).to_numpy()
        assert_rel_close(got, ssd[k], rel=1e-9)


def test_statistic_accepts_a_general_torch_module():
    torch.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(20, 3))
    sa = Dimopoulos(statistic="derivative_curvature")
    sa.variable_names_ = ("a", "b", "c")
    model = sa._model_view(_Quirky().double(), None)
    stats = sa._statistic(model, X)
    assert stats["importance"].shape == (1, 2, 3)
    np.testing.assert_array_equal(stats["importance"], stats["derivative_curvature"])


# ---------------------------------------------------------------------- bad input
def test_bad_inputs_get_clear_errors(neuralsens):
    X, nets, _ = neuralsens
    model = _neuralsens_model(nets["tanh_8"])
    with pytest.raises(ValueError, match="4 columns but the model has 5 inputs"):
        dimopoulos(model, X[:, :4])
    with pytest.raises(ValueError, match="expected \\(n_samples, 5\\)"):
        input_jacobian(to_mlp_batch(model), X[:, :4])
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dimopoulos(model, bad)
    with pytest.raises(ValueError, match="NaN or infinite"):
        input_jacobian(to_mlp_batch(model), np.where(bad == bad, bad, np.inf))
    with pytest.raises(ValueError, match="NaN or infinite"):
        deriv.derivative_summaries(to_mlp_batch(model), bad)
    with pytest.raises(ValueError, match="scale must be"):
        dimopoulos(model, X, scale="iqr")
    with pytest.raises(ValueError, match="output must be in"):
        input_hessian(to_mlp_batch(model), X, output=3)
    with pytest.raises(ValueError, match="logits=True needs an MLP"):
        input_jacobian(as_differentiable(_Quirky().double()), X[:, :3], logits=True)
    with pytest.raises(TypeError, match="differentiable model"):
        dimopoulos(object(), X)
    dropout = torch.nn.Sequential(_Quirky(), torch.nn.Dropout(0.5)).double()
    with pytest.raises(ValueError, match=r"module\.eval\(\)"):
        dimopoulos(dropout, X[:, :3])
    with pytest.raises(ValueError, match="memory_budget_mb"):
        input_jacobian(to_mlp_batch(model), X, memory_budget_mb=0)
    with pytest.raises(ValueError, match="max_memory"), pytest.warns(FutureWarning):
        input_jacobian(to_mlp_batch(model), X, max_memory=0)
    with pytest.raises(ValueError, match="not both"):
        input_jacobian(to_mlp_batch(model), X, memory_budget_mb=1.0, max_memory=2**20)


def test_threaded_row_chunks_give_the_same_numbers():
    """Chunks of rows computed in worker threads (one torch thread each) equal the serial
    computation exactly, and the caller's torch thread setting is restored."""
    rng = np.random.default_rng(4)
    coefs = [rng.normal(size=(2, 4, 6)), rng.normal(size=(2, 6, 2))]
    ints = [rng.normal(size=(2, 6)), rng.normal(size=(2, 2))]
    batch = MLPBatch.from_arrays(coefs, ints, activation="tanh", out_activation="identity")
    X = rng.normal(size=(3000, 4))
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        J1, D1 = input_derivatives(batch, X, second_order=True, memory_budget_mb=0.05)
        torch.set_num_threads(2)
        J2, D2 = input_derivatives(batch, X, second_order=True, memory_budget_mb=0.05)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)
    assert torch.equal(J1, J2) and torch.equal(D1, D2)


def test_the_sliding_window_of_tasks_keeps_order_and_its_bound():
    """``iter_tasks`` yields in task order whatever finishes first, never has more than
    ``window`` tasks submitted and not yet yielded, and runs each with one torch thread."""
    import threading
    import time

    from sensitivity._threads import iter_tasks

    lock = threading.Lock()
    state = {"outstanding": 0, "most": 0, "threads": set()}

    def task(i):
        with lock:
            state["outstanding"] += 1
            state["most"] = max(state["most"], state["outstanding"])
        state["threads"].add(torch.get_num_threads())
        time.sleep(0.002 * (i % 3))  # later tasks may finish first
        return i

    out = []
    for r in iter_tasks(task, [(i,) for i in range(20)], workers=2, window=3):
        out.append(r)
        with lock:
            state["outstanding"] -= 1
    assert out == list(range(20))
    assert state["most"] <= 3
    assert state["threads"] == {1}
    assert list(iter_tasks(task, [(i,) for i in range(4)], workers=1, window=1)) == [0, 1, 2, 3]


_FORWARD_AD_SCRIPT = """
import sys
import warnings

import numpy as np
import torch
from sklearn.neural_network import MLPRegressor

import sensitivity

torch.manual_seed(0)
X = np.random.default_rng(0).normal(size=(40, 3))
if sys.argv[1] == "dimopoulos":  # a GELU module: second derivatives by forward mode
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.GELU(), torch.nn.Linear(5, 1))
    estimator = sensitivity.Dimopoulos(model, prefit=True)
else:  # the exact Hessian of the training objective: forward over reverse
    model = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", alpha=1.0, random_state=0)
    estimator = sensitivity.SampleInfluence(model.fit(X, X[:, 0]), prefit=True, damping=0.01)
with warnings.catch_warnings():
    warnings.simplefilter("error", DeprecationWarning)
    estimator.fit(X, X[:, 0])
print("quiet")
"""


@pytest.mark.parametrize("case", ["dimopoulos", "influence"])
def test_forward_mode_derivatives_print_no_torch_deprecation_warnings(case):
    """The first forward-mode derivative of a process (a GELU module's second derivatives, the
    influence Hessian) loads torch's jvp decompositions, registered with the deprecated
    ``torch.jit.script`` (18 warnings): the package loads them quietly. A fresh interpreter
    per case, since torch loads them once per process."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-c", _FORWARD_AD_SCRIPT, case],
        capture_output=True,
        text=True,
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "quiet"
    assert "torch.jit.script" not in proc.stderr
