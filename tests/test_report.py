"""The results object: summary text, Markdown, LaTeX and CSV exports."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.neural_network import MLPRegressor

from sensitivity import Garson, Olden
from sensitivity.result import SensitivityResult, importance_frame, significance_stars


def _tested(**kw):
    frame = importance_frame(
        [[0.5, -2.0, 1.0, -0.1]],
        ["a_1", "b", "c", "d"],
        ["y"],
        signed=True,
        p_value=[[0.3, 0.0005, 0.02, 0.9]],
        p_adjusted=[[0.6, 0.0008, 0.04, 0.9]],
        ci_low=[[0.1, -2.5, 0.6, -0.5]],
        ci_high=[[0.9, -1.5, 1.4, 0.3]],
        method="Olden",
    )
    args = dict(
        model="MLP 4-3-1",
        n_samples=200,
        signed=True,
        n_permutations=999,
        n_bootstrap=500,
        p_adjust="holm",
    )
    args.update(kw)
    return SensitivityResult(frame, "Olden", **args)


def test_significance_stars_follow_the_usual_thresholds():
    # R's right-closed intervals: 0.001 is '***', 0.01 (the smallest Holm-adjusted p of 10
    # variables with 999 permutations) is '**', 0.05 is '*' like significant = p <= alpha
    stars = significance_stars([0.0001, 0.001, 0.005, 0.01, 0.03, 0.05, 0.07, 0.2, np.nan])
    assert list(stars) == ["***", "***", "**", "**", "*", "*", ".", "", ""]


def test_summary_has_header_ranked_rows_and_stars():
    text = _tested().summary()
    lines = text.splitlines()
    assert "Olden sensitivity analysis" in lines[0]
    for expected in [
        "Method:",
        "Olden (signed)",
        "MLP 4-3-1",
        "No. observations: 200",
        "randomization, 999 permutations, two-sided on |importance|",
        "Adjustment:",
        "holm",
        "95% bootstrap percentile, 500 draws",
        "Signif. codes",
    ]:
        assert expected in text, expected
    rows = [line.split() for line in lines if line.split()[:1] in (["a_1"], ["b"], ["c"], ["d"])]
    assert [r[0] for r in rows] == ["b", "c", "a_1", "d"]  # ranked
    assert "***" in rows[0] and "<0.001" in rows[0]  # b: adjusted p 0.0008
    assert "*" in rows[1] and "0.040" in rows[1]  # c: adjusted p 0.04
    assert not {"*", "**", "***", "."} & set(rows[2] + rows[3])


def test_summary_without_test_says_so_and_omits_p_columns():
    frame = importance_frame([[0.2, 0.8]], ["a", "b"], ["y"], signed=False)
    text = SensitivityResult(frame, "Garson").summary()
    assert "none (n_permutations=0)" in text
    assert "p_value" not in text and "Signif." not in text and "ci_low" not in text


def test_markdown_table_has_one_row_per_variable_and_escapes_pipes():
    frame = importance_frame([[0.2, -0.8]], ["a|b", "c"], ["y"], signed=True)
    md = SensitivityResult(frame, "Olden").to_markdown().splitlines()
    assert md[0] == "| variable | importance | relative | rank | direction |"
    assert md[1] == "|---|---:|---:|---:|---|"
    assert md[2] == "| c | -0.8 | 0.8 | 1 | - |"
    assert md[3] == "| a\\|b | 0.2 | 0.2 | 2 | + |"
    assert len(md) == 4


def test_latex_table_is_booktabs_with_escaped_names():
    tex = _tested().to_latex(caption="Olden & Jackson", label="tab:olden")
    assert tex.startswith(r"\begin{table}") and tex.rstrip().endswith(r"\end{table}")
    assert r"\toprule" in tex and r"\bottomrule" in tex
    assert r"a\_1" in tex and r"Olden \& Jackson" in tex and r"\label{tab:olden}" in tex
    body = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert len(body) == 1 + 4  # header and four variables
    assert body[1].startswith("b & ")


def test_csv_round_trips_the_full_table(tmp_path):
    res = _tested()
    back = pd.read_csv(io.StringIO(res.to_csv()), index_col=0)
    np.testing.assert_allclose(back["importance"], res.importances["importance"])
    path = tmp_path / "olden.csv"
    res.to_csv(path)
    assert pd.read_csv(path, index_col=0).shape == res.importances.shape


def test_multi_output_summary_has_one_block_per_output():
    frame = importance_frame([[1, 2], [3, -1]], ["a", "b"], ["cat", "dog"], signed=True)
    res = SensitivityResult(frame, "Olden", signed=True)
    text = res.summary()
    assert "Output: cat" in text and "Output: dog" in text and "Outputs:" in text
    assert res.to_markdown().splitlines()[0].startswith("| output | variable |")


def test_estimator_results_describe_the_fit():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(60, 3)), columns=["p", "q", "r"])
    y = X["p"] * 2 + rng.normal(size=60)
    net = MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=200, random_state=0)
    sa = Garson(net, variant="gevrey").fit(X, y)
    res = sa.results_
    assert res.method == "Garson" and res.settings == {"variant": "gevrey"}
    assert "MLPRegressor(hidden_layer_sizes=(3,)" in res.model
    assert res.importances is sa.importances_
    assert "variant:" in sa.summary() and "gevrey" in sa.summary()
    with pytest.raises(AttributeError):
        Olden(net).results_  # not fitted


def test_results_rejects_something_else():
    with pytest.raises(TypeError, match="ranked DataFrame"):
        SensitivityResult(pd.DataFrame({"x": [1]}), "Olden")
