"""Objective and gradient of a batch of networks, for the batched trainer.

``_Problem`` evaluates scikit-learn's penalised objective and its gradient for ``B`` networks at
once by explicit back-propagation; ``_VarProProblem`` eliminates a linear output layer (variable
projection). The layout and its reasons are in the class docstrings.
"""

from __future__ import annotations

import itertools
import math

import torch

from .network import ACTIVATIONS


def _rows_first(t: torch.Tensor) -> torch.Tensor:
    """(B, n, w) -> (n, B, w), contiguous."""
    return t.transpose(0, 1).contiguous()


class _Problem:
    """Loss and gradient of ``B`` networks whose parameters are rows of a (B, P) tensor.

    Layout (the trainer's inner loop; chosen by measurement, see ``benchmarks/bench_speed.py``):
    every activation is stored **rows first**, ``(n, B, width)``, so that with inputs shared by
    all networks the first layer of all ``B`` networks is **one** matrix product
    ``[X, 1] @ [W_1 | ... | W_B]`` of shape ``(n, p+1) @ (p+1, B h)``, and its gradient one
    product ``[X, 1]^T @ delta`` with ``delta`` seen as ``(n, B h)``. Batched products of many
    tiny matrices (what a ``(B, n, h)`` layout needs) ran 4-8x slower per flop than these two
    large ones. Products with one output column (a single output, the usual case) are
    elementwise multiply-and-sum; other layers use batched products on strided views.

    A network may see the shared inputs with one column replaced (``col = (cols, values)``,
    ``values`` of shape (n, B): a permuted or resampled column of a per-variable test). The first
    layer is then the shared product plus a rank-one term per network,
    ``z_b += (values_b - x_{cols_b}) w_{b, cols_b}^T``, and the gradient of row ``cols_b`` of
    ``W_b`` gets the matching correction: no per-network copy of ``X`` is made.
    """

    def __init__(self, spec, sizes, X, Y, weights, dtype, device, col=None):
        self.spec = spec
        self.sizes = sizes
        ones = torch.ones(*X.shape[:-1], 1, dtype=X.dtype, device=X.device)
        X1 = torch.cat([X, ones], dim=-1)  # (n, p+1) or (B, n, p+1)
        self.shared = X.ndim == 2
        if self.shared:
            self.X1 = X1
            self.X1T = X1.T.contiguous()  # a transposed view would make matmul loop
        else:
            self.X1 = X1  # (B, n, p+1)
            self.X1T = X1.transpose(1, 2)
        self.col = None
        if col is not None:
            if not self.shared:
                raise ValueError("A replaced column needs inputs shared by all networks.")
            cols, values = col
            cols = torch.as_tensor(cols, dtype=torch.long, device=X.device)
            self.col = (cols, values - X[:, cols])  # (B,), (n, B): the change of the column
        # targets and row weights rows first: (n, B, k) / (n, 1, k) shared, (n, B)
        self.Y = _rows_first(Y) if Y.ndim == 3 else Y.unsqueeze(1)
        self.weights = None if weights is None else weights.T.contiguous()
        self._set_layout(sizes)
        self.n_layers = len(sizes) - 1
        self.act = ACTIVATIONS[spec.activation].f
        self.act_d1 = ACTIVATIONS[spec.activation].d1  # from the activation value alone
        self._work: dict = {}  # reusable (n, B, h) buffers of the first layer (no-grad path)

    def _buf(self, name: str, shape) -> torch.Tensor | None:
        """A reusable workspace of ``shape`` (None when autograd records: tests' ``loss``).

        Every pass needs the same few ``(n, B, h)`` arrays; allocating them afresh makes the
        allocator hand the memory back to the kernel and page-fault it in again at the next
        pass (measured: 180,000-240,000 minor faults and 40-60 % more CPU time per 50 passes
        of 256 networks), unless the process-wide :func:`keep_freed_blocks_in_heap` is used.
        Buffers are per problem (one block, one thread) and shrink with the working set.
        """
        if torch.is_grad_enabled():
            return None
        size = math.prod(shape)
        buf = self._work.get(name)
        if buf is None or buf.numel() < size:
            buf = torch.empty(size, dtype=self.X1.dtype, device=self.X1.device)
            self._work[name] = buf
        return buf[:size].view(shape)

    def _set_layout(self, sizes):
        """Where each layer's weights and biases sit in a parameter row: all weight matrices
        first (``n_coef`` entries, the penalized ones), then the biases."""
        self.shapes = []
        off = 0
        for fi, fo in itertools.pairwise(sizes):
            self.shapes.append(("W", off, fi, fo))
            off += fi * fo
        self.n_coef = off
        for fo in sizes[1:]:
            self.shapes.append(("b", off, fo))
            off += fo
        self.n_params = off

    def unpack(self, theta):
        B = theta.shape[0]
        Ws, bs = [], []
        for entry in self.shapes:
            if entry[0] == "W":
                _, off, fi, fo = entry
                Ws.append(theta[:, off : off + fi * fo].reshape(B, fi, fo))
            else:
                _, off, fo = entry
                bs.append(theta[:, off : off + fo])
        return Ws, bs

    def subset(self, idx):
        """The problem restricted to the networks ``idx`` (per-network data gathered)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        if not self.shared:
            new.X1 = self.X1[idx]
            new.X1T = new.X1.transpose(1, 2)
        if self.col is not None:
            new.col = (self.col[0][idx], self.col[1][:, idx].contiguous())
        if self.Y.shape[1] > 1:
            new.Y = self.Y[:, idx]
        if self.weights is not None:
            new.weights = self.weights[:, idx]
        new.penalty = self.penalty[idx]
        return new

    # -- products in the rows-first layout
    def _first_layer(self, W, b):
        """Pre-activation of the first layer, (n, B, h)."""
        B, _, h = W.shape
        W1 = torch.cat([W, b.unsqueeze(1)], dim=1)  # (B, p+1, h)
        if not self.shared:
            return _rows_first(torch.bmm(self.X1, W1))
        n = self.X1.shape[0]
        W1c = W1.transpose(0, 1).reshape(-1, B * h)
        out = self._buf("z", (n, B * h))
        z = (torch.mm(self.X1, W1c) if out is None else torch.mm(self.X1, W1c, out=out)).view(
            n, B, h
        )
        if self.col is not None:
            cols, dx = self.col
            w_col = W[torch.arange(B, device=W.device), cols]  # (B, h)
            z.addcmul_(dx.unsqueeze(2), w_col.unsqueeze(0))
        return z

    def _first_layer_grad(self, delta):
        """Gradient (B, p+1, h) of ``[W; b]`` of the first layer for ``delta`` (n, B, h)."""
        n, B, h = delta.shape
        if not self.shared:
            return torch.bmm(self.X1T, delta.transpose(0, 1))
        g = torch.mm(self.X1T, delta.reshape(n, B * h)).view(-1, B, h).transpose(0, 1)
        if self.col is not None:
            cols, dx = self.col
            g = g.contiguous()
            g[torch.arange(B, device=g.device), cols] += self._mul(dx.unsqueeze(2), delta).sum(
                dim=0
            )
        return g

    def _mul(self, a, b, name="tmp"):
        """``a * b`` (broadcast) into the workspace ``name`` when there is one."""
        shape = torch.broadcast_shapes(a.shape, b.shape)
        out = self._buf(name, shape)
        return a * b if out is None else torch.mul(a, b, out=out)

    def _act0(self, z):
        """The hidden activation of the first layer, in place on its workspace when possible."""
        if torch.is_grad_enabled():
            return self.act(z)
        name = self.spec.activation
        if name == "logistic":
            return z.sigmoid_()
        if name == "tanh":
            return z.tanh_()
        if name == "relu":
            return z.relu_()
        return z

    def _times_d1(self, delta, a):
        """``delta * f'(.)`` from the activation value ``a``, in place (workspace ``d1``)."""
        out = self._buf("d1", a.shape)
        name = self.spec.activation
        if out is None or name not in ("logistic", "tanh"):
            return delta.mul_(self.act_d1(None, a))
        if name == "logistic":
            d1 = torch.addcmul(a, a, a, value=-1.0, out=out)  # a (1 - a)
        else:
            d1 = torch.mul(a, a, out=out).neg_().add_(1.0)  # 1 - a^2
        return delta.mul_(d1)

    def _layer(self, a, W):
        """``a @ W_b`` per network: (n, B, m) x (B, m, o) -> (n, B, o)."""
        if W.shape[2] == 1:
            return self._mul(a, W[:, :, 0]).sum(dim=2, keepdim=True)
        return torch.bmm(a.transpose(0, 1), W).transpose(0, 1)

    def _layer_grad(self, a, delta):
        """``a_b^T delta_b`` per network: (n, B, m), (n, B, o) -> (B, m, o)."""
        if delta.shape[2] == 1:
            return self._mul(a, delta).sum(dim=0).unsqueeze(2)
        return torch.bmm(a.permute(1, 2, 0), delta.transpose(0, 1))

    def _back(self, delta, W, name=None):
        """``delta_b @ W_b^T`` per network: (n, B, o), (B, m, o) -> (n, B, m) (into the
        workspace ``name`` when given: the delta of the first layer)."""
        if W.shape[2] == 1:
            return delta * W[:, :, 0] if name is None else self._mul(delta, W[:, :, 0], name)
        return torch.bmm(delta.transpose(0, 1), W.transpose(1, 2)).transpose(0, 1)

    def _forward(self, Ws, bs, n_layers):
        """Activations of layers ``0..n_layers-1`` (the last one's pre-activation if it is
        the output layer): ``[a_1, ..., a_L]``, each (n, B, width)."""
        outs = []
        for i in range(n_layers):
            if i == 0:
                z = self._first_layer(Ws[0], bs[0])
                outs.append(self._act0(z) if i < self.n_hidden else z)
                continue
            z = self._layer(outs[-1], Ws[i]).add_(bs[i])
            outs.append(self.act(z) if i < self.n_hidden else z)
        return outs

    @property
    def n_hidden(self):
        return self.n_layers - 1

    def _data_term(self, per_row):
        """Mean (or weighted sum) over rows of ``per_row`` (n, B): (B,)."""
        if self.weights is None:
            return per_row.sum(dim=0, dtype=torch.float64).div_(per_row.shape[0])
        return (per_row * self.weights).sum(dim=0, dtype=torch.float64)

    def _per_row_loss(self, z):
        Y = self.Y
        if self.spec.loss == "squared_error":
            return 0.5 * ((z - Y) ** 2).mean(dim=2)
        if self.spec.out_activation == "softmax":
            return -(Y * torch.log_softmax(z, dim=2)).sum(dim=2)
        # binary log-loss from logits: softplus(z) - y z
        return (torch.nn.functional.softplus(z) - Y * z).sum(dim=2)

    def loss(self, theta):
        """Per-network objective, shape (B,) (plain operations: autograd checks the gradient)."""
        Ws, bs = self.unpack(theta)
        z = self._forward(Ws, bs, self.n_layers)[-1]
        sq = theta[:, : self.n_coef].pow(2).sum(dim=1)
        return self._data_term(self._per_row_loss(z)) + self.penalty * sq

    def _output_delta(self, delta):
        """``delta`` (dloss/dz per row, unweighted) scaled by the row weights (1/n or c_i)."""
        if self.weights is None:
            return delta.mul_(1.0 / delta.shape[0])
        return delta.mul_(self.weights.unsqueeze(2))

    def loss_grad(self, theta):
        """Per-network objective (B,) and its gradient (B, P), by explicit back-propagation."""
        Ws, bs = self.unpack(theta)
        outs = self._forward(Ws, bs, self.n_layers)
        z, Y = outs[-1], self.Y
        k = z.shape[2]
        if self.spec.loss == "squared_error":
            r = z - Y
            per_row = (0.5 / k) * (r * r).sum(dim=2)
            delta = r.mul_(1.0 / k)
        elif self.spec.out_activation == "softmax":
            logp = torch.log_softmax(z, dim=2)
            per_row = -(Y * logp).sum(dim=2)
            delta = logp.exp_().sub_(Y)
        else:
            per_row = (torch.nn.functional.softplus(z) - Y * z).sum(dim=2)
            delta = torch.sigmoid(z).sub_(Y)
        coef = theta[:, : self.n_coef]
        f = self._data_term(per_row) + self.penalty * (coef * coef).sum(dim=1)
        return f, self._backprop(Ws, outs[:-1], self._output_delta(delta), self.n_layers)

    def _backprop(self, Ws, acts, delta, n_layers):
        """Gradient (B, P) of layers ``0..n_layers-1`` given ``delta`` = dL/dz of the last one
        and the hidden activations ``acts`` (penalty ``self.penalty * ||W||^2`` included)."""
        B = Ws[0].shape[0]
        gW: list = [None] * n_layers
        gb: list = [None] * n_layers
        pen2 = (2.0 * self.penalty).reshape(B, 1, 1)
        for i in range(n_layers - 1, -1, -1):
            if i == 0:
                g0 = self._first_layer_grad(delta)  # (B, p+1, h): weights and bias rows
                gW[0], gb[0] = g0[:, :-1], g0[:, -1]
            else:
                gW[i] = self._layer_grad(acts[i - 1], delta)
                gb[i] = delta.sum(dim=0)
            gW[i] = torch.addcmul(gW[i], pen2, Ws[i])
            if i > 1:
                delta = self._back(delta, Ws[i]).mul_(self.act_d1(None, acts[i - 1]))
            elif i == 1:
                delta = self._times_d1(self._back(delta, Ws[1], "delta"), acts[0])
        return torch.cat([w.reshape(B, -1) for w in gW] + gb, dim=1)


