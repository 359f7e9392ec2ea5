"""``sensitivity analyze``: fit each method, write its tables and figures and the report."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ._common import (
    ANALYZE_METHODS,
    UNDERFIT_MARGIN,
    UNITS,
    YLABELS,
    CLIError,
    _make,
    _network,
    _network_bars,
    _note,
    _progress,
    available_methods,
    resolve_methods,
)
from ._data import _read_data, _task


def _null_figures(sa, name: str, out: Path) -> list[Path]:
    """Histograms of the randomization null of each variable (first output), if per-variable
    p-values were computed."""
    res = sa.results_
    null = getattr(sa, "null_distribution_", None)
    if null is None or not res.tested:
        return []
    import matplotlib.pyplot as plt

    from ..plotting import plot_null_distribution

    null = np.asarray(null, dtype=float)
    if sa.holdout_test_ is not None:
        return [_heldout_figure(sa, null, name, out)]
    if null.ndim == 3:  # (n_permutations, n_outputs, n_features): first output
        null = null[:, 0, :]
    names = [str(v) for v in sa.feature_names_in_]
    if null.ndim != 2 or null.shape[1] != len(names):
        return []
    # the statistic the p-value compares with the null: for the per-variable nulls that of
    # variable j's own block (its penalty and evaluation rows), not the analysed network's
    tested = (sa.inference_ or {}).get("tested_statistic")
    source = sa.statistics_["importance"] if tested is None else tested
    observed = np.asarray(source, dtype=float).reshape(-1, null.shape[1])[0]
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
    # a variable stopped by the two-stage test has its first-stage draws only (NaN after)
    n_draws = (sa.inference_ or {}).get("n_draws")
    for j, (ax, var) in enumerate(zip(axes.ravel(), names, strict=False)):
        p_adj = frame.loc[var, "p_adjusted"]
        drawn = len(null) if n_draws is None else int(n_draws[j])
        plot_null_distribution(
            null[:drawn, j],
            observed[j],
            ax=ax,
            variable=var if drawn == len(null) else f"{var} (stopped after {drawn} draws)",
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


def _heldout_figure(sa, increases, name: str, out: Path) -> Path:
    """The held-out test's draws of each tested variable (loss increase per draw; the real
    column at 0, their mean the table's loss_increase)."""
    import matplotlib.pyplot as plt

    from ..plotting import plot_heldout_draws

    frame = sa.importances_
    if frame.index.nlevels > 1:
        frame = frame.xs(frame.index.get_level_values(0)[0], level=0)
    names = [str(v) for v in sa.variable_names_]
    tested = [j for j, v in enumerate(names) if np.isfinite(increases[:, j]).all()]
    ncols = min(4, max(1, len(tested)))
    nrows = max(1, -(-len(tested) // ncols))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.4 * ncols, 2.6 * nrows), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel()[len(tested) :]:
        ax.set_visible(False)
    for ax, j in zip(axes.ravel(), tested, strict=False):
        var = names[j]
        p_adj = frame.loc[var, "p_adjusted"]
        plot_heldout_draws(
            increases[:, j],
            ax=ax,
            variable=var,
            p_value=frame.loc[var, "p_value"],
            p_adjusted=None if pd.isna(p_adj) else p_adj,
        )
    fig.suptitle(f"{sa.results_.method}: held-out conditional test, draws of each variable")
    path = out / f"{name}_null.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _fingerprint(model) -> bytes:
    """Bytes identifying a fitted network's weights (to draw each distinct network once)."""
    from ..adapters import to_mlp_batch

    coefs, intercepts = to_mlp_batch(model).numpy_weights()
    return b"".join(np.ascontiguousarray(a, dtype=np.float64).tobytes() for a in coefs + intercepts)


def _check_args(args: argparse.Namespace) -> None:
    if args.hidden < 1:
        raise CLIError(f"--hidden must be a positive integer; got {args.hidden}")
    if args.permutations < 0:
        raise CLIError(f"--permutations must be >= 0; got {args.permutations}")
    if args.bootstrap < 0:
        raise CLIError(f"--bootstrap must be >= 0; got {args.bootstrap}")
    if args.bootstrap and args.null in ("holdout", "loco"):
        raise CLIError(
            f"--bootstrap retrains networks on resampled rows, which --null {args.null} does "
            "not do; add --null conditional for bootstrap intervals, or drop --bootstrap"
        )
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
        args.data,
        args.target,
        sep=args.sep,
        index_col=args.index_col,
        decimal=args.decimal,
        numeric_names=args.numeric_names,
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

        from ..plotting import plot_network

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

        from ..plotting import plot_importance

        args = self.args
        extra = {} if args.permutations == 0 and args.bootstrap == 0 else {"null": args.null}
        if args.no_early_stop:
            extra["early_stop"] = False
        sa = _make(
            cls,
            estimator,
            n_permutations=args.permutations,
            n_bootstrap=args.bootstrap,
            alpha=args.alpha,
            random_state=args.seed,
            verbose=_network_bars(args.quiet),
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
        gap = self.fit_gap(res, fit)
        if gap:
            warnings.warn(
                f"{res.method}: the analysed network {gap}; its importances describe an "
                "underfitted network",
                UserWarning,
                stacklevel=1,
            )
        if not args.quiet:
            print(res.summary(), end="\n\n")
        return name, cls.__name__, res, figures, self.network_figure(analysed, name), fit

    def fit_gap(self, res, fit: float) -> str | None:
        """The words "fits much worse (...) than the configured one (...)" when the analysed
        network does, comparing the cross-validated fits where both were measured
        (``fit_comparison``), else the training fits; None when it does not."""
        from ..inference.runner import FIT_KIND_WORDS, fit_comparison

        compared = fit_comparison((res.network or {}).get("fit") or {})
        kind, analysed, user = compared or ("train", fit, self.user_score)
        if analysed >= user - UNDERFIT_MARGIN:
            return None
        return (
            f"fits much worse ({FIT_KIND_WORDS[kind]} {self.metric} {analysed:.3f}) than the "
            f"configured one ({user:.3f})"
        )

    def report_head(self, X, notes: list[str], user) -> list[str]:
        from .. import __version__
        from ..adapters import describe_model

        args, task = self.args, self.task
        return [
            f"# Sensitivity analysis of `{Path(args.data).name}`",
            "",
            f"- Data: {len(X)} rows, {X.shape[1]} inputs ({', '.join(map(str, X.columns))}); "
            f"target `{args.target}` ({task}{', standardized' if task == 'regression' else ''}).",
            *[f"- Note: {n}." for n in notes],
            f"- Network as configured by the command line: {describe_model(user)} (L2 penalty "
            f"alpha = 1.0, lbfgs); training {self.metric} {self.user_score:.3f}.",
            f"- Test: {args.permutations} draws per variable"
            + (f", null `{args.null}`, level {args.alpha:g}" if args.permutations else " (no test)")
            + f"; bootstrap: {args.bootstrap} resamples.",
            f"- Produced by `sensitivity analyze` (nn-sensitivity {__version__}).",
            "",
        ]

    def report_section(self, name: str, cls_name: str, res, fit: float) -> list[str]:
        lines = [f"## {res.method} (`{name}`)", ""]
        lines += [f"- {k}: {v}" for k, v in res.describe()]
        if not res.network:
            what = (
                "the importances were computed on; the test's columns describe clones of it, "
                "see Columns below the table"
                if res.null in ("holdout", "loco")
                else "the importances and the test were computed on"
            )
            lines.append(
                f"- Analysed network: {res.model}; training {self.metric} {fit:.3f} (the network "
                f"{what})"
            )
        gap = self.fit_gap(res, fit)
        if gap:
            lines.append(
                f"- **Warning**: the analysed network {gap}: these importances describe an "
                "underfitted network."
            )
        lines.append(f"- Statistic: {UNITS.get(cls_name, res.method)}.")
        return [*lines, "", res.to_markdown(), ""]
