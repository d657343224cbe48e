r"""Recommender models: popularity, rating baselines, biased MF, BPR-MF, LightGCN and GCN+MF.

Every ranking model here answers the same questions in the same way, so that notebooks 03
(training), 05 (the graph GAN) and 06 (evaluation) can swap them:

- ``score_all_users(users=None)`` (alias ``user_item_scores``): the dense score matrix, a NumPy
  ``float32`` array of shape ``(n_users, n_items)`` (or ``(len(users), n_items)``); higher is
  better, nothing is masked (masking seen items is the evaluator's job);
- ``user_embeddings()`` / ``item_embeddings()``: the final vectors whose dot product is the
  score, NumPy arrays ``(n_users, d)`` / ``(n_items, d)`` (not for :class:`PopularityModel`);
- ``score_pairs(users, items)``: scores of given pairs, shape ``(n_pairs,)``.

The trainable ones are ``tf.keras.Model`` subclasses (tf-keras, Keras 2) that additionally
implement ``bpr_terms(users, pos, neg, training)``, used by
:func:`gnnrec_utils.training.fit_bpr`. Node conventions follow :mod:`gnnrec_utils.graph`: one
embedding table for the bipartite graph, users first (rows ``0 … n_users-1``), items after.

Models never read files and never touch global random state: initialisers take ``seed=``.

Taught in ``notebooks/03_mf_recommendation.ipynb``; §3.4a writes LightGCN, BPR-MF and the
BPR training step out in plain TensorFlow and checks them against this module.
"""

from __future__ import annotations

from gnnrec_utils import graph as G
from gnnrec_utils._validate import index_array as _ids

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

__all__ = [
    "PopularityModel",
    "GlobalMeanModel",
    "BiasBaseline",
    "BiasedMF",
    "EmbeddingRecommender",
    "BPRMF",
    "LightGCN",
    "GCNMF",
    "lightgcn_from_interactions",
    "gcnmf_from_interactions",
    "embedding_table",
]


def _seed(seed: int | None, offset: int) -> int | None:
    return None if seed is None else int(seed) + offset


def embedding_table(
    layer, name: str, rows: int, dim: int, init_std: float, seed: int | None, offset: int = 0
):
    r"""A trainable ``(rows, dim)`` table drawn from :math:`\mathcal N(0, \sigma^2)`,
    :math:`\sigma` = ``init_std``, by a Keras initialiser seeded with ``seed + offset``
    (unseeded when ``seed`` is None): the embedding tables of every model here and of
    :class:`gnnrec_utils.gan.Discriminator`. Created with ``layer.add_weight``."""
    return layer.add_weight(
        name=name,
        shape=(int(rows), int(dim)),
        initializer=tf.keras.initializers.RandomNormal(stddev=init_std, seed=_seed(seed, offset)),
    )


# --------------------------------------------------------------------------------------------
# Non-trainable baselines (NumPy only)
# --------------------------------------------------------------------------------------------


class PopularityModel:
    r"""Most-popular baseline: every user gets the same ranking, by training interaction count.

    .. math::
        s_{ui} = |\{v : (v, i) \in \mathcal R_{\text{train}}\}|

    **Arguments**: ``n_users``, ``n_items``; fit with :meth:`fit` (``users``, ``items``: the
    training interactions, 0-based). Ties are broken by the evaluator (lower item id first).

    Taught in ``notebooks/03_mf_recommendation.ipynb``.
    """

    def __init__(self, n_users: int, n_items: int):
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.counts = np.zeros(self.n_items, dtype=np.float32)

    def fit(self, users, items) -> PopularityModel:
        _ids(users, self.n_users, "users")
        i = _ids(items, self.n_items, "items")
        self.counts = np.bincount(i, minlength=self.n_items).astype(np.float32)
        return self

    def score_pairs(self, users, items) -> np.ndarray:
        _ids(users, self.n_users, "users")
        return self.counts[_ids(items, self.n_items, "items")]

    def score_all_users(self, users=None) -> np.ndarray:
        n = self.n_users if users is None else len(_ids(users, self.n_users, "users"))
        return np.broadcast_to(self.counts, (n, self.n_items)).copy()

    user_item_scores = score_all_users


