"""Local attributions: closed forms, the fast MLP path against explicit Jacobians, captum 0.9
agreement (test extra), completeness of Integrated Gradients, targets, summaries, bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LinearRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensitivity import Attributions, load_diabetes
from sensitivity import attributions as at
from sensitivity.adapters import as_differentiable, to_mlp_batch
from sensitivity.methods import attributions as A
from sensitivity.network import MLPBatch


# ---------------------------------------------------------------------- fixtures
def _seq(sizes, act=torch.nn.Tanh, out=None, seed=0):
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(act())
    if out is not None:
        layers.append(out)
    return torch.nn.Sequential(*layers).double().eval()


class _Skip(torch.nn.Module):
    """Not an MLP (a skip connection): differentiated by autograd."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.a = torch.nn.Linear(4, 6)
        self.b = torch.nn.Linear(6, 2)
        self.c = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x))) + torch.sin(self.c(x))


def _skip():
    return _Skip().double().eval()


@pytest.fixture(scope="module")
def rows():
    return np.random.default_rng(0).normal(size=(12, 4))


@pytest.fixture(scope="module")
def diabetes_nets():
    X, y = load_diabetes()
    nets = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for act in ("tanh", "logistic", "relu"):
            mlp = MLPRegressor(
                hidden_layer_sizes=(10,),
                activation=act,
                alpha=1.0,
                solver="lbfgs",
                max_iter=500,
                random_state=0,
            )
            nets[act] = make_pipeline(StandardScaler(), mlp).fit(X, y)
    return X, nets


# ---------------------------------------------------------------------- quadrature
@pytest.mark.parametrize("method", A.INTEGRATION_METHODS)
def test_integration_rule_weights_sum_to_one(method):
    alphas, weights = A.integration_rule(method, 7)
    assert weights.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.all((alphas >= 0) & (alphas <= 1))


def test_gauss_legendre_exact_for_polynomials_of_degree_2s_minus_1():
    alphas, weights = A.integration_rule("gausslegendre", 5)
    for d in range(10):
        assert weights @ alphas**d == pytest.approx(1 / (d + 1), abs=1e-14)


def test_integration_rule_nodes_are_captums():
    approx = pytest.importorskip("captum.attr._utils.approximation_methods")
    for method in A.INTEGRATION_METHODS:
        step_fn, alpha_fn = approx.approximation_parameters(method)
        alphas, weights = A.integration_rule(method, 9)
        np.testing.assert_allclose(alphas, alpha_fn(9), atol=1e-7)  # captum: float32 linspace
        ratio = 8 / 9 if method == "riemann_trapezoid" else 1.0  # captum's weights sum to 1-1/S
        np.testing.assert_allclose(weights * ratio, step_fn(9), rtol=1e-12)


# ---------------------------------------------------------------------- exact formulas
def test_fast_path_equals_jacobians_at_every_point(rows):
    """Deep net, softmax, logits, a batch of 3 networks: first-layer shortcut == explicit."""
    nets = [to_mlp_batch(_seq([4, 5, 3, 3], out=torch.nn.Softmax(dim=1), seed=s)) for s in (0, 1)]
    batch = MLPBatch.stack([*nets, nets[0]])
    alphas, weights = A.integration_rule("gausslegendre", 6)
    base = rows[::-1].copy()  # one baseline per row
    for logits in (False, True):
        fast = A.path_gradients(batch, rows, base, alphas, weights, logits=logits)
        slow = A.path_gradients(batch, rows, base, alphas, weights, logits=logits, fast=False)
        np.testing.assert_allclose(fast, slow, atol=1e-13)
    for net in (_seq([4, 6, 2]), _seq([4, 6, 2], act=torch.nn.ReLU)):  # one-layer shortcut
        one = MLPBatch.stack([to_mlp_batch(net)] * 2)
        fast = A.path_gradients(one, rows, base, alphas, weights, outputs=[1])
        slow = A.path_gradients(one, rows, base, alphas, weights, outputs=[1], fast=False)
        np.testing.assert_allclose(fast, slow, atol=1e-13)
    chunked = A.path_gradients(batch, rows, base, alphas, weights, memory_budget_mb=2000 / 2**20)
    whole = A.path_gradients(batch, rows, base, alphas, weights)
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=1e-16)  # BLAS rounding only


