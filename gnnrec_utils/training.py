r"""Training: seeded negative sampling, the BPR loss, and training loops with early stopping.

- :class:`NegativeSampler`: uniform negatives that are never training positives, vectorised
  NumPy, deterministic given ``rng``/``seed``.
- :func:`bpr_loss`: Rendle et al.'s pairwise loss; :func:`fit_bpr`: the loop for
  :class:`~gnnrec_utils.models.BPRMF`, :class:`~gnnrec_utils.models.LightGCN` and
  :class:`~gnnrec_utils.models.GCNMF` (a ``tf.function`` train step with a fixed input
  signature, so it is traced once; early stopping on a validation metric evaluated every
  ``eval_every`` epochs; the best epoch's weights kept in memory, optionally on disk, and
  restored at the end; a tqdm progress bar; a history dict for training curves).
- :func:`fit_explicit`: the squared-error loop for :class:`~gnnrec_utils.models.BiasedMF`
  with early stopping on validation RMSE.
- :class:`EarlyStopping`: the one patience / best-weights rule of the package, used by
  :func:`fit_bpr`, :func:`fit_explicit`, :func:`gnnrec_utils.gan.fit_gan` and (inside its
  ``tf.function``) :class:`gnnrec_utils.node_gnn.FullBatchTrainer`.

Determinism: given ``seed`` and the model's initialiser seed, two runs on the same machine
give the same weights (tested): every random draw comes from
``np.random.default_rng(seed)`` (shuffling, negatives) or from seeded initialisers.

The validation metric comes from an *evaluator*: any callable that takes the
``(n_users, n_items)`` score matrix and returns a dict with the monitored key, e.g.
:class:`gnnrec_utils.metrics.RankingEvaluator` (which masks the training items). Training
never sees the test set; a ``test_evaluator`` may be passed to *record* test metrics along
the way (for time-to-quality benchmarks), never to select anything.

Taught in ``notebooks/03_mf_recommendation.ipynb``; §3.4a writes LightGCN, BPR-MF and the
BPR training step out in plain TensorFlow and checks them against this module.
"""

from __future__ import annotations

from gnnrec_utils._progress import tqdm
from gnnrec_utils.metrics import rating_errors

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

__all__ = [
    "NegativeSampler",
    "bpr_loss",
    "epoch_triples",
    "BPREpochs",
    "EarlyStopping",
    "new_history",
    "fit_bpr",
    "fit_explicit",
    "save_weights_npz",
    "load_weights_npz",
]


# --------------------------------------------------------------------------------------------
# Negative sampling
# --------------------------------------------------------------------------------------------


