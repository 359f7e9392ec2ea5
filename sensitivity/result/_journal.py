"""Journal tables of a :class:`~sensitivity.result.SensitivityResult`: Markdown and LaTeX."""

from __future__ import annotations

import numpy as np

from ._text import (
    CONDITIONAL_MODEL,
    CONDITIONAL_R2,
    REFIT_STATISTIC,
    RESPONSE_NOTE,
    TESTED_STATISTIC,
    _column_scale,
    _fixed,
    _fmt_p,
    _latex_escape,
    _latex_text,
)

BOOKTABS_COMMENT = (
    r"% needs \usepackage{booktabs} in the preamble (or to_latex(booktabs=False): \hline rules)"
)
"""The comment that :meth:`_JournalTables.to_latex` puts into a booktabs table."""


def _column(key: str, header: str, align: str, cells: list[str], latex=None) -> dict:
    """One column of a journal table; ``latex`` is its two-line LaTeX header, if it differs."""
    col = {"key": key, "header": header, "align": align, "cells": cells}
    if latex is not None:
        col["latex"] = latex
    return col


class _JournalTables:
    """Markdown and LaTeX tables of a :class:`~sensitivity.result.SensitivityResult`.

    A mixin: it reads the result's attributes (``importances``, ``method``, ``null``,
    ``n_permutations``, ``p_adjust``, ...) and its ``_adjustment``/``_legend`` helpers, and adds
    :meth:`to_markdown` and :meth:`to_latex`.
    """

    def _journal_columns(self, digits: int, minus: str) -> tuple[list[dict], list[str]]:
        """Human-formatted columns shared by Markdown and LaTeX: a list of column dicts
        ``{"key", "header", "latex", "align", "cells"}`` (cells in table order)."""
        f = self.importances
        imp = f["importance"].to_numpy(float)
        lo = f["ci_low"].to_numpy(float)
        hi = f["ci_high"].to_numpy(float)
        span = np.r_[imp, lo, hi] if self.has_intervals else imp
        power, dec = _column_scale(span, digits)
        factor = f" (×10^{power})" if power else ""
        tex_factor = f"($\\times 10^{{{power}}}$)" if power else ""
        cells = [_fixed(v, power, dec, minus) for v in imp]
        cols = [
            _column("importance", "Importance" + factor, "r", cells, ("Importance", tex_factor)),
            _column(
                "relative",
                "Share (%)",
                "r",
                [_fixed(100 * v, 0, 1, minus) for v in f["relative_importance"]],
                ("Share", r"(\%)"),
            ),
        ]
        cols[0]["power"] = power
        if "direction" in f and not self.signed:
            signs = [minus if d == "-" else str(d) for d in f["direction"]]
            cols.append(_column("direction", "Direction", "c", signs))
        if self.tested:
            cols += self._test_columns(digits, minus)
        if self.has_intervals:
            level = f"{100 * (1 - self.alpha):g}"
            cells = [
                f"[{_fixed(a, power, dec, minus)}, {_fixed(b, power, dec, minus)}]"
                if np.isfinite(a) and np.isfinite(b)
                else ""
                for a, b in zip(lo, hi, strict=True)
            ]
            tex = (f"{level}\\% CI", tex_factor)
            cols.append(_column("ci", f"{level}% CI" + factor, "c", cells, tex))
        if CONDITIONAL_R2 in f:
            cells = [_fixed(v, 0, 2, minus) for v in f[CONDITIONAL_R2]]
            tex = ("$R^2$", r"($x_j \mid$ others)")
            cols.append(_column("r2", "R² (x_j | others)", "r", cells, tex))
        if self.tested and CONDITIONAL_MODEL in f:
            cells = [str(v) for v in f[CONDITIONAL_MODEL]]
            cols.append(_column("cm", "Model of x_j", "l", cells, ("Model of", "$x_j$")))
        return cols

    def _test_columns(self, digits: int = 3, minus: str = "-") -> list[dict]:
        """The tested statistic (held-out loss increase), p-value, adjusted p-value and
        significance-code columns."""
        f = self.importances
        cols = []
        headers = {TESTED_STATISTIC: ("Loss increase", "Loss incr."), REFIT_STATISTIC:
                   ("Tested statistic", "Tested stat.")}  # fmt: skip
        for name, (header, short) in headers.items():  # the statistic the p-value tested
            if name not in f:
                continue
            values = f[name].to_numpy(float)
            power, dec = _column_scale(values, digits)
            cells = [_fixed(v, power, dec, minus) for v in values]
            factor = f" (×10^{power})" if power else ""
            tex = (short, f"($\\times 10^{{{power}}}$)" if power else "")
            cols.append(_column(name, header + factor, "r", cells, tex))
        cols.append(_column("p", "p", "r", [_fmt_p(v) for v in f["p_value"]], ("$p$", "")))
        if self.p_adjust:
            adjusted = [_fmt_p(v) for v in f["p_adjusted"]]
            header = f"p ({self._adjustment()})"
            cols.append(_column("p_adj", header, "r", adjusted, ("$p$", "(adj.)")))
        stars = self.stars()
        return [*cols, _column("sig", "Sig.", "l", stars, ("", ""))]

    def _blocks(self) -> list[tuple[str | None, np.ndarray]]:
        """(output name or None, row positions) per output, in table order."""
        if not self.multi_output:
            return [(None, np.arange(len(self.importances)))]
        level = np.asarray(self.importances.index.get_level_values(0)).astype(str)
        return [(out, np.flatnonzero(level == out)) for out in self.output_names]

    def _variables(self) -> list[str]:
        return [str(v) for v in self.importances.index.get_level_values(-1)]

    def _settings_sentences(self) -> list[str]:
        """What a caption or a report must say about the test (one sentence each)."""
        out = []
        gt = self.global_test
        if self.null == "response" and gt is not None:
            n = int(gt.get("n_permutations", self.n_permutations))
            out.append(
                f"Global test (response permutation, {n} permutations, statistic "
                f"{gt.get('statistic', 'max_j |importance_j|')}): p = "
                f"{_fmt_p(float(gt['p_value']))}"
            )
            out.append(RESPONSE_NOTE.rstrip("."))
        elif self.tested:
            hyp = self.null_hypothesis
            out.append(f"Test: {self.test_description}" + (f"; {hyp}" if hyp else ""))
            adj = self._adjustment()
            out.append(
                f"p-values adjusted by the {adj} method; stars on adjusted p"
                if self.p_adjust
                else "p-values not adjusted for multiple testing"
            )
            warning = self.resolution_warning
            if warning:
                out.append(f"Warning: {warning.rstrip('.')}")
        else:
            out.append("No randomization test")
        if self.has_intervals:
            out.append(f"Intervals: {self.interval_description}")
        out.extend(note.rstrip(".") for note in self.notes)  # e.g. the two-stage test's
        return out

    def to_markdown(self, digits: int = 3) -> str:
        """The ranked table as GitHub-flavoured Markdown (no extra dependency).

        Human headers and one number format per column (``digits`` significant digits for the
        largest importance, the same decimals on every row, a power of ten factored out into
        the header for very large or small values); one table per output under a bold
        ``Output:`` line. Under a tested table: the warning that no variable can be
        significant where too few permutations were drawn, one line naming the test (with its
        draws), the adjustment and the intervals, and the legend of the significance codes.
        """
        cols = self._journal_columns(digits, "-")
        variables = self._variables()

        def cell(v: str) -> str:
            return str(v).replace("|", "\\|")

        headers = ["Variable", *[c["header"] for c in cols]]
        head = "| " + " | ".join(cell(h) for h in headers) + " |"
        marks = {"l": "---", "r": "---:", "c": ":---:"}
        align = "|" + "|".join(["---", *[marks[c["align"]] for c in cols]]) + "|"
        out: list[str] = []
        for name, rows in self._blocks():
            if name is not None:
                out += ([""] if out else []) + [f"**Output: {cell(name)}**", ""]
            out += [head, align]
            for i in rows:
                out.append(
                    "| "
                    + " | ".join(cell(v) for v in [variables[i], *[c["cells"][i] for c in cols]])
                    + " |"
                )
        if self.tested:
            warning = self.resolution_warning
            if warning:
                out += ["", f"**Warning**: {cell(warning)}"]
            settings = [f"Test: {self.test_description}", f"Adjustment: {self._adjustment()}"]
            if self.has_intervals:
                settings.append(f"Intervals: {self.interval_description}")
            out += [
                "",
                cell("; ".join(settings) + "."),
                "",
                self._legend().replace("*", "\\*") + ".",
            ]
        elif self.has_intervals:
            out += ["", f"Intervals: {self.interval_description}."]
        out += [line for note in self.notes for line in ("", note.rstrip(".") + ".")]
        if self.null == "response":
            out += ["", *[s + "." for s in self._settings_sentences()[:1]], "", RESPONSE_NOTE]
        return "\n".join(out)

    def to_latex(
        self,
        digits: int = 3,
        caption: str | None = None,
        label: str | None = None,
        *,
        booktabs: bool = True,
    ) -> str:
        """The ranked table as a LaTeX ``table`` for a journal article.

        **Needs the LaTeX package booktabs**: put ``\\usepackage{booktabs}`` in the preamble of
        the document (its rules ``\\toprule``, ``\\midrule``, ``\\bottomrule``), or pass
        ``booktabs=False`` for ``\\hline`` rules that need no package. The table's first line
        after ``\\begin{table}`` is a LaTeX comment saying so.

        Rows ranked by ``|importance|`` (rank order; no rank column), one block per output
        under an italic output line, human headers, one number format per column with a true
        minus sign (``digits`` significant digits for the largest importance; a power of ten
        goes into the header), the interval as one ``[low, high]`` column, and a caption
        stating the test (null hypothesis, permutations, tail, adjustment) and the interval
        settings. Set in ``\\small`` with ``\\tabcolsep`` 4 pt: a 10-variable table with a test
        and intervals fits the text width of a standard 10 pt ``article``.

        Parameters
        ----------
        digits : int, default=3
            Significant digits of the largest ``|importance|`` of the table.
        caption : str, optional
            First sentence of the caption (default: "<method> variable importance"); the
            test's settings follow it.
        label : str, optional
            ``\\label`` of the table.
        booktabs : bool, default=True
            Rules from the ``booktabs`` package (``\\usepackage{booktabs}`` in the preamble);
            False uses ``\\hline`` and needs no package.
        """
        cols = self._journal_columns(digits, "$-$")
        variables = self._variables()
        n_cols = 1 + len(cols)
        top, mid, bottom = (
            (r"\toprule", r"\midrule", r"\bottomrule")
            if booktabs
            else (r"\hline", r"\hline", r"\hline")
        )

        spec = "l" + "".join(c["align"] for c in cols)
        kind = "signed" if self.signed else "magnitude"
        first = caption or f"{self.title} variable importance"
        sentences = [_latex_text(first.rstrip(".")) + f" ({kind} statistic"]
        sentences[0] += f"; $n = {self.n_samples}$)" if self.n_samples else ")"
        sentences.append(
            "Rows ranked by $|$importance$|$" + (" within each output" if self.multi_output else "")
        )
        sentences += [_latex_text(s) for s in self._settings_sentences()]
        text = ". ".join(sentences) + "."
        lines = [r"\begin{table}[ht]"]
        if booktabs:
            lines.append(BOOKTABS_COMMENT)
        lines += [r"\centering", r"\small", r"\setlength{\tabcolsep}{4pt}"]
        lines.append(r"\caption{" + text + "}")
        if label:
            lines.append(r"\label{" + label + "}")
        lines += [r"\begin{tabular}{" + spec + "}", top]
        heads = [c.get("latex", (_latex_escape(c["header"]), "")) for c in cols]
        lines.append(" & ".join(["Variable", *[h[0] for h in heads]]) + r" \\")
        if any(h[1] for h in heads):
            lines.append(" & ".join(["", *[h[1] for h in heads]]) + r" \\")
        lines.append(mid)
        for b, (name, rows) in enumerate(self._blocks()):
            if name is not None:
                if b:
                    lines.append(mid)
                lines.append(
                    r"\multicolumn{"
                    + str(n_cols)
                    + r"}{l}{\textit{Output: "
                    + _latex_escape(name)
                    + r"}} \\"
                )
            for i in rows:
                cells = [_latex_escape(variables[i])]
                for c in cols:
                    v = c["cells"][i]
                    if v.startswith("<"):  # "<0.001"
                        cells.append("$<$" + v[1:])
                    else:
                        cells.append(v if "$-$" in v else _latex_escape(v))
                lines.append(" & ".join(cells) + r" \\")
        lines += [bottom, r"\end{tabular}"]
        if self.tested:
            lines.append(
                r"\par\smallskip{\footnotesize Significance codes ("
                + ("adjusted $p$" if self.p_adjust else "$p$")
                + r"): *** $\le 0.001$, "
                r"** $\le 0.01$, * $\le 0.05$, . $\le 0.1$.}"
            )
        lines.append(r"\end{table}")
        return "\n".join(lines)
