"""Command line: ``sensitivity demo`` and ``sensitivity analyze`` (also ``python -m sensitivity``).

Methods are found by name through :data:`METHODS`, which maps a command-line name to the name of
an estimator class of the :mod:`sensitivity` package; a method whose class the installed
package does not have is reported as unavailable.

Bad input never gives a traceback: every problem found in the arguments or the data is one line
``sensitivity: error: ...`` on stderr and exit status 2, raised before any network is trained.
Warnings are printed once each as ``sensitivity: warning: ...``; decisions the command takes for
the user (task inferred from the target, constant columns dropped, a column of row names) are
printed as ``sensitivity: note: ...`` and written into the report.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "DEMO_METHODS",
    "MAX_CLASSES",
    "METHODS",
    "MIN_ROWS",
    "available_methods",
    "main",
    "resolve_methods",
]

METHODS: dict[str, str] = {
    "olden": "Olden",
    "garson": "Garson",
    "dimopoulos": "Dimopoulos",
    "miv": "MIV",
    "lek": "LekProfile",
    "perturbation": "InputPerturbation",
    "permutation": "PermutationImportance",
}
"""Command-line method names and the estimator classes (attributes of :mod:`sensitivity`)."""

DEMO_METHODS: tuple[str, ...] = ("olden", "garson", "dimopoulos", "miv")
"""What ``sensitivity demo`` runs (those available), in this order."""

DEMO_PERMUTATIONS = 199
"""Permutations of the demo's randomization tests (``--permutations`` overrides)."""

ANALYZE_METHODS: tuple[str, ...] = ("olden", "dimopoulos", "miv", "garson")
"""What ``sensitivity analyze`` runs without ``--method`` (those available)."""

NULLS: tuple[str, ...] = ("conditional", "variable", "response")
"""Values of ``--null`` (the estimators' ``null`` parameter)."""

UNDERFIT_MARGIN = 0.1
"""A warning when the analysed network's training score is this much below the configured
network's (R² or accuracy): its importances would describe an underfitted network."""

MIN_ROWS = 10
"""Fewer rows than this are refused: no network fitted to them says anything."""

MAX_CLASSES = 20
"""A classification target with more classes than this (or more than a fifth of the rows) is
refused: it is almost always a number written as text (``$24.0k``) or an identifier."""

METHOD_SETTINGS: dict[str, dict[str, object]] = {
    # additive MIV: the multiplicative form is meaningless for variables centred near zero
    # (standardized or centred data, like the diabetes demo), and additive works in any units
    "MIV": {"perturbation": "additive"},
    # derivatives times the input's standard deviation: scale-free, so that a variable measured
    # on a small range does not dominate (raw derivatives are per unit of each input)
    "Dimopoulos": {"scale": "sd"},
}
"""Method-specific settings the command line uses (by class name)."""

UNITS: dict[str, str] = {
    "Olden": "sum over hidden units of input-hidden times hidden-output weights of the network "
    "on standardized inputs (and standardized target for regression): unit-free",
    "Garson": "share of the absolute connection weights (unit-free, sums to 1 per output)",
    "Dimopoulos": "sum over rows of squared derivatives, each derivative multiplied by the "
    "input's standard deviation (scale='sd'): unit-free, target in standard deviations for "
    "regression, class probability for classification",
    "MIV": "mean change of the prediction when the input moves from -0.1 to +0.1 of its "
    "standard deviation (additive MIV); target in standard deviations for regression",
    "LekProfile": "range of the predicted response along the input's range",
    "InputPerturbation": "increase of the prediction error when the input is perturbed by noise",
    "PermutationImportance": "increase of the prediction error when the input is permuted",
}
"""What the statistic of each method measures in ``analyze`` (printed in the report)."""

YLABELS: dict[str, str] = {
    "Olden": "Olden importance (signed, unit-free)",
    "Garson": "Garson share of |weights|",
    "Dimopoulos": "sum of squared sd-scaled derivatives",
    "MIV": "MIV (change of prediction per ±0.1 sd)",
}
"""Axis labels of the bar charts of ``analyze`` (the statistic and its units)."""


class CLIError(Exception):
    """An error reported as one line on stderr with exit status 2."""


