"""Adapters: every supported model gives the same function as the model itself; clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler

from sensitivity import MLPBatch
from sensitivity.adapters import as_model_function, is_mlp_model, to_mlp_batch


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[0, 5, -3, 10], scale=[1, 2, 0.5, 4], size=(120, 4))
    y = X[:, 0] - 0.5 * X[:, 1] + rng.normal(size=120)
    return X, y


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
def test_mlp_regressor_forward_matches_predict(data, activation):
    X, y = data
    net = _fit(
        MLPRegressor(hidden_layer_sizes=(6, 3), activation=activation, max_iter=50, random_state=0),
        X,
        y,
    )
    batch = to_mlp_batch(net)
    assert batch.activations == (activation, activation, "identity")
    np.testing.assert_allclose(batch.predict(X)[0, :, 0], net.predict(X), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "scaler", [StandardScaler(), MinMaxScaler(), MaxAbsScaler(), StandardScaler(with_mean=False)]
)
def test_pipeline_scalers_are_kept_as_an_input_transform(data, scaler):
    X, y = data
    pipe = _fit(
        make_pipeline(
            scaler,
            MinMaxScaler(feature_range=(-1, 2)),
            MLPRegressor(hidden_layer_sizes=(5,), max_iter=50, random_state=0),
        ),
        X,
        y,
    )
    batch = to_mlp_batch(pipe)
    assert batch.has_input_transform
    np.testing.assert_allclose(batch.predict(X)[0, :, 0], pipe.predict(X), rtol=1e-10, atol=1e-10)
    folded = batch.with_folded_input_transform()
    assert not folded.has_input_transform
    np.testing.assert_allclose(folded.predict(X), batch.predict(X), rtol=1e-10, atol=1e-10)


def test_binary_classifier_is_one_logistic_output_named_by_positive_class(data):
    X, y = data
    labels = np.where(y > 0, "high", "low")
    clf = _fit(MLPClassifier(hidden_layer_sizes=(4,), max_iter=100, random_state=0), X, labels)
    batch = to_mlp_batch(clf)
    assert batch.activations[-1] == "logistic" and batch.output_names == (str(clf.classes_[1]),)
    np.testing.assert_allclose(batch.predict(X)[0, :, 0], clf.predict_proba(X)[:, 1], atol=1e-10)
    fn = as_model_function(clf)
    np.testing.assert_allclose(fn(X)[:, 0], clf.predict_proba(X)[:, 1])


def test_multiclass_classifier_softmax_outputs_named_by_classes(iris_classifier):
    clf, X, _ = iris_classifier
    batch = to_mlp_batch(clf)
    assert batch.activations[-1] == "softmax"
    assert batch.output_names == ("setosa", "versicolor", "virginica")
    assert batch.feature_names == tuple(X.columns)
    np.testing.assert_allclose(batch.predict(X.to_numpy())[0], clf.predict_proba(X), atol=1e-10)


def test_torch_sequential_forward_matches_module():
    torch.manual_seed(0)
    net = (
        torch.nn.Sequential(
            torch.nn.Linear(3, 5),
            torch.nn.Tanh(),
            torch.nn.Dropout(0.1),
            torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU()),
            torch.nn.Linear(4, 4),
            torch.nn.Linear(4, 3),
            torch.nn.Softmax(dim=-1),
        )
        .double()
        .eval()
    )
    batch = to_mlp_batch(net)
    assert batch.activations == ("tanh", "relu", "identity", "softmax")
    X = torch.randn(30, 3, dtype=torch.float64)
    np.testing.assert_allclose(batch.predict(X.numpy())[0], net(X).detach().numpy(), atol=1e-12)


def test_mlp_batch_batched_forward_with_per_network_rows():
    rng = np.random.default_rng(2)
    nets = [
        MLPBatch.from_arrays(
            [rng.normal(size=(2, 3)), rng.normal(size=(3, 1))],
            [rng.normal(size=3), rng.normal(size=1)],
            "tanh",
        )
        for _ in range(3)
    ]
    Xs = rng.normal(size=(3, 7, 2))
    out = MLPBatch.stack(nets).predict(Xs)
    for b, net in enumerate(nets):
        np.testing.assert_allclose(out[b], net.predict(Xs[b])[0], atol=1e-14)


def test_unfitted_models_raise_not_fitted_error():
    for model in (MLPRegressor(), MLPClassifier(), make_pipeline(StandardScaler(), MLPRegressor())):
        with pytest.raises(NotFittedError):
            to_mlp_batch(model)


def test_unsupported_models_raise_type_error_naming_what_is_supported(data):
    X, y = data
    forest = _fit(RandomForestRegressor(n_estimators=3, random_state=0), X, y)
    with pytest.raises(TypeError, match="Supported models"):
        to_mlp_batch(forest)
    pca = _fit(make_pipeline(PCA(2), MLPRegressor(hidden_layer_sizes=(3,), max_iter=5)), X, y)
    with pytest.raises(TypeError, match="Supported models"):
        to_mlp_batch(pca)
    with pytest.raises(TypeError, match="Supported models"):
        to_mlp_batch("not a model")
    clip = _fit(
        make_pipeline(MinMaxScaler(clip=True), MLPRegressor(hidden_layer_sizes=(3,), max_iter=5)),
        X,
        y,
    )
    with pytest.raises(TypeError):
        to_mlp_batch(clip)
    assert not is_mlp_model(forest) and not is_mlp_model(pca)


def test_unsupported_torch_layers_and_general_modules():
    with pytest.raises(TypeError, match="LeakyReLU"):
        to_mlp_batch(
            torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.LeakyReLU(), torch.nn.Linear(3, 1))
        )

    class Custom(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def forward(self, x):
            return torch.sin(self.lin(x))

    module = Custom()
    with pytest.raises(TypeError, match="derivative or perturbation"):
        to_mlp_batch(module)
    fn = as_model_function(module)
    X = np.random.default_rng(0).normal(size=(5, 2))
    expected = torch.sin(module.lin(torch.as_tensor(X, dtype=torch.float32))).detach().numpy()
    np.testing.assert_allclose(fn(X), expected, rtol=1e-6)
    assert fn.output_names == ("y",)


def test_model_function_for_any_regressor(data):
    X, y = data
    forest = _fit(RandomForestRegressor(n_estimators=3, random_state=0), X, y)
    fn = as_model_function(forest)
    assert fn(X).shape == (len(X), 1)
    with pytest.raises(NotFittedError):
        as_model_function(RandomForestRegressor())


def test_unsupported_activation_in_batch_is_rejected():
    with pytest.raises(ValueError, match="Unsupported activation"):
        MLPBatch.from_arrays(
            [np.ones((2, 2)), np.ones((2, 1))], [np.zeros(2), np.zeros(1)], activation="softmax"
        )


def test_poisson_regressor_exp_output(data):
    X, _y = data
    counts = np.random.default_rng(0).poisson(np.exp(0.3 * X[:, 0]))
    net = _fit(
        MLPRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=50, random_state=0),
        X,
        counts,
    )
    batch = to_mlp_batch(net)
    assert batch.activations[-1] == net.out_activation_ == "exp"
    np.testing.assert_allclose(batch.predict(X)[0, :, 0], net.predict(X), rtol=1e-10)


# ---------------------------------------------------------------------- torch training specs
def _torch_twin(sk, final=None):
    """An nn.Sequential holding the weights of a fitted sklearn MLP (same function)."""
    acts = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "logistic": torch.nn.Sigmoid}
    layers = []
    for i, (W, b) in enumerate(zip(sk.coefs_, sk.intercepts_, strict=True)):
        lin = torch.nn.Linear(*W.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W.T))
            lin.bias.copy_(torch.as_tensor(b))
        layers.append(lin)
        if i < len(sk.coefs_) - 1:
            layers.append(acts[sk.activation]())
    if final is not None:
        layers.append(final)
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
@pytest.mark.parametrize("kind", ["regressor", "binary", "multiclass"])
def test_training_spec_of_torch_sequential_matches_its_sklearn_twin(data, activation, kind):
    from sensitivity.adapters import training_spec

    X, y = data
    if kind == "regressor":
        sk = MLPRegressor(hidden_layer_sizes=(5, 3), activation=activation, alpha=0.0)
        sk = _fit(sk.set_params(max_iter=30, random_state=0), X, y)
        final = None
    else:
        labels = (y > 0).astype(int) if kind == "binary" else np.digitize(y, [-1, 1])
        sk = MLPClassifier(hidden_layer_sizes=(5, 3), activation=activation, alpha=0.0)
        sk = _fit(sk.set_params(max_iter=30, random_state=0), X, labels)
        final = torch.nn.Sigmoid() if kind == "binary" else torch.nn.Softmax(dim=1)
    net = _torch_twin(sk, final)
    a, b = training_spec(sk), training_spec(net)
    for field in ("hidden_sizes", "activation", "out_activation", "loss", "is_classifier"):
        assert getattr(a, field) == getattr(b, field), field
    if kind != "regressor":
        np.testing.assert_array_equal(b.classes, np.arange(len(sk.classes_)))
    assert b.alpha == 0.0
    # and the twin computes the same function
    out = net(torch.as_tensor(X, dtype=torch.float32)).detach().numpy()
    ref = sk.predict(X)[:, None] if kind == "regressor" else sk.predict_proba(X)
    ref = ref[:, 1:] if kind == "binary" else ref
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_torch_with_network_weights_round_trips_exactly(data):
    from sensitivity.adapters import with_network_weights

    X, y = data
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3), torch.nn.Softmax(dim=1)
    )
    coefs, ints = to_mlp_batch(net).numpy_weights()
    coefs, ints = [c[0] for c in coefs], [b[0] for b in ints]
    copy = with_network_weights(net, coefs, ints)
    assert copy is not net and isinstance(copy, torch.nn.Sequential)
    for p, q in zip(net.parameters(), copy.parameters(), strict=True):
        assert p.dtype == q.dtype and torch.equal(p, q)
    # new weights go in, the original is untouched
    sk = _fit(
        MLPClassifier(hidden_layer_sizes=(6,), activation="tanh", max_iter=30, random_state=0),
        X,
        np.digitize(y, [0]),
    )
    sk_twin = _fit(
        MLPClassifier(hidden_layer_sizes=(6,), activation="tanh", max_iter=30, random_state=0),
        X,
        np.digitize(y, [-1, 1]),
    )
    new = with_network_weights(net, sk_twin.coefs_, sk_twin.intercepts_)
    np.testing.assert_allclose(
        new(torch.as_tensor(X, dtype=torch.float32)).detach().numpy(),
        sk_twin.predict_proba(X),
        rtol=1e-4,
        atol=1e-6,
    )
    np.testing.assert_array_equal(net[0].weight.detach().numpy(), coefs[0].T.astype(np.float32))
    with pytest.raises(ValueError, match=r"do not match the nn.Sequential's layers"):
        with_network_weights(net, sk.coefs_, sk.intercepts_)  # one output unit, not three


def test_torch_training_spec_errors():
    from sensitivity.adapters import training_spec

    mixed = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        torch.nn.ReLU(),
        torch.nn.Linear(4, 4),
        torch.nn.Tanh(),
        torch.nn.Linear(4, 1),
    )
    with pytest.raises(TypeError, match="Mixed hidden activations"):
        training_spec(mixed)
    relu_out = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1), torch.nn.ReLU()
    )
    with pytest.raises(TypeError, match="ends in a relu activation"):
        training_spec(relu_out)
    nobias = torch.nn.Sequential(torch.nn.Linear(3, 1, bias=False))
    from sensitivity.adapters import with_network_weights

    with pytest.raises(ValueError, match="without bias"):
        with_network_weights(nobias, [np.ones((3, 1))], [np.ones(1)])


def _conv_net():
    """A Conv1d network: its first nn.Linear (9 inputs) is not its first layer (4 inputs)."""
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, 4)),
        torch.nn.Conv1d(1, 3, 2),
        torch.nn.Flatten(),
        torch.nn.Linear(9, 1),
    )


def test_a_torch_module_is_probed_with_the_width_of_x(data):
    from sensitivity import HoldoutConditionalTest, PermutationImportance
    from sensitivity.adapters import torch_input_width

    X, y = data
    net = _conv_net()
    assert torch_input_width(net) is None  # its first layer does not say
    assert torch_input_width(torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(5, 2)))) == 5
    assert as_model_function(net, n_features=4).output_names == ("y",)
    sa = PermutationImportance(net, prefit=True, random_state=0).fit(X, y)
    importance = sa.importances_["importance"]
    assert list(importance.sort_index().index) == ["x0", "x1", "x2", "x3"]
    assert np.isfinite(importance).all() and (importance != 0).any()
    test = HoldoutConditionalTest(net, prefit=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few held-out rows: not what is tested
        test.fit(X[:60], y[:60], X_test=X[60:], y_test=y[60:])
    assert np.isfinite(test.importances_["importance"]).all()
