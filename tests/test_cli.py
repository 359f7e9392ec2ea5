"""The ``sensitivity`` command: demo, analyze, method registry and one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sensitivity
from sensitivity import Olden
from sensitivity.cli import CLIError, main, resolve_methods

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    data = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.uniform(size=n)}
    )
    data["y"] = 2 * data["a"] - data["b"] + rng.normal(0, 0.3, n)
    path = tmp_path / "data.csv"
    data.to_csv(path, index=False)
    return path


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("sensitivity: error: ")
    return err[0]


def test_analyze_writes_tables_plots_and_report(csv, tmp_path, capsys):
    out = tmp_path / "results"
    rc = main(
        [
            "analyze",
            str(csv),
            "--target",
            "y",
            "--method",
            "olden,garson",
            "--hidden",
            "4",
            "--permutations",
            "0",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    for name in ["olden", "garson"]:
        table = pd.read_csv(out / f"{name}.csv", index_col="variable")
        assert sorted(table.index) == ["a", "b", "c"]
        assert list(table["rank"].sort_values()) == [1, 2, 3]
        assert (out / f"{name}.png").read_bytes()[:4] == b"\x89PNG"
    olden_table = pd.read_csv(out / "olden.csv", index_col="variable")
    assert olden_table.index[0] == "a" and olden_table.loc["b", "direction"] == "-"
    assert (out / "network.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    assert "# Sensitivity analysis of `data.csv`" in report
    assert "## Olden (`olden`)" in report and "## Garson (`garson`)" in report
    assert "![olden](olden.png)" in report
    assert report.count("| a |") == 2  # one row per method table
    assert "Wrote 6 files" in capsys.readouterr().out


def test_missing_target_column_exits_non_zero_with_one_clear_line(csv, tmp_path, capsys):
    rc = main(["analyze", str(csv), "--target", "yield", "--out", str(tmp_path / "o")])
    assert rc != 0
    line = _one_error_line(capsys)
    assert "target column 'yield' not found" in line and "a, b, c, y" in line
    assert not (tmp_path / "o").exists()


def test_missing_file_and_non_numeric_column_are_one_line_errors(csv, tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "nope.csv"), "--target", "y"]) == 2
    assert "file not found" in _one_error_line(capsys)
    data = pd.read_csv(csv)
    data["site"] = ["north", "south"] * (len(data) // 2)
    bad = tmp_path / "bad.csv"
    data.to_csv(bad, index=False)
    assert main(["analyze", str(bad), "--target", "y"]) == 2
    assert "non-numeric column(s) in" in (line := _one_error_line(capsys)) and "site" in line


def test_unknown_method_lists_the_available_ones(csv, capsys):
    assert main(["analyze", str(csv), "--target", "y", "--method", "olden,lasso"]) == 2
    line = _one_error_line(capsys)
    assert "'lasso' is unknown" in line and "olden" in line and "garson" in line


def test_methods_are_found_by_class_name_on_the_package(monkeypatch):
    assert resolve_methods("Olden, miv") == [("olden", Olden), ("miv", sensitivity.MIV)]
    monkeypatch.delattr(sensitivity, "MIV")
    with pytest.raises(CLIError, match="'miv' is not available in this version"):
        resolve_methods("miv")
    with pytest.raises(CLIError, match="available"):
        resolve_methods("nonsense")


def test_permutations_are_passed_to_the_estimators(csv, tmp_path, monkeypatch):
    seen = []

    class Recorder(Olden):
        def fit(self, X, y=None, **kw):
            seen.append((self.n_permutations, self.random_state))
            self.n_permutations = 0  # the randomization test lives on another branch
            return super().fit(X, y, **kw)

    monkeypatch.setattr(sensitivity, "MIV", Recorder, raising=False)
    args = ["analyze", str(csv), "--target", "y", "--method", "miv", "--hidden", "3"]
    rc = main([*args, "--permutations", "7", "--seed", "3", "--out", str(tmp_path), "--quiet"])
    assert rc == 0 and seen == [(7, 3)]


def test_demo_prints_the_ranked_tables(capsys):
    assert main(["demo", "--hidden", "3", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Diabetes data: 442 patients, 10 variables" in out
    assert "Olden sensitivity analysis" in out and "Garson sensitivity analysis" in out
    assert out.count("bmi") >= 2


def test_python_dash_m_runs_the_command_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sensitivity", "analyze", str(tmp_path / "x.csv"), "--target", "y"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"sensitivity: error: file not found: {tmp_path}/x.csv"
    ]


def test_analyze_with_a_test_writes_null_distribution_figures(csv, tmp_path):
    out = tmp_path / "tested"
    args = ["analyze", str(csv), "--target", "y", "--method", "dimopoulos,miv"]
    args += ["--hidden", "4", "--permutations", "19", "--out", str(out), "--quiet"]
    assert main(args) == 0
    for name in ("dimopoulos", "miv"):
        table = pd.read_csv(out / f"{name}.csv", index_col="variable")
        assert table["p_value"].between(1 / 20, 1).all()
        assert (out / f"{name}_null.png").read_bytes()[:4] == b"\x89PNG"
