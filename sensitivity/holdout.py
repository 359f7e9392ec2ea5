r"""Held-out conditional tests of a fitted model, without refitting.

For each input :math:`x_j`, on rows the model was not trained on, the real column is replaced
by draws :math:`\tilde x_j^{(b)} \sim \hat P(x_j \mid x_{-j})`, :math:`b = 1..B`, from a
conditional model fitted on the training rows (:mod:`sensitivity.conditional`), and the model's
loss is compared with and without the real column. The model itself is never refitted, so the
test speaks about exactly the network (or any predictor) the user trained.

With :math:`\ell_i = L(f(x_i), y_i)` the loss of held-out row :math:`i` (squared error summed
over outputs for regressors, log-loss for classifiers) and
:math:`\ell_i^{(b)} = L(f(\tilde x_{ij}^{(b)}, x_{i,-j}), y_i)`:

* **Holdout randomization test** (Tansey et al. 2022): :math:`T = \sum_i \ell_i`,
  :math:`T_b = \sum_i \ell_i^{(b)}`. Under
  :math:`H_{0j}: y \perp x_j \mid x_{-j}` (and a correct conditional model) the real column is
  exchangeable with the draws, hence :math:`T` with the :math:`T_b`, and

  .. math:: p_j = \frac{1 + \#\{b : T_b \le T\}}{1 + B}.

  A variable the model uses to predict :math:`y` makes the real column's loss smaller than
  the draws', so small :math:`p` is evidence against :math:`H_{0j}`.
* **Conditional predictive impact** (Watson & Wright 2021): the per-row loss differences
  :math:`\Delta_i = \bar\ell_i - \ell_i`, :math:`\bar\ell_i = B^{-1}\sum_b \ell_i^{(b)}`, are
  i.i.d. across held-out rows given the fitted model, with mean
  :math:`\mathrm{CPI}_j = \bar\Delta` (the reported importance: the mean loss increase). A
  one-sided :math:`t`-test of :math:`E\Delta \le 0` gives
  :math:`p = 1 - F_{t, m-1}(\bar\Delta / (s_\Delta/\sqrt m))`, and
  :math:`\bar\Delta \pm t_{m-1, 1-\alpha/2}\, s_\Delta/\sqrt m` is the confidence interval.

The randomization p-value (``test="hrt"``) is the default: it is exact in finite samples when
the conditional model is right, and needs no normal approximation; the :math:`t`-test
(``test="cpi"``) gives the interval and is valid for large held-out sets. Both are reported.

References
----------
Tansey, W., Veitch, V., Zhang, H., Rabadan, R. & Blei, D. M. (2022). The holdout randomization
test for feature selection in black box models. *Journal of Computational and Graphical
Statistics* 31(1), 151-162.

Watson, D. S. & Wright, M. N. (2021). Testing conditional independence in supervised learning
algorithms. *Machine Learning* 110, 2107-2129.

Candès, E., Fan, Y., Janson, L. & Lv, J. (2018). Panning for gold: 'model-X' knockoffs for high
dimensional controlled variable selection. *Journal of the Royal Statistical Society B* 80(3),
551-577.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from dataclasses import replace as _replace
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy import stats
from sklearn.base import BaseEstimator, MetaEstimatorMixin, _fit_context, clone
from sklearn.base import is_classifier as _sk_is_classifier
from sklearn.feature_selection import SelectorMixin
from sklearn.model_selection import KFold, StratifiedKFold, check_cv
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import adapters
from . import inference as _inference
from .conditional import ConditionalModel, fit_conditional_models
from .inference.pvalues import permutations_needed
from .methods import _data as _pdata
from .methods.perturbation import _encode_target, _resolve_loss, _row_losses
from .network import ACTIVATIONS, MLPBatch
from .result import SensitivityResult, importance_frame

__all__ = [
    "TESTS",
    "HoldoutConditionalTest",
    "holdout_losses",
    "holdout_pvalues",
    "prediction_view",
]

CONDITIONAL_ROWS = ("train", "test")
"""Rows the conditional models are fitted on: the held-out rows or the training rows."""

_CACHE_BYTES = 4 * 2**20
"""Working set of one batched call, at most: calls that stay in cache run 2-3 times faster
than memory-bound ones (measured on the rank-one path, 1,000 rows x 100 units)."""

TESTS = ("hrt", "cpi")
"""``"hrt"``: holdout randomization test p-value; ``"cpi"``: one-sided t-test of the CPI."""

HYPOTHESIS = (
    "H0_j: y independent of x_j given the other inputs (held-out loss of the fitted model with "
    "x_j equals that with x_j drawn from its conditional distribution)"
)


# ---------------------------------------------------------------------- model view
@dataclass(frozen=True)
class _FunctionModel:
    """A plain ``predict(X) -> (n, n_outputs)`` callable seen as a ModelFunction."""

    predict: Callable[[np.ndarray], np.ndarray]
    output_names: tuple[str, ...]
    feature_names: tuple[str, ...] | None
    is_classifier: bool
    model: object


def _torch_dtype(model) -> torch.dtype:
    if isinstance(model, torch.nn.Module):
        params = list(model.parameters())
        if params and params[0].dtype == torch.float32:
            return torch.float32
    return torch.float64


def _n_inputs(model) -> int | None:
    """Number of inputs the model takes, where it says so."""
    if isinstance(model, MLPBatch):
        return model.n_features
    if isinstance(model, torch.nn.Module):
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                return int(m.in_features)
        return None
    n = getattr(model, "n_features_in_", None)
    return None if n is None else int(n)


def prediction_view(model, *, feature_names=None, loss: str = "auto", n_features=None):
    """What the held-out test evaluates: an MLPBatch (fast path) or a prediction function.

    ``model`` is a fitted scikit-learn estimator or Pipeline, a torch module, an MLPBatch or a
    plain callable ``predict(X) -> predictions``. MLPs (anything
    :func:`~sensitivity.adapters.to_mlp_batch` accepts) become an MLPBatch in the model's own
    floating point type (float32 for a float32 torch module); anything else a prediction
    function. A callable or a general torch module is a regressor unless ``loss="log_loss"``,
    which marks its outputs as class probabilities (one output: the positive class).
    """
    n_in = _n_inputs(model)
    if n_features is not None and n_in is not None and n_in != n_features:
        raise ValueError(
            f"X has {n_features} columns but the model takes {n_in} inputs; pass the columns "
            "the model was trained on, in the same order."
        )
    view = None
    if adapters.is_mlp_model(model):
        try:
            view = adapters.to_mlp_batch(
                model, feature_names=feature_names, dtype=_torch_dtype(model)
            )
        except TypeError:  # e.g. an nn.Sequential with modules an MLPBatch does not model
            view = None
    if view is not None:
        return view
    if isinstance(model, torch.nn.Module) or (
        callable(model) and not hasattr(model, "predict") and not isinstance(model, type)
    ):
        clf = loss == "log_loss"
        if isinstance(model, torch.nn.Module):
            predict = adapters.as_model_function(model, n_outputs=1).predict
        else:

            def predict(X, _f=model):
                out = np.asarray(_f(X), dtype=np.float64)
                return out.reshape(out.shape[0], -1)

        k = _probe(predict, n_features or n_in or 1)
        names = ("y",) if k == 1 else tuple(f"y{i}" for i in range(k))
        if clf:
            names = ("1",) if k == 1 else tuple(str(i) for i in range(k))
        return _FunctionModel(predict, names, feature_names, clf, model)
    view = adapters.as_model_function(model)
    if feature_names is not None:
        view = _replace(view, feature_names=tuple(feature_names))
    return view


def _probe(predict, p: int) -> int:
    try:
        out = np.asarray(predict(np.zeros((2, p))))
    except Exception as err:
        raise ValueError(
            f"The model raised {type(err).__name__} when predicting 2 rows of {p} columns: "
            f"{err}. Does it take {p} inputs and return predictions (n_rows, n_outputs)?"
        ) from err
    return 1 if out.ndim == 1 else int(np.prod(out.shape[1:]))


def _check_predicts(view, X: np.ndarray) -> None:
    """One small call on real rows: a clear message if the model cannot predict them."""
    rows = X[: min(2, X.shape[0])]
    try:
        out = _pdata.predict(view, rows)
    except Exception as err:
        raise ValueError(
            f"The model raised {type(err).__name__} when predicting {rows.shape[0]} rows of X "
            f"with {X.shape[1]} columns: {err}"
        ) from err
    if out.shape[-1] != len(view.output_names):
        raise ValueError(
            f"The model returned {out.shape[-1]} outputs; expected {len(view.output_names)}."
        )


# ---------------------------------------------------------------------- losses with draws
def _torch_row_loss(z: torch.Tensor, act: str, Y: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-row loss (summed over outputs) from the output layer's pre-activation ``z``.

    Log-losses of logistic and softmax outputs are computed in log space (``logsigmoid``,
    ``log_softmax``); otherwise as :func:`~sensitivity.methods.perturbation._row_losses`.
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
        self.batch = batch.with_folded_input_transform()
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
        return _row_losses(pred, self.Y, self.kind).sum(-1)

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
) -> Bunch:
    """Held-out row losses with the real inputs and with each modelled column drawn.

    Parameters
    ----------
    view : MLPBatch or ModelFunction
        From :func:`prediction_view`.
    X : ndarray of shape (m, p)
        Held-out rows (float64, finite).
    Y : ndarray of shape (m, n_outputs)
        Encoded targets (see ``perturbation._encode_target``).
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
    method : {"auto", "piecewise", "rank_one", "stacked"}
        ``"rank_one"``: first-layer rank-one update (MLPBatch only); ``"piecewise"``: exact
        piecewise-linear evaluation of a one-hidden-layer ReLU or linear MLP (see
        ``_PiecewiseLinear``); ``"stacked"``: draws stacked into large ``predict`` calls;
        ``"auto"``: piecewise where it applies, else rank-one for an MLPBatch, else stacked.
        They agree to rounding (tested).

    Returns
    -------
    Bunch with ``base`` ``(m,)`` (row losses with the real inputs), ``delta`` ``(k, m)``
    (row loss increases :math:`\\Delta_i = B^{-1}\\sum_b (\\ell_i^{(b)} - \\ell_i)`, exactly 0
    for a column the model ignores), ``draw_total`` ``(k, B)`` (sum over rows, per draw).
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
    k = len(conditional_models)
    delta = np.empty((k, X.shape[0]))
    draw_total = np.empty((k, n_draws))
    for pos, cm in enumerate(conditional_models):
        rng = np.random.default_rng(seeds[pos])
        draws = cm.sample(rng, n_draws) if in_sample else cm.sample(rng, n_draws, Z=X)
        losses = engine.losses(cm.index, draws, memory_budget)
        delta[pos] = (losses - base).mean(axis=0)
        draw_total[pos] = losses.sum(axis=1)
    if not (np.all(np.isfinite(base)) and np.all(np.isfinite(draw_total))):
        raise ValueError("The model's loss is not finite on the held-out rows (NaN or inf).")
    return Bunch(base=base, delta=delta, draw_total=draw_total)


