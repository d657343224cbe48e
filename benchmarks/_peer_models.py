r"""Two graph models tried against EASE in ``benchmarks/bench_vs_ease.py`` (not in the package).

- :class:`WeightedLightGCN`: LightGCN with fixed, non-uniform layer weights
  :math:`E = \sum_k w_k \hat A^k E^{(0)}` (He et al. 2020, eq. 8, leave :math:`\alpha_k` open;
  their experiments use :math:`1/(K+1)`, the course's default).
- :class:`PolyFilter`: a training-free polynomial low-pass filter on a sharpened item–item
  graph, after Turbo-CF (Park, Shin & Shin 2024, "Turbo-CF: Matrix Decomposition-Free Graph
  Filtering for Fast Recommendation", SIGIR): an asymmetrically normalised item–item graph and
  a polynomial low-pass filter instead of GF-CF's SVD.

Both reuse the package's parts (``models.LightGCN``, ``training.fit_bpr``,
``closed_form._ItemItemRecommender``); they live here because no notebook teaches them.
"""

from __future__ import annotations

import gnnrec_utils  # noqa: F401  (selects tf-keras before TensorFlow loads)
from gnnrec_utils import graph as G
from gnnrec_utils import models
from gnnrec_utils.closed_form import _ItemItemRecommender
from gnnrec_utils.graph import interaction_matrix

import numpy as np
import scipy.sparse as sp
import tensorflow as tf


class WeightedLightGCN(models.LightGCN):
    r"""LightGCN whose final vectors weight the layers unequally.

    .. math::
        E = \sum_{k=0}^{K} w_k\, \hat A^k E^{(0)}, \qquad \sum_k w_k = 1,

    ``layer_weights`` ``(K+1,)`` non-negative (normalised to sum 1); the uniform weights
    :math:`1/(K+1)` give :class:`gnnrec_utils.models.LightGCN` exactly.
    """

    def __init__(self, *args, layer_weights=None, **kwargs):
        super().__init__(*args, **kwargs)
        w = np.ones(self.n_layers + 1) if layer_weights is None else np.asarray(layer_weights)
        if w.shape != (self.n_layers + 1,) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"layer_weights must be {self.n_layers + 1} non-negative numbers with a positive "
                f"sum (one per layer 0..K), got {layer_weights!r}"
            )
        self.layer_weights = (w / w.sum()).astype(np.float32)

    def node_embeddings(self, training=False):
        layers = self.layer_embeddings(training)
        return tf.add_n([float(w) * x for w, x in zip(self.layer_weights, layers, strict=True)])


def weighted_lightgcn(users, items, n_users: int, n_items: int, **kwargs) -> WeightedLightGCN:
    """A :class:`WeightedLightGCN` on the training graph (as ``lightgcn_from_interactions``)."""
    R = G.interaction_matrix(np.asarray(users), np.asarray(items), n_users, n_items)
    A_hat = G.lightgcn_operator(G.bipartite_adjacency(R))
    return WeightedLightGCN(n_users, n_items, A_hat, **kwargs)


class PolyFilter(_ItemItemRecommender):
    r"""Polynomial low-pass filter on a sharpened, normalised item–item graph (Turbo-CF style).

    .. math::
        \bar R = D_U^{-1/2} R, \qquad C = (\bar R^\top \bar R)^{\circ s}, \qquad
        \bar P = D_C^{-\beta}\, C\, D_C^{-(1-\beta)}, \qquad
        \mathbf s_u = \mathbf r_u \big(I - (I - \bar P)^m\big),

    with :math:`D_C` the row sums of :math:`C`, :math:`\circ s` an element-wise power (``s``
    > 1 sharpens: strong co-occurrences gain on weak ones) and :math:`\beta` the popularity
    exponent (0.5: symmetric). :math:`\bar P` is similar to
    :math:`D_C^{-1/2} C D_C^{-1/2}` (eigenvalues in :math:`[-1, 1]`), and
    :math:`1 - (1-\lambda)^m` passes its large-eigenvalue (smooth) components; larger ``m``
    is a steeper low-pass. The row sums of :math:`C` with ``s = 1`` are the item degrees, so
    ``beta=0.5, s=1, m=1`` is exactly GF-CF's linear filter (``closed_form.GFCF(alpha=0)``;
    checked numerically on a random graph when this was written, as was
    :class:`WeightedLightGCN` with uniform weights against ``models.LightGCN``).

    **Input**: training pairs to :meth:`fit`. **Output**: :meth:`score_all_users`
    ``(n_users, n_items)`` float32. Cost: ``m`` dense ``n_items²`` products (1,682 items:
    about a second).
    """

    def __init__(self, n_users: int, n_items: int, beta: float = 0.5, s: float = 1.0, m: int = 1):
        super().__init__(n_users, n_items)
        if not 0 <= beta <= 1 or s <= 0 or int(m) != m or m < 1:
            raise ValueError(f"need 0 <= beta <= 1, s > 0, m >= 1; got {beta=}, {s=}, {m=}")
        self.beta, self.s, self.m = float(beta), float(s), int(m)
        self.F = np.zeros((self.n_items, self.n_items))

    def fit(self, users, items) -> PolyFilter:
        self.R = interaction_matrix(users, items, self.n_users, self.n_items, duplicates="collapse")
        d_u = np.asarray(self.R.sum(axis=1)).ravel()
        R_bar = sp.diags(np.divide(1.0, np.sqrt(d_u), out=np.zeros_like(d_u), where=d_u > 0))
        R_bar = R_bar @ self.R
        C = (R_bar.T @ R_bar).toarray() ** self.s
        d = C.sum(axis=1)
        left = np.divide(1.0, d**self.beta, out=np.zeros_like(d), where=d > 0)
        right = np.divide(1.0, d ** (1.0 - self.beta), out=np.zeros_like(d), where=d > 0)
        P = left[:, None] * C * right[None, :]
        Q = np.eye(self.n_items) - P  # (I - P)^m by repeated products
        Qm = Q.copy()
        for _ in range(self.m - 1):
            Qm = Qm @ Q
        self.F = np.eye(self.n_items) - Qm
        return self

    def _scores(self, R_rows):
        return R_rows @ self.F
