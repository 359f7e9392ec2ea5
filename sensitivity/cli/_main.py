"""The argument parser, ``sensitivity demo`` and the entry point :func:`main`.

The arguments are read before anything heavy is imported: ``--version``, ``--help`` and an
argument error answer without loading numpy, pandas, torch, scikit-learn or matplotlib; each
command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator, Sequence

from ._common import (
    ANALYZE_METHODS,
    DEMO_METHODS,
    DEMO_PERMUTATIONS,
    MAX_CLASSES,
    METHODS,
    NULLS,
    CLIError,
    _make,
    _network,
    _network_bars,
    _progress,
    available_methods,
)


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


# ---------------------------------------------------------------------- analyze
def _analyze(args: argparse.Namespace) -> int:
    from ._analyze import _analyze as run

    return run(args)


# ---------------------------------------------------------------------- demo
def _demo(args: argparse.Namespace) -> int:
    from sklearn.base import clone

    from .. import load_diabetes

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
            verbose=_network_bars(args.quiet),
            **extra,
        ).fit(X, y_std)
        print(sa.summary(), end="\n\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    from .. import __version__

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
        help=f"draws per variable of the test (default {DEMO_PERMUTATIONS})",
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
        "--permutations", type=int, default=999, help="draws per variable of the test (999)"
    )
    an.add_argument(
        "--null",
        choices=NULLS,
        default="holdout",
        help="holdout (default): per-variable held-out conditional test of y independent of "
        "x_j given the other inputs, on clones of the network cross-fitted on 5 folds; "
        "conditional: the same null by retraining networks on conditional draws; loco: "
        "refit without x_j (E[y|X] = E[y|X_-j]); variable: permute x_j alone; response: "
        "permute y, one global test",
    )
    an.add_argument(
        "--no-early-stop",
        action="store_true",
        help="every variable gets every draw (default: with 399 draws or more, a variable "
        "whose p-value after 99 draws exceeds 0.2 stops there; exact, see the docs)",
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
    an.add_argument(
        "--numeric-names",
        action="store_true",
        help="accept column names that are numbers (refused by default: such a first row is "
        "usually data or a metadata line, not a header)",
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
