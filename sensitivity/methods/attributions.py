r"""Local (per-row) attributions: gradients, SmoothGrad, Integrated Gradients, occlusion.

Pure batched formulas over a differentiable model (an :class:`~sensitivity.network.MLPBatch`
of ``B`` networks, analytic chain rule; or a :class:`~sensitivity.network.TorchNetwork`,
autograd) or, for occlusion, any prediction model (an MLPBatch or a
:class:`~sensitivity.adapters.ModelFunction`). Every function returns arrays with a leading
network axis: ``(B, n_rows, n_outputs, n_features)`` for attributions, ``(B, n_rows,
n_outputs)`` for predictions. Inputs are in the user's units (the chain rule runs through the
affine scalers of a Pipeline).

Notation: :math:`f_k` is output :math:`k` (a class probability for a classifier; its logit with
``logits=True``), :math:`x` a row, :math:`x'` its baseline, :math:`\nabla f_k` the input
gradient.

* saliency [1]_: :math:`|\partial f_k / \partial x_i|` (or signed);
* gradient x input [2]_: :math:`x_i\, \partial f_k / \partial x_i`;
* SmoothGrad [3]_: :math:`S^{-1} \sum_s \partial f_k(x + \varepsilon_s)/\partial x_i` with
  :math:`\varepsilon_{s} \sim N(0, \operatorname{diag}\sigma^2)`;
* Integrated Gradients [4]_: :math:`(x_i - x'_i) \int_0^1 \partial f_k(x' + \alpha (x - x'))
  / \partial x_i \, d\alpha \approx (x_i - x'_i) \sum_s w_s\, \partial f_k(x' + \alpha_s
  (x - x'))/\partial x_i`;
* occlusion [5]_: :math:`f_k(x) - f_k(x \text{ with } x_i \leftarrow x'_i)`.

Integrated Gradients satisfies *completeness*, :math:`\sum_i \mathrm{IG}_{ki}(x) = f_k(x) -
f_k(x')`, for the exact integral; the quadrature's error shows as the *completeness gap*
:math:`\delta_k(x) = \sum_i \mathrm{IG}_{ki}(x) - (f_k(x) - f_k(x'))`.
The quadrature rules (nodes :math:`\alpha_s`, weights :math:`w_s`) are those of captum
(:func:`integration_rule`): Gauss-Legendre on :math:`[0, 1]` and the left, right, middle and
trapezoidal Riemann sums.

Fast path for an MLPBatch: the first layer's pre-activation is affine in :math:`\alpha`,
:math:`z_1(x' + \alpha (x - x')) = z_1(x') + \alpha (z_1(x) - z_1(x'))`, so the ``S`` points of
a path cost two products with the first layer instead of ``S``; the gradient is accumulated
backwards to the first hidden layer, where the weighted sum over the steps is taken before the
last (linear) product with the first-layer weights. No loop over rows or steps in Python; rows
are processed in chunks to a memory budget.

References
----------
.. [1] Simonyan, K., Vedaldi, A. & Zisserman, A. (2014). Deep inside convolutional networks:
   visualising image classification models and saliency maps. ICLR workshop.
.. [2] Shrikumar, A., Greenside, P., Shcherbina, A. & Kundaje, A. (2016). Not just a black box:
   learning important features through propagating activation differences. arXiv:1605.01713.
.. [3] Smilkov, D., Thorat, N., Kim, B., Viégas, F. & Wattenberg, M. (2017). SmoothGrad:
   removing noise by adding noise. arXiv:1706.03825.
.. [4] Sundararajan, M., Taly, A. & Yan, Q. (2017). Axiomatic attribution for deep networks.
   ICML, PMLR 70, 3319-3328.
.. [5] Zeiler, M. D. & Fergus, R. (2014). Visualizing and understanding convolutional networks.
   ECCV, 818-833.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.utils import Bunch

from ..network import (
    ACTIVATIONS,
    MLPBatch,
    TorchNetwork,
    _chunk_tensor,
    _first_layer,
    input_jacobian,
    row_chunks,
)
from . import _data

__all__ = [
    "INTEGRATION_METHODS",
    "PIECEWISE",
    "gradients",
    "integrated_gradients",
    "integration_rule",
    "occlusion",
    "path_gradients",
    "predictions",
    "smoothgrad",
]

INTEGRATION_METHODS = (
    "gausslegendre",
    "riemann_left",
    "riemann_right",
    "riemann_middle",
    "riemann_trapezoid",
)
"""Quadrature rules of Integrated Gradients (captum's names)."""

PIECEWISE = "piecewise_gausslegendre"
"""Gauss-Legendre on each piece of the path between the kinks of the first hidden layer
(MLPBatch only; see :func:`path_gradients`)."""


# ---------------------------------------------------------------------- quadrature
def integration_rule(method: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Nodes :math:`\alpha_s` and weights :math:`w_s` of a rule for :math:`\int_0^1 g`.

    ``gausslegendre``: the ``n_steps``-point Gauss-Legendre rule mapped from :math:`[-1, 1]`,
    :math:`\alpha_s = (1 + t_s)/2`, :math:`w_s = v_s / 2` (``numpy.polynomial.legendre``;
    exact for polynomials of degree :math:`2S - 1`). ``riemann_left``/``right``/``middle``:
    :math:`w_s = 1/S` at :math:`\alpha_s = (s - 1)/S`, :math:`s/S`, :math:`(s - 1/2)/S`.
    ``riemann_trapezoid``: the composite trapezoidal rule on :math:`S` equally spaced nodes
    :math:`\alpha_s = (s - 1)/(S - 1)`, :math:`w = (1/2, 1, \dots, 1, 1/2)/(S - 1)`.

    captum 0.9 uses the same nodes for every rule and the same weights except for the
    trapezoidal rule, whose weights it sets to :math:`(1/2, 1, \dots, 1, 1/2)/S` (they sum to
    :math:`1 - 1/S`, which biases its attributions by the factor :math:`(S - 1)/S`); ours sum
    to 1. All weights here are float64 (captum rounds them to float32).

    Parameters
    ----------
    method : str
        One of :data:`INTEGRATION_METHODS`.
    n_steps : int
        Number of nodes (at least 1; at least 2 for the trapezoidal rule).

    Returns
    -------
    alphas, weights : ndarray of shape (n_steps,)
    """
    if method not in INTEGRATION_METHODS:
        raise ValueError(
            f"Unknown integration method {method!r}; choose one of {list(INTEGRATION_METHODS)} "
            f"(or {PIECEWISE!r} in integrated_gradients)."
        )
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer):
        raise TypeError(f"n_steps must be an integer; got {n_steps!r}.")
    n = int(n_steps)
    least = 2 if method == "riemann_trapezoid" else 1
    if n < least:
        raise ValueError(f"n_steps must be at least {least} for {method!r}; got {n_steps}.")
    if method == "gausslegendre":
        t, v = np.polynomial.legendre.leggauss(n)
        return 0.5 * (1.0 + t), 0.5 * v
    s = np.arange(n, dtype=np.float64)
    if method == "riemann_trapezoid":
        w = np.full(n, 1.0 / (n - 1))
        w[[0, -1]] *= 0.5
        return s / (n - 1), w
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (s + offset) / n, np.full(n, 1.0 / n)


# ---------------------------------------------------------------------- helpers
def _check_differentiable(model) -> MLPBatch | TorchNetwork:
    if not isinstance(model, MLPBatch | TorchNetwork):
        raise TypeError(
            f"Gradient attributions need an MLPBatch or a TorchNetwork; got "
            f"{type(model).__name__} (convert with sensitivity.adapters.as_differentiable)."
        )
    return model


def _outputs(model, outputs: Sequence[int] | None) -> list[int]:
    K = len(model.output_names)
    if outputs is None:
        return list(range(K))
    sel = [int(k) for k in outputs]
    bad = [k for k in sel if not 0 <= k < K]
    if bad or not sel:
        raise ValueError(f"Output indices {bad or sel} out of range for {K} output(s).")
    return sel


def _as_rows(model, X, name: str = "X") -> np.ndarray:
    arr = np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
    p = len(model.feature_names) if model.feature_names is not None else arr.shape[-1]
    if arr.ndim != 2 or arr.shape[1] != p:
        raise ValueError(f"{name} has shape {arr.shape}; expected (n_rows, {p}).")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return np.ascontiguousarray(arr)


def _as_baseline(baseline, n: int, p: int) -> np.ndarray:
    """A baseline of shape (p,) or (n, p) as an (n, p) or (1, p) float64 array."""
    b = np.asarray(baseline, dtype=np.float64)
    if b.ndim == 0:
        b = np.full((1, p), float(b))
    elif b.shape == (p,):
        b = b.reshape(1, p)
    elif b.shape not in ((n, p), (1, p)):
        raise ValueError(
            f"baseline has shape {b.shape}; expected a scalar, ({p},) or ({n}, {p}) (one "
            "baseline row per row of X)."
        )
    if not np.all(np.isfinite(b)):
        raise ValueError("baseline contains NaN or infinite values.")
    return np.ascontiguousarray(b)


def predictions(model, X, *, logits: bool = False) -> np.ndarray:
    """Outputs ``(B, n, n_outputs)`` as float64 for an MLPBatch, a TorchNetwork or a
    ModelFunction (probabilities for classifiers; logits with ``logits=True``, MLPBatch only)."""
    if isinstance(model, MLPBatch):
        with torch.no_grad():
            out = model.forward(np.asarray(X, dtype=np.float64), logits=logits)
        return out.cpu().numpy().astype(np.float64)
    if logits:
        raise ValueError("logits=True needs an MLP (its output activation is known).")
    if isinstance(model, TorchNetwork):
        Xt = torch.as_tensor(np.array(X, dtype=np.float64)).to(model.dtype).to(model.device)
        with torch.no_grad():
            out = model.module(Xt)
        out = out.detach().cpu().numpy().astype(np.float64)
        return out.reshape(1, out.shape[0], -1)
    return _data.predict(model, np.asarray(X, dtype=np.float64))


# ---------------------------------------------------------------------- MLP fast path
def _dy_dlogits(act: str, z: torch.Tensor, sel: list[int], logits: bool) -> torch.Tensor:
    """``d y_k / d z_m`` for the selected outputs ``k``: (B, r, K_sel, K)."""
    B, r, K = z.shape
    eye = torch.eye(K, dtype=z.dtype, device=z.device)[sel]  # (K_sel, K)
    if logits or act == "identity":
        return eye.expand(B, r, len(sel), K)
    if act == "softmax":
        y = torch.softmax(z, dim=-1)  # (B, r, K)
        ys = y[..., sel].unsqueeze(-1)  # (B, r, K_sel, 1)
        return ys * (eye - y.unsqueeze(2))
    spec = ACTIVATIONS[act]
    zs = z[..., sel]
    g = spec.d1(zs, spec.f(zs))  # (B, r, K_sel)
    return g.unsqueeze(-1) * eye


def _piecewise_nodes(z0, z1, alphas, weights):
    """Per-row nodes and weights (B, r, P*m): the rule on each piece between the points
    where a first-layer pre-activation crosses zero, ``t = -z0 / (z1 - z0)`` in (0, 1)."""
    dz = z1 - z0
    B, r, _ = dz.shape
    safe = torch.where(dz != 0, dz, torch.ones_like(dz))
    t = torch.where(dz != 0, -z0.expand_as(dz) / safe, torch.ones_like(dz))
    t = torch.where((t > 0) & (t < 1), t, torch.ones_like(t))  # no kink: an empty last piece
    zeros = torch.zeros(B, r, 1, dtype=dz.dtype, device=dz.device)
    edges = torch.sort(torch.cat([zeros, t, zeros + 1], dim=2), dim=2).values
    lo, length = edges[..., :-1, None], (edges[..., 1:] - edges[..., :-1])[..., None]
    return (lo + length * alphas).reshape(B, r, -1), (length * weights).reshape(B, r, -1)


def _mlp_path_chunk(
    batch: MLPBatch,
    X0: torch.Tensor,
    X1: torch.Tensor,
    alphas: torch.Tensor,
    weights: torch.Tensor,
    sel: list[int],
    logits: bool,
    piecewise: bool = False,
) -> torch.Tensor:
    """``sum_s w_s grad f_sel(X0 + alpha_s (X1 - X0))`` for one chunk: (B, r, K_sel, p)."""
    r = X1.shape[0]
    B = batch.batch_size
    A = _first_layer(batch)  # (B, p, u1): d z1 / d x
    b0 = batch.biases[0].unsqueeze(1)
    # first pre-activation along the path, affine in alpha (no S-fold product with W1)
    z0 = torch.matmul(batch.transform_inputs(X0), batch.weights[0]) + b0  # (B, r|1, u1)
    z1 = torch.matmul(batch.transform_inputs(X1), batch.weights[0]) + b0
    if piecewise:
        al, wt = _piecewise_nodes(z0, z1, alphas, weights)  # (B, r, S)
    else:
        al, wt = alphas.reshape(1, 1, -1), weights.reshape(1, 1, -1)
    S = al.shape[2]
    z = z0.unsqueeze(2) + al.unsqueeze(3) * (z1 - z0).unsqueeze(2)  # (B, r, S, u1)
    L = len(batch.weights)
    if L == 2 and (logits or batch.activations[-1] == "identity"):
        # one hidden layer, linear in the hidden activations: d y_k / d z1 = f'(z1) W2[:, k],
        # so the steps are summed on f'(z1) alone (no (B, r, S, K, u) temporary)
        spec = ACTIVATIONS[batch.activations[0]]
        d = torch.einsum("brsu,brs->bru", spec.d1(z, spec.f(z)), wt.expand(B, r, S))
        W2t = batch.weights[1].transpose(1, 2)[:, sel]  # (B, K_sel, u1)
        G = d.unsqueeze(2) * W2t.unsqueeze(1)  # (B, r, K_sel, u1)
        return torch.matmul(G, A.transpose(1, 2).unsqueeze(1))
    z = z.reshape(B, r * S, -1)
    pres = []
    for layer in range(1, L):
        a = ACTIVATIONS[batch.activations[layer - 1]].f(z)
        pres.append((z, a))
        z = torch.matmul(a, batch.weights[layer]) + batch.biases[layer].unsqueeze(1)
    # z: logits (B, rS, K); G = d y_sel / d (pre-activation of the current layer)
    G = _dy_dlogits(batch.activations[-1], z, sel, logits)  # (B, rS, K_sel, K)
    Ks = len(sel)
    for layer in range(L - 1, 0, -1):
        W = batch.weights[layer]  # (B, u_{l}, u_{l+1})
        G = torch.bmm(G.reshape(B, -1, W.shape[2]), W.transpose(1, 2)).reshape(
            B, r * S, Ks, W.shape[1]
        )
        zl, al = pres[layer - 1]
        G = G * ACTIVATIONS[batch.activations[layer - 1]].d1(zl, al).unsqueeze(2)
    # weighted sum over the steps at the first pre-activation, then the linear first layer
    G = torch.einsum("brsku,brs->brku", G.reshape(B, r, S, Ks, -1), wt.expand(B, r, S))
    return torch.matmul(G, A.transpose(1, 2).unsqueeze(1))  # (B, r, K_sel, p)


def _generic_path_chunk(net, X0, X1, alphas, weights, sel, logits) -> torch.Tensor:
    """The same sum by explicit points and :func:`~sensitivity.network.input_jacobian`."""
    r, p = X1.shape
    S = alphas.shape[0]
    pts = X0.unsqueeze(1) + alphas.reshape(1, S, 1) * (X1 - X0).unsqueeze(1)  # (r, S, p)
    J = input_jacobian(net, pts.reshape(r * S, p), logits=logits)  # (B, rS, K, p)
    J = J[:, :, sel].reshape(J.shape[0], r, S, len(sel), p)
    return torch.einsum("brskp,s->brkp", J, weights.to(J.dtype))


def path_gradients(
    model,
    X,
    baseline,
    alphas,
    weights,
    *,
    outputs: Sequence[int] | None = None,
    logits: bool = False,
    memory_budget_mb: float | None = None,
    fast: bool = True,
    piecewise: bool = False,
) -> np.ndarray:
    r"""Weighted sums of gradients along straight paths from ``baseline`` to ``X``.

    .. math:: P_{nki} = \sum_s w_s\, \partial f_k(x'_n + \alpha_s (x_n - x'_n)) / \partial x_i

    Parameters
    ----------
    model : MLPBatch or TorchNetwork
    X : array-like of shape (n, p)
    baseline : array-like of shape (p,) or (n, p), or a scalar
    alphas, weights : array-like of shape (S,)
        Points on the path and their weights (:func:`integration_rule`).
    outputs : sequence of int, optional
        Output indices (default: all).
    logits : bool
        Differentiate the output layer's pre-activation (MLPBatch only).
    memory_budget_mb : float, optional
        Bytes for the temporaries of one chunk of rows.
    fast : bool
        For an MLPBatch, use the first-layer shortcut (module docstring); False evaluates the
        Jacobian at every point (for testing).
    piecewise : bool
        MLPBatch only: apply the rule (on :math:`[0, 1]`) to each piece of the path between
        the kinks of the first hidden layer, the points :math:`t_u = -z_{1u}(x') /
        (z_{1u}(x) - z_{1u}(x'))` in :math:`(0, 1)` where a first-layer pre-activation changes
        sign: per row and network up to ``u1 + 1`` pieces, ``S (u1 + 1)`` nodes. With relu
        units there the integrand is smooth on every piece (constant for one relu hidden layer
        and a linear output, where one node per piece is exact).

    Returns
    -------
    ndarray of shape (B, n, K_sel, p)
    """
    net = _check_differentiable(model)
    X1 = _as_rows(net, X)
    n, p = X1.shape
    X0 = _as_baseline(baseline, n, p)
    sel = _outputs(net, outputs)
    al = np.asarray(alphas, dtype=np.float64).reshape(-1)
    wt = np.asarray(weights, dtype=np.float64).reshape(-1)
    if al.shape != wt.shape or al.size == 0:
        raise ValueError("alphas and weights must be non-empty and of equal length.")
    if piecewise and not isinstance(net, MLPBatch):
        raise ValueError(
            f"{PIECEWISE!r} needs an MLP (the kinks of its first hidden layer); this model is "
            "differentiated by autograd: use 'gausslegendre'."
        )
    S = al.size * ((net.hidden_sizes[0] + 1) if piecewise and net.hidden_sizes else 1)
    dtype, device = net.dtype, net.device
    at = torch.as_tensor(al, dtype=dtype, device=device)
    wt_t = torch.as_tensor(wt, dtype=dtype, device=device)
    item = torch.finfo(dtype).bits // 8
    B = net.batch_size
    if isinstance(net, MLPBatch):
        w = max(net.layer_sizes)
        per_row = item * B * S * (3 * len(sel) * w + 3 * sum(net.layer_sizes))
        largest = item * B * S * len(sel) * w
    else:
        per_row = item * S * p * 64 * max(len(sel), 16)
        largest = per_row // 4
    out = np.empty((B, n, len(sel), p))
    for sl in row_chunks(n, per_row, memory_budget_mb, largest):
        x1 = _chunk_tensor(X1, sl, dtype, device)
        x0 = _chunk_tensor(X0, sl if X0.shape[0] == n else slice(0, 1), dtype, device)
        with torch.no_grad():
            if isinstance(net, MLPBatch) and (fast or piecewise):
                P = _mlp_path_chunk(net, x0, x1, at, wt_t, sel, logits, piecewise)
            else:
                P = _generic_path_chunk(net, x0.expand_as(x1), x1, at, wt_t, sel, logits)
        out[:, sl] = P.cpu().numpy()
    return out


# ---------------------------------------------------------------------- attributions
def gradients(
    model,
    X,
    *,
    outputs: Sequence[int] | None = None,
    logits: bool = False,
    memory_budget_mb: float | None = None,
) -> np.ndarray:
    """Input gradients ``d f_k / d x_i`` at the rows of ``X``: (B, n, K_sel, p).

    Saliency is their absolute value; gradient x input multiplies them by ``X``.
    """
    return path_gradients(
        model, X, X, [1.0], [1.0], outputs=outputs, logits=logits, memory_budget_mb=memory_budget_mb
    )


def smoothgrad(
    model,
    X,
    noise,
    *,
    absolute: bool = False,
    outputs: Sequence[int] | None = None,
    logits: bool = False,
    memory_budget_mb: float | None = None,
) -> np.ndarray:
    r"""SmoothGrad (Smilkov et al. 2017): the gradient averaged over noisy copies of each row.

    .. math:: \mathrm{SG}_{nki} = S^{-1} \sum_s g(\partial f_k(x_n + \varepsilon_{sn})
              / \partial x_i)

    with :math:`g` the identity, or :math:`|\cdot|` when ``absolute`` (captum's
    ``NoiseTunnel(Saliency)`` with its default ``abs=True``).

    Parameters
    ----------
    model : MLPBatch or TorchNetwork
    X : array-like of shape (n, p)
    noise : array-like of shape (S, n, p)
        The noise draws :math:`\varepsilon_{sn}` (the caller draws them: the result is a
        deterministic function of them).
    absolute : bool
    outputs, logits, memory_budget_mb
        As in :func:`path_gradients`.

    Returns
    -------
    ndarray of shape (B, n, K_sel, p)
    """
    net = _check_differentiable(model)
    X1 = _as_rows(net, X)
    n, p = X1.shape
    eps = np.asarray(noise, dtype=np.float64)
    if eps.ndim != 3 or eps.shape[1:] != (n, p) or eps.shape[0] < 1:
        raise ValueError(f"noise has shape {eps.shape}; expected (n_samples, {n}, {p}).")
    S = eps.shape[0]
    noisy = (X1[None] + eps).reshape(S * n, p)  # sample-major
    G = gradients(net, noisy, outputs=outputs, logits=logits, memory_budget_mb=memory_budget_mb)
    G = G.reshape(G.shape[0], S, n, G.shape[2], p)
    if absolute:
        G = np.abs(G)
    return G.mean(axis=1)


def integrated_gradients(
    model,
    X,
    baseline,
    *,
    n_steps: int = 50,
    method: str = "gausslegendre",
    outputs: Sequence[int] | None = None,
    logits: bool = False,
    memory_budget_mb: float | None = None,
) -> Bunch:
    r"""Integrated Gradients (Sundararajan, Taly & Yan 2017) with their completeness gap.

    .. math:: \mathrm{IG}_{nki} = (x_{ni} - x'_{ni}) \sum_s w_s\, \partial f_k(x'_n +
              \alpha_s (x_n - x'_n)) / \partial x_i, \qquad
              \delta_{nk} = \sum_i \mathrm{IG}_{nki} - (f_k(x_n) - f_k(x'_n))

    Parameters
    ----------
    model : MLPBatch or TorchNetwork
    X : array-like of shape (n, p)
    baseline : scalar, array-like of shape (p,) or (n, p)
    n_steps : int
    method : str
        Quadrature rule, see :func:`integration_rule`, or ``"piecewise_gausslegendre"``:
        ``n_steps`` Gauss-Legendre nodes on each piece between the kinks of the first hidden
        layer (MLPBatch only, see :func:`path_gradients`).
    outputs, logits, memory_budget_mb
        As in :func:`path_gradients`.

    Returns
    -------
    sklearn.utils.Bunch
        ``attributions`` (B, n, K_sel, p); ``prediction`` and ``baseline_prediction``
        (B, n, K_sel): :math:`f(x)` and :math:`f(x')`; ``gap`` (B, n, K_sel): :math:`\delta`.
    """
    net = _check_differentiable(model)
    X1 = _as_rows(net, X)
    n, p = X1.shape
    X0 = _as_baseline(baseline, n, p)
    sel = _outputs(net, outputs)
    piecewise = method == PIECEWISE
    alphas, weights = integration_rule("gausslegendre" if piecewise else method, n_steps)
    P = path_gradients(
        net,
        X1,
        X0,
        alphas,
        weights,
        outputs=sel,
        logits=logits,
        memory_budget_mb=memory_budget_mb,
        piecewise=piecewise,
    )
    attr = P * (X1 - X0)[None, :, None, :]
    fx = predictions(net, X1, logits=logits)[..., sel]
    fb = predictions(net, np.array(np.broadcast_to(X0, X1.shape)), logits=logits)[..., sel]
    gap = attr.sum(axis=-1) - (fx - fb)
    return Bunch(attributions=attr, prediction=fx, baseline_prediction=fb, gap=gap)


def occlusion(
    model,
    X,
    baseline,
    *,
    outputs: Sequence[int] | None = None,
    memory_budget: int = _data.DEFAULT_MEMORY_BUDGET,
) -> np.ndarray:
    r"""Occlusion (Zeiler & Fergus 2014) of one variable at a time.

    .. math:: O_{nki} = f_k(x_n) - f_k(x_n \text{ with } x_{ni} \leftarrow x'_{ni})

    (captum's ``Occlusion`` with a window of one feature and stride 1).

    Parameters
    ----------
    model : MLPBatch, TorchNetwork or ModelFunction
        Any prediction model (no derivatives needed).
    X : array-like of shape (n, p)
    baseline : scalar, array-like of shape (p,) or (n, p)
    outputs : sequence of int, optional
    memory_budget : int
        Bytes for one batched prediction call.

    Returns
    -------
    ndarray of shape (B, n, K_sel, p)
    """
    if isinstance(model, TorchNetwork):
        from ..adapters import as_model_function

        model = as_model_function(model.module, output_names=model.output_names)
    X1 = _as_rows(model, X)
    n, p = X1.shape
    X0 = np.broadcast_to(_as_baseline(baseline, n, p), (n, p))
    sel = _outputs(model, outputs)
    fx = predictions(model, X1)[..., sel]  # (B, n, K_sel)
    cols = np.arange(p)
    occluded = _data.replaced_column_predictions(
        model, X1.copy(), cols, lambda c, i: X0[i, cols[c]], memory_budget=memory_budget
    )  # (B, p, n, K)
    occ = occluded[..., sel].transpose(0, 2, 3, 1)  # (B, n, K_sel, p)
    return fx[..., None] - occ