def test_ig_of_a_linear_model_is_weight_times_difference(rows):
    W = np.array([[1.5], [-2.0], [0.0], [0.5]])
    batch = MLPBatch.from_arrays([W], [np.array([0.3])], out_activation="identity")
    res = A.integrated_gradients(batch, rows, 0.25, n_steps=1)
    np.testing.assert_allclose(res.attributions[0, :, 0], (rows - 0.25) * W[:, 0], atol=1e-14)
    np.testing.assert_allclose(res.gap, 0.0, atol=1e-13)


def test_occlusion_of_a_linear_model_any_predictor(rows):
    y = rows @ np.array([1.0, -2.0, 3.0, 0.5])
    lin = LinearRegression().fit(rows, y)
    res = at.occlusion(lin, rows, baseline="zeros")
    np.testing.assert_allclose(res.values[:, 0], rows * lin.coef_, atol=1e-12)
    np.testing.assert_allclose(res.baseline_prediction[:, 0], lin.intercept_, atol=1e-12)


def test_gradient_methods_against_finite_differences(rows):
    net = _seq([4, 6, 2], out=torch.nn.Sigmoid())
    sal = at.saliency(net, rows, absolute=False)
    f = to_mlp_batch(net).predict
    h = 1e-6
    for i in range(4):
        e = np.zeros(4)
        e[i] = h
        fd = (f(rows + e)[0] - f(rows - e)[0]) / (2 * h)
        np.testing.assert_allclose(sal.values[:, :, i], fd, atol=1e-8)
    gxi = at.gradient_x_input(net, rows)
    np.testing.assert_allclose(gxi.values, sal.values * rows[:, None, :], atol=1e-15)


# ---------------------------------------------------------------------- captum agreement
def _captum():
    return pytest.importorskip("captum.attr")


NETS = {
    "tanh-identity": lambda: _seq([4, 7, 3, 1]),
    "relu-softmax": lambda: _seq([4, 6, 3], act=torch.nn.ReLU, out=torch.nn.Softmax(dim=1)),
    "general-module": _skip,
}


