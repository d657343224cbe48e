r"""A graph GAN for recommendation (IRGAN/GraphGAN-style) and graph-generation statistics.

The source article's §4.1.3 writes a "graph generative adversarial network" as
:math:`G(z) = \mathrm{softmax}(\mathrm{GCN}(z))` with ":math:`D(G(z)), D(z)`" and no objective.
This module makes it concrete for a user–item graph, following IRGAN (Wang et al., SIGIR
2017) and GraphGAN (Wang et al., AAAI 2018):

- **generator** :class:`PolicyGenerator`: a GCN over the user–item graph (a trained
  :class:`~gnnrec_utils.models.LightGCN`, or any
  :class:`~gnnrec_utils.models.EmbeddingRecommender`) whose scores give, for every user, a
  softmax over items with temperature :math:`\tau`,

  .. math::
      p_\theta(i \mid u) = \frac{\exp(s_{ui}/\tau)}{\sum_{j \in C(u)} \exp(s_{uj}/\tau)},
      \qquad s_{ui} = \mathbf e_u^\top \mathbf e_i,

  over the candidate set :math:`C(u)` (all items, or all items but the user's training
  positives);
- **discriminator** :class:`Discriminator`: :math:`D_\phi(u, i) = \sigma(\mathbf d_u^\top
  \mathbf d_i + b_i)` on user–item pairs;
- **objective** (the minimax game of Goodfellow et al., 2014, per user):

  .. math::
      \min_\theta \max_\phi \sum_u
      \mathbb E_{i \sim p_\text{true}(\cdot \mid u)}\big[\log D_\phi(u, i)\big]
      + \mathbb E_{j \sim p_\theta(\cdot \mid u)}\big[\log\big(1 - D_\phi(u, j)\big)\big];

- **policy gradient** for the discrete item draws (REINFORCE, Williams 1992), with reward
  :math:`r(u, j) = -\log(1 - D_\phi(u, j)) = \log(1 + e^{f_\phi(u, j)})` (IRGAN eq. 5) and a
  baseline :math:`b` that leaves the gradient unbiased and lowers its variance:

  .. math::
      \nabla_\theta\, \mathbb E_{j \sim p_\theta}[r(u, j)]
      = \mathbb E_{j \sim p_\theta}\big[(r(u, j) - b_u)\,
        \nabla_\theta \log p_\theta(j \mid u)\big];

- :func:`discriminator_train_step` and :func:`generator_train_step`: one step of each player
  (notebook 05 §4.1 writes both out in plain TensorFlow and asserts they equal these);
- :func:`fit_gan`: alternating D and G updates with a history for plots;
- the settings notebook 05 chose on validation live in the recipe registry,
  ``gnnrec_utils.recipes.MODEL_DEFAULTS["gan"]`` (read by notebook 06);
- graph generation: :func:`sample_graph` (a synthetic graph with given user degrees),
  :func:`configuration_model` (degree-preserving random baseline), :func:`ks_statistic`,
  :func:`co_interaction`, :func:`graph_statistics`.

Randomness is passed in (``seed=``/``rng=``); nothing touches global state.

Taught in ``notebooks/05_graph_gan.ipynb``.
"""

from __future__ import annotations

from gnnrec_utils._progress import tqdm
from gnnrec_utils._validate import index_array as _ids
from gnnrec_utils.graph import interaction_matrix
from gnnrec_utils.metrics import gini, top_k_items
from gnnrec_utils.models import embedding_table
from gnnrec_utils.training import EarlyStopping, new_history

import math
import time
from collections import Counter
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from scipy.stats import ks_2samp

__all__ = [
    "BASELINES",
    "Discriminator",
    "PolicyGenerator",
    "reward_from_logits",
    "baseline_values",
    "policy_gradient_surrogate",
    "exact_policy_gradient",
    "sample_categorical",
    "sampled_item_statistics",
    "discriminator_train_step",
    "generator_train_step",
    "fit_gan",
    "sample_graph",
    "configuration_model",
    "ks_statistic",
    "co_interaction",
    "graph_statistics",
]

BASELINES = ("loo", "ema", "none")

_MASKED = -1e9  # logit of an excluded item: exp() underflows to exactly 0 in float32


# --------------------------------------------------------------------------------------------
# Discriminator
# --------------------------------------------------------------------------------------------


