r"""Dimopoulos' partial-derivative methods (PaD), curvature, and their summaries.

Pure functions over a differentiable model (an :class:`~sensitivity.network.MLPBatch` of ``B``
networks, analytic chain rule; or a :class:`~sensitivity.network.TorchNetwork`, autograd) and a
data set ``X``. Derivatives are taken with respect to the variables the user passed in (the
chain rule runs through the affine scalers of a Pipeline) and, for classifiers, of the predicted
class probabilities (``logits=True``: of the output layer's pre-activation).

Notation: :math:`d_{nki} = \partial y_k / \partial x_i` at row :math:`n` and
:math:`d^{(2)}_{nki} = \partial^2 y_k / \partial x_i^2`, over the :math:`N` rows of ``X``.
The summaries, per output :math:`k` and input :math:`i`:

=========================  ===========================================================  =======
``ssd``                    :math:`\sum_n d_{nki}^2` (PaD sum of squared derivatives)    [1]_
``relative_contribution``  :math:`\mathrm{ssd}_{ki} / \sum_j \mathrm{ssd}_{kj}`         [2]_
``mean``                   :math:`\bar d_{ki} = N^{-1} \sum_n d_{nki}` (direction)      [3]_
``std``                    :math:`\sqrt{\sum_n (d_{nki} - \bar d_{ki})^2 / (N-ddof)}`   [3]_
``rms``                    :math:`\sqrt{N^{-1} \sum_n d_{nki}^2}` (``meanSensSQ``)      [3]_
``curvature``              :math:`\sum_n (d^{(2)}_{nki})^2`                             [1]_
``derivative_curvature``   :math:`\sum_n (d_{nki}\, d^{(2)}_{nki})^2`                   [1]_
=========================  ===========================================================  =======

``mean``, ``std`` and ``rms`` are NeuralSens' ``mean``, ``std`` and ``meanSensSQ`` [3]_ (its
Python package uses ``ddof=0``, its R package ``ddof=1``, our default). ``derivative_curvature``
is the criterion described for Dimopoulos, Bourret & Lek (1995): an input can matter where its
slope is small but its curvature large.

With ``scale="sd"`` every first derivative is multiplied by the input's sample standard
deviation :math:`s_i` (``ddof=1``) and every second derivative by :math:`s_i^2`: the derivatives
become "change of the output per standard deviation of the input", comparable across inputs in
different units (as standardized regression coefficients are).

ReLU networks are not twice differentiable: their second derivative is zero wherever it exists
(almost everywhere), so curvature summaries only see the smooth layers (exactly zero for ReLU
hidden layers with a linear output). Asking for them warns.

Rows are processed in chunks to a memory budget and the summaries accumulated chunk by chunk
(means and sums of squared deviations merged exactly, Chan, Golub & LeVeque 1979), so 10^6 rows
need only the chunk's temporaries unless the per-row derivatives are requested.

References
----------
.. [1] Dimopoulos, Y., Bourret, P. & Lek, S. (1995). Use of some sensitivity criteria for
   choosing networks with good generalization ability. Neural Processing Letters 2, 1-4.
   Dimopoulos, I., Chronopoulos, J., Chronopoulou-Sereli, A. & Lek, S. (1999). Neural network
   models to study relationships between lead concentration in grasses and permanent urban
   descriptors in Athens city (Greece). Ecological Modelling 120, 157-165.
.. [2] Gevrey, M., Dimopoulos, I. & Lek, S. (2003). Review and comparison of methods to study the
   contribution of variables in artificial neural network models. Ecological Modelling 160,
   249-264.
.. [3] Pizarroso, J., Portela, J. & Muñoz, A. (2022). NeuralSens: sensitivity analysis of neural
   networks. Journal of Statistical Software 102(7), 1-36.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from sklearn.utils import Bunch

from .._threads import one_intra_op_thread
from .._warnings import warn
from ..network import MLPBatch, TorchNetwork, is_smooth, iter_input_derivatives

__all__ = [
    "FIRST_ORDER_SUMMARIES",
    "SECOND_ORDER_SUMMARIES",
    "SUMMARIES",
    "derivative_summaries",
    "input_scales",
    "partial_derivatives",
    "summarize",
]

FIRST_ORDER_SUMMARIES = ("ssd", "relative_contribution", "mean", "std", "rms")
SECOND_ORDER_SUMMARIES = ("curvature", "derivative_curvature")
SUMMARIES = FIRST_ORDER_SUMMARIES + SECOND_ORDER_SUMMARIES
"""Names of the summaries, in the order of the table above."""

Model = MLPBatch | TorchNetwork


# ---------------------------------------------------------------------- helpers
def input_scales(X, scale: Literal["sd"] | np.ndarray | None = None) -> np.ndarray | None:
    """Per-input factors ``s_i`` multiplying the derivatives (None: no scaling).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    scale : {"sd"}, array-like of shape (n_features,) or None
        ``"sd"``: the sample standard deviation of each column of ``X`` (``ddof=1``); an
        array: the given positive factors; None: no scaling.

    Returns
    -------
    ndarray of shape (n_features,) or None
    """
    if scale is None:
        return None
    p = np.shape(X)[-1]
    if isinstance(scale, str):
        if scale != "sd":
            raise ValueError(f"scale must be 'sd', an array of {p} factors or None; got {scale!r}.")
        Xa = np.asarray(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
        if Xa.shape[-2] < 2:
            raise ValueError("scale='sd' needs at least two rows of X.")
        s = Xa.reshape(-1, p).std(axis=0, ddof=1)
        if np.any(s == 0):
            warn(
                f"Input(s) {np.flatnonzero(s == 0).tolist()} are constant in X: with "
                "scale='sd' their derivatives are multiplied by 0.",
                UserWarning,
            )
        return s
    s = np.asarray(scale, dtype=np.float64)
    if s.shape != (p,) or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"scale must hold {p} finite non-negative factors; got shape {s.shape}.")
    return s


def _second_order_flag(model: Model, second_order: bool | Literal["auto"]) -> bool:
    if second_order == "auto":
        return is_smooth(model)
    if not isinstance(second_order, bool | np.bool_):
        raise ValueError(f"second_order must be True, False or 'auto'; got {second_order!r}.")
    if second_order and not is_smooth(model):
        warn(
            "The network has piecewise-linear activations (relu): their second derivative is "
            "zero almost everywhere (undefined at the kinks), so curvature summaries only "
            "reflect the smooth layers (and are exactly zero for relu hidden layers with a "
            "linear output).",
            UserWarning,
        )
    return bool(second_order)


def _check_model(model) -> Model:
    if not isinstance(model, MLPBatch | TorchNetwork):
        raise TypeError(
            f"Expected an MLPBatch or a TorchNetwork, got {type(model).__name__}; convert "
            "fitted models with sensitivity.adapters.as_differentiable."
        )
    return model


class _Accumulator:
    """Exact chunk-wise sums: count, mean, sum of squared deviations, sums of squares."""

    def __init__(self) -> None:
        self.n = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None
        self.ssd: torch.Tensor | None = None
        self.curv: torch.Tensor | None = None
        self.dcurv: torch.Tensor | None = None

    def add(self, J: torch.Tensor, D: torch.Tensor | None) -> None:
        m = J.shape[1]
        cmean = J.mean(dim=1)
        dev = J - cmean.unsqueeze(1)
        cm2 = (dev * dev).sum(dim=1)
        cssd = (J * J).sum(dim=1)
        if D is not None:
            ccurv = (D * D).sum(dim=1)
            JD = J * D
            cdcurv = (JD * JD).sum(dim=1)
        if self.mean is None:
            self.n, self.mean, self.m2, self.ssd = m, cmean, cm2, cssd
            if D is not None:
                self.curv, self.dcurv = ccurv, cdcurv
            return
        total = self.n + m
        delta = cmean - self.mean
        self.mean = self.mean + delta * (m / total)
        self.m2 = self.m2 + cm2 + delta * delta * (self.n * m / total)
        self.ssd = self.ssd + cssd
        if D is not None:
            self.curv = self.curv + ccurv
            self.dcurv = self.dcurv + cdcurv
        self.n = total

    def result(self, ddof: float) -> dict[str, np.ndarray]:
        if self.n - ddof <= 0:
            raise ValueError(f"std with ddof={ddof} needs more than {ddof} rows; got {self.n}.")
        ssd = self.ssd.cpu().numpy().astype(np.float64)
        out = {
            "ssd": ssd,
            "relative_contribution": _relative(ssd),
            "mean": self.mean.cpu().numpy().astype(np.float64),
            "std": np.sqrt(self.m2.cpu().numpy().astype(np.float64) / (self.n - ddof)),
            "rms": np.sqrt(ssd / self.n),
        }
        if self.curv is not None:
            out["curvature"] = self.curv.cpu().numpy().astype(np.float64)
            out["derivative_curvature"] = self.dcurv.cpu().numpy().astype(np.float64)
        return out


def _relative(ssd: np.ndarray) -> np.ndarray:
    total = ssd.sum(axis=-1, keepdims=True)
    if np.any(total == 0):
        warn(
            "Every derivative of some output is zero on X (a constant output): its "
            "relative_contribution is undefined (NaN).",
            RuntimeWarning,
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, ssd / np.where(total > 0, total, 1.0), np.nan)


# ---------------------------------------------------------------------- public functions
def partial_derivatives(
    model: Model,
    X,
    *,
    second_order: bool | Literal["auto"] = False,
    logits: bool = False,
    scale: Literal["sd"] | np.ndarray | None = None,
    memory_budget_mb: float | None = None,
    max_memory: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    r"""Per-row partial derivatives :math:`\partial y_k/\partial x_i` (and second derivatives).

    Parameters
    ----------
    model : MLPBatch or TorchNetwork
        ``B`` networks (analytic) or a torch module (autograd, ``B = 1``).
    X : array-like of shape (n_samples, n_features)
        Finite numeric rows in the user's units.
    second_order : bool or "auto"
        Also return :math:`\partial^2 y_k/\partial x_i^2` ("auto": when every activation is
        twice differentiable). True on a relu network warns (zero almost everywhere).
    logits : bool
        Differentiate a classifier's logits instead of its class probabilities.
    scale : {"sd"}, array-like or None
        Multiply first derivatives by :math:`s_i` and second derivatives by :math:`s_i^2`
        (``"sd"``: the sample standard deviation of column :math:`i`, ``ddof=1``).
    memory_budget_mb : float, optional
        Working memory (MiB) of one chunk of rows (default 256); never changes a result.
    max_memory : int, optional
        Deprecated: the budget in bytes.

    Returns
    -------
    jacobian : ndarray of shape (B, n_samples, n_outputs, n_features)
    second : ndarray of shape (B, n_samples, n_outputs, n_features) or None
    """
    model = _check_model(model)
    second = _second_order_flag(model, second_order)
    s = input_scales(X, scale)
    Js, Ds = [], []
    for _, J, D in iter_input_derivatives(
        model,
        X,
        second_order=second,
        logits=logits,
        memory_budget_mb=memory_budget_mb,
        max_memory=max_memory,
    ):
        Js.append(J.cpu().numpy().astype(np.float64, copy=False))
        if D is not None:
            Ds.append(D.cpu().numpy().astype(np.float64, copy=False))
    J = np.concatenate(Js, axis=1) if len(Js) > 1 else Js[0]
    D = (np.concatenate(Ds, axis=1) if len(Ds) > 1 else Ds[0]) if second else None
    if s is not None:
        J = J * s
        D = None if D is None else D * s**2
    return J, D


def summarize(jacobian, second=None, *, ddof: float = 1) -> dict[str, np.ndarray]:
    """The summaries of the module docstring from per-row derivative arrays.

    Parameters
    ----------
    jacobian : array-like of shape (B, n_samples, n_outputs, n_features)
        :math:`d_{nki}` (or ``(n_samples, n_outputs, n_features)`` for one network).
    second : array-like of the same shape, optional
        :math:`d^{(2)}_{nki}`; adds ``curvature`` and ``derivative_curvature``.
    ddof : float
        Delta degrees of freedom of ``std`` (1: sample standard deviation, as R NeuralSens;
        0: as the Python neuralsens package).

    Returns
    -------
    dict of str to ndarray of shape (B, n_outputs, n_features)
    """
    J = torch.as_tensor(np.asarray(jacobian, dtype=np.float64))
    if J.ndim == 3:
        J = J.unsqueeze(0)
    if J.ndim != 4:
        raise ValueError(f"jacobian must be (B, n, n_outputs, n_features); got {tuple(J.shape)}.")
    D = None
    if second is not None:
        D = torch.as_tensor(np.asarray(second, dtype=np.float64)).reshape(J.shape)
    acc = _Accumulator()
    acc.add(J, D)
    return acc.result(ddof)


def derivative_summaries(
    model: Model,
    X,
    *,
    second_order: bool | Literal["auto"] = "auto",
    logits: bool = False,
    scale: Literal["sd"] | np.ndarray | None = None,
    ddof: float = 1,
    memory_budget_mb: float | None = None,
    max_memory: int | None = None,
    return_derivatives: bool = False,
) -> Bunch:
    r"""Dimopoulos' PaD summaries of every input for every output, chunked over rows.

    Parameters
    ----------
    model : MLPBatch or TorchNetwork
        ``B`` networks (analytic chain rule) or a torch module (autograd, ``B = 1``).
    X : array-like of shape (n_samples, n_features)
        Finite numeric rows in the user's units.
    second_order : bool or "auto"
        Compute ``curvature`` and ``derivative_curvature`` ("auto": when the network is twice
        differentiable everywhere, i.e. has no relu). True on a relu network warns.
    logits : bool
        Differentiate a classifier's logits instead of its class probabilities.
    scale : {"sd"}, array-like or None
        See :func:`partial_derivatives`.
    ddof : float
        Delta degrees of freedom of ``std``.
    memory_budget_mb : float, optional
        Working memory (MiB) of one chunk of rows (default 256); never changes a result.
    max_memory : int, optional
        Deprecated: the budget in bytes.
    return_derivatives : bool
        Also return the per-row derivatives (``B * n * n_outputs * n_features`` numbers each).

    Returns
    -------
    sklearn.utils.Bunch
        ``ssd, relative_contribution, mean, std, rms`` (and ``curvature,
        derivative_curvature`` with second order): arrays ``(B, n_outputs, n_features)``;
        ``n_samples``; ``scale`` (the factors used or None); with ``return_derivatives``,
        ``jacobian`` and ``second`` (``(B, n_samples, n_outputs, n_features)`` or None).

    Notes
    -----
    Formulas and sources: see the module docstring (:mod:`sensitivity.methods.derivatives`).
    """
    model = _check_model(model)
    second = _second_order_flag(model, second_order)
    s = input_scales(X, scale)
    st = None if s is None else torch.as_tensor(s)
    acc = _Accumulator()
    Js, Ds = [], []
    for _, J, D in iter_input_derivatives(
        model,
        X,
        second_order=second,
        logits=logits,
        memory_budget_mb=memory_budget_mb,
        max_memory=max_memory,
    ):
        with one_intra_op_thread():  # beside the chunks' worker threads: no OpenMP team
            J = J.to(torch.float64)
            D = None if D is None else D.to(torch.float64)
            if st is not None:
                st = st.to(J.device)
                J = J * st
                D = None if D is None else D * (st * st)
            acc.add(J, D)
        if return_derivatives:
            Js.append(J.cpu().numpy())
            Ds.append(None if D is None else D.cpu().numpy())
    out = Bunch(**acc.result(ddof), n_samples=acc.n, scale=s)
    if return_derivatives:
        out["jacobian"] = np.concatenate(Js, axis=1) if len(Js) > 1 else Js[0]
        out["second"] = (np.concatenate(Ds, axis=1) if len(Ds) > 1 else Ds[0]) if second else None
    return out
