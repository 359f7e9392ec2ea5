"""
Which training rows drive a prediction? Influence functions
============================================================

Variable sensitivity asks which *inputs* matter; influence functions (Koh & Liang 2017) ask
which *training rows* do. For a network trained with an L2 penalty,
:class:`~sensitivity.influence.SampleInfluence` predicts, from the Hessian of the training
objective, how a test loss would change if one training row were left out, and ranks rows by
their self-influence to screen for mislabelled ones.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sensitivity import load_diabetes
from sensitivity.influence import SampleInfluence


def penalised_mlp(kind, hidden: int, alpha: float):
    """A standardising Pipeline ending in a tanh MLP (L-BFGS, run to convergence)."""
    net = kind(
        hidden_layer_sizes=(hidden,),
        activation="tanh",
        solver="lbfgs",
        alpha=alpha,
        max_iter=5000,
        tol=1e-10,
        random_state=0,
    )
    return make_pipeline(StandardScaler(), net)


X, y = load_diabetes()
# the target is divided by its standard deviation, so that alpha has the usual scale
X_train, y_train = X.iloc[:400], y.iloc[:400]
X_test, y_test = X.iloc[400:], y.iloc[400:]
y_scale = y_train.std()
net = penalised_mlp(MLPRegressor, 5, alpha=10.0).fit(X_train, y_train / y_scale)

# %%
# The influence formula assumes the weights minimise the penalised objective. scikit-learn's
# L-BFGS stops a little early, so ``polish=True`` continues the training from the fitted
# weights (float64) and reports both fits in the summary.
si = SampleInfluence(net, polish=True).fit(X_train, y_train / y_scale)
print(si.summary(top=5))

# %%
# The training rows that most lower (helpful) and raise (harmful) the loss of the test row
# the network predicts worst. ``loo_change`` is the predicted change of that test loss if the
# row were left out and the network refitted.
test_loss = (si.estimator_.predict(X_test) - y_test / y_scale) ** 2
worst = int(np.argmax(test_loss))
frame = si.influence(X_test.iloc[[worst]], y_test.iloc[[worst]] / y_scale, top=200)
print(frame.head(8))
si.plot_influence(X_test.iloc[[worst]], y_test.iloc[[worst]] / y_scale, n=6)

# %%
# Which *variable* of which training row moves that loss most (:math:`\mathcal I_{pert}`):
# raising the variable by one unit in that row changes the test loss by ``change_per_unit``.
row, target = X_test.iloc[[worst]], y_test.iloc[[worst]] / y_scale
print(si.perturbation_influence(row, target, top=5))

# %%
# Mislabelled rows: flip 10% of the labels of a classification data set, then check the rows
# of largest self-influence first.
Xb, yb = load_breast_cancer(return_X_y=True)
rng = np.random.default_rng(0)
flipped = rng.choice(len(yb), size=len(yb) // 10, replace=False)
yb_noisy = yb.copy()
yb_noisy[flipped] = 1 - yb_noisy[flipped]
clf = penalised_mlp(MLPClassifier, 10, alpha=1.0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clf.fit(Xb, yb_noisy)
sc = SampleInfluence(clf, polish=True).fit(Xb, yb_noisy)
k = len(yb) // 10
by_self = sc.self_influence_.index[:k]
by_loss = np.argsort(-sc.train_loss_)[:k]
print(
    "flipped labels among the top 10% by self-influence: "
    f"{np.isin(by_self, flipped).sum()} of {len(flipped)}; "
    f"by training loss: {np.isin(by_loss, flipped).sum()}"
)
sc.plot_self_influence(highlight=flipped, highlight_label="flipped label")
plt.show()
