"""Command line: ``sensitivity demo`` and ``sensitivity analyze`` (also ``python -m sensitivity``).

Methods are found by name through :data:`METHODS`, which maps a command-line name to the name of
an estimator class of the :mod:`sensitivity` package; a method whose class the installed
package does not have is reported as unavailable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["DEMO_METHODS", "METHODS", "available_methods", "main", "resolve_methods"]

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

DEMO_PERMUTATIONS = 999
"""Permutations of the demo's randomization tests (``--permutations`` overrides)."""

ANALYZE_METHODS: tuple[str, ...] = ("olden", "dimopoulos", "miv", "garson")
"""What ``sensitivity analyze`` runs without ``--method`` (those available)."""


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


METHOD_SETTINGS: dict[str, dict[str, object]] = {
    # additive MIV: the multiplicative form is meaningless for variables centred near zero
    # (standardized or centred data, like the diabetes demo), and additive works in any units
    "MIV": {"perturbation": "additive"},
}
"""Method-specific settings the command line uses (by class name)."""


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
    for _name, cls in _progress(methods, "methods", args.quiet):
        sa = _make(
            cls,
            clone(net),
            n_permutations=args.permutations,
            random_state=args.seed,
            verbose=0 if args.quiet else 1,
        ).fit(X, y_std)
        print(sa.summary(), end="\n\n")
    return 0


# ---------------------------------------------------------------------- analyze
def _read_data(path: str, target: str) -> tuple[pd.DataFrame, pd.Series]:
    file = Path(path)
    if not file.is_file():
        raise CLIError(f"file not found: {path}")
    try:
        data = pd.read_csv(file)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise CLIError(f"cannot read {path} as CSV: {str(exc).splitlines()[0]}") from exc
    if target not in data.columns:
        raise CLIError(
            f"target column {target!r} not found in {path}; columns: "
            + ", ".join(map(str, data.columns))
        )
    X = data.drop(columns=[target])
    if X.shape[1] == 0:
        raise CLIError(f"{path} has no input column besides the target {target!r}")
    non_numeric = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    if non_numeric:
        raise CLIError(
            f"non-numeric column(s) in {path}: {', '.join(non_numeric)}; encode them as "
            "numbers or remove them"
        )
    bad = [str(c) for c in X.columns if not np.all(np.isfinite(X[c].to_numpy(dtype=float)))]
    if bad or data[target].isna().any():
        cols = bad + ([target] if data[target].isna().any() else [])
        raise CLIError(f"missing or infinite values in column(s): {', '.join(cols)}")
    return X.astype(float), data[target]


def _task(y: pd.Series, requested: str) -> str:
    if requested != "auto":
        return requested
    if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        return "regression"
    return "classification"


def _null_figures(sa, name: str, out: Path) -> list[Path]:
    """Histograms of the randomization null of each variable (first output), if one ran."""
    null = getattr(sa, "null_distribution_", None)
    if null is None:
        return []
    import matplotlib.pyplot as plt

    from .plotting import plot_null_distribution

    null = np.asarray(null, dtype=float)
    if null.ndim == 3:  # (n_permutations, n_outputs, n_features): first output
        null = null[:, 0, :]
    if null.ndim != 2:
        return []
    observed = np.asarray(sa.statistics_["importance"], dtype=float).reshape(-1, null.shape[1])[0]
    names = list(sa._feature_names)
    p_values = sa.importances_["p_value"]
    ncols = min(4, len(names))
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.4 * ncols, 2.6 * nrows), squeeze=False, constrained_layout=True
    )
    for ax in axes.ravel()[len(names) :]:
        ax.set_visible(False)
    for j, (ax, var) in enumerate(zip(axes.ravel(), names, strict=False)):
        p = p_values.xs(var, level=-1).iloc[0] if p_values.index.nlevels > 1 else p_values[var]
        plot_null_distribution(
            null[:, j], observed[j], ax=ax, variable=var, two_sided=sa._signed, p_value=p
        )
    path = out / f"{name}_null.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]


