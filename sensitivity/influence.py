r"""Sample sensitivity: which training rows drive a prediction (influence functions).

:class:`SampleInfluence` reads a fitted MLP (scikit-learn ``MLPRegressor``/``MLPClassifier``,
also in a Pipeline of affine scalers, or a torch ``nn.Sequential``), its L2 penalty and its
training data, and computes Koh & Liang's (2017) influence functions from the Hessian of the
penalised training objective at the fitted weights; the formulas are in
:mod:`sensitivity.methods.influence`. Plots: :func:`plot_influence`,
:func:`plot_self_influence`.

Scaling used throughout: ``influence`` is :math:`\mathcal I_{\mathrm{up}}(z_i, q) =
-\nabla q^\top H^{-1} \nabla \ell(z_i)`, the derivative of the test quantity :math:`q` with
respect to the weight of row :math:`i` in the *mean* objective; ``loo_change`` is
:math:`-\mathcal I_{\mathrm{up}} / n`, the predicted change of :math:`q` when row :math:`i` is
left out and the network refitted (exact to first order for scikit-learn's objective, whose
penalty :math:`\alpha/(2n)\lVert W\rVert^2` becomes :math:`\alpha/(2(n-1))\lVert W\rVert^2`).
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import replace as _replace

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from . import adapters
from .methods import influence as _inf

__all__ = [
    "NotStationaryWarning",
    "SampleInfluence",
    "plot_influence",
    "plot_self_influence",
]


class NotStationaryWarning(UserWarning):
    """The fitted weights are not at a stationary point of the penalised objective."""


def _final_step(model):
    return model.steps[-1][1] if isinstance(model, Pipeline) else model


def _check_real(value, name: str, *, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}.")
    if value < minimum or (strict and value == minimum):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be {op} {minimum}; got {value!r}.")
    return float(value)


class SampleInfluence(BaseEstimator):
    r"""Influence of training rows on test losses or predictions (Koh & Liang 2017).

    For the fitted network with parameters :math:`\hat\theta`, minimiser of the penalised mean
    objective :math:`J(\theta) = n^{-1}\sum_i \ell(z_i,\theta) + \alpha/(2n)\lVert W\rVert^2`
    (scikit-learn's; :math:`W` the connection weights, biases unpenalised),

    .. math::

        \mathcal I_{\mathrm{up}}(z_i, q) = -\nabla_\theta q(\hat\theta)^\top
        (H + \lambda I)^{-1} \nabla_\theta \ell(z_i, \hat\theta),
        \qquad H = \nabla^2 J(\hat\theta),

    with :math:`q` the loss at a test row (``target="loss"``) or one output of the network
    there (``target="prediction"``), and :math:`\lambda` the ``damping``. Leaving row
    :math:`i` out and refitting changes :math:`q` by about :math:`-\mathcal I_{\mathrm{up}}/n`
    (the ``loo_change`` column). The self-influence :math:`\nabla\ell(z_i)^\top (H+\lambda
    I)^{-1}\nabla\ell(z_i)` screens for mislabelled or outlying rows.

    Parameters
    ----------
    estimator : estimator or torch.nn.Sequential
        The network: ``MLPRegressor``/``MLPClassifier``, a Pipeline of affine scalers ending in
        one, or a torch ``nn.Sequential`` of ``nn.Linear`` layers and activations (identity
        output: squared error; ``nn.Sigmoid``: binary log-loss; ``nn.Softmax``: log-loss).
    prefit : bool, default=True
        Use ``estimator`` as fitted (``False``: fit a clone on ``(X, y)`` first; scikit-learn
        estimators only).
    alpha : float or "estimator", default="estimator"
        The L2 penalty the network was trained with, in scikit-learn's units
        (:math:`\alpha/(2n)\lVert W\rVert^2` added to the mean loss). ``"estimator"`` reads a
        scikit-learn MLP's ``alpha``; a torch network needs it given (a network trained on
        ``mean(MSELoss) + c * ||W||^2`` has :math:`\alpha = 2 n c` *and* the squared-error
        loss without the 1/2 factor; see the user guide).
    damping : float, default=0.0
        :math:`\lambda \ge 0` added to the Hessian's diagonal.
    solver : {"auto", "exact", "cg"}, default="auto"
        ``"exact"``: the Hessian in float64, its eigenvalues and Cholesky factor;
        ``"cg"``: conjugate gradients on Hessian-vector products (no Hessian is formed);
        ``"auto"``: exact up to ``max_exact_params`` parameters.
    target : {"loss", "prediction"}, default="loss"
        The test quantity :math:`q`.
    output : int, str or None, default=None
        With ``target="prediction"``: which output (index or name; class probability for
        classifiers). None: the only output.
    polish : bool or int, default=False
        Continue the training from the fitted weights with the batched L-BFGS trainer
        (float64, :func:`sensitivity.training.fit_networks`) for this many iterations (True:
        1000) before computing influences. ``estimator_`` then holds the polished weights
        and ``polish_`` records both fits.
    stationarity_tol : float, default=0.1
        Warn (:class:`NotStationaryWarning`) when :math:`\lVert\nabla J(\hat\theta)\rVert`
        exceeds this fraction of :math:`\operatorname{median}_i \lVert\nabla\ell(z_i)\rVert/n`,
        the gradient that removing one row adds: the formula assumes a minimum.
    max_exact_params : int, default=2000
        Largest number of parameters for which ``solver="auto"`` forms the Hessian.
    cg_tol : float, default=1e-10
        Relative residual at which conjugate gradients stop.
    cg_max_iter : int or None, default=None
        Conjugate-gradient iterations (None: twice the number of parameters).
    memory_budget_mb : float or None, default=None
        Memory budget in MiB for the temporaries of one chunk of rows (None: 256).

    Attributes
    ----------
    estimator_ : object
        The analysed network (a polished copy with ``polish``).
    network_ : MLPBatch
        Its weights as a batch of one network.
    n_samples_, n_params_ : int
        Training rows and parameters.
    alpha_ : float
        The penalty used.
    train_ids_ : pandas.Index
        Labels of the training rows (the DataFrame index, else ``0..n-1``).
    train_loss_ : ndarray (n,)
        Per-row training loss at the fitted weights.
    gradient_norm_ : float
        :math:`\lVert\nabla J(\hat\theta)\rVert_2`.
    stationarity_ratio_ : float
        ``gradient_norm_`` divided by :math:`\operatorname{median}_i\lVert\nabla\ell_i\rVert/n`.
    solver_ : str
        ``"exact"`` or ``"cg"``.
    hessian_ : ndarray (P, P) or None
        The undamped Hessian (exact solver).
    hessian_eigenvalues_ : tuple (smallest, largest)
        Of the damped Hessian (exact solver; NaN with CG).
    self_influence_ : pandas.DataFrame
        Per training row: ``self_influence`` (:math:`\nabla\ell_i^\top H^{-1}\nabla\ell_i`),
        ``loo_self_change`` (its ``/n``: predicted rise of the row's own loss when left out),
        ``loss``, ``rank`` (1 = largest), sorted by rank.
    n_flat_directions_ : int
        Eigenvalues of the damped Hessian at zero that no training row's gradient has a
        component along (left out by the pseudo-inverse; exact solver).
    polish_ : dict or None
        Objective and gradient norm before and after polishing, iterations, largest weight
        change.

    References
    ----------
    Koh, P. W. & Liang, P. (2017). Understanding black-box predictions via influence
    functions. ICML, PMLR 70, 1885-1894.
    Cook, R. D. & Weisberg, S. (1982). Residuals and Influence in Regression. Chapman & Hall.

    Examples
    --------
    >>> from sklearn.neural_network import MLPRegressor
    >>> from sensitivity.influence import SampleInfluence
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 3)); y = X[:, 0] + 0.1 * rng.normal(size=60)
    >>> net = MLPRegressor(hidden_layer_sizes=(4,), activation="tanh", solver="lbfgs",
    ...                    alpha=1.0, tol=1e-12, max_iter=5000, random_state=0).fit(X, y)
    >>> si = SampleInfluence(net, polish=True).fit(X, y)
    >>> si.influence(X[:1], y[:1]).shape
    (60, 4)
    """

    def __init__(
        self,
        estimator,
        *,
        prefit: bool = True,
        alpha: float | str = "estimator",
        damping: float = 0.0,
        solver: str = "auto",
        target: str = "loss",
        output: int | str | None = None,
        polish: bool | int = False,
        stationarity_tol: float = 0.1,
        max_exact_params: int = 2000,
        cg_tol: float = 1e-10,
        cg_max_iter: int | None = None,
        memory_budget_mb: float | None = None,
    ):
        self.estimator = estimator
        self.prefit = prefit
        self.alpha = alpha
        self.damping = damping
        self.solver = solver
        self.target = target
        self.output = output
        self.polish = polish
        self.stationarity_tol = stationarity_tol
        self.max_exact_params = max_exact_params
        self.cg_tol = cg_tol
        self.cg_max_iter = cg_max_iter
        self.memory_budget_mb = memory_budget_mb

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        if self.estimator is None:
            raise ValueError("SampleInfluence needs an estimator (a fitted network).")
        _check_real(self.damping, "damping")
        _check_real(self.stationarity_tol, "stationarity_tol", strict=True)
        _check_real(self.cg_tol, "cg_tol", strict=True)
        if self.solver not in ("auto", "exact", "cg"):
            raise ValueError(f"solver must be 'auto', 'exact' or 'cg'; got {self.solver!r}.")
        if self.target not in ("loss", "prediction"):
            raise ValueError(f"target must be 'loss' or 'prediction'; got {self.target!r}.")
        if not (isinstance(self.polish, bool) or isinstance(self.polish, numbers.Integral)) or (
            not isinstance(self.polish, bool) and self.polish < 0
        ):
            raise ValueError(
                f"polish must be True, False or a number of iterations; got {self.polish!r}."
            )
        if (
            isinstance(self.max_exact_params, bool)
            or not isinstance(self.max_exact_params, numbers.Integral)
            or self.max_exact_params < 1
        ):
            raise ValueError(
                f"max_exact_params must be a positive integer; got {self.max_exact_params!r}."
            )
        if self.cg_max_iter is not None and (
            isinstance(self.cg_max_iter, bool)
            or not isinstance(self.cg_max_iter, numbers.Integral)
            or self.cg_max_iter < 1
        ):
            raise ValueError(
                f"cg_max_iter must be a positive integer or None; got {self.cg_max_iter!r}."
            )

    def _resolve_alpha(self, model) -> float:
        if isinstance(self.alpha, str):
            if self.alpha != "estimator":
                raise ValueError(f"alpha must be a number or 'estimator'; got {self.alpha!r}.")
            final = _final_step(model)
            if isinstance(final, MLPRegressor | MLPClassifier):
                return float(final.alpha)
            raise ValueError(
                f"alpha='estimator' reads a scikit-learn MLP's penalty; a {type(final).__name__} "
                "carries none. Pass alpha= the L2 penalty the network was trained with, in "
                "scikit-learn's units (alpha / (2 n) * ||W||^2 added to the mean loss)."
            )
        return _check_real(self.alpha, "alpha")

    def _encode_y(self, y, n_rows: int) -> np.ndarray:
        """Targets as the network's training loss sees them: ``(n, n_outputs)`` floats."""
        batch = self.network_
        k = batch.n_outputs
        out = batch.activations[-1]
        if y is None:
            raise ValueError(
                "y is needed: the influence on a loss needs the targets (or use "
                "target='prediction' for test rows)."
            )
        final = _final_step(self.estimator_)
        if isinstance(final, MLPClassifier):
            ya = np.asarray(y)
            if ya.ndim != 1:
                raise ValueError("y for an MLPClassifier must be one label per row.")
            unknown = ~np.isin(ya, final.classes_)
            if unknown.any():
                raise ValueError(
                    f"y holds labels the classifier does not know: {np.unique(ya[unknown])[:5]}"
                    f" (classes: {list(final.classes_)})."
                )
            Y = np.asarray(final._label_binarizer.transform(ya), dtype=np.float64)
        else:
            try:
                ya = np.asarray(y, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"y must be numeric for this network: {exc}") from None
            if out == "softmax" and ya.ndim == 1:
                if not np.all(np.isin(ya, np.arange(k))):
                    raise ValueError(
                        f"y for a softmax network must be class indices 0..{k - 1} or one-hot rows."
                    )
                Y = np.eye(k)[ya.astype(int)]
            else:
                Y = ya.reshape(len(ya), -1) if ya.ndim <= 1 else ya
        if Y.shape != (n_rows, k):
            raise ValueError(
                f"y has shape {np.shape(y)}; expected {n_rows} rows and {k} output column(s)."
            )
        if not np.all(np.isfinite(Y)):
            raise ValueError("y contains NaN or infinite values.")
        if out == "logistic" and not np.all(np.isin(Y, (0.0, 1.0))):
            raise ValueError("y for a logistic output must be 0 or 1.")
        return Y

    def _tensor(self, a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)

    def _inputs(self, X) -> torch.Tensor:
        return self.network_.transform_inputs(self._tensor(X))

    def _row_ids(self, X, n: int) -> pd.Index:
        if isinstance(X, pd.DataFrame | pd.Series):
            return pd.Index(X.index)
        return pd.RangeIndex(n)

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y, **fit_params):
        """Read the network, check stationarity, form (or prepare) the Hessian solve and
        compute the self-influences of the training rows.

        Parameters
        ----------
        X : array-like or DataFrame (n_samples, n_features)
            The training inputs the network was fitted on (the user's units).
        y : array-like (n_samples,) or (n_samples, n_outputs)
            The training targets (class labels for classifiers).
        **fit_params
            Passed to the estimator's ``fit`` when ``prefit=False``.

        Returns
        -------
        self
        """
        self._check_params()
        X_arr = validate_data(self, X, reset=True, dtype=np.float64, ensure_all_finite=True)
        n = int(X_arr.shape[0])
        if y is None:
            raise ValueError("SampleInfluence.fit needs y (the training targets).")
        if self.prefit:
            adapters.check_model_fitted(self.estimator)
            self.estimator_ = self.estimator
        else:
            if isinstance(self.estimator, torch.nn.Module):
                raise ValueError("prefit=False fits scikit-learn estimators only.")
            self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        names = (
            tuple(str(c) for c in self.feature_names_in_)
            if hasattr(self, "feature_names_in_")
            else None
        )
        batch = adapters.to_mlp_batch(self.estimator_, feature_names=names)
        if batch.n_features != X_arr.shape[1]:
            raise ValueError(
                f"X has {X_arr.shape[1]} columns; the network has {batch.n_features} inputs."
            )
        self.network_ = batch
        self.alpha_ = self._resolve_alpha(self.estimator_)
        self._obj = _inf.Objective.from_batch(batch, self.alpha_, n)
        if self.alpha_ == 0 and self.damping == 0:
            raise ValueError(
                "The model has no L2 penalty (alpha=0) and damping=0: the Hessian of an "
                "unpenalised network is typically singular (directions of the weights that do "
                "not change the fit), and influence functions need it invertible. Refit with "
                "alpha > 0 (and pass it as alpha=), or pass damping > 0 (influences of a "
                "damped, approximate objective)."
            )
        if self.alpha_ == 0:
            warnings.warn(
                f"The model has no L2 penalty (alpha=0): the influences use the Hessian damped "
                f"by {self.damping:g}, an approximation of leave-one-out retraining.",
                UserWarning,
                stacklevel=2,
            )
        self.n_samples_ = n
        self.n_params_ = self._obj.n_params
        self.train_ids_ = self._row_ids(X, n)
        self._Z = self._inputs(X_arr)
        self._Y = self._tensor(self._encode_y(y, n))
        self._theta = _inf.flatten_parameters(batch)
        self.polish_ = None
        if self.polish:
            self._polish(1000 if self.polish is True else int(self.polish))
        self._gradients()
        if self.stationarity_ratio_ > self.stationarity_tol:
            warnings.warn(
                "The network is not at a stationary point of its penalised training objective "
                f"(alpha={self.alpha_:g}): ||grad J|| = {self.gradient_norm_:.3g}, "
                f"{self.stationarity_ratio_:.3g} times the gradient one training row adds "
                f"(median ||grad l_i|| / n = {self._row_scale:.3g}). Influence functions assume "
                "a minimum; their values may be wrong. Pass polish=True (or a number of "
                "iterations) to continue the training from the fitted weights with the batched "
                "L-BFGS trainer, or refit to convergence (solver='lbfgs', small tol, large "
                "max_iter), with the same alpha and data.",
                NotStationaryWarning,
                stacklevel=2,
            )
        self._prepare_solver()
        self._self_influence()
        return self

    def _gradients(self) -> None:
        obj, th, Z, Y = self._obj, self._theta, self._Z, self._Y
        self._G = _inf.row_gradients(obj, th, Z, Y, memory_budget_mb=self.memory_budget_mb)
        self.train_loss_ = _inf.row_losses(obj, th, Z, Y).numpy()
        gJ = _inf.objective_gradient(obj, th, Z, Y)
        self.gradient_norm_ = float(torch.linalg.vector_norm(gJ))
        scale = float(torch.median(torch.linalg.vector_norm(self._G, dim=1))) / self.n_samples_
        if scale <= 0:
            scale = float(torch.linalg.vector_norm(self._G, dim=1).mean()) / self.n_samples_
        self._row_scale = scale
        self.stationarity_ratio_ = self.gradient_norm_ / scale if scale > 0 else 0.0

    def _polish(self, max_iter: int) -> None:
        from .training import fit_networks

        try:
            spec = adapters.training_spec(self.estimator_)
        except TypeError as exc:
            raise TypeError(f"polish is not available for this model: {exc}") from None
        spec = _replace(spec, alpha=self.alpha_, input_scale=None, input_offset=None)
        obj, Z, Y = self._obj, self._Z, self._Y
        before = float(obj.value(self._theta, Z, Y))
        g_before = float(torch.linalg.vector_norm(_inf.objective_gradient(obj, self._theta, Z, Y)))
        coefs, ints = _inf.unflatten_parameters(obj, self._theta)
        res = fit_networks(
            spec,
            Z.numpy(),
            Y.numpy(),
            ([c[None] for c in coefs], [b[None] for b in ints]),
            max_iter=max_iter,
            tol=1e-12,
            ftol=0.0,
            solver="lbfgs",
            dtype=torch.float64,
        )
        new_c = [c[0] for c in res.coefs]
        new_b = [b[0] for b in res.intercepts]
        theta = torch.cat(
            [torch.as_tensor(c).reshape(-1) for c in new_c]
            + [torch.as_tensor(b).reshape(-1) for b in new_b]
        ).to(torch.float64)
        after = float(obj.value(theta, Z, Y))
        if not after <= before:  # the trainer could not improve on the fitted weights
            self.polish_ = {
                "objective_before": before,
                "objective_after": before,
                "gradient_norm_before": g_before,
                "gradient_norm_after": g_before,
                "n_iter": 0,
                "max_weight_change": 0.0,
            }
            return
        g_after = float(torch.linalg.vector_norm(_inf.objective_gradient(obj, theta, Z, Y)))
        self.polish_ = {
            "objective_before": before,
            "objective_after": after,
            "gradient_norm_before": g_before,
            "gradient_norm_after": g_after,
            "n_iter": int(res.n_iter[0]),
            "max_weight_change": float((theta - self._theta).abs().max()),
        }
        self._theta = theta
        self.estimator_ = adapters.with_network_weights(self.estimator_, new_c, new_b)
        self.network_ = _replace(
            self.network_,
            weights=tuple(torch.as_tensor(c, dtype=torch.float64)[None] for c in new_c),
            biases=tuple(torch.as_tensor(b, dtype=torch.float64)[None] for b in new_b),
        )

    def _prepare_solver(self) -> None:
        P = self.n_params_
        solver = self.solver
        if solver == "auto":
            solver = "exact" if P <= self.max_exact_params else "cg"
        self.solver_ = solver
        lam = float(self.damping)
        self.hessian_ = None
        self.hessian_eigenvalues_ = (float("nan"), float("nan"))
        self.n_flat_directions_ = 0
        if solver == "cg":
            return
        H = _inf.hessian(
            self._obj, self._theta, self._Z, self._Y, memory_budget_mb=self.memory_budget_mb
        )
        self.hessian_ = H.numpy()
        Hd = H + lam * torch.eye(P, dtype=H.dtype)
        evals, evecs = torch.linalg.eigh(Hd)
        lo, hi = float(evals[0]), float(evals[-1])
        self.hessian_eigenvalues_ = (lo, hi)
        tiny = 1e-10 * max(abs(hi), 1.0)
        flat = evals <= tiny
        if bool(flat.any()):
            # directions of exactly zero curvature that no training row's loss moves along
            # (the unpenalised bias of a hidden unit whose weights the penalty shrank to zero):
            # they carry no influence, and the pseudo-inverse leaves them out
            N = evecs[:, flat]
            along = float(torch.linalg.matrix_norm(self._G @ N))
            total = float(torch.linalg.matrix_norm(self._G))
            inert = bool((evals[flat] >= -tiny).all()) and along <= 1e-8 * max(total, 1e-300)
            if not inert:
                what = "singular" if lo >= -tiny else "not positive definite"
                raise ValueError(
                    f"The damped Hessian (damping={lam:g}) is {what}: smallest eigenvalue "
                    f"{lo:.3g}, largest {hi:.3g}, {int(flat.sum())} eigenvalue(s) <= {tiny:.2g}. "
                    f"The network is not at a strict local minimum of its penalised objective "
                    f"(alpha={self.alpha_:g}). Pass damping > "
                    f"{max(-lo, 0.0) + 1e-6 * max(abs(hi), 1.0):.3g}, polish the fit "
                    "(polish=True), or refit with a larger alpha."
                )
            self.n_flat_directions_ = int(flat.sum())
        keep = ~flat
        self._evecs = evecs[:, keep]
        self._inv_evals = 1.0 / evals[keep]

    def _matvec(self, V: torch.Tensor) -> torch.Tensor:
        HV = _inf.hessian_vector_product(
            self._obj, self._theta, self._Z, self._Y, V, memory_budget_mb=self.memory_budget_mb
        )
        return HV + float(self.damping) * V

    def _solve(self, B: torch.Tensor) -> torch.Tensor:
        """``(H + damping I)^{-1} B`` for ``B (P, m)``."""
        if self.solver_ == "exact":
            return self._evecs @ (self._inv_evals.unsqueeze(1) * (self._evecs.T @ B))
        res = _inf.cg_solve(self._matvec, B, tol=self.cg_tol, max_iter=self.cg_max_iter)
        if not res.converged:
            warnings.warn(
                f"Conjugate gradients stopped after {res.n_iter} iterations with relative "
                f"residual up to {float(res.residual.max()):.3g} (cg_tol={self.cg_tol:g}); "
                "raise cg_max_iter or damping.",
                UserWarning,
                stacklevel=3,
            )
        return res.x

    def _self_influence(self) -> None:
        G = self._G
        if self.solver_ == "exact":
            L = self._evecs.T @ G.T  # (r, n)
            si = (self._inv_evals.unsqueeze(1) * L * L).sum(dim=0)
        else:
            si = torch.empty(G.shape[0], dtype=G.dtype)
            for s in range(0, G.shape[0], 256):
                block = G[s : s + 256].T
                si[s : s + 256] = (block * self._solve(block)).sum(dim=0)
        si = si.numpy()
        order = np.argsort(-si, kind="stable")
        rank = np.empty(len(si), dtype=int)
        rank[order] = np.arange(1, len(si) + 1)
        frame = pd.DataFrame(
            {
                "self_influence": si,
                "loo_self_change": si / self.n_samples_,
                "loss": self.train_loss_,
                "rank": rank,
            },
            index=self.train_ids_.rename("train"),
        )
        self.self_influence_ = frame.iloc[order]

    # ------------------------------------------------------------------ test quantities
    def _output_index(self) -> int:
        names = list(self.network_.output_names)
        out = self.output
        if out is None:
            if len(names) != 1:
                raise ValueError(
                    f"The network has {len(names)} outputs {names}; pass output= (index or "
                    "name) to choose the prediction."
                )
            return 0
        if isinstance(out, str):
            if out not in names:
                raise ValueError(f"Unknown output {out!r}; outputs: {names}.")
            return names.index(out)
        if isinstance(out, numbers.Integral) and not isinstance(out, bool):
            if not 0 <= out < len(names):
                raise ValueError(f"output index {out} out of range for {len(names)} outputs.")
            return int(out)
        raise ValueError(f"output must be an int, a str or None; got {out!r}.")

    def _test_gradients(self, X_test, y_test) -> tuple[torch.Tensor, pd.Index]:
        check_is_fitted(self, "self_influence_")
        Xt = validate_data(self, X_test, reset=False, dtype=np.float64, ensure_all_finite=True)
        Zt = self._inputs(Xt)
        ids = self._row_ids(X_test, Xt.shape[0])
        if self.target == "prediction":
            k = self._output_index()
            return _inf.prediction_gradients(self._obj, self._theta, Zt, k), ids
        if y_test is None:
            raise ValueError("target='loss' needs y_test (the targets of the test rows).")
        Yt = self._tensor(self._encode_y(y_test, Xt.shape[0]))
        return _inf.row_gradients(self._obj, self._theta, Zt, Yt), ids

    def influence_matrix(self, X_test, y_test=None) -> np.ndarray:
        r"""The influences :math:`\mathcal I_{\mathrm{up}}(z_i, q_t)` as an array ``(T, n)``.

        Row ``t``: test row ``t``; column ``i``: training row ``i`` (order of ``fit``).
        The predicted change of :math:`q_t` when row :math:`i` is left out is minus this
        divided by ``n_samples_``.
        """
        Gt, _ = self._test_gradients(X_test, y_test)
        S = self._solve(Gt.T).T  # (T, P): H^-1 grad q_t
        return _inf.influence_scores(S, self._G).numpy()

    def influence(self, X_test, y_test=None, *, top: int | None = None) -> pd.DataFrame:
        r"""Ranked influence of every training row on each test row's loss (or prediction).

        Parameters
        ----------
        X_test : array-like or DataFrame (T, n_features)
        y_test : array-like, optional
            Test targets (needed for ``target="loss"``).
        top : int, optional
            Keep the ``top`` rows of largest ``|influence|`` per test row.

        Returns
        -------
        pandas.DataFrame
            Index ``(test, train)``; columns ``influence`` (:math:`\mathcal I_{\mathrm{up}}`),
            ``loo_change`` (predicted change of the test quantity when the training row is
            left out, :math:`-\mathcal I_{\mathrm{up}}/n`), ``effect`` (loss: ``helpful``
            when the row lowers the test loss, i.e. ``loo_change > 0``, else ``harmful``;
            prediction: ``raises`` or ``lowers``, what the row does to the prediction) and
            ``rank`` (1 = largest ``|influence|`` for that test row). Sorted by test row, then
            rank.
        """
        Gt, test_ids = self._test_gradients(X_test, y_test)
        S = self._solve(Gt.T).T
        infl = _inf.influence_scores(S, self._G).numpy()
        return self._ranked(infl, test_ids, top)

    def _ranked(self, infl: np.ndarray, test_ids: pd.Index, top: int | None) -> pd.DataFrame:
        T = infl.shape[0]
        order = np.argsort(-np.abs(infl), axis=1, kind="stable")
        if top is not None:
            if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
                raise ValueError(f"top must be a positive integer or None; got {top!r}.")
            order = order[:, : int(top)]
        m = order.shape[1]
        vals = np.take_along_axis(infl, order, axis=1).ravel()
        if self.target == "loss":
            effect = np.where(vals < 0, "helpful", "harmful")
        else:
            effect = np.where(vals > 0, "raises", "lowers")
        index = pd.MultiIndex.from_arrays(
            [np.repeat(np.asarray(test_ids), m), np.asarray(self.train_ids_)[order.ravel()]],
            names=["test", "train"],
        )
        return pd.DataFrame(
            {
                "influence": vals,
                "loo_change": -vals / self.n_samples_,
                "effect": pd.Categorical(effect),
                "rank": np.tile(np.arange(1, m + 1), T),
            },
            index=index,
        )

    def perturbation_influence(
        self, X_test, y_test=None, *, top: int | None = None
    ) -> pd.DataFrame:
        r"""Influence of perturbing each training row's inputs, :math:`\mathcal I_{\mathrm{pert}}`.

        :math:`\mathcal I_{\mathrm{pert}}(z_i, q_t)_j = -\nabla q_t^\top H^{-1}
        \partial_{x_{ij}} \nabla_\theta \ell(z_i)`, in the user's units of variable ``j``.
        Raising :math:`x_{ij}` by :math:`\delta` and refitting changes :math:`q_t` by about
        :math:`\delta\,\mathcal I_{\mathrm{pert}}/n` (the ``change_per_unit`` column).

        Returns
        -------
        pandas.DataFrame
            Index ``(test, train, variable)``; columns ``influence``, ``change_per_unit``,
            ``rank`` (1 = largest ``|influence|`` for that test row), sorted by test row and
            rank; ``top`` keeps the first rows per test row.
        """
        Gt, test_ids = self._test_gradients(X_test, y_test)
        S = self._solve(Gt.T).T
        scale = self.network_.input_scale
        M = _inf.perturbation_influence(
            self._obj,
            self._theta,
            self._Z,
            self._Y,
            S,
            input_scale=scale,
            memory_budget_mb=self.memory_budget_mb,
        ).numpy()  # (T, n, p)
        T, n, p = M.shape
        flat = M.reshape(T, n * p)
        order = np.argsort(-np.abs(flat), axis=1, kind="stable")
        if top is not None:
            if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
                raise ValueError(f"top must be a positive integer or None; got {top!r}.")
            order = order[:, : int(top)]
        m = order.shape[1]
        vals = np.take_along_axis(flat, order, axis=1).ravel()
        rows, cols = np.divmod(order.ravel(), p)
        names = np.asarray(self.network_.feature_names, dtype=object)
        index = pd.MultiIndex.from_arrays(
            [np.repeat(np.asarray(test_ids), m), np.asarray(self.train_ids_)[rows], names[cols]],
            names=["test", "train", "variable"],
        )
        return pd.DataFrame(
            {
                "influence": vals,
                "change_per_unit": vals / self.n_samples_,
                "rank": np.tile(np.arange(1, m + 1), T),
            },
            index=index,
        )

    # ------------------------------------------------------------------ reports
    def summary(self, top: int = 10, digits: int = 4) -> str:
        """Text report: the model, penalty, fit diagnostics and the ``top`` self-influences."""
        check_is_fitted(self, "self_influence_")
        lo, hi = self.hessian_eigenvalues_
        rows = [
            ("Method", "influence functions (Koh & Liang 2017)"),
            ("Model", adapters.describe_model(self.estimator_)),
            ("No. training rows", str(self.n_samples_)),
            ("No. parameters", str(self.n_params_)),
            ("Objective", f"mean {self._obj.loss} + alpha/(2n) ||W||^2, alpha = {self.alpha_:g}"),
            ("Damping", f"{float(self.damping):g}"),
            ("Solver", self.solver_),
            ("Target", self.target),
            (
                "Gradient norm",
                f"{self.gradient_norm_:.3g} ({self.stationarity_ratio_:.3g} x one row's "
                f"gradient; tolerance {self.stationarity_tol:g})",
            ),
        ]
        if self.solver_ == "exact":
            rows.append(("Hessian eigenvalues", f"smallest {lo:.4g}, largest {hi:.4g}"))
            if self.n_flat_directions_:
                rows.append(
                    (
                        "Flat directions",
                        f"{self.n_flat_directions_} (zero curvature, no row's loss moves along "
                        "them: left out by the pseudo-inverse)",
                    )
                )
        if self.polish_ is not None and self.polish_["n_iter"] == 0:
            rows.append(("Polished", "no improvement found; the fitted weights are kept"))
        elif self.polish_ is not None:
            p = self.polish_
            rows.append(
                (
                    "Polished",
                    f"{p['n_iter']} L-BFGS iterations: objective {p['objective_before']:.6g} -> "
                    f"{p['objective_after']:.6g}, gradient norm {p['gradient_norm_before']:.3g}"
                    f" -> {p['gradient_norm_after']:.3g}",
                )
            )
        key_w = max(len(k) for k, _ in rows)
        head = [f"{k + ':':<{key_w + 1}} {v}" for k, v in rows]
        table = self.self_influence_.head(int(top)).round(digits).to_string()
        width = max([len(line) for line in head + table.splitlines()] + [60])
        lines = ["Sample influence".center(width), "=" * width, *head, "=" * width]
        lines.append(f"Largest self-influence (top {min(int(top), self.n_samples_)}):")
        lines.append(table)
        lines.append("=" * width)
        if self.stationarity_ratio_ > self.stationarity_tol:
            lines.append("Warning: not at a stationary point; influences may be wrong.")
        return "\n".join(lines)

    def plot_influence(self, X_test, y_test=None, *, test=None, n: int = 10, ax=None):
        """Most helpful and harmful training rows for one test row (:func:`plot_influence`)."""
        frame = self.influence(X_test, y_test)
        return plot_influence(frame, test=test, n=n, ax=ax)

    def plot_self_influence(self, *, highlight=None, highlight_label="highlighted", ax=None):
        """Self-influence against training loss (:func:`plot_self_influence`)."""
        check_is_fitted(self, "self_influence_")
        return plot_self_influence(
            self.self_influence_, highlight=highlight, highlight_label=highlight_label, ax=ax
        )


