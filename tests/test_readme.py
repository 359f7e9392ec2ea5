"""The README's PyTorch example runs as printed and says what the README says it says."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _block(marker: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    (code,) = [b for b in blocks if marker in b]
    return code


def test_readme_torch_example_flags_the_learned_effects(capsys):
    namespace: dict = {}
    exec(compile(_block("HoldoutConditionalTest"), "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Holdout conditional test" in out
    f = namespace["test"].importances_
    assert f.loc[["x0", "x1", "x3", "x4"], "significant"].all()
    assert not f.loc[["x2", "x5", "x6"], "significant"].any()
