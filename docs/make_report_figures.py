"""Regenerate the figures and the compiled-table image of ``docs/reporting.rst``.

Run from the repository root: ``python docs/make_report_figures.py``. Writes
``docs/_static/report_*.png``; the table image needs ``pdflatex`` and ``pdftoppm`` (Debian
packages ``texlive-latex-base`` and ``poppler-utils``) and is skipped without them.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_wine  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sensitivity import Dimopoulos, Garson, Olden, load_diabetes  # noqa: E402
from sensitivity.plotting import plot_importance, plot_network, plot_null_distribution  # noqa: E402

STATIC = Path(__file__).resolve().parent / "_static"


def save(fig, name: str) -> None:
    fig.savefig(STATIC / name, dpi=90, bbox_inches="tight")
    plt.close(fig)
    print("wrote", STATIC / name)


X, y = load_diabetes()
y = (y - y.mean()) / y.std()
net = make_pipeline(
    StandardScaler(),
    MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", alpha=1.0, max_iter=2000, random_state=0),
)
# the conditional randomization test (the per-variable test these figures and the table show;
# the default null when they were made), 199 draws per variable
olden = Olden(net, n_permutations=199, n_bootstrap=99, null="conditional", random_state=0)
olden.fit(X, y)
save(plot_importance(olden.results_), "report_importance.png")
pad = Dimopoulos(net, scale="sd").fit(X, y)
save(plot_importance(pad.results_), "report_pad.png")
j = list(olden.feature_names_in_).index("bmi")
save(
    plot_null_distribution(
        olden.null_distribution_[:, 0, j],
        olden.statistics_["importance"][0, j],
        variable="bmi",
        two_sided=True,
        p_value=olden.importances_.loc["bmi", "p_value"],
        p_adjusted=olden.importances_.loc["bmi", "p_adjusted"],
        statistic="Olden importance",
    ),
    "report_null.png",
)
save(plot_network(olden.estimator_, output_names=["progression (sd)"]), "report_network.png")
wine = load_wine(as_frame=True)
cls = make_pipeline(
    StandardScaler(),
    MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs", alpha=1.0, max_iter=2000, random_state=0),
)
Xw = wine.data.iloc[:, :6]
yw = np.asarray(wine.target_names)[wine.target]
save(plot_importance(Garson(cls).fit(Xw, yw).results_), "report_multiclass.png")

if shutil.which("pdflatex") and shutil.which("pdftoppm"):
    table = olden.results_.to_latex(label="tab:olden")
    doc = (
        "\\documentclass{article}\n"
        "\\IfFileExists{booktabs.sty}{\\usepackage{booktabs}}{\\newcommand\\toprule{\\hline}"
        "\\newcommand\\midrule{\\hline}\\newcommand\\bottomrule{\\hline}}\n"
        "\\pagestyle{empty}\n\\begin{document}\n" + table + "\n\\end{document}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "t.tex").write_text(doc, encoding="utf-8")
        subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
            cwd=tmp,
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["pdftoppm", "-png", "-r", "110", "-singlefile", "t.pdf", "table"],
            cwd=tmp,
            check=True,
        )
        from PIL import Image

        img = Image.open(Path(tmp) / "table.png")
        gray = np.asarray(img.convert("L"))
        rows = np.flatnonzero((gray < 250).any(axis=1))
        cols = np.flatnonzero((gray < 250).any(axis=0))
        box = (cols[0] - 20, rows[0] - 20, cols[-1] + 20, rows[-1] + 20)
        img.crop(box).save(STATIC / "report_table.png")
        print("wrote", STATIC / "report_table.png")
else:
    print("pdflatex or pdftoppm missing: report_table.png not regenerated")
