"""Conditional models of x_j given the other inputs (sensitivity.conditional)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensitivity.conditional import (
    ConditionalCheck,
    ConditionalModel,
    LowPowerWarning,
    UntestableVariableError,
    check_conditional,
    fit_conditional_models,
)


def toeplitz_X(n=1500, p=5, rho=0.8, seed=0):
    rng = np.random.default_rng(seed)
    idx = np.arange(p)
    cov = rho ** np.abs(idx[:, None] - idx[None, :])
    return rng.multivariate_normal(np.zeros(p), cov, size=n)


def ols(Z, y):
    D = np.column_stack([np.ones(len(Z)), Z])
    return np.linalg.lstsq(D, y, rcond=None)[0]


# ---------------------------------------------------------------------- gaussian
def test_gaussian_fit_is_the_least_squares_regression():
    X = toeplitz_X()
    (m,) = fit_conditional_models(X, columns=[2])
    b = ols(np.delete(X, 2, axis=1), X[:, 2])
    np.testing.assert_allclose(m.intercept, b[0], atol=1e-10)
    np.testing.assert_allclose(m.coef, b[1:], atol=1e-10)
    resid = X[:, 2] - m.predict_mean()
    np.testing.assert_allclose(m.r2, 1 - resid @ resid / np.sum((X[:, 2] - X[:, 2].mean()) ** 2))
    np.testing.assert_allclose(m.noise_sd, np.sqrt(resid @ resid / len(X)))
    assert m.kind == "gaussian" and m.name == "x2" and m.index == 2


@pytest.mark.parametrize("kind", ["gaussian", "gaussian-normal"])
def test_in_sample_draws_have_the_real_columns_fit_and_residual_norm(kind):
    """Each in-sample draw, regressed on the other inputs, gives exactly the real column's
    fitted values and residual sum of squares (the sufficient statistics of the gaussian model),
    and only the residual direction varies between draws."""
    X = toeplitz_X(n=300)
    (m,) = fit_conditional_models(X, columns=[1], kinds=kind)
    draws = m.sample(np.random.default_rng(1), 50)
    assert draws.shape == (50, 300)
    D = np.column_stack([np.ones(300), np.delete(X, 1, axis=1)])
    resid = X[:, 1] - m.predict_mean()
    for d in draws[:10]:
        beta = np.linalg.lstsq(D, d, rcond=None)[0]
        np.testing.assert_allclose(D @ beta, m.predict_mean(), atol=1e-9)
        np.testing.assert_allclose(np.sum((d - D @ beta) ** 2), resid @ resid, rtol=1e-10)
    noise = draws - m.predict_mean()
    assert not np.allclose(noise[0], noise[1])
    # the permuted residuals keep their shape: close to the real residuals' sorted values
    if kind == "gaussian":
        gap = np.abs(np.sort(noise, axis=1) - np.sort(resid)).mean()
        assert gap < 0.1 * resid.std(), gap


def test_the_real_column_is_a_fixed_point_of_the_residual_matching():
    X = toeplitz_X(n=100)
    (m,) = fit_conditional_models(X, columns=[3])
    resid = X[:, 3] - m.predict_mean()
    np.testing.assert_allclose(m._match_residual(resid[None]), resid[None], atol=1e-12)


def test_gaussian_draws_preserve_the_conditional_mean_structure():
    X = toeplitz_X()
    Z = np.delete(X, 0, axis=1)
    (m,) = fit_conditional_models(X, columns=[0])
    B = 40
    for draws in (m.sample(np.random.default_rng(2), B), m.sample(3, B, Z=X)):
        b = ols(np.tile(Z, (B, 1)), draws.ravel())
        se = m.noise_sd / np.sqrt(len(X) * B) / np.sqrt(1 - 0.8**2)  # generous per-coef s.e.
        np.testing.assert_allclose(b[1:], m.coef, atol=6 * se)


def test_draws_correlate_with_the_other_inputs_as_the_real_column_does():
    X = toeplitz_X(n=2000, seed=4)
    models = fit_conditional_models(X)
    for m in models:
        draws = m.sample(np.random.default_rng(5), 20)
        for k in range(X.shape[1]):
            if k == m.index:
                continue
            real = np.corrcoef(X[:, m.index], X[:, k])[0, 1]
            drawn = np.mean([np.corrcoef(d, X[:, k])[0, 1] for d in draws])
            assert abs(drawn - real) < 0.02, (m.name, k, real, drawn)
        # draws are not the column itself: their correlation with it is about R^2
        r = np.mean([np.corrcoef(d, X[:, m.index])[0, 1] for d in draws])
        assert abs(r - m.r2) < 0.05


def test_new_row_draws_have_the_maximum_likelihood_residual_variance():
    X = toeplitz_X(n=200, p=8, seed=6)
    new = toeplitz_X(n=400, p=8, seed=7)
    (m,) = fit_conditional_models(X, columns=[3])
    draws = m.sample(np.random.default_rng(8), 500, Z=new)
    noise = draws - m.predict_mean(new)
    var = noise.var()
    assert abs(var / m.noise_sd**2 - 1) < 0.02  # RSS / n, unscaled
    # and its second moment about the true conditional mean matches the real column's
    assert m.new_row_scale == 1.0
    in_sample = m.sample(np.random.default_rng(8), 5) - m.predict_mean()
    np.testing.assert_allclose(in_sample.var(axis=1), m.noise_sd**2)
    # column 3 of the new rows is ignored
    new2 = new.copy()
    new2[:, 3] = 1e6
    np.testing.assert_array_equal(m.sample(9, 3, Z=new), m.sample(9, 3, Z=new2))


def test_gaussian_normal_draws():
    X = toeplitz_X(n=500, seed=10)
    (m,) = fit_conditional_models(X, columns=["x4"], kinds="gaussian-normal")
    assert m.kind == "gaussian-normal"
    noise = m.sample(np.random.default_rng(0), 400) - m.predict_mean()
    assert abs(noise.std() / m.noise_sd - 1) < 0.02
    assert abs(noise.mean()) < 0.01


def test_draws_are_deterministic_given_the_generator():
    X = toeplitz_X(n=100)
    for m in fit_conditional_models(X, kinds=["gaussian", "gaussian-normal"] * 2 + ["gaussian"]):
        np.testing.assert_array_equal(m.sample(11, 4), m.sample(np.random.default_rng(11), 4))
        np.testing.assert_array_equal(m.sample(12, 4, Z=X[:7]), m.sample(12, 4, Z=X[:7]))


# ---------------------------------------------------------------------- logistic / multinomial
def binary_design(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2, n)
    b = rng.integers(0, 3, n)
    logit = -0.5 + 1.2 * a - 0.7 * b
    xj = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), 5.0, 2.0)  # two values, not 0/1
    return np.column_stack([a, xj, b]).astype(float)


def test_logistic_draw_means_per_covariate_pattern_match_the_predicted_probabilities():
    X = binary_design()
    (m,) = fit_conditional_models(X, columns=[1])
    assert m.kind == "logistic"
    np.testing.assert_array_equal(m.levels, [2.0, 5.0])
    proba = m.predict_proba()
    B = 400
    draws = m.sample(np.random.default_rng(1), B)
    assert set(np.unique(draws)) == {2.0, 5.0}
    patterns = X[:, 0] * 3 + X[:, 2]
    for pat in np.unique(patterns):
        rows = patterns == pat
        p1 = proba[rows, 1]
        np.testing.assert_allclose(p1, p1[0])  # one probability per pattern
        share = np.mean(draws[:, rows] == 5.0)
        se = np.sqrt(p1[0] * (1 - p1[0]) / (B * rows.sum()))
        assert abs(share - p1[0]) < 5 * se
    # the fit is the (nearly unpenalised) maximum-likelihood logistic regression
    from statsmodels.discrete.discrete_model import Logit

    ref = Logit(X[:, 1] == 5.0, np.column_stack([np.ones(len(X)), X[:, [0, 2]]])).fit(disp=0)
    np.testing.assert_allclose(proba[:, 1], ref.predict(), atol=1e-3)
    ll0 = ref.llnull
    np.testing.assert_allclose(m.r2, 1 - ref.llf / ll0, atol=1e-4)  # McFadden
    # new rows
    new = X[:50]
    np.testing.assert_allclose(m.predict_proba(new), proba[:50])
    assert m.sample(2, 3, Z=new).shape == (3, 50)


def test_multinomial_draws_follow_the_predicted_probabilities():
    rng = np.random.default_rng(3)
    n = 3000
    z = rng.normal(size=(n, 2))
    logits = np.column_stack([np.zeros(n), z[:, 0], -z[:, 1] + 0.5])
    pr = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    cat = (rng.random(n)[:, None] > np.cumsum(pr, 1)[:, :-1]).sum(1)
    X = np.column_stack([z[:, 0], cat, z[:, 1]])
    (auto,) = fit_conditional_models(X, columns=[1])
    # auto: an integer column with at most max_levels levels is drawn from its levels, and the
    # multinomial fit (the truth here) beats the boosted classifier on held-out log-loss
    assert auto.kind == "multinomial"
    assert set(auto.cv_scores) == {"multinomial", "classifier"}
    assert auto.cv_score == auto.cv_scores["multinomial"] > auto.cv_scores["classifier"] - 0.05
    (m,) = fit_conditional_models(X, columns=[1], kinds="categorical")
    assert m.kind == "multinomial"
    np.testing.assert_array_equal(m.levels, [0.0, 1.0, 2.0])
    proba = m.predict_proba()
    assert 0 < m.r2 < 1
    draws = m.sample(np.random.default_rng(4), 2000)
    freq = np.stack([(draws == k).mean(0) for k in range(3)], axis=1)
    assert np.max(np.abs(freq - proba)) < 5 * np.sqrt(0.25 / 2000)
    assert np.max(np.abs(proba - pr)) < 0.1  # the fit recovers the truth


# ---------------------------------------------------------------------- custom
def test_custom_sampler_is_called_with_the_rows_and_shape_checked():
    X = toeplitz_X(n=60)
    calls = []

    def sampler(rows, j, rng, n_draws):
        calls.append((rows.shape, j, n_draws))
        return rng.normal(size=(n_draws, rows.shape[0]))

    models = fit_conditional_models(X, columns=[0, 2], sampler={"x2": sampler})
    assert [m.kind for m in models] == ["gaussian", "custom"]
    m = models[1]
    assert np.isnan(m.r2)
    assert m.sample(0, 7).shape == (7, 60)
    assert m.sample(0, 3, Z=X[:5]).shape == (3, 5)
    assert calls == [((60, 5), 2, 7), ((5, 5), 2, 3)]
    np.testing.assert_array_equal(m.sample(1, 2), m.sample(1, 2))

    (bad,) = fit_conditional_models(X, columns=[1], sampler=lambda R, j, rng, b: np.zeros((b, 2)))
    with pytest.raises(ValueError, match=r"sampler for x1 returned shape \(4, 2\); expected"):
        bad.sample(0, 4)
    (nan,) = fit_conditional_models(
        X, columns=[1], sampler=lambda R, j, rng, b: np.full((b, len(R)), np.nan)
    )
    with pytest.raises(ValueError, match="sampler for x1 returned NaN"):
        nan.sample(0, 4)


def test_dataframe_names_and_dict_kinds():
    X = pd.DataFrame(binary_design(n=500), columns=["a", "flag", "b"])
    models = fit_conditional_models(X, kinds={"b": "gaussian-normal"})
    assert [(m.name, m.kind) for m in models] == [
        ("a", "logistic"),
        ("flag", "logistic"),
        ("b", "gaussian-normal"),
    ]
    assert isinstance(models[0], ConditionalModel)


# ---------------------------------------------------------------------- errors
def test_constant_column_error_names_it():
    X = toeplitz_X(n=50)
    X[:, 3] = 1.0
    with pytest.raises(ValueError, match="x3 is constant: its conditional model cannot be fitted"):
        fit_conditional_models(X)
    assert len(fit_conditional_models(X, columns=[0, 1])) == 2  # a constant *other* is harmless


def test_more_inputs_than_rows_error():
    with pytest.raises(ValueError, match=r"5 rows and 5 inputs.*n > p"):
        fit_conditional_models(toeplitz_X(n=5))


def test_exact_linear_function_error_names_the_variable():
    X = toeplitz_X(n=80)
    X[:, 4] = 2 * X[:, 0] - X[:, 1] + 3
    with pytest.raises(ValueError, match=r"x4 is an exact linear function .* \(R\^2 = 1\)"):
        fit_conditional_models(X, columns=["x4"])
    with pytest.raises(ValueError, match="x0 is an exact linear function"):
        fit_conditional_models(X, columns=[0])


def test_separated_binary_column_error():
    X = toeplitz_X(n=100)
    X[:, 1] = (X[:, 0] > 0).astype(float)
    with pytest.raises(ValueError, match="x1 is perfectly predicted by the other inputs"):
        fit_conditional_models(X, columns=[1])


@pytest.mark.parametrize(("value", "what"), [(np.nan, "missing values"), (np.inf, "infinite")])
def test_nan_and_inf_errors_name_the_column(value, what):
    X = toeplitz_X(n=50)
    X[7, 2] = value
    with pytest.raises(ValueError, match=rf"{what}.*\['x2'\]"):
        fit_conditional_models(X)


def test_high_r2_warns_with_the_variable_and_its_r2():
    X = toeplitz_X(n=200)
    rng = np.random.default_rng(0)
    X[:, 4] = X[:, 0] + 0.1 * rng.normal(size=200)
    with pytest.warns(LowPowerWarning, match=r"x4 is nearly determined .*R\^2 = 0\.99"):
        fit_conditional_models(X, columns=[4])


def test_bad_kinds_and_columns():
    X = toeplitz_X(n=50)
    with pytest.raises(ValueError, match="Unknown kind 'poisson' for x0"):
        fit_conditional_models(X, kinds="poisson")
    with pytest.raises(ValueError, match="kind 'logistic' needs a binary column; x0 has 50"):
        fit_conditional_models(X, columns=[0], kinds="logistic")
    with pytest.raises(ValueError, match=r"kind 'multinomial' needs integer codes.*x0"):
        fit_conditional_models(X, columns=[0], kinds="multinomial")
    with pytest.raises(ValueError, match="kind 'custom' for x0 needs a sampler"):
        fit_conditional_models(X, columns=[0], kinds="custom")
    with pytest.raises(ValueError, match="Unknown column 'zz'"):
        fit_conditional_models(X, columns=["zz"])
    with pytest.raises(ValueError, match="kinds has 2 entries for 5 columns"):
        fit_conditional_models(X, kinds=["gaussian", "gaussian"])
    (m,) = fit_conditional_models(X, columns=[0])
    with pytest.raises(ValueError, match=r"Z must be the full rows \(n_rows, 5\)"):
        m.sample(0, 2, Z=X[:, :3])
    bad = X[:4].copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match="Z contains missing or infinite values"):
        m.sample(0, 2, Z=bad)
    with pytest.raises(ValueError, match="n_draws must be a positive integer"):
        m.sample(0, 0)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(8, 60),
    p=st.integers(2, 6),
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-3, 1e3),
)
def test_property_new_row_mean_equals_in_sample_fit_and_draws_keep_the_fit(n, p, seed, scale):
    if n <= p + 1:
        return
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) * scale * rng.uniform(0.1, 10, size=p) + rng.normal(size=p)
    (m,) = fit_conditional_models(X, columns=[p - 1], kinds="gaussian")
    fitted = m.predict_mean()
    # the raw-unit coefficients reproduce the fit on the rows themselves
    np.testing.assert_allclose(m.predict_mean(X), fitted, rtol=1e-8, atol=1e-8 * scale)
    draws = m.sample(rng, 3)
    resid = X[:, p - 1] - fitted
    noise = draws - fitted
    # draw residuals: orthogonal to the intercept and the other columns, the real RSS
    D = np.column_stack([np.ones(n), (X[:, :-1] - X[:, :-1].mean(0)) / X[:, :-1].std(0)])
    np.testing.assert_allclose(noise @ D, 0.0, atol=1e-8 * scale * n)
    np.testing.assert_allclose((noise**2).sum(1), resid @ resid, rtol=1e-8)


# ---------------------------------------------------------------------- boosting / classifier
def quadratic_X(n=300, p=4, seed=0, noise=0.3):
    """x1 = x0^2 - 1 + noise * e, the other columns independent N(0, 1)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    X[:, 1] = X[:, 0] ** 2 - 1 + noise * rng.normal(size=n)
    return X


