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
    assert "--index-col" not in line  # two labels repeated: a category, not row names
    data["state"] = [f"s{i}" for i in range(len(data))]  # statsmodels' statecrime.csv
    data.drop(columns="site").to_csv(bad, index=False)
    assert main(["analyze", str(bad), "--target", "y"]) == 2
    assert _one_error_line(capsys).endswith(
        "state has a different value in every row, as row names do: pass --index-col state"
    )


def test_unknown_method_lists_the_available_ones(csv, capsys):
    assert main(["analyze", str(csv), "--target", "y", "--method", "olden,lasso"]) == 2
    line = _one_error_line(capsys)
    assert "'lasso' is unknown" in line and "olden" in line and "garson" in line


def test_methods_are_found_by_class_name_on_the_package(monkeypatch):
    assert resolve_methods("Olden, miv") == [("olden", Olden), ("miv", sensitivity.MIV)]
    monkeypatch.setattr(sensitivity, "MIV", None)  # as if this version had no MIV class
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


@pytest.mark.parametrize("tty", [False, True])
def test_per_network_bars_nest_only_on_a_terminal(csv, tmp_path, monkeypatch, capsys, tty):
    """In a log file the nested bar's cursor moves would print as escape codes."""
    seen = []

    class Recorder(Olden):
        def fit(self, X, y=None, **kw):
            seen.append(self.verbose)
            self.n_permutations = 0
            return super().fit(X, y, **kw)

    monkeypatch.setattr(sensitivity, "MIV", Recorder, raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: tty, raising=False)
    args = ["analyze", str(csv), "--target", "y", "--method", "miv", "--hidden", "3"]
    assert main([*args, "--permutations", "3", "--out", str(tmp_path)]) == 0
    assert seen == [int(tty)]
    if not tty:
        assert "\x1b[" not in capsys.readouterr().err


def test_demo_prints_the_ranked_tables_of_its_network(capsys):
    # the fast path (no test): the tables printed are those of the demo's own network
    from sklearn.base import clone

    from sensitivity.cli._common import _network

    assert main(["demo", "--hidden", "3", "--quiet", "--permutations", "0"]) == 0
    out = capsys.readouterr().out
    assert "Diabetes data: 442 patients, 10 variables" in out
    lines = [line.strip() for line in out.splitlines()]
    titles = [line for line in lines if line.endswith("sensitivity analysis")]
    assert titles == [f"{m} sensitivity analysis" for m in ("Olden", "Garson", "Dimopoulos", "MIV")]
    X, y = sensitivity.load_diabetes()
    fitted = clone(_network("regression", 3, 0)).fit(X, (y - y.mean()) / y.std())
    expected = sensitivity.olden(fitted)
    block = out.split("Olden sensitivity analysis")[1].split("Garson sensitivity analysis")[0]
    rows = [line.split() for line in block.splitlines()]
    rows = [r for r in rows if r and r[0] in X.columns]
    assert [r[0] for r in rows] == list(expected.index)
    assert [float(r[1]) for r in rows] == pytest.approx(list(expected["importance"]), rel=1e-3)


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


_LIGHT_START = """
import sys
from sensitivity.cli import main

for argv in (["--version"], ["analyze", "--bogus"], ["demo", "--hidden", "many"]):
    try:
        main(argv)
    except SystemExit as stop:
        print("exit", stop.code)
heavy = ("torch", "matplotlib", "sklearn", "pandas")
print("imported:", *sorted(m for m in heavy if m in sys.modules))
"""


