"""Method comparison on simulated data with known truth (Olden, Joy & Death 2004 style).

For three designs with known variable importance, several data sets each, every method ranks
the variables of one network (and of an ensemble of networks trained from different initial
weights); we report the Spearman correlation of the estimated ranking with the true one and, for
the methods run with the randomization test, the fraction of true variables flagged (power) and
of noise variables flagged (false positives).

Run (regenerates ``docs/comparison.rst``, ``docs/_static/comparison.png`` and
``benchmarks/results/accuracy.csv``)::

    python benchmarks/accuracy.py

``--seeds``, ``--permutations`` and ``--ensemble`` change the settings (printed on the page).
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.datasets import make_classification, make_friedman1
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sensitivity as sa

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------- designs
@dataclass
class DataSet:
    X: np.ndarray
    y: np.ndarray
    truth: np.ndarray  # true importance per variable (0 = noise)
    classification: bool


def linear_design(seed: int) -> DataSet:
    """8 predictors, pairwise correlation 0.3, coefficients of decreasing size, one at zero."""
    rng = np.random.default_rng(seed)
    p, n, rho = 8, 200, 0.3
    cov = np.full((p, p), rho) + (1 - rho) * np.eye(p)
    X = rng.multivariate_normal(np.zeros(p), cov, size=n)
    beta = np.array([1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.0])
    y = X @ beta + rng.normal(size=n)
    return DataSet(X, y, np.abs(beta), False)


def _friedman_total_effects(n: int = 200_000, seed: int = 12345) -> np.ndarray:
    """Total-effect Sobol indices of Friedman's function (Jansen's Monte Carlo estimator)."""

    def f(U):
        return (
            10 * np.sin(np.pi * U[:, 0] * U[:, 1])
            + 20 * (U[:, 2] - 0.5) ** 2
            + 10 * U[:, 3]
            + 5 * U[:, 4]
        )

    rng = np.random.default_rng(seed)
    A, B = rng.uniform(size=(n, 10)), rng.uniform(size=(n, 10))
    fA = f(A)
    total = np.zeros(10)
    for i in range(5):  # x6..x10 do not enter f: exactly 0
        ABi = A.copy()
        ABi[:, i] = B[:, i]
        total[i] = 0.5 * np.mean((fA - f(ABi)) ** 2) / fA.var()
    return total


FRIEDMAN_TRUTH = _friedman_total_effects()


def friedman_design(seed: int) -> DataSet:
    """make_friedman1, n = 500, noise 1: x1-x5 matter (x3 through a symmetric quadratic)."""
    X, y = make_friedman1(n_samples=500, noise=1.0, random_state=seed)
    return DataSet(X, y, FRIEDMAN_TRUTH, False)


def classification_design(seed: int) -> DataSet:
    """make_classification: 8 features, the first 3 informative, the rest noise; 2 classes."""
    X, y = make_classification(
        n_samples=500,
        n_features=8,
        n_informative=3,
        n_redundant=0,
        n_repeated=0,
        n_classes=2,
        shuffle=False,
        class_sep=1.0,
        random_state=seed,
    )
    return DataSet(X, y, np.r_[np.ones(3), np.zeros(5)], True)


DESIGNS: dict[str, Callable[[int], DataSet]] = {
    "linear (n=200, p=8, r=0.3)": linear_design,
    "friedman1 (n=500, p=10)": friedman_design,
    "classification (n=500, p=8)": classification_design,
}


# ---------------------------------------------------------------------- networks and methods
def network(data: DataSet, seed: int):
    if data.classification:
        net = MLPClassifier(
            hidden_layer_sizes=(10,), solver="lbfgs", alpha=1.0, max_iter=2000, random_state=seed
        )
    else:
        net = MLPRegressor(
            hidden_layer_sizes=(10,), solver="lbfgs", alpha=1.0, max_iter=2000, random_state=seed
        )
    return make_pipeline(StandardScaler(), net)


def target(data: DataSet) -> np.ndarray:
    return data.y if data.classification else (data.y - data.y.mean()) / data.y.std()


# name -> (estimator factory(network, **common), can be tested)
METHODS: dict[str, Callable] = {
    "Garson (goh)": lambda net, **kw: sa.Garson(net, variant="goh", **kw),
    "Garson (gevrey)": lambda net, **kw: sa.Garson(net, variant="gevrey", **kw),
    "Olden": lambda net, **kw: sa.Olden(net, **kw),
    "Dimopoulos ssd": lambda net, **kw: sa.Dimopoulos(net, statistic="ssd", **kw),
    "Dimopoulos mean": lambda net, **kw: sa.Dimopoulos(net, statistic="mean", **kw),
    "MIV (additive)": lambda net, **kw: sa.MIV(net, perturbation="additive", **kw),
    "Input perturbation": lambda net, **kw: sa.InputPerturbation(net, **kw),
    "Lek profile": lambda net, **kw: sa.LekProfile(net, **kw),
    "Permutation": lambda net, **kw: sa.PermutationImportance(net, **kw),
}
TESTED = ("Garson (goh)", "Olden", "Dimopoulos ssd", "MIV (additive)")


def importance_vector(est, n_features: int) -> np.ndarray:
    """|importance| per variable in input order (first output for several)."""
    frame = est.importances_
    if frame.index.nlevels > 1:
        frame = frame.xs(frame.index.get_level_values(0)[0], level=0)
    return np.abs(frame["importance"].reindex([f"x{i}" for i in range(n_features)]).to_numpy())


def run(seeds: int, permutations: int, ensemble: int, null: str) -> pd.DataFrame:
    rows = []
    for design, make in DESIGNS.items():
        for seed in range(seeds):
            data = make(seed)
            p = data.X.shape[1]
            yt = target(data)
            nets = [clone(network(data, seed * 100 + k)).fit(data.X, yt) for k in range(ensemble)]
            for name, factory in METHODS.items():
                imps = [
                    importance_vector(factory(net, prefit=True).fit(data.X, yt), p) for net in nets
                ]
                rho_single = spearmanr(imps[0], data.truth).statistic
                rho_ens = spearmanr(np.mean(imps, axis=0), data.truth).statistic
                power = fp = np.nan
                if permutations and name in TESTED:
                    est = factory(
                        network(data, seed),
                        n_permutations=permutations,
                        null=null,
                        random_state=seed,
                    ).fit(data.X, yt)
                    flagged = (
                        est.importances_["significant"]
                        .reindex([f"x{i}" for i in range(p)])
                        .to_numpy(dtype=bool)
                    )
                    power = flagged[data.truth > 0].mean()
                    fp = flagged[data.truth == 0].mean() if np.any(data.truth == 0) else np.nan
                rows.append(
                    dict(
                        design=design,
                        seed=seed,
                        method=name,
                        spearman=rho_single,
                        spearman_ensemble=rho_ens,
                        power=power,
                        false_positive=fp,
                    )
                )
    return pd.DataFrame(rows)


def best_attainable() -> dict[str, float]:
    """The largest Spearman correlation a ranking can reach when the truth has ties (noise
    variables all 0): every variable ranked in the true order, ties broken arbitrarily."""
    out = {}
    for design, make in DESIGNS.items():
        truth = make(0).truth
        out[design] = spearmanr(truth + 1e-9 * np.arange(truth.size), truth).statistic
    return out


def table(results: pd.DataFrame) -> pd.DataFrame:
    agg = results.groupby(["method", "design"], sort=False).agg(
        spearman=("spearman", "mean"),
        ensemble=("spearman_ensemble", "mean"),
        power=("power", "mean"),
        false_pos=("false_positive", "mean"),
    )
    return agg.unstack("design").reindex(list(METHODS))


def recommendations(tab: pd.DataFrame) -> list[str]:
    """The "which method for which question" table of the page, with the evidence of this
    run (mean Spearman correlations and test rates read from ``tab``)."""
    lin, fri, cls = list(DESIGNS)

    def sp(method: str, design: str) -> str:
        return f"{tab.loc[method, ('spearman', design)]:.2f}"

    def rate(method: str, design: str, col: str) -> str:
        v = tab.loc[method, (col, design)]
        return "n/a" if pd.isna(v) else f"{v:.2f}"

    rows = [
        (
            "Rank the inputs of a regression network (correlated inputs)",
            "Dimopoulos ``ssd`` (``scale='sd'`` for inputs in different units), "
            "permutation importance, MIV (additive)",
            f"linear design: Spearman {sp('Dimopoulos ssd', lin)}, {sp('Permutation', lin)}, "
            f"{sp('MIV (additive)', lin)}; Garson {sp('Garson (goh)', lin)}, Olden "
            f"{sp('Olden', lin)}",
        ),
        (
            "Find non-monotone effects (a U-shape, a sign that changes)",
            "a magnitude: Dimopoulos ``ssd``, Lek's profile, permutation importance",
            f"friedman1 (x3 enters as (x3 - 0.5)²): Lek {sp('Lek profile', fri)}, permutation "
            f"{sp('Permutation', fri)}, ssd {sp('Dimopoulos ssd', fri)}; signed Olden "
            f"{sp('Olden', fri)}",
        ),
        (
            "Direction of an effect",
            "Dimopoulos ``statistic='mean'`` or MIV (additive), with bootstrap intervals "
            "(``n_bootstrap``)",
            f"linear design: mean derivative {sp('Dimopoulos mean', lin)}, MIV "
            f"{sp('MIV (additive)', lin)}; a sign is meaningful only where the effect is "
            "monotone and the interval excludes 0",
        ),
        (
            "Rank the inputs of a classifier",
            "Dimopoulos ``ssd``, input perturbation, permutation importance, Garson",
            f"classification: {sp('Dimopoulos ssd', cls)}, {sp('Input perturbation', cls)}, "
            f"{sp('Permutation', cls)}, {sp('Garson (goh)', cls)}; the mean derivative "
            f"{sp('Dimopoulos mean', cls)} and Lek {sp('Lek profile', cls)} do worse",
        ),
        (
            "Which inputs matter (a test per input)",
            "a conditional per-variable test (the default; see :doc:`which_test`); not "
            "``null='response'``, which tests only whether any input matters",
            f"this page tests ``null='variable'`` only: it flags a no-effect input correlated "
            f"with real ones (false positive rate {rate('Dimopoulos ssd', lin, 'false_pos')} "
            f"in the linear design, power {rate('Dimopoulos ssd', lin, 'power')}); the "
            "per-variable tests' level and power: :doc:`which_test`",
        ),
        (
            "A model that is not an MLP (any ``predict``)",
            "permutation importance, input perturbation, MIV, Lek's profile",
            "they need only predictions; the weight methods (Garson, Olden) need an MLP",
        ),
    ]
    out = [
        "Which method for which question",
        "-------------------------------",
        "",
        "The evidence column quotes this page's run (mean Spearman correlation with the truth, "
        "or test rates); the designs are small, so differences below about two standard errors "
        "(see the tables) are not evidence.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 25 35 40",
        "",
        "   * - question",
        "     - use",
        "     - evidence (this page)",
    ]
    for question, use, evidence in rows:
        out += [f"   * - {question}", f"     - {use}", f"     - {evidence}"]
    return [*out, ""]


def write_page(
    results: pd.DataFrame, settings: str, seconds: float, out: Path, null: str = "variable"
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tab = table(results)
    designs = list(DESIGNS)
    # plot: mean Spearman per method and design, error bars = standard error over the data
    # sets, every data set as a dot; designs told apart by hatching as well as colour
    spread = results.groupby(["method", "design"], sort=False)["spearman"]
    sem = (spread.std(ddof=1) / np.sqrt(spread.count())).unstack("design").reindex(list(METHODS))
    fig, ax = plt.subplots(figsize=(9, 4.8), layout="constrained")
    width = 0.8 / len(designs)
    x = np.arange(len(METHODS))
    hatches = ["", "///", "..."]
    for k, d in enumerate(designs):
        ax.bar(
            x + k * width,
            tab[("spearman", d)],
            width,
            yerr=sem[d],
            capsize=2,
            error_kw={"lw": 0.8},
            label=d,
            hatch=hatches[k % len(hatches)],
            edgecolor="black",
            linewidth=0.5,
        )
        for i, m in enumerate(METHODS):
            vals = results.loc[(results.method == m) & (results.design == d), "spearman"]
            ax.plot(
                np.full(len(vals), x[i] + k * width),
                vals,
                "o",
                ms=2.5,
                color="black",
                alpha=0.6,
                zorder=3,
            )
    ax.set_xticks(x + width * (len(designs) - 1) / 2, list(METHODS), rotation=35, ha="right")
    n_sets = int(results.groupby("design")["seed"].nunique().min())
    ax.set_ylabel("Spearman correlation with the truth")
    ax.set_title(
        f"bars: mean over {n_sets} data sets, error bars: ±1 standard error, dots: data sets",
        fontsize=9,
    )
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylim(min(0.0, float(results["spearman"].min())) - 0.05, 1.05)
    ax.legend(fontsize=8, loc="lower left")
    (out / "_static").mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "_static" / "comparison.png", dpi=110)
    plt.close(fig)

    def fmt(v):
        return "" if pd.isna(v) else f"{v:.2f}"

    lines = [
        "Method comparison on data with known truth",
        "==========================================",
        "",
        ".. This page is generated by ``python benchmarks/accuracy.py``; do not edit by hand.",
        "",
        "How well does each method recover the true importance of the variables? Following Olden,",
        "Joy & Death (2004), we simulate data whose true importance is known, fit a network, and",
        "compare the ranking each method gives with the truth (Spearman correlation; 1 = the",
        "exact true order). Regenerate everything on this page with one command::",
        "",
        "    python benchmarks/accuracy.py",
        "",
        f"Settings: {settings}. Run time: {seconds / 60:.1f} min on a 2-core machine.",
        "",
        "Designs:",
        "",
        "* **linear**: 8 standard normal predictors with pairwise correlation 0.3,",
        "  y = Xβ + N(0, 1) with β = (1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0); truth: the",
        "  absolute values of β.",
        "* **friedman1**: scikit-learn's ``make_friedman1`` (noise 1); truth = total-effect",
        "  Sobol indices of Friedman's function computed by Monte Carlo (x4 > x1 = x2 > x3 > x5;",
        "  x6-x10 are 0). x3 acts through the symmetric (x3 - 0.5)².",
        "* **classification**: ``make_classification`` with 8 features, the first 3 informative;",
        "  truth = 1 for informative, 0 for noise.",
        "",
        "Network: ``StandardScaler`` + ``MLPRegressor``/``MLPClassifier(hidden_layer_sizes=(10,),"
        " solver='lbfgs', alpha=1.0)``, regression targets standardized.",
        "",
        "Columns: *spearman*: mean Spearman correlation of one network's ranking with the truth",
        "(± its standard error over the data sets);",
        "*ensemble*: the same for the importance averaged over the networks of the ensemble;",
        "*power* / *false pos.*: fraction of true / noise variables with adjusted p <= 0.05 in the",
        f"randomization test with ``null='{null}'`` (methods run with a test only). Each cell",
        "averages the data sets (seeds) of its design: see the settings.",
        "",
        f"**These test columns are for** ``null='{null}'`` **only**, not for the default",
        "per-variable test: the level and power of the per-variable tests (the held-out",
        "conditional test, the conditional randomization test, leave-one-covariate-out) are in",
        ":doc:`which_test`.",
        "",
        "Reading the table. Connection weights of the first layer (Garson) rank poorly when",
        "predictors are correlated, as Olden, Joy & Death (2004) found; the derivative and",
        "prediction-based methods track the truth best. Signed statistics (Olden, the mean",
        "derivative, MIV) cannot see the symmetric effect of x3 in friedman1 nor effects whose",
        "sign changes. The test is ``null='variable'``, which permutes one input at a time: it",
        "tests whether the input is independent of the response *and of the other inputs*, so",
        "with correlated predictors a variable with no effect of its own but correlated with",
        "real ones is flagged (the linear design's false positives); ``null='response'`` tests",
        "only the global null. Neither is a test of a conditional effect.",
        "",
        *recommendations(tab),
        ".. image:: _static/comparison.png",
        "   :alt: mean Spearman correlation per method and design, with standard errors",
        "",
    ]
    best = best_attainable()
    for d in designs:
        lines += [d, "-" * len(d), ""]
        lines += [
            f"Largest attainable Spearman correlation (ties in the truth): {best[d]:.2f}.",
            "",
        ]
        lines += [".. list-table::", "   :header-rows: 1", ""]
        lines += [
            "   * - method",
            "     - spearman",
            "     - ensemble",
            "     - power",
            "     - false pos.",
        ]
        for m in METHODS:
            vals = [tab.loc[m, (c, d)] for c in ("spearman", "ensemble", "power", "false_pos")]
            cells = [fmt(v) for v in vals]
            cells[0] += f" ± {sem.loc[m, d]:.2f}" if np.isfinite(sem.loc[m, d]) else ""
            lines += [f"   * - {m}"] + [f"     - {c}" for c in cells]
        lines.append("")
    (out / "comparison.rst").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="data sets per design")
    parser.add_argument(
        "--permutations",
        type=int,
        default=499,
        help="test permutations (Holm over p variables needs (1 + B) >= p / 0.05)",
    )
    parser.add_argument("--ensemble", type=int, default=5, help="networks per ensemble")
    parser.add_argument(
        "--null",
        default="variable",
        choices=("variable", "response"),
        help="the test's null (variable: the per-variable test; response: the global test)",
    )
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    results = run(args.seeds, args.permutations, args.ensemble, args.null)
    seconds = time.perf_counter() - t0
    settings = (
        f"{args.seeds} data sets per design, ensembles of {args.ensemble} networks, "
        f"{args.permutations} permutations (null='{args.null}', Holm adjustment) for "
        f"{', '.join(TESTED)}"
    )
    out_csv = ROOT / "benchmarks" / "results"
    out_csv.mkdir(exist_ok=True)
    results.to_csv(out_csv / "accuracy.csv", index=False)
    write_page(results, settings, seconds, args.docs, args.null)
    with pd.option_context("display.width", 200, "display.precision", 2):
        print(settings)
        print(table(results).to_string())
    print(f"\n{seconds:.0f} s")


if __name__ == "__main__":
    main()