@pytest.mark.filterwarnings("ignore::sensitivity.conditional.LowPowerWarning")
def test_boosting_draws_reproduce_a_nonlinear_conditional_mean_and_the_noise_sd():
    X = quadratic_X(n=1000)
    new = quadratic_X(n=2000, seed=1)
    (m,) = fit_conditional_models(X, columns=[1], kinds="boosting")
    assert m.kind == "boosting" and m.n_train == 1000
    assert m._boost["degree"] == 2  # the smooth base (squares) beats the linear one
    assert 0.9 < m.r2 < 0.99  # held-out R^2; the truth is 2 / (2 + 0.09) = 0.957
    truth = new[:, 0] ** 2 - 1
    inner = np.abs(new[:, 0]) < 2  # where the training rows are dense
    for draws, rows, t in (
        (m.sample(np.random.default_rng(2), 200, Z=new), inner, truth),
        (m.sample(np.random.default_rng(3), 200), np.abs(X[:, 0]) < 2, X[:, 0] ** 2 - 1),
    ):
        mean = draws.mean(axis=0)
        assert np.mean(np.abs(mean - t)[rows]) < 0.12
        sd = np.sqrt(np.mean(draws.var(axis=0)[rows]))
        assert 0.27 < sd < 0.4, sd  # 0.3, plus the fitted mean's error (held-out residuals)
    # a linear-gaussian model of the same column misses the curve
    (g,) = fit_conditional_models(X, columns=[1], kinds="gaussian")
    g_mean = g.sample(np.random.default_rng(2), 200, Z=new).mean(axis=0)
    assert np.mean(np.abs(g_mean - truth)[inner]) > 0.5


