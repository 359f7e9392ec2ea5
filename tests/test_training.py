"""The batched trainer: scikit-learn's objective, per-network data, determinism."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from sensitivity import adapters
from sensitivity.training import (
    TrainingSpec,
    _Problem,
    _VarProProblem,
    fit_networks,
    init_weights,
    train_networks,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.tanh(X[:, 0]) - 0.5 * X[:, 1] + 0.3 * rng.normal(size=60)
    return X, y


def _sk_from_init(model, X, y, init):
    """Fit ``model`` with scikit-learn's lbfgs starting from the given weights (warm start)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(max_iter=1).fit(X, y)
        model.coefs_ = [c[0].copy() for c in init[0]]
        model.intercepts_ = [b[0].copy() for b in init[1]]
        model.set_params(warm_start=True, max_iter=5000, tol=1e-12).fit(X, y)
    return model


def _theta(coefs, ints):
    return torch.cat(
        [torch.as_tensor(np.asarray(c)).reshape(1, -1) for c in coefs]
        + [torch.as_tensor(np.asarray(b)).reshape(1, -1) for b in ints],
        dim=1,
    )


@pytest.mark.parametrize("kind", ["regressor", "binary", "multiclass"])
def test_objective_equals_sklearn_loss_at_its_solution(data, kind):
    X, y = data
    if kind == "regressor":
        model = MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs", alpha=0.3)
        Y = y[:, None]
        target = y
    else:
        target = (y > 0).astype(int) if kind == "binary" else np.digitize(y, [-0.5, 0.5])
        model = MLPClassifier(hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs", alpha=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(max_iter=300, random_state=0).fit(X, target)
    spec = adapters.training_spec(model)
    if kind != "regressor":
        Y = np.eye(len(model.classes_))[np.searchsorted(model.classes_, target)]
        Y = Y[:, 1:] if kind == "binary" else Y
    prob = _Problem(spec, (3, 4, Y.shape[1]), torch.as_tensor(X), torch.as_tensor(Y), None,
                    torch.float64, None)  # fmt: skip
    prob.penalty = torch.tensor([0.5 * 0.3 / 60], dtype=torch.float64)
    f, g = prob.loss_grad(_theta(model.coefs_, model.intercepts_))
    assert f.item() == pytest.approx(model.loss_, rel=1e-10)
    # the gradient agrees with autograd of the same objective
    th = _theta(model.coefs_, model.intercepts_).requires_grad_(True)
    (g2,) = torch.autograd.grad(prob.loss(th).sum(), th)
    np.testing.assert_allclose(g.numpy(), g2.numpy(), atol=1e-12)


@pytest.mark.parametrize("solver", ["varpro", "lbfgs"])
def test_trainer_reaches_sklearn_lbfgs_loss_from_the_same_init(data, solver):
    X, y = data
    spec = TrainingSpec((4,), "tanh", "identity", "squared_error", 0.3)
    init = init_weights(spec, 3, 1, 1, seed=3)
    sk = _sk_from_init(
        MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs", alpha=0.3),
        X, y, init,
    )  # fmt: skip
    res = fit_networks(spec, X, y[:, None], init, tol=1e-9, ftol=0, max_iter=3000, solver=solver,
                       dtype=torch.float64)  # fmt: skip
    assert res.converged[0]
    assert res.loss[0] == pytest.approx(sk.loss_, rel=1e-6)


def test_classifier_trainer_reaches_sklearn_loss(data):
    X, y = data
    target = np.digitize(y, [-0.5, 0.5])
    spec = TrainingSpec((4,), "logistic", "softmax", "log_loss", 0.5, is_classifier=True)
    init = init_weights(spec, 3, 3, 1, seed=1)
    sk = _sk_from_init(
        MLPClassifier(hidden_layer_sizes=(4,), activation="logistic", solver="lbfgs", alpha=0.5),
        X, target, init,
    )  # fmt: skip
    res = fit_networks(spec, X, np.eye(3)[target], init, tol=1e-9, ftol=0, max_iter=3000,
                       dtype=torch.float64)  # fmt: skip
    assert res.loss[0] == pytest.approx(sk.loss_, rel=1e-6)


def test_per_network_targets_weights_and_inits_are_respected(data):
    X, y = data
    rng = np.random.default_rng(1)
    spec = TrainingSpec((3,), "logistic", "identity", "squared_error", 1.0)
    init = init_weights(spec, 3, 1, 3, seed=5)
    Y = np.stack([y, y[rng.permutation(60)], -y])[..., None]
    w = rng.integers(0, 3, size=(3, 60)).astype(float)
    kw = {"tol": 1e-8, "max_iter": 500, "dtype": torch.float64}
    together = fit_networks(spec, X, Y, init, sample_weight=w, **kw)
    for b in range(3):
        one = ([c[b : b + 1] for c in init[0]], [c[b : b + 1] for c in init[1]])
        alone = fit_networks(spec, X, Y[b : b + 1], one, sample_weight=w[b : b + 1], **kw)
        assert alone.loss[0] == pytest.approx(together.loss[b], rel=1e-9)
        for c1, c2 in zip(alone.coefs, together.coefs, strict=True):
            np.testing.assert_allclose(c1[0], c2[b], atol=1e-7)
    # row-weight counts are the same as repeating rows
    idx = np.repeat(np.arange(60), w[0].astype(int))
    one = ([c[:1] for c in init[0]], [c[:1] for c in init[1]])
    rep = fit_networks(spec, X[idx], Y[0, idx][None], one, **kw)
    assert rep.loss[0] == pytest.approx(together.loss[0], rel=1e-7)


def test_varpro_and_plain_lbfgs_minimise_the_same_objective(data):
    X, y = data
    spec = TrainingSpec((3,), "tanh", "identity", "squared_error", 1.0)
    init = init_weights(spec, 3, 1, 1, seed=2)
    res = fit_networks(spec, X, y[:, None], init, tol=1e-9, ftol=0, max_iter=2000, solver="varpro",
                       dtype=torch.float64)  # fmt: skip
    prob = _VarProProblem(spec, (3, 3, 1), torch.as_tensor(X), torch.as_tensor(y[:, None]),
                          None, torch.float64, None)  # fmt: skip
    prob.penalty = torch.tensor([0.5 / 60], dtype=torch.float64)
    full = _Problem(spec, (3, 3, 1), torch.as_tensor(X), torch.as_tensor(y[:, None]), None,
                    torch.float64, None)  # fmt: skip
    full.penalty = prob.penalty
    f_full, g_full = full.loss_grad(_theta(res.coefs, res.intercepts))
    assert f_full.item() == pytest.approx(res.loss[0], rel=1e-12)
    assert g_full.abs().max().item() < 1e-7  # stationary for the full problem too


def test_chunking_and_n_jobs_do_not_change_results(data):
    X, y = data
    rng = np.random.default_rng(2)
    spec = TrainingSpec((3,), "relu", "identity", "squared_error", 1.0)
    init = init_weights(spec, 3, 1, 1, seed=0)
    B = 7
    initB = ([np.repeat(c, B, 0) for c in init[0]], [np.repeat(b, B, 0) for b in init[1]])
    perms = np.stack([rng.permutation(60) for _ in range(B)])
    kw = {"tol": 1e-6, "max_iter": 300, "dtype": torch.float64}
    a = train_networks(spec, X, y[:, None], initB, y_perm=perms, **kw)
    b = train_networks(spec, X, y[:, None], initB, y_perm=perms, chunk_size=3, n_jobs=2, **kw)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-10)
    for c1, c2 in zip(a.coefs, b.coefs, strict=True):
        np.testing.assert_allclose(c1, c2, atol=1e-8)


