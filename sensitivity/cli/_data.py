"""Reading the user's CSV file and choosing the task (regression or classification)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from ._common import MAX_CLASSES, MIN_ROWS, CLIError


def _header_names(file: Path, sep: str, encoding: str | None) -> list[str]:
    with open(file, newline="", encoding=encoding or "utf-8") as fh:
        first = fh.readline()
    if len(sep) != 1:  # a regular expression: let pandas split it
        return [str(c) for c in pd.read_csv(file, sep=sep, nrows=0, engine="python").columns]
    return next(csv.reader([first], delimiter=sep), [])


def _read_data(
    path: str,
    target: str,
    *,
    sep: str = ",",
    index_col: str | None = None,
    decimal: str = ".",
    numeric_names: bool = False,
) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """The inputs, the target and the notes (decisions taken) of a CSV file.

    Raises CLIError for anything that would make the analysis meaningless (including column
    names that are numbers, unless ``numeric_names``: a first row of data or a metadata line
    taken for the header); drops constant input columns (with a note): every method gives them
    zero effect on this data, and some cannot be computed at all for them.
    """
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"file not found: {path}")
    notes: list[str] = []
    data, header = _load_csv(file, path, sep, decimal)
    if not numeric_names:
        _check_header(header, path)
    data = _set_index(data, header, index_col, notes)
    if target not in data.columns:
        raise CLIError(
            f"target column {target!r} not found in {path}; columns: "
            + ", ".join(map(str, data.columns))
        )
    X = data.drop(columns=[target])
    y = data[target]
    if X.shape[1] == 0:
        raise CLIError(f"{path} has no input column besides the target {target!r}")
    _check_inputs(X, y, path, target, decimal)
    constant = [str(c) for c in X.columns if X[c].nunique() < 2]
    if constant:
        if len(constant) == X.shape[1]:
            raise CLIError(f"every input column of {path} is constant: {', '.join(constant)}")
        X = X.drop(columns=constant)
        notes.append(
            f"constant column(s) dropped before the analysis: {', '.join(constant)} (a constant "
            "input has no effect on this data)"
        )
    return X.astype(float), y, notes


def _load_csv(file: Path, path: str, sep: str, decimal: str) -> tuple[pd.DataFrame, list[str]]:
    """The table and its header as written (refusing unreadable files, a semicolon-separated
    file read with commas and duplicate column names)."""
    try:
        header = [h.strip() for h in _header_names(file, sep, None)]
        data = pd.read_csv(
            file, sep=sep, decimal=decimal, engine="python" if len(sep) != 1 else "c"
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, csv.Error) as exc:
        raise CLIError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from exc
    if data.shape[1] == 1 and sep == "," and ";" in str(data.columns[0]):
        raise CLIError(
            f"{path} has one column {str(data.columns[0])[:40]!r}...: it looks "
            "semicolon-separated; pass --sep ';'"
        )
    dupes = sorted({h for h in header if h and header.count(h) > 1})
    if dupes:
        raise CLIError(
            f"duplicate column name(s) in {path}: {', '.join(dupes)}; rename them so that each "
            "column has its own name"
        )
    return data, header


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_header(header: list[str], path: str) -> None:
    """Refuse a header whose names are numbers: the first row is then data (a file without a
    header) or a metadata line (scikit-learn's bundled ``iris.csv`` starts with ``150,4,setosa,
    versicolor,virginica``: row and column counts and the class names), and every input would
    be reported under a wrong name."""
    numeric = [h for h in header if h and _is_number(h)]
    if not numeric:
        return
    if len(numeric) == len(header):
        what = "is all numbers: it looks like data, not a header"
    else:
        what = (
            f"has names that are numbers ({', '.join(numeric[:5])}): it looks like data or a "
            "metadata line, not a header"
        )
    raise CLIError(
        f"the first row of {path} {what}; write a first row naming every column, or pass "
        "--numeric-names if these are the names"
    )


def _set_index(
    data: pd.DataFrame, header: list[str], index_col: str | None, notes: list[str]
) -> pd.DataFrame:
    """Row names from ``--index-col`` (a name or a number) or R's unnamed first column."""
    columns = [str(c) for c in data.columns]
    if index_col is not None:
        if index_col in columns:
            key = index_col
        elif index_col.isdigit() and int(index_col) < len(columns):
            key = columns[int(index_col)]
        else:
            raise CLIError(
                f"--index-col {index_col!r} is neither a column name nor a column number "
                f"(0 to {len(columns) - 1}); columns: {', '.join(columns)}"
            )
        return data.set_index(key)
    if header and header[0] == "":
        # R's write.csv: an unnamed first column of row names (labels, or 1, 2, ... by default)
        data = data.set_index(data.columns[0])
        data.index.name = None
        notes.append("the unnamed first column is taken as row names (as R's write.csv writes)")
    return data


