"""The layer contract of docs/architecture.rst, checked by import-linter (setup.cfg)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_imports_only_go_down_the_layers():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        pytest.fail("import-linter is missing: install the test extras (pip install -e '.[test]')")
    run = subprocess.run(
        [exe, "--config", str(ROOT / "setup.cfg")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 kept, 0 broken" in run.stdout


def test_a_downward_import_breaks_the_contract(tmp_path):
    """The contract can fail: the same layers with plotting placed below result are broken by
    the report's lazy import of its figure, once that import is no longer ignored."""
    cfg = (ROOT / "setup.cfg").read_text()
    start = cfg.index("[importlinter]")
    broken = cfg[start:].replace(
        "ignore_imports =\n    sensitivity.result._result -> sensitivity.plotting\n", ""
    )
    path = tmp_path / "contract.cfg"
    path.write_text(broken)
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    run = subprocess.run(
        [exe, "--config", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert run.returncode != 0 and "sensitivity.result is not allowed to import" in run.stdout
