r"""Closed-form recommenders: EASE and the GF-CF graph filter (no training loop, no TensorFlow).

Both score a user by multiplying their binary training row :math:`\mathbf r_u \in \{0,1\}^{n_i}`
with an item–item matrix computed once from the training matrix :math:`R` (users × items):

.. math::
    \text{EASE:}\quad \mathbf s_u = \mathbf r_u B, \qquad
    \text{GF-CF:}\quad \mathbf s_u = \mathbf r_u \tilde P
        + \alpha\, \mathbf r_u D_I^{-1/2} V_k V_k^\top D_I^{1/2}.

They are the strongest simple baselines of the course: a model with a graph, trained for a
minute, has to beat them to earn its place (notebooks 03 and 06; ``docs/recommenders.md``).

Taught in ``notebooks/03_mf_recommendation.ipynb`` (section 5, derivations and numeric checks).
"""

from __future__ import annotations

from gnnrec_utils import graph as G
from gnnrec_utils._validate import index_array as _ids

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.linalg import svds

__all__ = [
    "ease_weights",
    "EASE",
    "normalized_interactions",
    "GFCF",
]


# --------------------------------------------------------------------------------------------
# EASE (Steck 2019)
# --------------------------------------------------------------------------------------------


def ease_weights(R, reg: float) -> np.ndarray:
    r"""EASE's item–item weight matrix, in closed form.

    EASE solves a ridge regression of every item's column on all the others, with the
    constraint that an item may not predict itself:

    .. math::
        \min_B \ \lVert R - R B \rVert_F^2 + \lambda \lVert B \rVert_F^2
        \quad \text{s.t.} \quad \operatorname{diag}(B) = 0 .

    With the Lagrangian :math:`L = \lVert R - RB\rVert_F^2 + \lambda\lVert B\rVert_F^2
    + 2\boldsymbol\gamma^\top \operatorname{diag}(B)`, setting :math:`\partial L/\partial B = 0`
    gives :math:`B = I - P\,\operatorname{diagMat}(\boldsymbol\gamma')` with
    :math:`P = (R^\top R + \lambda I)^{-1}`; the constraint :math:`B_{jj} = 0` fixes
    :math:`\gamma'_j = 1/P_{jj}`, so

    .. math::
        B_{ij} = \begin{cases} -P_{ij} / P_{jj} & i \neq j \\ 0 & i = j. \end{cases}

    **Input**: ``R``, ``(n_users, n_items)`` SciPy sparse or dense (binary training matrix);
    ``reg`` = :math:`\lambda > 0`.

    **Output**: ``B``, ``(n_items, n_items)`` float64 with a zero diagonal.

    Cost: one ``n_items × n_items`` Cholesky factorisation, :math:`O(n_i^3)` (1,682 items:
    well under a second). Reference: Steck (2019), "Embarrassingly Shallow Autoencoders for
    Sparse Data", WWW. Taught in ``notebooks/03_mf_recommendation.ipynb`` (section 6.1), where
    it is checked against a generic solver of the constrained problem.
    """
    if not reg > 0:
        raise ValueError(f"reg (lambda) must be > 0, got {reg!r}")
    R = sp.csr_matrix(R, dtype=np.float64)
    G = (R.T @ R).toarray()
    G[np.diag_indices_from(G)] += float(reg)
    P = sla.cho_solve(sla.cho_factor(G, lower=True), np.eye(G.shape[0]))
    B = P / (-np.diag(P))[None, :]
    B[np.diag_indices_from(B)] = 0.0
    return B


