"""Figures render to PNG and show what they claim (bars, colours by sign, stars, lines)."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba

from sensitivity import MLPBatch
from sensitivity.plotting import (
    NEGATIVE_COLOR,
    NEUTRAL_COLOR,
    POSITIVE_COLOR,
    plot_derivatives,
    plot_importance,
    plot_lek_profiles,
    plot_network,
    plot_null_distribution,
)
from sensitivity.result import SensitivityResult, importance_frame


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _png(fig, tmp_path, name="fig.png"):
    path = tmp_path / name
    fig.savefig(path, dpi=40)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def _signed_table():
    return importance_frame(
        [[0.5, -2.0, 1.0, -0.1]],
        ["a", "b", "c", "d"],
        ["y"],
        signed=True,
        p_value=[[0.3, 0.001, 0.02, 0.9]],
        p_adjusted=[[0.6, 0.004, 0.04, 0.9]],
        ci_low=[[0.1, -2.5, 0.6, -0.5]],
        ci_high=[[0.9, -1.5, 1.4, 0.3]],
        method="Olden",
    )


def test_importance_bars_are_ranked_and_coloured_and_hatched_by_sign(tmp_path):
    fig = plot_importance(_signed_table())
    (ax,) = fig.axes
    bars = ax.patches
    assert len(bars) == 4
    heights = [b.get_height() for b in bars]
    assert heights == [-2.0, 1.0, 0.5, -0.1]  # rank order b, c, a, d
    colours = [b.get_facecolor() for b in bars]
    expected = [NEGATIVE_COLOR, POSITIVE_COLOR, POSITIVE_COLOR, NEGATIVE_COLOR]
    assert colours == [to_rgba(c) for c in expected]
    assert [b.get_hatch() or "" for b in bars] == ["////", "", "", "////"]  # grayscale-safe
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "c", "a", "d"]
    assert ax.get_title() == "Olden"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["positive effect", "negative effect", "95% bootstrap interval"]
    assert "*** ≤ 0.001" in legend[3] and "* ≤ 0.05" in legend[3] and "† ≤ 0.1" in legend[3]
    _png(fig, tmp_path)


def test_sign_colours_differ_in_grayscale():
    def luminance(c):
        rgb = np.array(to_rgba(c)[:3])
        lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
        return float(lin @ [0.2126, 0.7152, 0.0722])

    assert abs(luminance(POSITIVE_COLOR) - luminance(NEGATIVE_COLOR)) > 0.2


def test_magnitude_with_direction_is_one_colour_with_the_sign_in_the_label():
    frame = importance_frame(
        [[2.0, 1.0]], ["a", "b"], ["y"], signed=False, direction=[[-1.0, 1.0]], method="PaD"
    )
    (ax,) = plot_importance(frame).axes
    assert {b.get_facecolor() for b in ax.patches} == {to_rgba(NEUTRAL_COLOR)}
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a (−)", "b (+)"]
    assert all(b.get_height() > 0 for b in ax.patches)


def test_large_values_are_scaled_by_a_power_of_ten_named_in_the_axis_label():
    frame = importance_frame([[4.0e5, 1.0e5]], ["a", "b"], ["y"], signed=False, method="PaD")
    (ax,) = plot_importance(frame).axes
    np.testing.assert_allclose([b.get_height() for b in ax.patches], [4.0, 1.0])
    assert ax.get_ylabel() == "PaD importance (×10$^{5}$)"


def test_importance_bars_mark_significance_and_draw_intervals():
    (ax,) = plot_importance(_signed_table()).axes
    stars = [t.get_text() for t in ax.texts if t.get_gid() == "significance"]
    assert stars == ["**", "*"]  # b: p_adj 0.004, c: 0.04; a and d not significant
    # one error bar per variable, reaching the interval ends
    caplines = [line for c in ax.containers if hasattr(c, "lines") for line in c.lines[1]]
    ys = np.sort(np.concatenate([line.get_ydata() for line in caplines]))
    np.testing.assert_allclose(ys, np.sort([-2.5, -1.5, 0.6, 1.4, 0.1, 0.9, -0.5, 0.3]))


def test_unsigned_bars_have_one_colour_and_no_marks_without_test(tmp_path):
    frame = importance_frame([[0.2, 0.5, 0.3]], ["a", "b", "c"], ["y"], signed=False)
    (ax,) = plot_importance(frame, relative=True).axes
    assert {b.get_facecolor() for b in ax.patches} == {to_rgba(NEUTRAL_COLOR)}
    assert not [t for t in ax.texts if t.get_gid() == "significance"]
    np.testing.assert_allclose([b.get_height() for b in ax.patches], [50, 30, 20])
    assert ax.get_ylabel() == "share of |importance| (%)"


def test_multi_output_importance_gives_one_panel_per_output(tmp_path):
    frame = importance_frame([[1, 2], [3, -1]], ["a", "b"], ["cat", "dog"], signed=True)
    fig = plot_importance(frame)
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 2 and all(len(a.patches) == 2 for a in axes)
    (ax,) = plot_importance(frame, output="dog").axes
    assert [b.get_height() for b in ax.patches] == [3, -1]
    with pytest.raises(ValueError, match="Unknown output 'cow'"):
        plot_importance(frame, output="cow")
    _png(fig, tmp_path)


def test_long_variable_names_do_not_overlap_side_by_side_panels(tmp_path):
    names = ["alcalinity_of_ash", "total_phenols", "magnesium", "proline_and_more"]
    frame = importance_frame([[1, 2, 3, 4], [4, 3, 2, 1]], names, ["c0", "c1"], signed=False)
    fig = plot_importance(frame)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in (a for a in fig.axes if a.get_visible()):
        labels = ax.get_xticklabels()
        assert all(lab.get_rotation() == 45 and lab.get_ha() == "right" for lab in labels)
        boxes = [lab.get_window_extent(renderer) for lab in labels]
        assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    _png(fig, tmp_path)


def test_every_plot_function_returns_a_figure_also_when_given_an_ax():
    from matplotlib.figure import Figure

    fig, ax = plt.subplots()
    assert plot_importance(_signed_table(), ax=ax) is fig
    fig2, ax2 = plt.subplots()
    assert plot_null_distribution(np.arange(10.0), 3.0, ax=ax2) is fig2
    assert isinstance(plot_lek_profiles(_profiles()), Figure)


def test_a_global_test_result_has_no_per_variable_codes_and_its_p_in_the_title():
    frame = importance_frame([[0.5, -2.0]], ["a", "b"], ["y"], signed=True, method="Olden")
    res = SensitivityResult(
        frame,
        "Olden",
        signed=True,
        n_permutations=99,
        null="response",
        global_test={"statistic": "max_j |importance_j|", "p_value": 0.01, "n_permutations": 99},
    )
    (ax,) = plot_importance(res).axes
    assert not [t for t in ax.texts if t.get_gid() == "significance"]
    assert ax.get_title() == "Olden\nglobal test: p = 0.01"


def test_importance_rejects_something_that_is_not_a_table():
    with pytest.raises(TypeError, match="ranked DataFrame"):
        plot_importance(np.ones(3))


def _step_histogram(ax):
    """Bar heights and bin edges of the one ``histtype="stepfilled"`` histogram on ``ax``.

    Its outline runs (e0, 0), (e0, c0), (e1, c0), (e1, c1), ..., (eB, c_{B-1}), (eB, 0), then
    back along the bottom: 4 B + 1 vertices."""
    (patch,) = ax.patches
    xy = patch.get_xy()
    n_bins = (len(xy) - 1) // 4
    assert len(xy) == 4 * n_bins + 1
    top = xy[1 : 2 * n_bins + 1]  # (e_i, c_i), (e_{i+1}, c_i) for every bin i
    heights = top[::2, 1]
    np.testing.assert_array_equal(top[1::2, 1], heights)  # flat tops
    return heights, np.r_[top[::2, 0], top[-1, 0]]


def test_null_histogram_marks_observed_value(tmp_path):
    null = np.random.default_rng(0).normal(size=999)
    fig = plot_null_distribution(
        null, 2.5, variable="x1", two_sided=True, p_value=0.012, p_adjusted=0.036
    )
    (ax,) = fig.axes
    # the drawn steps are the histogram of the null values, 30 bins over their range
    heights, edges = _step_histogram(ax)
    counts, bins = np.histogram(null, bins=30)
    np.testing.assert_array_equal(heights, counts)
    np.testing.assert_allclose(edges, bins, rtol=1e-12)
    xs = sorted(line.get_xdata()[0] for line in ax.lines)
    assert xs == [-2.5, 2.5]
    assert ax.get_title() == "x1\np = 0.012 (adjusted 0.036)"
    assert [t.get_text() for t in ax.texts if t.get_gid() == "observed"] == ["observed"]
    assert ax.patches[0].get_edgecolor() == ax.patches[0].get_facecolor()  # no white edges
    _png(fig, tmp_path)


def test_null_histogram_leaves_out_undefined_null_values_and_says_so():
    null = np.r_[np.random.default_rng(0).normal(size=97), np.nan, np.nan]
    (ax,) = plot_null_distribution(null, 1.0, statistic="Garson importance").axes
    heights, edges = _step_histogram(ax)
    counts, bins = np.histogram(null[:97], bins=30)  # the 97 finite values only
    np.testing.assert_array_equal(heights, counts)
    np.testing.assert_allclose(edges, bins, rtol=1e-12)
    assert [t.get_text() for t in ax.texts if t.get_gid() == "undefined"] == [
        "2 undefined\nnull value(s) left out"
    ]
    assert ax.get_xlabel() == "Garson importance (null networks)"


@pytest.mark.parametrize(
    ("null", "observed", "match"),
    [
        (np.ones((3, 2)), 1.0, "1-D"),
        (np.array([]), 1.0, "non-empty"),
        (np.array([np.nan, np.nan]), 1.0, "no finite value"),
        (np.ones(5), np.inf, "finite"),
    ],
)
def test_null_histogram_rejects_bad_input(null, observed, match):
    with pytest.raises(ValueError, match=match):
        plot_null_distribution(null, observed)


def _profiles(outputs=("y",)):
    rows = []
    for out in outputs:
        for var in ["a", "b", "c"]:
            for g in ["min", "median", "max"]:
                for x in np.linspace(0, 1, 5):
                    rows.append((var, g, x, out, x * (1 + len(g))))
    return pd.DataFrame(rows, columns=["variable", "group", "x", "output", "prediction"])


def test_lek_profiles_one_panel_per_variable_one_line_per_group(tmp_path):
    fig = plot_lek_profiles(_profiles())
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in panels] == ["a", "b", "c"]
    assert all(len(ax.lines) == 3 for ax in panels)
    np.testing.assert_allclose(panels[0].lines[0].get_ydata(), np.linspace(0, 1, 5) * 4)
    _png(fig, tmp_path)


def test_lek_profiles_need_the_columns_and_an_output_choice():
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['prediction'\]"):
        plot_lek_profiles(_profiles().drop(columns="prediction"))
    with pytest.raises(ValueError, match="several outputs"):
        plot_lek_profiles(_profiles(("y1", "y2")))
    fig = plot_lek_profiles(_profiles(("y1", "y2")), output="y2")
    assert fig.axes[0].get_ylabel() == "prediction: y2"


def test_derivative_plot_scatters_each_variable(tmp_path):
    rng = np.random.default_rng(1)
    X = pd.DataFrame(rng.normal(size=(50, 3)), columns=["t", "u", "v"])
    D = 2 * X.to_numpy()
    fig = plot_derivatives(X, D, output_name="growth")
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_xlabel() for ax in panels] == ["t", "u", "v"]
    offsets = panels[1].collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 0], X["u"])
    np.testing.assert_allclose(offsets[:, 1], D[:, 1])
    assert panels[0].get_ylabel() == "d growth / d x"
    _png(fig, tmp_path)
    with pytest.raises(ValueError, match="both be"):
        plot_derivatives(X, D[:, :2])


def test_network_diagram_draws_every_weight_with_sign_colour_and_width(tmp_path):
    W1 = np.array([[1.0, -2.0], [0.5, 0.0], [-4.0, 1.0]])
    W2 = np.array([[3.0], [-1.0]])
    batch = MLPBatch.from_arrays(
        [W1, W2],
        [np.array([0.1, -0.2]), np.array([0.3])],
        activation="logistic",
        feature_names=["a", "b", "c"],
        output_names=["y"],
    )
    fig = plot_network(batch)
    (ax,) = fig.axes
    weights = [
        c for c in ax.collections if isinstance(c, LineCollection) and c.get_gid() == "weights"
    ]
    biases = [
        c for c in ax.collections if isinstance(c, LineCollection) and c.get_gid() == "biases"
    ]
    assert [len(c.get_segments()) for c in weights] == [6, 2]
    assert [len(c.get_segments()) for c in biases] == [2, 1]
    widths = weights[0].get_linewidths()
    np.testing.assert_allclose(widths, [5 * 1 / 4, 5 * 2 / 4, 5 * 0.5 / 4, 0.15, 5.0, 5 * 1 / 4])
    colours = [tuple(c) for c in weights[0].get_colors()]
    pos, neg = to_rgba(POSITIVE_COLOR), to_rgba(NEGATIVE_COLOR)
    assert colours == [pos, neg, pos, pos, neg, pos]
    labels = {t.get_text() for t in ax.texts}
    assert {"a", "b", "c", "y", "B1", "B2"} <= labels
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == ["positive weight", "negative weight", "bias"]
    _png(fig, tmp_path)
    with pytest.raises(IndexError, match="holds 1 networks"):
        plot_network(batch, network=3)


def test_network_width_scale_ignores_a_large_output_bias_and_names_can_be_given(tmp_path):
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 4.0, 1.0]]))
        net[2].weight.copy_(torch.tensor([[2.0, -1.0]]))
        net[2].bias.fill_(200.0)  # an unstandardized target's mean
    (ax,) = plot_network(net, feature_names=["p", "q", "r"], output_names=["yield"]).axes
    weights = [c for c in ax.collections if c.get_gid() == "weights"]
    np.testing.assert_allclose(weights[0].get_linewidths().max(), 5.0)  # |w| = 4 sets the scale
    biases = [c for c in ax.collections if c.get_gid() == "biases"]
    assert biases[1].get_linewidths().max() == 5.0  # the bias of 200 is capped
    labels = {t.get_text() for t in ax.texts}
    assert {"p", "q", "r", "yield"} <= labels and "x0" not in labels
    _png(ax.figure, tmp_path)
    with pytest.raises(ValueError, match="2 feature names for a network with 3 inputs"):
        plot_network(net, feature_names=["p", "q"])


def _model(kind):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["p", "q", "r"])
    score = X["p"] - 0.5 * X["q"]
    if kind == "torch":
        import torch

        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
        return net, X, score
    if kind == "regression":
        model = MLPRegressor(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=300, random_state=0)
        y = score
    else:
        model = MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", max_iter=300, random_state=0)
        y = (score > 0).astype(int) if kind == "binary" else np.digitize(score, [-0.5, 0.5])
    return model.fit(X, y), X, y


@pytest.mark.parametrize("kind", ["regression", "binary", "3-class", "torch"])
def test_every_figure_kind_renders_for_real_models(kind, tmp_path):
    from sensitivity import Dimopoulos, LekProfile, Olden

    model, X, _ = _model(kind)
    olden = Olden(model, prefit=True).fit(X)
    n_outputs = 3 if kind == "3-class" else 1
    fig = plot_importance(olden.results_)
    assert len([a for a in fig.axes if a.patches]) == n_outputs
    _png(fig, tmp_path, "importance.png")
    net_fig = plot_network(model)
    labels = {t.get_text() for t in net_fig.axes[0].texts}
    assert {"p", "q", "r"} <= labels or kind == "torch"
    _png(net_fig, tmp_path, "network.png")
    dim = Dimopoulos(model, prefit=True).fit(X)
    jac = dim.partial_derivatives(X).jacobian
    _png(plot_derivatives(X, jac[:, -1, :]), tmp_path, "derivatives.png")
    if kind != "torch":  # Lek's profiles need predict()
        lek = LekProfile(model, prefit=True).fit(X)
        first = lek.profiles_["output"].iloc[0]
        _png(plot_lek_profiles(lek.profiles_, output=first), tmp_path, "lek.png")
    null = np.random.default_rng(1).normal(size=99)
    observed = float(olden.importances_["importance"].iloc[0])
    _png(plot_null_distribution(null, observed), tmp_path, "null.png")


def test_untested_and_unreliable_variables_are_marked_not_left_blank():
    from sensitivity.plotting import plot_importance
    from sensitivity.result import importance_frame

    f = importance_frame(
        [[3.0, -2.0, 1.0, 0.5]],
        ["a", "b", "c", "d"],
        ["y"],
        signed=True,
        p_value=[[0.001, np.nan, 0.001, 0.5]],
        p_adjusted=[[0.004, np.nan, 0.004, 1.0]],
    )
    f["note"] = ["", "not tested: determined", "p-value unreliable", ""]
    f["reliable"] = [True, False, False, True]
    fig = plot_importance(f)
    texts = {t.get_text() for t in fig.axes[0].texts if t.get_gid() == "significance"}
    assert texts == {"**", "n.t.", "?"}
    legend = " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert "n.t. not tested" in legend and "? p-value unreliable" in legend
    plt.close(fig)