@pytest.mark.parametrize("name", list(NETS))
def test_gradient_attributions_equal_captum(name, rows):
    cap = _captum()
    net = NETS[name]()
    x = torch.tensor(rows)
    K = as_differentiable(net, n_features=4).n_outputs
    sal = at.saliency(net, rows).values
    gxi = at.gradient_x_input(net, rows).values
    for k in range(K):
        ref = cap.Saliency(net).attribute(x, target=k).detach().numpy()
        np.testing.assert_allclose(sal[:, k], ref, atol=1e-6, rtol=1e-6)
        ref = cap.InputXGradient(net).attribute(x, target=k).detach().numpy()
        np.testing.assert_allclose(gxi[:, k], ref, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", list(NETS))
@pytest.mark.parametrize("method", A.INTEGRATION_METHODS)
def test_integrated_gradients_equal_captum(name, method, rows):
    cap = _captum()
    net = NETS[name]()
    x = torch.tensor(rows)
    base = np.linspace(-0.5, 0.5, 4)
    res = at.integrated_gradients(net, rows, baseline=base, n_steps=20, integration=method)
    # captum's trapezoid weights sum to 1 - 1/S (ours to 1): compare after that factor
    ratio = 20 / 19 if method == "riemann_trapezoid" else 1.0
    for k in range(res.values.shape[1]):
        ref = cap.IntegratedGradients(net).attribute(
            x, baselines=torch.tensor(base)[None], target=k, n_steps=20, method=method
        )
        np.testing.assert_allclose(
            res.values[:, k], ref.detach().numpy() * ratio, atol=1e-6, rtol=1e-6
        )


@pytest.mark.parametrize("name", list(NETS))
def test_occlusion_equals_captum(name, rows):
    cap = _captum()
    net = NETS[name]()
    base = rows[::-1].copy()
    res = at.occlusion(net, rows, baseline=base)
    for k in range(res.values.shape[1]):
        ref = cap.Occlusion(net).attribute(
            torch.tensor(rows), sliding_window_shapes=(1,), baselines=torch.tensor(base), target=k
        )
        np.testing.assert_allclose(res.values[:, k], ref.detach().numpy(), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("absolute", [False, True])
def test_smoothgrad_equals_captum_given_the_same_noise(absolute, rows):
    cap = _captum()
    net = NETS["relu-softmax"]()
    S, sd = 8, 0.3
    torch.manual_seed(5)
    ref = cap.NoiseTunnel(cap.Saliency(net)).attribute(
        torch.tensor(rows), nt_type="smoothgrad", nt_samples=S, stdevs=sd, target=1, abs=absolute
    )
    torch.manual_seed(5)  # captum's draw: one normal per (row, sample, variable), row-major
    draws = torch.normal(0, torch.tensor(sd).repeat(len(rows) * S, 4))  # float32, as captum
    noise = draws.numpy().reshape(len(rows), S, 4).transpose(1, 0, 2)
    res = at.smoothgrad(net, rows, target=1, noise=noise, absolute=absolute)
    np.testing.assert_allclose(res.values[:, 0], ref.detach().numpy(), atol=1e-6, rtol=1e-6)


# ---------------------------------------------------------------------- completeness
@pytest.mark.parametrize("act", ["tanh", "logistic", "relu"])
def test_ig_completeness_with_default_steps_on_reference_nets(act, diabetes_nets):
    X, nets = diabetes_nets
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no gap warning either
        res = at.integrated_gradients(nets[act], X)
    delta = res.prediction - res.baseline_prediction
    assert np.all(
        np.abs(res.completeness_gap) <= 1e-3 * np.abs(delta) + 1e-3 * 1e-2 * np.abs(delta).mean()
    )
    assert res.relative_gap.max() <= 1e-3


def test_piecewise_rule_is_exact_for_one_relu_layer_and_linear_output(rows):
    net = to_mlp_batch(_seq([4, 16, 2], act=torch.nn.ReLU))
    res = A.integrated_gradients(net, rows, rows[::-1], n_steps=1, method=A.PIECEWISE)
    np.testing.assert_allclose(res.gap, 0.0, atol=1e-13)
    plain = A.integrated_gradients(net, rows, rows[::-1], n_steps=1, method="gausslegendre")
    assert np.abs(plain.gap).max() > 1e-3  # the kinks matter
    # with a softmax output the pieces are smooth: Gauss-Legendre converges on each
    soft = to_mlp_batch(_seq([4, 16, 3], act=torch.nn.ReLU, out=torch.nn.Softmax(dim=1)))
    fine = A.integrated_gradients(soft, rows, 0.0, n_steps=16, method=A.PIECEWISE)
    np.testing.assert_allclose(fine.gap, 0.0, atol=1e-13)
    auto = at.integrated_gradients(soft, rows, baseline="zeros")
    assert auto.settings["integration"] == A.PIECEWISE
    scale = np.abs(fine.attributions).max()
    np.testing.assert_allclose(auto.values, fine.attributions[0], atol=1e-3 * scale)


def test_too_few_steps_warn_with_the_measured_gap(diabetes_nets):
    X, nets = diabetes_nets
    with pytest.warns(UserWarning, match=r"completeness gap up to .* n_steps=1"):
        at.integrated_gradients(nets["tanh"], X, n_steps=1)


def test_sample_baseline_averages_ig_over_the_drawn_rows(diabetes_nets):
    X, nets = diabetes_nets
    res = at.integrated_gradients(
        nets["tanh"],
        X[:5],
        baseline="sample",
        n_baselines=3,
        background=X,
        n_steps=64,
        random_state=0,
    )
    assert res.baseline.shape == (3, 10)
    one = [
        at.integrated_gradients(nets["tanh"], X[:5], baseline=b, n_steps=64).values
        for b in res.baseline
    ]
    np.testing.assert_allclose(res.values, np.mean(one, axis=0), atol=1e-12)


# ---------------------------------------------------------------------- targets
@pytest.fixture(scope="module")
def binary_clf():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] - X[:, 1] > 0, "yes", "no")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=500, random_state=0).fit(X, y)
    return X, clf


