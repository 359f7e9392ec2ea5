"""
Lek's profiles and the mean impact value on NeuralNetTools' neuraldat
=====================================================================

``neuraldat`` is the simulated example data of R's NeuralNetTools (Beck 2018). Lek's profile
method (Lek et al. 1996) sweeps each input over its range while the others are held at their
quantiles (0, 20, ..., 100 %); the importance is the range of the median profile. The mean
impact value (Dombi et al. 1995) raises and lowers each input by 10 %: the inputs of
``neuraldat`` are centred at zero, where the multiplicative form is unreliable, so the
additive form (:math:`\\pm 0.1` standard deviation) is used.
"""

import warnings

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.neural_network import MLPRegressor

from sensitivity import MIV, LekProfile, load_neuraldat
from sensitivity.plotting import plot_lek_profiles

data = load_neuraldat()
X, y = data[["X1", "X2", "X3"]], data["Y1"]
net = MLPRegressor(
    hidden_layer_sizes=(5,),
    activation="logistic",
    solver="lbfgs",
    max_iter=1000,
    random_state=1,
).fit(X, y)

# %%
# Lek's profiles of the fitted network (``prefit=True``: it is not refitted).
lek = LekProfile(net, prefit=True, steps=100).fit(X)
print(lek.importances_[["importance", "rank", "direction"]].round(4))
print(lek.group_constants_.round(3))

# %%
fig = plot_lek_profiles(lek.profiles_)
plt.show()

# %%
# MIV, additive and multiplicative. The multiplicative form warns that the inputs are
# centred near zero.
additive = MIV(net, prefit=True, perturbation="additive").fit(X)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    multiplicative = MIV(net, prefit=True).fit(X)
print(caught[0].message)
table = pd.DataFrame(
    {
        "lek_range": lek.importances_["importance"],
        "miv_additive": additive.importances_["importance"],
        "miv_multiplicative": multiplicative.importances_["importance"],
    }
)
print(table.round(4))