class _ItemItemRecommender:
    """Shared interface: scores are the training rows times an item–item matrix (private)."""

    def __init__(self, n_users: int, n_items: int):
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.R = sp.csr_matrix((self.n_users, self.n_items))

    def _scores(self, R_rows: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def score_all_users(self, users=None) -> np.ndarray:
        """Scores ``(len(users), n_items)`` float32 (all users when ``users`` is None)."""
        R = self.R if users is None else self.R[_ids(users, self.n_users, "users")]
        return np.asarray(self._scores(R), dtype=np.float32)

    def score_pairs(self, users, items) -> np.ndarray:
        """Scores of ``(users[k], items[k])`` pairs, ``(n,)`` float32."""
        u = _ids(users, self.n_users, "users")
        i = _ids(items, self.n_items, "items")
        if u.shape != i.shape:
            raise ValueError(f"users and items differ in length: {u.size} vs {i.size}")
        uniq, inv = np.unique(u, return_inverse=True)
        return self.score_all_users(uniq)[inv, i]


class EASE(_ItemItemRecommender):
    r"""EASE recommender: :math:`S = R B` with :math:`B` from :func:`ease_weights`.

    **Arguments**: ``n_users``, ``n_items``; ``reg`` = :math:`\lambda` (the only
    hyper-parameter; the default 500 was chosen on the validation split of notebook 01's
    random split from a grid of 50 … 1,200, see notebook 03 §5.1).

    Methods follow the course's model interface: :meth:`fit` (``users``, ``items``: training
    pairs), :meth:`score_all_users`, :meth:`score_pairs`. Deterministic: one fit stands for
    every seed.
    """

    def __init__(self, n_users: int, n_items: int, reg: float = 500.0):
        super().__init__(n_users, n_items)
        self.reg = float(reg)
        self.B = np.zeros((self.n_items, self.n_items))

    def fit(self, users, items) -> EASE:
        self.R = G.interaction_matrix(
            users, items, self.n_users, self.n_items, duplicates="collapse"
        )
        self.B = ease_weights(self.R, self.reg)
        return self

    def _scores(self, R_rows):
        return R_rows @ self.B


# --------------------------------------------------------------------------------------------
# GF-CF (Shen et al. 2021): a linear and an ideal low-pass graph filter
# --------------------------------------------------------------------------------------------


def normalized_interactions(R) -> tuple[sp.csr_matrix, np.ndarray]:
    r"""The degree-normalised interaction matrix and the item degrees.

    .. math::
        \tilde R = D_U^{-1/2} R\, D_I^{-1/2}, \qquad \tilde P = \tilde R^\top \tilde R,

    with :math:`D_U, D_I` the user and item degrees (rows/columns of zero degree stay zero).
    :math:`\tilde R` is the user–item block of LightGCN's operator
    :math:`\hat A = D^{-1/2} A D^{-1/2}` on the bipartite graph (notebook 02; taken from
    :func:`gnnrec_utils.graph.lightgcn_operator`), and :math:`\tilde P` the item–item graph that
    two propagation steps walk on.

    **Output**: ``(R_tilde, d_items)``: CSR ``(n_users, n_items)`` and ``(n_items,)`` float64.
    """
    R = sp.csr_matrix(R, dtype=np.float64)
    n_users = R.shape[0]
    A_hat = G.lightgcn_operator(G.bipartite_adjacency(R))  # one home for the normalisation
    d_i = np.asarray(R.sum(axis=0)).ravel()
    return sp.csr_matrix(A_hat[:n_users, n_users:]), d_i


class GFCF(_ItemItemRecommender):
    r"""GF-CF: a linear low-pass filter plus an ideal low-pass filter on the item–item graph.

    .. math::
        \mathbf s_u = \mathbf r_u \tilde P
            + \alpha\, \mathbf r_u D_I^{-1/2} V_k V_k^\top D_I^{1/2},

    with :math:`\tilde P = \tilde R^\top \tilde R` (:func:`normalized_interactions`) and
    :math:`V_k` the top-``k`` right singular vectors of :math:`\tilde R` (the eigenvectors of
    :math:`\tilde P` with the largest eigenvalues: its smoothest "graph frequencies").
    :math:`\tilde P` is the linear filter :math:`1 - \lambda` on the normalised item
    Laplacian :math:`\tilde L = I - \tilde P`; :math:`V_k V_k^\top` keeps the ``k`` lowest
    frequencies and drops the rest. Shen et al. show that LightGCN's layer combination with
    infinitely wide embeddings is a polynomial in :math:`\tilde P` of the same kind (checked
    numerically in notebook 03 §5.2).

    **Arguments**: ``n_users``, ``n_items``; ``alpha`` (weight of the ideal filter; 0 gives the
    linear filter alone), ``k`` (frequencies kept), ``seed`` (start vector of the sparse SVD,
    so the fit is reproducible). Defaults chosen on the validation split of notebook 01's
    random split (notebook 03 §5.2).

    Reference: Shen, Wu, Zhang, Shan, Zhang, Letaief & Li (2021), "How Powerful is Graph
    Convolution for Recommendation?", CIKM.
    """

    def __init__(self, n_users: int, n_items: int, alpha: float = 0.3, k: int = 64, seed: int = 0):
        super().__init__(n_users, n_items)
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.alpha, self.k, self.seed = float(alpha), int(k), int(seed)
        self.P = np.zeros((self.n_items, self.n_items))

    def fit(self, users, items) -> GFCF:
        self.R = G.interaction_matrix(
            users, items, self.n_users, self.n_items, duplicates="collapse"
        )
        R_tilde, d_i = normalized_interactions(self.R)
        self.P = (R_tilde.T @ R_tilde).toarray()
        if self.alpha > 0:
            k_max = min(R_tilde.shape) - 1
            if self.k > k_max:
                raise ValueError(f"k={self.k} must be < min(n_users, n_items) = {k_max + 1}")
            v0 = np.random.default_rng(self.seed).standard_normal(min(R_tilde.shape))
            _, _, Vt = svds(R_tilde, k=self.k, v0=v0)
            sqrt_d = np.sqrt(d_i)
            inv_sqrt_d = np.divide(1.0, sqrt_d, out=np.zeros_like(sqrt_d), where=sqrt_d > 0)
            # Ideal filter as an item-item matrix: D_I^{-1/2} V_k V_k^T D_I^{1/2}.
            self.P = self.P + self.alpha * (inv_sqrt_d[:, None] * (Vt.T @ Vt) * sqrt_d[None, :])
        return self

    def _scores(self, R_rows):
        return R_rows @ self.P
