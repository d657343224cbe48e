"""Input checks shared by the model, training, GAN and evaluation modules (private).

:func:`index_array` validates a vector of 0-based indices; :func:`indicator` turns
``(users, items)`` index pairs into the binary interaction matrix
:math:`R \\in \\{0, 1\\}^{n_u \\times n_i}` (duplicates collapse to 1). Both raise ``ValueError``
naming the argument and what is wrong with it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def index_array(x, n: int, name: str) -> np.ndarray:
    """``x`` as a one-dimensional ``int64`` array of indices in ``[0, n)``."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{name} must lie in [0, {n}), got range [{arr.min()}, {arr.max()}]")
    return arr


def indicator(users, items, n_users: int, n_items: int) -> sp.csr_matrix:
    """Binary CSR ``(n_users, n_items)``, 1.0 at every ``(users[k], items[k])``."""
    u = index_array(users, n_users, "users")
    i = index_array(items, n_items, "items")
    if u.shape != i.shape:
        raise ValueError(f"users and items differ in length: {u.size} vs {i.size}")
    m = sp.csr_matrix((np.ones(u.size, dtype=np.float64), (u, i)), shape=(n_users, n_items))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m
