"""Regenerate the README's example output and figure (``docs/_static/readme_olden.png``).

Run from the repository root: ``python docs/make_readme_example.py``; paste the printed table
and time into README.md.
"""

import time

import matplotlib

matplotlib.use("Agg")

from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sensitivity import Olden, load_diabetes  # noqa: E402

X, y = load_diabetes()
net = make_pipeline(
    StandardScaler(),
    MLPRegressor(
        hidden_layer_sizes=(10,), solver="lbfgs", alpha=10.0, max_iter=2000, random_state=0
    ),
)
t0 = time.perf_counter()
sa = Olden(net, n_permutations=999, random_state=0).fit(X, y)
print(sa.summary())
print(f"fit and summary: {time.perf_counter() - t0:.1f} s")
fig = sa.results_.plot()
fig.set_size_inches(9, 3.5)
fig.savefig("docs/_static/readme_olden.png", dpi=100)