def _analyze(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.base import clone

    from . import __version__
    from .adapters import describe_model
    from .plotting import plot_importance, plot_network

    methods = resolve_methods(args.method) if args.method else None
    X, y = _read_data(args.data, args.target)
    if methods is None:
        available = available_methods()
        methods = [(n, available[n]) for n in ANALYZE_METHODS if n in available]
    if args.hidden < 1:
        raise CLIError(f"--hidden must be a positive integer; got {args.hidden}")
    if args.permutations < 0:
        raise CLIError(f"--permutations must be >= 0; got {args.permutations}")
    task = _task(y, args.task)
    if task == "regression":
        if not pd.api.types.is_numeric_dtype(y):
            raise CLIError(f"target {args.target!r} is not numeric; use --task classification")
        y_fit = (y - y.mean()) / y.std()
    else:
        y_fit = y.astype(str)
    out = Path(args.out or f"{Path(args.data).stem}_sensitivity")
    out.mkdir(parents=True, exist_ok=True)
    quiet = args.quiet
    net = _network(task, args.hidden, args.seed)

    fitted = clone(net).fit(X, y_fit)
    score = fitted.score(X, y_fit)
    written: list[Path] = []
    fig, ax = plt.subplots(figsize=(2.2 * 3 + 1.5, 0.55 * max(X.shape[1], args.hidden) + 1.5))
    plot_network(fitted, ax=ax)
    written.append(out / "network.png")
    fig.savefig(written[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    sections = []
    for name, cls in _progress(methods, "methods", quiet):
        sa = _make(
            cls,
            clone(net),
            n_permutations=args.permutations,
            n_bootstrap=args.bootstrap,
            alpha=args.alpha,
            random_state=args.seed,
            verbose=0 if quiet else 1,
        ).fit(X, y_fit)
        res = sa.results_
        written.append(out / f"{name}.csv")
        res.to_csv(written[-1])
        axes = plot_importance(sa.importances_)
        first = np.ravel(axes)[0]
        written.append(out / f"{name}.png")
        first.figure.savefig(written[-1], dpi=100, bbox_inches="tight")
        plt.close(first.figure)
        figures = [written[-1], *_null_figures(sa, name, out)]
        written.extend(figures[1:])
        sections.append((name, res, figures))
        if not quiet:
            print(res.summary(), end="\n\n")

    lines = [
        f"# Sensitivity analysis of `{Path(args.data).name}`",
        "",
        f"- Data: {len(X)} rows, {X.shape[1]} inputs ({', '.join(map(str, X.columns))}); "
        f"target `{args.target}` ({task}{', standardized' if task == 'regression' else ''}).",
        f"- Network: {describe_model(fitted)}; training "
        f"{'R²' if task == 'regression' else 'accuracy'} {score:.3f}.",
        f"- Randomization test: {args.permutations} permutations"
        + (f" (alpha {args.alpha:g})" if args.permutations else " (none)")
        + f"; bootstrap: {args.bootstrap} resamples.",
        f"- Produced by `sensitivity analyze` (nn-sensitivity {__version__}).",
        "",
        "![network](network.png)",
        "",
    ]
    for name, res, figures in sections:
        lines += [f"## {res.method} (`{name}`)", "", res.to_markdown(), ""]
        if res.tested:
            lines += ["Significance (adjusted p): *** < 0.001, ** < 0.01, * < 0.05, . < 0.1.", ""]
        lines += [*res.notes, ""] if res.notes else []
        lines += [f"![{name}]({f.name})" for f in figures] + [""]
    written.append(out / "report.md")
    written[-1].write_text("\n".join(lines), encoding="utf-8")
    print(f"Wrote {len(written)} files to {out}/: " + ", ".join(p.name for p in written))
    return 0


# ---------------------------------------------------------------------- parser
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensitivity",
        description="Variable importance (sensitivity analysis) for neural networks.",
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
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_demo)

    an = sub.add_parser(
        "analyze",
        help="fit a network to a CSV file and write tables, plots and a report",
        description="Fit StandardScaler + a one-hidden-layer MLP to DATA (all columns but the "
        "target are inputs) and write, per method, a CSV table and a PNG chart, plus "
        "network.png and report.md, into the output folder.",
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
    an.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples (default 0)")
    an.add_argument("--alpha", type=float, default=0.05, help="test level (default 0.05)")
    an.add_argument(
        "--task",
        choices=("auto", "regression", "classification"),
        default="auto",
        help="auto: regression for a numeric target, else classification",
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
        return int(args.func(args))
    except (CLIError, FileNotFoundError, KeyError, ValueError, TypeError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"sensitivity: error: {message}", file=sys.stderr)
        return 2
    except NotImplementedError as exc:
        print(f"sensitivity: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