class GlobalMeanModel:
    r"""Rating baseline: predict the training mean :math:`\hat r_{ui} = \mu` for every pair."""

    def __init__(self):
        self.mu = 0.0

    def fit(self, users, items, ratings) -> GlobalMeanModel:
        self.mu = float(np.mean(np.asarray(ratings, dtype=np.float64)))
        return self

    def predict(self, users, items) -> np.ndarray:
        return np.full(len(np.asarray(users)), self.mu)


class BiasBaseline:
    r"""User/item-bias rating baseline, fitted in closed form (Koren, 2010, eq. 2–3).

    .. math::
        \hat r_{ui} = \mu + b_u + b_i, \qquad
        b_i = \frac{\sum_{u \in R(i)} (r_{ui} - \mu)}{\lambda_i + |R(i)|}, \qquad
        b_u = \frac{\sum_{i \in R(u)} (r_{ui} - \mu - b_i)}{\lambda_u + |R(u)|}

    Users and items without training ratings get bias 0. **Arguments**: ``n_users``,
    ``n_items``, shrinkage ``reg_item`` (:math:`\lambda_i`) and ``reg_user``
    (:math:`\lambda_u`).

    Reference: Koren (2010), "Factor in the neighbors: scalable and accurate collaborative
    filtering", ACM TKDD 4(1).
    """

    def __init__(self, n_users: int, n_items: int, reg_item: float = 25.0, reg_user: float = 10.0):
        self.n_users, self.n_items = int(n_users), int(n_items)
        self.reg_item, self.reg_user = float(reg_item), float(reg_user)
        self.mu = 0.0
        self.b_user = np.zeros(self.n_users)
        self.b_item = np.zeros(self.n_items)

    def fit(self, users, items, ratings) -> BiasBaseline:
        u = _ids(users, self.n_users, "users")
        i = _ids(items, self.n_items, "items")
        r = np.asarray(ratings, dtype=np.float64)
        self.mu = float(r.mean())
        dev = r - self.mu
        self.b_item = np.bincount(i, dev, self.n_items) / (
            self.reg_item + np.bincount(i, minlength=self.n_items)
        )
        dev_u = dev - self.b_item[i]
        self.b_user = np.bincount(u, dev_u, self.n_users) / (
            self.reg_user + np.bincount(u, minlength=self.n_users)
        )
        return self

    def predict(self, users, items) -> np.ndarray:
        u = _ids(users, self.n_users, "users")
        i = _ids(items, self.n_items, "items")
        return self.mu + self.b_user[u] + self.b_item[i]


# --------------------------------------------------------------------------------------------
# Explicit matrix factorisation
# --------------------------------------------------------------------------------------------