def test_binary_negative_class_is_the_complement(binary_clf):
    X, clf = binary_clf
    pos = at.integrated_gradients(clf, X, target="yes", n_steps=64)
    neg = at.integrated_gradients(clf, X, target="no", n_steps=64)
    np.testing.assert_allclose(neg.values, -pos.values, atol=1e-15)
    np.testing.assert_allclose(neg.prediction[:, 0], clf.predict_proba(X)[:, 0], atol=1e-12)
    by_index = at.saliency(clf, X, target=0, absolute=False)  # index into classes_ = "no"
    assert by_index.output_names == ("no",)
    np.testing.assert_allclose(by_index.values, -at.saliency(clf, X, absolute=False).values)
    pred = at.occlusion(clf, X, target="predicted")
    assert list(pred.targets) == list(clf.predict(X))
    both = at.occlusion(clf, X, target="yes").values
    sign = np.where(clf.predict(X) == "yes", 1, -1)[:, None, None]
    np.testing.assert_allclose(pred.values, both * sign, atol=1e-15)


def test_multiclass_target_by_label_and_predicted():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 3))
    y = np.digitize(X[:, 0] + X[:, 2], [-0.5, 0.5]) + 10  # classes 10, 11, 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=300, random_state=0).fit(X, y)
    allk = at.saliency(clf, X)
    assert allk.output_names == ("10", "11", "12")
    one = at.saliency(clf, X, target=12)
    np.testing.assert_array_equal(one.values[:, 0], allk.values[:, 2])
    pred = at.saliency(clf, X, target="predicted")
    idx = clf.predict_proba(X).argmax(axis=1)
    np.testing.assert_array_equal(pred.values[:, 0], allk.values[np.arange(60), idx])
    with pytest.raises(ValueError, match=r"target 13 does not exist.*classes"):
        at.saliency(clf, X, target=13)


# ---------------------------------------------------------------------- result and summaries
def test_to_frame_is_long_and_tidy(rows):
    res = at.saliency(_seq([4, 3, 2]), pd.DataFrame(rows, columns=list("abcd")))
    frame = res.to_frame()
    assert list(frame.columns) == ["row", "output", "variable", "attribution", "value"]
    assert len(frame) == 12 * 2 * 4
    line = frame[(frame.row == 3) & (frame.output == "y1") & (frame.variable == "c")]
    assert line.attribution.item() == res.values[3, 1, 2]
    assert line.value.item() == rows[3, 2]
    assert list(res.to_wide("y0").columns) == list("abcd")


def test_importances_are_mean_absolute_attributions(diabetes_nets):
    X, nets = diabetes_nets
    res = at.saliency(nets["tanh"], X)
    imp = res.importances()
    np.testing.assert_allclose(
        imp.loc[list(res.feature_names), "importance"], np.abs(res.values[:, 0]).mean(0)
    )
    assert imp["rank"].min() == 1


