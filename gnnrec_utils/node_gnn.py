r"""Node classification, the TensorFlow half: GNN classifiers, masked loss, full-batch training.

The NumPy half, :mod:`gnnrec_utils.node_classification`, holds the tasks, splits, metrics,
baselines and the experiment runner; this module adds the trainable methods that plug into it
with the same signature ``method(task, split, seed) -> scores``:

- :func:`masked_cross_entropy`: the semi-supervised loss on the labelled training nodes only;
- :class:`GCNClassifier` (Kipf & Welling's two-layer GCN; with no propagation it is the
  feature-only MLP) and :class:`SAGEClassifier` (GraphSAGE, mean aggregator), built from the
  layers of :mod:`gnnrec_utils.layers` (Spektral's, with the sparse product on the CSR
  operator);
- :class:`FullBatchTrainer`: full-batch Adam, masked loss, early stopping on the validation
  loss (the rule of :class:`gnnrec_utils.training.EarlyStopping`), the whole loop in one
  ``tf.function``;
- :class:`GNNMethod`: a model and its trainer as an experiment method for
  :func:`gnnrec_utils.node_classification.run_experiment`.

Taught in ``notebooks/04_node_classification.ipynb`` (section 3.3 writes one training step
out in plain TensorFlow and checks it against :class:`FullBatchTrainer`).
"""

from __future__ import annotations

from gnnrec_utils import graph
from gnnrec_utils.layers import PropagatedGCNConv, PropagatedGraphSageConv
from gnnrec_utils.node_classification import (
    TASK_KINDS,
    NodeTask,
    Split,
    structural_features,
)
from gnnrec_utils.training import EarlyStopping

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
import tensorflow as tf

__all__ = [
    "masked_cross_entropy",
    "GCNClassifier",
    "SAGEClassifier",
    "FitResult",
    "FullBatchTrainer",
    "ARCHITECTURES",
    "GNNMethod",
]


def masked_cross_entropy(targets, logits, mask, kind: str):
    r"""Cross-entropy averaged over the masked (labelled training) nodes only.

    .. math::
        \mathcal L = -\frac{1}{|M|} \sum_{v \in M} \sum_{c} Y_{vc} \log Z_{vc}, \qquad
        Z = \mathrm{softmax}(\text{logits}) \quad\text{(multiclass)}

    and for multilabel tasks the binary version, with :math:`S = \mathrm{sigmoid}(\text{logits})`,

    .. math::
        \mathcal L = -\frac{1}{|M|}\sum_{v\in M}\sum_c
        \big[Y_{vc}\log S_{vc} + (1-Y_{vc})\log(1-S_{vc})\big].

    Unlabelled nodes still take part in the forward pass (they pass messages) but contribute
    nothing to the loss: this is the *semi-supervised* set-up of Kipf & Welling (2017), eq. 3.

    **Input**: ``targets`` and ``logits`` ``(n_nodes, n_classes)``, ``mask`` ``(n_nodes,)``
    0/1 or bool. **Output**: scalar tensor (0 if the mask is empty).

    Checked against NumPy in notebook 04, section 3.2, and written out as two lines of plain
    TensorFlow in section 3.3 ("A GCN from scratch").
    """
    logits = tf.convert_to_tensor(logits)
    targets = tf.cast(targets, logits.dtype)
    mask = tf.cast(mask, logits.dtype)
    if kind == "multiclass":
        per_node = tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=logits)
    elif kind == "multilabel":
        per_node = tf.reduce_sum(
            tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits), axis=-1
        )
    else:
        raise ValueError(f"kind must be one of {TASK_KINDS}, got {kind!r}")
    return tf.math.divide_no_nan(tf.reduce_sum(per_node * mask), tf.reduce_sum(mask))


def _output_activation(logits, kind: str):
    return tf.nn.softmax(logits) if kind == "multiclass" else tf.nn.sigmoid(logits)


def _dropout(x, rate, layer, training, seed, site):
    """Keras dropout, or a stateless one when the trainer passes a seed tensor.

    Inside a ``tf.function`` traced once, Keras's dropout keeps drawing from the state its
    ops were traced with, so re-running a seed would not reproduce a run. With
    ``seed`` (shape ``(2,)``, int64) the mask is a pure function of (seed, site).
    """
    if not training or rate == 0:
        return x
    if seed is None:
        return layer(x, training=True)
    site_seed = tf.random.experimental.stateless_fold_in(seed, site)
    return tf.nn.experimental.stateless_dropout(x, rate, seed=site_seed)