class BiasedMF(tf.keras.Model):
    r"""Biased matrix factorisation for explicit ratings (Koren, Bell & Volinsky, 2009).

    .. math::
        \hat r_{ui} = \mu + b_u + b_i + \mathbf p_u^\top \mathbf q_i

    trained by :func:`gnnrec_utils.training.fit_explicit` on the squared error with L2 on the
    batch's :math:`\mathbf p_u, \mathbf q_i, b_u, b_i`.

    **Input** (``call``): ``(users, items)``, two int arrays of shape ``(batch,)``.
    **Output**: predicted ratings, shape ``(batch,)``.

    **Arguments**: ``n_users``, ``n_items``, ``dim`` (factors), ``global_mean`` (:math:`\mu`,
    the training mean, a constant), ``init_std`` (normal initialisation of the factors; biases
    start at 0), ``seed``.

    Reference: Koren, Bell & Volinsky (2009), "Matrix Factorization Techniques for
    Recommender Systems", IEEE Computer 42(8).
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        global_mean: float = 0.0,
        init_std: float = 0.01,
        seed: int | None = None,
        name: str = "biased_mf",
    ):
        super().__init__(name=name)
        self.n_users, self.n_items, self.dim = int(n_users), int(n_items), int(dim)
        self.global_mean = float(global_mean)
        self.P = embedding_table(self, "user_factors", self.n_users, self.dim, init_std, seed)
        self.Q = embedding_table(self, "item_factors", self.n_items, self.dim, init_std, seed, 1)
        self.b_user = self.add_weight(name="user_bias", shape=(self.n_users,), initializer="zeros")
        self.b_item = self.add_weight(name="item_bias", shape=(self.n_items,), initializer="zeros")

    def rating_terms(self, users, items):
        """``(prediction, l2)``: predictions ``(batch,)`` and the per-pair squared norms."""
        p = tf.gather(self.P, users)
        q = tf.gather(self.Q, items)
        bu = tf.gather(self.b_user, users)
        bi = tf.gather(self.b_item, items)
        pred = self.global_mean + bu + bi + tf.reduce_sum(p * q, axis=-1)
        l2 = tf.reduce_sum(p * p, -1) + tf.reduce_sum(q * q, -1) + bu * bu + bi * bi
        return pred, l2

    def call(self, inputs, training=None):
        users, items = inputs
        return self.rating_terms(users, items)[0]

    def predict_ratings(self, users, items) -> np.ndarray:
        """Predicted ratings for given pairs, NumPy ``(n_pairs,)``."""
        u = _ids(users, self.n_users, "users").astype(np.int32)
        i = _ids(items, self.n_items, "items").astype(np.int32)
        return self.rating_terms(u, i)[0].numpy()

    def user_embeddings(self) -> np.ndarray:
        return self.P.numpy()

    def item_embeddings(self) -> np.ndarray:
        return self.Q.numpy()

    def score_all_users(self, users=None) -> np.ndarray:
        """Predicted ratings of every item, ``(n_users, n_items)`` (usable as ranking scores)."""
        P, bu = self.P.numpy(), self.b_user.numpy()
        if users is not None:
            u = _ids(users, self.n_users, "users")
            P, bu = P[u], bu[u]
        out = P @ self.Q.numpy().T
        out += (self.global_mean + bu)[:, None] + self.b_item.numpy()[None, :]
        return out.astype(np.float32)

    user_item_scores = score_all_users

    def score_pairs(self, users, items) -> np.ndarray:
        return self.predict_ratings(users, items)


# --------------------------------------------------------------------------------------------
# Implicit-feedback ranking models (BPR)
# --------------------------------------------------------------------------------------------


class EmbeddingRecommender(tf.keras.Model):
    r"""Base class of the BPR-trained models: final user/item vectors, dot-product scores.

    .. math::
        s_{ui} = \mathbf e_u^\top \mathbf e_i

    Subclasses implement :meth:`propagate` (final vectors, as tensors) and :meth:`ego`
    (the trainable 0-th layer vectors that BPR's L2 penalty acts on, LightGCN-style).

    **Input** (``call``): ``(users, items)``, int arrays ``(batch,)``. **Output**: scores
    ``(batch,)``.
    """

    def __init__(self, n_users: int, n_items: int, dim: int, name: str | None = None):
        super().__init__(name=name)
        self.n_users, self.n_items, self.dim = int(n_users), int(n_items), int(dim)

    # -- to implement ------------------------------------------------------------------------
    def propagate(self, training=False):
        """``(E_users, E_items)``: tensors ``(n_users, d')`` and ``(n_items, d')``."""
        raise NotImplementedError

    def ego(self):
        """``(E0_users, E0_items)``: the trainable input vectors (``(n, dim)`` each)."""
        raise NotImplementedError

    # -- shared ------------------------------------------------------------------------------
    def _gather_ego(self, users, items_list):
        U0, I0 = self.ego()
        out = [tf.gather(U0, users)]
        out += [tf.gather(I0, it) for it in items_list]
        return out

    def bpr_terms(self, users, pos, neg, training=True):
        r"""Scores of the positive and negative items and the batch's L2 term.

        .. math::
            \hat y_{ui} = \mathbf e_u^\top \mathbf e_i, \quad
            \hat y_{uj} = \mathbf e_u^\top \mathbf e_j, \quad
            \Omega = \tfrac12 \sum_{(u,i,j) \in \text{batch}}
            \big(\|\mathbf e^{(0)}_u\|^2 + \|\mathbf e^{(0)}_i\|^2 + \|\mathbf e^{(0)}_j\|^2\big)

        **Input**: ``users``, ``pos``, ``neg``: int tensors ``(batch,)``.
        **Output**: ``(pos_scores (batch,), neg_scores (batch,), omega (scalar))``.
        """
        E_u, E_i = self.propagate(training=training)
        eu = tf.gather(E_u, users)
        pos_scores = tf.reduce_sum(eu * tf.gather(E_i, pos), axis=-1)
        neg_scores = tf.reduce_sum(eu * tf.gather(E_i, neg), axis=-1)
        omega = 0.5 * tf.add_n(
            [tf.reduce_sum(tf.square(x)) for x in self._gather_ego(users, [pos, neg])]
        )
        return pos_scores, neg_scores, omega

    def call(self, inputs, training=None):
        users, items = inputs
        E_u, E_i = self.propagate(training=bool(training))
        return tf.reduce_sum(tf.gather(E_u, users) * tf.gather(E_i, items), axis=-1)

    def final_embeddings(self) -> tuple[np.ndarray, np.ndarray]:
        """``(E_users, E_items)`` in inference mode as NumPy arrays."""
        E_u, E_i = self.propagate(training=False)
        return E_u.numpy(), E_i.numpy()

    def user_embeddings(self) -> np.ndarray:
        return self.final_embeddings()[0]

    def item_embeddings(self) -> np.ndarray:
        return self.final_embeddings()[1]

    def score_all_users(self, users=None) -> np.ndarray:
        """Scores of every item for every (or the given) user: ``(n_users, n_items)`` float32."""
        E_u, E_i = self.final_embeddings()
        if users is not None:
            E_u = E_u[_ids(users, self.n_users, "users")]
        return E_u @ E_i.T

    user_item_scores = score_all_users

    def score_pairs(self, users, items) -> np.ndarray:
        E_u, E_i = self.final_embeddings()
        u = _ids(users, self.n_users, "users")
        i = _ids(items, self.n_items, "items")
        return np.einsum("nd,nd->n", E_u[u], E_i[i])


class BPRMF(EmbeddingRecommender):
    r"""Matrix factorisation trained with BPR (Rendle et al., 2009): no graph.

    .. math::
        s_{ui} = \mathbf p_u^\top \mathbf q_i

    **Arguments**: ``n_users``, ``n_items``, ``dim`` (64 in the course), ``init_std``
    (normal initialisation), ``seed``.

    Reference: Rendle, Freudenthaler, Gantner & Schmidt-Thieme (2009), "BPR: Bayesian
    Personalized Ranking from Implicit Feedback", UAI.

    Written out in plain TensorFlow in notebook 03 §3.4a and checked equal to this class.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        init_std: float = 0.1,
        seed: int | None = None,
        name: str = "bpr_mf",
    ):
        super().__init__(n_users, n_items, dim, name=name)
        self.user_embedding = embedding_table(
            self, "user_embedding", self.n_users, self.dim, init_std, seed
        )
        self.item_embedding = embedding_table(
            self, "item_embedding", self.n_items, self.dim, init_std, seed, 1
        )

    def ego(self):
        return self.user_embedding, self.item_embedding

    def propagate(self, training=False):
        return tf.convert_to_tensor(self.user_embedding), tf.convert_to_tensor(self.item_embedding)

    def bpr_terms(self, users, pos, neg, training=True):
        # Gather straight from the variables: sparse (IndexedSlices) gradients.
        eu = tf.gather(self.user_embedding, users)
        ep = tf.gather(self.item_embedding, pos)
        en = tf.gather(self.item_embedding, neg)
        pos_scores = tf.reduce_sum(eu * ep, axis=-1)
        neg_scores = tf.reduce_sum(eu * en, axis=-1)
        omega = 0.5 * (tf.reduce_sum(eu * eu) + tf.reduce_sum(ep * ep) + tf.reduce_sum(en * en))
        return pos_scores, neg_scores, omega


