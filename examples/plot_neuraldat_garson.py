"""
Garson's two variants on NeuralNetTools' neuraldat
==================================================

``neuraldat`` is the simulated example data of R's NeuralNetTools (Beck 2018): responses
``Y1``, ``Y2`` and inputs ``X1``-``X3``. Garson's algorithm has two published forms: Goh's
(1995) weights each hidden unit by its weight to the output, Gevrey et al.'s (2003), the form
of NeuralNetTools, does not. Both sum to one over the inputs.
"""

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.neural_network import MLPRegressor

from sensitivity import Garson, Olden, load_neuraldat
from sensitivity.plotting import plot_importance

data = load_neuraldat()
X, y = data[["X1", "X2", "X3"]], data["Y1"]
net = MLPRegressor(
    hidden_layer_sizes=(5,),
    activation="logistic",
    solver="lbfgs",
    max_iter=1000,
    random_state=1,
).fit(X, y)
print(f"R^2 = {net.score(X, y):.3f}")

# %%
# Both variants and Olden's signed importance on the same network.
goh = Garson(net, prefit=True, variant="goh").fit(X)
gevrey = Garson(net, prefit=True, variant="gevrey").fit(X)
olden = Olden(net, prefit=True).fit(X)
table = pd.DataFrame(
    {
        "garson_goh": goh.importances_["importance"],
        "garson_gevrey": gevrey.importances_["importance"],
        "olden": olden.importances_["importance"],
    }
)
print(table.round(4))

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.5), layout="constrained")
plot_importance(goh.importances_, ax=axes[0], title="Garson (Goh 1995)")
plot_importance(gevrey.importances_, ax=axes[1], title="Garson (Gevrey 2003)")
plot_importance(olden.importances_, ax=axes[2], title="Olden")
plt.show()
