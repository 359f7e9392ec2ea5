"""What the pages a newcomer reads first say about the tests (docs/*.rst)."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _text(name: str) -> str:
    """The page's prose on one line (rst line breaks removed)."""
    return re.sub(r"\s+", " ", (DOCS / name).read_text(encoding="utf-8"))


def test_first_pages_do_not_credit_olden_and_jackson_with_the_per_variable_p_values():
    index, methods = _text("index.rst"), _text("methods/index.rst")
    assert "randomization test of Olden & Jackson (2002) for p-values" not in index
    assert "Significance comes from the :doc:`randomization` of Olden & Jackson" not in methods
    for page in (index, methods):
        assert "held-out conditional test" in page and "global" in page
        assert "which_test" in page


def test_which_test_page_is_linked_and_covers_every_test():
    toctree = (DOCS / "index.rst").read_text().split(".. toctree::")[1]
    assert "\n   which_test\n" in toctree
    page = _text("which_test.rst")
    for option in ('null="conditional"', 'null="loco"', 'null="response"'):
        assert option in page, option
    assert "Measured level and power" in page and "PLACEHOLDER" not in page
    assert "held-out conditional test (default), 40 data sets per design" in page
    assert "python benchmarks/bench_default.py" in page
    assert "The table is produced by ``benchmarks/bench_default.py``" in page
    assert ".. include::" not in page


def test_comparison_page_says_which_null_its_test_columns_are_for():
    page = _text("comparison.rst")
    assert "These test columns are for** ``null='variable'`` **only**" in page
    assert ":doc:`which_test`" in page


_NOT_CHECKED: set[str] = set()  # pages whose code blocks are not checked (none now)


def _python_blocks(path: Path) -> list[list[str]]:
    """The lines of each ``.. code-block:: python`` of an rst page, indentation removed."""
    blocks, current, indent = [], None, 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() == ".. code-block:: python":
            current, indent = [], len(line) - len(line.lstrip()) + 3
            blocks.append(current)
        elif current is not None:
            if line.strip() and len(line) - len(line.lstrip()) < indent:
                current = None
            elif line.strip():
                current.append(line[indent:])
    return blocks


def test_code_in_the_docs_fits_the_text_column():
    """Code blocks show 90 characters per line at a 1280 px wide window (docs/_static/
    custom.css): the Python of the pages and of the gallery examples is wrapped at 88."""
    assert 'html_css_files = ["custom.css"]' in (DOCS / "conf.py").read_text()
    long = []
    for page in sorted(DOCS.glob("**/*.rst")):
        if page.name in _NOT_CHECKED or "_build" in page.parts:
            continue
        long += [f"{page.name}: {ln}" for b in _python_blocks(page) for ln in b if len(ln) > 88]
    for example in sorted((DOCS.parent / "examples").glob("plot_*.py")):
        code = example.read_text(encoding="utf-8").split('"""', 2)[2]  # after the docstring
        long += [
            f"{example.name}: {ln}"
            for ln in code.splitlines()
            if len(ln) > 88 and not ln.lstrip().startswith("#")
        ]
    assert not long, long