class _TwoLayerClassifier(tf.keras.Model):
    """What both classifiers share: dropout, graph layer 0 (ReLU, L2 on its kernel), dropout,
    graph layer 1. ``layer(channels, propagation, **kwargs)`` builds one graph layer."""

    def __init__(self, layer, propagation, widths, dropout, l2, activation1=None, **kwargs):
        super().__init__(**kwargs)
        reg = tf.keras.regularizers.l2(l2) if l2 else None
        self.rate = float(dropout)
        self.drop0 = tf.keras.layers.Dropout(dropout)
        self.layer0 = layer(widths[0], propagation, activation="relu", kernel_regularizer=reg)
        self.drop1 = tf.keras.layers.Dropout(dropout)
        self.layer1 = layer(widths[1], propagation, activation=activation1)


class GCNClassifier(_TwoLayerClassifier):
    r"""Kipf & Welling's two-layer GCN for node classification (logits out).

    .. math::
        Z = \mathrm{softmax}\big(\tilde A\, \mathrm{ReLU}(\tilde A X W_0)\, W_1\big),
        \qquad \tilde A = \tilde D^{-1/2}(A + I)\tilde D^{-1/2}

    (plus biases, dropout on the input of both layers, an L2 penalty on :math:`W_0`; the
    softmax -- or a sigmoid per label for multilabel tasks -- lives in the loss, so
    ``call`` returns :math:`\tilde A H W_1`). With ``propagation=None`` both
    :math:`\tilde A` become :math:`I` and the model is the **feature-only MLP**
    :math:`\mathrm{softmax}(\mathrm{ReLU}(X W_0) W_1)` -- the same network without the graph.

    **Input**: ``x`` ``(n_nodes, n_features)``. **Output**: logits ``(n_nodes, n_classes)``.
    ``dropout_seed`` (optional, ``(2,)`` int64) makes the dropout masks reproducible.

    Written out in plain TensorFlow in notebook 04, section 3.3 ("A GCN from scratch"),
    which checks that one training step of that version, of this class under
    :class:`FullBatchTrainer` and of Spektral's ``GCNConv`` give the same loss and weights.

    Reference: Kipf & Welling (2017), "Semi-Supervised Classification with Graph
    Convolutional Networks", ICLR, eq. 9.
    """

    def __init__(
        self,
        propagation,
        n_classes: int,
        hidden: int = 32,
        dropout: float = 0.5,
        l2: float = 5e-4,
        **kwargs,
    ):
        super().__init__(PropagatedGCNConv, propagation, (hidden, n_classes), dropout, l2, **kwargs)

    def embed(self, x, training=False, dropout_seed=None):
        """The hidden layer :math:`H = \\mathrm{ReLU}(\\tilde A X W_0)`."""
        if not isinstance(x, tf.SparseTensor):  # no dropout on a sparse X = I
            x = _dropout(x, self.rate, self.drop0, training, dropout_seed, 0)
        return self.layer0([x])

    def call(self, x, training=False, dropout_seed=None):
        h = self.embed(x, training=training, dropout_seed=dropout_seed)
        h = _dropout(h, self.rate, self.drop1, training, dropout_seed, 1)
        return self.layer1([h])


class SAGEClassifier(_TwoLayerClassifier):
    r"""GraphSAGE (mean aggregator): two ``GraphSageConv`` layers and a linear classifier.

    .. math::
        H_1 = \mathrm{ReLU}(\mathrm{SAGE}(X)),\quad H_2 = \mathrm{ReLU}(\mathrm{SAGE}(H_1)),
        \quad \text{logits} = H_2 W + b

    Two layers so that a film's prediction can use its users' *and* those users' other
    films (two hops), like the two-layer GCN. A separate linear output is needed because
    the layer L2-normalises its output (logits of norm 1 would cap the confidence).

    Reference: Hamilton, Ying & Leskovec (2017), "Inductive Representation Learning on
    Large Graphs", NeurIPS.
    """

    def __init__(
        self,
        mean_propagation,
        n_classes: int,
        hidden: int = 32,
        dropout: float = 0.5,
        l2: float = 5e-4,
        **kwargs,
    ):
        layer, widths = PropagatedGraphSageConv, (hidden, hidden)
        super().__init__(layer, mean_propagation, widths, dropout, l2, "relu", **kwargs)
        self.out = tf.keras.layers.Dense(n_classes)

    def embed(self, x, training=False, dropout_seed=None):
        """The second hidden layer :math:`H_2`."""
        x = _dropout(x, self.rate, self.drop0, training, dropout_seed, 0)
        h = self.layer0([x])
        h = _dropout(h, self.rate, self.drop1, training, dropout_seed, 1)
        return self.layer1([h])

    def call(self, x, training=False, dropout_seed=None):
        return self.out(self.embed(x, training=training, dropout_seed=dropout_seed))