class NegativeSampler:
    r"""Uniform negative items that are never one of the user's training positives.

    .. math::
        j \sim \mathrm{Uniform}\big(\{0, \dots, n_\text{items}-1\} \setminus
        \mathcal I^+_{\text{train}}(u)\big)

    Implemented by rejection: draw uniformly, look the pairs up in the sorted array of keys
    :math:`u \cdot n_\text{items} + i` of the positives (``np.searchsorted``), redraw the
    rejected ones; vectorised, memory :math:`O(|\mathcal R|)`, so it scales to 10^7 edges.

    **Arguments**: ``users``, ``items`` (the training positives, 0-based), ``n_users``,
    ``n_items``. Raises ``ValueError`` if a user has interacted with every item.
    """

    def __init__(self, users, items, n_users: int, n_items: int):
        u = np.asarray(users, dtype=np.int64)
        i = np.asarray(items, dtype=np.int64)
        if u.shape != i.shape or u.ndim != 1:
            raise ValueError("users and items must be 1-D arrays of the same length")
        self.n_users, self.n_items = int(n_users), int(n_items)
        if u.size and (u.min() < 0 or u.max() >= n_users or i.min() < 0 or i.max() >= n_items):
            raise ValueError("user or item index out of range")
        self.keys = np.unique(u * self.n_items + i)
        degree = np.bincount(self.keys // self.n_items, minlength=self.n_users)
        if (degree >= self.n_items).any():
            raise ValueError(
                f"user {int(np.argmax(degree >= self.n_items))} has interacted with every "
                "item: no negative exists"
            )

    def is_positive(self, users, items) -> np.ndarray:
        """Boolean array: is ``(users[k], items[k])`` a training positive?"""
        q = np.asarray(users, dtype=np.int64) * self.n_items + np.asarray(items, dtype=np.int64)
        if self.keys.size == 0:
            return np.zeros(q.shape, dtype=bool)
        pos = np.searchsorted(self.keys, q)
        pos = np.minimum(pos, self.keys.size - 1)
        return self.keys[pos] == q

    def sample(self, users, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """One negative item per entry of ``users``: int64 array of the same shape."""
        rng = np.random.default_rng(rng)
        users = np.asarray(users, dtype=np.int64)
        neg = rng.integers(0, self.n_items, size=users.shape)
        bad = np.flatnonzero(self.is_positive(users, neg))
        while bad.size:
            neg[bad] = rng.integers(0, self.n_items, size=bad.size)
            bad = bad[self.is_positive(users[bad], neg[bad])]
        return neg


def epoch_triples(
    users, items, sampler: NegativeSampler, rng: np.random.Generator, n_negatives: int = 1
):
    """One epoch of shuffled ``(user, positive, negative)`` triples, int32 arrays.

    Every training pair appears ``n_negatives`` times, each time with its own negative.
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if n_negatives > 1:
        users, items = np.repeat(users, n_negatives), np.repeat(items, n_negatives)
    order = rng.permutation(users.size)
    u, p = users[order], items[order]
    n = sampler.sample(u, rng)
    return u.astype(np.int32), p.astype(np.int32), n.astype(np.int32)


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def bpr_loss(pos_scores, neg_scores):
    r"""Bayesian personalised ranking loss, averaged over the batch.

    .. math::
        \mathcal L_\text{BPR} = -\frac{1}{|B|} \sum_{(u,i,j) \in B}
        \ln \sigma(\hat y_{ui} - \hat y_{uj})
        = \frac{1}{|B|} \sum_{(u,i,j) \in B} \mathrm{softplus}(\hat y_{uj} - \hat y_{ui})

    (the softplus form is the numerically stable one). **Input**: two float tensors
    ``(batch,)``. **Output**: a scalar tensor.

    Reference: Rendle et al. (2009), "BPR: Bayesian Personalized Ranking from Implicit
    Feedback", UAI, eq. 6.

    Written out in notebook 03 §3.4a (and generalised to sampled softmax in Exercise 3.5).
    """
    return tf.reduce_mean(tf.math.softplus(neg_scores - pos_scores))


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def save_weights_npz(weights: list[np.ndarray], path: str | os.PathLike) -> Path:
    """Write a list of weight arrays (``model.get_weights()``) atomically to ``path`` (.npz)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, *weights)
    tmp.replace(path)
    return path


def load_weights_npz(path: str | os.PathLike) -> list[np.ndarray]:
    """The list of arrays written by :func:`save_weights_npz` (for ``model.set_weights``)."""
    with np.load(path, allow_pickle=False) as data:
        return [data[f"arr_{k}"] for k in range(len(data.files))]


# --------------------------------------------------------------------------------------------
# Early stopping
# --------------------------------------------------------------------------------------------


class EarlyStopping:
    r"""Stop when a monitored value has not improved for ``patience`` checks; keep the best weights.

    A check at step :math:`t` (an epoch, or an evaluation every few epochs) with value
    :math:`v_t` *improves* when

    .. math::
        v_t > v^* + \delta \quad (\texttt{mode="max"}) \qquad\text{or}\qquad
        v_t < v^* - \delta \quad (\texttt{mode="min"}),

    :math:`v^*` the best value so far (:math:`\mp\infty` at first) and :math:`\delta` =
    ``min_delta``; a non-finite Python value never improves. Training stops after
    ``patience`` checks in a row without improvement (``patience=None``: never), and the
    weights of the best check are restored.

    **Arguments**: ``mode`` (``"max"`` for NDCG, ``"min"`` for a loss or RMSE), ``patience``,
    ``min_delta``. **State**: ``best_value`` (None before the first improvement),
    ``best_step``, ``bad`` (checks since the best), ``best_weights`` (a copy of
    ``model.get_weights()`` at the best check, when :meth:`update` is given the model).

    :meth:`improves` and :meth:`exhausted` also accept TensorFlow scalars, so that a loop
    compiled into one ``tf.function`` (:class:`gnnrec_utils.node_gnn.FullBatchTrainer`)
    applies the same rule to tensors it keeps itself.

    Used by :func:`fit_bpr`, :func:`fit_explicit`, :func:`gnnrec_utils.gan.fit_gan` and
    :class:`gnnrec_utils.node_gnn.FullBatchTrainer` (notebooks 03, 04, 05).
    """

    def __init__(self, mode: str = "max", patience: int | None = None, min_delta: float = 0.0):
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be >= 1 or None, got {patience}")
        self.mode, self.patience, self.min_delta = mode, patience, float(min_delta)
        self.best_value: float | None = None
        self.best_step: int | None = None
        self.best_weights: list[np.ndarray] | None = None
        self.bad = 0

    def improves(self, value, best):
        """Whether ``value`` beats ``best`` by more than ``min_delta`` (Python or TF scalars)."""
        if isinstance(value, (int, float)) and not math.isfinite(value):
            return False
        if self.mode == "max":
            return value > best + self.min_delta
        return value < best - self.min_delta

    def exhausted(self, bad):
        """Whether ``bad`` checks without improvement use up the patience."""
        return self.patience is not None and bad >= self.patience

    def update(self, value, step: int, model=None) -> bool:
        """Record the check ``value`` at ``step``; True if it is the new best.

        On improvement the best value and step are kept and, with ``model``, a copy of its
        weights; otherwise :attr:`bad` grows by one.
        """
        start = -math.inf if self.mode == "max" else math.inf
        if self.improves(value, start if self.best_value is None else self.best_value):
            self.best_value, self.best_step, self.bad = value, step, 0
            if model is not None:
                self.best_weights = [w.copy() for w in model.get_weights()]
            return True
        self.bad += 1
        return False

    @property
    def should_stop(self) -> bool:
        """True once :attr:`patience` checks in a row brought no improvement."""
        return self.exhausted(self.bad)

    def restore(self, model) -> bool:
        """Put the best weights back into ``model``; False if none were kept."""
        if self.best_weights is None:
            return False
        model.set_weights(self.best_weights)
        return True


# --------------------------------------------------------------------------------------------
# BPR training loop
# --------------------------------------------------------------------------------------------

_SPEC = tf.TensorSpec(shape=[None], dtype=tf.int32)


def _build(model) -> None:
    """Run the model once on a one-triple batch so that every weight exists before tracing."""
    one = tf.zeros([1], dtype=tf.int32)
    model.bpr_terms(one, one, one, training=False)


def _make_bpr_step(model, optimizer, reg: float):
    _build(model)
    variables = model.trainable_variables
    optimizer.build(variables)  # slots exist before tracing: the step is traced exactly once
    reg = tf.constant(reg, dtype=tf.float32)

    @tf.function(input_signature=[_SPEC, _SPEC, _SPEC])
    def step(users, pos, neg):
        with tf.GradientTape() as tape:
            pos_s, neg_s, omega = model.bpr_terms(users, pos, neg, training=True)
            ranking = bpr_loss(pos_s, neg_s)
            loss = ranking + reg * omega / tf.cast(tf.shape(users)[0], tf.float32)
            if model.losses:  # e.g. L2 on GCN weight matrices (kernel_regularizer)
                loss += tf.add_n(model.losses)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss, ranking

    return step


class BPREpochs:
    """One BPR training epoch at a time: the loop body of :func:`fit_bpr`, reusable on its own.

    Holds the sampler (a :class:`NegativeSampler` unless ``sampler`` is given: any object with
    its ``sample(users, rng) -> items`` method), the ``np.random.default_rng(seed)`` stream, the
    Adam optimizer and the traced step. ``run_epoch()`` returns ``(mean_loss, mean_bpr,
    seconds)``; ``max_batches`` stops early (for timing a few batches of a huge epoch), and the
    mean is then over the batches that ran. ``tracing_count`` is how often the step was traced
    (1 = never again).

    Its step (:func:`_make_bpr_step`, :func:`bpr_loss`, :func:`epoch_triples`) is written out
    with a ``GradientTape`` in notebook 03 §3.4a and checked equal, weight for weight.
    """

    def __init__(
        self,
        model,
        users,
        items,
        *,
        batch_size=2048,
        lr=1e-3,
        reg=1e-4,
        n_negatives=1,
        seed=0,
        sampler=None,
    ):
        self.model = model
        self.users = np.asarray(users)
        self.items = np.asarray(items)
        self.batch_size, self.n_negatives = int(batch_size), int(n_negatives)
        self.rng = np.random.default_rng(seed)
        if sampler is None:
            sampler = NegativeSampler(self.users, self.items, model.n_users, model.n_items)
        elif not callable(getattr(sampler, "sample", None)):
            raise TypeError(
                f"sampler must have a sample(users, rng) method like training.NegativeSampler, "
                f"got {type(sampler).__name__}"
            )
        self.sampler = sampler
        self.optimizer = tf.keras.optimizers.Adam(learning_rate=lr)
        self.step = _make_bpr_step(model, self.optimizer, reg)

    @property
    def tracing_count(self) -> int:
        return int(self.step.experimental_get_tracing_count())

    def run_epoch(self, max_batches: int | None = None) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        u, p, n = epoch_triples(self.users, self.items, self.sampler, self.rng, self.n_negatives)
        losses, rankings, sizes = [], [], []
        for k, start in enumerate(range(0, u.size, self.batch_size)):
            if max_batches is not None and k >= max_batches:
                break
            sl = slice(start, start + self.batch_size)
            loss, ranking = self.step(u[sl], p[sl], n[sl])
            losses.append(loss)
            rankings.append(ranking)
            sizes.append(min(self.batch_size, u.size - start))
        w = np.asarray(sizes, dtype=np.float64) / np.sum(sizes)
        mean_loss = float(np.dot(np.array(losses), w))  # reading the values waits for TF
        mean_bpr = float(np.dot(np.array(rankings), w))
        return mean_loss, mean_bpr, time.perf_counter() - t0


def new_history(series, metrics, monitor: str, seed: int, params: dict) -> dict:
    """The history dict of a monitored training loop, before its first epoch.

    One empty list per name in ``series`` (per-epoch values), one empty dict per name in
    ``metrics`` (``{metric: [values per evaluation]}``), then ``"monitor"``,
    ``"best_epoch"`` and ``"best_value"`` (None until :class:`EarlyStopping` sees an
    improvement), ``"seed"`` and ``"params"``. Used by :func:`fit_bpr` and
    :func:`gnnrec_utils.gan.fit_gan`.
    """
    history: dict = {key: [] for key in series}
    history.update({key: {} for key in metrics})
    history.update(monitor=monitor, best_epoch=None, best_value=None, seed=seed, params=params)
    return history


def _finish(history: dict, bar, stopper: EarlyStopping, model, stopped: int, seconds: float):
    """End of a training loop: close the bar, restore the best weights, record the stop."""
    bar.close()
    stopper.restore(model)
    history["stopped_epoch"] = stopped
    history["train_seconds"] = seconds


def fit_bpr(
    model,
    users,
    items,
    *,
    epochs: int = 300,
    batch_size: int = 2048,
    lr: float = 1e-3,
    reg: float = 1e-4,
    n_negatives: int = 1,
    sampler=None,
    evaluator: Callable | None = None,
    monitor: str = "ndcg@20",
    eval_every: int = 5,
    patience: int = 10,
    test_evaluator: Callable | None = None,
    seed: int = 0,
    checkpoint_path: str | os.PathLike | None = None,
    max_seconds: float | None = None,
    progress: bool = True,
    desc: str | None = None,
) -> dict:
    r"""Train a BPR model with Adam, early stopping on a validation metric, best epoch restored.

    Each epoch shuffles the training pairs, draws ``n_negatives`` negatives per pair with
    :class:`NegativeSampler` (from ``np.random.default_rng(seed)``), and runs one
    ``tf.function`` step per batch of ``batch_size`` triples minimising

    .. math::
        \mathcal L = \mathcal L_\text{BPR} + \lambda\,\frac{\Omega}{|B|},

    with :math:`\Omega` half the squared norm of the batch's ego embeddings (LightGCN's
    regulariser, see ``model.bpr_terms``) and :math:`\lambda` = ``reg``.

    Every ``eval_every`` epochs (and after the last one) ``evaluator(model.score_all_users())``
    is called; its ``monitor`` entry (higher is better) decides early stopping: training stops
    after ``patience`` evaluations without improvement, and the weights of the best
    evaluation are restored into ``model`` (also written to ``checkpoint_path`` as ``.npz``
    when given). Without an evaluator it trains all epochs and keeps the last weights.

    **Arguments**

    - ``model``: an :class:`~gnnrec_utils.models.EmbeddingRecommender`;
    - ``users``, ``items``: training positives (0-based int arrays, same length);
    - ``sampler``: the negative sampler (default: uniform :class:`NegativeSampler` over the
      items the user has not interacted with); anything with ``sample(users, rng) -> items``,
      e.g. the popularity-biased sampler of notebook 03's Exercise 3.2;
    - ``max_seconds``: stop once this many training seconds (evaluation excluded) are spent;
    - ``test_evaluator``: evaluated at the same times as ``evaluator`` and only *recorded*;
    - ``progress``: show a tqdm bar (``desc`` its label).

    **Output**: the history dict — per epoch ``"epoch"``, ``"loss"``, ``"bpr"``,
    ``"epoch_seconds"`` (sampling + steps); per evaluation ``"eval_epoch"``,
    ``"eval_train_seconds"`` (cumulative training seconds), ``"valid"`` and ``"test"`` (dicts
    of lists, one per metric); and ``"best_epoch"``, ``"best_value"``, ``"monitor"``,
    ``"stopped_epoch"``, ``"train_seconds"``, ``"eval_seconds"``, ``"tracing_count"`` (1
    when the step never retraced), ``"seed"``, ``"params"``.
    """
    users = np.asarray(users)
    items = np.asarray(items)
    if users.shape != items.shape or users.ndim != 1 or users.size == 0:
        raise ValueError("users and items must be non-empty 1-D arrays of the same length")
    if eval_every < 1 or patience < 1 or epochs < 1 or batch_size < 1 or n_negatives < 1:
        raise ValueError("epochs, batch_size, n_negatives, eval_every and patience must be >= 1")
    runner = BPREpochs(
        model,
        users,
        items,
        batch_size=batch_size,
        lr=lr,
        reg=reg,
        n_negatives=n_negatives,
        seed=seed,
        sampler=sampler,
    )

    series = ("epoch", "loss", "bpr", "epoch_seconds", "eval_epoch", "eval_train_seconds")
    params = dict(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        reg=reg,
        n_negatives=n_negatives,
        eval_every=eval_every,
        patience=patience,
    )
    history = new_history(series, ("valid", "test"), monitor, seed, params)
    stopper = EarlyStopping("max", patience)
    train_seconds = eval_seconds = 0.0
    stopped = epochs
    bar = tqdm(total=epochs, desc=desc or model.name, disable=not progress, mininterval=0.5)
    for epoch in range(1, epochs + 1):
        mean_loss, mean_bpr, dt = runner.run_epoch()
        train_seconds += dt
        history["epoch"].append(epoch)
        history["loss"].append(mean_loss)
        history["bpr"].append(mean_bpr)
        history["epoch_seconds"].append(dt)
        if not math.isfinite(mean_loss):
            bar.close()
            raise FloatingPointError(f"loss became {mean_loss} at epoch {epoch}; lower lr")
        out_of_time = max_seconds is not None and train_seconds >= max_seconds
        last = epoch == epochs or out_of_time
        postfix = {"loss": f"{mean_loss:.4f}"}
        if evaluator is not None and (epoch % eval_every == 0 or last):
            t1 = time.perf_counter()
            scores = model.score_all_users()
            valid = evaluator(scores)
            for key, value in valid.items():
                history["valid"].setdefault(key, []).append(value)
            if test_evaluator is not None:
                for key, value in test_evaluator(scores).items():
                    history["test"].setdefault(key, []).append(value)
            history["eval_epoch"].append(epoch)
            history["eval_train_seconds"].append(train_seconds)
            value = float(valid[monitor])
            if stopper.update(value, epoch, model):
                history["best_epoch"], history["best_value"] = epoch, value
                if checkpoint_path is not None:
                    save_weights_npz(stopper.best_weights, checkpoint_path)
            eval_seconds += time.perf_counter() - t1
            postfix[monitor] = f"{value:.4f}"
            best_value = -math.inf if stopper.best_value is None else stopper.best_value
            postfix["best"] = f"{best_value:.4f}@{history['best_epoch']}"
            if stopper.should_stop:
                stopped = epoch
                bar.set_postfix(postfix, refresh=False)
                bar.update(1)
                break
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)
        if out_of_time:
            stopped = epoch
            break
    _finish(history, bar, stopper, model, stopped, train_seconds)
    history["eval_seconds"] = eval_seconds
    history["tracing_count"] = runner.tracing_count
    return history


