"""The plain functions: :func:`attributions` and one function per method."""

from __future__ import annotations

from collections.abc import Sequence

from ._compute import _compute, _local_result, _Options
from ._inputs import _check_method, _gather, _resolve_target, _rows, _view
from ._local import LocalAttributions


def attributions(
    model,
    X,
    method: str = "integrated_gradients",
    *,
    target=None,
    baseline="mean",
    background=None,
    n_baselines: int = 20,
    n_steps="auto",
    integration: str = "auto",
    tolerance: float = 1e-3,
    n_samples: int = 50,
    noise_level: float = 0.15,
    stdevs=None,
    noise=None,
    absolute: bool | None = None,
    logits: bool = False,
    random_state=None,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    memory_budget_mb: float | None = None,
) -> LocalAttributions:
    r"""Per-row attributions of a fitted model.

    Parameters
    ----------
    model : fitted model
        Gradient methods: a scikit-learn ``MLPRegressor``/``MLPClassifier``, a Pipeline of
        affine scalers ending in one, a torch ``nn.Sequential`` MLP (analytic derivatives) or
        any torch ``nn.Module`` (autograd). Occlusion: any fitted predictor.
    X : array-like or DataFrame of shape (n_rows, n_features)
        The rows to explain, in the user's units.
    method : str, default="integrated_gradients"
        One of ``"saliency"``, ``"gradient_x_input"``,
        ``"smoothgrad"``, ``"integrated_gradients"``, ``"occlusion"``.
    target : None, label, int or "predicted"
        Output(s) to explain (module docstring): None = all.
    baseline : {"mean", "median", "zeros", "sample"}, number or array
        Integrated Gradients and occlusion: the reference input :math:`x'`; shape ``(p,)`` or
        ``(n_rows, p)`` for arrays.
    background : array-like of shape (m, n_features), optional
        Training rows for the ``"mean"``/``"median"``/``"sample"`` baselines and the SmoothGrad
        noise scale (default: ``X``).
    n_baselines : int, default=20
        Rows drawn for ``baseline="sample"``.
    n_steps : int or "auto", default="auto"
        Integrated Gradients quadrature steps (at least 1; 2 for the trapezoidal rule).
    integration : str, default="auto"
        Quadrature rule: captum's ``method`` names (``"gausslegendre"``, ``"riemann_left"``,
        ..., see :func:`sensitivity.methods.attributions.integration_rule`) or
        ``"piecewise_gausslegendre"`` (Gauss-Legendre with ``n_steps`` nodes on each piece of
        the path between the kinks of an MLP's first hidden layer: exact with one node for one
        relu hidden layer and a linear output). ``"auto"``: piecewise for MLPs whose first
        hidden layer is relu, else Gauss-Legendre.
    tolerance : float, default=1e-3
        Largest acceptable relative completeness gap (:func:`relative_gap`): ``"auto"`` steps
        aim below it; above it, a warning.
    n_samples : int, default=50
        SmoothGrad noisy copies per row.
    noise_level : float, default=0.15
        SmoothGrad noise standard deviation as a fraction of each variable's range in
        ``background`` (Smilkov et al. 2017 recommend 10-20 %).
    stdevs : float or array-like of shape (n_features,), optional
        SmoothGrad noise standard deviations in the variables' units (overrides
        ``noise_level``).
    noise : array-like of shape (n_samples, n_rows, n_features), optional
        SmoothGrad noise draws to use as given.
    absolute : bool, optional
        Saliency: absolute gradients (default True, as Simonyan et al. and captum); SmoothGrad:
        average absolute gradients (default False: signed).
    logits : bool, default=False
        Gradient methods on an MLP: explain the output layer's pre-activation (classifier
        logits) instead of the probabilities.
    random_state : int, RandomState or None
        Seeds the baseline sample and the SmoothGrad noise.
    feature_names, output_names : sequence of str, optional
    memory_budget_mb : float, optional
        Memory budget in MiB for the temporaries of one chunk of rows (never changes the
        result).

    Returns
    -------
    LocalAttributions
    """
    method = _check_method(method)
    Xa, feature_names = _rows(model, X, feature_names)
    view = _view(model, method, feature_names, output_names, Xa.shape[1])
    p = len(view.feature_names) if view.feature_names is not None else Xa.shape[1]
    if Xa.shape[1] != p:
        raise ValueError(f"X has {Xa.shape[1]} columns but the model has {p} inputs.")
    names = tuple(view.feature_names) if view.feature_names is not None else None
    if names is None:
        names = (
            tuple(feature_names) if feature_names is not None else tuple(f"x{i}" for i in range(p))
        )
    sel, row_index, row_sign, onames, targets = _resolve_target(view, model, target, Xa, logits)
    opts = _Options(
        baseline=baseline,
        background=background,
        n_baselines=n_baselines,
        n_steps=n_steps,
        integration=integration,
        tolerance=tolerance,
        n_samples=n_samples,
        noise_level=noise_level,
        stdevs=stdevs,
        noise=noise,
        absolute=absolute,
        logits=logits,
        random_state=random_state,
        memory_budget_mb=memory_budget_mb,
    )
    res = _compute(view, Xa, method, sel, opts)

    def one(a, complement=False):
        return _gather(a[0], row_index, row_sign, complement=complement)

    return _local_result(method, res, Xa, names, onames, one, targets)


