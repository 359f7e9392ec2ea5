r"""Connection-weight methods: Garson's algorithm and Olden's connection weights.

Pure functions over an :class:`~sensitivity.network.MLPBatch`, vectorized over the batch of
networks and over outputs. They read the network's own weights: with a Pipeline of scalers,
that is the importance of the *scaled* inputs (the weights a network learns depend on the units
of its inputs, which is why both methods are normally applied to standardized inputs). Biases are
never used.

Notation for one network with one hidden layer: :math:`w_{ij}` is the weight from input
:math:`i` to hidden unit :math:`j`, :math:`v_{jk}` the weight from hidden unit :math:`j` to
output :math:`k`.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from ..network import MLPBatch

__all__ = ["GARSON_VARIANTS", "garson", "olden", "olden_paths"]

GARSON_VARIANTS = ("goh", "gevrey")


def olden(batch: MLPBatch) -> np.ndarray:
    r"""Olden's connection-weight importance, for any number of hidden layers.

    .. math::

        C_{ik} = \left(W^{(1)} W^{(2)} \cdots W^{(L)}\right)_{ik}

    the sum over every path from input :math:`i` to output :math:`k` of the product of the
    weights along it (for one hidden layer, :math:`C_{ik} = \sum_j w_{ij} v_{jk}`). Signed: a
    positive value means the input tends to raise the output. Biases are excluded.
    Identical to NeuralNetTools' ``olden`` (any depth).

    Parameters
    ----------
    batch : MLPBatch

    Returns
    -------
    ndarray of shape (B, n_outputs, n_features)

    References
    ----------
    Olden, J. D. & Jackson, D. A. (2002). Illuminating the "black box": a randomization approach
    for understanding variable contributions in artificial neural networks. Ecological
    Modelling 154, 135-150.
    Olden, J. D., Joy, M. K. & Death, R. G. (2004). An accurate comparison of methods for
    quantifying variable importance in artificial neural networks using simulated data.
    Ecological Modelling 178, 389-397.
    """
    with torch.no_grad():
        P = batch.weights[0]
        for W in batch.weights[1:]:
            P = torch.bmm(P, W)
        return P.transpose(1, 2).cpu().numpy()


def olden_paths(batch: MLPBatch) -> np.ndarray:
    r"""Per-path connection weights of a single-hidden-layer network.

    .. math::

        c_{ijk} = w_{ij} \, v_{jk}, \qquad C_{ik} = \sum_j c_{ijk}

    the contribution of input :math:`i` to output :math:`k` through hidden unit :math:`j`
    (Olden & Jackson 2002 test these for significance to prune the network diagram).

    Returns
    -------
    ndarray of shape (B, n_outputs, n_features, n_hidden)

    Raises
    ------
    ValueError
        If the network has more than one hidden layer.
    """
    _require_one_hidden_layer(batch, "olden_paths")
    with torch.no_grad():
        w, v = batch.weights
        return torch.einsum("bij,bjk->bkij", w, v).cpu().numpy()


def garson(
    batch: MLPBatch,
    variant: Literal["goh", "gevrey"] = "goh",
    *,
    undefined: Literal["raise", "nan"] = "raise",
) -> np.ndarray:
    r"""Garson's relative importance for a single-hidden-layer network.

    Two published forms, both normalised to sum to 1 over inputs for each output:

    ``variant="goh"`` (Garson 1991 as written out by Goh 1995), per output :math:`k`:

    .. math::

        Q_{ik} = \frac{\sum_j |w_{ij}|\,|v_{jk}| / \sum_r |w_{rj}|}
                      {\sum_i \sum_j |w_{ij}|\,|v_{jk}| / \sum_r |w_{rj}|}

    ``variant="gevrey"`` (Gevrey, Dimopoulos & Lek 2003; the form of R's NeuralNetTools
    ``garson`` and caret): the products :math:`|w_{ij}||v_{jk}|` are normalised over inputs
    within each hidden unit, so :math:`|v_{jk}|` cancels and the result does not depend on the
    hidden-to-output weights:

    .. math::

        Q_{i} = \frac{\sum_j |w_{ij}| / \sum_r |w_{rj}|}
                     {\sum_i \sum_j |w_{ij}| / \sum_r |w_{rj}|}

    A hidden unit whose incoming weights are all zero contributes nothing (R would give NaN).
    Magnitudes only: Garson's importance has no sign.

    Parameters
    ----------
    batch : MLPBatch
    variant : {"goh", "gevrey"}
    undefined : {"raise", "nan"}
        What to do for a network whose relevant connection weights are all zero (a "dead"
        network, e.g. one whose weights all decayed under a strong penalty), where the
        importance is undefined: raise, or give NaN for that network (used for the networks of
        a randomization test, where such a network counts as the least extreme).

    Returns
    -------
    ndarray of shape (B, n_outputs, n_features)
        Each ``[b, k, :]`` sums to 1 (or is NaN, see ``undefined``).

    Raises
    ------
    ValueError
        For more than one hidden layer (use :func:`olden`), an unknown variant, or (with
        ``undefined="raise"``) a network whose relevant weights are all zero.

    References
    ----------
    Garson, G. D. (1991). Interpreting neural-network connection weights. AI Expert 6(4), 46-51.
    Goh, A. T. C. (1995). Back-propagation neural networks for modeling complex systems.
    Artificial Intelligence in Engineering 9, 143-151.
    Gevrey, M., Dimopoulos, I. & Lek, S. (2003). Review and comparison of methods to study the
    contribution of variables in artificial neural network models. Ecological Modelling 160,
    249-264.
    """
    if variant not in GARSON_VARIANTS:
        raise ValueError(f"Unknown Garson variant {variant!r}; choose one of {GARSON_VARIANTS}.")
    _require_one_hidden_layer(batch, "Garson's algorithm")
    with torch.no_grad():
        w, v = batch.weights
        aw = w.abs()  # (B, p, h)
        col = aw.sum(dim=1, keepdim=True)  # (B, 1, h): sum over inputs per hidden unit
        share = torch.where(col > 0, aw / torch.where(col > 0, col, 1.0), 0.0)  # (B, p, h)
        if variant == "gevrey":
            q = share.sum(dim=2).unsqueeze(1).expand(-1, batch.n_outputs, -1)  # (B, k, p)
            if batch.n_outputs > 1:
                q = q.clone()
        else:
            q = torch.einsum("bij,bjk->bki", share, v.abs())  # (B, k, p)
        total = q.sum(dim=2, keepdim=True)
        dead = total <= 0
        if bool(dead.any()):
            if undefined == "raise":
                raise ValueError(
                    "Garson's importance is undefined: all connection weights relevant to an "
                    "output are zero (a network that learned nothing, e.g. under too strong "
                    "a weight penalty)."
                )
            if undefined != "nan":
                raise ValueError(f"undefined must be 'raise' or 'nan'; got {undefined!r}.")
        out = q / torch.where(dead, 1.0, total)
        return torch.where(dead, torch.nan, out).cpu().numpy()


def _require_one_hidden_layer(batch: MLPBatch, what: str) -> None:
    if batch.n_hidden_layers != 1:
        raise ValueError(
            f"{what} is defined for networks with exactly one hidden layer; this network has "
            f"{batch.n_hidden_layers} (layer sizes {batch.layer_sizes}). Use Olden's "
            "connection weights (sensitivity.olden / Olden), which handle any depth."
        )