def test_boosting_trees_reproduce_a_step_in_the_conditional_mean():
    X = quadratic_X(n=1000)
    rng = np.random.default_rng(4)
    X[:, 2] = np.sign(X[:, 0]) + np.cos(3 * X[:, 3]) + 0.3 * rng.normal(size=1000)
    new = quadratic_X(n=2000, seed=5)
    truth = np.sign(new[:, 0]) + np.cos(3 * new[:, 3])
    (m,) = fit_conditional_models(X, columns=[2], kinds="boosting")
    assert m.n_trees > 10
    mean = m.sample(np.random.default_rng(6), 200, Z=new).mean(axis=0)
    away = (np.abs(new[:, 0]) > 0.2) & (np.abs(new[:, 3]) < 2)
    assert np.mean(np.abs(mean - truth)[away]) < 0.2
    (g,) = fit_conditional_models(X, columns=[2], kinds="gaussian")
    assert np.mean(np.abs(g.predict_mean(new) - truth)[away]) > 0.5


@pytest.mark.filterwarnings("ignore::sensitivity.conditional.LowPowerWarning")
def test_boosting_in_sample_draws_contain_the_real_column():
    """In-sample draws are the cross-fitted mean plus the cross-fitted scale times permuted
    standardized residuals: the identity permutation gives back the column."""
    X = quadratic_X(n=200)
    (m,) = fit_conditional_models(X, columns=[1], kinds="boosting")
    u = m._boost["u"]
    np.testing.assert_allclose(m.predict_mean() + m.predict_scale() * u, X[:, 1], atol=1e-12)
    draws = m.sample(np.random.default_rng(0), 20)
    noise = (draws - m.predict_mean()) / m.predict_scale()
    np.testing.assert_allclose(np.sort(noise, axis=1), np.broadcast_to(np.sort(u), noise.shape))
    assert not np.allclose(noise[0], u)