def test_version_and_argument_errors_import_nothing_heavy():
    """``--version`` and an argument error are answered before torch, matplotlib, scikit-learn
    (or pandas) are imported: importing them took seconds of CPU on a busy machine."""
    proc = subprocess.run(
        [sys.executable, "-c", _LIGHT_START],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("sensitivity (nn-sensitivity) ")
    assert lines[1:] == ["exit 0", "exit 2", "exit 2", "imported:"], proc.stdout
    assert "the following arguments are required: data, --target" in proc.stderr
    assert "invalid int value: 'many'" in proc.stderr


def test_the_package_namespace_is_complete_though_imported_lazily():
    names = [n for n in sensitivity.__all__ if n != "__version__"]
    assert all(callable(getattr(sensitivity, n)) for n in names)
    assert set(sensitivity.__all__) <= set(dir(sensitivity))
    assert sensitivity.Olden is Olden and sensitivity.__version__ == "0.2.0"
    with pytest.raises(AttributeError, match="has no attribute 'Oldn'"):
        _ = sensitivity.Oldn


def _fixed_penalty(cls):
    """The estimator class with the test's penalty fixed (``train_alpha=1.0``): the command's
    cross-validated penalty is not what these tests check, and it dominates their time."""

    def fit(self, X, y):
        self.train_alpha = 1.0
        return cls.fit(self, X, y)

    return type(cls.__name__, (cls,), {"fit": fit, "__module__": cls.__module__})


def test_analyze_with_a_test_writes_null_distribution_figures(csv, tmp_path, capsys, monkeypatch):
    for name in ("Dimopoulos", "MIV"):
        monkeypatch.setattr(sensitivity, name, _fixed_penalty(getattr(sensitivity, name)))
    # each panel's "observed" line is the statistic its p-value was computed from
    import sensitivity.plotting as plotting

    panels = []
    real_plot = plotting.plot_null_distribution

    def spy(null, observed, **kw):
        p, tail = kw["p_value"], np.abs if kw["two_sided"] else np.asarray
        expected = (1 + np.sum(tail(np.asarray(null)) >= tail(observed))) / (1 + len(null))
        panels.append((p, expected))
        return real_plot(null, observed, **kw)

    monkeypatch.setattr(plotting, "plot_null_distribution", spy)
    out = tmp_path / "tested"
    args = ["analyze", str(csv), "--target", "y", "--method", "dimopoulos,miv"]
    args += ["--hidden", "4", "--permutations", "19", "--null", "variable"]
    assert main([*args, "--out", str(out), "--quiet"]) == 0
    assert panels and all(p == pytest.approx(e) for p, e in panels), panels
    for name in ("dimopoulos", "miv"):
        table = pd.read_csv(out / f"{name}.csv", index_col="variable")
        assert table["p_value"].between(1 / 20, 1).all()
        assert (out / f"{name}_null.png").read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    assert "19 draws per variable, null `variable`" in report and "- Adjustment: Holm" in report
    assert "Signif. codes (adjusted p): '\\*\\*\\*' <= 0.001" in report
    # 19 permutations, 3 inputs, Holm: no star is possible, and report.md says so in each
    # method's table (not on stderr only)
    warning = "**Warning**: With n_permutations=19 the smallest attainable p-value after holm"
    assert report.count(warning) == 2 and "no variable can be significant" in report
    # the 19-permutation warning of both methods: printed once, one line, no source location
    err = capsys.readouterr().err.splitlines()
    resolution = [line for line in err if "smallest attainable p-value" in line]
    assert len(resolution) == 1 and resolution[0].startswith("sensitivity: warning: With")
    assert not [line for line in err if ".py:" in line]


def _write(tmp_path, frame, name="d.csv", **kw):
    path = tmp_path / name
    frame.to_csv(path, **{"index": False, **kw})
    return path


def _run(path, *extra, out=None):
    out = out or path.parent / "out"
    args = ["analyze", str(path), "--hidden", "3", "--permutations", "0", "--quiet"]
    return main([*args, "--out", str(out), *extra])


def test_version_is_printed(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert (
        capsys.readouterr().out.strip() == f"sensitivity (nn-sensitivity) {sensitivity.__version__}"
    )


def test_semicolon_files_need_sep_and_say_so(csv, tmp_path, capsys):
    semi = _write(tmp_path, pd.read_csv(csv), "semi.csv", sep=";")
    assert _run(semi, "--target", "y") == 2
    assert _one_error_line(capsys) == (
        f"sensitivity: error: {semi} has one column 'a;b;c;y'...: it looks semicolon-separated; "
        "pass --sep ';'"
    )
    assert _run(semi, "--target", "y", "--sep", ";", "--method", "garson") == 0
    table = pd.read_csv(tmp_path / "out" / "garson.csv", index_col="variable")
    assert sorted(table.index) == ["a", "b", "c"]
    capsys.readouterr()
    comma = _write(tmp_path, pd.read_csv(csv), "comma.csv", sep=";", decimal=",")
    assert _run(comma, "--target", "y", "--sep", ";") == 2
    assert _one_error_line(capsys).endswith(
        "the values look like decimal commas (3,14): pass --decimal ','"
    )
    args = ("--target", "y", "--sep", ";", "--decimal", ",", "--method", "garson")
    assert _run(comma, *args) == 0


def test_r_style_row_names_are_taken_as_the_index(csv, tmp_path, capsys):
    data = pd.read_csv(csv)
    data.index = [f"row {i}" for i in range(len(data))]
    r_csv = _write(tmp_path, data, "r.csv", index=True, quoting=1)  # header starts with ""
    assert r_csv.read_text().startswith('"","a","b","c","y"')
    assert _run(r_csv, "--target", "y", "--method", "garson") == 0
    assert "the unnamed first column is taken as row names" in capsys.readouterr().err
    assert sorted(pd.read_csv(tmp_path / "out" / "garson.csv")["variable"]) == ["a", "b", "c"]
    numbered = _write(tmp_path, data.reset_index(drop=True), "n.csv", index=True, quoting=1)
    assert numbered.read_text().splitlines()[1].startswith('"0",')  # R writes "1", "2", ...
    assert _run(numbered, "--target", "y", "--method", "garson") == 0
    assert sorted(pd.read_csv(tmp_path / "out" / "garson.csv")["variable"]) == ["a", "b", "c"]
    capsys.readouterr()
    named = _write(tmp_path, data.rename_axis("site"), "named.csv", index=True)
    assert _run(named, "--target", "y", "--method", "garson") == 2
    assert "non-numeric column(s) in" in _one_error_line(capsys)
    assert _run(named, "--target", "y", "--method", "garson", "--index-col", "site") == 0
    capsys.readouterr()
    assert _run(named, "--target", "y", "--index-col", "town") == 2
    assert "--index-col 'town' is neither a column name nor a column number" in (
        _one_error_line(capsys)
    )


def test_duplicate_column_names_are_refused(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("a,b,a,y\n" + "\n".join(f"{i},{i % 3},{i % 5},{i % 7}" for i in range(30)))
    assert _run(path, "--target", "y") == 2
    assert _one_error_line(capsys) == (
        f"sensitivity: error: duplicate column name(s) in {path}: a; rename them so that each "
        "column has its own name"
    )


def test_too_few_rows_and_a_constant_target_are_refused_before_any_work(csv, tmp_path, capsys):
    data = pd.read_csv(csv)
    one = _write(tmp_path, data.head(1), "one.csv")
    assert _run(one, "--target", "y", out=tmp_path / "o1") == 2
    assert _one_error_line(capsys) == (
        f"sensitivity: error: {one} has 1 row(s); at least 10 are needed to fit a network"
    )
    three = _write(tmp_path, data.head(3), "three.csv")
    assert _run(three, "--target", "y", out=tmp_path / "o3") == 2
    assert "has 3 row(s); at least 10" in _one_error_line(capsys)
    flat = _write(tmp_path, data.assign(y=2.5), "flat.csv")
    assert _run(flat, "--target", "y", out=tmp_path / "o4") == 2
    assert _one_error_line(capsys) == (
        "sensitivity: error: target 'y' is constant (2.5 in every row): nothing to explain"
    )
    assert not any((tmp_path / o).exists() for o in ("o1", "o3", "o4"))


def test_a_header_without_rows_is_refused_as_empty(csv, tmp_path, capsys):
    empty = _write(tmp_path, pd.read_csv(csv).head(0), "empty.csv")
    assert empty.read_text().strip() == "a,b,c,y"
    assert _run(empty, "--target", "y") == 2
    assert _one_error_line(capsys) == (
        f"sensitivity: error: {empty} has a header row and no data rows: nothing to analyse (at "
        "least 10 rows are needed); check that the file is complete"
    )


def test_infinite_and_missing_values_name_the_column_and_the_rows(csv, tmp_path, capsys):
    data = pd.read_csv(csv)
    data.loc[[1, 5, 7, 20, 30, 40, 50], "y"] = [np.inf, -np.inf, np.inf, np.inf, 1, 1, np.inf]
    data.loc[3, "b"] = np.nan
    path = _write(tmp_path, data, "inf.csv")
    assert _run(path, "--target", "y") == 2
    assert _one_error_line(capsys) == (
        "sensitivity: error: target 'y' has infinite values in data row(s) 2, 6, 8, 21, 51 "
        "(counted from 1 below the header); 'b' has missing values in data row(s) 4 (counted "
        "from 1 below the header); remove those rows or fill in the values"
    )
    named = _write(tmp_path, data.head(12).assign(site=[f"s{i}" for i in range(12)]), "n.csv")
    assert _run(named, "--target", "y", "--index-col", "site") == 2
    assert _one_error_line(capsys).startswith(
        "sensitivity: error: target 'y' has infinite values in the row(s) named 's1', 's5', 's7';"
    )


def test_constant_columns_are_dropped_up_front_for_every_method(csv, tmp_path, capsys):
    path = _write(tmp_path, pd.read_csv(csv).assign(k=1.0), "k.csv")
    assert _run(path, "--target", "y", "--method", "olden,garson,dimopoulos,miv") == 0
    err = capsys.readouterr().err
    assert "sensitivity: note: constant column(s) dropped before the analysis: k" in err
    for name in ("olden", "garson", "dimopoulos", "miv"):
        table = pd.read_csv(tmp_path / "out" / f"{name}.csv", index_col="variable")
        assert sorted(table.index) == ["a", "b", "c"]
    assert "constant column(s) dropped" in (tmp_path / "out" / "report.md").read_text()


def test_out_pointing_at_a_file_is_a_one_line_error(csv, tmp_path, capsys):
    target = tmp_path / "existing.txt"
    target.write_text("keep me")
    assert main(["analyze", str(csv), "--target", "y", "--out", str(target)]) == 2
    assert _one_error_line(capsys) == (
        f"sensitivity: error: --out {target} exists and is not a folder; give a folder name"
    )
    assert target.read_text() == "keep me"


def test_the_task_is_inferred_with_a_notice_and_absurd_class_counts_are_refused(
    csv, tmp_path, capsys
):
    data = pd.read_csv(csv)
    money = _write(tmp_path, data.assign(y=[f"${v:.1f}k" for v in data["y"]]), "money.csv")
    assert _run(money, "--target", "y") == 2
    line = _one_error_line(capsys)
    assert line.startswith("sensitivity: error: target 'y' has 67 distinct values in 120 rows")
    assert "more than 20 classes is not analysed" in line and "convert it to numbers" in line
    assert _run(money, "--target", "y", "--task", "regression") == 2
    assert "target 'y' is not numeric (e.g. '$" in _one_error_line(capsys)
    binary = _write(tmp_path, data.assign(y=(data["y"] > 0).astype(int)), "binary.csv")
    assert _run(binary, "--target", "y", "--method", "garson") == 0
    err = capsys.readouterr().err
    assert "target 'y' has two values: classification with 2 classes (0, 1)" in err
    assert _run(csv, "--target", "y", "--method", "garson") == 0
    assert "target 'y' is numeric with 120 distinct values: regression" in capsys.readouterr().err


def test_dimopoulos_is_scale_free_on_the_command_line(tmp_path):
    # s has a tiny range but half the effect of a per standard deviation; raw derivatives
    # (per unit of s) would rank s first by a factor 100
    rng = np.random.default_rng(0)
    n = 300
    data = pd.DataFrame({"a": rng.normal(size=n), "s": rng.normal(0, 0.01, n)})
    data["y"] = data["a"] + 0.5 * data["s"] / 0.01 + rng.normal(0, 0.1, n)
    path = _write(tmp_path, data)
    assert _run(path, "--target", "y", "--method", "dimopoulos") == 0
    table = pd.read_csv(tmp_path / "out" / "dimopoulos.csv", index_col="variable")
    assert list(table.index) == ["a", "s"]
    assert 2 < table.loc["a", "importance"] / table.loc["s", "importance"] < 8  # about 4
    report = (tmp_path / "out" / "report.md").read_text()
    assert "- scale: sd" in report and "multiplied by the input's standard deviation" in report


def test_null_is_passed_to_the_estimators_and_named_in_the_report(csv, tmp_path, monkeypatch):
    seen = []

    class Recorder(Olden):
        def fit(self, X, y=None, **kw):
            seen.append(self.null)
            self.train_alpha = 1.0  # the penalty's cross-validation is not what is tested
            return super().fit(X, y, **kw)

    monkeypatch.setattr(sensitivity, "Olden", Recorder)
    args = ["--target", "y", "--method", "olden", "--permutations", "9", "--null", "response"]
    assert _run(csv, *args) == 0
    assert seen == ["response"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "9 draws per variable, null `response`" in report
    assert "- Analysed network: StandardScaler -> MLPRegressor(hidden_layer_sizes=(3,)" in report
    assert "- Fit (R^2): analysed network train" in report and "user's network train" in report


def test_an_analysed_network_that_fits_much_worse_is_flagged(csv, tmp_path, monkeypatch, capsys):
    class Shrunk(sensitivity.Garson):
        def fit(self, X, y=None, **kw):
            super().fit(X, y, **kw)
            mlp = self.estimator_[-1]  # as an over-penalised stand-in network would be
            mlp.coefs_ = [0 * w for w in mlp.coefs_]
            mlp.intercepts_ = [0 * b for b in mlp.intercepts_]
            return self

    monkeypatch.setattr(sensitivity, "Garson", Shrunk)
    assert _run(csv, "--target", "y", "--method", "garson") == 0
    err = capsys.readouterr().err
    assert "sensitivity: warning: Garson: the analysed network fits much worse (training R²" in err
    report = (tmp_path / "out" / "report.md").read_text()
    assert "- **Warning**: the analysed network fits much worse (training R² " in report
    assert "training R² 0.000 (the network the importances" in report


def test_a_header_of_numbers_is_refused_unless_asked_for(csv, tmp_path, capsys):
    # scikit-learn's iris.csv: a metadata line (counts, class names) above the data
    iris = tmp_path / "iris.csv"
    rows = "\n".join(f"{5 + i % 7 / 10},{3 + i % 5 / 10},{1 + i % 4},{i % 3 / 10},{i % 3}"
                     for i in range(60))  # fmt: skip
    iris.write_text("150,4,setosa,versicolor,virginica\n" + rows + "\n")
    assert _run(iris, "--target", "virginica") == 2
    assert _one_error_line(capsys) == (
        f"sensitivity: error: the first row of {iris} has names that are numbers (150, 4): it "
        "looks like data or a metadata line, not a header; write a first row naming every "
        "column, or pass --numeric-names if these are the names"
    )
    bare = tmp_path / "bare.csv"
    bare.write_text(rows + "\n")
    assert _run(bare, "--target", "0") == 2
    assert "is all numbers: it looks like data, not a header" in _one_error_line(capsys)
    out = tmp_path / "named"
    code = _run(iris, "--target", "virginica", "--numeric-names", "--method", "Garson", out=out)
    assert code == 0
    assert "| 150 " in (out / "report.md").read_text()


def test_no_early_stop_is_passed_to_the_estimators(csv, tmp_path, monkeypatch):
    seen = []

    class Recorder(Olden):
        def fit(self, X, y=None, **kw):
            seen.append(self.early_stop)
            self.n_permutations = 0  # what is tested is the setting, not the test
            return super().fit(X, y, **kw)

    monkeypatch.setattr(sensitivity, "Olden", Recorder)
    args = ["--target", "y", "--method", "olden", "--permutations", "9"]
    assert _run(csv, *args) == 0 and _run(csv, *args, "--no-early-stop") == 0
    assert seen == [True, False]


def test_null_figures_of_stopped_variables_show_their_draws(csv, tmp_path, monkeypatch):
    """With the two-stage test a stopped variable's panel shows its 99 first-stage networks
    (not 399 with NaN) and says so in its title; its p-value is computed from them."""
    import sensitivity.inference.engine as engine
    import sensitivity.plotting as plotting

    monkeypatch.setattr(engine, "STOP_ABOVE", -1.0)  # every variable stops after 99 draws
    monkeypatch.setattr(sensitivity, "Olden", _fixed_penalty(sensitivity.Olden))
    panels = []
    real_plot = plotting.plot_null_distribution

    def spy(null, observed, **kw):
        expected = (1 + np.sum(np.abs(null) >= abs(observed))) / (1 + len(null))
        panels.append((len(null), kw["variable"], kw["p_value"], expected))
        return real_plot(null, observed, **kw)

    monkeypatch.setattr(plotting, "plot_null_distribution", spy)
    out = tmp_path / "stopped"
    args = ["analyze", str(csv), "--target", "y", "--method", "olden", "--hidden", "3"]
    args += ["--null", "conditional"]  # the two-stage test is the refitting test's
    assert main([*args, "--permutations", "399", "--out", str(out), "--quiet"]) == 0
    assert [(n, v) for n, v, *_ in panels] == [
        (99, f"{v} (stopped after 99 draws)") for v in ("a", "b", "c")
    ]
    assert all(p == pytest.approx(e) for *_, p, e in panels)
    assert "Two-stage test: a, b, c had p > " in (out / "report.md").read_text()


def test_bootstrap_needs_a_test_that_retrains(tmp_path, capsys):
    import pandas as pd

    from sensitivity.cli import main

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": X[:, 0]}).to_csv(path)
    code = main(["analyze", str(path), "--target", "y", "--bootstrap", "9", "--quiet"])
    assert code != 0
    assert "add --null conditional for bootstrap intervals" in capsys.readouterr().err


def test_heldout_figure_line_is_the_tables_loss_increase(csv, tmp_path, monkeypatch):
    """With the default (held-out) test each panel shows the draws' loss increases; their mean
    (the dashed line) is the table's loss_increase and the p-value the share at or below 0."""
    import sensitivity.plotting as plotting

    panels = []
    real_plot = plotting.plot_heldout_draws

    def spy(increases, **kw):
        panels.append((kw["variable"], float(np.mean(increases)), kw["p_value"], increases))
        return real_plot(increases, **kw)

    monkeypatch.setattr(plotting, "plot_heldout_draws", spy)
    out = tmp_path / "heldout"
    args = ["analyze", str(csv), "--target", "y", "--method", "olden", "--hidden", "3"]
    assert main([*args, "--permutations", "99", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out / "olden.csv", index_col=0)
    assert sorted(v for v, *_ in panels) == sorted(table.index)
    for var, mean, p, increases in panels:
        assert mean == pytest.approx(table.loc[var, "loss_increase"], rel=1e-9)
        assert p == pytest.approx((1 + np.sum(increases <= 0)) / (1 + len(increases)))
    assert (out / "olden_null.png").read_bytes()[:4] == b"\x89PNG"


def test_the_command_lines_nulls_are_the_estimators():
    """The CLI keeps its own list (it parses before importing the package): the same values."""
    from sensitivity.cli._common import NULLS

    (options,) = Olden._parameter_constraints["null"]
    assert set(NULLS) == set(options.options)
