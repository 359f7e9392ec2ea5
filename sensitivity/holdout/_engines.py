r"""Row losses of a fitted model with one column replaced by conditional draws.

Three exact engines (:func:`holdout_losses` chooses): a piecewise-linear evaluation of
one-hidden-layer ReLU networks, a rank-one update of the first layer for any MLP, and large
stacked ``predict`` calls for any other model.

The rank-one engine evaluates a ``tanh`` hidden layer through the identity
:math:`\tanh(z) = 2\sigma(2z) - 1`: the factor 2 is folded into the layer's weights and
:math:`2\sigma - 1` into the next layer's (:func:`sigmoid_form`). The function is the same;
only rounding differs (float32: relative 1e-6 of the output), and the logistic function is
3-4 times cheaper than ``tanh`` in torch on CPU (measured: 1.9 against 6.3 ns per float32
element on one AVX2 core), which is most of the cost of a test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
from sklearn.utils import Bunch

from .._threads import run_tasks
from ..conditional import ConditionalModel
from ..methods import _data as _pdata
from ..methods.perturbation import row_losses
from ..network import ACTIVATIONS, MLPBatch

_CACHE_BYTES = 4 * 2**20
"""Working set of one batched call, at most: calls that stay in cache run 2-3 times faster
than memory-bound ones (measured on the rank-one path, 1,000 rows x 100 units)."""


def _torch_row_loss(z: torch.Tensor, act: str, Y: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-row loss (summed over outputs) from the output layer's pre-activation ``z``.

    Log-losses of logistic and softmax outputs are computed in log space (``logsigmoid``,
    ``log_softmax``); otherwise as :func:`~sensitivity.methods.perturbation.row_losses`.
    """
    if kind == "binary" and act == "logistic":
        return -(
            Y * torch.nn.functional.logsigmoid(z) + (1 - Y) * torch.nn.functional.logsigmoid(-z)
        ).sum(-1)
    if kind == "categorical" and act == "softmax":
        return -(Y * torch.log_softmax(z, dim=-1)).sum(-1)
    out = torch.softmax(z, dim=-1) if act == "softmax" else ACTIVATIONS[act].f(z)
    if kind == "mse":
        return ((out - Y) ** 2).sum(-1)
    eps = float(np.finfo(np.float64).eps)
    P = out.clamp(eps, 1 - eps)
    if kind == "binary":
        return -(Y * torch.log(P) + (1 - Y) * torch.log1p(-P)).sum(-1)
    return -(Y * torch.log(P)).sum(-1)


_IN_PLACE = {
    "relu": torch.relu_,
    "tanh": torch.tanh_,
    "logistic": torch.sigmoid_,
    "identity": lambda z: z,
}


def _mlp_tail(batch: MLPBatch, Z: torch.Tensor) -> torch.Tensor:
    """Layers after the first pre-activation ``Z (..., h0)``: the output pre-activation.

    Overwrites ``Z`` (hidden activations are applied in place: one pass less over the largest
    tensor).
    """
    h = _IN_PLACE[batch.activations[0]](Z)
    n = len(batch.weights)
    for i in range(1, n):
        h = torch.addmm(batch.biases[i][0], h.reshape(-1, h.shape[-1]), batch.weights[i][0])
        h = h.reshape(*Z.shape[:-1], -1)
        if i < n - 1:
            h = _IN_PLACE[batch.activations[i]](h)
    return h


def sigmoid_form(batch: MLPBatch) -> MLPBatch:
    r"""The same networks with every ``tanh`` hidden layer written with the logistic function.

    With :math:`\tanh(z) = 2\sigma(2z) - 1`, a ``tanh`` layer :math:`h = \tanh(xW + b)` feeding
    :math:`hV + c` equals :math:`\sigma(x\,2W + 2b)` feeding
    :math:`\sigma(\cdot)\,2V + (c - \mathbf 1^\top V)`. Only hidden layers change; the
    output layer keeps its activation.
    """
    acts = list(batch.activations)
    if "tanh" not in acts[:-1]:
        return batch
    W, b = list(batch.weights), list(batch.biases)
    for i in range(len(acts) - 1):
        if acts[i] == "tanh":
            W[i], b[i] = 2 * W[i], 2 * b[i]
            b[i + 1] = b[i + 1] - W[i + 1].sum(dim=1)
            W[i + 1] = 2 * W[i + 1]
            acts[i] = "logistic"
    return replace(batch, weights=tuple(W), biases=tuple(b), activations=tuple(acts))


def _mlp_output_pre(batch: MLPBatch, Z: torch.Tensor) -> torch.Tensor:
    if len(batch.weights) == 1:
        return Z
    return _mlp_tail(batch, Z)


