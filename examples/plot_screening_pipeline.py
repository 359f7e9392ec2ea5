"""
Variable screening in a scikit-learn Pipeline
=============================================

The estimators are selectors: in a Pipeline, ``transform`` keeps the significant variables when
a randomization test ran and otherwise the ``max_features`` best ranked. Here Olden's importance
of a network screens the diabetes variables for a linear model, and ``GridSearchCV`` chooses how
many to keep.
"""

import matplotlib.pyplot as plt
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sensitivity import Olden, load_diabetes

X, y = load_diabetes()
pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        (
            "screen",
            Olden(
                MLPRegressor(
                    hidden_layer_sizes=(5,),
                    solver="lbfgs",
                    alpha=1.0,
                    max_iter=1000,
                    random_state=0,
                )
            ),
        ),
        ("model", LinearRegression()),
    ]
)
search = GridSearchCV(
    pipe,
    {"screen__max_features": [1, 2, 4, 10]},
    cv=KFold(3, shuffle=True, random_state=0),
)
search.fit(X, y / y.std())
best = search.best_estimator_
print("best max_features:", search.best_params_["screen__max_features"])
print("kept:", list(best[:-1].get_feature_names_out()))

# %%
k = search.cv_results_["param_screen__max_features"].astype(int)
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
score = search.cv_results_
ax.errorbar(k, score["mean_test_score"], yerr=score["std_test_score"], marker="o")
ax.set_xlabel("variables kept (max_features)")
ax.set_ylabel("cross-validated $R^2$")
plt.show()
