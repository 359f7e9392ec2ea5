"""Conditional models of x_j given the other inputs (sensitivity.conditional)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensitivity.conditional import (
    ConditionalModel,
    LowPowerWarning,
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
    (m,) = fit_conditional_models(X, columns=[p - 1])
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
