"""Encoded pipelines: a ``ColumnTransformer`` of affine scalers and one-hot encoders followed by
an MLP, seen in its encoded input space (:class:`EncodedMLP`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral as numbers_Integral

import numpy as np
import torch
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted

from ..network import MLPBatch
from ._mlp import SUPPORTED_MLP_MODELS, _compose_scalers, _from_sklearn_mlp, _names_or_default

# ---------------------------------------------------------------------- encoded pipelines
# A Pipeline whose first step is a ColumnTransformer of affine scalers and one-hot encoders,
# followed by optional affine scalers and an MLP. One-hot encoding is not an affine map of one
# variable (one column becomes several 0/1 columns), so weight and derivative methods work on the
# encoded columns (the MLP's inputs) and then sum each variable's group (EncodedMLP.group).


@dataclass(frozen=True)
class EncodedMLP:
    """An MLP behind a ``ColumnTransformer``, seen in its encoded input space.

    Attributes
    ----------
    batch : MLPBatch
        The network on the encoded columns (``batch.feature_names`` are the encoded column
        names). Its input transform is the affine part of the preprocessing: scaled numeric
        columns are in the user's units, one-hot columns are the 0/1 indicators themselves.
    encoded_names : tuple of str
        Names of the encoded columns (``ColumnTransformer.get_feature_names_out``).
    groups : tuple of int
        For each encoded column, the index of the original variable it comes from.
    original_names : tuple of str
        The original variables (the columns passed to the Pipeline), in input order.
    one_hot : tuple of bool
        For each original variable, whether it is one-hot encoded.
    transformer : ColumnTransformer
        The fitted ColumnTransformer.
    center, scale : ndarray of shape (n_encoded,)
        The affine part of the ColumnTransformer's output, undone by :meth:`encode`.
    """

    batch: MLPBatch
    encoded_names: tuple[str, ...]
    groups: tuple[int, ...]
    original_names: tuple[str, ...]
    one_hot: tuple[bool, ...]
    transformer: object
    center: np.ndarray
    scale: np.ndarray

    def encode(self, X) -> np.ndarray:
        """The user's ``X`` (original variables) as inputs of :attr:`batch`.

        Numeric columns stay in the user's units, one-hot columns are 0/1, so
        ``batch.predict(encode(X))`` reproduces the Pipeline's predictions.
        """
        Z = self.transformer.transform(X)
        if hasattr(Z, "toarray"):
            Z = Z.toarray()
        return (np.asarray(Z, dtype=np.float64) - self.center) / self.scale

    def group(self, values, axis: int = -1):
        """Sum ``values`` over each original variable's encoded columns.

        Parameters
        ----------
        values : array-like or torch.Tensor
            Per encoded column along ``axis`` (e.g. ``(B, n_outputs, n_encoded)``).
        axis : int
            The encoded-column axis.

        Returns
        -------
        Same type as ``values``, with ``axis`` of length ``len(original_names)``:
        ``out[..., j] = sum over encoded columns c of variable j of values[..., c]``.
        Variables without any encoded column (dropped by the ColumnTransformer) get 0.
        """
        n_groups = len(self.original_names)
        if isinstance(values, torch.Tensor):
            moved = values.movedim(axis, -1)
            if moved.shape[-1] != len(self.groups):
                raise ValueError(
                    f"Got {moved.shape[-1]} values along axis {axis}; expected "
                    f"{len(self.groups)} encoded columns."
                )
            index = torch.as_tensor(self.groups, device=moved.device)
            out = moved.new_zeros((*moved.shape[:-1], n_groups))
            out.index_add_(-1, index, moved)
            return out.movedim(-1, axis)
        arr = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
        if arr.shape[-1] != len(self.groups):
            raise ValueError(
                f"Got {arr.shape[-1]} values along axis {axis}; expected {len(self.groups)} "
                "encoded columns."
            )
        M = np.zeros((len(self.groups), n_groups))
        M[np.arange(len(self.groups)), self.groups] = 1.0
        return np.moveaxis(arr @ M, -1, axis)


def _column_transformer_of(model):
    from sklearn.compose import ColumnTransformer

    if isinstance(model, Pipeline) and len(model.steps) >= 2:
        first = model.steps[0][1]
        if isinstance(first, ColumnTransformer):
            return first
    return None


def is_encoded_mlp_model(model) -> bool:
    """Whether ``model`` is a Pipeline starting with a ``ColumnTransformer`` and ending in an MLP.

    Such models go through :func:`to_encoded_mlp` (not :func:`to_mlp_batch`).
    """
    if _column_transformer_of(model) is None:
        return False
    return isinstance(model.steps[-1][1], MLPRegressor | MLPClassifier)


SUPPORTED_COLUMN_TRANSFORMERS = (
    "ColumnTransformer blocks of StandardScaler, MinMaxScaler (clip=False), MaxAbsScaler, a "
    "Pipeline of those, OneHotEncoder, 'passthrough' or 'drop' (remainder 'drop' or "
    "'passthrough')"
)


def _resolve_columns(columns, names: tuple[str, ...] | None, n: int) -> list[int]:
    """Input indices selected by a (fitted) ColumnTransformer column specification."""
    if isinstance(columns, str):
        columns = [columns]
    if isinstance(columns, slice):
        if isinstance(columns.start, str) or isinstance(columns.stop, str):
            if names is None:
                raise TypeError("String column slices need a DataFrame with column names.")
            start = names.index(columns.start) if columns.start is not None else 0
            stop = names.index(columns.stop) + 1 if columns.stop is not None else n
            return list(range(start, stop))
        return list(range(n))[columns]
    if isinstance(columns, numbers_Integral):
        return [int(columns)]
    cols = list(np.asarray(columns).ravel()) if not isinstance(columns, list) else columns
    if len(cols) == 0:
        return []
    if all(isinstance(c, bool | np.bool_) for c in cols):
        return [i for i, keep in enumerate(cols) if keep]
    if all(isinstance(c, numbers_Integral) for c in cols):
        return [int(c) for c in cols]
    if names is None:
        raise TypeError("Columns selected by name need a DataFrame with column names.")
    missing = [c for c in cols if str(c) not in names]
    if missing:
        raise ValueError(f"Columns {missing} are not among the inputs {list(names)}.")
    return [names.index(str(c)) for c in cols]


def _one_hot_widths(encoder) -> list[int]:
    """Number of output columns of a fitted OneHotEncoder, per input column."""
    widths = []
    drop_idx = getattr(encoder, "drop_idx_", None)
    infrequent = getattr(encoder, "infrequent_categories_", None)
    for j, cats in enumerate(encoder.categories_):
        w = len(cats)
        if infrequent is not None and infrequent[j] is not None:
            w = w - len(infrequent[j]) + 1
        if drop_idx is not None and drop_idx[j] is not None:
            w -= 1
        widths.append(w)
    return widths


def _block_affine(trans, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)`` of a block of scalers (a scaler or a Pipeline of scalers)."""
    steps = trans.steps if isinstance(trans, Pipeline) else [("", trans)]
    scale, offset, _ = _compose_scalers(
        steps,
        n_cols,
        lambda step: (
            f"ColumnTransformer block {type(step).__name__} is not supported. "
            f"Supported: {SUPPORTED_COLUMN_TRANSFORMERS}."
        ),
    )
    return scale, offset