def _reinitialise(model, seed: int) -> None:
    """Assign every weight of ``model`` a fresh draw from its layer's initialiser, seeded."""
    covered = set()
    for k, layer in enumerate(model.layers):
        for attr in ("kernel", "bias"):
            var = getattr(layer, attr, None)
            if var is None:
                continue
            init = getattr(layer, f"{attr}_initializer")
            config = init.get_config()
            if "seed" in config:  # a new, seeded instance: deterministic, no global state
                config["seed"] = (int(seed) * 7919 + 2 * k + (attr == "bias")) % 2**31
                init = type(init).from_config(config)
            var.assign(init(var.shape, dtype=var.dtype))
            covered.add(id(var))
    missing = [v.name for v in model.trainable_variables if id(v) not in covered]
    if missing:
        raise ValueError(f"cannot re-initialise {missing}: only kernels and biases are handled")


class _DropRetracingWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _no_retracing_false_alarm():
    """Drop TensorFlow's "N out of the last M calls ... triggered tf.function retracing" warning.

    Each :class:`FullBatchTrainer` traces its own training loop exactly once, by design. But
    TensorFlow's retracing detector counts traces per *code object*, and every trainer's loop
    shares one (``FullBatchTrainer.__init__.<locals>.train``), so building several trainers in
    a row (one per task and model in notebook 04) looks like retracing one function. Only that
    message is filtered, only during the call; every other TensorFlow warning still shows.
    """
    logger = tf.get_logger()
    quiet = _DropRetracingWarning()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def _to_tf_features(X):
    if sp.issparse(X):
        coo = sp.coo_matrix(X)
        idx = np.stack([coo.row, coo.col], axis=1).astype(np.int64)
        return tf.sparse.reorder(tf.SparseTensor(idx, coo.data.astype(np.float32), coo.shape))
    return tf.constant(np.asarray(X, dtype=np.float32))


class FitResult(NamedTuple):
    """What :meth:`FullBatchTrainer.fit` returns."""

    scores: np.ndarray  # (n_nodes, n_classes) probabilities of the best epoch
    best_epoch: int  # 1-based epoch with the lowest validation loss
    epochs: int  # epochs run before early stopping
    history: pd.DataFrame  # train_loss, valid_loss per epoch
    seconds: float
    stopped_early: bool  # True: patience ran out; False: the max_epochs cap ended training


