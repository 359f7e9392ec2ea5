"""Small data sets shipped with the package (nothing is downloaded at run time)."""

from __future__ import annotations

from importlib import resources

import pandas as pd
from sklearn.datasets import load_diabetes as _sk_load_diabetes

__all__ = ["load_diabetes", "load_neuraldat"]


def load_neuraldat() -> pd.DataFrame:
    """NeuralNetTools' example data ``neuraldat``: 2000 rows, responses Y1, Y2, inputs X1-X3.

    Simulated by Beck (2018, NeuralNetTools); shipped here so that examples can be compared
    with R's NeuralNetTools.

    Returns
    -------
    pandas.DataFrame with columns ``Y1, Y2, X1, X2, X3``.
    """
    with resources.files(__package__).joinpath("neuraldat.csv").open("r") as fh:
        return pd.read_csv(fh)


def load_diabetes() -> tuple[pd.DataFrame, pd.Series]:
    """scikit-learn's diabetes data (442 patients, 10 baseline variables, disease progression).

    Returns
    -------
    X : pandas.DataFrame
        The ten variables as scikit-learn ships them (mean-centred and scaled).
    y : pandas.Series
        Disease progression one year after baseline, named ``progression``.
    """
    data = _sk_load_diabetes(as_frame=True)
    return data.data, data.target.rename("progression")
