"""Input checks shared by the graph, model, training, GAN and evaluation modules (private).

:func:`index_array` is the one validator of a vector of 0-based indices; it raises
``ValueError`` naming the argument and what is wrong with it. The binary interaction
matrix has one home, :func:`gnnrec_utils.graph.interaction_matrix`.
"""

from __future__ import annotations

import numpy as np


def index_array(x, n: int, name: str) -> np.ndarray:
    """``x`` as a one-dimensional ``int64`` array of indices in ``[0, n)``.

    Integer arrays, and float arrays whose values are whole numbers (a pandas column that
    went through a float dtype), are accepted; anything else raises ``ValueError``.
    """
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        try:
            as_int = arr.astype(np.int64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}") from None
        if not np.array_equal(as_int, arr):
            raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
        arr = as_int
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < 0) | (arr >= n)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must lie in [0, {n}): {int(bad.sum())} id(s) out of range, first at "
            f"position {k}: {int(arr[k])} (ids are 0-based; MovieLens files are 1-based)"
        )
    return arr