# ---------------------------------------------------------------------- plots
def plot_influence(frame: pd.DataFrame, *, test=None, n: int = 10, ax=None):
    """Horizontal bars: the ``n`` most helpful and ``n`` most harmful training rows for one
    test row, by their predicted leave-one-out change (``loo_change``).

    Parameters
    ----------
    frame : DataFrame
        The output of :meth:`SampleInfluence.influence`.
    test : label, optional
        The test row (default: the first).
    n : int
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    tests = frame.index.get_level_values("test")
    if test is None:
        test = tests[0]
    if test not in set(tests):
        raise ValueError(f"Test row {test!r} is not in the frame.")
    block = frame.xs(test, level="test")
    loss_target = set(block["effect"].astype(str)) <= {"helpful", "harmful"}
    pos_label, neg_label = ("helpful", "harmful") if loss_target else ("lowers", "raises")
    pos = block[block["loo_change"] > 0].nlargest(n, "loo_change")
    neg = block[block["loo_change"] < 0].nsmallest(n, "loo_change")
    rows = pd.concat([neg.iloc[::-1], pos.iloc[::-1]]) if len(neg) else pos.iloc[::-1]
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.3 * max(len(rows), 4) + 1.2))
    else:
        fig = ax.figure
    y = np.arange(len(rows))
    vals = rows["loo_change"].to_numpy()
    is_pos = vals > 0
    ax.barh(y[is_pos], vals[is_pos], color="0.25", edgecolor="black", label=pos_label)
    ax.barh(
        y[~is_pos], vals[~is_pos], color="white", edgecolor="black", hatch="///", label=neg_label
    )
    ax.set_yticks(y, [str(i) for i in rows.index])
    ax.axvline(0.0, color="black", linewidth=0.8)
    what = "test loss" if loss_target else "prediction"
    ax.set_xlabel(f"predicted change of the {what} if the row is left out")
    ax.set_ylabel("training row")
    ax.set_title(f"Most influential training rows for test row {test}")
    ax.legend(loc="best", frameon=False)
    fig.tight_layout()
    return fig


def plot_self_influence(
    frame: pd.DataFrame, *, highlight=None, highlight_label: str = "highlighted", ax=None
):
    """Scatter of each training row's self-influence against its training loss.

    Parameters
    ----------
    frame : DataFrame
        ``SampleInfluence.self_influence_``.
    highlight : array-like of labels or bool mask (in ``frame``'s row order), optional
        Rows drawn as black crosses (e.g. known mislabelled rows).
    highlight_label : str
        Legend entry of the highlighted rows.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
    else:
        fig = ax.figure
    mask = np.zeros(len(frame), dtype=bool)
    if highlight is not None:
        h = np.asarray(highlight)
        mask = h.astype(bool) if h.dtype == bool else np.asarray(frame.index.isin(h))
        if mask.shape != (len(frame),):
            raise ValueError("highlight must be labels of the frame or a mask of its length.")
    x, y = frame["loss"].to_numpy(), frame["self_influence"].to_numpy()
    ax.scatter(x[~mask], y[~mask], s=14, facecolors="none", edgecolors="0.35", label="rows")
    if mask.any():
        ax.scatter(x[mask], y[mask], s=28, marker="x", color="black", label=highlight_label)
        ax.legend(loc="best", frameon=False)
    ax.set_xlabel("training loss of the row")
    ax.set_ylabel(r"self-influence $\nabla\ell_i^\top H^{-1}\nabla\ell_i$")
    ax.set_title("Self-influence of the training rows")
    fig.tight_layout()
    return fig