class FullBatchTrainer:
    r"""Full-batch training with a masked loss and early stopping, compiled once per model.

    Every epoch is one Adam step on :func:`masked_cross_entropy` over the training nodes (plus
    the model's L2 penalties) and one evaluation pass without dropout, whose loss on the
    validation nodes drives early stopping (:class:`gnnrec_utils.training.EarlyStopping`,
    ``mode="min"``, ``min_delta=1e-6``): training stops after ``patience`` epochs without a
    lower validation loss, and the weights of the best epoch are restored. ``max_epochs`` is
    only a safety cap: a run that reaches it has not converged (``FitResult.stopped_early`` is
    False), and notebook 04 counts such runs.

    One epoch's step, written out in plain TensorFlow (:math:`\tilde A X W`, ReLU, masked
    cross-entropy, one ``tf.GradientTape`` Adam step), is in notebook 04, section 3.3 ("A GCN
    from scratch"), which asserts that it gives the same loss and updated weights as epoch 1
    of this trainer and as Spektral's ``GCNConv``.

    Speed matters because the notebook trains hundreds of small models on two CPU cores:

    - the model is built and the training loop traced **once** per trainer (tracing costs
      about a second, more than a whole training run); each :meth:`fit` re-initialises the
      weights (those of a freshly built model under the given seed) and zeroes Adam's
      moments, and targets and masks are arguments, so a new split or seed does not re-trace;
    - the whole loop, early stopping included, runs inside one ``tf.function``
      (``tf.range`` loop with ``break``): no Python round trip per epoch, which on this
      graph would cost as much as the epoch itself.

    Args:
        build_model: zero-argument callable returning a new (unbuilt) Keras model that maps
            the features to logits, e.g. ``lambda: GCNClassifier(op, n_classes)``.
        features: ``(n_nodes, n_features)`` array, or a SciPy sparse matrix (``X = I``).
        kind: ``"multiclass"`` or ``"multilabel"``.
        learning_rate, max_epochs, patience: Adam step size and early-stopping settings.
    """

    def __init__(
        self,
        build_model: Callable[[], Any],
        features,
        kind: str,
        learning_rate: float = 0.01,
        max_epochs: int = 2000,
        patience: int = 100,
    ):
        if kind not in TASK_KINDS:
            raise ValueError(f"kind must be one of {TASK_KINDS}, got {kind!r}")
        self.build_model = build_model
        self.kind = kind
        self.max_epochs = int(max_epochs)
        self.patience = int(patience)
        self.x = _to_tf_features(features)
        self.model = build_model()
        self.model(self.x)  # create the weights
        self.optimizer = tf.keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.model.trainable_variables)  # slots exist before tracing
        self._best = [tf.Variable(w, trainable=False) for w in self.model.weights]
        model, optimizer, x, best_vars = self.model, self.optimizer, self.x, self._best
        max_epochs = self.max_epochs
        # The package's early-stopping rule, applied to tensors inside the compiled loop.
        stopping = EarlyStopping("min", self.patience, min_delta=1e-6)

        def one_epoch(targets, train_mask, valid_mask, dropout_seed):
            with tf.GradientTape() as tape:
                logits = model(x, training=True, dropout_seed=dropout_seed)
                loss = masked_cross_entropy(targets, logits, train_mask, kind)
                total = loss + tf.add_n(model.losses) if model.losses else loss
            grads = tape.gradient(total, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            eval_logits = model(x, training=False)
            valid_loss = masked_cross_entropy(targets, eval_logits, valid_mask, kind)
            return loss, valid_loss, _output_activation(eval_logits, kind)

        @tf.function
        def train(targets, train_mask, valid_mask, seed):
            base_seed = tf.stack([seed, tf.constant(0, tf.int64)])
            best_loss = tf.constant(np.inf, tf.float32)
            best_epoch = tf.constant(0)
            epochs = tf.constant(0)
            best_scores = tf.zeros_like(targets)
            train_hist = tf.TensorArray(tf.float32, size=max_epochs)
            valid_hist = tf.TensorArray(tf.float32, size=max_epochs)
            for epoch in tf.range(1, max_epochs + 1):
                dropout_seed = tf.random.experimental.stateless_fold_in(
                    base_seed, tf.cast(epoch, tf.int64)
                )
                loss, valid_loss, scores = one_epoch(targets, train_mask, valid_mask, dropout_seed)
                train_hist = train_hist.write(epoch - 1, loss)
                valid_hist = valid_hist.write(epoch - 1, valid_loss)
                epochs = epoch
                if stopping.improves(valid_loss, best_loss):
                    best_loss, best_epoch, best_scores = valid_loss, epoch, scores
                    for b, w in zip(best_vars, model.weights, strict=True):
                        b.assign(w)
                elif stopping.exhausted(epoch - best_epoch):
                    break
            return best_epoch, epochs, train_hist.stack(), valid_hist.stack(), best_scores

        self._train = train

    def reset(self, seed: int) -> None:
        """Re-draw the weights from their initialisers, seeded by ``seed``; zero Adam's state.

        Each layer's kernel gets its own initialiser (Glorot uniform by default) with a seed
        derived from ``seed`` and the layer's position, biases get theirs (zeros): the same
        seed always gives the same initial weights, without touching TensorFlow's global
        random state.
        """
        _reinitialise(self.model, seed)
        for v in self.optimizer.variables:
            v.assign(tf.zeros_like(v))

    def fit(self, targets, split: Split, seed: int) -> FitResult:
        """Train from scratch on ``split.train``, stop early on ``split.valid``.

        ``seed`` fixes the initial weights (:meth:`reset`) and every dropout mask (stateless,
        derived from ``seed`` and the epoch): the same seed and split give the same run, in
        any order and after any number of other fits (up to floating-point non-determinism of
        multi-threaded sums). The model holds the best epoch's weights afterwards.
        """
        start = time.perf_counter()
        n = int(self.x.shape[0])
        self.reset(seed)
        masks = []
        for part in (split.train, split.valid):
            m = np.zeros(n, dtype=np.float32)
            m[np.asarray(part)] = 1.0
            masks.append(tf.constant(m))
        t = tf.constant(np.asarray(targets, dtype=np.float32))
        seed_t = tf.constant(int(seed), tf.int64)
        with _no_retracing_false_alarm():
            best_epoch, epochs, train_hist, valid_hist, scores = self._train(t, *masks, seed_t)
        for w, b in zip(self.model.weights, self._best, strict=True):
            w.assign(b)
        epochs = int(epochs)
        hist = pd.DataFrame(
            {
                "train_loss": train_hist.numpy()[:epochs],
                "valid_loss": valid_hist.numpy()[:epochs],
            },
            index=pd.RangeIndex(1, epochs + 1, name="epoch"),
        )
        seconds = time.perf_counter() - start
        stopped_early = epochs < self.max_epochs
        return FitResult(scores.numpy(), int(best_epoch), epochs, hist, seconds, stopped_early)

    def predict(self) -> np.ndarray:
        """Scores of the current weights (eval mode): ``(n_nodes, n_classes)``."""
        return _output_activation(self.model(self.x, training=False), self.kind).numpy()

    def embed(self) -> np.ndarray:
        """The model's hidden representation (its ``embed`` method) in eval mode."""
        return self.model.embed(self.x, training=False).numpy()


ARCHITECTURES = ("gcn", "sage", "mlp")


class GNNMethod:
    """A trainable model as an experiment method: ``method(task, split, seed) -> scores``.

    Keeps one :class:`FullBatchTrainer` per task (so each task's model is traced once), the
    last :class:`FitResult` per task name in ``last`` and the very last one in ``last_fit``
    (which :func:`~gnnrec_utils.node_classification.run_experiment` records: epochs run,
    best epoch, stopped early or not).

    Args:
        architecture: ``"gcn"`` (:class:`GCNClassifier` with the GCN operator
            :math:`\\tilde A`), ``"mlp"`` (the same network with :math:`\\tilde A = I`) or
            ``"sage"`` (:class:`SAGEClassifier`).
        hidden, dropout, l2: model size and regularisation;
        learning_rate, max_epochs, patience: see :class:`FullBatchTrainer`.
        features: ``"task"`` (the task's own feature matrix) or ``"identity"`` (:math:`X = I`,
            Kipf & Welling's featureless setting, :func:`structural_features`): the same model
            and splits, the graph's structure as the only input.
    """

    def __init__(
        self,
        architecture: str = "gcn",
        hidden: int = 32,
        dropout: float = 0.5,
        l2: float = 5e-4,
        learning_rate: float = 0.01,
        max_epochs: int = 2000,
        patience: int = 100,
        features: str = "task",
    ):
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if features not in ("task", "identity"):
            raise ValueError(f"features must be 'task' or 'identity', got {features!r}")
        self.architecture = architecture
        self.features = features
        self.model_kwargs = {"hidden": hidden, "dropout": dropout, "l2": l2}
        self.trainer_kwargs = {
            "learning_rate": learning_rate,
            "max_epochs": max_epochs,
            "patience": patience,
        }
        self.trainers: dict[int, FullBatchTrainer] = {}
        self.last: dict[str, FitResult] = {}
        self.last_fit: FitResult | None = None

    def trainer(self, task: NodeTask) -> FullBatchTrainer:
        """The (cached) trainer for ``task``."""
        key = id(task)
        if key not in self.trainers:
            k = task.n_classes
            if self.architecture == "gcn":
                op = graph.to_tf_operator(graph.gcn_operator(task.adjacency))
                build = lambda: GCNClassifier(op, k, **self.model_kwargs)  # noqa: E731
            elif self.architecture == "mlp":
                build = lambda: GCNClassifier(None, k, **self.model_kwargs)  # noqa: E731
            else:
                mean = graph.normalized_adjacency(task.adjacency, "row", self_loops=True)
                op = graph.to_tf_operator(mean)
                build = lambda: SAGEClassifier(op, k, **self.model_kwargs)  # noqa: E731
            X = task.features
            if self.features == "identity":
                X, _ = structural_features(task.adjacency, task.n_users, "identity")
            self.trainers[key] = FullBatchTrainer(build, X, task.kind, **self.trainer_kwargs)
            self._tasks = getattr(self, "_tasks", {})
            self._tasks[key] = task  # keep the task alive so its id is not reused
        return self.trainers[key]

    def __call__(self, task: NodeTask, split: Split, seed: int) -> np.ndarray:
        result = self.trainer(task).fit(task.targets(), split, seed)
        self.last[task.name] = result
        self.last_fit = result
        return result.scores

    def __repr__(self) -> str:
        return (
            f"GNNMethod({self.architecture!r}, {self.model_kwargs}, {self.trainer_kwargs}, "
            f"features={self.features!r})"
        )
