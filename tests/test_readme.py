"""The README's examples run as printed and say what the README says they say."""

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


def test_readme_example_says_what_the_readme_says(capsys):
    """The Olden example: bmi, s5 and sex starred; s1-s3 not tested (determined by the other
    serum variables); s4 with '?'; the importance column equals Olden without a test."""
    import warnings

    from sensitivity import Olden

    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = _block("sa = Olden(net, n_permutations=999").replace("sa.results_.plot()", "")
        exec(compile(code, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    f = namespace["sa"].importances_
    assert f.loc[["bmi", "s5", "sex"], "significant"].all()
    assert f["significant"].sum() == 3
    for v in ("s1", "s2", "s3"):
        assert f.loc[v, "note"].startswith("not tested:") and v + ": not tested" in out
    assert not f.loc["s4", "reliable"] and "?" in out
    plain = Olden(namespace["net"]).fit(namespace["X"], namespace["y"]).importances_
    assert (f["importance"] == plain["importance"].reindex(f.index)).all()
