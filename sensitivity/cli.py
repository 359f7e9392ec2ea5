"""Command line: ``sensitivity demo`` (and ``python -m sensitivity``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from . import Garson, Olden, load_diabetes

    X, y = load_diabetes()
    net = make_pipeline(
        StandardScaler(),
        MLPRegressor(
            hidden_layer_sizes=(args.hidden,),
            alpha=1.0,
            solver="lbfgs",
            max_iter=2000,
            random_state=args.seed,
        ),
    )
    y_std = (y - y.mean()) / y.std()
    print(f"Diabetes data: {X.shape[0]} patients, {X.shape[1]} variables; target {y.name}.")
    print(f"Network: StandardScaler + MLPRegressor(hidden_layer_sizes=({args.hidden},)).\n")
    olden = Olden(net).fit(X, y_std)
    print(f"Training R^2: {olden.score(X, y_std):.3f}\n")
    cols = ["importance", "relative_importance", "rank", "direction", "p_value", "p_adjusted"]
    with pd.option_context("display.width", 120, "display.precision", 4):
        print("Olden (connection weights, signed):")
        print(olden.importances_[cols].to_string(), "\n")
        garson = Garson(olden.estimator_, prefit=True).fit(X)
        print("Garson (Goh 1995 form, magnitudes):")
        print(garson.importances_[cols[:3] + cols[4:]].to_string())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensitivity",
        description="Variable importance (sensitivity analysis) for neural networks.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the analysis on scikit-learn's diabetes data")
    demo.add_argument("--hidden", type=int, default=10, help="hidden units (default 10)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sensitivity`` command."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, KeyError, ValueError, TypeError) as exc:
        print(f"sensitivity: error: {exc}", file=sys.stderr)
        return 2