def saliency(model, X, *, target=None, absolute: bool = True, logits: bool = False, **kwargs):
    r"""Saliency (Simonyan et al. 2014): :math:`|\partial f_k / \partial x_i|` at each row.

    ``absolute=False`` keeps the sign (the plain input gradient). See :func:`attributions`
    for the other parameters.
    """
    return attributions(
        model, X, "saliency", target=target, absolute=absolute, logits=logits, **kwargs
    )


def gradient_x_input(model, X, *, target=None, logits: bool = False, **kwargs):
    r"""Gradient x input (Shrikumar et al. 2016): :math:`x_i\, \partial f_k / \partial x_i`.

    See :func:`attributions` for the parameters.
    """
    return attributions(model, X, "gradient_x_input", target=target, logits=logits, **kwargs)


def smoothgrad(
    model,
    X,
    *,
    target=None,
    n_samples: int = 50,
    noise_level: float = 0.15,
    stdevs=None,
    noise=None,
    absolute: bool = False,
    random_state=None,
    **kwargs,
):
    r"""SmoothGrad (Smilkov et al. 2017): gradients averaged over noisy copies of each row.

    :math:`S^{-1} \sum_s \partial f_k(x + \varepsilon_s) / \partial x_i` with
    :math:`\varepsilon_{si} \sim N(0, \sigma_i^2)`, :math:`\sigma_i` = ``noise_level`` times
    the range of variable :math:`i` in ``background`` (or ``stdevs``). See
    :func:`attributions` for the parameters.
    """
    return attributions(
        model,
        X,
        "smoothgrad",
        target=target,
        n_samples=n_samples,
        noise_level=noise_level,
        stdevs=stdevs,
        noise=noise,
        absolute=absolute,
        random_state=random_state,
        **kwargs,
    )


def integrated_gradients(
    model,
    X,
    *,
    target=None,
    baseline="mean",
    n_steps="auto",
    integration: str = "auto",
    tolerance: float = 1e-3,
    **kwargs,
):
    r"""Integrated Gradients (Sundararajan, Taly & Yan 2017) with the completeness gap.

    :math:`\mathrm{IG}_i(x) = (x_i - x'_i) \int_0^1 \partial f(x' + \alpha (x - x')) /
    \partial x_i \, d\alpha`, by quadrature; the result's ``completeness_gap`` is
    :math:`\sum_i \mathrm{IG}_i - (f(x) - f(x'))` per row. ``n_steps="auto"`` picks the steps
    from the gap; a warning gives the measured gap when it exceeds ``tolerance``. See
    :func:`attributions` for the parameters.
    """
    return attributions(
        model,
        X,
        "integrated_gradients",
        target=target,
        baseline=baseline,
        n_steps=n_steps,
        integration=integration,
        tolerance=tolerance,
        **kwargs,
    )


def occlusion(model, X, *, target=None, baseline="mean", **kwargs):
    r"""Occlusion (Zeiler & Fergus 2014): :math:`f(x) - f(x \text{ with } x_i \leftarrow x'_i)`.

    Works for any fitted predictor. See :func:`attributions` for the parameters.
    """
    return attributions(model, X, "occlusion", target=target, baseline=baseline, **kwargs)