def to_encoded_mlp(
    model,
    *,
    feature_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dtype: torch.dtype = torch.float64,
) -> EncodedMLP:
    """Read a fitted ``Pipeline(ColumnTransformer(...), [scalers...], MLP)``.

    Numeric blocks must be affine scalers (or ``'passthrough'``); categorical blocks
    ``OneHotEncoder``. The returned :class:`EncodedMLP` holds the network on the encoded
    columns (affine parts kept as the batch's input transform, so numeric columns stay in the
    user's units) and the map from encoded columns to original variables.

    Parameters
    ----------
    model : Pipeline
        Fitted; see :func:`is_encoded_mlp_model`.
    feature_names : sequence of str, optional
        Names of the original variables (default: the Pipeline's ``feature_names_in_``, else
        ``x0, x1, ...``).
    output_names : sequence of str, optional
    dtype : torch.dtype

    Returns
    -------
    EncodedMLP
    """

    if not is_encoded_mlp_model(model):
        raise TypeError(
            "Expected a Pipeline whose first step is a ColumnTransformer and whose last step is "
            "an MLPRegressor or MLPClassifier."
        )
    check_is_fitted(model)
    ct = model.steps[0][1]
    check_is_fitted(ct)
    n_in = int(ct.n_features_in_)
    known = (
        tuple(str(c) for c in ct.feature_names_in_) if hasattr(ct, "feature_names_in_") else None
    )
    originals = _names_or_default(feature_names if feature_names is not None else known, n_in, "x")
    try:
        encoded_names = tuple(str(c) for c in ct.get_feature_names_out())
    except Exception:  # transformers without feature names: positional names
        encoded_names = None
    n_enc = int(sum(s.stop - s.start for s in ct.output_indices_.values()))
    scale, offset, groups, one_hot = _encoded_columns(ct, known, n_in, n_enc)
    if np.any(groups < 0):
        raise ValueError("Some encoded columns could not be mapped to an input variable.")
    # affine scalers after the ColumnTransformer act on every encoded column
    s, o, _ = _compose_scalers(
        model.steps[1:-1],
        n_enc,
        lambda step: (
            f"Pipeline step {type(step).__name__} after the ColumnTransformer is not "
            f"an affine scaler. Supported models: {SUPPORTED_MLP_MODELS}."
        ),
    )
    scale, offset = scale * s, offset * s + o
    if encoded_names is None:
        encoded_names = tuple(f"{originals[g]}_{k}" for k, g in enumerate(groups))
    final = model.steps[-1][1]
    batch = _from_sklearn_mlp(final, encoded_names, output_names, scale, offset, dtype)
    ct_scale, ct_offset = _numeric_affine(ct, n_enc)
    return EncodedMLP(
        batch=batch,
        encoded_names=encoded_names,
        groups=tuple(int(g) for g in groups),
        original_names=originals,
        one_hot=tuple(one_hot),
        transformer=ct,
        center=ct_offset,
        scale=ct_scale,
    )