def available_methods() -> dict[str, type]:
    """The methods of :data:`METHODS` whose estimator class this package provides."""
    import sensitivity

    found = {}
    for name, cls_name in METHODS.items():
        cls = getattr(sensitivity, cls_name, None)
        if isinstance(cls, type):
            found[name] = cls
    return found


def resolve_methods(spec: str | Sequence[str]) -> list[tuple[str, type]]:
    """Estimator classes for a comma-separated list (or sequence) of method names.

    Raises
    ------
    CLIError
        For an unknown or unavailable name, listing the available ones.
    """
    names = [s.strip().lower() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names = [n for n in names if n]
    if not names:
        raise CLIError("no method given; available: " + ", ".join(available_methods()))
    available = available_methods()
    out = []
    for name in names:
        if name not in available:
            why = "is not available in this version" if name in METHODS else "is unknown"
            raise CLIError(f"method {name!r} {why}; available methods: {', '.join(available)}")
        out.append((name, available[name]))
    return out


def _make(cls: type, estimator, **params):
    """An estimator of class ``cls`` with the given parameters (those it accepts)."""
    accepted = cls().get_params(deep=False)
    params = {**METHOD_SETTINGS.get(cls.__name__, {}), **params}
    return cls(estimator, **{k: v for k, v in params.items() if k in accepted})


def _network(task: str, hidden: int, seed: int):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    cls = MLPClassifier if task == "classification" else MLPRegressor
    return make_pipeline(
        StandardScaler(),
        cls(
            hidden_layer_sizes=(hidden,),
            alpha=1.0,
            solver="lbfgs",
            max_iter=2000,
            random_state=seed,
        ),
    )


def _progress(items, desc: str, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, disable=quiet, file=sys.stderr, leave=False)


def _note(message: str) -> None:
    print(f"sensitivity: note: {message}", file=sys.stderr)


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Print each distinct warning once, as one line without a source location."""
    seen: set[str] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
        if text not in seen:
            seen.add(text)
            print(f"sensitivity: warning: {text}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


# ---------------------------------------------------------------------- demo
def _demo(args: argparse.Namespace) -> int:
    from sklearn.base import clone

    from . import load_diabetes

    X, y = load_diabetes()
    y_std = (y - y.mean()) / y.std()
    net = _network("regression", args.hidden, args.seed)
    methods = [(n, c) for n, c in available_methods().items() if n in DEMO_METHODS]
    methods.sort(key=lambda item: DEMO_METHODS.index(item[0]))
    print(f"Diabetes data: {X.shape[0]} patients, {X.shape[1]} variables; target {y.name}.")
    print(
        f"Network: StandardScaler + MLPRegressor(hidden_layer_sizes=({args.hidden},)), "
        "target standardized.\n"
    )
    fitted = clone(net).fit(X, y_std)
    print(f"Training R^2: {fitted.score(X, y_std):.3f}\n")
    extra = {} if args.null is None else {"null": args.null}
    for _name, cls in _progress(methods, "methods", args.quiet):
        sa = _make(
            cls,
            clone(net),
            n_permutations=args.permutations,
            random_state=args.seed,
            verbose=0 if args.quiet else 1,
            **extra,
        ).fit(X, y_std)
        print(sa.summary(), end="\n\n")
    return 0


# ---------------------------------------------------------------------- reading the data
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
) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """The inputs, the target and the notes (decisions taken) of a CSV file.

    Raises CLIError for anything that would make the analysis meaningless; drops constant input
    columns (with a note): every method gives them zero effect on this data, and some cannot be
    computed at all for them.
    """
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"file not found: {path}")
    notes: list[str] = []
    data = _set_index(*_load_csv(file, path, sep, decimal), index_col, notes)
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
    unnamed = [str(c) for c in X.columns if str(c).startswith("Unnamed: ")]
    non_numeric = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    if non_numeric:
        hint = ""
        if set(unnamed) & set(non_numeric):
            hint = "; an unnamed column of labels is usually row names: pass --index-col 0"
        elif decimal == "." and any(
            X[c].astype(str).str.fullmatch(r"-?\d+,\d+").mean() > 0.5 for c in non_numeric
        ):
            hint = "; the values look like decimal commas (3,14): pass --decimal ','"
        raise CLIError(
            f"non-numeric column(s) in {path}: {', '.join(non_numeric)}; encode them as "
            f"numbers or remove them{hint}"
        )
    bad = [str(c) for c in X.columns if not np.all(np.isfinite(X[c].to_numpy(dtype=float)))]
    if bad or y.isna().any():
        cols = bad + ([target] if y.isna().any() else [])
        raise CLIError(f"missing or infinite values in column(s): {', '.join(cols)}")
    if len(X) < MIN_ROWS:
        raise CLIError(
            f"{path} has {len(X)} row(s); at least {MIN_ROWS} are needed to fit a network"
        )
    if y.nunique() < 2:
        raise CLIError(
            f"target {target!r} is constant ({y.iloc[0]} in every row): nothing to explain"
        )


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


def _null_figures(sa, name: str, out: Path) -> list[Path]:
    """Histograms of the randomization null of each variable (first output), if per-variable
    p-values were computed."""
    res = sa.results_
    null = getattr(sa, "null_distribution_", None)
    if null is None or not res.tested:
        return []
    import matplotlib.pyplot as plt

    from .plotting import plot_null_distribution

    null = np.asarray(null, dtype=float)
    if null.ndim == 3:  # (n_permutations, n_outputs, n_features): first output
        null = null[:, 0, :]
    names = [str(v) for v in sa.feature_names_in_]
    if null.ndim != 2 or null.shape[1] != len(names):
        return []
    observed = np.asarray(sa.statistics_["importance"], dtype=float).reshape(-1, null.shape[1])[0]
    frame = sa.importances_
    if frame.index.nlevels > 1:
        frame = frame.xs(frame.index.get_level_values(0)[0], level=0)
    ncols = min(4, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.4 * ncols, 2.6 * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    for j, (ax, var) in enumerate(zip(axes.ravel(), names, strict=False)):
        p_adj = frame.loc[var, "p_adjusted"]
        plot_null_distribution(
            null[:, j],
            observed[j],
            ax=ax,
            variable=var,
            two_sided=res.signed,
            p_value=frame.loc[var, "p_value"],
            p_adjusted=None if pd.isna(p_adj) else p_adj,
            statistic=res.method,
        )
    first = f" (output {res.output_names[0]})" if res.multi_output else ""
    fig.suptitle(f"{res.method}: null distributions of the randomization test{first}")
    path = out / f"{name}_null.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]


def _fingerprint(model) -> bytes:
    """Bytes identifying a fitted network's weights (to draw each distinct network once)."""
    from .adapters import to_mlp_batch

    coefs, intercepts = to_mlp_batch(model).numpy_weights()
    return b"".join(np.ascontiguousarray(a, dtype=np.float64).tobytes() for a in coefs + intercepts)


def _check_args(args: argparse.Namespace) -> None:
    if args.hidden < 1:
        raise CLIError(f"--hidden must be a positive integer; got {args.hidden}")
    if args.permutations < 0:
        raise CLIError(f"--permutations must be >= 0; got {args.permutations}")
    if args.bootstrap < 0:
        raise CLIError(f"--bootstrap must be >= 0; got {args.bootstrap}")
    if not 0 < args.alpha < 1:
        raise CLIError(f"--alpha must be between 0 and 1; got {args.alpha}")
    if args.out is not None and Path(args.out).exists() and not Path(args.out).is_dir():
        raise CLIError(f"--out {args.out} exists and is not a folder; give a folder name")


def _analyze(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.base import clone

    _check_args(args)
    methods = resolve_methods(args.method) if args.method else None
    X, y, notes = _read_data(
        args.data, args.target, sep=args.sep, index_col=args.index_col, decimal=args.decimal
    )
    if methods is None:
        available = available_methods()
        methods = [(n, available[n]) for n in ANALYZE_METHODS if n in available]
    task, task_note = _task(y, args.task, args.target)
    notes.append(task_note)
    if len(X) < 10 * (X.shape[1] + 1):
        notes.append(
            f"only {len(X)} rows for {X.shape[1]} inputs: a network fitted to so few rows is "
            "unstable; read the test and the intervals, not the ranking alone"
        )
    for note in notes:
        _note(note)
    y_fit = (y - y.mean()) / y.std() if task == "regression" else y.astype(str)
    out = Path(args.out or f"{Path(args.data).stem}_sensitivity")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(f"cannot create the output folder {out}: {exc.strerror}") from exc
    net = _network(task, args.hidden, args.seed)
    user = clone(net).fit(X, y_fit)
    run = _Run(args, out, task, "R²" if task == "regression" else "accuracy", user.score(X, y_fit))
    sections = [
        run.method(name, cls, clone(net), X, y_fit)
        for name, cls in _progress(methods, "methods", args.quiet)
    ]
    lines = run.report_head(X, notes, user)
    shown: set[Path] = set()
    for name, cls_name, res, figures, net_fig, fit in sections:
        lines += run.report_section(name, cls_name, res, fit)
        if net_fig not in shown:
            lines += [f"![analysed network]({net_fig.name})", ""]
            shown.add(net_fig)
        lines += [f"![{name}]({f.name})" for f in figures] + [""]
    run.written.append(out / "report.md")
    run.written[-1].write_text("\n".join(lines), encoding="utf-8")
    print(f"Wrote {len(run.written)} files to {out}/: " + ", ".join(p.name for p in run.written))
    return 0


class _Run:
    """One ``sensitivity analyze`` run: fits each method, writes its tables and figures (the
    analysed networks drawn once each) and the sections of the report."""

    def __init__(self, args, out: Path, task: str, metric: str, user_score: float) -> None:
        self.args, self.out, self.task = args, out, task
        self.metric, self.user_score = metric, float(user_score)
        self.written: list[Path] = []
        self.drawn: dict[bytes, Path] = {}

    def network_figure(self, model, name: str) -> Path:
        import matplotlib.pyplot as plt

        from .plotting import plot_network

        key = _fingerprint(model)
        if key not in self.drawn:
            path = self.out / (f"{name}_network.png" if self.drawn else "network.png")
            names = [self.args.target] if self.task == "regression" else None
            fig = plot_network(model, output_names=names)
            fig.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(fig)
            self.written.append(path)
            self.drawn[key] = path
        return self.drawn[key]

    def method(self, name: str, cls: type, estimator, X, y_fit):
        """Fit one method; write its CSV, bar chart and null figures; warn if the analysed
        network fits much worse than the configured one."""
        import matplotlib.pyplot as plt

        from .plotting import plot_importance

        args = self.args
        extra = {} if args.permutations == 0 and args.bootstrap == 0 else {"null": args.null}
        sa = _make(
            cls,
            estimator,
            n_permutations=args.permutations,
            n_bootstrap=args.bootstrap,
            alpha=args.alpha,
            random_state=args.seed,
            verbose=0 if args.quiet else 1,
            **extra,
        ).fit(X, y_fit)
        res = sa.results_
        self.written.append(self.out / f"{name}.csv")
        res.to_csv(self.written[-1])
        fig = plot_importance(res, ylabel=YLABELS.get(cls.__name__))
        self.written.append(self.out / f"{name}.png")
        fig.savefig(self.written[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)
        figures = [self.written[-1], *_null_figures(sa, name, self.out)]
        self.written.extend(figures[1:])
        analysed = sa.estimator_
        fit = ((res.network or {}).get("fit") or {}).get("analysed", {}).get("train")
        if fit is None:
            fit = analysed.score(X, y_fit)
        if fit < self.user_score - UNDERFIT_MARGIN:
            warnings.warn(
                f"{res.method}: the analysed network fits much worse (training {self.metric} "
                f"{fit:.3f}) than the configured one ({self.user_score:.3f}); its importances "
                "describe an underfitted network",
                UserWarning,
                stacklevel=1,
            )
        if not args.quiet:
            print(res.summary(), end="\n\n")
        return name, cls.__name__, res, figures, self.network_figure(analysed, name), fit

    def report_head(self, X, notes: list[str], user) -> list[str]:
        from . import __version__
        from .adapters import describe_model

        args, task = self.args, self.task
        return [
            f"# Sensitivity analysis of `{Path(args.data).name}`",
            "",
            f"- Data: {len(X)} rows, {X.shape[1]} inputs ({', '.join(map(str, X.columns))}); "
            f"target `{args.target}` ({task}{', standardized' if task == 'regression' else ''}).",
            *[f"- Note: {n}." for n in notes],
            f"- Network as configured by the command line: {describe_model(user)} (L2 penalty "
            f"alpha = 1.0, lbfgs); training {self.metric} {self.user_score:.3f}.",
            f"- Randomization test: {args.permutations} permutations"
            + (f", null `{args.null}`, level {args.alpha:g}" if args.permutations else " (no test)")
            + f"; bootstrap: {args.bootstrap} resamples.",
            f"- Produced by `sensitivity analyze` (nn-sensitivity {__version__}).",
            "",
        ]

    def report_section(self, name: str, cls_name: str, res, fit: float) -> list[str]:
        lines = [f"## {res.method} (`{name}`)", ""]
        lines += [f"- {k}: {v}" for k, v in res.describe()]
        if not res.network:
            lines.append(
                f"- Analysed network: {res.model}; training {self.metric} {fit:.3f} (the network "
                "the importances and the test were computed on)"
            )
        if fit < self.user_score - UNDERFIT_MARGIN:
            lines.append(
                f"- **Warning**: the analysed network fits much worse (training {self.metric} "
                f"{fit:.3f}) than the configured one ({self.user_score:.3f}): these importances "
                "describe an underfitted network."
            )
        lines.append(f"- Statistic: {UNITS.get(cls_name, res.method)}.")
        return [*lines, "", res.to_markdown(), ""]


# ---------------------------------------------------------------------- parser
def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="sensitivity",
        description="Variable importance (sensitivity analysis) for neural networks.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s (nn-sensitivity) {__version__}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the analysis on scikit-learn's diabetes data")
    demo.add_argument("--hidden", type=int, default=10, help="hidden units (default 10)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--permutations",
        type=int,
        default=DEMO_PERMUTATIONS,
        help=f"randomization-test permutations (default {DEMO_PERMUTATIONS})",
    )
    demo.add_argument(
        "--null", choices=NULLS, default=None, help="the test's null (default: the estimators')"
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    an = sub.add_parser(
        "analyze",
        help="fit a network to a CSV file and write tables, plots and a report",
        description="Fit StandardScaler + a one-hidden-layer MLP to DATA (all columns but the "
        "target are inputs) and write, per method, a CSV table and a PNG chart, plus "
        "network.png and report.md, into the output folder. Constant input columns are "
        "dropped with a note; the task is inferred from the target with a note.",
    )
    an.add_argument("data", help="CSV file with a header row")
    an.add_argument("--target", required=True, help="name of the response column")
    an.add_argument(
        "--method",
        default=None,
        help="comma-separated methods (default: those available of "
        + ", ".join(ANALYZE_METHODS)
        + "); known: "
        + ", ".join(METHODS),
    )
    an.add_argument("--hidden", type=int, default=10, help="hidden units (default 10)")
    an.add_argument(
        "--permutations", type=int, default=999, help="randomization-test permutations (999)"
    )
    an.add_argument(
        "--null",
        choices=NULLS,
        default="conditional",
        help="conditional (default): per-variable test of y independent of x_j given the "
        "other inputs; variable: permute x_j alone; response: permute y, one global test",
    )
    an.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples (default 0)")
    an.add_argument("--alpha", type=float, default=0.05, help="test level (default 0.05)")
    an.add_argument(
        "--task",
        choices=("auto", "regression", "classification"),
        default="auto",
        help="auto: regression for a numeric target with more than two values, else "
        f"classification (at most {MAX_CLASSES} classes)",
    )
    an.add_argument("--sep", default=",", help="column separator (default ','; e.g. ';')")
    an.add_argument(
        "--decimal", default=".", help="decimal mark (default '.'; ',' for 3,14 in ';' files)"
    )
    an.add_argument(
        "--index-col",
        default=None,
        help="name or 0-based number of a column of row names (not an input); an unnamed "
        "first column of labels (R's write.csv) is taken as row names without it",
    )
    an.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    an.add_argument("--out", default=None, help="output folder (default: <data>_sensitivity)")
    an.add_argument("--quiet", action="store_true", help="no progress bars or printed tables")
    an.set_defaults(func=_analyze)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sensitivity`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        with _one_line_warnings():
            return int(args.func(args))
    except (CLIError, OSError, KeyError, ValueError, TypeError, NotImplementedError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"sensitivity: error: {message}", file=sys.stderr)
        return 2