def test_boosting_keeps_heavy_tails():
    rng = np.random.default_rng(5)
    n = 2000
    X = rng.normal(size=(n, 3))
    X[:, 1] = X[:, 0] + rng.standard_t(3, size=n)
    new = rng.normal(size=(2000, 3))

    def tail_ratio(noise):  # 99% quantile of |noise| over its interquartile half-width
        q25, q75, q99 = np.percentile(noise, [25, 75, 99.5])
        return (q99 - np.median(noise)) / ((q75 - q25) / 2)

    (m,) = fit_conditional_models(X, columns=[1], kinds="boosting")
    noise = m.sample(np.random.default_rng(6), 50, Z=new) - m.predict_mean(new)
    # t(3): (5.84 - 0) / 0.765 = 7.6; a normal law: 2.576 / 0.674 = 3.8
    assert 6.0 < tail_ratio(noise.ravel()) < 10.0
    (g,) = fit_conditional_models(X, columns=[1], kinds="gaussian-normal")
    assert tail_ratio((g.sample(6, 50, Z=new) - g.predict_mean(new)).ravel()) < 4.5


def test_boosting_recovers_a_heteroscedastic_scale():
    rng = np.random.default_rng(7)
    n = 2000
    X = rng.normal(size=(n, 3))
    sd = lambda Z: 0.2 + np.abs(Z[:, 2])  # noqa: E731
    X[:, 1] = X[:, 0] + sd(X) * rng.normal(size=n)
    new = rng.normal(size=(3000, 3))
    (m,) = fit_conditional_models(X, columns=[1], kinds="boosting")
    assert m.n_scale_trees > 0
    assert np.corrcoef(m.predict_scale(new), sd(new))[0, 1] > 0.9
    draws = m.sample(np.random.default_rng(8), 100, Z=new)
    draw_sd = draws.std(axis=0)
    for lo, hi in ((0.0, 0.3), (1.2, 2.0)):
        rows = (np.abs(new[:, 2]) >= lo) & (np.abs(new[:, 2]) < hi)
        true_sd = np.sqrt(np.mean(sd(new[rows]) ** 2))
        assert abs(np.sqrt(np.mean(draw_sd[rows] ** 2)) / true_sd - 1) < 0.25
    # auto prefers it to the homoscedastic linear-gaussian model
    (a,) = fit_conditional_models(X, columns=[1])
    assert a.kind == "boosting" and a.cv_scores["boosting"] > a.cv_scores["gaussian"]