class Discriminator(tf.keras.Model):
    r"""The discriminator :math:`D_\phi(u, i) = \sigma(\mathbf d_u^\top \mathbf d_i + b_i)`.

    A matrix factorisation with an item bias whose logit :math:`f_\phi(u, i)` says how much
    the pair looks like an observed interaction (IRGAN's item-recommendation discriminator).

    **Input** (``call``): ``(users, items)``, int arrays ``(batch,)``. **Output**:
    :math:`D_\phi(u, i)`, float ``(batch,)`` in ``(0, 1)``.

    **Arguments**: ``n_users``, ``n_items``, ``dim``, ``init_std`` (normal initialisation of
    the factors; biases start at 0), ``seed``. Build one from a trained BPR model with
    :meth:`from_model` (pre-training).

    Reference: Wang et al. (2017), "IRGAN: A Minimax Game for Unifying Generative and
    Discriminative Information Retrieval Models", SIGIR, §3.1.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        init_std: float = 0.1,
        seed: int | None = None,
        name: str = "discriminator",
    ):
        super().__init__(name=name)
        self.n_users, self.n_items, self.dim = int(n_users), int(n_items), int(dim)
        self.user_embedding = embedding_table(
            self, "user_embedding", self.n_users, self.dim, init_std, seed
        )
        self.item_embedding = embedding_table(
            self, "item_embedding", self.n_items, self.dim, init_std, seed, 1
        )
        self.item_bias = self.add_weight(
            name="item_bias", shape=(self.n_items,), initializer="zeros"
        )

    @classmethod
    def from_model(cls, model, name: str = "discriminator") -> Discriminator:
        """A discriminator whose :math:`\\mathbf d_u, \\mathbf d_i` are a trained model's final
        embeddings (``model.user_embeddings()``, ``model.item_embeddings()``); biases 0."""
        eu = np.asarray(model.user_embeddings(), dtype=np.float32)
        ei = np.asarray(model.item_embeddings(), dtype=np.float32)
        if eu.shape[1] != ei.shape[1]:
            raise ValueError(f"user and item embeddings differ in size: {eu.shape}, {ei.shape}")
        disc = cls(eu.shape[0], ei.shape[0], dim=eu.shape[1], name=name)
        disc.user_embedding.assign(eu)
        disc.item_embedding.assign(ei)
        return disc

    def logits(self, users, items):
        r""":math:`f_\phi(u, i) = \mathbf d_u^\top \mathbf d_i + b_i`, tensor of the shape of
        ``items`` (``users`` has shape ``(batch,)``; ``items`` ``(batch,)`` or
        ``(batch, k)``)."""
        du = tf.gather(self.user_embedding, users)
        di = tf.gather(self.item_embedding, items)
        if di.shape.rank == 3:
            du = du[:, None, :]
        return tf.reduce_sum(du * di, axis=-1) + tf.gather(self.item_bias, items)

    def l2(self, users, items_list):
        """Half the squared norm of the gathered user and item vectors (a scalar tensor)."""
        terms = [tf.reduce_sum(tf.square(tf.gather(self.user_embedding, users)))]
        terms += [tf.reduce_sum(tf.square(tf.gather(self.item_embedding, i))) for i in items_list]
        return 0.5 * tf.add_n(terms)

    def call(self, inputs, training=None):
        users, items = inputs
        return tf.sigmoid(self.logits(users, items))

    def probability(self, users, items) -> np.ndarray:
        """:math:`D_\\phi(u, i)` for given pairs, NumPy ``(n_pairs,)``."""
        u = _ids(users, self.n_users, "users").astype(np.int32)
        i = _ids(items, self.n_items, "items").astype(np.int32)
        return tf.sigmoid(self.logits(u, i)).numpy()

    def score_all_users(self, users=None) -> np.ndarray:
        """Logits :math:`f_\\phi(u, i)` of every item, ``(n_users, n_items)`` float32 (D ranks
        items too; IRGAN reports both players as recommenders)."""
        U = self.user_embedding.numpy()
        if users is not None:
            U = U[_ids(users, self.n_users, "users")]
        return (U @ self.item_embedding.numpy().T + self.item_bias.numpy()[None, :]).astype(
            np.float32
        )


def discriminator_train_step(discriminator: Discriminator, optimizer, reg: float = 0.0):
    r"""A ``tf.function`` that takes one D step on a batch of real and fake pairs.

    .. math::
        \mathcal L_D = -\frac{1}{|B|}\sum_{(u, i, j) \in B}
        \Big[\log \sigma\big(f_\phi(u, i)\big) + \log\big(1 - \sigma(f_\phi(u, j))\big)\Big]
        + \lambda_D \frac{\Omega}{|B|}

    (binary cross-entropy, real :math:`(u, i)` labelled 1, generated :math:`(u, j)` labelled
    0; :math:`\Omega` half the squared norm of the batch's vectors). Maximising the game's
    value over :math:`\phi` is minimising :math:`\mathcal L_D`.

    **Call** ``step(users, real_items, fake_items)`` (int32 ``(batch,)`` each); returns
    ``(bce, mean D(real), mean D(fake))`` as scalar tensors.

    Written out line by line in plain TensorFlow in ``notebooks/05_graph_gan.ipynb`` §4.1, which
    asserts that it equals this step (loss and updated weights) on the same batch.
    """
    variables = discriminator.trainable_variables
    optimizer.build(variables)  # create Adam's slots now, so the step is traced only once
    lam = tf.constant(float(reg), tf.float32)
    spec = tf.TensorSpec(shape=[None], dtype=tf.int32)

    @tf.function(input_signature=[spec, spec, spec], autograph=False)
    def step(users, real, fake):
        with tf.GradientTape() as tape:
            f_real = discriminator.logits(users, real)
            f_fake = discriminator.logits(users, fake)
            bce = tf.reduce_mean(tf.math.softplus(-f_real)) + tf.reduce_mean(
                tf.math.softplus(f_fake)
            )
            n = tf.cast(tf.shape(users)[0], tf.float32)
            loss = bce + lam * discriminator.l2(users, [real, fake]) / n
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return bce, tf.reduce_mean(tf.sigmoid(f_real)), tf.reduce_mean(tf.sigmoid(f_fake))

    return step


# --------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------


class PolicyGenerator:
    r"""The generator: a graph model's scores turned into a softmax policy over items.

    .. math::
        p_\theta(i \mid u) = \frac{\exp(s_{ui}/\tau)\,[i \in C(u)]}
        {\sum_{j \in C(u)} \exp(s_{uj}/\tau)}, \qquad s_{ui} = \mathbf e_u^\top \mathbf e_i

    with :math:`\mathbf e` the final (propagated) embeddings of ``model`` — for a
    :class:`~gnnrec_utils.models.LightGCN`, :math:`E = \frac{1}{K+1}\sum_k \hat A^k E^{(0)}`:
    this is the article's ":math:`\mathrm{softmax}(\mathrm{GCN}(z))`" made concrete. The
    candidate set :math:`C(u)` is every item except the pairs in ``exclude`` (e.g. the
    user's training positives), or every item when ``exclude`` is None.

    The temperature changes the *policy* (how peaked the draws are), not the ranking: top-K
    lists come from :meth:`score_all_users`, which is the model's own score matrix.

    **Arguments**

    - ``model``: an :class:`~gnnrec_utils.models.EmbeddingRecommender` (its trainable
      variables are the generator's :math:`\theta`);
    - ``temperature``: :math:`\tau > 0`;
    - ``exclude``: ``(users, items)`` pairs removed from the candidate sets, or None.

    References: Wang et al. (2017), IRGAN, SIGIR, eq. 3; Wang et al. (2018), "GraphGAN: Graph
    Representation Learning with Generative Adversarial Nets", AAAI (graph softmax).
    """

    def __init__(self, model, temperature: float = 1.0, exclude: tuple | None = None):
        if not (math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        self.model = model
        self.n_users, self.n_items = int(model.n_users), int(model.n_items)
        self.temperature = float(temperature)
        if exclude is None:
            self.mask = None
        else:
            self.mask = (
                interaction_matrix(*exclude, self.n_users, self.n_items, duplicates="collapse")
                .toarray()
                .astype(bool)
            )
            if self.mask.all(axis=1).any():
                raise ValueError("a user has every item excluded: the policy would be empty")
        self._mask_tf = None if self.mask is None else tf.constant(self.mask)

    @property
    def trainable_variables(self):
        return self.model.trainable_variables

    # -- TensorFlow (differentiable) -----------------------------------------------------------
    def logits(self, users, training: bool = False):
        r"""Masked logits :math:`s_{ui}/\tau` (excluded items get -1e9), tensor ``(B, n_items)``."""
        e_users, e_items = self.model.propagate(training=training)
        z = tf.matmul(tf.gather(e_users, users), e_items, transpose_b=True) / self.temperature
        if self._mask_tf is not None:
            z = tf.where(tf.gather(self._mask_tf, users), tf.constant(_MASKED, z.dtype), z)
        return z

    def log_probs(self, users, training: bool = False):
        r""":math:`\log p_\theta(\cdot \mid u)` for a batch of users, tensor ``(B, n_items)``."""
        return tf.nn.log_softmax(self.logits(users, training=training), axis=-1)

    def ego_l2(self, users, items):
        """Half the squared norm of the ego vectors of ``users`` and ``items`` (any shape)."""
        U0, I0 = self.model.ego()
        return 0.5 * (
            tf.reduce_sum(tf.square(tf.gather(U0, users)))
            + tf.reduce_sum(tf.square(tf.gather(I0, tf.reshape(items, [-1]))))
        )

    # -- NumPy --------------------------------------------------------------------------------
    def score_all_users(self, users=None) -> np.ndarray:
        """The model's scores :math:`s_{ui}` (no temperature, no mask), ``(n_users, n_items)``."""
        return self.model.score_all_users(users)

    user_item_scores = score_all_users

    def probabilities(self, users=None) -> np.ndarray:
        r""":math:`p_\theta(i \mid u)`, float64 ``(n_users or len(users), n_items)``; rows sum
        to 1 and excluded items are exactly 0 (computed in float64 from the scores)."""
        u = np.arange(self.n_users) if users is None else _ids(users, self.n_users, "users")
        return self._probabilities_from_scores(self.model.score_all_users(u), u)

    def _probabilities_from_scores(self, scores, users) -> np.ndarray:
        z = np.asarray(scores, dtype=np.float64) / self.temperature
        if self.mask is not None:
            z = np.where(self.mask[users], -np.inf, z)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p

    def entropy(self, users=None) -> np.ndarray:
        r"""Entropy :math:`H(p_\theta(\cdot \mid u))` in nats per user, ``(n_users,)``: from 0
        (one item) to :math:`\log |C(u)|` (uniform). A collapse indicator."""
        return _entropy(self.probabilities(users))

    def sample(self, users, rng, n_samples: int = 1) -> np.ndarray:
        """``n_samples`` items per user drawn i.i.d. from the policy: int64 ``(len(users), k)``."""
        u = _ids(users, self.n_users, "users")
        probs = self.probabilities(u)
        rows = np.repeat(np.arange(u.size), int(n_samples))
        return sample_categorical(probs, rows, rng).reshape(u.size, int(n_samples))


def _entropy(p: np.ndarray) -> np.ndarray:
    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)


# --------------------------------------------------------------------------------------------
# Policy gradient
# --------------------------------------------------------------------------------------------


def reward_from_logits(d_logits):
    r"""The generator's reward :math:`r = -\log(1 - D) = \log(1 + e^{f}) = \mathrm{softplus}(f)`.

    Minimising the game's generator term :math:`\mathbb E_{j \sim p_\theta}[\log(1 - D(u,
    j))]` is maximising :math:`\mathbb E[r]` (IRGAN eq. 5). Works on NumPy arrays and
    tensors; output of the same shape, values :math:`> 0`.
    """
    if isinstance(d_logits, (tf.Tensor, tf.Variable)):
        return tf.math.softplus(d_logits)
    return np.logaddexp(0.0, np.asarray(d_logits, dtype=np.float64))


def baseline_values(rewards, kind: str = "loo", ema=None):
    r"""The baseline :math:`b` subtracted from each reward, same shape as ``rewards`` ``(B, K)``.

    - ``"loo"`` (leave-one-out): :math:`b_{uk} = \frac{1}{K-1}\sum_{l \ne k} r_{ul}`, the mean
      reward of the user's *other* samples; independent of sample :math:`k`, so the estimate
      stays unbiased (Kool, van Hoof & Welling, 2019); needs :math:`K \ge 2`;
    - ``"ema"``: a moving average of past rewards (the scalar ``ema``), unbiased as well;
    - ``"none"``: :math:`b = 0` (plain REINFORCE).

    Works on NumPy arrays and tensors.
    """
    if kind not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {kind!r}")
    is_tf = isinstance(rewards, (tf.Tensor, tf.Variable))
    lib = tf if is_tf else np
    if kind == "none":
        return lib.zeros_like(rewards)
    if kind == "ema":
        if ema is None:
            raise ValueError("baseline 'ema' needs the moving average (ema=...)")
        return lib.zeros_like(rewards) + ema
    k = rewards.shape[-1]
    if k is not None and k < 2:
        raise ValueError("the leave-one-out baseline needs at least 2 samples per user")
    if is_tf:
        k = tf.cast(tf.shape(rewards)[-1], rewards.dtype)
        return (tf.reduce_sum(rewards, -1, keepdims=True) - rewards) / (k - 1.0)
    return (rewards.sum(-1, keepdims=True) - rewards) / (k - 1)


def policy_gradient_surrogate(log_probs, rewards, baseline=0.0):
    r"""The loss whose gradient is minus the REINFORCE estimate of :math:`\nabla_\theta J`.

    .. math::
        \hat{\mathcal L}(\theta) = -\frac{1}{N} \sum_{n=1}^{N}
        \big(r_n - b_n\big)\, \log p_\theta(a_n), \qquad
        -\nabla_\theta \hat{\mathcal L} = \frac1N \sum_n (r_n - b_n)\,\nabla_\theta \log
        p_\theta(a_n) \;\xrightarrow{N \to \infty}\; \nabla_\theta\, \mathbb E_{a \sim
        p_\theta}[r(a)]

    ``log_probs`` (tensor, any shape) are :math:`\log p_\theta(a_n)` of the sampled actions;
    ``rewards`` and ``baseline`` (same shape or broadcastable) are treated as constants
    (``tf.stop_gradient``). **Output**: a scalar tensor.

    Reference: Williams (1992), "Simple statistical gradient-following algorithms for
    connectionist reinforcement learning", Machine Learning 8.
    """
    advantage = tf.stop_gradient(
        tf.cast(rewards, log_probs.dtype) - tf.cast(baseline, log_probs.dtype)
    )
    return -tf.reduce_mean(advantage * log_probs)


def exact_policy_gradient(logits, rewards) -> np.ndarray:
    r"""The exact gradient of :math:`J = \mathbb E_{a \sim \pi}[r(a)]` w.r.t. softmax logits.

    .. math::
        \pi = \mathrm{softmax}(z), \qquad
        \frac{\partial J}{\partial z_a} = \sum_{a'} \pi(a') r(a') \frac{\partial \log
        \pi(a')}{\partial z_a} = \pi(a)\,\big(r(a) - \textstyle\sum_{a'} \pi(a') r(a')\big)

    For checking estimators. **Input**: ``logits`` ``(n_actions,)`` or ``(B, n_actions)``,
    ``rewards`` the same shape. **Output**: float64 array of that shape.
    """
    z = np.asarray(logits, dtype=np.float64)
    r = np.asarray(rewards, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    pi = np.exp(z)
    pi /= pi.sum(axis=-1, keepdims=True)
    return pi * (r - (pi * r).sum(axis=-1, keepdims=True))


def sample_categorical(probs, rows, rng) -> np.ndarray:
    r"""One draw per entry of ``rows`` from the categorical distribution ``probs[row]``.

    Inverse-CDF sampling, vectorised over all rows at once: row :math:`r`'s CDF is shifted to
    :math:`(r, r + 1]` so that one ``np.searchsorted`` on the flattened array serves every
    row. Items with probability 0 are never drawn.

    **Input**: ``probs`` ``(n_rows, n_items)`` non-negative (rows are normalised here);
    ``rows`` int ``(n_draws,)``; ``rng`` a NumPy generator or seed.
    **Output**: int64 ``(n_draws,)`` item indices.
    """
    rng = np.random.default_rng(rng)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or (p < 0).any() or not np.isfinite(p).all():
        raise ValueError("probs must be a finite, non-negative 2-D array")
    rows = _ids(rows, p.shape[0], "rows")
    cdf = np.cumsum(p, axis=1)
    if (cdf[:, -1] <= 0).any():
        raise ValueError("a row of probs sums to 0")
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    n = p.shape[1]
    flat = (cdf + np.arange(p.shape[0])[:, None]).ravel()
    x = rng.random(rows.size) + rows
    idx = np.searchsorted(flat, x, side="right")
    return np.minimum(idx - rows * n, n - 1).astype(np.int64)


def sampled_item_statistics(items, n_items: int, item_popularity=None) -> dict:
    r"""How concentrated a set of sampled items is (mode/popularity-collapse indicators).

    **Output**: ``{"distinct_share": share of the catalogue drawn at least once, "gini":
    Gini of the draw counts over all items (0 = even, →1 = one item), "mean_popularity":
    mean training degree of the drawn items (when ``item_popularity`` is given)}``.
    """
    it = _ids(np.ravel(items), int(n_items), "items")
    counts = np.bincount(it, minlength=int(n_items))
    out = {"distinct_share": float((counts > 0).mean()), "gini": gini(counts)}
    if item_popularity is not None:
        pop = np.asarray(item_popularity, dtype=np.float64)
        out["mean_popularity"] = float(pop[it].mean())
    return out


def _sample_in_graph(log_probs, uniforms):
    """Inverse-CDF draws from each row of ``exp(log_probs)`` (B, n) with uniforms (B, K)."""
    cdf = tf.math.cumsum(tf.exp(log_probs), axis=-1)
    x = uniforms * cdf[:, -1:]
    idx = tf.searchsorted(cdf, x, side="right")  # first item whose CDF exceeds x
    return tf.minimum(idx, tf.shape(log_probs)[-1] - 1)


def generator_train_step(
    generator: PolicyGenerator,
    discriminator: Discriminator,
    optimizer,
    baseline: str = "loo",
    reg: float = 0.0,
):
    r"""A ``tf.function`` that takes one REINFORCE step of the generator on a batch of users.

    For each user :math:`u` of the batch :math:`B`, :math:`K` items
    :math:`j_{u1}, \dots, j_{uK} \sim p_\theta(\cdot \mid u)` are drawn by inverse-CDF
    sampling from the given uniforms (no gradient flows through the draw), rewarded with
    :math:`r_{uk} = \mathrm{softplus}(f_\phi(u, j_{uk}))` (:func:`reward_from_logits`) and
    centred by the baseline :math:`b_{uk}` (:func:`baseline_values`); the step minimises

    .. math::
        \mathcal L_G = -\frac{1}{|B| K} \sum_{u \in B} \sum_{k=1}^{K}
        \big(r_{uk} - b_{uk}\big)\, \log p_\theta(j_{uk} \mid u)
        + \lambda_G \frac{\Omega}{|B| K}

    (:func:`policy_gradient_surrogate`; rewards and baseline are constants, so
    :math:`-\nabla_\theta \mathcal L_G` is the REINFORCE estimate of
    :math:`\nabla_\theta \mathbb E_{j \sim p_\theta}[r]`; :math:`\Omega` half the squared
    norm of the batch's ego vectors, ``reg`` :math:`= \lambda_G`) with one ``optimizer`` step
    on ``generator.trainable_variables``. The discriminator is not updated.

    **Call** ``step(users, uniforms, ema)``: ``users`` int32 ``(B,)``, ``uniforms`` float32
    ``(B, K)`` in ``[0, 1)`` (the draws' randomness), ``ema`` a float32 scalar (the moving
    average, used by ``baseline="ema"`` only). **Returns** ``(items, loss, mean reward, std of
    the advantages)``: int ``(B, K)`` and three scalar tensors.

    Written out line by line in plain TensorFlow in ``notebooks/05_graph_gan.ipynb`` §4.1, which
    asserts that it equals this step (drawn items, loss and updated weights) on the same batch.
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    variables = generator.trainable_variables
    optimizer.build(variables)  # create Adam's slots now, so the step is traced only once
    lam = tf.constant(float(reg), tf.float32)

    @tf.function(
        input_signature=[
            tf.TensorSpec(shape=[None], dtype=tf.int32),
            tf.TensorSpec(shape=[None, None], dtype=tf.float32),
            tf.TensorSpec(shape=[], dtype=tf.float32),
        ],
        autograph=False,  # plain Python control flow on Python values only: faster tracing
    )
    def step(users, uniforms, ema):
        with tf.GradientTape() as tape:
            logp_all = generator.log_probs(users, training=True)
            # Draw K items per user from the current policy (no gradient through the draw).
            items = tf.stop_gradient(_sample_in_graph(logp_all, uniforms))
            rewards = tf.stop_gradient(reward_from_logits(discriminator.logits(users, items)))
            b = baseline_values(rewards, baseline, ema=ema)
            logp = tf.gather(logp_all, items, batch_dims=1)
            surrogate = policy_gradient_surrogate(logp, rewards, b)
            n = tf.cast(tf.size(items), tf.float32)
            loss = surrogate + lam * generator.ego_l2(users, items) / n
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return items, loss, tf.reduce_mean(rewards), tf.math.reduce_std(rewards - b)

    return step


# --------------------------------------------------------------------------------------------
# Training loop
# --------------------------------------------------------------------------------------------


def _evaluate(history, generator, discriminator, evaluator, sampled, pop, top_k, train_mask):
    scores = generator.score_all_users()
    if evaluator is not None:
        for key, value in evaluator(scores).items():
            history["valid"].setdefault(key, []).append(value)
        for key, value in evaluator(discriminator.score_all_users()).items():
            history["valid_d"].setdefault(key, []).append(value)
    stats = sampled_item_statistics(sampled, generator.n_items, pop)
    history["sampled_distinct_share"].append(stats["distinct_share"])
    history["sampled_gini"].append(stats["gini"])
    history["sampled_popularity"].append(stats["mean_popularity"])
    rec = top_k_items(scores, top_k, generator.mask)
    history["top_k_coverage"].append(float(np.unique(rec).size / generator.n_items))
    probs = generator._probabilities_from_scores(scores, np.arange(generator.n_users))
    history["entropy"].append(float(_entropy(probs).mean()))
    history["train_mass"].append(float(probs[train_mask].sum() / generator.n_users))
    return probs


def fit_gan(
    generator: PolicyGenerator,
    discriminator: Discriminator,
    users,
    items,
    *,
    epochs: int = 30,
    n_samples: int = 16,
    g_batch_users: int = 128,
    d_batch_size: int = 4096,
    g_lr: float = 1e-3,
    d_lr: float = 1e-3,
    g_reg: float = 0.0,
    d_reg: float = 1e-3,
    baseline: str = "loo",
    ema_decay: float = 0.9,
    d_steps: int = 1,
    g_steps: int = 1,
    evaluator: Callable | None = None,
    monitor: str = "ndcg@20",
    restore_best: bool = True,
    item_popularity=None,
    top_k: int = 20,
    seed: int = 0,
    progress: bool = True,
    desc: str = "GAN",
) -> dict:
    r"""Alternating adversarial training of ``generator`` and ``discriminator``.

    Each epoch:

    1. ``d_steps`` passes of D over the training pairs: every observed :math:`(u, i)` is a real
       example and is paired with one fake :math:`(u, j)`, :math:`j \sim p_\theta(\cdot
       \mid u)`; minibatches of ``d_batch_size`` minimise :math:`\mathcal L_D`
       (:func:`discriminator_train_step`, Adam, ``d_lr``, L2 ``d_reg``). ``d_steps=0``
       freezes D (the generator then maximises a fixed reward: the collapse ablation);
    2. ``g_steps`` passes of G over the users in minibatches of ``g_batch_users``: draw
       ``n_samples`` items per user from the *current* policy, reward them with
       :math:`r = \mathrm{softplus}(f_\phi)`, subtract the ``baseline``
       (:func:`baseline_values`) and take an Adam step (``g_lr``) on
       :func:`policy_gradient_surrogate` (+ ``g_reg`` times the ego-vector L2);
    3. evaluation (also before epoch 1, as "epoch 0"): ``evaluator(G scores)`` (e.g.
       validation NDCG@20), the same for D's scores, and collapse indicators of the items G
       drew during the epoch (:func:`sampled_item_statistics`), the policy's mean entropy, the
       policy's mass on the user's own training items (``"train_mass"``, 1 for
       :math:`p_\text{true}`) and the catalogue coverage of G's top-``top_k`` lists.

    With ``restore_best`` and an evaluator, G's weights of the best adversarial epoch
    (:math:`\ge 1`, by ``monitor``) are restored at the end — epoch 0, the pre-trained
    starting point, is not a candidate, so the result measures what adversarial training
    gives. Random draws come from ``np.random.default_rng(seed)``.

    **Output**: a history dict: per epoch 0…E ``"epoch"``, ``"sampled_distinct_share"``,
    ``"sampled_gini"``, ``"sampled_popularity"``, ``"top_k_coverage"``, ``"entropy"``,
    ``"valid"`` and ``"valid_d"`` (dicts of lists); per epoch 1…E ``"d_loss"``,
    ``"d_real"``, ``"d_fake"`` (mean :math:`D` on real/fake pairs), ``"g_reward"``,
    ``"g_loss"`` (:math:`\mathbb E_{j \sim G}[\log(1 - D)]`, what G minimises),
    ``"adv_std"`` (std of the advantages: the estimator's noise), ``"epoch_seconds"``; and
    ``"best_epoch"``, ``"best_value"``, ``"train_seconds"``, ``"params"`` and
    ``"tracing_count"`` (2: each ``tf.function`` step traced once).

    Measured on the course machine (2 shared CPU cores, ML-100K, defaults): about 0.7 s per
    epoch plus 2–4 s of tracing per call.
    """
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if baseline == "loo" and n_samples < 2:
        raise ValueError("baseline='loo' needs n_samples >= 2")
    if (
        min(epochs, n_samples, g_batch_users, d_batch_size, d_steps, g_steps) < 0
        or min(n_samples, g_batch_users, d_batch_size) < 1
    ):
        raise ValueError("epochs, steps, batch sizes and n_samples must be positive")
    n_users, n_items = generator.n_users, generator.n_items
    u_all = _ids(users, n_users, "users")
    i_all = _ids(items, n_items, "items")
    rng = np.random.default_rng(seed)
    pop = (
        np.bincount(i_all, minlength=n_items)
        if item_popularity is None
        else np.asarray(item_popularity)
    )
    train = (
        interaction_matrix(u_all, i_all, n_users, n_items, duplicates="collapse")
        .toarray()
        .astype(bool)
    )
    d_step = discriminator_train_step(
        discriminator, tf.keras.optimizers.Adam(learning_rate=d_lr), reg=d_reg
    )
    g_step = generator_train_step(
        generator, discriminator, tf.keras.optimizers.Adam(learning_rate=g_lr), baseline, g_reg
    )
    series = (
        "epoch",
        "d_loss",
        "d_real",
        "d_fake",
        "g_reward",
        "g_loss",
        "adv_std",
        "epoch_seconds",
        "sampled_distinct_share",
        "sampled_gini",
        "sampled_popularity",
        "top_k_coverage",
        "entropy",
        "train_mass",
    )
    history = new_history(
        series,
        ("valid", "valid_d"),
        monitor,
        seed,
        dict(
            epochs=epochs,
            n_samples=n_samples,
            g_batch_users=g_batch_users,
            d_batch_size=d_batch_size,
            g_lr=g_lr,
            d_lr=d_lr,
            g_reg=g_reg,
            d_reg=d_reg,
            baseline=baseline,
            ema_decay=ema_decay,
            d_steps=d_steps,
            g_steps=g_steps,
            temperature=generator.temperature,
            exclude=generator.mask is not None,
        ),
    )
    history["epoch"].append(0)
    # Epoch 0: the pre-trained starting point, with one round of draws for the statistics.
    probs = generator.probabilities()
    draws = sample_categorical(probs, np.repeat(np.arange(n_users), n_samples), rng)
    probs = _evaluate(history, generator, discriminator, evaluator, draws, pop, top_k, train)
    f0 = discriminator.score_all_users()[np.repeat(np.arange(n_users), n_samples), draws]
    ema = float(np.mean(reward_from_logits(f0)))
    best = EarlyStopping("max")  # no patience: every epoch runs, the best one is kept
    train_seconds = 0.0
    bar = tqdm(total=epochs, desc=desc, disable=not progress, mininterval=0.5)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        # 1. discriminator: observed pairs against pairs drawn from the current generator
        d_stats = []
        for d_pass in range(d_steps):
            if d_pass:
                probs = generator.probabilities()
            fake = sample_categorical(probs, u_all, rng)
            order = rng.permutation(u_all.size)
            bu, br, bf = (x[order].astype(np.int32) for x in (u_all, i_all, fake))
            for start in range(0, u_all.size, d_batch_size):
                sl = slice(start, start + d_batch_size)
                d_stats.append([float(v) for v in d_step(bu[sl], br[sl], bf[sl])])
        # 2. generator: REINFORCE on fresh draws from the current policy
        g_stats, drawn = [], []
        for _ in range(g_steps):
            order = rng.permutation(n_users)
            for start in range(0, n_users, g_batch_users):
                bu = order[start : start + g_batch_users].astype(np.int32)
                uniforms = rng.random((bu.size, n_samples), dtype=np.float32)
                its, _, reward, adv_std = g_step(bu, uniforms, tf.constant(ema, tf.float32))
                drawn.append(its.numpy().ravel())
                reward = float(reward)
                ema = ema_decay * ema + (1.0 - ema_decay) * reward
                g_stats.append([reward, -reward, float(adv_std)])
        dt = time.perf_counter() - t0
        train_seconds += dt
        history["epoch"].append(epoch)
        history["epoch_seconds"].append(dt)
        if d_stats:
            d_mean = np.mean(d_stats, axis=0)
            for key, value in zip(("d_loss", "d_real", "d_fake"), d_mean, strict=True):
                history[key].append(float(value))
        if g_stats:
            g_mean = np.mean(g_stats, axis=0)
            for key, value in zip(("g_reward", "g_loss", "adv_std"), g_mean, strict=True):
                history[key].append(float(value))
        if not all(math.isfinite(x) for row in d_stats + g_stats for x in row):
            bar.close()
            raise FloatingPointError(f"non-finite loss at epoch {epoch}; lower the learning rates")
        sampled = np.concatenate(drawn) if drawn else draws
        probs = _evaluate(history, generator, discriminator, evaluator, sampled, pop, top_k, train)
        postfix = {}
        if d_stats:
            postfix["d_loss"] = f"{history['d_loss'][-1]:.3f}"
        if evaluator is not None:
            value = float(history["valid"][monitor][-1])
            postfix[monitor] = f"{value:.4f}"
            if best.update(value, epoch, generator.model):
                history["best_epoch"], history["best_value"] = epoch, value
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)
    bar.close()
    if restore_best:
        best.restore(generator.model)
    history["train_seconds"] = train_seconds
    history["tracing_count"] = int(g_step.experimental_get_tracing_count()) + int(
        d_step.experimental_get_tracing_count()
    )
    return history


# --------------------------------------------------------------------------------------------
# Graph generation and graph statistics (NumPy/SciPy)
# --------------------------------------------------------------------------------------------


def sample_graph(
    scores, user_degrees, rng, temperature: float = 1.0, exclude=None
) -> tuple[np.ndarray, np.ndarray]:
    r"""A synthetic user–item graph: user :math:`u` draws :math:`d_u` distinct items.

    Draws without replacement from :math:`p(i \mid u) \propto \exp(s_{ui}/\tau)` by the
    Gumbel-top-:math:`k` trick (Kool, van Hoof & Welling, 2019): the :math:`d_u` largest
    :math:`s_{ui}/\tau + g_{ui}`, :math:`g_{ui} \sim \mathrm{Gumbel}(0, 1)` i.i.d., are a
    sample without replacement (successive sampling). All-equal scores give the uniform
    random bipartite graph with the given user degrees.

    **Input**: ``scores`` ``(n_users, n_items)``; ``user_degrees`` int ``(n_users,)`` (each at
    most the number of allowed items); ``exclude`` optional boolean ``(n_users, n_items)``.
    **Output**: ``(users, items)`` int64 arrays of length :math:`\sum_u d_u`, no duplicate
    pair, sorted by user.
    """
    rng = np.random.default_rng(rng)
    s = np.asarray(scores, dtype=np.float64)
    deg = np.asarray(user_degrees, dtype=np.int64)
    if s.ndim != 2 or deg.shape != (s.shape[0],):
        raise ValueError("scores must be (n_users, n_items) and user_degrees (n_users,)")
    if (deg < 0).any() or (deg > s.shape[1]).any():
        raise ValueError("user degrees must lie in [0, n_items]")
    keys = s / float(temperature) + rng.gumbel(size=s.shape)
    if exclude is not None:
        ex = np.asarray(exclude, dtype=bool)
        if (deg > (~ex).sum(axis=1)).any():
            raise ValueError("a user's degree exceeds its number of allowed items")
        keys = np.where(ex, -np.inf, keys)
    order = np.argsort(-keys, axis=1, kind="stable")
    take = np.arange(s.shape[1])[None, :] < deg[:, None]
    users = np.repeat(np.arange(s.shape[0], dtype=np.int64), deg)
    items = order[take].astype(np.int64)
    return users, items


def configuration_model(
    users, items, n_users: int, n_items: int, rng, max_tries: int = 1000
) -> tuple[np.ndarray, np.ndarray]:
    r"""A random simple bipartite graph with exactly the same user and item degrees.

    The bipartite configuration model (Newman, Strogatz & Watts, 2001): every edge leaves a
    user "stub" and an item "stub"; the item stubs are shuffled and matched to the user
    stubs. That keeps every degree but can create repeated pairs, which are then removed by
    degree-preserving swaps (Maslov & Sneppen, 2002): a repeated edge :math:`(u, i)` and a
    random edge :math:`(v, j)` become :math:`(u, j), (v, i)` when both are new.

    **Output**: ``(users, items)`` int64, same length as the input, no duplicate pair,
    :math:`\deg(u)` and :math:`\deg(i)` unchanged for every node, sorted by user.
    Raises ``RuntimeError`` if a repeat cannot be removed in ``max_tries`` attempts.
    """
    rng = np.random.default_rng(rng)
    u = _ids(users, n_users, "users").copy()
    i = _ids(items, n_items, "items").copy()
    if u.shape != i.shape:
        raise ValueError("users and items must have the same length")
    i = i[rng.permutation(i.size)]
    n = int(n_items)
    keys = u * n + i
    count = Counter(keys.tolist())
    order = np.argsort(keys, kind="stable")
    repeated = order[1:][keys[order][1:] == keys[order][:-1]]  # every copy after the first
    for e in rng.permutation(repeated):
        tries = 0
        while count[int(u[e] * n + i[e])] > 1:
            tries += 1
            if tries > max_tries:
                raise RuntimeError("could not remove a repeated edge; is the graph too dense?")
            f = int(rng.integers(u.size))
            ue, ie, uf, jf = int(u[e]), int(i[e]), int(u[f]), int(i[f])
            if ue == uf or ie == jf:
                continue
            k_new1, k_new2 = ue * n + jf, uf * n + ie
            if count.get(k_new1, 0) or count.get(k_new2, 0):
                continue
            count[ue * n + ie] -= 1
            count[uf * n + jf] -= 1
            count[k_new1] += 1
            count[k_new2] += 1
            i[e], i[f] = jf, ie
    order = np.lexsort((i, u))
    return u[order], i[order]


def ks_statistic(x, y) -> float:
    r"""The two-sample Kolmogorov–Smirnov statistic: the largest gap between two ECDFs.

    .. math::
        D = \sup_t \big|\hat F_x(t) - \hat F_y(t)\big|, \qquad
        \hat F_x(t) = \frac{|\{k : x_k \le t\}|}{n_x}

    **Input**: two 1-D samples (e.g. item-degree sequences). **Output**: a float in
    ``[0, 1]``: 0 for identical distributions, 1 when the samples do not overlap. Computed by
    ``scipy.stats.ks_2samp(x, y).statistic``.
    """
    a = np.asarray(x, dtype=np.float64).ravel()
    b = np.asarray(y, dtype=np.float64).ravel()
    if a.size == 0 or b.size == 0:
        raise ValueError("both samples must be non-empty")
    return float(ks_2samp(a, b).statistic)


def co_interaction(users, items, n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Co-interaction of every user pair: overlap :math:`|N(u) \cap N(v)|` and Jaccard.

    .. math::
        O_{uv} = |N(u) \cap N(v)| = (R R^\top)_{uv}, \qquad
        J_{uv} = \frac{O_{uv}}{|N(u)| + |N(v)| - O_{uv}}

    over all pairs :math:`u < v` (in ``np.triu_indices(n_users, 1)`` order; :math:`J = 0`
    when both users have no items). **Output**: ``(overlap, jaccard)``, two float64 arrays of
    length :math:`n_\text{users}(n_\text{users}-1)/2`.
    """
    R = interaction_matrix(users, items, n_users, n_items, duplicates="collapse")
    C = (R @ R.T).toarray()
    deg = np.diag(C).copy()
    a, b = np.triu_indices(int(n_users), 1)
    overlap = C[a, b]
    union = deg[a] + deg[b] - overlap
    jaccard = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
    return overlap, jaccard


def graph_statistics(
    users,
    items,
    n_users: int,
    n_items: int,
    reference: tuple | None = None,
    holdout: tuple | None = None,
) -> dict:
    r"""Summary statistics of a user–item graph, optionally compared with a reference graph.

    **Output** dict:

    - ``"edges"``; ``"distinct_items"`` (items with degree > 0); ``"max_item_degree"``;
      ``"item_gini"`` (Gini of the item degrees over the whole catalogue);
    - ``"mean_overlap"``, ``"mean_jaccard"`` over all user pairs (:func:`co_interaction`);
    - with ``reference = (users, items)``: ``"ks_item_degree"`` (:func:`ks_statistic`
      between the two item-degree sequences), ``"jaccard_corr"`` (Pearson correlation,
      over user pairs, of this graph's Jaccard with the reference's: does the graph keep
      *which* users are alike?) and ``"edge_overlap"`` (share of edges that are reference
      edges);
    - with ``holdout = (users, items)``: ``"holdout_hit"``, the share of edges that are
      held-out (e.g. test) edges.
    """
    R = interaction_matrix(users, items, n_users, n_items, duplicates="collapse")
    deg_items = np.asarray(R.sum(axis=0)).ravel()
    overlap, jaccard = co_interaction(users, items, n_users, n_items)
    out = {
        "edges": int(R.nnz),
        "distinct_items": int((deg_items > 0).sum()),
        "max_item_degree": int(deg_items.max()),
        "item_gini": gini(deg_items),
        "mean_overlap": float(overlap.mean()),
        "mean_jaccard": float(jaccard.mean()),
    }
    if reference is not None:
        Rr = interaction_matrix(*reference, n_users, n_items, duplicates="collapse")
        deg_ref = np.asarray(Rr.sum(axis=0)).ravel()
        _, jac_ref = co_interaction(*reference, n_users, n_items)
        out["ks_item_degree"] = ks_statistic(deg_items, deg_ref)
        out["jaccard_corr"] = float(np.corrcoef(jaccard, jac_ref)[0, 1])
        out["edge_overlap"] = float(R.multiply(Rr).nnz / max(R.nnz, 1))
    if holdout is not None:
        H = interaction_matrix(*holdout, n_users, n_items, duplicates="collapse")
        out["holdout_hit"] = float(R.multiply(H).nnz / max(R.nnz, 1))
    return out
