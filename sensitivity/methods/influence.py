r"""Influence functions of training rows for a multilayer perceptron (pure formulas).

The network's parameters are flattened into one vector :math:`\theta` in the layout of the
batched trainer (:mod:`sensitivity.training`): all connection-weight matrices first (the
``n_coef`` penalised entries, scikit-learn ``coefs_`` layout, row-major), then the biases. The
training objective is scikit-learn's penalised mean loss

.. math::

    J(\theta) = \frac1n \sum_{i=1}^n \ell(z_i, \theta)
              + \frac{\alpha}{2n} \lVert W \rVert_2^2 ,

with :math:`\ell = \tfrac12 \operatorname{mean}_k (y_k - \hat y_k)^2` for an identity output
(squared error), :math:`\sum_k \operatorname{softplus}(s_k) - y_k s_k` for logistic outputs
(binary log-loss from the logits :math:`s`) and :math:`-\sum_k y_k \log \operatorname{softmax}
(s)_k` for a softmax output; :math:`W` are the connection weights (biases are not penalised).

Up-weighting a training row :math:`z_i` by :math:`\varepsilon` moves the minimiser by
:math:`d\hat\theta/d\varepsilon = -H^{-1} \nabla_\theta \ell(z_i)`, :math:`H = \nabla^2 J`
(Cook & Weisberg 1982; Koh & Liang 2017), so for any differentiable test quantity
:math:`q(\theta)` (a test row's loss, or a prediction)

.. math::

    \mathcal I_{\mathrm{up}}(z_i, q) = -\nabla_\theta q^\top H^{-1} \nabla_\theta \ell(z_i) .

Removing row :math:`i` is exactly :math:`\varepsilon = -1/n` for this objective (multiply
:math:`J` by :math:`n`: the penalty :math:`\tfrac\alpha2\lVert W\rVert^2` does not depend on
:math:`n`), so the leave-one-out change is :math:`\Delta q_{-i} \approx
-\mathcal I_{\mathrm{up}}/n = \tfrac1n \nabla q^\top H^{-1} \nabla \ell(z_i)`. Moving the inputs
of row :math:`i` by :math:`\delta` changes :math:`q` by :math:`\tfrac1n
\mathcal I_{\mathrm{pert}}^\top \delta` with :math:`\mathcal I_{\mathrm{pert}}(z_i, q) =
-\nabla_\theta q^\top H^{-1} \nabla_x \nabla_\theta \ell(z_i)` (derivatives in the user's units:
the chain rule runs through the affine input transform). The self-influence
:math:`\nabla\ell(z_i)^\top H^{-1} \nabla\ell(z_i) \ge 0` is :math:`n` times the predicted rise of
row :math:`i`'s own loss when it is left out.

:math:`H` is computed exactly in float64 (forward-over-reverse automatic differentiation,
:math:`P` Hessian-vector products, rows in chunks) for small networks, or touched only through
Hessian-vector products by conjugate gradients (Hestenes & Stiefel 1952) for larger ones.
A damping term :math:`\lambda I` may be added.

The Hessian is indefinite away from a strict minimum and, for ReLU networks, carries no
second-derivative term of the activations at all. The generalised Gauss-Newton matrix
(Schraudolph 2002; Martens 2020)

.. math::

    G = \frac1n \sum_i J_i^\top \Lambda_i J_i + \frac{\alpha}{n} I_W, \qquad
    J_i = \partial s(z_i) / \partial\theta, \quad
    \Lambda_i = \partial^2 \ell / \partial s^2 ,

drops the term :math:`\frac1n\sum_{i,k} (\partial\ell/\partial s_k)\,\nabla^2_\theta s_k`
of the Hessian (residual times curvature of the network). With the losses above
:math:`\Lambda_i` is positive semi-definite (:math:`I/k`; :math:`\operatorname{diag}(p(1-p))`;
:math:`\operatorname{diag}(p) - pp^\top`) and does not depend on the targets, so :math:`G` is
positive semi-definite everywhere; for the binary and multinomial log-loss it equals the Fisher
information of the model's predictive distribution.

References
----------
Koh, P. W. & Liang, P. (2017). Understanding black-box predictions via influence functions.
Proceedings of the 34th International Conference on Machine Learning (ICML), PMLR 70, 1885-1894.

Cook, R. D. & Weisberg, S. (1982). Residuals and Influence in Regression. Chapman & Hall.

Hestenes, M. R. & Stiefel, E. (1952). Methods of conjugate gradients for solving linear systems.
Journal of Research of the National Bureau of Standards 49(6), 409-436.

Schraudolph, N. N. (2002). Fast curvature matrix-vector products for second-order gradient
descent. Neural Computation 14(7), 1723-1738.

Martens, J. (2020). New insights and perspectives on the natural gradient method. Journal of
Machine Learning Research 21(146), 1-76.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch.func import grad, jacfwd

from .._config import budget_bytes
from ..network import ACTIVATIONS, MLPBatch
from ..network._torch import prepare_forward_ad
from .influence_solvers import CGResult, cg_solve, smallest_eigenvalues

__all__ = [
    "LOSSES",
    "CGResult",
    "Objective",
    "cg_solve",
    "flatten_parameters",
    "gauss_newton",
    "gauss_newton_vector_product",
    "hessian",
    "hessian_vector_product",
    "influence_scores",
    "logit_jacobians",
    "objective_gradient",
    "output_curvature",
    "perturbation_influence",
    "prediction_gradients",
    "row_gradients",
    "row_losses",
    "smallest_eigenvalues",
    "unflatten_parameters",
]

LOSSES = ("squared_error", "binary_log_loss", "multinomial_log_loss")

_LOSS_OF_OUTPUT = {
    "identity": "squared_error",
    "logistic": "binary_log_loss",
    "softmax": "multinomial_log_loss",
}


@dataclass(frozen=True)
class Objective:
    """The penalised training objective of one network architecture.

    Parameters
    ----------
    sizes : tuple of int
        ``(n_features, *hidden_sizes, n_outputs)``.
    activations : tuple of str
        One per layer, the output activation last (``identity``, ``logistic`` or ``softmax``).
    alpha : float
        L2 penalty in scikit-learn's units (``alpha / (2 n) * ||W||^2``).
    n_train : int
        Number of training rows ``n`` (the penalty is divided by it).
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    alpha: float
    n_train: int

    def __post_init__(self) -> None:
        if len(self.activations) != len(self.sizes) - 1:
            raise ValueError("One activation per layer is needed.")
        out = self.activations[-1]
        if out not in _LOSS_OF_OUTPUT:
            raise TypeError(
                f"Influence functions need the training loss; it is known for identity "
                f"(squared error), logistic (log-loss) and softmax (log-loss) outputs, not "
                f"{out!r}."
            )
        for act in self.activations[:-1]:
            if act not in ("identity", "logistic", "tanh", "relu"):
                raise TypeError(f"Unsupported hidden activation {act!r}.")
        if not np.isfinite(self.alpha) or self.alpha < 0:
            raise ValueError(f"alpha must be a non-negative number; got {self.alpha!r}.")
        if int(self.n_train) < 1:
            raise ValueError("n_train must be positive.")

    @classmethod
    def from_batch(cls, batch: MLPBatch, alpha: float, n_train: int) -> Objective:
        """The objective of the architecture of ``batch`` (a batch of one network)."""
        return cls(tuple(batch.layer_sizes), tuple(batch.activations), float(alpha), int(n_train))

    @property
    def loss(self) -> str:
        """``squared_error``, ``binary_log_loss`` or ``multinomial_log_loss``."""
        return _LOSS_OF_OUTPUT[self.activations[-1]]

    @property
    def n_coef(self) -> int:
        """Number of connection weights (the penalised parameters, first in the layout)."""
        return sum(a * b for a, b in itertools.pairwise(self.sizes))

    @property
    def n_params(self) -> int:
        """Number of parameters ``P`` (weights and biases)."""
        return self.n_coef + sum(self.sizes[1:])

    def unpack(self, theta: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Weights ``(n_in, n_out)`` and biases ``(n_out,)`` per layer from a flat ``(P,)``.

        A stack of parameter vectors ``(m, P)`` gives weights ``(m, n_in, n_out)`` and biases
        ``(m, 1, n_out)`` (``m`` networks evaluated on the same rows).
        """
        lead = theta.shape[:-1]
        Ws, bs, off = [], [], 0
        for fi, fo in itertools.pairwise(self.sizes):
            Ws.append(theta[..., off : off + fi * fo].reshape(*lead, fi, fo))
            off += fi * fo
        for fo in self.sizes[1:]:
            b = theta[..., off : off + fo]
            bs.append(b.unsqueeze(-2) if lead else b)
            off += fo
        return Ws, bs

    def logits(self, theta: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        """Output pre-activations ``(..., n_outputs)`` for network inputs ``Z (..., p)``."""
        Ws, bs = self.unpack(theta)
        h = Z
        last = len(Ws) - 1
        for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
            h = h @ W + b
            if i < last:
                h = ACTIVATIONS[self.activations[i]].f(h)
        return h

    def outputs(self, theta: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
        """Network outputs (predictions; class probabilities for classifiers)."""
        s = self.logits(theta, Z)
        out = self.activations[-1]
        if out == "softmax":
            return torch.softmax(s, dim=-1)
        return ACTIVATIONS[out].f(s)

    def row_loss(self, theta: torch.Tensor, Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Per-row loss :math:`\\ell` (shape ``Z.shape[:-1]``), scikit-learn's conventions."""
        s = self.logits(theta, Z)
        loss = self.loss
        if loss == "squared_error":
            return 0.5 * ((s - Y) ** 2).mean(dim=-1)
        if loss == "binary_log_loss":
            return (torch.nn.functional.softplus(s) - Y * s).sum(dim=-1)
        return -(Y * torch.log_softmax(s, dim=-1)).sum(dim=-1)

    def penalty(self, theta: torch.Tensor) -> torch.Tensor:
        """:math:`\\alpha / (2n) \\lVert W \\rVert^2`."""
        w = theta[: self.n_coef]
        return (0.5 * self.alpha / self.n_train) * (w * w).sum()

    def value(self, theta: torch.Tensor, Z: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """:math:`J(\\theta)` on the ``n_train`` rows ``(Z, Y)``."""
        return self.row_loss(theta, Z, Y).sum() / self.n_train + self.penalty(theta)


def flatten_parameters(batch: MLPBatch) -> torch.Tensor:
    """The parameters of a batch of one network as a flat float64 vector ``(P,)``.

    Layout: all weight matrices (row-major, ``(n_in, n_out)``), then all biases.
    """
    if batch.batch_size != 1:
        raise ValueError(f"Expected a batch of one network; got {batch.batch_size}.")
    parts = [W[0].reshape(-1) for W in batch.weights] + [b[0].reshape(-1) for b in batch.biases]
    return torch.cat(parts).detach().to(torch.float64)


def unflatten_parameters(obj: Objective, theta) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights and biases (numpy, scikit-learn layout) from a flat parameter vector."""
    Ws, bs = obj.unpack(torch.as_tensor(theta, dtype=torch.float64))
    return [W.detach().numpy().copy() for W in Ws], [b.detach().numpy().copy() for b in bs]


def _chunks(n: int, per_row: int, memory_budget_mb: int | None) -> list[slice]:
    size = max(1, int(budget_bytes(memory_budget_mb)) // max(1, per_row))
    return [slice(i, min(n, i + size)) for i in range(0, n, size)]


def _width(obj: Objective) -> int:
    return sum(obj.sizes)


def row_losses(obj: Objective, theta: torch.Tensor, Z: torch.Tensor, Y: torch.Tensor):
    """Per-row training losses :math:`\\ell(z_i)`, shape ``(n,)``."""
    with torch.no_grad():
        return obj.row_loss(theta, Z, Y)


def _rows_backprop(obj: Objective, theta: torch.Tensor, Z: torch.Tensor, out_delta) -> torch.Tensor:
    """Per-row gradients ``(n, P)`` of a per-row scalar whose derivative with respect to the
    output logits is ``out_delta(logits) (n, k)``: explicit back-propagation, one outer
    product per row and layer (no per-row autograd)."""
    Ws, bs = obj.unpack(theta)
    acts = [Z]
    h = Z
    last = len(Ws) - 1
    for i, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        h = h @ W + b
        if i < last:
            h = ACTIVATIONS[obj.activations[i]].f(h)
            acts.append(h)
    delta = out_delta(h)
    n = Z.shape[0]
    gW: list = [None] * len(Ws)
    gb: list = [None] * len(Ws)
    for i in range(last, -1, -1):
        gW[i] = (acts[i].unsqueeze(2) * delta.unsqueeze(1)).reshape(n, -1)
        gb[i] = delta
        if i > 0:
            delta = (delta @ Ws[i].T) * ACTIVATIONS[obj.activations[i - 1]].d1(None, acts[i])
    return torch.cat(gW + gb, dim=1)


def _loss_delta(obj: Objective, Y: torch.Tensor):
    k = obj.sizes[-1]
    loss = obj.loss

    def delta(s):
        if loss == "squared_error":
            return (s - Y) / k
        if loss == "binary_log_loss":
            return torch.sigmoid(s) - Y
        return torch.softmax(s, dim=-1) - Y

    return delta


def row_gradients(
    obj: Objective,
    theta: torch.Tensor,
    Z: torch.Tensor,
    Y: torch.Tensor,
    *,
    memory_budget_mb: float | None = None,
) -> torch.Tensor:
    """Per-row loss gradients :math:`\\nabla_\\theta \\ell(z_i)`, shape ``(n, P)``.

    Analytic back-propagation batched over rows; the penalty is not included (it belongs to
    the objective, not to a row).
    """
    per_row = 8 * (obj.n_params + 4 * _width(obj))
    with torch.no_grad():
        return torch.cat(
            [
                _rows_backprop(obj, theta, Z[s], _loss_delta(obj, Y[s]))
                for s in _chunks(Z.shape[0], per_row, memory_budget_mb)
            ]
        )


def prediction_gradients(
    obj: Objective, theta: torch.Tensor, Z: torch.Tensor, output: int, *, logits: bool = False
) -> torch.Tensor:
    """Gradients of one output (the prediction, a class probability, or with ``logits=True``
    the output pre-activation) with respect to the parameters, ``(n, P)``."""
    k = obj.sizes[-1]
    e = torch.zeros(k, dtype=Z.dtype, device=Z.device)
    e[output] = 1.0
    out = obj.activations[-1]

    def delta(s):
        if logits or out == "identity":
            return e.expand_as(s)
        if out == "logistic":
            p = torch.sigmoid(s)
            return (p * (1.0 - p)) * e
        p = torch.softmax(s, dim=-1)
        return p[:, output : output + 1] * (e - p)

    with torch.no_grad():
        return _rows_backprop(obj, theta, Z, delta)


def objective_gradient(
    obj: Objective, theta: torch.Tensor, Z: torch.Tensor, Y: torch.Tensor
) -> torch.Tensor:
    """:math:`\\nabla J(\\theta)`, shape ``(P,)`` (penalty included)."""
    th = theta.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(obj.value(th, Z, Y), th)
    return g.detach()


def _hvp_columns(obj, theta, Z, Y, V, memory_budget_mb):
    """``sum_i nabla^2 l_i V`` (data part only, not divided by n), by double back-propagation.

    A block of ``b`` columns is done in one pass: the network is evaluated with ``b`` copies of
    the parameters stacked (one batched computation), the gradient of the data sum taken for
    each copy, and the sum over copies of ``<gradient_j, v_j>`` differentiated once more:
    row ``j`` of the result is :math:`H v_j`. Blocks and row chunks keep the temporaries near
    ``memory_budget_mb``.
    """
    m = V.shape[1]
    out = torch.zeros_like(V)
    VT = V.T
    n = Z.shape[0]
    width = _width(obj)
    budget = budget_bytes(memory_budget_mb)
    rows = max(1, min(n, int(budget // (8 * 12 * width))))
    block = max(1, min(m, int(budget // (8 * 12 * width * rows))))
    for s in range(0, n, rows):
        Zs, Ys = Z[s : s + rows], Y[s : s + rows]
        for c in range(0, m, block):
            Vc = VT[c : c + block]
            th = theta.detach().expand(Vc.shape[0], -1).clone().requires_grad_(True)
            (g,) = torch.autograd.grad(obj.row_loss(th, Zs, Ys).sum(), th, create_graph=True)
            (hv,) = torch.autograd.grad((g * Vc).sum(), th)
            out[:, c : c + block] += hv.T
    return out


def hessian(
    obj: Objective,
    theta: torch.Tensor,
    Z: torch.Tensor,
    Y: torch.Tensor,
    *,
    memory_budget_mb: float | None = None,
) -> torch.Tensor:
    """Exact Hessian :math:`\\nabla^2 J(\\theta)` of the penalised mean objective, ``(P, P)``.

    Forward-over-reverse differentiation (``torch.func.jacfwd`` of the gradient: ``P``
    tangents pushed through one reverse pass, batched), rows in chunks of the memory budget;
    symmetrised to remove rounding asymmetry. The penalty adds :math:`\\alpha/n` on the
    diagonal entries of the connection weights.
    """
    prepare_forward_ad()
    P = obj.n_params
    n = Z.shape[0]
    rows = max(1, min(n, int(budget_bytes(memory_budget_mb) // (8 * 12 * _width(obj) * P))))
    H = torch.zeros(P, P, dtype=theta.dtype, device=theta.device)
    for s in range(0, n, rows):
        Zs, Ys = Z[s : s + rows], Y[s : s + rows]
        H += jacfwd(grad(lambda t, Zs=Zs, Ys=Ys: obj.row_loss(t, Zs, Ys).sum()))(theta.detach())
    H /= obj.n_train
    H.diagonal()[: obj.n_coef] += obj.alpha / obj.n_train
    return 0.5 * (H + H.T)


def hessian_vector_product(
    obj: Objective,
    theta: torch.Tensor,
    Z: torch.Tensor,
    Y: torch.Tensor,
    V: torch.Tensor,
    *,
    memory_budget_mb: float | None = None,
) -> torch.Tensor:
    """:math:`H V` for a vector ``(P,)`` or a block ``(P, m)``, without forming :math:`H`.

    Double back-propagation (Pearlmutter 1994): the gradient's graph is built once per chunk
    of rows and differentiated once per column.
    """
    squeeze = V.ndim == 1
    Vm = V.reshape(V.shape[0], -1)
    out = _hvp_columns(obj, theta, Z, Y, Vm, memory_budget_mb) / obj.n_train
    out[: obj.n_coef] += (obj.alpha / obj.n_train) * Vm[: obj.n_coef]
    return out.reshape(V.shape) if squeeze else out


def output_curvature(obj: Objective, logits: torch.Tensor) -> torch.Tensor:
    r""":math:`\Lambda_i = \partial^2\ell/\partial s^2` per row, ``(n, k, k)``, from the logits.

    Squared error (``0.5 mean_k``): :math:`I/k`; binary log-loss:
    :math:`\operatorname{diag}(p(1-p))`, :math:`p = \sigma(s)`; multinomial log-loss:
    :math:`\operatorname{diag}(p) - p p^\top`, :math:`p = \operatorname{softmax}(s)`.
    """
    n, k = logits.shape
    if obj.loss == "squared_error":
        return (torch.eye(k, dtype=logits.dtype) / k).expand(n, k, k)
    if obj.loss == "binary_log_loss":
        p = torch.sigmoid(logits)
        return torch.diag_embed(p * (1.0 - p))
    p = torch.softmax(logits, dim=-1)
    return torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)


def logit_jacobians(obj: Objective, theta: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
    r""":math:`J_i = \partial s(z_i)/\partial\theta`, shape ``(n, k, P)`` (analytic
    back-propagation, one pass per output)."""
    k = obj.sizes[-1]
    eye = torch.eye(k, dtype=Z.dtype, device=Z.device)
    with torch.no_grad():
        return torch.stack(
            [_rows_backprop(obj, theta, Z, lambda s, o=o: eye[o].expand_as(s)) for o in range(k)],
            dim=1,
        )


def _ggn_chunks(obj, theta, Z, memory_budget_mb):
    """``(J, Lambda)`` per chunk of rows (rows per chunk from the memory budget)."""
    per_row = 8 * (3 * obj.sizes[-1] * obj.n_params + 4 * _width(obj))
    for s in _chunks(Z.shape[0], per_row, memory_budget_mb):
        with torch.no_grad():
            yield logit_jacobians(obj, theta, Z[s]), output_curvature(obj, obj.logits(theta, Z[s]))


def gauss_newton(
    obj: Objective, theta: torch.Tensor, Z: torch.Tensor, *, memory_budget_mb: float | None = None
) -> torch.Tensor:
    r"""Generalised Gauss-Newton matrix of the penalised mean objective, ``(P, P)``.

    :math:`G = n^{-1}\sum_i J_i^\top\Lambda_i J_i + (\alpha/n) I_W` (module docstring):
    positive semi-definite, equal to the Hessian where every residual
    :math:`\partial\ell/\partial s` vanishes. It does not depend on the targets.
    """
    P = obj.n_params
    C = torch.zeros(P, P, dtype=theta.dtype)
    for J, Lam in _ggn_chunks(obj, theta, Z, memory_budget_mb):
        LJ = Lam @ J  # (m, k, P)
        C += J.reshape(-1, P).T @ LJ.reshape(-1, P)
    C /= obj.n_train
    C.diagonal()[: obj.n_coef] += obj.alpha / obj.n_train
    return 0.5 * (C + C.T)


def gauss_newton_vector_product(
    obj: Objective,
    theta: torch.Tensor,
    Z: torch.Tensor,
    V: torch.Tensor,
    *,
    memory_budget_mb: float | None = None,
) -> torch.Tensor:
    r""":math:`G V` for a vector ``(P,)`` or a block ``(P, m)`` without forming :math:`G`:
    :math:`n^{-1}\sum_i J_i^\top (\Lambda_i (J_i V)) + (\alpha/n) V_W`."""
    squeeze = V.ndim == 1
    Vm = V.reshape(V.shape[0], -1)
    out = torch.zeros_like(Vm)
    for J, Lam in _ggn_chunks(obj, theta, Z, memory_budget_mb):
        out += torch.einsum("nkp,nkm->pm", J, Lam @ (J @ Vm))
    out /= obj.n_train
    out[: obj.n_coef] += (obj.alpha / obj.n_train) * Vm[: obj.n_coef]
    return out.reshape(V.shape) if squeeze else out


def influence_scores(test_solved: torch.Tensor, train_grads: torch.Tensor) -> torch.Tensor:
    """:math:`\\mathcal I_{\\mathrm{up}}(z_i, q_t) = -(H^{-1}\\nabla q_t)^\\top \\nabla\\ell(z_i)`.

    Parameters
    ----------
    test_solved : ``(T, P)``
        :math:`H^{-1} \\nabla_\\theta q_t` per test quantity (``s_test`` of Koh & Liang).
    train_grads : ``(n, P)``
        :math:`\\nabla_\\theta \\ell(z_i)`.

    Returns
    -------
    torch.Tensor ``(T, n)``
    """
    return -(test_solved @ train_grads.T)


def perturbation_influence(
    obj: Objective,
    theta: torch.Tensor,
    Z: torch.Tensor,
    Y: torch.Tensor,
    test_solved: torch.Tensor,
    *,
    input_scale: torch.Tensor | None = None,
    memory_budget_mb: float | None = None,
) -> torch.Tensor:
    """:math:`\\mathcal I_{\\mathrm{pert}}(z_i, q_t) = -(H^{-1}\\nabla q_t)^\\top
    \\nabla_x \\nabla_\\theta \\ell(z_i)`, shape ``(T, n, p)``.

    For a fixed vector :math:`v_t = H^{-1}\\nabla q_t`, :math:`v_t^\\top \\nabla_\\theta
    \\sum_i \\ell(z_i)` depends on row :math:`i`'s inputs only through its own term, so its
    gradient with respect to all inputs gives every row at once (one double back-propagation
    for a block of test quantities, the parameters stacked once per test quantity). ``Z`` are
    the network's inputs; the derivative with respect to the user's variable :math:`x_j` is
    that with respect to :math:`z_j` times ``input_scale[j]`` (:math:`z = x s + o`).
    """
    T = test_solved.shape[0]
    n = Z.shape[0]
    out = torch.empty(T, *Z.shape, dtype=Z.dtype, device=Z.device)
    width = _width(obj) + Z.shape[1]
    budget = budget_bytes(memory_budget_mb)
    rows = max(1, min(n, int(budget // (8 * 12 * width))))
    block = max(1, min(T, int(budget // (8 * 12 * width * rows))))
    for s in range(0, n, rows):
        for c in range(0, T, block):
            Sc = test_solved[c : c + block]
            b = Sc.shape[0]
            th = theta.detach().expand(b, -1).clone().requires_grad_(True)
            Zs = Z[s : s + rows].detach().expand(b, -1, -1).clone().requires_grad_(True)
            loss = obj.row_loss(th, Zs, Y[s : s + rows]).sum()
            (g,) = torch.autograd.grad(loss, th, create_graph=True)
            (gz,) = torch.autograd.grad((g * Sc).sum(), Zs)
            out[c : c + block, s : s + rows] = -gz
    if input_scale is not None:
        out = out * input_scale
    return out
