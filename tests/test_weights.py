"""Garson and Olden: equal to R's NeuralNetTools to 1e-10, closed forms, invariances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from conftest import hexvals, neuraldat_weights, sklearn_mlp, torch_mlp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sensitivity import MLPBatch, garson, olden
from sensitivity.adapters import to_mlp_batch
from sensitivity.methods import weights as W

TOL = 1e-10
BUILDERS = {"sklearn": sklearn_mlp, "torch": torch_mlp}


def _nets(nnt_nets):
    return {n["name"]: n for n in nnt_nets}


@pytest.mark.parametrize("builder", BUILDERS)
def test_olden_equals_neuralnettools_for_every_net_and_output(builder, nnt_nets, nnt_reference):
    checked = 0
    for name, net in _nets(nnt_nets).items():
        model = BUILDERS[builder](net["W"], net["b"])
        values = W.olden(to_mlp_batch(model))[0]  # (outputs, features)
        for k, (out, ref) in enumerate(nnt_reference[name]["outputs"].items()):
            assert ref["olden"]["ok"], out
            np.testing.assert_allclose(values[k], hexvals(ref["olden"]), rtol=0, atol=TOL)
            checked += 1
    assert checked == 5  # every output of the four nets: 1 + 1 + 2 + 1


@pytest.mark.parametrize("builder", BUILDERS)
def test_garson_gevrey_equals_neuralnettools(builder, nnt_nets, nnt_reference):
    checked = 0
    for name, net in _nets(nnt_nets).items():
        model = BUILDERS[builder](net["W"], net["b"])
        batch = to_mlp_batch(model)
        if batch.n_hidden_layers != 1:
            with pytest.raises(ValueError, match="Olden"):
                W.garson(batch, "gevrey")
            continue
        values = W.garson(batch, "gevrey")[0]
        for k, ref in enumerate(nnt_reference[name]["outputs"].values()):
            entry = ref["garson"] if ref["garson"]["ok"] else ref["garson_subnet"]
            np.testing.assert_allclose(values[k], hexvals(entry), rtol=0, atol=TOL)
            checked += 1
    assert checked == 4  # the single-hidden-layer nets: 1 + 1 + 2


def test_reference_nets_forward_matches_nnet_predictions(nnt_nets, nnt_reference):
    """The weight layout is right: our forward pass reproduces nnet's predictions."""
    for name, net in _nets(nnt_nets).items():
        check = nnt_reference[name]["nnet_object_check"]
        if "nnet_X" not in check:
            continue
        batch = to_mlp_batch(sklearn_mlp(net["W"], net["b"]))
        pred = batch.predict(np.array(check["nnet_X"]))[0]
        expected = np.vectorize(float.fromhex)(np.array(check["nnet_pred_linout_hex"]))
        np.testing.assert_allclose(pred, expected.reshape(pred.shape), rtol=0, atol=TOL)


@pytest.mark.parametrize("builder", BUILDERS)
def test_neuraldat_nnet_garson_olden_and_fit(builder, neuraldat_reference):
    from sensitivity import load_neuraldat

    coefs, intercepts = neuraldat_weights(neuraldat_reference)
    model = BUILDERS[builder](coefs, intercepts, "logistic", "logistic")
    g = garson(model, "gevrey", feature_names=["X1", "X2", "X3"])
    o = olden(model, feature_names=["X1", "X2", "X3"])
    for frame, key in ((g, "garson"), (o, "olden")):
        ref = neuraldat_reference[key]
        got = frame["importance"].reindex(ref["names"]).to_numpy()
        np.testing.assert_allclose(got, hexvals(ref), rtol=0, atol=TOL)
    X = load_neuraldat()[["X1", "X2", "X3"]].to_numpy()[:10]
    fitted = [float.fromhex(h) for h in neuraldat_reference["nnet"]["fitted_first10_hex"]]
    np.testing.assert_allclose(to_mlp_batch(model).predict(X)[0, :, 0], fitted, atol=TOL, rtol=0)


def test_garson_goh_hand_computation():
    # inputs x1, x2; hidden h1, h2; one output
    w = [[1.0, -2.0], [3.0, 4.0]]
    v = [[0.5], [-1.0]]
    batch = MLPBatch.from_arrays([w, v], [[0.3, -0.7], [2.0]], activation="tanh")
    # shares |w_ij| / sum_r |w_rj|: h1: 1/4, 3/4; h2: 2/6, 4/6; weighted by |v|: 0.5, 1
    # x1: 0.125 + 1/3 = 11/24; x2: 0.375 + 2/3 = 25/24; total 36/24
    np.testing.assert_allclose(W.garson(batch, "goh")[0, 0], [11 / 36, 25 / 36], atol=1e-15)
    # gevrey drops |v|: x1: 1/4 + 1/3 = 7/12; x2: 3/4 + 2/3 = 17/12; total 2
    np.testing.assert_allclose(W.garson(batch, "gevrey")[0, 0], [7 / 24, 17 / 24], atol=1e-15)
    # olden: x1: 1*0.5 + (-2)(-1) = 2.5; x2: 3*0.5 + 4*(-1) = -2.5
    np.testing.assert_allclose(W.olden(batch)[0, 0], [2.5, -2.5], atol=1e-15)
    paths = W.olden_paths(batch)[0, 0]
    np.testing.assert_allclose(paths, [[0.5, 2.0], [1.5, -4.0]], atol=1e-15)


def test_garson_variants_differ_when_output_weights_differ():
    batch = MLPBatch.from_arrays([[[1.0, 2.0], [3.0, 1.0]], [[5.0], [0.1]]], [[0, 0], [0]])
    assert not np.allclose(W.garson(batch, "goh"), W.garson(batch, "gevrey"))