def test_estimator_matches_plain_function_and_runs_the_test(diabetes_nets):
    X, nets = diabetes_nets
    est = Attributions(nets["tanh"], method="integrated_gradients", prefit=True).fit(X)
    plain = at.integrated_gradients(nets["tanh"], X).importances()
    pd.testing.assert_series_equal(
        est.importances_["importance"].sort_index(), plain["importance"].sort_index()
    )
    Xs, ys = X.iloc[:80], np.asarray(load_diabetes()[1])[:80]
    net = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(3,)))
    # gaussian conditional models: s1 and s2 are determined by the other serum variables
    # (Friedewald: total = LDL + HDL + triglycerides / 5, through s5 = log triglycerides), which
    # conditional="auto"'s boosted models detect (held-out R^2 >= 0.99: UntestableVariableError)
    est = Attributions(
        net,
        method="gradient_x_input",
        n_permutations=9,
        n_bootstrap=5,
        random_state=0,
        train_alpha=1.0,
        train_params={"max_iter": 20},
        null="conditional",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(Xs, ys)
    assert est.null_distribution_.shape == (9, 1, 10)
    # upper-tailed permutation p-values of the magnitudes, from the null the estimator kept
    # and the tested statistic (variable j's own block, see sensitivity.inference.engine)
    observed = est.inference_["tested_statistic"][0]
    null = est.null_distribution_[:, 0, :]
    expected = (1 + (null >= observed).sum(axis=0)) / 10
    np.testing.assert_allclose(est.importances_["p_value"].reindex(Xs.columns), expected)
    assert est.importances_["ci_low"].notna().all()
    assert est.local_attributions(Xs).values.shape == (80, 1, 10)


def test_results_do_not_depend_on_memory_settings(diabetes_nets):
    X, nets = diabetes_nets
    a = at.smoothgrad(nets["logistic"], X, random_state=3, n_samples=5)
    b = at.smoothgrad(
        nets["logistic"], X, random_state=3, n_samples=5, memory_budget_mb=50_000 / 2**20
    )
    np.testing.assert_allclose(a.values, b.values, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------- bad input
def test_bad_input_messages(rows):
    net = _seq([4, 3, 2])
    with pytest.raises(ValueError, match=r"baseline has shape \(3,\); expected .*\(4,\)"):
        at.integrated_gradients(net, rows, baseline=np.zeros(3))
    with pytest.raises(ValueError, match=r"baseline has shape \(5, 4\)"):
        at.occlusion(net, rows, baseline=np.zeros((5, 4)))
    with pytest.raises(ValueError, match="target 'z' does not exist"):
        at.saliency(net, rows, target="z")
    with pytest.raises(ValueError, match="n_steps must be at least 1"):
        at.integrated_gradients(net, rows, n_steps=0)
    with pytest.raises(ValueError, match="n_steps must be at least 2"):
        at.integrated_gradients(net, rows, n_steps=1, integration="riemann_trapezoid")
    with pytest.raises(TypeError, match="n_steps must be a positive integer"):
        at.integrated_gradients(net, rows, n_steps=2.5)
    with pytest.raises(ValueError, match="Unknown integration method"):
        at.integrated_gradients(net, rows, integration="simpson")
    with pytest.raises(ValueError, match="needs an MLP"):
        at.integrated_gradients(_skip(), rows, integration="piecewise_gausslegendre")
    with pytest.raises(ValueError, match="method must be one of"):
        at.attributions(net, rows, "shap")
    with pytest.raises(ValueError, match="needs a classifier"):
        at.saliency(net, rows, target="predicted")
    with pytest.raises(ValueError, match="n_samples must be at least 1"):
        at.smoothgrad(net, rows, n_samples=0)
    with pytest.raises(ValueError, match=r"noise has shape"):
        at.smoothgrad(net, rows, noise=np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="X has 3 columns"):
        at.saliency(net, rows[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        at.saliency(net, np.where(rows > 1, np.nan, rows))
    with pytest.raises(TypeError, match="differentiable model"):
        at.saliency(LinearRegression().fit(rows, rows[:, 0]), rows)


# ---------------------------------------------------------------------- plots
def test_plots_render_with_labelled_axes(diabetes_nets):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sensitivity.attribution_plots import (
        plot_attribution_dependence,
        plot_attribution_summary,
        plot_attribution_waterfall,
    )

    X, nets = diabetes_nets
    res = at.integrated_gradients(nets["tanh"], X.iloc[:60], background=X)
    fig = plot_attribution_summary(res, max_display=5, output_unit="score")
    ax = fig.axes[0]
    shown = [t.get_text() for t in ax.get_yticklabels()][::-1]
    order = np.argsort(-np.abs(res.values[:, 0]).mean(0))[:5]
    assert shown == [res.feature_names[j] for j in order]  # ranked top-down
    assert "score" in ax.get_xlabel() and fig.get_layout_engine() is not None
    assert sum(len(c.get_offsets()) for c in ax.collections) == 5 * 60
    fig = plot_attribution_waterfall(res, 3, max_display=4)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_width() != 0]
    assert len(bars) == 5  # 4 variables + the others pooled
    # the steps add up from f(baseline) to f(x) (completeness)
    total = res.baseline_prediction[3, 0] + sum(b.get_width() for b in bars)
    assert total == pytest.approx(res.prediction[3, 0], abs=1e-6 * abs(res.prediction[3, 0]))
    # the steps are this row's attributions, largest first (then the rest pooled); the negative
    # steps, and only they, are hatched
    a = res.values[3, 0]
    top = np.argsort(-np.abs(a), kind="stable")[:4]
    widths = np.array([b.get_width() for b in bars])
    # (a bar keeps its left end and right end: its width is exact up to rounding at their scale)
    ends = 1e-13 * np.abs(res.prediction[3, 0])
    np.testing.assert_allclose(widths, np.r_[a[top], np.delete(a, top).sum()], rtol=0, atol=ends)
    assert (widths < 0).any() and (widths > 0).any()  # both kinds occur in this row
    assert [bool(b.get_hatch()) for b in bars] == list(widths < 0)
    fig = plot_attribution_dependence(res, "bmi", color_by="bp", units={"bmi": "kg/m2"})
    ax = fig.axes[0]
    assert ax.get_xlabel() == "bmi (kg/m2)"
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 1], res.values[:, 0, 2])
    with pytest.raises(ValueError, match="Unknown variable"):
        plot_attribution_dependence(res, "nope")
    with pytest.raises(ValueError, match="row 99 out of range"):
        plot_attribution_waterfall(res, 99)
    plt.close("all")


def test_local_attributions_plot_each_kind(diabetes_nets):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    X, nets = diabetes_nets
    res = at.integrated_gradients(nets["tanh"], X.iloc[:20], background=X)
    for kind, kwargs in [
        ("summary", {"max_display": 4}),
        ("waterfall", {"row": 2, "max_display": 3}),
        ("dependence", {"variable": "bmi", "color_by": "bp"}),
    ]:
        fig = res.plot(kind=kind, **kwargs)
        assert isinstance(fig, Figure) and fig.axes[0].get_xlabel(), kind
        plt.close(fig)
    _, ax = plt.subplots()
    assert res.plot(ax=ax) is ax.figure  # default kind: the summary, on the given axes
    plt.close("all")
    with pytest.raises(ValueError, match="Unknown kind 'bars'; kinds: 'summary', 'waterfall'"):
        res.plot(kind="bars")
    with pytest.raises(TypeError, match=r"kind='waterfall'\) needs row= .*0 to 19"):
        res.plot(kind="waterfall")
    with pytest.raises(TypeError, match=r"needs variable= .*variables: age, sex, bmi"):
        res.plot(kind="dependence")


def test_auto_steps_are_chosen_per_network_so_batches_do_not_change_results(diabetes_nets):
    X, nets = diabetes_nets
    Xa = X.to_numpy()[:50]
    steep = to_mlp_batch(nets["tanh"])
    gentle = MLPBatch.from_arrays(
        [w[0] * 0.05 for w in steep.numpy_weights()[0]],
        [b[0] for b in steep.numpy_weights()[1]],
        activation="tanh",
        input_scale=steep.input_scale,
        input_offset=steep.input_offset,
    )
    batch = MLPBatch.stack([steep, gentle.to(dtype=steep.dtype)])
    est = Attributions(method="integrated_gradients")
    est._statistic_seed = 0
    both = est._statistic(batch, Xa)
    for b, net in enumerate((steep, gentle)):
        alone = est._statistic(net, Xa)
        for key in ("importance", "std"):
            np.testing.assert_allclose(both[key][b], alone[key][0], rtol=1e-12)
    steps = est._local(batch, Xa)["settings"]["n_steps"]
    assert steps[1] < steps[0]  # the gentle network needed fewer steps
