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

from ..inference.holdout_tests import holdout_pvalues
from ._engines import holdout_losses
from ._estimator import CONDITIONAL_ROWS, HYPOTHESIS, TESTS, HoldoutConditionalTest
from ._view import prediction_view

__all__ = [
    "CONDITIONAL_ROWS",
    "HYPOTHESIS",
    "TESTS",
    "HoldoutConditionalTest",
    "holdout_losses",
    "holdout_pvalues",
    "prediction_view",
]