class _GraphRecommender(EmbeddingRecommender):
    """Shared by the graph models: one ego table ``self.embedding`` for all nodes (users first).

    Subclasses implement :meth:`node_embeddings`; the BPR terms gather straight from the
    ``(n_nodes, d')`` output (items at ``n_users + i``), which saves slicing it per step.
    """

    def node_embeddings(self, training=False):
        """Final vectors of all nodes, ``(n_users + n_items, d')``."""
        raise NotImplementedError

    def propagate(self, training=False):
        E = self.node_embeddings(training)
        return E[: self.n_users], E[self.n_users :]

    def ego(self):
        return self.embedding[: self.n_users], self.embedding[self.n_users :]

    def bpr_terms(self, users, pos, neg, training=True):
        E = self.node_embeddings(training)
        pos, neg = pos + self.n_users, neg + self.n_users
        eu = tf.gather(E, users)
        pos_scores = tf.reduce_sum(eu * tf.gather(E, pos), axis=-1)
        neg_scores = tf.reduce_sum(eu * tf.gather(E, neg), axis=-1)
        ego = [tf.gather(self.embedding, idx) for idx in (users, pos, neg)]
        omega = 0.5 * tf.add_n([tf.reduce_sum(tf.square(x)) for x in ego])
        return pos_scores, neg_scores, omega