def discrete_X(n=3000, seed=9):
    """A binary column (logistic in z0) and a 3-level column (softmax with a nonlinear term)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    p_bin = 1 / (1 + np.exp(-2 * z[:, 0]))
    b = (rng.random(n) < p_bin).astype(float)
    logits = np.column_stack([np.zeros(n), 1.5 * z[:, 0], 1.5 * z[:, 1] ** 2 - 1.5])
    pr = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    c = (rng.random(n)[:, None] > np.cumsum(pr, 1)[:, :-1]).sum(1) + 1.0  # levels 1, 2, 3
    return np.column_stack([z[:, 0], b, c, z[:, 1]]), p_bin, pr


def test_classifier_draws_take_the_observed_levels_with_the_true_probabilities():
    X, p_bin, pr = discrete_X()
    mb, mc = fit_conditional_models(X, columns=[1, 2], kinds="classifier")
    assert mb.kind == mc.kind == "classifier"
    np.testing.assert_array_equal(mc.levels, [1.0, 2.0, 3.0])
    for m, truth in ((mb, np.column_stack([1 - p_bin, p_bin])), (mc, pr)):
        assert m.n_trees > 0 and 0 < m.r2 < 1
        draws = m.sample(np.random.default_rng(1), 400)
        assert set(np.unique(draws)) == set(m.levels)
        freq = np.stack([(draws == v).mean(0) for v in m.levels], axis=1)
        np.testing.assert_allclose(freq.sum(1), 1.0)
        assert np.mean(np.abs(freq - truth)) < 0.06  # in-sample: out-of-fold probabilities
        new = m.predict_proba(X[:500])
        assert np.mean(np.abs(new - truth[:500])) < 0.06
        assert set(np.unique(m.sample(2, 5, Z=X[:50]))) <= set(m.levels)
    # the 3-level column has a quadratic logit: auto picks the classifier over the
    # multinomial regression, and the logistic regression for the binary column
    auto = fit_conditional_models(X, columns=[1, 2])
    assert [m.kind for m in auto] == ["logistic", "classifier"]
    assert set(auto[1].cv_scores) == {"multinomial", "classifier"}


def test_auto_chooses_boosting_for_the_quadratic_column_and_gaussian_for_linear_ones():
    models = fit_conditional_models(quadratic_X(n=300, p=6, seed=3))
    kinds = {m.name: m.kind for m in models}
    assert kinds["x1"] == "boosting"
    assert all(kinds[f"x{k}"] == "gaussian" for k in (2, 3, 4, 5))
    m1 = models[1]
    assert m1.cv_score == m1.cv_scores["boosting"] > m1.cv_scores["gaussian"] + 0.5
    lin = fit_conditional_models(toeplitz_X(n=300, p=6, seed=3))
    assert [m.kind for m in lin] == ["gaussian"] * 6
    for m in lin:
        assert m.cv_score == m.cv_scores["gaussian"]
        assert m.cv_scores["boosting"] < m.cv_scores["gaussian"] + 0.02
    # explicit kinds are kept, with no held-out score
    (g,) = fit_conditional_models(quadratic_X(), columns=[1], kinds="gaussian")
    assert g.kind == "gaussian" and np.isnan(g.cv_score) and g.cv_scores == {}


@pytest.mark.filterwarnings("ignore::sensitivity.conditional.LowPowerWarning")
def test_boosted_kinds_are_deterministic():
    X = quadratic_X(n=200)
    X[:, 2] = (X[:, 0] + np.random.default_rng(0).normal(size=200) > 0).astype(float)
    a = fit_conditional_models(X, kinds={"x1": "boosting", "x2": "classifier"}, random_state=4)
    b = fit_conditional_models(X, kinds={"x1": "boosting", "x2": "classifier"}, random_state=4)
    for ma, mb in zip(a, b, strict=True):
        assert ma.kind == mb.kind and ma.n_trees == mb.n_trees
        np.testing.assert_array_equal(ma.sample(11, 4), mb.sample(np.random.default_rng(11), 4))
        np.testing.assert_array_equal(ma.sample(12, 3, Z=X[:7]), mb.sample(12, 3, Z=X[:7]))
    # the folds depend on random_state; column j's folds not on the other columns requested
    (c,) = fit_conditional_models(X, columns=[1], kinds="boosting", random_state=4)
    np.testing.assert_array_equal(c.predict_mean(), a[1].predict_mean())
    (d,) = fit_conditional_models(X, columns=[1], kinds="boosting", random_state=5)
    assert not np.array_equal(d.predict_mean(), a[1].predict_mean())
    # column j of new rows is ignored
    new = X[:20].copy()
    new[:, 1] = 1e6
    np.testing.assert_array_equal(a[1].sample(3, 2, Z=new), a[1].sample(3, 2, Z=X[:20]))


# ---------------------------------------------------------------------- check_conditional
def test_check_flags_linear_draws_of_the_quadratic_column_and_not_boosting_draws():
    X = quadratic_X(n=300, p=6, seed=11)
    X_eval = quadratic_X(n=300, p=6, seed=12)
    (g,) = fit_conditional_models(X, columns=[1], kinds="gaussian")
    (b,) = fit_conditional_models(X, columns=[1], kinds="boosting")
    cg = check_conditional(g, X_eval, 0)
    cb = check_conditional(b, X_eval, 0)
    assert isinstance(cg, ConditionalCheck) and cg.name == "x1" and cg.kind == "gaussian"
    assert cg.auc > 0.7 and cg.p_value < 1e-6 and cg.pair_accuracy > 0.65
    assert cb.auc < 0.6 and cb.p_value > 0.05
    assert cg.n_pairs == 150 and cg.n_wins + cg.n_ties <= 150  # half the rows test
    # deterministic given the generator
    assert check_conditional(b, X_eval, 0) == cb
    lg = check_conditional(g, X_eval, 1, classifier="logistic")  # weaker: no interactions
    assert 0 < lg.p_value <= 1 and lg.n_pairs == 150
    r = check_conditional(g, X_eval, 1, features="residual", test_size=0.3)
    assert r.n_pairs == 90 and r.p_value < 1e-3


def test_check_level_with_the_true_conditional_law():
    """Draws from the true law: the sign test's p-values are (super-)uniform."""
    C = 0.8 ** np.abs(np.subtract.outer(np.arange(4), np.arange(4)))
    o = [0, 1, 3]
    b = np.linalg.solve(C[np.ix_(o, o)], C[o, 2])
    sd = np.sqrt(C[2, 2] - C[2, o] @ b)

    def truth(R, j, rng, B):
        return np.delete(R, j, axis=1) @ b + sd * rng.standard_normal((B, R.shape[0]))

    rng = np.random.default_rng(0)
    X = rng.multivariate_normal(np.zeros(4), C, size=100)
    (m,) = fit_conditional_models(X, columns=[2], sampler=truth)
    p = [
        check_conditional(m, rng.multivariate_normal(np.zeros(4), C, size=120), s).p_value
        for s in range(40)
    ]
    assert np.mean(np.array(p) <= 0.2) < 0.35  # 0.2 expected; binomial sd 0.063


