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
    assert "Measured level and power" in page and "TABLE-PLACEHOLDER" in page
    assert "The table is produced by ``benchmarks/bench_default.py``" in page
    assert ".. include::" not in page


def test_comparison_page_says_which_null_its_test_columns_are_for():
    page = _text("comparison.rst")
    assert "These test columns are for** ``null='variable'`` **only**" in page
    assert ":doc:`which_test`" in page
