"""Exercise checks for notebook 02 (GCN propagation)."""

from __future__ import annotations

from gnnrec_utils.exercises._base import _fail, _ok

import numpy as np


def check_row_normalisation(P_row, eig_row, A) -> bool:
    """Exercise 2.1: ``P_row = D̃⁻¹(A + I)`` (dense) and its eigenvalues sorted increasingly.

    Course notation (notebook 02, "Notation"): ``D̃ = D + I`` is the degree matrix of ``A + I``
    and ``Ã = D̃^-½ (A + I) D̃^-½`` the renormalised GCN operator, whose eigenvalues ``P_row``
    shares (``P_row = D̃^-½ Ã D̃^½``).

    Args:
        P_row: the student's dense ``(n, n)`` operator.
        eig_row: its eigenvalues, shape ``(n,)``, increasing.
        A: the graph's adjacency (dense or scipy sparse, no self-loops).
    """
    A = np.asarray(A.toarray() if hasattr(A, "toarray") else A, dtype=np.float64)
    n = A.shape[0]
    P_row = np.asarray(P_row, dtype=np.float64)
    if P_row.shape != (n, n):
        _fail("2.1", f"P_row has shape {P_row.shape}", f"a dense {n} × {n} array")
    A_plus_I = A + np.eye(n)
    want = A_plus_I / A_plus_I.sum(axis=1, keepdims=True)
    if not np.allclose(P_row, want):
        if np.allclose(P_row, A / np.maximum(A.sum(axis=1, keepdims=True), 1e-300)):
            _fail("2.1", "the self-loops are missing", "divide the rows of A + I, not of A")
        if np.allclose(P_row, A_plus_I / A_plus_I.sum(axis=0, keepdims=True)):
            _fail("2.1", "you divided the columns", "divide row i by d̃_i (axis=1)")
        _fail(
            "2.1", "P_row is not D̃⁻¹(A + I)", "add the self-loops, then divide each row by its sum"
        )
    d = A_plus_I.sum(axis=1)
    a_tilde = A_plus_I / np.sqrt(np.outer(d, d))  # Ã = D̃^-½ (A + I) D̃^-½
    eig_row = np.asarray(eig_row, dtype=np.float64)
    if eig_row.shape != (n,) or np.any(np.diff(eig_row) < -1e-12):
        _fail("2.1", "eig_row must hold the n eigenvalues in increasing order", "np.sort(...)")
    if not np.allclose(eig_row, np.linalg.eigvalsh(a_tilde), atol=1e-8):
        _fail("2.1", "eig_row differs from the spectrum of Ã", "eigenvalues of P_row itself")
    return _ok("2.1", "P_row is row-stochastic, not symmetric, and shares Ã's eigenvalues")


def _article_matrix(W: np.ndarray) -> np.ndarray:
    """The article's §4.1.1 operator read charitably: ``P_ij = w_ij / ||w_j||₂``."""
    norms = np.sqrt((W**2).sum(axis=1))
    return W / np.where(norms > 0, norms, 1.0)[None, :]


def check_article_operator(asym_les: float, growth_les: float, asym_cycle: float) -> bool:
    """Exercise 2.2: asymmetry and 20-step growth of the article's operator on two graphs."""
    import networkx as nx

    P = _article_matrix(nx.to_numpy_array(nx.les_miserables_graph(), weight="weight"))
    if not np.isclose(asym_les, np.abs(P - P.T).max()):
        P_unweighted = _article_matrix(nx.to_numpy_array(nx.les_miserables_graph(), weight=None))
        if np.isclose(asym_les, np.abs(P_unweighted - P_unweighted.T).max()):
            _fail("2.2", "asym_les uses the unweighted graph", "pass weight='weight'")
        _fail("2.2", "asym_les is off", "max |P − Pᵀ| of the article operator")
    ones = np.ones(len(P))
    want = np.linalg.norm(np.linalg.matrix_power(P, 20) @ ones) / np.linalg.norm(ones)
    if not np.isclose(growth_les, want, rtol=1e-6):
        _fail("2.2", "growth_les is off", "apply P twenty times to the all-ones vector")
    if asym_cycle != 0:
        _fail(
            "2.2",
            f"asym_cycle = {asym_cycle}, but a cycle is regular",
            "every node has the same ||w_j||, so P = A / const is symmetric",
        )
    return _ok(
        "2.2", f"asymmetric on a weighted graph ({asym_les:.3f}), symmetric on a regular one"
    )


def check_deep_smoothing(cos_deep, first_kernel, a_tilde, max_depth: int) -> bool:
    """Exercise 2.3: mean pairwise cosine similarity after each of ``max_depth`` GCN layers.

    Args:
        cos_deep: the student's values, shape ``(max_depth,)``.
        first_kernel: the first layer's weight matrix ``W⁽⁰⁾``, shape ``(n, width)``.
        a_tilde: the renormalised GCN operator ``Ã = D̃^-½ (A + I) D̃^-½`` (dense ``(n, n)``);
            the input is ``X = I``.
    """
    cos_deep = np.asarray(cos_deep, dtype=np.float64)
    if cos_deep.shape != (max_depth,):
        _fail("2.3", f"cos_deep has shape {cos_deep.shape}", f"one value per layer ({max_depth})")
    if np.any(np.abs(cos_deep) > 1 + 1e-6):
        _fail("2.3", "values outside [-1, 1]", "cosine similarities are bounded by 1")
    first = np.tanh(np.asarray(a_tilde) @ np.asarray(first_kernel))  # bias starts at 0
    first = first / np.linalg.norm(first, axis=1, keepdims=True)
    n = first.shape[0]
    want = (np.sum(first.sum(axis=0) ** 2) - n) / (n * (n - 1))
    if not np.isclose(cos_deep[0], want, atol=1e-4):
        _fail(
            "2.3",
            "cos_deep[0] is not the mean pairwise cosine after the first layer",
            "start from X = I and record the similarity after every layer, first included",
        )
    return _ok("2.3", f"{max_depth} layers measured; the last mean cosine is {cos_deep[-1]:.3f}")