def test_check_of_a_discrete_model():
    X, _, _ = discrete_X(n=1200)
    (m,) = fit_conditional_models(X[:600], columns=[2], kinds="multinomial")
    c = check_conditional(m, X[600:], 3)
    assert c.n_ties > 100  # a drawn level often equals the real one: those pairs are ties
    assert 0 <= c.p_value <= 1 and 0.3 < c.auc < 0.7


def test_check_conditional_errors():
    X = quadratic_X(n=60)
    (m,) = fit_conditional_models(X, columns=[1])
    with pytest.raises(ValueError, match=r"at least 20 evaluation rows; got 6"):
        check_conditional(m, X[:6], 0)
    with pytest.raises(ValueError, match=r"test_size must be a number in \(0, 1\)"):
        check_conditional(m, X, 0, test_size=1.0)
    with pytest.raises(ValueError, match="features must be 'data' or 'residual'"):
        check_conditional(m, X, 0, features="all")
    with pytest.raises(ValueError, match=r"Z must be the full rows \(n_rows, 4\)"):
        check_conditional(m, X[:, :3], 0)
    with pytest.raises(TypeError, match="model must be a ConditionalModel"):
        check_conditional("x1", X, 0)
    with pytest.raises(ValueError, match="classifier must be 'boosting' or 'logistic'"):
        check_conditional(m, X, 0, classifier="svm")
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X_eval contains missing or infinite values in x1"):
        check_conditional(m, bad, 0)