def test_column_permutation_matches_a_manually_permuted_input(data):
    X, y = data
    rng = np.random.default_rng(3)
    spec = TrainingSpec((3,), "tanh", "identity", "squared_error", 1.0)
    init = init_weights(spec, 3, 1, 2, seed=0)
    cols = np.array([0, 2])
    perms = np.stack([rng.permutation(60) for _ in range(2)])
    kw = {"tol": 1e-8, "max_iter": 400, "dtype": torch.float64}
    res = train_networks(spec, X, y[:, None], init, col_perm=(cols, perms), **kw)
    for b in range(2):
        Xp = X.copy()
        Xp[:, cols[b]] = X[perms[b], cols[b]]
        one = ([c[b : b + 1] for c in init[0]], [c[b : b + 1] for c in init[1]])
        alone = fit_networks(spec, Xp, y[:, None], one, **kw)
        assert alone.loss[0] == pytest.approx(res.loss[b], rel=1e-9)


def test_training_spec_reads_sklearn_models():
    spec = adapters.training_spec(MLPRegressor(hidden_layer_sizes=(5, 2), alpha=0.2))
    assert spec.hidden_sizes == (5, 2) and spec.activation == "relu" and spec.alpha == 0.2
    assert spec.loss == "squared_error" and spec.out_activation == "identity"
    with pytest.raises(TypeError, match="squared-error"):
        adapters.training_spec(MLPRegressor(loss="poisson"))
    with pytest.raises(TypeError, match="trainer='estimator'"):
        adapters.training_spec(object())


def _directional_fd(prob, theta, direction, h=1e-6):
    with torch.no_grad():  # the trainer's path (reused workspaces)
        fp, _ = prob.loss_grad(theta + h * direction)
        fm, _ = prob.loss_grad(theta - h * direction)
    return (fp - fm) / (2 * h)