# --------------------------------------------------------------------------------------------
# Explicit ratings
# --------------------------------------------------------------------------------------------

_FSPEC = tf.TensorSpec(shape=[None], dtype=tf.float32)


def fit_explicit(
    model,
    users,
    items,
    ratings,
    *,
    valid: tuple | None = None,
    epochs: int = 100,
    batch_size: int = 1024,
    lr: float = 1e-3,
    reg: float = 0.05,
    patience: int = 5,
    seed: int = 0,
    progress: bool = True,
    desc: str | None = None,
) -> dict:
    r"""Train :class:`~gnnrec_utils.models.BiasedMF` on ratings: squared error + L2, Adam.

    .. math::
        \mathcal L = \frac{1}{|B|} \sum_{(u,i) \in B} \Big[(r_{ui} - \hat r_{ui})^2
        + \lambda \big(\|\mathbf p_u\|^2 + \|\mathbf q_i\|^2 + b_u^2 + b_i^2\big)\Big]

    ``valid = (users, items, ratings)`` is evaluated after every epoch (RMSE and MAE); the
    epoch with the lowest validation RMSE is restored, and training stops after ``patience``
    epochs without improvement. Shuffling uses ``np.random.default_rng(seed)``.

    **Output**: history dict with ``"epoch"``, ``"loss"``, ``"train_rmse"`` (running, during
    the epoch), ``"valid_rmse"``, ``"valid_mae"``, ``"best_epoch"``, ``"stopped_epoch"``,
    ``"train_seconds"``, ``"tracing_count"``.
    """
    u = np.asarray(users, dtype=np.int32)
    i = np.asarray(items, dtype=np.int32)
    r = np.asarray(ratings, dtype=np.float32)
    if not (u.shape == i.shape == r.shape) or u.ndim != 1 or u.size == 0:
        raise ValueError("users, items and ratings must be non-empty 1-D arrays of one length")
    rng = np.random.default_rng(seed)
    optimizer = tf.keras.optimizers.Adam(learning_rate=lr)
    model.rating_terms(tf.zeros([1], tf.int32), tf.zeros([1], tf.int32))  # build every weight
    variables = model.trainable_variables
    optimizer.build(variables)
    lam = tf.constant(reg, tf.float32)

    @tf.function(input_signature=[_SPEC, _SPEC, _FSPEC])
    def step(bu, bi, br):
        with tf.GradientTape() as tape:
            pred, l2 = model.rating_terms(bu, bi)
            sq = tf.reduce_mean(tf.square(br - pred))
            loss = sq + lam * tf.reduce_mean(l2)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss, sq

    history: dict = {
        "epoch": [],
        "loss": [],
        "train_rmse": [],
        "valid_rmse": [],
        "valid_mae": [],
        "best_epoch": None,
        "seed": seed,
    }
    stopper = EarlyStopping("min", patience)
    train_seconds = 0.0
    stopped = epochs
    bar = tqdm(total=epochs, desc=desc or model.name, disable=not progress, mininterval=0.5)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(u.size)
        bu_all, bi_all, br_all = u[order], i[order], r[order]
        losses, sqs = [], []
        for start in range(0, u.size, batch_size):
            sl = slice(start, start + batch_size)
            loss, sq = step(bu_all[sl], bi_all[sl], br_all[sl])
            losses.append(loss)
            sqs.append(sq)
        sizes = np.diff(np.r_[np.arange(0, u.size, batch_size), u.size])
        train_seconds += time.perf_counter() - t0
        history["epoch"].append(epoch)
        history["loss"].append(float(np.dot(np.array(losses), sizes) / u.size))
        history["train_rmse"].append(float(np.sqrt(np.dot(np.array(sqs), sizes) / u.size)))
        postfix = {"loss": f"{history['loss'][-1]:.4f}"}
        if valid is not None:
            vu, vi, vr = valid
            errors = rating_errors(model.predict_ratings(vu, vi), vr)
            history["valid_rmse"].append(errors["rmse"])
            history["valid_mae"].append(errors["mae"])
            postfix["val_rmse"] = f"{errors['rmse']:.4f}"
            if stopper.update(errors["rmse"], epoch, model):
                history["best_epoch"] = epoch
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)
        if stopper.should_stop:
            stopped = epoch
            break
    _finish(history, bar, stopper, model, stopped, train_seconds)
    history["tracing_count"] = int(step.experimental_get_tracing_count())
    return history