# ---------------------------------------------------------------------- untestable variables
def test_untestable_variables_raise_a_dedicated_error_naming_them():
    import pickle

    X = toeplitz_X(n=300)
    X[:, 3] = 2.0
    with pytest.raises(UntestableVariableError, match="x3 is constant") as err:
        fit_conditional_models(X, columns=[3])
    assert err.value.variable == "x3" and isinstance(err.value, ValueError)
    again = pickle.loads(pickle.dumps(err.value))
    assert again.variable == "x3" and str(again) == str(err.value)

    # a nonlinear function of the others (here of a coded 4-level input), learnt by the trees
    X = toeplitz_X(n=300)
    X[:, 3] = np.round(X[:, 3]).clip(-1, 2)
    X[:, 4] = np.sin(2 * X[:, 3]) + X[:, 3] ** 2
    for kinds in ("boosting", "auto"):
        with pytest.raises(UntestableVariableError, match=r"x4 is determined .*R\^2 = 0\.999"):
            fit_conditional_models(X, columns=["x4"], kinds=kinds)
    # with noise it is testable (and warned about when nearly determined)
    X[:, 4] += 0.2 * np.random.default_rng(0).normal(size=300)
    with pytest.warns(LowPowerWarning, match=r"x4 .*held-out R\^2 = 0\.9"):
        (m,) = fit_conditional_models(X, columns=["x4"])
    assert m.kind == "boosting" and 0.95 < m.r2 < 0.99
    # an exact linear function: under boosting its held-out R^2 is 1
    X = toeplitz_X(n=80)
    X[:, 4] = 2 * X[:, 0] - X[:, 1] + 3
    with pytest.raises(UntestableVariableError, match=r"x4 is determined .*R\^2 = 1\.0000"):
        fit_conditional_models(X, columns=[4], kinds="boosting")