def _check_inputs(X: pd.DataFrame, y: pd.Series, path: str, target: str, decimal: str) -> None:
    """Refuse non-numeric or non-finite inputs, a missing target, too few rows, a constant
    target (with a hint where the cause is likely: row names, decimal commas)."""
    if len(X) == 0:
        raise CLIError(
            f"{path} has a header row and no data rows: nothing to analyse (at least "
            f"{MIN_ROWS} rows are needed); check that the file is complete"
        )
    unnamed = [str(c) for c in X.columns if str(c).startswith("Unnamed: ")]
    non_numeric = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    if non_numeric:
        hint = ""
        labels = [c for c in non_numeric if X[c].nunique() == len(X)]
        if set(unnamed) & set(non_numeric):
            hint = "; an unnamed column of labels is usually row names: pass --index-col 0"
        elif decimal == "." and any(
            X[c].astype(str).str.fullmatch(r"-?\d+,\d+").mean() > 0.5 for c in non_numeric
        ):
            hint = "; the values look like decimal commas (3,14): pass --decimal ','"
        elif labels:
            hint = (
                f"; {labels[0]} has a different value in every row, as row names do: pass "
                f"--index-col {labels[0]}"
            )
        raise CLIError(
            f"non-numeric column(s) in {path}: {', '.join(non_numeric)}; encode them as "
            f"numbers or remove them{hint}"
        )
    problems = [
        problem
        for name, column in [(f"target {target!r}", y), *((repr(str(c)), X[c]) for c in X)]
        if (problem := _non_finite(name, column))
    ]
    if problems:
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more column(s)" if len(problems) > 3 else ""
        )
        raise CLIError(f"{shown}; remove those rows or fill in the values")
    if len(X) < MIN_ROWS:
        raise CLIError(
            f"{path} has {len(X)} row(s); at least {MIN_ROWS} are needed to fit a network"
        )
    if y.nunique() < 2:
        raise CLIError(
            f"target {target!r} is constant ({y.iloc[0]} in every row): nothing to explain"
        )


def _non_finite(name: str, column: pd.Series, shown: int = 5) -> str:
    """What is missing or infinite in a column and in which rows (the first ``shown``), or
    ``""`` when every value is finite."""
    missing = column.isna().to_numpy()
    infinite = np.zeros(len(column), dtype=bool)
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        infinite = np.isinf(column.to_numpy(dtype=float, na_value=np.nan))
    kinds = [k for k, m in (("missing", missing), ("infinite", infinite)) if m.any()]
    if not kinds:
        return ""
    where = np.flatnonzero(missing | infinite)
    index = column.index
    if index.name is None and index.equals(pd.RangeIndex(len(index))):  # no row names
        rows = "data row(s) " + ", ".join(str(i + 1) for i in where[:shown])
        rows += " (counted from 1 below the header)"
    else:  # row names (--index-col, R's unnamed first column): by name
        rows = "the row(s) named " + ", ".join(repr(str(v)) for v in index[where[:shown]])
    more = f" and {len(where) - shown} more" if len(where) > shown else ""
    return f"{name} has {' and '.join(kinds)} values in {rows}{more}"


def _task(y: pd.Series, requested: str, target: str) -> tuple[str, str]:
    """The task (regression or classification) and a note saying how it was chosen."""
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    n_classes = int(y.nunique())
    if requested == "regression":
        if not numeric:
            example = str(y[~pd.to_numeric(y, errors="coerce").notna()].iloc[0])
            raise CLIError(
                f"target {target!r} is not numeric (e.g. {example!r}); convert it to numbers "
                "for --task regression"
            )
        return "regression", "regression (--task regression)"
    if requested == "auto":
        if numeric and n_classes > 2:
            return "regression", (
                f"target {target!r} is numeric with {n_classes} distinct values: regression "
                "(--task classification to override)"
            )
        why = "has two values" if numeric else "is not numeric"
    else:
        why = "--task classification"
    limit = min(MAX_CLASSES, max(2, len(y) // 5))
    if n_classes > limit:
        example = str(y.iloc[0])
        raise CLIError(
            f"target {target!r} has {n_classes} distinct values in {len(y)} rows (e.g. "
            f"{example!r}); a classification with more than {limit} classes is not analysed: if "
            "it is a number written as text, convert it to numbers (then it is a regression)"
        )
    classes = ", ".join(map(str, sorted(y.astype(str).unique())))
    return "classification", (
        f"target {target!r} {why}: classification with {n_classes} classes ({classes})"
    )