def test_garson_unknown_variant_and_deep_net_errors():
    batch = MLPBatch.from_arrays(
        [np.ones((2, 3)), np.ones((3, 2)), np.ones((2, 1))], [np.zeros(3), np.zeros(2), np.zeros(1)]
    )
    with pytest.raises(ValueError, match=r"exactly one hidden layer.*Olden"):
        W.garson(batch)
    with pytest.raises(ValueError, match="Unknown Garson variant"):
        W.garson(batch[0:1], "caret")


def test_garson_all_zero_weights_is_an_error_not_nan():
    batch = MLPBatch.from_arrays([np.zeros((2, 3)), np.ones((3, 1))], [np.zeros(3), np.zeros(1)])
    with pytest.raises(ValueError, match="undefined"):
        W.garson(batch)


# ---------------------------------------------------------------------- properties
def _random_net(draw, max_in=5, max_hidden=6, max_out=3, depth=1):
    n_in = draw(st.integers(1, max_in))
    sizes = [n_in] + [draw(st.integers(1, max_hidden)) for _ in range(depth)]
    sizes.append(draw(st.integers(1, max_out)))
    elems = st.floats(-3, 3, allow_nan=False, allow_subnormal=False)
    coefs = [draw(arrays(np.float64, (a, b), elements=elems)) for a, b in itertools.pairwise(sizes)]
    biases = [draw(arrays(np.float64, (b,), elements=elems)) for b in sizes[1:]]
    return coefs, biases


@st.composite
def one_hidden(draw):
    coefs, biases = _random_net(draw)
    # Garson needs some nonzero weight into each output path
    coefs[0] = coefs[0] + np.where(coefs[0] == 0, 0.5, 0.0)
    coefs[1] = coefs[1] + np.where(coefs[1] == 0, 0.5, 0.0)
    return coefs, biases


@st.composite
def any_depth(draw):
    return _random_net(draw, depth=draw(st.integers(1, 3)))


@settings(max_examples=60, deadline=None)
@given(one_hidden(), st.sampled_from(W.GARSON_VARIANTS))
def test_garson_sums_to_one_and_is_nonnegative(net, variant):
    q = W.garson(MLPBatch.from_arrays(*net), variant)
    assert np.all(q >= 0)
    np.testing.assert_allclose(q.sum(axis=-1), 1.0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(any_depth(), st.randoms(use_true_random=False))
def test_olden_invariant_to_permuting_hidden_units(net, rnd):
    coefs, biases = net
    coefs = [c.copy() for c in coefs]
    biases = [b.copy() for b in biases]
    before = W.olden(MLPBatch.from_arrays(coefs, biases))
    for layer in range(len(coefs) - 1):
        perm = list(range(coefs[layer].shape[1]))
        rnd.shuffle(perm)
        coefs[layer] = coefs[layer][:, perm]
        biases[layer] = biases[layer][perm]
        coefs[layer + 1] = coefs[layer + 1][perm, :]
    after = W.olden(MLPBatch.from_arrays(coefs, biases))
    np.testing.assert_allclose(after, before, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(one_hidden(), st.floats(-5, 5), st.sampled_from(W.GARSON_VARIANTS))
def test_garson_and_olden_ignore_biases(net, shift, variant):
    coefs, biases = net
    a = MLPBatch.from_arrays(coefs, biases)
    b = MLPBatch.from_arrays(coefs, [v + shift for v in biases])
    np.testing.assert_array_equal(W.garson(a, variant), W.garson(b, variant))
    np.testing.assert_array_equal(W.olden(a), W.olden(b))


@settings(max_examples=30, deadline=None)
@given(one_hidden())
def test_garson_invariant_to_permuting_hidden_units(net):
    coefs, biases = net
    perm = np.arange(coefs[0].shape[1])[::-1]
    a = MLPBatch.from_arrays(coefs, biases)
    b = MLPBatch.from_arrays([coefs[0][:, perm], coefs[1][perm]], [biases[0][perm], biases[1]])
    np.testing.assert_allclose(W.garson(a), W.garson(b), atol=1e-12)


def test_methods_are_vectorized_over_the_batch():
    rng = np.random.default_rng(1)
    nets = [
        MLPBatch.from_arrays(
            [rng.normal(size=(4, 3)), rng.normal(size=(3, 2))],
            [rng.normal(size=3), rng.normal(size=2)],
        )
        for _ in range(5)
    ]
    stacked = MLPBatch.stack(nets)
    for fn in (W.olden, W.garson, W.olden_paths):
        together = fn(stacked)
        one_by_one = np.concatenate([fn(n) for n in nets])
        np.testing.assert_allclose(together, one_by_one, atol=1e-14)


def test_olden_float32_torch_net():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    expected = (net[0].weight.T @ net[2].weight.T).detach().double().numpy()[:, 0]
    np.testing.assert_allclose(W.olden(to_mlp_batch(net))[0, 0], expected, rtol=1e-6)


def test_garson_marks_dead_networks_in_a_batch_as_nan_when_asked():
    alive = MLPBatch.from_arrays([np.ones((2, 3)), np.ones((3, 1))], [np.zeros(3), np.zeros(1)])
    dead = MLPBatch.from_arrays([np.zeros((2, 3)), np.ones((3, 1))], [np.zeros(3), np.zeros(1)])
    values = W.garson(MLPBatch.stack([alive, dead, alive]), undefined="nan")
    np.testing.assert_allclose(values[[0, 2]], 0.5)
    assert np.isnan(values[1]).all()
