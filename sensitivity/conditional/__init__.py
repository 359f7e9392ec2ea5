"""Conditional models of one input given the others, and draws from them.

A conditional test of variable :math:`x_j` (``docs/architecture.rst``) replaces :math:`x_j` by
draws :math:`\\tilde x_j \\sim P(x_j \\mid x_{-j})` and compares a statistic computed with the real
column against the same statistic computed with the draws. Under
:math:`H_{0j}: y \\perp x_j \\mid x_{-j}` the real column is exchangeable with the draws, so the
comparison gives an exact-in-the-limit p-value: the conditional randomization test of Candès,
Fan, Janson & Lv (2018) retrains on the drawn columns, the holdout randomization test of Tansey,
Veitch, Zhang, Rabadan & Blei (2022) evaluates a fitted model on held-out rows with drawn columns.
Both need a model of :math:`x_j \\mid x_{-j}`; this module fits one per requested column.

Kinds of model (``kind``):

``"gaussian"``
    Linear regression with intercept of :math:`x_j` on the other columns,
    :math:`x_j = \\beta_0 + x_{-j}^\\top\\beta + \\varepsilon`, fitted by least squares on the
    standardized other columns (a minimum-norm solution if the *other* columns are collinear
    among themselves: the fitted values, the only thing the draws use, are still the unique
    projection; ``ridge`` adds :math:`\\lambda I` to the standardized Gram matrix if asked).
    Draws are fitted values plus residuals resampled:

    * in-sample (the rows the model was fitted on): each draw is the fitted values plus a
      *permutation* of the fitted residuals :math:`\\hat\\varepsilon`, projected onto the
      orthogonal complement of :math:`\\mathrm{span}(1, x_{-j})` and rescaled to the norm of
      :math:`\\hat\\varepsilon`. Every draw then has exactly the real column's fitted values
      and residual sum of squares, the sufficient statistics of the gaussian linear model: only
      the direction of the residual varies, as it does under the model (conditioning on
      sufficient statistics: Huang & Janson 2020, Ann. Statist. 48). Raw permuted residuals
      are not orthogonal to :math:`x_{-j}`, so their draws had a larger part explained by the
      other inputs and a smaller unique part than the real column (by about :math:`p/n`); a
      network can tell the difference, which made the test liberal with strongly correlated
      inputs (Toeplitz-0.8, ``benchmarks/bench_conditional.py``). The observed column is
      itself one of the draws (the identity permutation), and the permuted residuals keep the
      empirical residual distribution approximately (exactly before the projection).
      ``"gaussian-normal"`` draws are made the same way from normal noise, which makes them
      exact under the gaussian linear model (uniform residual direction).
    * new rows: fitted values :math:`\\hat\\beta_0 + z^\\top\\hat\\beta` plus residuals drawn
      with replacement, again unscaled, i.e. with the maximum-likelihood variance
      :math:`\\mathrm{RSS}/n`, whose expectation is :math:`\\sigma^2(1 - p/n)` (``p``
      coefficients with the intercept). The fitted mean of a new row is off by
      :math:`(\\hat\\beta - \\beta)^\\top z`, whose mean square over new rows is about
      :math:`\\sigma^2 p/n`; the two add up to :math:`\\sigma^2`, so a draw's expected squared
      distance from the true conditional mean equals the real column's. Scaling the residuals
      by :math:`\\sqrt{n/(n-p)}` (the unbiased :math:`\\hat\\sigma^2`) would over-disperse
      the draws by about :math:`2p/n`, which a sensitive model can tell from the real column.
      ``ConditionalModel.new_row_scale`` holds the factor (1).

    ``r2`` is the ordinary :math:`R^2 = 1 - \\mathrm{RSS}/\\mathrm{TSS}`.
``"gaussian-normal"``
    The same regression with normal noise :math:`N(0, \\hat\\sigma^2)`,
    :math:`\\hat\\sigma^2 = \\mathrm{RSS}/n` (maximum likelihood, for the reasons above),
    on new rows; in-sample the noise is projected and rescaled as above.
``"logistic"``
    A column with two distinct values :math:`v_0 < v_1`: logistic regression of
    :math:`1\\{x_j = v_1\\}` on the standardized other columns (scikit-learn
    ``LogisticRegression`` with a large ``C``, i.e. essentially unpenalised; the finite ``C``
    keeps the fit defined under quasi-separation). A column whose levels the fit classifies
    without error (complete separation: the unpenalised fit would give probabilities 0 and 1
    and draws equal to the column) is an error. Draws are Bernoulli(:math:`\\hat\\pi(z)`) mapped
    back to :math:`v_0, v_1`.
``"multinomial"``
    An integer-coded categorical column with at most ``max_levels`` levels (asked for, or chosen
    by ``"auto"``): multinomial logistic regression, draws from the predicted class
    probabilities.

    For both, ``r2`` is McFadden's pseudo-:math:`R^2 = 1 - \\ell(\\hat\\theta) / \\ell_0`, the
    log-likelihood of the fit against that of the intercept-only model (the observed level
    frequencies).
``"boosting"``
    A continuous column whose mean or spread depends on the other inputs in a way a linear
    regression misses (:math:`x_2 = x_1^2 - 1 + \\varepsilon`; heavy tails whose scale
    depends on the other inputs, as in a multivariate :math:`t`; heteroscedastic noise). The
    rows are split into ``n_folds`` folds (``K``, default 5); for fold :math:`k` the model is
    fitted on the other folds.

    * Mean: :math:`m(z) = b(z) + T(z)`: a least-squares base :math:`b`, linear in the
      standardized other columns or linear plus their squares (no interactions), whichever has
      the smaller out-of-fold squared error, plus gradient-boosted regression trees :math:`T`
      fitted to its residuals (Friedman 2001; scikit-learn ``HistGradientBoostingRegressor``,
      trees of at most 8 leaves, learning rate 0.2, at most 40 trees). The number of trees is
      chosen from 0 (the base alone) by the out-of-fold squared error, then the model is
      refitted on all rows with that number. The smooth base spares the trees approximating a
      smooth trend by steps (a classifier told the step error of :math:`x_1^2` from the real
      column in 0.23 of data sets at n = 300 with a linear base alone).
    * Out-of-fold residuals :math:`e_i = x_{ij} - m_{-k(i)}(z_i)`: the fit of row :math:`i`
      did not see row :math:`i`, so the residuals are not shrunk by overfitting (in-sample
      residuals of boosted trees are).
    * Scale: :math:`s(z)`, boosted depth-2 trees of :math:`|e|` on :math:`z`, the fitted mean
      and the Mahalanobis distance of :math:`z` (the conditional scale of an elliptical law,
      e.g. the multivariate :math:`t`, is a function of it), their number again chosen out of
      fold (0: a constant scale, i.e. homoscedastic), floored at 5% of the mean :math:`|e|`.
      Standardized residuals :math:`u_i = e_i / s_{-k(i)}(z_i)` keep the residual law's shape
      (heavy tails, skewness).
    * Draws on new rows: :math:`m(z) + s(z)\\,u^*`, :math:`u^*` drawn with replacement from the
      :math:`u_i`. Because the residuals are held-out ones, their spread includes the error of
      the fitted mean (the draws are slightly over-dispersed, by the mean's estimation
      variance; the gaussian kind's in-sample residuals are instead slightly shrunk).
    * In-sample draws (the rows the model was fitted on): row :math:`i` gets
      :math:`m_{-k(i)}(z_i) + s_{-k(i)}(z_i)\\,u_{\\pi(i)}` for a random permutation
      :math:`\\pi` of the rows: the cross-fitted mean and scale (which did not see row
      :math:`i`) and a permutation of the standardized residuals, so the empirical residual law
      is kept exactly and the real column is one of the draws (the identity permutation), as
      for the gaussian kind.

    ``r2`` is the held-out :math:`R^2 = 1 - \\sum_i e_i^2 / \\mathrm{TSS}`. A column with
    held-out :math:`R^2 \\ge 0.99` counts as determined by the others
    (:class:`UntestableVariableError`): its residuals are then mostly the trees' approximation
    error, not noise, so draws built from them are not draws of the column. The rule only sees
    what the trees learn: an exact smooth function of continuous inputs, learnt from few rows,
    is predicted worse (held-out :math:`R^2` 0.52-0.96 measured for
    :math:`\\sin(2x_0) + x_1^2`, :math:`x_0^2`, :math:`e^{x_0}`, :math:`x_0 x_1` at n = 100-1000)
    and then passes as a noisy column; a function of coded (few-level) inputs is caught.
``"classifier"``
    A discrete column (at most ``max_levels`` levels): gradient-boosted classification trees
    (scikit-learn ``HistGradientBoostingClassifier``) of the level on the other inputs, the
    number of trees chosen from 0 (the level frequencies) by the out-of-fold log-loss. Draws
    take the observed levels only, with the predicted probabilities: on new rows those of the
    full fit, in-sample the out-of-fold ones (a boosted fit is over-confident on its own rows).
    ``r2`` is the held-out McFadden pseudo-:math:`R^2`; levels that the out-of-fold
    probabilities predict without error on every row are an :class:`UntestableVariableError`.
``"custom"``
    A user sampler ``sampler(X, j, rng, n_draws) -> (n_draws, n_rows)``; ``r2`` is NaN.

``kinds="auto"`` chooses per column by held-out fit. A column with two distinct values, or with
integer values and at most ``max_levels`` (10) distinct ones, is *discrete* and is drawn from
its levels: ``"logistic"`` (two levels) or ``"multinomial"`` against ``"classifier"``, compared
by their out-of-fold log-loss. Any other column is continuous: ``"gaussian"`` against
``"boosting"``, compared by the held-out log predictive density of :math:`x_{ij}` given
:math:`z_i` with each model's residual law estimated by a gaussian kernel density of the other
folds' (standardized) residuals (Silverman's bandwidth), i.e. the held-out log-likelihood of the
whole conditional distribution (mean, spread and shape), a proper scoring rule (Gneiting &
Raftery 2007). Both candidates are scored on the same folds; the boosted model is chosen when
its mean score is higher by more than two standard errors of the paired per-row difference,
otherwise the parametric one (simpler, and the exact sufficient-statistic construction of the
gaussian in-sample draws). The chosen kind, its held-out score (``cv_score``) and both scores
(``cv_scores``) are recorded on the model. Explicit kinds are fitted as asked.

Checking a conditional model: :func:`check_conditional` (a classifier two-sample test of real
against drawn columns on rows the model was not fitted on, Lopez-Paz & Oquab 2017).

References
----------
Candès, E., Fan, Y., Janson, L. & Lv, J. (2018). Panning for gold: 'model-X' knockoffs for high
dimensional controlled variable selection. *Journal of the Royal Statistical Society B* 80(3),
551-577.

Tansey, W., Veitch, V., Zhang, H., Rabadan, R. & Blei, D. M. (2022). The holdout randomization
test for feature selection in black box models. *Journal of Computational and Graphical
Statistics* 31(1), 151-162.

Friedman, J. H. (2001). Greedy function approximation: a gradient boosting machine. *Annals of
Statistics* 29(5), 1189-1232.

Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and estimation.
*Journal of the American Statistical Association* 102(477), 359-378.

Lopez-Paz, D. & Oquab, M. (2017). Revisiting classifier two-sample tests. *International
Conference on Learning Representations*.

McFadden, D. (1974). Conditional logit analysis of qualitative choice behavior. In P. Zarembka
(ed.), *Frontiers in Econometrics*, 105-142. Academic Press.
"""

from ._check import ConditionalCheck, check_conditional
from ._models import (
    KINDS,
    R2_WARN,
    ConditionalModel,
    LowPowerWarning,
    UntestableVariableError,
    fit_conditional_models,
)

__all__ = [
    "KINDS",
    "R2_WARN",
    "ConditionalCheck",
    "ConditionalModel",
    "LowPowerWarning",
    "UntestableVariableError",
    "check_conditional",
    "fit_conditional_models",
]
