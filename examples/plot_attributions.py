"""
Local explanations on the diabetes data
=======================================

Explain single predictions of a network fitted to scikit-learn's diabetes data (442 patients,
10 baseline variables; target: disease progression one year later) with Integrated Gradients,
and summarize the explanations of all patients: the summary (beeswarm) plot, one patient's
waterfall from the baseline prediction to the prediction, and the attribution of one variable
against its value.
"""

from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensitivity import load_diabetes
from sensitivity.attribution_plots import (
    plot_attribution_dependence,
    plot_attribution_summary,
    plot_attribution_waterfall,
)
from sensitivity.attributions import integrated_gradients

X, y = load_diabetes()
net = make_pipeline(
    StandardScaler(),
    MLPRegressor(
        hidden_layer_sizes=(10,),
        activation="tanh",
        solver="lbfgs",
        alpha=1.0,
        max_iter=2000,
        random_state=0,
    ),
).fit(X, y)

# %%
# Integrated Gradients from the mean patient (the default baseline). The number of steps is
# chosen from the completeness gap, reported per row: the attributions of a row add up to
# its prediction minus the baseline prediction.
ig = integrated_gradients(net, X)
print(ig)
print("steps:", ig.settings["n_steps"], " largest relative gap:", ig.relative_gap.max())
print(ig.to_frame().head())

# %%
# The global summary (mean absolute attribution over the patients) as the ranked importance table.
columns = ["importance", "relative_importance", "rank", "direction", "std"]
print(ig.importances()[columns])

# %%
# Summary plot: each point is one patient; colour is the variable's value.
fig = plot_attribution_summary(ig, output_unit="progression score")

# %%
# One patient: from the baseline prediction (mean patient) to this patient's prediction.
fig = plot_attribution_waterfall(ig, row=0, output_unit="progression score")

# %%
# How the effect of body-mass index varies across patients, coloured by blood pressure.
fig = plot_attribution_dependence(
    ig,
    "bmi",
    color_by="bp",
    output_unit="progression score",
    units={"bmi": "scaled", "bp": "scaled"},
)