def _encoded_columns(ct, known, n_in: int, n_enc: int):
    """Per encoded column: the affine map from the user's variable (scale, offset), the
    variable it encodes (group) and, per variable, whether it is one-hot encoded."""
    scale = np.ones(n_enc)
    offset = np.zeros(n_enc)
    groups = np.full(n_enc, -1)
    one_hot = [False] * n_in
    for name, trans, columns in ct.transformers_:
        out = ct.output_indices_.get(name, slice(0, 0))
        if out.stop == out.start or trans == "drop":
            continue
        idx = _resolve_columns(columns, known, n_in)
        if isinstance(trans, OneHotEncoder):
            widths = _one_hot_widths(trans)
            if len(widths) != len(idx) or sum(widths) != out.stop - out.start:
                raise ValueError(f"Cannot map the OneHotEncoder {name!r} outputs to its inputs.")
            pos = out.start
            for i, w in zip(idx, widths, strict=True):
                groups[pos : pos + w] = i
                one_hot[i] = True
                pos += w
            continue
        if len(idx) != out.stop - out.start:
            raise TypeError(
                f"ColumnTransformer block {name!r} ({type(trans).__name__}) maps {len(idx)} "
                f"columns to {out.stop - out.start}: not supported. Supported: "
                f"{SUPPORTED_COLUMN_TRANSFORMERS}."
            )
        if trans == "passthrough":
            s, o = np.ones(len(idx)), np.zeros(len(idx))
        else:
            s, o = _block_affine(trans, len(idx))
        scale[out], offset[out] = s, o
        groups[out] = idx
    return scale, offset, groups, one_hot


def _numeric_affine(ct, n_enc: int) -> tuple[np.ndarray, np.ndarray]:
    """What the ColumnTransformer computes, with the affine part undone: numeric columns stay
    in the user's units, one-hot columns are 0/1 (their scale is 1, offset 0)."""
    ct_scale = np.ones(n_enc)
    ct_offset = np.zeros(n_enc)
    for name, trans, _ in ct.transformers_:
        out = ct.output_indices_.get(name, slice(0, 0))
        if out.stop == out.start or trans in ("drop", "passthrough"):
            continue
        if not isinstance(trans, OneHotEncoder):
            ct_scale[out], ct_offset[out] = _block_affine(trans, out.stop - out.start)
    return ct_scale, ct_offset