def _as_csr(A, n_nodes: int, name: str) -> sp.csr_matrix:
    if isinstance(A, G.SparsePropagation):
        A = A.matrix
    A = sp.csr_matrix(A, dtype=np.float64)
    if A.shape != (n_nodes, n_nodes):
        raise ValueError(f"{name} has shape {A.shape}, expected ({n_nodes}, {n_nodes})")
    return A


class LightGCN(_GraphRecommender):
    r"""LightGCN: linear propagation on the user-item graph, mean of the layers, dot product.

    .. math::
        E^{(k+1)} = \hat A E^{(k)}, \qquad
        E = \frac{1}{K+1} \sum_{k=0}^{K} E^{(k)} = \frac{1}{K+1}\sum_{k=0}^{K} \hat A^k E^{(0)},
        \qquad s_{ui} = \mathbf e_u^\top \mathbf e_i

    with :math:`\hat A = D^{-1/2} A D^{-1/2}` the symmetric-normalised bipartite adjacency of
    the *training* interactions (:func:`gnnrec_utils.graph.lightgcn_operator`), no weight
    matrices and no non-linearity: the only parameters are the ego embeddings
    :math:`E^{(0)}`. Training propagates the whole graph once per batch step with the fast
    operator of :mod:`gnnrec_utils.graph` (``SparsePropagation``, CSR kernel by default).

    **Arguments**

    - ``adjacency``: :math:`\hat A`, shape ``(n_users + n_items,) * 2`` (SciPy) or a
      :class:`~gnnrec_utils.graph.SparsePropagation`; see :func:`lightgcn_from_interactions`;
    - ``dim``: embedding size; ``n_layers``: :math:`K`; ``init_std``: normal initialisation;
    - ``kernel``: propagation kernel when ``adjacency`` is a SciPy matrix (``"auto"`` = CSR);
    - ``seed``: initialiser seed.

    Reference: He, Deng, Wang, Li, Zhang & Wang (2020), "LightGCN: Simplifying and Powering
    Graph Convolution Network for Recommendation", SIGIR, eq. 7–8.

    Written out in plain TensorFlow in notebook 03 §3.4a (ego table, propagation, layer mean, BPR
    step) and checked equal to this class trained by :class:`~gnnrec_utils.training.BPREpochs`.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        adjacency,
        dim: int = 64,
        n_layers: int = 3,
        init_std: float = 0.1,
        kernel: str = "auto",
        seed: int | None = None,
        name: str = "lightgcn",
    ):
        super().__init__(n_users, n_items, dim, name=name)
        n_nodes = self.n_users + self.n_items
        if int(n_layers) != n_layers or n_layers < 0:
            raise ValueError(f"n_layers must be a non-negative integer, got {n_layers!r}")
        self.n_layers = int(n_layers)
        self.A_hat = _as_csr(adjacency, n_nodes, "adjacency")
        self._op = (
            adjacency
            if isinstance(adjacency, G.SparsePropagation)
            else G.to_tf_operator(self.A_hat, kernel=kernel)
        )
        self.embedding = embedding_table(self, "ego_embedding", n_nodes, self.dim, init_std, seed)

    def layer_embeddings(self, training=False) -> list:
        r"""``[E^{(0)}, \hat A E^{(0)}, …, \hat A^K E^{(0)}]``, tensors ``(n_nodes, dim)``."""
        return G.propagate(self._op, self.embedding, self.n_layers)

    def node_embeddings(self, training=False):
        return tf.add_n(self.layer_embeddings(training)) / float(self.n_layers + 1)

    # -- using a trained model -----------------------------------------------------------------
    def _layers_numpy(self) -> list[np.ndarray]:
        return [x.numpy().astype(np.float64) for x in self.layer_embeddings()]

    def explain(self, user: int, item: int) -> dict:
        r"""Exact linear decomposition of the score :math:`s_{ui}` (float64).

        With :math:`\bar{\mathbf e}_v = \sum_{k=0}^{K-1} \mathbf e_v^{(k)}` and
        :math:`E^{(k+1)} = \hat A E^{(k)}`,

        .. math::
            s_{ui} = \underbrace{\tfrac{1}{K+1}\,\mathbf e_u^{(0)\top}\mathbf e_i}_{\text{own}}
              + \sum_{j \in N(u)} \underbrace{\tfrac{\hat A_{uj}}{K+1}\,
                \bar{\mathbf e}_j^\top \mathbf e_i}_{\text{past item } j}
            = \underbrace{\tfrac{1}{K+1}\,\mathbf e_u^\top\mathbf e_i^{(0)}}_{\text{item itself}}
              + \sum_{v \in N(i)} \underbrace{\tfrac{\hat A_{iv}}{K+1}\,
                \mathbf e_u^\top \bar{\mathbf e}_v}_{\text{neighbour user } v}
            = \frac{1}{(K+1)^2} \sum_{k=0}^{K} \sum_{l=0}^{K} \mathbf e_u^{(k)\top}
              \mathbf e_i^{(l)}

        The last form splits the score by the lengths :math:`k` and :math:`l` of the
        propagation paths that reach the user and the item.

        **Output**: a dict with ``"score"``; ``"own"`` and ``"past_items"`` (item indices of
        :math:`N(u)`) with ``"past_item_contrib"`` (one value each); ``"item_itself"`` and
        ``"neighbour_users"`` with ``"neighbour_contrib"``; ``"layer_pairs"``, a
        ``(K+1, K+1)`` array. Each decomposition sums to ``"score"``.
        """
        u = int(_ids([user], self.n_users, "user")[0])
        i = int(_ids([item], self.n_items, "item")[0])
        L = self._layers_numpy()
        K = self.n_layers
        nu, ni = u, self.n_users + i
        E = sum(L) / (K + 1)
        e_u, e_i = E[nu], E[ni]
        partial = sum(L[:K]) if K > 0 else np.zeros_like(L[0])  # sum_{k<K} E^(k)
        A = self.A_hat
        row_u = slice(A.indptr[nu], A.indptr[nu + 1])
        nbrs_u, w_u = A.indices[row_u], A.data[row_u]
        row_i = slice(A.indptr[ni], A.indptr[ni + 1])
        nbrs_i, w_i = A.indices[row_i], A.data[row_i]
        past = (w_u / (K + 1)) * (partial[nbrs_u] @ e_i)
        neigh = (w_i / (K + 1)) * (partial[nbrs_i] @ e_u)
        layer_pairs = np.array([[L[k][nu] @ L[m][ni] for m in range(K + 1)] for k in range(K + 1)])
        return {
            "score": float(e_u @ e_i),
            "own": float(L[0][nu] @ e_i / (K + 1)),
            "past_items": nbrs_u - self.n_users,
            "past_item_contrib": past,
            "item_itself": float(e_u @ L[0][ni] / (K + 1)),
            "neighbour_users": nbrs_i,
            "neighbour_contrib": neigh,
            "layer_pairs": layer_pairs / (K + 1) ** 2,
        }

    def fold_in(self, items: Sequence[int], item_degree_correction: bool = True) -> np.ndarray:
        r"""The final embedding of a *new* user who liked ``items``, without retraining.

        The new user :math:`u^*` joins the graph with edges to ``items`` and an unknown ego
        embedding, taken as :math:`\mathbf 0`. One propagation step gives every layer of
        :math:`u^*` from the items' trained layers (the items' own layers change by one
        neighbour out of many, which is ignored):

        .. math::
            \mathbf e_{u^*}^{(0)} = \mathbf 0, \qquad
            \mathbf e_{u^*}^{(k+1)} = \sum_{j \in N(u^*)}
            \frac{1}{\sqrt{|N(u^*)|}\sqrt{d_j + 1}}\,\mathbf e_j^{(k)}, \qquad
            \mathbf e_{u^*} = \frac{1}{K+1}\sum_{k=0}^{K} \mathbf e_{u^*}^{(k)}

        with :math:`d_j` the training degree of item :math:`j` (``+1`` for the new edge; pass
        ``item_degree_correction=False`` to use :math:`d_j`, which reproduces
        :math:`\hat A` exactly for a user already in the graph).

        **Output**: ``np.ndarray`` of shape ``(dim,)``; score items with
        ``item_embeddings() @ e``.
        """
        idx = np.unique(_ids(items, self.n_items, "items"))
        if idx.size == 0:
            raise ValueError("fold_in needs at least one item")
        users = np.zeros(idx.size, dtype=np.int64)
        return self.fold_in_many(users, idx, 1, item_degree_correction)[0]

    def fold_in_many(
        self, users, items, n_new: int, item_degree_correction: bool = True
    ) -> np.ndarray:
        r""":meth:`fold_in` for ``n_new`` new users at once.

        **Input**: ``users`` (new-user index in ``[0, n_new)``) and ``items`` (item index),
        one pair per liked item. **Output**: ``(n_new, dim)`` float32; a new user without
        items gets the zero vector.
        """
        u = _ids(users, int(n_new), "users")
        i = _ids(items, self.n_items, "items")
        key = np.unique(u * self.n_items + i)
        u, i = key // self.n_items, key % self.n_items
        n_liked = np.bincount(u, minlength=int(n_new)).astype(np.float64)
        # Training degree of each item node: A_hat has one stored entry per edge (no loops).
        deg = np.diff(self.A_hat.indptr)[self.n_users + i].astype(np.float64)
        if item_degree_correction:
            deg = deg + 1.0
        w = 1.0 / (np.sqrt(n_liked[u]) * np.sqrt(np.maximum(deg, 1.0)))
        W = sp.csr_matrix((w, (u, i)), shape=(int(n_new), self.n_items))
        L = self._layers_numpy()
        out = np.zeros((int(n_new), self.dim))
        for k in range(self.n_layers):
            out += W @ L[k][self.n_users :]
        return (out / (self.n_layers + 1)).astype(np.float32)


class GCNMF(_GraphRecommender):
    r"""GCN + MF, the article's two-stage design: GCN layers make the vectors, a dot product scores.

    Spektral's ``GCNConv`` layers (:class:`gnnrec_utils.layers.PropagatedGCNConv`, the sparse
    product on the CSR operator), with weights and a non-linearity, run on the renormalised
    bipartite graph :math:`\tilde A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}`
    (:func:`gnnrec_utils.graph.gcn_operator`):

    .. math::
        H^{(0)} = E^{(0)}, \qquad
        H^{(l+1)} = \sigma\big(\tilde A H^{(l)} W^{(l)} + \mathbf b^{(l)}\big), \qquad
        \mathbf e_v = \big[\,\mathbf h^{(0)}_v \,\Vert\, \tilde{\mathbf h}^{(1)}_v \,\Vert\, \dots
        \Vert\, \tilde{\mathbf h}^{(L)}_v\big], \qquad s_{ui} = \mathbf e_u^\top \mathbf e_i

    with :math:`\tilde{\mathbf h} = \mathbf h / \|\mathbf h\|_2` when ``normalize`` (as NGCF
    does) and message dropout on each layer's output during training. The layer outputs are
    concatenated (``combine="concat"``, NGCF) or averaged (``"mean"``). It is NGCF without
    the bi-interaction term: a baseline with the weight matrices and non-linearities that
    LightGCN removes.

    **Arguments**: ``adjacency`` (:math:`\tilde A`, kept as ``A_tilde``; SciPy, shape
    ``(n_nodes, n_nodes)``), ``dim`` (ego embedding size and every layer's width),
    ``n_layers``, ``activation`` (Keras name or callable; default LeakyReLU with slope 0.2),
    ``dropout``, ``normalize``, ``combine``,
    ``init_std``, ``seed``; ``kernel_init``: ``"glorot"`` (Spektral's default) or ``"identity"``
    for the weight matrices; ``kernel_reg``: L2 weight on them (added to the training loss
    through ``model.losses``); ``kernel``: ``"auto"`` (default) runs the layers' sparse product on
    :class:`~gnnrec_utils.graph.SparsePropagation` (CSR); ``"spektral"`` leaves Spektral's
    own ``tf.sparse.sparse_dense_matmul`` in place (same numbers, about 10× slower).

    References: Kipf & Welling (2017), ICLR (GCN); Wang, He, Wang, Feng & Chua (2019),
    "Neural Graph Collaborative Filtering", SIGIR (NGCF).
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        adjacency,
        dim: int = 64,
        n_layers: int = 2,
        activation=None,
        dropout: float = 0.1,
        normalize: bool = True,
        combine: str = "concat",
        init_std: float = 0.1,
        seed: int | None = None,
        kernel: str = "auto",
        kernel_init: str = "glorot",
        kernel_reg: float = 0.0,
        name: str = "gcn_mf",
    ):
        super().__init__(n_users, n_items, dim, name=name)
        if combine not in ("concat", "mean"):
            raise ValueError(f"combine must be 'concat' or 'mean', got {combine!r}")
        n_nodes = self.n_users + self.n_items
        self.n_layers = int(n_layers)
        self.normalize, self.combine, self.dropout_rate = bool(normalize), combine, float(dropout)
        self.A_tilde = _as_csr(adjacency, n_nodes, "adjacency")
        self._op = None if kernel == "spektral" else G.to_tf_operator(self.A_tilde, kernel=kernel)
        coo = self.A_tilde.tocoo()
        self._A_tensor = tf.sparse.reorder(
            tf.SparseTensor(
                np.stack([coo.row, coo.col], axis=1).astype(np.int64),
                coo.data.astype(np.float32),
                coo.shape,
            )
        )
        if activation is None:
            activation = lambda x: tf.nn.leaky_relu(x, alpha=0.2)  # noqa: E731
        self.embedding = embedding_table(self, "ego_embedding", n_nodes, self.dim, init_std, seed)
        if kernel_init not in ("glorot", "identity"):
            raise ValueError(f"kernel_init must be 'glorot' or 'identity', got {kernel_init!r}")
        from gnnrec_utils.layers import PropagatedGCNConv  # Spektral loads on first use

        self.convs = [
            PropagatedGCNConv(
                self.dim,
                propagation=self._op,
                activation=activation,
                kernel_initializer=(
                    tf.keras.initializers.GlorotUniform(seed=_seed(seed, 1 + k))
                    if kernel_init == "glorot"
                    else tf.keras.initializers.Identity()
                ),
                kernel_regularizer=tf.keras.regularizers.L2(kernel_reg) if kernel_reg else None,
                name=f"gcn_conv_{k}",
            )
            for k in range(self.n_layers)
        ]
        self.dropouts = [
            tf.keras.layers.Dropout(self.dropout_rate, seed=_seed(seed, 100 + k))
            for k in range(self.n_layers)
        ]
        # Build the layers now: weights created lazily inside a traced train step would be
        # missing from the variable list collected before it (and would force a retrace).
        for conv in self.convs:
            conv.build([tf.TensorShape((n_nodes, self.dim)), tf.TensorShape((n_nodes, n_nodes))])

    def layer_outputs(self, training=False) -> list:
        """``[H^(0), H~^(1), …]``: the tensors that are combined, each ``(n_nodes, dim)``."""
        h = tf.convert_to_tensor(self.embedding)
        outs = [h]
        for conv, drop in zip(self.convs, self.dropouts, strict=True):
            h = conv([h, self._A_tensor])
            h = drop(h, training=training)
            outs.append(tf.math.l2_normalize(h, axis=-1) if self.normalize else h)
        return outs

    def node_embeddings(self, training=False):
        outs = self.layer_outputs(training)
        return tf.concat(outs, axis=-1) if self.combine == "concat" else tf.add_n(outs) / len(outs)


# --------------------------------------------------------------------------------------------
# Constructors from interactions
# --------------------------------------------------------------------------------------------


def lightgcn_from_interactions(users, items, n_users: int, n_items: int, **kwargs) -> LightGCN:
    r"""A :class:`LightGCN` on the graph of the training interactions ``(users, items)``.

    Builds :math:`\hat A = D^{-1/2} A D^{-1/2}` with :func:`graph.lightgcn_operator`;
    ``kwargs`` go to :class:`LightGCN` (``dim``, ``n_layers``, ``init_std``, ``seed`` …).
    """
    A = G.user_item_adjacency(users, items, n_users, n_items)
    return LightGCN(n_users, n_items, G.lightgcn_operator(A), **kwargs)


def gcnmf_from_interactions(users, items, n_users: int, n_items: int, **kwargs) -> GCNMF:
    r"""A :class:`GCNMF` on the renormalised graph :math:`\tilde D^{-1/2}(A+I)\tilde D^{-1/2}`
    of the training interactions; ``kwargs`` go to :class:`GCNMF`."""
    A = G.user_item_adjacency(users, items, n_users, n_items)
    return GCNMF(n_users, n_items, G.gcn_operator(A), **kwargs)
