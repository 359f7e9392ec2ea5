"""The ranked result table of docs/architecture.rst (the public contract)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sensitivity.result import BASE_COLUMNS, SensitivityResult, importance_frame


def test_single_output_table_is_ranked_by_magnitude_with_all_columns():
    frame = importance_frame([[0.5, -2.0, 1.0]], ["a", "b", "c"], ["y"], signed=True)
    assert list(frame.index) == ["b", "c", "a"] and frame.index.name == "variable"
    assert set(BASE_COLUMNS) <= set(frame.columns)
    assert list(frame["rank"]) == [1, 2, 3]
    assert list(frame["direction"]) == ["-", "+", "+"]
    np.testing.assert_allclose(frame["relative_importance"].sum(), 1.0)
    np.testing.assert_allclose(frame.loc["b", "relative_importance"], 2.0 / 3.5)
    assert frame["p_value"].isna().all() and not frame["significant"].any()


def test_multi_output_table_has_two_level_index_ranked_within_output():
    frame = importance_frame(
        [[1, 2], [3, -1]],
        ["a", "b"],
        ["cat", "dog"],
        signed=False,
        p_value=[[0.01, 0.5], [0.02, 0.03]],
        p_adjusted=[[0.02, 0.5], [0.04, 0.06]],
        alpha=0.05,
    )
    assert frame.index.names == ["output", "variable"]
    assert list(frame.loc["cat"].index) == ["b", "a"]
    assert list(frame.loc["dog"].index) == ["a", "b"]
    assert frame.loc[("cat", "a"), "significant"] and not frame.loc[("dog", "b"), "significant"]
    assert "direction" not in frame.columns


def test_ties_share_the_smallest_rank():
    frame = importance_frame([[1.0, -1.0, 0.5]], ["a", "b", "c"], ["y"], signed=True)
    assert list(frame["rank"]) == [1, 1, 3]


def test_bad_shapes_and_non_finite_values_are_rejected():
    with pytest.raises(ValueError, match="shape"):
        importance_frame([[1.0, 2.0]], ["a", "b", "c"], ["y"], signed=True)
    with pytest.raises(ValueError, match="finite"):
        importance_frame([[1.0, np.inf]], ["a", "b"], ["y"], signed=True)
    with pytest.raises(ValueError, match="finite"):
        importance_frame([[np.nan, np.nan]], ["a", "b"], ["y"], signed=True)


def test_a_variable_a_test_could_not_measure_ranks_last():
    frame = importance_frame([[np.nan, -2.0, 1.0]], ["a", "b", "c"], ["y"], signed=True)
    assert list(frame.index) == ["b", "c", "a"]
    assert list(frame["rank"]) == [1, 2, 3]
    assert np.isnan(frame.loc["a", "relative_importance"])
    assert frame.loc["b", "relative_importance"] == pytest.approx(2 / 3)


def test_all_zero_importance_warns():
    with pytest.warns(RuntimeWarning, match="undefined"):
        frame = importance_frame([[0.0, 0.0]], ["a", "b"], ["y"], signed=True)
    assert frame["relative_importance"].isna().all()


def test_result_module_does_not_import_plotting():
    # one-way layering: plotting imports result; result reaches plotting only inside plot()
    import ast

    import sensitivity.result as result_module

    package = Path(result_module.__file__).parent
    top_level = set()
    for file in sorted(package.glob("*.py")):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        for node in tree.body:  # module level only
            if isinstance(node, ast.Import):
                top_level |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                top_level.add(("." * node.level) + (node.module or ""))
    assert not {m for m in top_level if "plotting" in m or m.startswith("matplotlib")}
    assert "..plotting" not in top_level and "numpy" in top_level


def test_result_checks_the_test_description_arguments():
    frame = importance_frame([[1.0, 2.0]], ["a", "b"], ["y"], signed=False)
    with pytest.raises(TypeError, match="null must be a string or None"):
        SensitivityResult(frame, "Garson", null=1)
    with pytest.raises(ValueError, match="global_test needs at least the key 'p_value'"):
        SensitivityResult(frame, "Garson", null="response", global_test={"statistic": "max"})
    res = SensitivityResult(frame, "Garson", null="conditional")
    assert res.null_hypothesis.startswith("H0_j: y independent of x_j given the other inputs")
    assert SensitivityResult(frame, "Garson", hypothesis="H0: custom").null_hypothesis == (
        "H0: custom"
    )