def test_classifier_that_predicts_every_level_is_untestable():
    X = toeplitz_X(n=300)
    X[:, 3] = np.round(X[:, 3]).clip(-1, 1)
    X[:, 2] = (X[:, 3] == 0).astype(float)  # determined by the coded input x3
    with pytest.raises(UntestableVariableError, match="x2 is perfectly predicted") as err:
        fit_conditional_models(X, columns=[2], kinds="classifier")
    assert err.value.variable == "x2"


def test_auto_discrete_rule_and_bad_settings():
    X = toeplitz_X(n=200)
    X[:, 2] = np.round(2 * X[:, 2]).clip(-2, 2)  # integers, 5 levels: discrete
    X[:, 3] = np.round(X[:, 3] * 10) / 10  # not integers: continuous
    models = fit_conditional_models(X, columns=[2, 3])
    assert models[0].kind in ("multinomial", "classifier")
    assert models[1].kind in ("gaussian", "boosting")
    (m,) = fit_conditional_models(X, columns=[2], max_levels=4)  # too many levels: continuous
    assert m.kind in ("gaussian", "boosting")
    with pytest.raises(ValueError, match="kind 'classifier' needs a column with at most 10"):
        fit_conditional_models(X, columns=[0], kinds="classifier")
    with pytest.raises(ValueError, match="n_folds must be an integer >= 2; got 1"):
        fit_conditional_models(X, n_folds=1)
    # three rows: too few to compare models held out; auto takes the parametric kind
    tiny = np.array([[0.1, 1.3], [1.2, 0.5], [2.5, 3.1]])
    assert [m.kind for m in fit_conditional_models(tiny)] == ["gaussian", "gaussian"]
    with pytest.raises(ValueError, match="kind 'boosting' needs at least 4 rows"):
        fit_conditional_models(tiny, kinds="boosting")
    with pytest.raises(TypeError, match="boosting must be a dict"):
        fit_conditional_models(X, boosting=3)
    (m,) = fit_conditional_models(X, columns=[0], kinds="boosting", boosting={"max_iter": 5})
    assert m.n_trees <= 5
    with pytest.raises(TypeError, match="predict_scale needs a boosting model"):
        fit_conditional_models(X, columns=[0], kinds="gaussian")[0].predict_scale()


def test_boosting_draws_on_new_rows_are_not_over_dispersed():
    """A draw's mean squared distance from the true conditional mean equals the true
    conditional variance (the fitted mean's own error is offset by new_row_scale); without the
    offset it was about 1.1 times too large on this linear-gaussian column."""
    p = 6
    S = 0.5 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    L = np.linalg.cholesky(S)
    j, others = 3, [0, 1, 2, 4, 5]
    b = np.linalg.solve(S[np.ix_(others, others)], S[others, j])
    s2 = S[j, j] - S[j, others] @ b
    ratios = []
    for rep in range(12):
        rng = np.random.default_rng(rep)
        X = rng.normal(size=(300, p)) @ L.T
        (cm,) = fit_conditional_models(X[:240], columns=[j], kinds="boosting")
        assert 0 < cm.new_row_scale <= 1
        d = cm.sample(rng, 50, Z=X[240:])
        ratios.append(np.mean((d - X[240:, others] @ b) ** 2) / s2)
    assert np.mean(ratios) == pytest.approx(1.0, abs=0.05)