class _VarProProblem(_Problem):
    r"""Squared error with a linear output layer: the output weights are eliminated.

    For fixed hidden-layer parameters the objective is a ridge regression in the output
    weights ``V`` (intercept unpenalised), solved exactly from the normal equations
    ``(H^T C H + 2 k \lambda D) V = H^T C Y`` (``C`` the normalised row weights, ``D`` the
    identity without the intercept entry). The optimizer works on the reduced objective
    ``F(theta) = min_V L(theta, V)``, whose gradient is ``dL/dtheta`` at the optimal ``V``
    (variable projection; Golub & Pereyra 1973, 2003; Sjoeberg & Viberg 1997). Same objective,
    far fewer iterations.
    """

    def __init__(self, spec, sizes, X, Y, weights, dtype, device, col=None):
        super().__init__(spec, sizes, X, Y, weights, dtype, device, col=col)
        self.full_sizes = sizes
        hidden = sizes[:-1]  # the output layer is solved exactly, not a parameter
        self._set_layout(hidden)
        self.n_hidden_layers = len(hidden) - 1

    @property
    def n_hidden(self):
        return self.n_hidden_layers

    def _solve_output(self, H):
        """Ridge output weights ``V`` (B, m, k) and intercepts ``c`` (B, k) for hidden
        activations ``H`` (n, B, m): the normal equations built blockwise (no ``[H, 1]`` copy)."""
        n, B, m = H.shape
        Y = self.Y  # (n, B, k) or (n, 1, k)
        k = Y.shape[-1]
        w = self.weights  # (n, B) or None
        Hw = H if w is None else self._mul(H, w.unsqueeze(2), "hw")  # weighted rows
        scale = 1.0 / n if w is None else 1.0
        G = torch.empty(B, m + 1, m + 1, dtype=H.dtype, device=H.device)
        G[:, :m, :m] = torch.bmm(Hw.permute(1, 2, 0), H.transpose(0, 1))
        s = Hw.sum(dim=0)
        G[:, :m, m] = s
        G[:, m, :m] = s
        G[:, m, m] = float(n) if w is None else w.sum(dim=0)
        R = torch.empty(B, m + 1, k, dtype=H.dtype, device=H.device)
        R[:, :m] = self._layer_grad(Hw, Y.expand(n, B, k))
        R[:, m] = (Y.sum(dim=0) if w is None else (w.unsqueeze(2) * Y).sum(dim=0)).expand(B, k)
        diag = G.diagonal(dim1=1, dim2=2)
        # a tiny jitter keeps the unpenalised intercept / alpha = 0 case solvable
        jitter = 1e-10 * diag.mean(dim=1, keepdim=True) + 1e-30
        diag.add_(jitter)
        diag[:, :m].add_((2.0 * k / scale) * self.penalty.unsqueeze(1))
        L, info = torch.linalg.cholesky_ex(G)
        if bool((info != 0).any()):
            V = torch.linalg.lstsq(G, R).solution
        else:
            V = torch.cholesky_solve(R, L)
        return V[:, :m], V[:, m]

    def output_weights(self, theta):
        Ws, bs = self.unpack(theta)
        acts = self._forward(Ws, bs, self.n_hidden_layers)
        return self._solve_output(acts[-1])

    def loss_grad(self, theta):
        Ws, bs = self.unpack(theta)
        acts = self._forward(Ws, bs, self.n_hidden_layers)
        H = acts[-1]
        V, c = self._solve_output(H)
        k = V.shape[2]
        r = self._layer(H, V).add_(c).sub_(self.Y)  # (n, B, k)
        per_row = (0.5 / k) * (r * r).sum(dim=2)
        coef = theta[:, : self.n_coef]
        sq = (coef * coef).sum(dim=1) + (V * V).sum(dim=(1, 2))
        f = self._data_term(per_row) + self.penalty * sq
        delta = self._output_delta(r.mul_(1.0 / k))
        if self.n_hidden_layers == 1:  # H is the first layer's: workspaces
            delta = self._times_d1(self._back(delta, V, "delta"), H)
        else:
            delta = self._back(delta, V).mul_(self.act_d1(None, H))
        return f, self._backprop(Ws, acts, delta, self.n_hidden_layers)
