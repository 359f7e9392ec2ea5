"""The network diagram (neural interpretation diagram)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._common import NEGATIVE_COLOR, POSITIVE_COLOR, _plt


def plot_network(
    model,
    *,
    ax=None,
    network: int = 0,
    show_bias: bool = True,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    positive_color: str = POSITIVE_COLOR,
    negative_color: str = NEGATIVE_COLOR,
    max_width: float = 5.0,
    node_color: str = "#f0f0f0",
    legend: bool = True,
):
    """Network diagram: line width proportional to ``|weight|``, colour and style by sign.

    The neural interpretation diagram of Özesmi & Özesmi (1999) as drawn by NeuralNetTools'
    ``plotnet`` (Beck 2018): layers from left (inputs, labelled by variable) to right
    (outputs, labelled by target or class), bias nodes ``B1, B2, ...`` above, every connection
    a line whose width is ``max_width * |w| / max |w|`` with the maximum over the connection
    weights (a large bias, such as the output bias of an unstandardized target, does not make
    every weight a hairline: bias lines are capped at ``max_width``). Negative weights are
    dashed as well as coloured (readable in grayscale), bias connections dotted.

    Parameters
    ----------
    model : MLPBatch or fitted MLP
        Anything :func:`sensitivity.adapters.to_mlp_batch` accepts (a Pipeline with a
        ColumnTransformer is drawn on its encoded inputs).
    ax : matplotlib.axes.Axes, optional
    network : int, default=0
        Which network of a batch.
    show_bias : bool, default=True
    feature_names, output_names : sequence of str, optional
        Labels of the input and output nodes (default: those of the model; a torch module's
        inputs are otherwise ``x0, x1, ...``).
    positive_color, negative_color : str
    max_width : float
        Line width of the largest absolute weight.
    node_color : str
    legend : bool, default=True

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[0].collections`` holds one ``LineCollection`` per layer of connections
        (gid ``"weights"``) and one for the bias connections (gid ``"biases"``).
    """
    coefs, intercepts, in_names, out_names = _network_weights(
        model, network, feature_names, output_names
    )
    sizes = [coefs[0].shape[0], *(W.shape[1] for W in coefs)]
    biggest = max(float(np.max(np.abs(W))) for W in coefs) or 1.0
    height = max(sizes)
    positions = [
        np.column_stack([np.full(n, float(i)), (n - 1) / 2 - np.arange(n, dtype=float)])
        for i, n in enumerate(sizes)
    ]
    if ax is None:
        _, ax = _plt().subplots(
            figsize=(2.2 * len(sizes) + 3.0, 0.55 * height + 1.5), layout="constrained"
        )
    style = (positive_color, negative_color, biggest, max_width)
    for layer, W in enumerate(coefs):
        _connections(ax, positions[layer], positions[layer + 1], W, "weights", style)
    top = (height - 1) / 2 + 1.0
    if show_bias:
        for layer, b in enumerate(intercepts):
            bpos = np.array([[layer + 0.5, top]])
            _connections(ax, bpos, positions[layer + 1], b.reshape(1, -1), "biases", style)
            ax.scatter(*bpos.T, s=500, color=node_color, edgecolors="black", zorder=2)
            ax.text(*bpos[0], f"B{layer + 1}", ha="center", va="center", fontsize=8, zorder=3)
    _draw_nodes(ax, positions, in_names, out_names, node_color)
    ax.set_xlim(-1.3, len(sizes) - 1 + 1.3)
    ax.set_ylim(-(height - 1) / 2 - 0.8, top + 0.8)
    ax.set_axis_off()
    if legend:
        _network_legend(ax, positive_color, negative_color, show_bias, biggest)
    return ax.figure


def _network_weights(model, network: int, feature_names, output_names):
    """One network's weights and biases (per layer) and its input and output labels."""
    from .. import adapters
    from ..network import MLPBatch

    if isinstance(model, MLPBatch):
        batch = model
    elif adapters.is_encoded_mlp_model(model):
        batch = adapters.to_encoded_mlp(model).batch
    else:
        batch = adapters.to_mlp_batch(model)
    if not 0 <= network < batch.batch_size:
        raise IndexError(f"network={network} but the batch holds {batch.batch_size} networks.")
    coefs, intercepts = batch.numpy_weights()
    sizes = list(batch.layer_sizes)
    in_names = list(batch.feature_names) if feature_names is None else list(feature_names)
    out_names = list(batch.output_names) if output_names is None else list(output_names)
    if len(in_names) != sizes[0]:
        raise ValueError(f"{len(in_names)} feature names for a network with {sizes[0]} inputs.")
    if len(out_names) != sizes[-1]:
        raise ValueError(f"{len(out_names)} output names for a network with {sizes[-1]} outputs.")
    return [W[network] for W in coefs], [b[network] for b in intercepts], in_names, out_names


def _connections(ax, src: np.ndarray, dst: np.ndarray, W: np.ndarray, gid: str, style) -> None:
    """One ``LineCollection`` of the connections ``src[i] -> dst[j]`` with weights ``W``:
    width ``max_width * |w| / biggest`` (between 0.15 and ``max_width``), colour and dashes by
    sign; the bias connections (``gid="biases"``) dotted."""
    from matplotlib.collections import LineCollection

    positive_color, negative_color, biggest, max_width = style
    segs, widths, colors, styles = [], [], [], []
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            segs.append([src[i], dst[j]])
            widths.append(min(max_width, max(0.15, max_width * abs(W[i, j]) / biggest)))
            colors.append(positive_color if W[i, j] >= 0 else negative_color)
            styles.append(":" if gid == "biases" else ("-" if W[i, j] >= 0 else "--"))
    lc = LineCollection(segs, linewidths=widths, colors=colors, linestyles=styles, zorder=1)
    lc.set_gid(gid)
    ax.add_collection(lc)


def _draw_nodes(ax, positions, in_names, out_names, node_color: str) -> None:
    """The nodes (I1, H1, ..., O1) with the variable names beside the inputs and outputs."""
    for layer, pos in enumerate(positions):
        ax.scatter(pos[:, 0], pos[:, 1], s=500, color=node_color, edgecolors="black", zorder=2)
        if layer == 0:
            names, prefix = in_names, "I"
        elif layer == len(positions) - 1:
            names, prefix = out_names, "O"
        else:
            names, prefix = None, "H" if len(positions) == 3 else f"H{layer}."
        for k, (x, y) in enumerate(pos):
            ax.text(x, y, f"{prefix}{k + 1}", ha="center", va="center", fontsize=7, zorder=3)
            if names is not None:
                side = -0.25 if layer == 0 else 0.25
                ax.text(
                    x + side,
                    y,
                    str(names[k]),
                    ha="right" if layer == 0 else "left",
                    va="center",
                    fontsize=9,
                )


def _network_legend(ax, positive_color, negative_color, show_bias: bool, biggest: float) -> None:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=positive_color, lw=2, ls="-", label="positive weight"),
        Line2D([], [], color=negative_color, lw=2, ls="--", label="negative weight"),
    ]
    if show_bias:
        handles.append(Line2D([], [], color="black", lw=1.5, ls=":", label="bias"))
    handles.append(Line2D([], [], color="none", label=f"width ∝ |weight| (max {biggest:.3g})"))
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        frameon=False,
        fontsize=8,
    )