def holdout_pvalues(base: np.ndarray, delta: np.ndarray, draw_total: np.ndarray, alpha: float):
    """Both tests from the losses of :func:`holdout_losses` (pooled over folds).

    Returns a Bunch with ``importance`` (mean loss increase, CPI), ``std_error``, ``p_hrt``
    (holdout randomization test), ``p_cpi`` (one-sided t-test), ``ci_low``/``ci_high``
    (two-sided ``1 - alpha`` t-interval), each ``(k,)``.
    """
    m = base.shape[0]
    imp = delta.mean(axis=1)
    se = delta.std(axis=1, ddof=1) / np.sqrt(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, imp / np.where(se > 0, se, 1.0), np.where(imp > 0, np.inf, -np.inf))
    p_cpi = np.where((se == 0) & (imp == 0), 1.0, stats.t.sf(t, df=m - 1))
    half = stats.t.ppf(1 - alpha / 2, df=m - 1) * se
    # HRT: a draw is "at least as extreme" when its total loss is at most the observed one
    p_hrt = _inference.permutation_pvalues(
        np.full(draw_total.shape[0], -base.sum()), -draw_total.T, signed=False
    )
    return Bunch(
        importance=imp,
        std_error=se,
        t=t,
        p_hrt=np.asarray(p_hrt, dtype=np.float64),
        p_cpi=p_cpi,
        ci_low=imp - half,
        ci_high=imp + half,
    )


