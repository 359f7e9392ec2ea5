"""Figures for sensitivity analyses (matplotlib).

Every function draws on a new figure (constrained layout) unless given an ``ax`` and returns
the :class:`matplotlib.figure.Figure` it drew on (``fig.axes`` holds the panels):

* :func:`plot_importance`: ranked bar chart with confidence intervals and significance marks,
  bars coloured by sign for signed methods (the style of NeuralNetTools' ``garson``/``olden``
  plots; Beck 2018).
* :func:`plot_heldout_draws`: the held-out test's per-draw loss increases of one variable,
  with the real column at 0 and their mean (the table's ``loss_increase``);
* :func:`plot_null_distribution`: histogram of a randomization-test null distribution with the
  observed value (the figure of Olden & Jackson 2002).
* :func:`plot_lek_profiles`: Lek's profiles, one panel per variable (Lek et al. 1996).
* :func:`plot_derivatives`: partial derivative against input value, one panel per variable
  (Dimopoulos et al. 1995, 1999).
* :func:`plot_network`: the network diagram, line width by ``|weight|`` and colour by sign
  (NeuralNetTools' ``plotnet``; Özesmi & Özesmi 1999).

Signs are shown by hatching or line style as well as colour, and the two colours differ in
lightness, so that figures stay readable in grayscale. The module imports
:mod:`sensitivity.result` (never the reverse at import time).

Import everything from ``sensitivity.plotting``; its private modules are the parts: ``_common``
(colours, codes, figure helpers), ``_importance`` (bars, null distribution), ``_profiles`` (Lek's
profiles, derivatives) and ``_network`` (the diagram).

References
----------
Beck, M. W. (2018). NeuralNetTools: visualization and analysis tools for neural networks.
Journal of Statistical Software 85(11).
Olden, J. D. & Jackson, D. A. (2002). Illuminating the "black box": a randomization approach
for understanding variable contributions in artificial neural networks. Ecol. Model. 154.
Lek, S. et al. (1996). Application of neural networks to modelling nonlinear relationships in
ecology. Ecol. Model. 90.
Özesmi, S. L. & Özesmi, U. (1999). An artificial neural network approach to spatial habitat
modelling with interspecific interaction. Ecol. Model. 116, 15-31.
Dimopoulos, Y., Bourret, P. & Lek, S. (1995). Use of some sensitivity criteria for choosing
networks with good generalization ability. Neural Process. Lett. 2, 1-4.
Dimopoulos, I., Chronopoulos, J., Chronopoulou-Sereli, A. & Lek, S. (1999). Neural network
models to study relationships between lead concentration in grasses and permanent urban
descriptors in Athens city (Greece). Ecol. Model. 120.
"""

from ._common import NEGATIVE_COLOR, NEUTRAL_COLOR, POSITIVE_COLOR
from ._importance import plot_heldout_draws, plot_importance, plot_null_distribution
from ._network import plot_network
from ._profiles import plot_derivatives, plot_lek_profiles

__all__ = [
    "NEGATIVE_COLOR",
    "NEUTRAL_COLOR",
    "POSITIVE_COLOR",
    "plot_derivatives",
    "plot_heldout_draws",
    "plot_importance",
    "plot_lek_profiles",
    "plot_network",
    "plot_null_distribution",
]
