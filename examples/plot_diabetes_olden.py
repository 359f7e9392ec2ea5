"""
Olden and Garson on the diabetes data
=====================================

Fit a small network to scikit-learn's diabetes data (442 patients, 10 baseline variables) and
rank the variables by Olden's connection weights (signed) and Garson's algorithm (magnitudes).
"""

import matplotlib.pyplot as plt
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensitivity import Garson, Olden, load_diabetes
from sensitivity.plotting import plot_importance, plot_network

X, y = load_diabetes()
y = (y - y.mean()) / y.std()
net = make_pipeline(
    StandardScaler(),
    MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", alpha=1.0, max_iter=2000, random_state=0),
)

# %%
# Olden's importance is the sum over paths of the products of the weights; the wrapped
# network is fitted by ``fit``.
olden = Olden(net).fit(X, y)
print(olden.summary())

# %%
# Garson's algorithm on the same fitted network (``prefit=True``).
garson = Garson(olden.estimator_, prefit=True).fit(X)
print(garson.importances_[["importance", "rank"]])

# %%
# Ranked bar charts: Olden's bars are coloured by sign.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
plot_importance(olden.importances_, ax=axes[0])
plot_importance(garson.importances_, ax=axes[1])

# %%
# The network itself: line width by absolute weight, colour by sign.
plot_network(olden.estimator_)
plt.show()