def _min_rows(alpha: float, n_tests: int, p_adjust) -> int:
    """Fewest held-out rows whose sign-test resolution ``2^-m`` reaches ``alpha`` (adjusted)."""
    m = 1
    while _inference.smallest_attainable_p(2**m - 1, n_tests, p_adjust) > alpha * (1 + 1e-9):
        m += 1
    return m


# ---------------------------------------------------------------------- estimator
class HoldoutConditionalTest(MetaEstimatorMixin, SelectorMixin, BaseEstimator):
    r"""Held-out conditional test of each input of a fitted model (no refitting).

    On held-out rows, each input :math:`x_j` is replaced by ``n_draws`` draws from a model of
    :math:`x_j` given the other inputs (fitted on the training rows;
    :mod:`sensitivity.conditional`) and the model's loss is compared with the loss on the
    real rows. Reports, per variable, the conditional predictive impact (mean loss increase;
    Watson & Wright 2021) with a :math:`t`-interval, the holdout randomization test p-value
    (Tansey et al. 2022) and the one-sided :math:`t`-test p-value; ``test`` chooses which one
    goes into ``p_value`` (and so into ``significant`` and ``transform``). Tests
    :math:`H_{0j}: y \perp x_j \mid x_{-j}`, variable by variable. See
    :mod:`sensitivity.holdout` for the formulas.

    Held-out rows come from either

    * ``fit(X, y, X_test=..., y_test=...)``: the model (fitted on ``X, y`` unless ``prefit``)
      is evaluated on the test set; the conditional models are fitted on ``X`` (default) or
      on ``X_test`` (``conditional_rows``); or
    * cross-fitting (no ``X_test``, ``prefit=False``): ``cv`` folds; a clone of the estimator
      is fitted on the other folds and evaluated on each held-out fold (the conditional models
      on the other folds, or on the held-out fold); losses are pooled over all rows.

    Parameters
    ----------
    estimator : object
        A scikit-learn regressor or classifier (classifiers need ``predict_proba``) or Pipeline;
        with ``prefit=True`` also a fitted torch ``nn.Module`` (``nn.Sequential`` MLPs are
        evaluated exactly and fast), an ``MLPBatch`` or a plain function
        ``predict(X) -> (n, n_outputs)``.
    prefit : bool, default=False
        Use ``estimator`` as already fitted (then ``X_test, y_test`` are required: rows the
        model was not trained on).
    n_draws : int, default=999
        Conditional draws per variable.
    test : {"hrt", "cpi"}, default="hrt"
        Which p-value is ``p_value``: the holdout randomization test (finite-sample, needs
        ``n_draws >= (1 - alpha) / alpha``) or the one-sided t-test of the mean loss increase.
    cv : int or cross-validation splitter, default=5
        Folds for cross-fitting (a stratified, shuffled split for classifiers; each row
        must be held out at most once).
    conditional_rows : {"train", "test"}, default="train"
        Rows the conditional models are fitted on. ``"train"``: the training rows (the rows the
        model was fitted on), with draws on the held-out rows (gaussian residuals resampled);
        ``"test"``: the held-out rows themselves (their inputs only, never ``y``), with
        in-sample draws (gaussian residuals permuted, so the real column is one of the equally
        likely draws). Measured (``benchmarks/bench_holdout.py``, 'corr' design): the level of
        both is 3-6 % at 0.05 for noise inputs (slightly conservative); ``"train"`` gives the
        better intervals (coverage 0.90-0.96 against 0.76-0.95: in-sample draws stay too
        close to the real column, which biases a large CPI down). Models fitted on the training
        rows reproduce that sample's chance relation between :math:`x_j` and the others, which
        the network has learned too, so for a noise input the draws lower the loss slightly
        (mean -0.004 where exact draws give 0): conservative, not anti-conservative.
    conditional : "auto", str, list or dict, default="auto"
        ``kinds`` of :func:`sensitivity.conditional.fit_conditional_models` (gaussian
        regression with resampled residuals; logistic for binary inputs; ...).
    sampler : callable or dict, optional
        User conditional samplers ``sampler(X, j, rng, n_draws) -> (n_draws, n_rows)``.
    loss : {"auto", "mse", "log_loss"}, default="auto"
        Row loss: squared error (regressors) or log-loss (classifiers). ``"log_loss"`` also
        marks a plain function or general torch module as returning class probabilities.
    alpha : float, default=0.05
        Level of the tests; the intervals have level ``1 - alpha``.
    p_adjust : str or None, default="holm"
        ``statsmodels`` ``multipletests`` method over the variables.
    max_features : int or None
        ``transform`` keeps at most this many significant variables.
    random_state : int, RandomState or None
        Seeds the folds and the draws (one independent stream per variable and fold).
    memory_budget_mb : float, default=128
        Working memory of one batched evaluation (speed only; never changes the result).

    Attributes
    ----------
    importances_ : pandas.DataFrame
        Ranked table: ``importance`` (mean held-out loss increase), ``p_value`` (per
        ``test``), ``p_adjusted``, ``significant``, ``ci_low``/``ci_high`` (t-interval),
        and ``p_hrt``, ``p_cpi``, ``std_error``, ``r2_conditional``.
    estimator_ : object
        The fitted model (with cross-fitting: a clone refitted on all rows, for ``predict``;
        the test is about the fold models ``estimators_``).
    conditional_models_ : list of ConditionalModel
        Fitted on the rows ``conditional_rows`` names (with cross-fitting: on all rows, for
        information; the test used one set per fold).
    loss_ : float
        Mean held-out loss with the real inputs.
    null_distribution_ : ndarray of shape (n_features, n_draws)
        Mean held-out loss per draw (the HRT's :math:`T_b / m`).
    loss_differences_ : ndarray of shape (n_features, n_heldout)
        Per-row :math:`\Delta_i` (the CPI's data).
    n_heldout_ : int

    References
    ----------
    Tansey et al. (2022), J. Comput. Graph. Stat. 31(1), 151-162; Watson & Wright (2021),
    Machine Learning 110, 2107-2129; Candès et al. (2018), JRSS-B 80(3), 551-577.
    """

    _method_name = "Holdout conditional test"
    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["predict"]), torch.nn.Module, MLPBatch, callable, None],
        "prefit": ["boolean"],
        "n_draws": [Interval(Integral, 1, None, closed="left")],
        "test": [StrOptions(set(TESTS))],
        "cv": ["cv_object"],
        "conditional": [str, list, dict],
        "conditional_rows": [StrOptions(set(CONDITIONAL_ROWS))],
        "sampler": [callable, dict, None],
        "loss": [StrOptions({"auto", "mse", "log_loss"})],
        "alpha": [Interval(Real, 0, 1, closed="neither")],
        "p_adjust": [StrOptions(set(_inference.P_ADJUST_METHODS)), None],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "memory_budget_mb": [Interval(Real, 0, None, closed="neither")],
    }
    _method = "auto"  # evaluation engine of holdout_losses (benchmarks compare them)

    def __init__(
        self,
        estimator=None,
        *,
        prefit: bool = False,
        n_draws: int = 999,
        test: str = "hrt",
        cv=5,
        conditional="auto",
        conditional_rows: str = "train",
        sampler=None,
        loss: str = "auto",
        alpha: float = 0.05,
        p_adjust: str | None = "holm",
        max_features: int | None = None,
        random_state=None,
        memory_budget_mb: float = 128,
    ) -> None:
        self.estimator = estimator
        self.prefit = prefit
        self.n_draws = n_draws
        self.test = test
        self.cv = cv
        self.conditional = conditional
        self.conditional_rows = conditional_rows
        self.sampler = sampler
        self.loss = loss
        self.alpha = alpha
        self.p_adjust = p_adjust
        self.max_features = max_features
        self.random_state = random_state
        self.memory_budget_mb = memory_budget_mb

    # ------------------------------------------------------------------ checks
    def _check_params(self) -> None:
        if self.estimator is None:
            raise ValueError("HoldoutConditionalTest needs an estimator (the model to test).")

    def _check_resolution(self, n_rows: int, n_tests: int) -> None:
        a, adj = self.alpha, self.p_adjust
        where = f" after {adj} adjustment over {n_tests} variables" if adj else ""
        if self.test == "hrt":
            smallest = _inference.smallest_attainable_p(self.n_draws, n_tests, adj)
            if smallest > a * (1 + 1e-9):
                raise ValueError(
                    f"With n_draws={self.n_draws} the smallest attainable p-value{where} is "
                    f"{smallest:.4g} > alpha={a}: no variable could be significant. Use at "
                    f"least n_draws={permutations_needed(n_tests, a, adj)}."
                )
        need = _min_rows(a, n_tests, adj)
        if n_rows < need:
            raise ValueError(
                f"Only {n_rows} held-out rows: even a loss increase on every row gives a "
                f"sign-test p-value of 2^-{n_rows} = {2.0**-n_rows:.3g}, above alpha={a}{where}. "
                f"Use at least {need} held-out rows."
            )

    def _check_X(self, X, label: str, names=None):
        try:
            return _pdata.check_data(X, feature_names=names, allow_constant=True)
        except ValueError as err:
            raise ValueError(f"{label}: {err}") from None

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, X_test=None, y_test=None, **fit_params):
        """Fit (unless ``prefit``) and test every input on held-out rows.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training rows (the conditional models are fitted on them), numeric and finite.
        y : array-like, optional
            Training target; needed unless ``prefit=True``.
        X_test, y_test : array-like, optional
            Held-out rows the model was not trained on. Without them: cross-fitting.
        **fit_params : dict
            Passed to the estimator's ``fit``.

        Returns
        -------
        self
        """
        self._check_params()
        # scikit-learn's checks and attributes first (n_features_in_, feature_names_in_,
        # sparse / complex / empty input), then the package's messages naming the column
        validate_data(
            self,
            X,
            reset=True,
            dtype=np.float64,
            ensure_all_finite=False,
            ensure_min_features=2,
            ensure_min_samples=2,
        )
        Xa, names = self._check_X(X, "X")
        self._feature_names = names
        rs = check_random_state(self.random_state)
        budget = int(self.memory_budget_mb * 2**20)
        if X_test is not None:
            if y_test is None:
                raise ValueError("X_test needs y_test (the held-out targets).")
            Xt, test_names = self._check_X(X_test, "X_test", names)
            if isinstance(X_test, pd.DataFrame) and isinstance(X, pd.DataFrame):
                if list(test_names) != list(names):
                    raise ValueError(
                        f"X_test has columns {list(test_names)} but X has {list(names)}; pass "
                        "the same columns in the same order."
                    )
            if Xt.shape[1] != Xa.shape[1]:
                raise ValueError(f"X_test has {Xt.shape[1]} columns but X has {Xa.shape[1]}.")
            self._check_resolution(Xt.shape[0], Xa.shape[1])
            if self.prefit:
                if _is_sklearn(self.estimator):
                    adapters.check_model_fitted(self.estimator)
                self.estimator_ = self.estimator
            else:
                if y is None:
                    raise ValueError(
                        "HoldoutConditionalTest.fit needs y to fit the model; pass y, or "
                        "prefit=True with an already fitted model."
                    )
                if not _is_sklearn(self.estimator):
                    raise TypeError(_not_refittable(self.estimator))
                self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
            seeds = np.random.SeedSequence(rs.randint(2**31)).spawn(Xa.shape[1])
            models = self._conditional(Xt if self.conditional_rows == "test" else Xa, names)
            view, kind, Y = self._evaluate_setup(self.estimator_, Xt, y_test, names)
            res = holdout_losses(
                view,
                Xt,
                Y,
                kind,
                models,
                n_draws=self.n_draws,
                seeds=seeds,
                memory_budget=budget,
                method=self._method,
                in_sample=self.conditional_rows == "test",
            )
            base, delta, draw_total = res.base, res.delta, res.draw_total
            self.conditional_models_ = models
            self.mode_ = "test set"
        else:
            if self.prefit:
                raise ValueError(
                    "prefit=True needs held-out rows the model was not trained on: pass "
                    "X_test and y_test to fit (or prefit=False and an unfitted scikit-learn "
                    "estimator for cross-fitting)."
                )
            if y is None:
                raise ValueError(
                    "HoldoutConditionalTest requires y to be passed, but the target y is None "
                    "(cross-fitting refits the estimator); pass y, or prefit=True with a "
                    "fitted model and X_test, y_test."
                )
            if not _is_sklearn(self.estimator):
                raise TypeError(_not_refittable(self.estimator))
            base, delta, draw_total = self._cross_fit(Xa, X, y, names, rs, budget, fit_params)
            self.conditional_models_ = fit_conditional_models(
                Xa, kinds=self.conditional, sampler=self.sampler, feature_names=names
            )
            self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
            self.mode_ = "cross-fitting"
        self._finish(base, delta, draw_total)
        return self

    def _conditional(self, Xa, names):
        where = "held-out" if self.conditional_rows == "test" else "training"
        try:
            return fit_conditional_models(
                Xa, kinds=self.conditional, sampler=self.sampler, feature_names=names
            )
        except ValueError as err:
            raise ValueError(
                f"Conditional models on the {where} rows (conditional_rows="
                f"{self.conditional_rows!r}): {err}"
            ) from err

    def _evaluate_setup(self, model, Xt: np.ndarray, y_test, names):
        view = prediction_view(model, feature_names=names, loss=self.loss, n_features=Xt.shape[1])
        _check_predicts(view, Xt)
        loss = _resolve_loss(view, self.loss)
        Y, kind = _encode_target(view, y_test, Xt.shape[0], loss)
        return view, kind, Y

    def _cross_fit(self, Xa, X, y, names, rs, budget, fit_params):
        y_arr = np.asarray(y)
        classifier = _sk_is_classifier(self.estimator)
        if isinstance(self.cv, numbers.Integral):
            split_cls = StratifiedKFold if classifier else KFold
            cv = split_cls(n_splits=int(self.cv), shuffle=True, random_state=rs.randint(2**31))
        else:
            cv = check_cv(self.cv, y_arr, classifier=classifier)
        folds = list(cv.split(Xa, y_arr))
        seen = np.zeros(Xa.shape[0], dtype=int)
        for _, test in folds:
            seen[test] += 1
        if seen.max() > 1:
            raise ValueError(
                "The cv splitter holds some rows out more than once; the pooled test needs "
                "each row held out at most once (use KFold-like splits)."
            )
        self._check_resolution(int((seen > 0).sum()), Xa.shape[1])
        seeds = np.random.SeedSequence(rs.randint(2**31)).spawn(len(folds) * Xa.shape[1])
        parts = []
        self.estimators_ = []
        for f, (train, test) in enumerate(folds):
            Xtr = X.iloc[train] if isinstance(X, pd.DataFrame) else Xa[train]
            ytr = y.iloc[train] if hasattr(y, "iloc") else y_arr[train]
            est = clone(self.estimator).fit(Xtr, ytr, **fit_params)
            self.estimators_.append(est)
            rows = test if self.conditional_rows == "test" else train
            models = self._conditional(Xa[rows], names)
            yte = y.iloc[test] if hasattr(y, "iloc") else y_arr[test]
            view, kind, Y = self._evaluate_setup(est, Xa[test], yte, names)
            p = Xa.shape[1]
            parts.append(
                holdout_losses(
                    view,
                    Xa[test],
                    Y,
                    kind,
                    models,
                    n_draws=self.n_draws,
                    seeds=seeds[f * p : (f + 1) * p],
                    memory_budget=budget,
                    method=self._method,
                    in_sample=self.conditional_rows == "test",
                )
            )
        base = np.concatenate([r.base for r in parts])
        delta = np.concatenate([r.delta for r in parts], axis=1)
        draw_total = np.sum([r.draw_total for r in parts], axis=0)
        return base, delta, draw_total

    def _finish(self, base, delta, draw_total) -> None:
        m = base.shape[0]
        res = holdout_pvalues(base, delta, draw_total, self.alpha)
        p = res.p_hrt if self.test == "hrt" else res.p_cpi
        p_adj = _inference.adjust_pvalues(p, self.p_adjust)
        self.n_heldout_ = m
        self.loss_ = float(base.mean())
        self.null_distribution_ = draw_total / m
        self.loss_differences_ = delta
        self.statistics_ = dict(res)
        r2 = np.array([cm.r2 for cm in self.conditional_models_])
        self.importances_ = importance_frame(
            res.importance[None],
            self._feature_names,
            ("loss",),
            signed=False,
            p_value=p[None],
            p_adjusted=p_adj[None],
            alpha=self.alpha,
            ci_low=res.ci_low[None],
            ci_high=res.ci_high[None],
            extra={
                "p_hrt": res.p_hrt[None],
                "p_cpi": res.p_cpi[None],
                "std_error": res.std_error[None],
                "r2_conditional": r2[None],
            },
            method=self._method_name,
        )

    # ------------------------------------------------------------------ reports
    @property
    def results_(self) -> SensitivityResult:
        """The fitted test as a report object (:class:`sensitivity.result.SensitivityResult`)."""
        check_is_fitted(self, "importances_")
        kinds = sorted({cm.kind for cm in self.conditional_models_})
        test = (
            f"holdout randomization test, {self.n_draws} conditional draws"
            if self.test == "hrt"
            else f"one-sided t-test of the mean loss increase ({self.n_draws} draws per row)"
        )
        settings = {
            "Null": "holdout (conditional, per variable; model not refitted)",
            "Held-out rows": f"{self.n_heldout_} ({self.mode_})",
            "Conditional models": ", ".join(kinds),
            "Held-out loss": f"{self.loss_:.4g}",
        }
        notes = [
            f"Hypothesis: {HYPOTHESIS}.",
            "importance = mean held-out loss increase when x_j is replaced by conditional draws "
            f"(CPI); ci = {100 * (1 - self.alpha):g}% t-interval; p_hrt = holdout "
            "randomization test, p_cpi = one-sided t-test.",
        ]
        kwargs = dict(
            model=_describe(self.estimator_),
            n_samples=self.n_heldout_,
            signed=False,
            n_permutations=0,
            n_bootstrap=0,
            alpha=self.alpha,
            p_adjust=self.p_adjust,
            settings=settings,
            notes=notes,
        )
        accepted = inspect.signature(SensitivityResult).parameters
        if "null" in accepted:
            kwargs["null"] = "holdout"
        if "hypothesis" in accepted:
            kwargs["hypothesis"] = HYPOTHESIS
            kwargs["notes"] = notes[1:]
        result = _HoldoutResult(self.importances_, self._method_name, **kwargs)
        result.test_line = test
        return result

    def summary(self, digits: int = 4) -> str:
        """Text report (:meth:`SensitivityResult.summary`)."""
        return self.results_.summary(digits)

    def plot(self, **kwargs):
        """Ranked bar chart of the importances (:func:`sensitivity.plotting.plot_importance`)."""
        return self.results_.plot(**kwargs)

    def _get_support_mask(self) -> np.ndarray:
        """Variables kept by ``transform``: the significant ones (best ranked first, at most
        ``max_features``)."""
        check_is_fitted(self, "importances_")
        f = self.importances_
        keep = f[f["significant"]].sort_values("rank", kind="stable")
        if self.max_features is not None:
            keep = keep.iloc[: self.max_features]
        chosen = set(keep.index)
        return np.array([n in chosen for n in self._feature_names], dtype=bool)

    def predict(self, X):
        """The fitted model's ``predict``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    def score(self, X, y, sample_weight=None) -> float:
        """The fitted model's ``score``."""
        check_is_fitted(self, "estimator_")
        if not hasattr(self.estimator_, "score"):
            raise TypeError(f"{type(self.estimator_).__name__} has no score method.")
        kw = {} if sample_weight is None else {"sample_weight": sample_weight}
        return float(self.estimator_.score(X, y, **kw))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.target_tags.required = True
        return tags


class _HoldoutResult(SensitivityResult):
    """A SensitivityResult whose header names the held-out test (not a permutation count)."""

    test_line = ""

    def describe(self) -> list[tuple[str, str]]:
        rows = super().describe()
        return [("Test", self.test_line) if k == "Test" else (k, v) for k, v in rows]


def _is_sklearn(model) -> bool:
    return hasattr(model, "fit") and hasattr(model, "get_params")


def _not_refittable(model) -> str:
    return (
        f"{type(model).__name__} cannot be refitted by this test (it is not a scikit-learn "
        "estimator): pass the trained model with prefit=True and held-out rows "
        "fit(X_train, X_test=..., y_test=...)."
    )


def _describe(model) -> str:
    if isinstance(model, torch.nn.Module | MLPBatch) or _is_sklearn(model):
        return adapters.describe_model(model)
    return getattr(model, "__name__", type(model).__name__)
