"""Every public warning points at the user's call: the recorded warning's file is this file.

A warning is only useful where it names the line that caused it. Each test reaches a warning
through the public API (a plain function, an estimator's ``fit``, a result method) and checks
the file that ``warnings`` attributes it to. Warnings issued in modules of the package that
still use a fixed ``stacklevel`` are expected failures (``strict``: the test fails once they
point at the user, so the mark must then be removed).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.neural_network import MLPRegressor

import sensitivity
from sensitivity import MIV, Attributions, Dimopoulos, Olden
from sensitivity.network import row_chunks
from sensitivity.result import importance_frame

HERE = __file__


def _net(activation="relu", alpha=1e-3, seed=0):
    return MLPRegressor(
        hidden_layer_sizes=(5,),
        activation=activation,
        solver="lbfgs",
        alpha=alpha,
        max_iter=300,
        random_state=seed,
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(1.0, 3.0, size=(60, 3))  # away from zero: no MIV centring warning
    y = X[:, 0] - 0.5 * X[:, 1] ** 2 + 0.1 * rng.normal(size=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        relu = _net().fit(X, y)
        tanh = _net("tanh").fit(X, y)
    return X, y, relu, tanh


def _recorded(category, match, call):
    """The warnings of ``category`` whose message contains ``match`` raised by ``call()``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    hits = [w for w in caught if issubclass(w.category, category) and match in str(w.message)]
    assert hits, (
        f"no {category.__name__} containing {match!r}; got {[str(w.message) for w in caught]}"
    )
    return hits


def _points_here(category, match, call):
    for w in _recorded(category, match, call):
        assert w.filename == HERE, f"{w.filename}:{w.lineno}: {w.message}"


# ---------------------------------------------------------------------- fixed stacklevels fixed
def test_deprecated_memory_in_bytes(data):
    _points_here(
        FutureWarning,
        "max_memory (bytes) is deprecated",
        lambda: row_chunks(100, 8, max_memory=10_000),
    )


def test_constant_input_with_sd_scale_plain_function(data):
    X, _, relu, _ = data
    Xc = X.copy()
    Xc[:, 2] = 1.0
    _points_here(
        UserWarning, "are constant in X", lambda: sensitivity.dimopoulos(relu, Xc, scale="sd")
    )


def test_constant_input_with_sd_scale_estimator(data):
    X, y, relu, _ = data
    Xc = X.copy()
    Xc[:, 2] = 1.0
    est = Dimopoulos(relu, prefit=True, scale="sd")
    _points_here(UserWarning, "are constant in X", lambda: est.fit(Xc, y))


def test_second_order_of_a_relu_network_plain_function(data):
    X, _, relu, _ = data
    call = lambda: sensitivity.dimopoulos(relu, X, second_order=True)  # noqa: E731
    _points_here(UserWarning, "piecewise-linear activations", call)


def test_second_order_of_a_relu_network_estimator(data):
    X, y, relu, _ = data
    est = Dimopoulos(relu, prefit=True, second_order=True)
    _points_here(UserWarning, "piecewise-linear activations", lambda: est.fit(X, y))


def test_constant_output_plain_function(data):
    X, _, _, tanh = data
    flat = MLPRegressor(hidden_layer_sizes=(5,), activation="tanh")
    flat.__dict__.update(tanh.__dict__)
    flat.coefs_ = [np.zeros_like(tanh.coefs_[0]), tanh.coefs_[1]]
    call = lambda: sensitivity.dimopoulos(flat, X)  # noqa: E731
    _points_here(RuntimeWarning, "Every derivative of some output is zero", call)
    _points_here(RuntimeWarning, "All importances are zero", call)


def test_all_zero_importances_in_a_frame():
    call = lambda: importance_frame([[0.0, 0.0]], ["a", "b"], ["y"], signed=True)  # noqa: E731
    _points_here(RuntimeWarning, "All importances are zero", call)


def _ig_settings():
    return {"n_steps": 1, "integration": "riemann_left", "tolerance": 1e-9}


def test_integrated_gradients_gap_plain_functions(data):
    X, _, relu, _ = data
    gap = "completeness gap"
    _points_here(
        UserWarning, gap, lambda: sensitivity.integrated_gradients(relu, X, **_ig_settings())
    )
    _points_here(
        UserWarning,
        gap,
        lambda: sensitivity.attributions.attributions(
            relu, X, "integrated_gradients", **_ig_settings()
        ),
    )


def test_integrated_gradients_gap_estimator(data):
    X, y, relu, _ = data
    est = Attributions(relu, prefit=True, method="integrated_gradients", **_ig_settings())
    est.fit(X, y)
    _points_here(UserWarning, "completeness gap", lambda: est.local_attributions(X))


# ---------------------------------------------------------------------- other modules
def test_miv_on_centred_variables_plain_function(data):
    X, _, relu, _ = data
    Xs = X - X.mean(axis=0)
    _points_here(UserWarning, "centred near zero", lambda: sensitivity.miv(relu, Xs))


def test_miv_on_centred_variables_estimator(data):
    X, y, relu, _ = data
    Xs = X - X.mean(axis=0)
    _points_here(UserWarning, "centred near zero", lambda: MIV(relu, prefit=True).fit(Xs, y))


def test_few_permutations_for_the_adjusted_level(data):
    X, y, _, tanh = data
    est = Olden(
        tanh, prefit=True, n_permutations=9, train_alpha=1.0, random_state=0, null="conditional"
    )
    _points_here(UserWarning, "smallest attainable p-value", lambda: est.fit(X, y))


def test_marginal_null_of_correlated_inputs(data):
    X, y, _, _ = data
    rng = np.random.default_rng(2)
    Xc = np.column_stack([X, X[:, 0] + 0.1 * rng.normal(size=len(X))])
    est = Olden(_net("tanh"), n_permutations=19, null="variable", train_alpha=1.0, random_state=0)
    _points_here(UserWarning, "null='variable' permutes each input", lambda: est.fit(Xc, y))


def test_nearly_determined_input_lowers_the_conditional_tests_power(data):
    X, y, _, _ = data
    rng = np.random.default_rng(1)
    Xc = np.column_stack([X, X[:, 0] + 1e-4 * rng.normal(size=len(X))])
    est = Olden(
        _net("tanh"), n_permutations=19, train_alpha=1.0, random_state=0, null="conditional"
    )
    _points_here(
        sensitivity.conditional.LowPowerWarning, "nearly determined", lambda: est.fit(Xc, y)
    )


def test_unpenalised_model_in_sample_influence(data):
    X, y, _, _ = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = _net("tanh", alpha=0.0).fit(X, y)
    est = sensitivity.SampleInfluence(net, damping=0.1)
    _points_here(UserWarning, "no L2 penalty (alpha=0)", lambda: est.fit(X, y))
