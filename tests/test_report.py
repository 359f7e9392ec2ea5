"""The results object: summary text, Markdown, LaTeX and CSV exports."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

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
        "Holm",
        "95% bootstrap percentile interval, 500 resamples",
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


def test_markdown_table_has_human_headers_one_row_per_variable_and_escapes_pipes():
    frame = importance_frame([[0.2, -0.8]], ["a|b", "c"], ["y"], signed=True)
    md = SensitivityResult(frame, "Olden", signed=True).to_markdown().splitlines()
    assert md[0] == "| Variable | Importance | Share (%) |"
    assert md[1] == "|---|---:|---:|"
    assert md[2] == "| c | -0.800 | 80.0 |"
    assert md[3] == "| a\\|b | 0.200 | 20.0 |"
    assert len(md) == 4  # no test: no legend


def test_markdown_legend_uses_the_inclusive_thresholds_of_the_stars():
    # adjusted p = 0.050 gets '*': the legend must say <= 0.05, not < 0.05
    res = _tested(p_adjust="holm")
    res.importances.loc["c", "p_adjusted"] = 0.05
    md = res.to_markdown()
    row = next(line for line in md.splitlines() if line.startswith("| c |"))
    assert "| 0.050 | * |" in row
    legend = md.splitlines()[-1]
    assert "<= 0.05" in legend and "< 0.05" not in legend.replace("<= 0.05", "")
    assert "| p | p (Holm) |" in md and "95% CI" in md


def test_markdown_of_several_outputs_has_one_table_per_output():
    frame = importance_frame([[1, 2], [3, -1]], ["a", "b"], ["cat", "dog"], signed=True)
    md = SensitivityResult(frame, "Olden", signed=True).to_markdown().splitlines()
    assert md[0] == "**Output: cat**" and "**Output: dog**" in md
    assert md.count("| Variable | Importance | Share (%) |") == 2


def test_latex_table_is_booktabs_with_escaped_names_and_the_tests_settings_in_the_caption():
    tex = _tested().to_latex(caption="Olden & Jackson", label="tab:olden")
    assert tex.startswith(r"\begin{table}") and tex.rstrip().endswith(r"\end{table}")
    assert r"\toprule" in tex and r"\bottomrule" in tex
    assert r"a\_1" in tex and r"Olden \& Jackson" in tex and r"\label{tab:olden}" in tex
    body = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert len(body) == 2 + 4  # two header lines and four variables
    assert body[2].startswith("b & $-$2.00 & 55.6 & $<$0.001 & $<$0.001 & *** & [$-$2.50, $-$1.50]")
    caption = next(line for line in tex.splitlines() if line.startswith(r"\caption"))
    for expected in ["999 permutations", "Holm", "95\\% bootstrap percentile", "500 resamples"]:
        assert expected in caption, expected
    assert r"$\le 0.05$" in tex and "<" not in tex.replace("$<$", "")
    assert "p_value" not in tex and "ci_low" not in tex and "sig" not in tex.split("caption")[0]


def test_latex_numbers_share_one_format_per_column_with_a_power_of_ten_in_the_header():
    frame = importance_frame(
        [[2.147e5, 3.1e4, 512.0]], ["a", "b", "c"], ["y"], signed=False, direction=[[1, -1, 1]]
    )
    tex = SensitivityResult(frame, "Dimopoulos").to_latex(booktabs=False)
    assert "e+05" not in tex and "e+04" not in tex and r"\toprule" not in tex
    assert r"($\times 10^{5}$)" in tex
    rows = [line for line in tex.splitlines() if line[:2] in ("a ", "b ", "c ")]
    assert rows == [
        r"a & 2.15 & 87.2 & + \\",  # a magnitude with a direction (e.g. ssd)
        r"b & 0.31 & 12.6 & $-$ \\",
        r"c & 0.01 & 0.2 & + \\",
    ]
    assert "Dimopoulos' partial derivatives (PaD)" in tex  # the human name in the caption


def test_latex_multi_output_table_names_each_output_once():
    frame = importance_frame([[1, 2], [3, -1]], ["a", "b"], ["cat", "dog"], signed=True)
    tex = SensitivityResult(frame, "LekProfile", signed=True).to_latex()
    assert tex.count("cat") == 1 and tex.count("dog") == 1
    assert r"\multicolumn{3}{l}{\textit{Output: cat}} \\" in tex
    assert "Lek's profile" in tex and "LekProfile" not in tex


def _ten_variable_result():
    rng = np.random.default_rng(0)
    names = [f"variable_{i}" for i in range(10)]
    imp = rng.normal(size=(3, 10)) * 3e-3
    frame = importance_frame(
        imp,
        names,
        ["setosa", "versicolor", "virginica"],
        signed=True,
        p_value=rng.uniform(size=(3, 10)),
        p_adjusted=rng.uniform(size=(3, 10)),
        ci_low=imp - 1e-3,
        ci_high=imp + 1e-3,
        extra={"conditional_r2": rng.uniform(size=(3, 10))},
    )
    return SensitivityResult(
        frame,
        "LekProfile",
        signed=True,
        n_samples=150,
        n_permutations=999,
        n_bootstrap=500,
        p_adjust="fdr_bh",
        null="conditional",
    )


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_latex_compiles_and_fits_the_text_width_of_a_standard_article(tmp_path):
    tex = _ten_variable_result().to_latex(label="tab:lek")
    measured = tex.replace(r"\begin{tabular}", r"\sbox0{\begin{tabular}").replace(
        r"\end{tabular}",
        r"\end{tabular}}\typeout{TABLEWIDTH=\the\wd0}\typeout{TEXTWIDTH=\the\textwidth}\usebox0",
    )
    doc = (
        r"\documentclass{article}"
        "\n"
        r"\IfFileExists{booktabs.sty}{\usepackage{booktabs}}{\newcommand\toprule{\hline}"
        r"\newcommand\midrule{\hline}\newcommand\bottomrule{\hline}}"
        "\n"
        r"\begin{document}"
        "\n" + measured + "\n"
        r"\end{document}"
        "\n"
    )
    (tmp_path / "t.tex").write_text(doc, encoding="utf-8")
    proc = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (tmp_path / "t.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-2000:]
    width = float(re.search(r"TABLEWIDTH=([\d.]+)pt", log).group(1))
    textwidth = float(re.search(r"TEXTWIDTH=([\d.]+)pt", log).group(1))
    assert 150 < width <= textwidth, (width, textwidth)
    assert "Overfull" not in log


def test_response_null_is_one_global_test_without_per_variable_p_values_or_stars():
    frame = importance_frame(
        [[0.5, -2.0, 1.0]], ["a", "b", "c"], ["y"], signed=True, method="Olden"
    )  # the estimator leaves per-variable p-values NaN for the response null
    res = SensitivityResult(
        frame,
        "Olden",
        signed=True,
        n_permutations=999,
        p_adjust="holm",
        null="response",
        global_test={"statistic": "max_j |importance_j|", "p_value": 0.002, "n_permutations": 999},
    )
    text = res.summary()
    assert "Global p-value:  0.002" in text
    assert "response permutation (global), 999 permutations; statistic max_j |importance_j|" in text
    assert "H0: y independent of all the inputs together" in text
    assert "p_value" not in text and "Signif." not in text and "*" not in text
    assert "tests only whether any input matters" in text
    md = res.to_markdown()
    assert "p = 0.002" in md and "| p |" not in md and "tests only whether any input" in md
    tex = res.to_latex()
    assert r"$p$ = 0.002" in tex and r"$\max_j |\mathrm{importance}_j|$" in tex
    assert "Significance codes" not in tex and "Holm" not in tex


def test_hypothesis_network_and_conditional_r2_are_shown():
    hyp = "H0_j: y independent of x_j given the other inputs (conditional randomization)"
    frame = importance_frame(
        [[0.5, -2.0]],
        ["a", "b"],
        ["y"],
        signed=True,
        p_value=[[0.3, 0.001]],
        p_adjusted=[[0.3, 0.002]],
        extra={"conditional_r2": [[0.25, 0.8]]},
    )
    network = {
        "description": "StandardScaler -> MLP 2-10-1 (relu)",
        "trainer": "batched L-BFGS, 100 iterations",
        "penalty": "alpha = 0.3 (5-fold CV over 1e-3..1e2)",
        "metric": "R^2",
        "fit": {"analysed": {"train": 0.612, "cv": 0.55}, "user": {"train": 0.63, "cv": None}},
    }
    res = SensitivityResult(
        frame,
        "Olden",
        signed=True,
        n_permutations=99,
        p_adjust="holm",
        null="conditional",
        hypothesis=hyp,
        network=network,
    )
    text = res.summary()
    assert f"Null hypothesis:  {hyp}" in text
    assert "Test:             conditional randomization, 99 permutations" in text
    assert "Trainer:          batched L-BFGS, 100 iterations" in text
    assert "Penalty:          alpha = 0.3 (5-fold CV over 1e-3..1e2)" in text
    assert (
        "Fit (R^2):        analysed network train 0.612, CV 0.550; user's network train 0.630"
        in text
    )
    assert "R²(x_j|others)" in text and "0.80" in text
    assert "| R² (x_j \\| others) |" in res.to_markdown()
    assert r"$R^2$" in res.to_latex()
    assert "$H_{0,j}$" in res.to_latex()


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
    assert res.to_markdown().splitlines()[0] == "**Output: cat**"


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


def test_without_adjustment_the_legends_and_caption_say_so():
    res = _tested(p_adjust=None)
    assert "Signif. codes (p): '***' <= 0.001" in res.summary()
    tex = res.to_latex()
    assert "not adjusted for multiple testing" in tex and "Significance codes ($p$)" in tex
    assert "(adj.)" not in tex


def test_notes_reach_every_report_format():
    """A note (the two-stage test's stopped variables) is in the summary, the Markdown table
    and the LaTeX caption, not in the summary alone."""
    note = "Two-stage test: a_1, d had p > 0.2 after 99 draws and stopped there"
    res = _tested(notes=[note])
    assert note in res.summary()
    assert note + "." in res.to_markdown().splitlines()
    latex = res.to_latex()
    assert r"Two-stage test: a\_1, d had p \textgreater{} 0.2 after 99 draws and stopped" in latex
    assert "Two-stage" not in _tested().to_latex()


def _holdout_result(test="hrt"):
    from sklearn.linear_model import LinearRegression

    from sensitivity import HoldoutConditionalTest

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X[:, 0] + 0.3 * rng.normal(size=120)
    t = HoldoutConditionalTest(LinearRegression(), n_draws=199, test=test, random_state=0)
    return t.fit(X, y).results_


def test_the_held_out_test_is_named_with_its_draws_and_t_interval_in_every_report(tmp_path):
    """The held-out conditional test ran 199 conditional draws and gives t-intervals: no
    report may say "0 permutations" or call its intervals bootstrap intervals."""
    res = _holdout_result()
    assert res.test_description == (
        "holdout randomization test, 199 conditional draws, upper-tailed"
    )
    assert res.interval_label == "95% t-interval of the mean loss increase"
    text = res.summary()
    assert "Test:               holdout randomization test, 199 conditional draws" in text
    assert "Intervals:          95% t-interval of the mean loss increase" in text
    caption = next(line for line in res.to_latex().splitlines() if line.startswith(r"\caption"))
    md = res.to_markdown()
    for report in (text, caption, md):
        assert "0 permutations" not in report and "bootstrap" not in report
        assert "resamples" not in report and "199 conditional draws" in report
    assert r"Intervals: 95\% t-interval of the mean loss increase" in caption
    assert "Intervals: 95% t-interval of the mean loss increase" in md
    # the figure's legend reads the same attribute, from the result and from the bare table
    import matplotlib.pyplot as plt

    from sensitivity.plotting import plot_importance

    for data in (res, res.importances):
        fig = plot_importance(data)
        legend = [t.get_text().replace("\n", " ") for t in fig.axes[0].get_legend().get_texts()]
        assert legend[0] == "95% t-interval of the mean loss increase", legend
        fig.savefig(tmp_path / "holdout.png")
        plt.close(fig)
    cpi = _holdout_result("cpi")
    assert "one-sided t-test of the mean loss increase (199 draws per row)" in cpi.summary()
    assert "0 permutations" not in cpi.to_latex()


def test_too_few_permutations_for_any_star_is_said_in_every_report():
    """199 permutations, 13 variables, Holm: the smallest adjusted p is 13/200 > 0.05, so no
    variable can be significant; the table must not read as "nothing matters"."""
    names = [f"x{i}" for i in range(13)]
    p = np.full((1, 13), 0.005)
    frame = importance_frame(
        np.arange(1, 14)[None] / 10, names, ["y"], signed=False, p_value=p, p_adjusted=13 * p
    )
    res = SensitivityResult(frame, "Garson", n_permutations=199, p_adjust="holm")
    warning = res.resolution_warning
    assert warning is not None and "0.065 > alpha=0.05" in warning
    assert "no variable can be significant" in warning and "259 permutations" in warning
    assert f"Warning: {warning}" in res.summary()
    assert f"**Warning**: {warning}" in res.to_markdown()
    assert "no variable can be significant" in res.to_latex()
    assert "Use at least 259 permutations" in res.to_latex()
    # enough permutations (or no adjustment): no warning
    ok = SensitivityResult(frame, "Garson", n_permutations=299, p_adjust="holm")
    assert ok.resolution_warning is None and "Warning" not in ok.summary() + ok.to_latex()
    assert SensitivityResult(frame, "Garson", n_permutations=199).resolution_warning is None


def test_latex_says_it_needs_booktabs():
    """A booktabs table does not compile without the package: the table says so in a comment,
    and the docstring and the reporting page say so."""
    tex = _tested().to_latex()
    assert tex.splitlines()[1] == (
        r"% needs \usepackage{booktabs} in the preamble (or to_latex(booktabs=False): \hline rules)"
    )
    assert "booktabs" not in _tested().to_latex(booktabs=False)
    assert "Needs the LaTeX package booktabs" in SensitivityResult.to_latex.__doc__.split("\n\n")[1]
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "reporting.rst").read_text()
    assert r"put ``\usepackage{booktabs}``" in page