@pytest.mark.parametrize("activation", ["logistic", "tanh", "relu", "identity"])
@pytest.mark.parametrize("per_network_X", [False, True, "column"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("problem", ["varpro", "squared_error", "binary", "multiclass"])
def test_gradient_equals_finite_differences(activation, per_network_X, weighted, problem):
    """Two hidden layers, 3 networks with their own data: the explicit back-propagation (the
    trainer's fast layout) equals central differences of its own objective."""
    rng = np.random.default_rng(11)
    B, n, p = 3, 25, 3
    sizes = (p, 4, 3, {"binary": 1, "multiclass": 3}.get(problem, 2))
    X = rng.normal(size=(B, n, p)) if per_network_X else rng.normal(size=(n, p))
    if problem in ("varpro", "squared_error"):
        spec = TrainingSpec((4, 3), activation, "identity", "squared_error", 0.7)
        Y = rng.normal(size=(B, n, 2))
    elif problem == "binary":
        spec = TrainingSpec((4, 3), activation, "logistic", "log_loss", 0.7, is_classifier=True)
        Y = rng.integers(0, 2, size=(B, n, 1)).astype(float)
    else:
        spec = TrainingSpec((4, 3), activation, "softmax", "log_loss", 0.7, is_classifier=True)
        Y = np.eye(3)[rng.integers(0, 3, size=(B, n))]
    w = None
    if weighted:
        w = torch.as_tensor(rng.integers(0, 3, size=(B, n)).astype(float))
        w = w / w.sum(dim=1, keepdim=True)
    cls = _VarProProblem if problem == "varpro" else _Problem
    col = None
    if per_network_X == "column":  # shared X, one column per network replaced (rank one)
        X = rng.normal(size=(n, p))
        col = (np.array([0, 2, 1]), torch.as_tensor(rng.normal(size=(n, B))))
    prob = cls(spec, sizes, torch.as_tensor(X), torch.as_tensor(Y), w, torch.float64, None,
               col=col)  # fmt: skip
    prob.penalty = torch.full((B,), 0.5 * 0.7 / n, dtype=torch.float64)
    theta = torch.as_tensor(rng.normal(scale=0.7, size=(B, prob.n_params)))
    with torch.no_grad():  # the trainer's path (reused workspaces)
        f, g = prob.loss_grad(theta)
        f2, g2 = prob.loss_grad(theta)  # a second pass over the same workspaces
    assert torch.equal(f, f2) and torch.equal(g, g2)
    f_plain, g_plain = prob.loss_grad(theta)  # autograd on: fresh arrays
    torch.testing.assert_close(f, f_plain, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g, g_plain, rtol=1e-12, atol=1e-14)
    if problem != "varpro":
        assert torch.allclose(f, prob.loss(theta))
    for _ in range(3):
        direction = torch.as_tensor(rng.normal(size=theta.shape))
        fd = _directional_fd(prob, theta, direction)
        np.testing.assert_allclose((g * direction).sum(dim=1).numpy(), fd.numpy(), rtol=1e-6,
                                   atol=1e-8)  # fmt: skip


def test_backtracking_networks_keep_their_own_trajectories(data, monkeypatch):
    """Networks of one block reject trial steps at different passes (a saturated start makes
    the first steps fail the Armijo test); each still follows the trajectory it has alone."""
    X, y = data
    spec = TrainingSpec((3,), "tanh", "identity", "squared_error", 0.1)
    init = init_weights(spec, 3, 1, 2, seed=4)
    init[0][0][1] *= 40.0
    kw = {"tol": 1e-7, "max_iter": 300, "dtype": torch.float64}
    passes = []
    loss_grad = _VarProProblem.loss_grad

    def counting(self, theta):
        passes.append(theta.shape[0])
        return loss_grad(self, theta)

    monkeypatch.setattr(_VarProProblem, "loss_grad", counting)
    both = fit_networks(spec, X, y[:, None], init, **kw)
    assert len(passes) > 1 + both.n_iter.max()  # some trial points were rejected
    for b in range(2):
        one = ([c[b : b + 1] for c in init[0]], [c[b : b + 1] for c in init[1]])
        alone = fit_networks(spec, X, y[:, None], one, **kw)
        assert alone.loss[0] == pytest.approx(both.loss[b], rel=1e-12)
        assert alone.n_iter[0] == both.n_iter[b]


def test_allocator_setting_is_opt_in(data, monkeypatch):
    """Training never touches glibc's allocator by itself (a process-wide setting); the
    opt-in function does, where glibc exists."""
    import ctypes
    import platform
    import sys

    from sensitivity import training

    def refuse(*args, **kwargs):
        raise AssertionError("the trainer loaded libc by itself")

    X, y = data
    spec = TrainingSpec((3,), "tanh", "identity", "squared_error", 1.0)
    with monkeypatch.context() as m:
        m.setattr(ctypes, "CDLL", refuse)
        train_networks(spec, X, y[:, None], init_weights(spec, 3, 1, 2, 0), max_iter=3)
    expected = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"
    assert training.keep_freed_blocks_in_heap() is expected


def test_col_values_equals_col_perm_when_values_are_the_permuted_column():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = (X[:, :1] - X[:, 1:2]) + 0.1 * rng.normal(size=(40, 1))
    spec = TrainingSpec((4,), "tanh", "identity", "squared_error", 1.0)
    init = init_weights(spec, 3, 1, 4, 0)
    cols = np.array([0, 1, 2, 0])
    perms = np.stack([rng.permutation(40) for _ in range(4)])
    a = train_networks(spec, X, Y, init, col_perm=(cols, perms), max_iter=30)
    values = X[perms, cols[:, None]]
    b = train_networks(spec, X, Y, init, col_values=(cols, values), max_iter=30)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.coefs[0], b.coefs[0])
    c = train_networks(spec, X, Y, init, col_values=(cols, values + 1.0), max_iter=30)
    assert not np.allclose(a.loss, c.loss)


def test_memory_budget_never_changes_results(data):
    """The block size is fixed; the memory budget decides only how many blocks run at once."""
    X, y = data
    rng = np.random.default_rng(5)
    spec = TrainingSpec((3,), "tanh", "identity", "squared_error", 1.0)
    init = init_weights(spec, 3, 1, 7, seed=0)
    perms = np.stack([rng.permutation(60) for _ in range(7)])
    kw = {"max_iter": 40, "block_size": 3, "y_perm": perms}
    ref = train_networks(spec, X, y[:, None], init, **kw)
    with pytest.warns(UserWarning, match="memory_budget_mb"):
        tiny = train_networks(spec, X, y[:, None], init, memory_budget_mb=1e-4, n_jobs=2, **kw)
    np.testing.assert_array_equal(tiny.loss, ref.loss)
    np.testing.assert_array_equal(tiny.coefs[0], ref.coefs[0])
    with pytest.raises(ValueError, match="memory_budget_mb"):
        train_networks(spec, X, y[:, None], init, memory_budget_mb=0, **kw)


def test_stopping_rule_does_not_depend_on_the_number_of_rows():
    """The same objective written with 20x more rows (every row repeated, the penalty
    alpha / (2n) kept) stops after the same number of iterations (within 20%): the tests are
    the gradient of the *mean* objective and its relative decrease, both free of n, and
    float32 rounding of the objective (accumulated in float64) no longer counts as convergence."""
    rng = np.random.default_rng(0)
    init = init_weights(TrainingSpec((5,), "logistic", "identity", "squared_error", 1.0), 4, 1,
                        6, seed=1)  # fmt: skip
    X = rng.normal(size=(300, 4))
    y = np.sin(X[:, :1]) + X[:, 1:2] * X[:, 2:3] + 0.5 * rng.normal(size=(300, 1))
    iters = []
    for reps in (1, 20):  # scikit-learn's penalty is alpha / (2 n): scale alpha with n
        spec = TrainingSpec((5,), "logistic", "identity", "squared_error", 1.0 * reps)
        res = train_networks(spec, np.tile(X, (reps, 1)), np.tile(y, (reps, 1)), init,
                             max_iter=80, tol=1e-4, ftol=1e-9, dtype=torch.float32)  # fmt: skip
        iters.append(res.n_iter.mean())
    assert abs(iters[1] / iters[0] - 1) < 0.2, iters


def test_per_network_penalties_equal_separate_trainings():
    """Networks with different penalties trained in one block get the results of one training
    per penalty (float64: the block composition changes nothing beyond rounding)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.tanh(X[:, :1]) + 0.1 * rng.normal(size=(60, 1))
    alphas = np.array([1e-3, 1.0, 10.0])
    spec = TrainingSpec((4,), "tanh", "identity", "squared_error", 0.5)
    init = init_weights(spec, 3, 1, 1, seed=1)
    rep = ([np.repeat(c, 3, 0) for c in init[0]], [np.repeat(b, 3, 0) for b in init[1]])
    together = train_networks(spec, X, y, rep, alpha=alphas, dtype=torch.float64, max_iter=50)
    for b, a in enumerate(alphas):
        alone = train_networks(
            dataclasses.replace(spec, alpha=float(a)), X, y, init, dtype=torch.float64, max_iter=50
        )
        np.testing.assert_allclose(together.loss[b], alone.loss[0], rtol=1e-8)
        np.testing.assert_allclose(together.coefs[0][b], alone.coefs[0][0], atol=1e-7)
    assert together.loss[0] < together.loss[2]  # the penalties did differ
    with pytest.raises(ValueError, match="one per network"):
        train_networks(spec, X, y, rep, alpha=np.array([1.0, -1.0, 1.0]))
