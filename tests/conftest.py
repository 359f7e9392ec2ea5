"""Shared fixtures: reference data (copied from ``../shared/reference``) and network builders."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import settings
from sklearn.neural_network import MLPClassifier, MLPRegressor

# property tests draw the same examples on every run (a CI failure can be replayed)
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.load_profile("repeatable")

REFERENCE = Path(__file__).parent / "data" / "reference"


def load_reference(*parts: str):
    """Read a JSON file of the reference folder."""
    with open(REFERENCE.joinpath(*parts)) as fh:
        return json.load(fh)


def hexvals(entry) -> np.ndarray:
    """Exact reference values from their C99 hex form."""
    return np.array([float.fromhex(h) for h in entry["values_hex"]])


def sklearn_mlp(coefs, intercepts, activation="logistic", out_activation="identity"):
    """A fitted MLPRegressor whose weights are replaced by the given ones."""
    coefs = [np.asarray(c, dtype=float) for c in coefs]
    intercepts = [np.asarray(b, dtype=float) for b in intercepts]
    n_in, n_out = coefs[0].shape[0], coefs[-1].shape[1]
    hidden = tuple(c.shape[1] for c in coefs[:-1])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, n_in))
    y = rng.normal(size=(20, n_out)) if n_out > 1 else rng.normal(size=20)
    net = MLPRegressor(hidden_layer_sizes=hidden, activation=activation, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net.fit(X, y)
    net.coefs_ = coefs
    net.intercepts_ = intercepts
    net.out_activation_ = out_activation
    return net


_TORCH_ACT = {
    "logistic": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "relu": torch.nn.ReLU,
    "identity": torch.nn.Identity,
}


def torch_mlp(coefs, intercepts, activation="logistic", out_activation="identity"):
    """An nn.Sequential (float64) with the given weights in scikit-learn's layout."""
    layers: list[torch.nn.Module] = []
    for i, (W, b) in enumerate(zip(coefs, intercepts, strict=True)):
        W = np.asarray(W, dtype=float)
        lin = torch.nn.Linear(W.shape[0], W.shape[1]).double()
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(W.T))
            lin.bias.copy_(torch.as_tensor(np.asarray(b, dtype=float)))
        layers.append(lin)
        act = activation if i < len(coefs) - 1 else out_activation
        if act == "softmax":
            layers.append(torch.nn.Softmax(dim=-1))
        elif act != "identity":
            layers.append(_TORCH_ACT[act]())
    return torch.nn.Sequential(*layers)


@pytest.fixture(scope="session")
def nnt_nets():
    return load_reference("neuralnettools", "nets.json")["nets"]


@pytest.fixture(scope="session")
def nnt_reference():
    return load_reference("neuralnettools", "reference.json")["nets"]


@pytest.fixture(scope="session")
def neuraldat_reference():
    return load_reference("neuralnettools", "neuraldat_reference.json")


def neuraldat_weights(ref) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The neuraldat nnet (3-5-1) in scikit-learn layout from nnet's weight order."""
    wts = np.array([float.fromhex(h) for h in ref["nnet"]["wts_hex"]])
    n_in, n_hid, _ = ref["nnet"]["n"]
    hid = wts[: n_hid * (n_in + 1)].reshape(n_hid, n_in + 1)
    out = wts[n_hid * (n_in + 1) :]
    return [hid[:, 1:].T, out[1:].reshape(-1, 1)], [hid[:, 0], out[:1]]


@pytest.fixture
def iris_classifier():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, names)
    return clf, X, names
