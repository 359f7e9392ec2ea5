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

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, _fit_context, clone
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _influence_support as _sup
from . import adapters
from ._influence_plots import plot_influence, plot_self_influence
from ._warnings import warn
from .methods import influence as _inf
from .methods.influence_solvers import cg_solve, eigen_pseudo_inverse

__all__ = [
    "NotStationaryWarning",
    "SampleInfluence",
    "plot_influence",
    "plot_self_influence",
]


class NotStationaryWarning(UserWarning):
    """The fitted weights are not at a stationary point of the penalised objective."""


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
    hessian : {"exact", "gauss-newton"}, default="exact"
        The curvature matrix :math:`H`. ``"exact"``: the Hessian of the penalised objective
        (the influence-function formula; needs a strict local minimum). ``"gauss-newton"``:
        the generalised Gauss-Newton matrix :math:`n^{-1}\sum_i J_i^\top \Lambda_i J_i +
        (\alpha/n) I_W` (:math:`J_i` the Jacobian of the output logits, :math:`\Lambda_i` the
        loss's curvature in the logits; the Fisher information for log-losses), positive
        semi-definite everywhere: usable for ReLU networks and fits whose Hessian is
        indefinite, an approximation of leave-one-out retraining that drops the
        residual-times-curvature term of the Hessian (see the user guide for its accuracy).
        Its numerically zero eigenvalues are left out (pseudo-inverse).
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
        The undamped curvature matrix, Hessian or Gauss-Newton (exact solver).
    hessian_eigenvalues_ : tuple (smallest, largest)
        Of the damped Hessian (exact solver; NaN with CG).
    self_influence_ : pandas.DataFrame
        Per training row: ``self_influence`` (:math:`\nabla\ell_i^\top H^{-1}\nabla\ell_i`),
        ``loo_self_change`` (its ``/n``: predicted rise of the row's own loss when left out),
        ``loss``, ``loo_loss`` (``loss + loo_self_change``: the row's predicted
        leave-one-out loss, to first order), ``rank`` (1 = largest self-influence), sorted by
        rank. To screen for mislabelled rows, sort by ``loo_loss``: over 30 data sets it found
        as many flipped labels as the training loss or more, the self-influence alone fewer
        (user guide).
    n_flat_directions_ : int
        Eigenvalues of the damped Hessian at zero (at most :math:`10^{-10}` times the largest)
        that no training row's gradient has a component along, left out by the
        pseudo-inverse (exact solver). With ``hessian="gauss-newton"`` every such eigenvalue
        is left out: units that barely reach the output give the Gauss-Newton matrix
        numerically zero curvature.
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

    # scikit-learn's parameter validation (``_fit_context``); counts exclude bools
    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["predict"]), torch.nn.Module, None],
        "prefit": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"estimator"})],
        "damping": [Interval(Real, 0, None, closed="left")],
        "hessian": [StrOptions({"exact", "gauss-newton"})],
        "solver": [StrOptions({"auto", "exact", "cg"})],
        "target": [StrOptions({"loss", "prediction"})],
        "output": "no_validation",  # checked against the outputs when influences are asked
        "polish": [bool, _sup.Count(0)],
        "stationarity_tol": [Interval(Real, 0, None, closed="neither")],
        "max_exact_params": [_sup.Count(1)],
        "cg_tol": [Interval(Real, 0, None, closed="neither")],
        "cg_max_iter": [_sup.Count(1), None],
        "memory_budget_mb": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        estimator,
        *,
        prefit: bool = True,
        alpha: float | str = "estimator",
        damping: float = 0.0,
        hessian: str = "exact",
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
        self.hessian = hessian
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
    def _resolve_alpha(self, model) -> float:
        if isinstance(self.alpha, str):  # "estimator" (the parameter constraints)
            final = _sup.final_step(model)
            if isinstance(final, MLPRegressor | MLPClassifier):
                return float(final.alpha)
            raise ValueError(
                f"alpha='estimator' reads a scikit-learn MLP's penalty; a {type(final).__name__} "
                "carries none. Pass alpha= the L2 penalty the network was trained with, in "
                "scikit-learn's units (alpha / (2 n) * ||W||^2 added to the mean loss)."
            )
        return float(self.alpha)

    def _encode_y(self, y, n_rows: int) -> np.ndarray:
        return _sup.encode_targets(self.estimator_, self.network_, y, n_rows)

    def _tensor(self, a) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64)

    def _inputs(self, X) -> torch.Tensor:
        return self.network_.transform_inputs(self._tensor(X))

    def _row_ids(self, X, n: int) -> pd.Index:
        if isinstance(X, pd.DataFrame | pd.Series):
            return pd.Index(X.index)
        return pd.RangeIndex(n)

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=False)  # validates the parameters first
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
        if self.estimator is None:
            raise ValueError("SampleInfluence needs an estimator (a fitted network).")
        X_arr = validate_data(self, X, reset=True, dtype=np.float64, ensure_all_finite=True)
        if y is None:
            raise ValueError("SampleInfluence.fit needs y (the training targets).")
        self._read_model(X, y, X_arr, fit_params)
        with _sup.threads_for(self.n_samples_, self.n_params_):
            self._theta = _inf.flatten_parameters(self.network_)
            self.polish_ = None
            if self.polish:
                self._polish(1000 if self.polish is True else int(self.polish))
            self._gradients()
            if self.stationarity_ratio_ > self.stationarity_tol:
                warn(
                    "The network is not at a stationary point of its penalised training "
                    f"objective (alpha={self.alpha_:g}): ||grad J|| = {self.gradient_norm_:.3g}, "
                    f"{self.stationarity_ratio_:.3g} times the gradient one training row adds "
                    f"(median ||grad l_i|| / n = {self._row_scale:.3g}). Influence functions "
                    "assume a minimum; their values may be wrong. Pass polish=True (or a number "
                    "of iterations) to continue the training from the fitted weights with the "
                    "batched L-BFGS trainer, or refit to convergence (solver='lbfgs', small tol, "
                    "large max_iter), with the same alpha and data.",
                    NotStationaryWarning,
                )
            self._prepare_solver()
            self._self_influence()
        return self

    def _read_model(self, X, y, X_arr: np.ndarray, fit_params: dict) -> None:
        """The fitted network, its penalty, the objective and the data as tensors."""
        n = int(X_arr.shape[0])
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
            warn(
                f"The model has no L2 penalty (alpha=0): the influences use the Hessian damped "
                f"by {self.damping:g}, an approximation of leave-one-out retraining.",
                UserWarning,
            )
        self.n_samples_ = n
        self.n_params_ = self._obj.n_params
        self.train_ids_ = self._row_ids(X, n)
        self._Z = self._inputs(X_arr)
        self._Y = self._tensor(self._encode_y(y, n))

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
        self.polish_, self._theta, self.estimator_, self.network_ = _sup.polish_weights(
            self._obj,
            self._theta,
            self._Z,
            self._Y,
            self.estimator_,
            self.network_,
            self.alpha_,
            max_iter,
        )

    def _curvature_name(self) -> str:
        return "Hessian" if self.hessian == "exact" else "Gauss-Newton matrix"

    def _prepare_solver(self) -> None:
        solver = self.solver
        if solver == "auto":
            solver = "exact" if self.n_params_ <= self.max_exact_params else "cg"
        self.solver_ = solver
        self.hessian_ = None
        self.hessian_eigenvalues_ = (float("nan"), float("nan"))
        self.n_flat_directions_ = 0
        if solver == "cg":
            return
        obj, th, Z, budget = self._obj, self._theta, self._Z, self.memory_budget_mb
        if self.hessian == "exact":
            C = _inf.hessian(obj, th, Z, self._Y, memory_budget_mb=budget)
        else:
            C = _inf.gauss_newton(obj, th, Z, memory_budget_mb=budget)
        self.hessian_ = C.numpy()
        gn = self.hessian == "gauss-newton"
        eig = eigen_pseudo_inverse(C, float(self.damping), self._G, semi_definite=gn)
        lo, hi = eig.smallest, eig.largest
        self.hessian_eigenvalues_ = (lo, hi)
        if not eig.positive_definite:
            tiny = 1e-10 * max(abs(hi), 1.0)
            what = "singular" if lo >= -tiny else "not positive definite"
            raise ValueError(
                f"The damped Hessian (damping={float(self.damping):g}) is {what}: smallest "
                f"eigenvalue {lo:.3g}, largest {hi:.3g}, {eig.n_flat} eigenvalue(s) <= "
                f"{tiny:.2g} along which training rows' gradients move. The network is not at "
                f"a strict local minimum of its penalised objective (alpha={self.alpha_:g}). "
                f"Pass damping > {max(-lo, 0.0) + 1e-6 * max(abs(hi), 1.0):.3g}, polish the "
                "fit (polish=True), refit with a larger alpha, or use hessian='gauss-newton' "
                "(positive semi-definite everywhere)."
            )
        # zero-curvature directions no row's loss moves along (the unpenalised bias of a
        # hidden unit the penalty switched off) carry no influence: left out. The
        # Gauss-Newton matrix's are left out whatever the gradients (pseudo-inverse): its
        # near-zero curvature comes from units that barely reach the output, not from the fit
        self.n_flat_directions_ = eig.n_flat
        self._eig = eig

    def _matvec(self, V: torch.Tensor) -> torch.Tensor:
        obj, th, Z, budget = self._obj, self._theta, self._Z, self.memory_budget_mb
        if self.hessian == "exact":
            CV = _inf.hessian_vector_product(obj, th, Z, self._Y, V, memory_budget_mb=budget)
        else:
            CV = _inf.gauss_newton_vector_product(obj, th, Z, V, memory_budget_mb=budget)
        return CV + float(self.damping) * V

    def _solve(self, B: torch.Tensor) -> torch.Tensor:
        """``(C + damping I)^{-1} B`` for ``B (P, m)``, C the curvature matrix."""
        if self.solver_ == "exact":
            return self._eig.solve(B)
        res = cg_solve(self._matvec, B, tol=self.cg_tol, max_iter=self.cg_max_iter)
        if not res.converged:
            warn(
                f"Conjugate gradients stopped after {res.n_iter} iterations with relative "
                f"residual up to {float(res.residual.max()):.3g} (cg_tol={self.cg_tol:g}); "
                "raise cg_max_iter or damping.",
                UserWarning,
            )
        return res.x

    def _self_influence(self) -> None:
        G = self._G
        if self.solver_ == "exact":
            si = self._eig.quadratic_forms(G)
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
                "loo_loss": self.train_loss_ + si / self.n_samples_,
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
        if isinstance(out, Integral) and not isinstance(out, bool):
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

    def _solved_tests(self, X_test, y_test) -> tuple[torch.Tensor, pd.Index]:
        """``(C + damping I)^{-1} grad q_t`` for the test rows, ``(T, P)``, and their labels."""
        Gt, ids = self._test_gradients(X_test, y_test)
        return self._solve(Gt.T).T, ids

    def influence_matrix(self, X_test, y_test=None) -> np.ndarray:
        r"""The influences :math:`\mathcal I_{\mathrm{up}}(z_i, q_t)` as an array ``(T, n)``.

        Row ``t``: test row ``t``; column ``i``: training row ``i`` (order of ``fit``).
        The predicted change of :math:`q_t` when row :math:`i` is left out is minus this
        divided by ``n_samples_``.
        """
        with _sup.threads_for(self.n_samples_, self.n_params_):
            S, _ = self._solved_tests(X_test, y_test)
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
        with _sup.threads_for(self.n_samples_, self.n_params_):
            S, test_ids = self._solved_tests(X_test, y_test)
            infl = _inf.influence_scores(S, self._G).numpy()
        return _sup.ranked_influence(
            infl, test_ids, self.train_ids_, self.n_samples_, self.target, top
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
        with _sup.threads_for(self.n_samples_, self.n_params_):
            S, test_ids = self._solved_tests(X_test, y_test)
            M = _inf.perturbation_influence(
                self._obj,
                self._theta,
                self._Z,
                self._Y,
                S,
                input_scale=self.network_.input_scale,
                memory_budget_mb=self.memory_budget_mb,
            ).numpy()  # (T, n, p)
        return _sup.ranked_perturbation(
            M, test_ids, self.train_ids_, self.network_.feature_names, top
        )

    # ------------------------------------------------------------------ reports
    def summary(self, top: int = 10, digits: int = 4) -> str:
        """Text report: the model, penalty, fit diagnostics and the ``top`` self-influences."""
        check_is_fitted(self, "self_influence_")
        return _sup.summary_text(self, top, digits)

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
