"""Held-out conditional test of a fitted model (sensitivity.holdout)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sensitivity.conditional import fit_conditional_models
from sensitivity.holdout import (
    HoldoutConditionalTest,
    holdout_losses,
    holdout_pvalues,
    prediction_view,
)
from sensitivity.holdout._engines import sigmoid_form
from sensitivity.methods.perturbation import encode_target, row_losses


def design(n=400, seed=0):
    """y depends on x0 and x1; x2 is a no-effect input correlated 0.8 with x0; x3 is noise."""
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=n)
    x2 = 0.8 * x0 + 0.6 * rng.normal(size=n)
    X = np.column_stack([x0, rng.normal(size=n), x2, rng.normal(size=n)])
    y = 2 * X[:, 0] + np.sin(2 * X[:, 1]) + 0.5 * rng.normal(size=n)
    return X, y


def fit_quiet(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def naive_losses(predict, X, Y, kind, cm, draws):
    """Reference: one predict call per draw."""
    out = []
    for d in draws:
        Xb = X.copy()
        Xb[:, cm.index] = d
        pred = np.asarray(predict(Xb), dtype=np.float64).reshape(len(X), -1)
        out.append(row_losses(pred[None], Y, kind)[0].sum(-1))
    return np.array(out)


# ---------------------------------------------------------------------- batched evaluation
@pytest.mark.parametrize(
    ("hidden", "activation", "kind"),
    [
        ((8,), "relu", "reg"),
        ((8,), "identity", "reg"),
        ((8,), "relu", "multiclass"),
        ((8,), "relu", "binary"),
        ((6, 5), "relu", "reg"),
        ((8,), "tanh", "multiclass"),
        ((8,), "logistic", "reg2"),
    ],
)
def test_batched_engines_match_a_per_draw_loop(hidden, activation, kind):
    X, y = design(300)
    Xtr, Xte = X[:200], X[200:]
    if kind.startswith("reg"):
        target = np.column_stack([y, X[:, 3]]) if kind == "reg2" else y
        model = MLPRegressor(hidden_layer_sizes=hidden, activation=activation, max_iter=200)
    else:
        target = np.digitize(y, [0]) if kind == "binary" else np.digitize(y, [-1, 1])
        model = MLPClassifier(hidden_layer_sizes=hidden, activation=activation, max_iter=200)
    model = fit_quiet(
        make_pipeline(StandardScaler(), model.set_params(random_state=0)), Xtr, target[:200]
    )
    if activation == "relu" and hidden == (8,):  # a unit that ignores x3 and x1 entirely
        model[-1].coefs_[0][3, :] = 0.0
        model[-1].coefs_[0][1, :2] = 0.0
    view = prediction_view(model)
    loss = "log_loss" if view.is_classifier else "mse"
    Y, k = encode_target(view, target[200:], len(Xte), loss)
    cms = fit_conditional_models(Xtr)
    seeds = [11, 12, 13, 14]
    if kind == "binary":

        def pred(Z):
            return model.predict_proba(Z)[:, 1]

    else:
        pred = model.predict_proba if view.is_classifier else model.predict
    base_pred = np.asarray(pred(Xte), dtype=np.float64).reshape(len(Xte), -1)
    ref_base = row_losses(base_pred[None], Y, k)[0].sum(-1)
    methods = ["rank_one", "stacked"] + (
        ["piecewise"] if len(hidden) == 1 and activation in ("relu", "identity") else []
    )
    for method in methods:
        res = holdout_losses(
            view, Xte, Y, k, cms, n_draws=20, seeds=seeds, method=method, memory_budget=50_000
        )
        np.testing.assert_allclose(res.base, ref_base, rtol=1e-10)
        for pos, cm in enumerate(cms):
            draws = cm.sample(np.random.default_rng(seeds[pos]), 20, Z=Xte)
            ref = naive_losses(pred, Xte, Y, k, cm, draws)
            np.testing.assert_allclose(res.draw_total[pos], ref.sum(1), rtol=1e-10)
            np.testing.assert_allclose(
                res.delta[pos], (ref - ref_base).mean(0), rtol=1e-8, atol=1e-12
            )
    if activation == "relu" and hidden == (8,):
        assert np.all(res.draw_total[3] == res.base.sum())  # x3 unused: no change at all


def test_sigmoid_form_computes_the_same_function():
    """tanh(z) = 2 sigmoid(2z) - 1 folded into the weights: same outputs to float64 rounding."""
    torch.manual_seed(0)
    for acts in (("tanh", "tanh"), ("tanh", "relu"), ("logistic", "tanh")):
        layers = []
        for i, a in enumerate(acts):
            layers += [
                torch.nn.Linear(5 if i == 0 else 7, 7),
                {"tanh": torch.nn.Tanh(), "relu": torch.nn.ReLU(), "logistic": torch.nn.Sigmoid()}[
                    a
                ],
            ]
        net = torch.nn.Sequential(*layers, torch.nn.Linear(7, 2)).double()
        batch = prediction_view(net)
        folded = sigmoid_form(batch)
        assert "tanh" not in folded.activations
        X = torch.randn(50, 5, dtype=torch.float64) * 3
        np.testing.assert_allclose(
            folded.forward(X).numpy()[0], net(X).detach().numpy(), rtol=1e-12, atol=1e-12
        )


@pytest.mark.parametrize("act", [torch.nn.Tanh, torch.nn.Sigmoid])
def test_float32_rank_one_matches_a_float64_loop_to_stated_tolerance(act):
    """A float32 torch MLP is evaluated in float32 (the sigmoid form for tanh): draw totals
    within 1e-5 relative, and per-row deltas within 1e-5 of the loss scale, of a float64
    per-draw loop."""
    X, y = design(400, seed=2)
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(4, 50), act(), torch.nn.Linear(50, 1))
    view = prediction_view(net)
    assert view.dtype == torch.float32
    Xte = X[200:]
    Y, k = encode_target(view, y[200:], len(Xte), "mse")
    cms = fit_conditional_models(X[:200])
    res = holdout_losses(view, Xte, Y, k, cms, n_draws=30, seeds=[1, 2, 3, 4])
    net64 = net.double()

    def pred(Z):
        with torch.no_grad():
            return net64(torch.as_tensor(Z)).numpy()

    ref_base = row_losses(pred(Xte)[None], Y, k)[0].sum(-1)
    scale = ref_base.mean()
    np.testing.assert_allclose(res.base, ref_base, rtol=1e-5, atol=1e-5 * scale)
    for pos, cm in enumerate(cms):
        draws = cm.sample(np.random.default_rng(pos + 1), 30, Z=Xte)
        ref = naive_losses(pred, Xte, Y, k, cm, draws)
        np.testing.assert_allclose(res.draw_total[pos], ref.sum(1), rtol=1e-5)
        np.testing.assert_allclose(res.delta[pos], (ref - ref_base).mean(0), atol=1e-5 * scale)


def test_engines_and_memory_budget_do_not_change_the_result():
    X, y = design(300)
    net = fit_quiet(
        MLPRegressor(hidden_layer_sizes=(10,), max_iter=300, random_state=0), X[:200], y[:200]
    )
    kw = dict(n_draws=199, random_state=3, prefit=True)
    a = HoldoutConditionalTest(net, **kw).fit(X[:200], X_test=X[200:], y_test=y[200:])
    b = HoldoutConditionalTest(net, memory_budget_mb=0.01, **kw).fit(
        X[:200], X_test=X[200:], y_test=y[200:]
    )
    pd.testing.assert_frame_equal(a.importances_, b.importances_, check_exact=False, rtol=1e-9)
    np.testing.assert_array_equal(a.importances_["p_hrt"], b.importances_["p_hrt"])
    c = HoldoutConditionalTest(net, n_jobs=2, **kw).fit(X[:200], X_test=X[200:], y_test=y[200:])
    pd.testing.assert_frame_equal(a.importances_, c.importances_)  # threads: same numbers


# ---------------------------------------------------------------------- p-values and intervals
def test_pvalues_and_interval_follow_their_formulas():
    rng = np.random.default_rng(0)
    base = rng.exponential(size=50)
    delta = rng.normal(0.1, 1, size=(3, 50)) * np.array([[1], [0], [2]])
    draw_total = base.sum() + rng.normal(size=(3, 99)) * 5
    draw_total[1] = base.sum()  # an unused variable: every draw ties with the real column
    res = holdout_pvalues(base, delta, draw_total, alpha=0.1)
    for k in range(3):
        count = np.sum(draw_total[k] <= base.sum())
        assert res.p_hrt[k] == pytest.approx((1 + count) / 100)
    assert res.p_hrt[1] == 1.0
    for k in (0, 2):
        d = delta[k]
        t = stats.ttest_1samp(d, 0.0, alternative="greater")
        assert res.p_cpi[k] == pytest.approx(t.pvalue, rel=1e-10)
        ci = stats.t.interval(0.9, 49, loc=d.mean(), scale=stats.sem(d))
        np.testing.assert_allclose([res.ci_low[k], res.ci_high[k]], ci, rtol=1e-10)
        assert res.importance[k] == pytest.approx(d.mean())
    assert res.importance[1] == 0.0 and res.p_cpi[1] == 1.0


# ---------------------------------------------------------------------- the estimator
def test_test_set_mode_finds_the_effects_and_not_the_correlated_noise():
    X, y = design(900, seed=1)
    net = fit_quiet(
        MLPRegressor(hidden_layer_sizes=(20,), max_iter=300, random_state=0), X[:500], y[:500]
    )
    t = HoldoutConditionalTest(net, prefit=True, n_draws=199, random_state=0)
    t.fit(X[:500], X_test=X[500:], y_test=y[500:])
    f = t.importances_
    assert list(f.index[:2]) == ["x0", "x1"]
    assert f.loc["x0", "p_value"] == pytest.approx(1 / 200)
    assert f.loc["x0", "significant"] and f.loc["x1", "significant"]
    assert not f.loc["x2", "significant"] and not f.loc["x3", "significant"]
    assert f.loc["x0", "ci_low"] > 0
    assert set(f.columns) >= {"p_hrt", "p_cpi", "std_error", "conditional_r2", "ci_low"}
    assert f.loc["x2", "conditional_r2"] == pytest.approx(0.64, abs=0.08)
    assert t.null_distribution_.shape == (4, 199) and t.loss_differences_.shape == (4, 400)
    assert t.n_heldout_ == 400 and t.estimator_ is net
    assert [cm.n_train for cm in t.conditional_models_] == [500] * 4  # fitted on X (train)
    tr = HoldoutConditionalTest(net, prefit=True, n_draws=199, conditional_rows="test")
    tr.fit(X[:500], X_test=X[500:], y_test=y[500:])
    assert [cm.n_train for cm in tr.conditional_models_] == [400] * 4  # on X_test
    assert list(tr.importances_.index[:2]) == ["x0", "x1"]
    np.testing.assert_array_equal(t.transform(X[:3]), X[:3, :2])
    text = t.summary()
    assert "holdout randomization test, 199 conditional draws" in text
    # the null hypothesis tested, stated on its own line: conditional independence
    (h0,) = [line for line in text.splitlines() if line.startswith("Null hypothesis:")]
    stated = h0.removeprefix("Null hypothesis:").strip()
    assert stated.startswith("H0_j: y independent of x_j given the other inputs (held-out loss")
    cpi = HoldoutConditionalTest(net, prefit=True, n_draws=199, test="cpi").fit(
        X[:500], X_test=X[500:], y_test=y[500:]
    )
    np.testing.assert_array_equal(cpi.importances_["p_value"], cpi.importances_["p_cpi"])


def test_cross_fitting_pools_every_row_once():
    X, y = design(200, seed=2)
    t = HoldoutConditionalTest(
        LinearRegression(), n_draws=99, cv=4, p_adjust=None, random_state=0
    ).fit(X, y)
    assert t.n_heldout_ == 200 and len(t.estimators_) == 4
    assert t.mode_ == "cross-fitting"
    assert t.importances_.loc["x0", "p_value"] == pytest.approx(0.01)
    # deterministic given random_state
    t2 = clone(t).fit(X, y)
    pd.testing.assert_frame_equal(t.importances_, t2.importances_)
    assert t.predict(X[:2]).shape == (2,)


def test_classifier_with_log_loss_and_dataframe_names():
    rng = np.random.default_rng(4)
    X = pd.DataFrame(rng.normal(size=(600, 3)), columns=["a", "b", "c"])
    X["flag"] = (rng.random(600) < 0.5).astype(float)
    logit = 2 * X["a"] - 1.5 * X["flag"]
    y = np.where(rng.random(600) < 1 / (1 + np.exp(-logit)), "yes", "no")
    clf = LogisticRegression().fit(X.iloc[:300], y[:300])
    t = HoldoutConditionalTest(clf, prefit=True, n_draws=199, random_state=0)
    t.fit(X.iloc[:300], X_test=X.iloc[300:], y_test=y[300:])
    f = t.importances_
    assert set(f.index[:2]) == {"a", "flag"}
    assert f.loc["a", "significant"] and f.loc["flag", "significant"]
    # auto: flag is independent of a, b, c, so the boosted classifier with no trees (the level
    # frequencies) beats the logistic regression's three noise coefficients on held-out log-loss
    kinds = [(cm.kind, cm.n_trees) for cm in t.conditional_models_]
    assert kinds == [("gaussian", 0)] * 3 + [("classifier", 0)]
    assert list(t.feature_names_in_) == ["a", "b", "c", "flag"]
    with pytest.raises(ValueError, match="X_test has columns"):
        t.fit(X.iloc[:300], X_test=X.iloc[300:, ::-1], y_test=y[300:])


def test_variable_names_like_every_other_estimator():
    X, y = design(120, seed=3)
    model = LinearRegression().fit(X[:60], y[:60])
    t = HoldoutConditionalTest(model, prefit=True, n_draws=39, p_adjust=None, random_state=0)
    t.fit(X[:60], X_test=X[60:], y_test=y[60:])
    assert t.variable_names_ == ("x0", "x1", "x2", "x3")
    t = HoldoutConditionalTest(LinearRegression(), n_draws=39, p_adjust=None, cv=3)
    t.fit(pd.DataFrame(X, columns=["a", "b", "c", "d"]), y)
    assert t.variable_names_ == ("a", "b", "c", "d")
    assert sorted(t.importances_.index) == list(t.variable_names_)


class Quadratic(torch.nn.Module):
    """A general torch module (not an nn.Sequential): y = 3 x0^2 + x1."""

    def forward(self, x):
        return 3 * x[:, :1] ** 2 + x[:, 1:2]


def test_any_torch_module_and_plain_function():
    X, _ = design(500, seed=5)
    rng = np.random.default_rng(0)
    y = 3 * X[:, 0] ** 2 + X[:, 1] + 0.3 * rng.normal(size=500)
    for model in (Quadratic(), lambda Z: 3 * Z[:, 0] ** 2 + Z[:, 1]):
        t = HoldoutConditionalTest(
            model, prefit=True, n_draws=99, p_adjust=None, random_state=0
        ).fit(X[:250], X_test=X[250:], y_test=y[250:])
        f = t.importances_
        assert f.loc["x0", "significant"] and f.loc["x1", "significant"]
        assert f.loc["x2", "importance"] == 0.0 and f.loc["x2", "p_value"] == 1.0


# ---------------------------------------------------------------------- errors
def test_model_with_another_input_width():
    X, y = design(100)
    net = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    with pytest.raises(ValueError, match="X has 4 columns but the model takes 5 inputs"):
        HoldoutConditionalTest(net, prefit=True, n_draws=99).fit(
            X[:50], X_test=X[50:], y_test=y[50:]
        )


def test_model_that_fails_on_predict():
    X, y = design(100)

    def broken(Z):
        raise RuntimeError("boom")

    with pytest.raises(ValueError, match=r"The model raised RuntimeError when predicting.*boom"):
        HoldoutConditionalTest(broken, prefit=True, n_draws=99).fit(
            X[:50], X_test=X[50:], y_test=y[50:]
        )


def test_test_set_with_nan():
    X, y = design(100)
    Xt = X[50:].copy()
    Xt[3, 2] = np.nan
    net = fit_quiet(LinearRegression(), X[:50], y[:50])
    with pytest.raises(ValueError, match=r"X_test: X contains missing values \(NaN\).*'x2'"):
        HoldoutConditionalTest(net, prefit=True, n_draws=99).fit(X[:50], X_test=Xt, y_test=y[50:])


def test_too_few_heldout_rows_or_draws_for_alpha():
    X, y = design(100)
    net = fit_quiet(LinearRegression(), X[:50], y[:50])
    with pytest.raises(ValueError, match=r"Only 5 held-out rows.*Use at least 7 held-out rows"):
        HoldoutConditionalTest(net, prefit=True, n_draws=999).fit(
            X[:50], X_test=X[50:55], y_test=y[50:55]
        )
    with pytest.raises(ValueError, match=r"n_draws=19 the smallest attainable p-value after holm"):
        HoldoutConditionalTest(net, prefit=True, n_draws=19).fit(
            X[:50], X_test=X[50:], y_test=y[50:]
        )
    # the conditional models need more held-out rows than inputs
    with pytest.raises(ValueError, match=r"Conditional models on the held-out rows.*4 rows and 4"):
        HoldoutConditionalTest(
            net,
            prefit=True,
            n_draws=1,
            test="cpi",
            p_adjust=None,
            alpha=0.1,
            conditional_rows="test",
        ).fit(X[:50], X_test=X[50:54], y_test=y[50:54])
    # the t-test needs no particular number of draws
    HoldoutConditionalTest(net, prefit=True, n_draws=1, test="cpi").fit(
        X[:50], X_test=X[50:], y_test=y[50:]
    )


def test_usage_errors():
    X, y = design(100)
    net = torch.nn.Sequential(torch.nn.Linear(4, 1))
    with pytest.raises(ValueError, match="prefit=True needs held-out rows"):
        HoldoutConditionalTest(net, prefit=True).fit(X, y)
    with pytest.raises(TypeError, match="Sequential cannot be refitted by this test"):
        HoldoutConditionalTest(net).fit(X, y)
    with pytest.raises(ValueError, match="X_test needs y_test"):
        HoldoutConditionalTest(net, prefit=True).fit(X, X_test=X)
    with pytest.raises(ValueError, match="'test' parameter of HoldoutConditionalTest must be"):
        HoldoutConditionalTest(net, prefit=True, test="z").fit(X, X_test=X, y_test=y)


# Every check of scikit-learn's suite passes (cross-fitting a linear model; 199 draws;
# linear-gaussian conditional models: fast, and the kind does not matter here).
@parametrize_with_checks(
    [HoldoutConditionalTest(LinearRegression(), n_draws=199, cv=3, conditional="gaussian")]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


# ---------------------------------------------------------------------- null="holdout"
@pytest.mark.parametrize(
    "cls", ["Olden", "Dimopoulos", "PermutationImportance", "InputPerturbation"]
)
def test_default_test_is_the_heldout_test_beside_the_users_own_table(cls):
    import sensitivity

    X, y = design(300, seed=4)
    net = fit_quiet(
        MLPRegressor(hidden_layer_sizes=(10,), max_iter=300, random_state=0), X[:150], y[:150]
    )
    Est = getattr(sensitivity, cls)
    est = Est(net, prefit=True, n_permutations=99, random_state=3)
    assert est.get_params()["null"] == "holdout"  # the default
    est.fit(X[:150], y[:150], X_test=X[150:], y_test=y[150:])
    direct = HoldoutConditionalTest(net, prefit=True, n_draws=99, random_state=3).fit(
        X[:150], X_test=X[150:], y_test=y[150:]
    )
    plain = Est(net, prefit=True, random_state=3).fit(X[:150], y[:150]).importances_
    f = est.importances_
    # the method's columns describe the user's network: the numbers without a test
    for col in ("importance", "relative_importance", "rank"):
        pd.testing.assert_series_equal(f[col], plain[col])
    # the test's columns are the held-out test's, the statistic just before its p-value
    d = direct.importances_.reindex(f.index)
    np.testing.assert_array_equal(f["loss_increase"], d["importance"])
    np.testing.assert_array_equal(f["p_value"], d["p_value"])
    np.testing.assert_array_equal(f["p_adjusted"], d["p_adjusted"])
    cols = list(f.columns)
    assert cols.index("loss_increase") == cols.index("p_value") - 1
    text = est.summary()
    assert "loss_increase" in text and "holdout randomization test on held-out loss, 99" in text
    assert "your network (as you passed it)" in text and "on the 150 held-out rows" in text
    keep = direct.get_support()
    np.testing.assert_array_equal(est.get_support(), keep)
    assert est.transform(X[:5]).shape == (5, int(keep.sum()))
    # not prefit, no test set: cross-fitting of clones, as the direct test does it; the
    # importance columns are those of the network fitted once on all rows
    unfit = MLPRegressor(hidden_layer_sizes=(5,), max_iter=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cross = Est(unfit, n_permutations=19, p_adjust=None, random_state=5).fit(X, y)
        ref = HoldoutConditionalTest(unfit, n_draws=19, p_adjust=None, random_state=5).fit(X, y)
        alone = Est(clone(unfit).fit(X, y), prefit=True, random_state=5).fit(X, y).importances_
    np.testing.assert_array_equal(
        cross.importances_["p_value"], ref.importances_["p_value"].reindex(cross.importances_.index)
    )
    np.testing.assert_allclose(cross.importances_["importance"], alone["importance"])
    assert cross.holdout_test_.mode_ == "cross-fitting"
    assert "fitted on all 300 rows" in cross.summary() and "4 of 5 folds" in cross.summary()


def test_heldout_default_errors_for_incompatible_uses():
    from sensitivity import Olden, PermutationImportance

    X, y = design(200)
    net = fit_quiet(
        MLPRegressor(hidden_layer_sizes=(5,), max_iter=100, random_state=0), X[:100], y[:100]
    )
    kw = dict(prefit=True, n_permutations=19, p_adjust=None)
    with pytest.raises(ValueError, match="X_test and y_test are only used with null='holdout'"):
        PermutationImportance(net, prefit=True, null="conditional").fit(X[:100], X_test=X[100:])
    with pytest.raises(ValueError, match="X_test is only used by the held-out test"):
        PermutationImportance(net, prefit=True).fit(X[:100], X_test=X[100:], y_test=y[100:])
    with pytest.raises(ValueError, match="set n_bootstrap=0"):
        Olden(net, n_bootstrap=9, **kw).fit(X[:100], y[:100], X_test=X, y_test=y)
    with pytest.raises(ValueError, match="X_test needs y_test"):
        Olden(net, **kw).fit(X[:100], y[:100], X_test=X)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    with pytest.raises(TypeError, match="Sequential cannot be refitted on folds, so pass held-out"):
        PermutationImportance(module, prefit=True, n_permutations=19).fit(X, y)
    # a torch network with held-out rows: tested as it is
    module = module.double()
    res = Olden(module, prefit=True, n_permutations=19, p_adjust=None, random_state=0).fit(
        X[:100], y[:100], X_test=X[100:], y_test=y[100:]
    )
    assert res.importances_["p_value"].between(0, 1).all()


def test_a_variable_determined_by_the_others_is_reported_not_refused():
    from sensitivity import Olden

    X, y = design(300, seed=2)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])  # x4 exactly determined by x0 and x1
    net = MLPRegressor(hidden_layer_sizes=(5,), max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = Olden(net, n_permutations=99, random_state=0).fit(X, y)
    f = sa.importances_
    # x0 = x4 - x1 and x1 = x4 - x0 too: all three are determined by the others
    for v in ("x0", "x1", "x4"):
        assert np.isnan(f.loc[v, "p_value"]) and not f.loc[v, "significant"]
        assert f.loc[v, "note"].startswith("not tested:")
    assert f.loc[["x2", "x3"], "p_value"].notna().all()  # the others are tested
    assert (f.loc[["x2", "x3"], "note"] == "").all()
    assert "x4: not tested" in sa.summary()


def test_low_power_warning_points_at_the_users_call():
    from sensitivity import PermutationImportance
    from sensitivity.conditional import LowPowerWarning

    X, y = design(300, seed=6)
    X[:, 2] = X[:, 0] + 0.05 * np.random.default_rng(0).normal(size=300)  # R^2 about 0.998
    net = fit_quiet(
        MLPRegressor(hidden_layer_sizes=(5,), max_iter=100, random_state=0), X[:150], y[:150]
    )
    kw = dict(prefit=True, p_adjust=None, random_state=0)
    with pytest.warns(LowPowerWarning, match="is nearly determined") as rec:
        HoldoutConditionalTest(net, n_draws=19, **kw).fit(X[:150], X_test=X[150:], y_test=y[150:])
    assert {w.filename for w in rec} == {__file__}
    with pytest.warns(LowPowerWarning, match="is nearly determined") as rec:
        PermutationImportance(net, n_permutations=19, **kw).fit(
            X[:150], y[:150], X_test=X[150:], y_test=y[150:]
        )
    assert {w.filename for w in rec} == {__file__}


@pytest.mark.parametrize("cls", ["PermutationImportance", "InputPerturbation"])
def test_null_rejects_an_unknown_value(cls):
    from sklearn.utils._param_validation import InvalidParameterError

    import sensitivity

    X, y = design(60)
    est = getattr(sensitivity, cls)(LinearRegression(), null="heldout", n_permutations=9)
    with pytest.raises(InvalidParameterError, match=r"'null' parameter.*'holdout'"):
        est.fit(X, y)


def test_a_small_table_with_a_separated_binary_input_is_analysed_not_refused():
    """32 rows (like mtcars) with a binary input the others separate perfectly: that input
    gets a note, the others are tested."""
    from sensitivity import Olden

    rng = np.random.default_rng(3)
    X = rng.normal(size=(32, 5))
    X[:, 4] = (X[:, 0] > 0).astype(float)  # separated by x0
    y = X[:, 0] + 0.5 * X[:, 2] + 0.3 * rng.normal(size=32)
    net = MLPRegressor(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sa = Olden(net, n_permutations=99, p_adjust=None, random_state=0).fit(X, y)
    f = sa.importances_
    assert np.isnan(f.loc["x4", "p_value"]) and f.loc["x4", "note"].startswith("not tested:")
    assert f.drop(index="x4")["p_value"].notna().all()
    assert "x4: not tested" in sa.summary()


def test_the_direct_test_reports_untested_and_unreliable_variables():
    X, y = design(300, seed=2)
    X = np.column_stack([X, X[:, 0] + X[:, 1]])  # x4 = x0 + x1: x0, x1, x4 determined
    net = MLPRegressor(hidden_layer_sizes=(5,), max_iter=200, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = HoldoutConditionalTest(net, n_draws=99, random_state=0).fit(X, y)
    f = t.importances_
    assert set(f.columns) >= {"check_auc", "check_p", "reliable", "note", "conditional_model"}
    assert not f.loc["x4", "reliable"] and not f.loc["x4", "significant"]
    text = t.summary()
    assert "x4: not tested" in text and "x0: not tested" in text
    # a check that fails withholds the star but keeps the p-value
    t.importances_.loc["x2", ["reliable", "significant"]] = [False, False]
    assert "?" in t.results_.stars()


def test_row_rank_pvalues_are_uniform_under_exchangeability_and_bounded_per_row():
    from sensitivity.inference.holdout_tests import row_rank_pvalues

    rng = np.random.default_rng(0)
    B, m, k = 199, 60, 4000
    # under the null the real loss is one of B + 1 exchangeable values: its count of draws at
    # or below it is uniform on 0..B
    p = row_rank_pvalues(rng.integers(0, B + 1, size=(k, m)), B)
    for level in (0.01, 0.05, 0.2):
        se = np.sqrt(level * (1 - level) / k)
        assert abs(np.mean(p <= level) - level) < 3 * se
    # the real column better than most draws on most rows: small p
    strong = row_rank_pvalues(rng.integers(0, 40, size=(1, m)), B)
    assert strong[0] < 1e-6
    # one row alone cannot make a variable significant, however extreme it is
    one = np.full((1, m), B // 2)
    one[0, 0] = 0
    assert row_rank_pvalues(one, B)[0] > 0.3