class _RankOne:
    """Row losses of an MLP with column ``j`` replaced, by a rank-one update.

    The first layer's pre-activation with :math:`x_j` replaced by :math:`\\tilde x_j` is
    :math:`H + (\\tilde x_j - x_j)\\, W_0[j, :]`, with :math:`H = X W_0 + b_0` computed once.
    """

    def __init__(self, batch: MLPBatch, X: np.ndarray, Y: np.ndarray, kind: str) -> None:
        self.batch = sigmoid_form(batch.with_folded_input_transform())
        dt = self.batch.dtype
        self.X = torch.as_tensor(X, dtype=dt)
        self.Y = torch.as_tensor(Y, dtype=dt)
        self.kind = kind
        self.W0 = self.batch.weights[0][0]
        self.H = self.X @ self.W0 + self.batch.biases[0][0]
        self.width = max(self.batch.layer_sizes[1:])
        self.item = torch.finfo(dt).bits // 8

    def _loss(self, Z: torch.Tensor) -> torch.Tensor:
        z = _mlp_output_pre(self.batch, Z)
        return _torch_row_loss(z, self.batch.activations[-1], self.Y, self.kind)

    def base(self) -> np.ndarray:
        with torch.no_grad():
            return self._loss(self.H.clone()).double().numpy()  # the tail works in place

    def draws_per_call(self, memory_budget: int) -> int:
        per_draw = self.X.shape[0] * (2 * self.width + 2) * self.item
        return max(1, min(int(memory_budget), _CACHE_BYTES) // per_draw)

    def losses(self, j: int, draws: np.ndarray, memory_budget: int) -> np.ndarray:
        B = draws.shape[0]
        out = np.empty((B, self.X.shape[0]))
        step = self.draws_per_call(memory_budget)
        w = self.W0[j]
        with torch.no_grad():
            for s in range(0, B, step):
                d = torch.as_tensor(draws[s : s + step], dtype=self.X.dtype) - self.X[:, j]
                Z = torch.addcmul(self.H, d.unsqueeze(-1), w)  # (c, m, h0)
                out[s : s + step] = self._loss(Z).double().numpy()
        return out


class _PiecewiseLinear(_RankOne):
    """Exact row losses of a one-hidden-layer ReLU (or linear) MLP with column ``j`` replaced.

    With :math:`a_{ih}` the hidden pre-activation of row :math:`i` and :math:`w = W_0[j, :]`,
    replacing :math:`x_{ij}` by :math:`x_{ij} + d` makes the output pre-activation

    .. math:: z_i(d) = c + \\sum_h V_h\\, \\max(a_{ih} + d\\, w_h, 0),

    piecewise linear in :math:`d` with breakpoints :math:`t_{ih} = -a_{ih}/w_h`. Unit :math:`h`
    is active for :math:`d > t_{ih}` when :math:`w_h > 0` and for :math:`d < t_{ih}` when
    :math:`w_h < 0`. Sorting each row's breakpoints once and taking cumulative sums of
    :math:`V_h a_{ih}` and :math:`V_h w_h` gives :math:`z_i(d)` for every draw by a binary
    search: :math:`O(B\\, m \\log h)` instead of :math:`O(B\\, m\\, h)`. Computed in float64.
    """

    def __init__(self, batch: MLPBatch, X: np.ndarray, Y: np.ndarray, kind: str) -> None:
        super().__init__(batch.to(dtype=torch.float64), X, Y, kind)
        self.V = self.batch.weights[1][0]  # (h, k)
        self.c = self.batch.biases[1][0]  # (k,)
        self.linear = self.batch.activations[0] == "identity"

    @staticmethod
    def applies(batch: MLPBatch) -> bool:
        return len(batch.weights) == 2 and batch.activations[0] in ("relu", "identity")

    def draws_per_call(self, memory_budget: int) -> int:
        k = self.V.shape[1]
        per_draw = self.X.shape[0] * (8 * k + 4) * 8
        return max(1, int(memory_budget) // per_draw)

    def _prepare(self, j: int):
        """Sorted breakpoints of every row and the cumulative sums that give ``z_i(d)``.

        All units' breakpoints of a row are sorted together. For a shift ``d`` with ``r``
        breakpoints below it, the active units are the ``w > 0`` ones among the first ``r`` and
        the ``w < 0`` ones among the rest, so
        ``z(d) = G_a[r] + d G_w[r]`` with ``G[r] = cum_pos[r] + (total_neg - cum_neg[r])``
        (plus the output bias and the ``w = 0`` units, which do not depend on ``d``).
        """
        w = self.W0[j]  # (h,)
        A = self.H  # (m, h)
        V = self.V  # (h, k)
        if self.linear:
            return A @ V + self.c, w @ V
        live = torch.nonzero(w != 0).ravel()
        t = -A[:, live] / w[live]  # (m, q) breakpoints
        t_sorted, order = torch.sort(t, dim=1)
        units = live[order]  # (m, q)
        contrib = torch.cat(
            [
                torch.gather(A, 1, units).unsqueeze(-1) * V[units],  # V_h a_ih
                (w[units].unsqueeze(-1) * V[units]),  # V_h w_h
            ],
            dim=-1,
        )  # (m, q, 2k)
        pos = (w[units] > 0).unsqueeze(-1)
        zero = A.new_zeros((A.shape[0], 1, contrib.shape[-1]))
        cum_pos = torch.cat([zero, torch.cumsum(torch.where(pos, contrib, 0.0), dim=1)], dim=1)
        cum_neg = torch.cat([zero, torch.cumsum(torch.where(pos, 0.0, contrib), dim=1)], dim=1)
        G = cum_pos + (cum_neg[:, -1:] - cum_neg)  # (m, q+1, 2k)
        flat = w == 0
        G[..., : V.shape[1]] += (torch.relu(A[:, flat]) @ V[flat] + self.c).unsqueeze(1)
        return t_sorted.contiguous(), G

    def _pre(self, prep, d: torch.Tensor) -> torch.Tensor:
        """Output pre-activation ``(c, m, k)`` for shifts ``d (c, m)``."""
        k = self.V.shape[1]
        if self.linear:
            z0, slope = prep
            return z0 + d.unsqueeze(-1) * slope
        t_sorted, G = prep
        dm = d.T.contiguous()  # (m, c)
        r = torch.searchsorted(t_sorted, dm)  # breakpoints strictly below d
        g = torch.gather(G, 1, r.unsqueeze(-1).expand(-1, -1, 2 * k))  # (m, c, 2k)
        z = torch.addcmul(g[..., :k], dm.unsqueeze(-1), g[..., k:])
        return z.transpose(0, 1)  # (c, m, k)

    def losses(self, j: int, draws: np.ndarray, memory_budget: int) -> np.ndarray:
        B = draws.shape[0]
        out = np.empty((B, self.X.shape[0]))
        step = self.draws_per_call(memory_budget)
        act = self.batch.activations[-1]
        with torch.no_grad():
            prep = self._prepare(j)
            for s in range(0, B, step):
                d = torch.as_tensor(draws[s : s + step], dtype=torch.float64) - self.X[:, j]
                z = self._pre(prep, d)
                out[s : s + step] = _torch_row_loss(z, act, self.Y, self.kind).numpy()
        return out


class _Stacked:
    """Row losses of any model with column ``j`` replaced: draws stacked into large calls."""

    def __init__(self, view, X: np.ndarray, Y: np.ndarray, kind: str) -> None:
        self.view, self.X, self.Y, self.kind = view, X, Y, kind

    def _loss(self, pred: np.ndarray) -> np.ndarray:
        return row_losses(pred, self.Y, self.kind).sum(-1)

    def base(self) -> np.ndarray:
        return self._loss(_pdata.predict(self.view, self.X)[0][None])[0]

    def draws_per_call(self, memory_budget: int) -> int:
        budget = min(int(memory_budget), _CACHE_BYTES)
        rows = _pdata.chunk_rows(self.view, self.X.shape[1], budget)
        return max(1, rows // self.X.shape[0])

    def losses(self, j: int, draws: np.ndarray, memory_budget: int) -> np.ndarray:
        B, m = draws.shape
        out = np.empty((B, m))
        step = self.draws_per_call(memory_budget)
        for s in range(0, B, step):
            c = min(step, B - s)
            rows = np.tile(self.X, (c, 1))
            rows[:, j] = draws[s : s + c].ravel()
            pred = _pdata.predict(self.view, rows)[0]
            out[s : s + c] = self._loss(pred.reshape(c, m, -1))
        return out


def _one_column(engine, cm, seed, n_draws, in_sample, X, base, memory_budget):
    """Mean loss increase per row, total loss per draw and, per row, the number of draws whose
    loss is at most the real column's, for one conditional model."""
    rng = np.random.default_rng(seed)
    draws = cm.sample(rng, n_draws) if in_sample else cm.sample(rng, n_draws, Z=X)
    losses = engine.losses(cm.index, draws, memory_budget)
    at_most = (losses <= base[None, :]).sum(axis=0)
    return (losses - base).mean(axis=0), losses.sum(axis=1), at_most


def holdout_losses(
    view,
    X,
    Y: np.ndarray,
    kind: str,
    conditional_models: Sequence[ConditionalModel],
    *,
    n_draws: int,
    seeds: Sequence,
    memory_budget: int = _pdata.DEFAULT_MEMORY_BUDGET,
    method: str = "auto",
    in_sample: bool = False,
    n_jobs: int | None = 1,
) -> Bunch:
    """Held-out row losses with the real inputs and with each modelled column drawn.

    Parameters
    ----------
    view : MLPBatch or ModelFunction
        From :func:`prediction_view`.
    X : ndarray of shape (m, p)
        Held-out rows (float64, finite).
    Y : ndarray of shape (m, n_outputs)
        Encoded targets (see :func:`~sensitivity.methods.perturbation.encode_target`).
    kind : {"mse", "binary", "categorical"}
        Row loss.
    conditional_models : sequence of ConditionalModel
        One per tested column (fitted on the training rows).
    n_draws : int
        Draws ``B`` per column.
    seeds : sequence
        One seed (or ``SeedSequence``) per conditional model: the draws of column ``j`` come
        from ``numpy.random.default_rng(seeds[k]).`` and depend on nothing else.
    memory_budget : int
        Bytes of working memory per batched call (changes speed, never the numbers).
    in_sample : bool
        Whether the conditional models were fitted on these rows ``X`` (then their in-sample
        draws are used: gaussian residuals permuted) rather than on other rows.
    n_jobs : int or None, default=1
        Worker threads over the variables (None: ``torch.get_num_threads()``), each with one
        torch thread; the stacked engine (a user's ``predict``) always runs in order. Never
        changes the result.
    method : {"auto", "piecewise", "rank_one", "stacked"}
        ``"rank_one"``: first-layer rank-one update (MLPBatch only); ``"piecewise"``: exact
        piecewise-linear evaluation of a one-hidden-layer ReLU or linear MLP (see
        ``_PiecewiseLinear``); ``"stacked"``: draws stacked into large ``predict`` calls;
        ``"auto"``: piecewise where it applies, else rank-one for an MLPBatch, else stacked.
        They agree to rounding (tested): 1e-10 relative in float64; a float32 model (a torch
        module in float32) is evaluated in float32 by ``"rank_one"``, within 1e-5 relative of
        a float64 evaluation (tested against a float64 per-draw loop).

    Returns
    -------
    Bunch with ``base`` ``(m,)`` (row losses with the real inputs), ``delta`` ``(k, m)``
    (row loss increases :math:`\\Delta_i = B^{-1}\\sum_b (\\ell_i^{(b)} - \\ell_i)`, exactly 0
    for a column the model ignores), ``draw_total`` ``(k, B)`` (sum over rows, per draw) and
    ``at_most`` ``(k, m)`` (per row, the draws whose loss is at most the real column's: the
    row's rank statistic, see :func:`sensitivity.inference.holdout_tests.row_rank_pvalues`).
    """
    if method == "auto":
        method = "rank_one" if isinstance(view, MLPBatch) else "stacked"
        if method == "rank_one" and _PiecewiseLinear.applies(view):
            method = "piecewise"
    if method == "piecewise":
        if not (isinstance(view, MLPBatch) and _PiecewiseLinear.applies(view)):
            raise TypeError("method='piecewise' needs a one-hidden-layer relu/identity MLPBatch.")
        engine = _PiecewiseLinear(view, X, Y, kind)
    elif method == "rank_one":
        if not isinstance(view, MLPBatch):
            raise TypeError("method='rank_one' needs an MLPBatch.")
        engine = _RankOne(view, X, Y, kind)
    elif method == "stacked":
        engine = _Stacked(view, X, Y, kind)
    else:
        raise ValueError(
            f"Unknown method {method!r}; choose 'auto', 'piecewise', 'rank_one' or 'stacked'."
        )
    base = engine.base()
    tasks = [
        (engine, cm, seeds[pos], n_draws, in_sample, X, base, memory_budget)
        for pos, cm in enumerate(conditional_models)
    ]
    # a user's predict function need not be thread-safe: the stacked engine runs in order
    out = run_tasks(_one_column, tasks, n_jobs if method != "stacked" else 1)
    delta = np.array([d for d, _, _ in out]).reshape(len(tasks), X.shape[0])
    draw_total = np.array([t for _, t, _ in out]).reshape(len(tasks), n_draws)
    at_most = np.array([c for _, _, c in out], dtype=np.float64).reshape(len(tasks), X.shape[0])
    if not (np.all(np.isfinite(base)) and np.all(np.isfinite(draw_total))):
        raise ValueError("The model's loss is not finite on the held-out rows (NaN or inf).")
    return Bunch(base=base, delta=delta, draw_total=draw_total, at_most=at_most)
