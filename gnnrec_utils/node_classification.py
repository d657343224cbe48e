r"""Node classification on the user-item graph, the NumPy half: tasks, splits, metrics, baselines.

A *node-classification task* predicts a label for some nodes of a graph (here: the genres of
films, or the gender or age group of users) from the graph and the node features, having seen
the labels of only a fraction of the nodes. This module holds what notebook 04 uses more than
once, in the order a reader meets it:

1. **Tasks** -- :func:`~gnnrec_utils.graph.user_item_adjacency` (the bipartite graph of
   the *training* interactions only), :func:`block_features` (users and items have different feature
   columns: each type gets its own block, zeros elsewhere), :func:`structural_features`
   (the featureless ablations :math:`X = I` and degree only) and :class:`NodeTask`, built by
   :func:`build_node_task`, which drops the target columns from the features and refuses a
   feature column that copies a label column.
2. **Label-scarcity splits** -- :func:`scarcity_splits`: fixed validation and test sets,
   nested training sets of 1 %, 5 %, ... of the labelled nodes, stratified by class.
3. **Metrics** (scikit-learn underneath) -- :func:`accuracy`, :func:`balanced_accuracy`,
   :func:`roc_auc`, :func:`f1_scores` (micro and macro), :func:`average_precision`,
   :func:`mean_average_precision`, :func:`predict_labels`, :func:`node_metrics` and
   :func:`metric_by_degree`; every metric takes a boolean ``mask`` or an index array, so it is
   computed on the labelled nodes of one part only.
4. **Baselines** (NumPy/SciPy/scikit-learn) -- :func:`majority_scores`,
   :func:`logistic_regression_scores` (features only) and :func:`label_propagation` (the graph
   only, no features).
5. **Experiments** -- the GNN methods of :mod:`gnnrec_utils.node_gnn` (the TensorFlow half:
   masked loss, ``GCNClassifier``, ``SAGEClassifier``, ``FullBatchTrainer``, ``GNNMethod``) and
   the baselines share one signature ``method(task, split, seed) -> scores``;
   :func:`run_experiment` runs methods x fractions x seeds through
   :func:`gnnrec_utils.experiments.run_seeds` (the course's one experiment runner) and
   :func:`summarise` reports mean +- std.

Nothing here imports TensorFlow.

Notation (one symbol per operator, as across the course): :math:`\tilde A = \tilde D^{-1/2}
(A + I) \tilde D^{-1/2}` is the renormalised operator with self-loops of the GCN (Kipf &
Welling), :math:`\hat A = D^{-1/2} A D^{-1/2}` the symmetric one without self-loops (label
propagation's :math:`S`, LightGCN's operator).

Conventions (those of :mod:`gnnrec_utils.graph`): users are nodes ``0 … n_users-1``, items
``n_users … n_users+n_items-1``. *Scores* are arrays of shape ``(n_nodes, n_classes)``: class
probabilities (rows sum to 1) for ``"multiclass"`` tasks, independent per-label probabilities
for ``"multilabel"`` tasks.

Taught in ``notebooks/04_node_classification.ipynb``.
"""

from __future__ import annotations

from gnnrec_utils import graph
from gnnrec_utils._progress import tqdm
from gnnrec_utils.experiments import run_seeds
from gnnrec_utils.graph import user_item_adjacency

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "TASK_KINDS",
    "NodeTask",
    "Split",
    "user_item_adjacency",
    "block_features",
    "structural_features",
    "build_node_task",
    "scarcity_splits",
    "accuracy",
    "balanced_accuracy",
    "roc_auc",
    "f1_scores",
    "average_precision",
    "mean_average_precision",
    "predict_labels",
    "node_metrics",
    "metric_by_degree",
    "majority_scores",
    "logistic_regression_scores",
    "label_propagation",
    "label_propagation_scores",
    "run_experiment",
    "summarise",
]

TASK_KINDS = ("multiclass", "multilabel")
FEATURE_MODES = ("identity", "degree")


# ---------------------------------------------------------------------------------------
# 1 Tasks
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class NodeTask:
    """One node-classification problem on the user-item graph.

    Attributes:
        name: short name, e.g. ``"item genres"``.
        kind: ``"multiclass"`` (one label per node) or ``"multilabel"`` (a 0/1 vector).
        adjacency: :math:`A`, ``(n_nodes, n_nodes)`` CSR, the training interactions only.
        features: :math:`X`, ``(n_nodes, n_features)`` float32 (NumPy) or a float32 CSR
            matrix (``X = I``).
        feature_names: one name per column of ``features``.
        nodes: ``(n_labelled,)`` node ids that carry a label (all users or all items).
        labels: class ids ``(n_labelled,)`` int64 for ``"multiclass"``; 0/1 matrix
            ``(n_labelled, n_classes)`` float32 for ``"multilabel"``.
        class_names: one name per class.
        n_users: number of user nodes (the first ``n_users`` node ids).
    """

    name: str
    kind: str
    adjacency: sp.csr_matrix
    features: Any
    feature_names: tuple[str, ...]
    nodes: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    n_users: int

    @property
    def n_nodes(self) -> int:
        return int(self.adjacency.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def n_features(self) -> int:
        return int(self.features.shape[1])

    def label_matrix(self) -> np.ndarray:
        """``(n_labelled, n_classes)`` float32: one-hot rows (multiclass) or the 0/1 labels."""
        if self.kind == "multilabel":
            return self.labels.astype(np.float32)
        return np.eye(self.n_classes, dtype=np.float32)[self.labels]

    def targets(self) -> np.ndarray:
        """``(n_nodes, n_classes)`` float32: :meth:`label_matrix` on labelled nodes, 0 elsewhere.

        A model never sees a row of it unless the node is in the training mask.
        """
        out = np.zeros((self.n_nodes, self.n_classes), dtype=np.float32)
        out[self.nodes] = self.label_matrix()
        return out

    def node_labels(self, nodes) -> np.ndarray:
        """The labels of the given node ids (rows of ``labels``), in that order."""
        nodes = np.asarray(nodes, dtype=np.int64)
        pos = np.full(self.n_nodes, -1, dtype=np.int64)
        pos[self.nodes] = np.arange(self.nodes.size)
        if (pos[nodes] < 0).any():
            raise ValueError("some nodes carry no label in this task")
        return self.labels[pos[nodes]]

    def with_features(self, features, feature_names: Sequence[str], name: str | None = None):
        """The same task with other features (for the featureless ablations)."""
        if features.shape[0] != self.n_nodes or features.shape[1] != len(feature_names):
            raise ValueError(
                f"features of shape {features.shape} do not fit {self.n_nodes} nodes and "
                f"{len(feature_names)} names"
            )
        return dataclasses.replace(
            self,
            features=features,
            feature_names=tuple(feature_names),
            name=self.name if name is None else name,
        )

    def __repr__(self) -> str:
        return (
            f"NodeTask({self.name!r}, {self.kind}, {self.n_nodes} nodes, "
            f"{self.adjacency.nnz} adjacency non-zeros, {self.nodes.size} labelled, "
            f"{self.n_classes} classes, {self.n_features} features)"
        )


def block_features(
    user_features,
    item_features,
    user_names: Sequence[str],
    item_names: Sequence[str],
    node_type: bool = True,
) -> tuple[np.ndarray, tuple[str, ...]]:
    r"""One feature matrix for two node types whose features differ: a block diagonal.

    .. math::
        X = \begin{pmatrix} X_U & 0 & \mathbf 1 & 0 \\ 0 & X_I & 0 & \mathbf 1 \end{pmatrix}
        \in \mathbb R^{(|U| + |I|) \times (d_U + d_I + 2)}

    Users and items have different attributes, so each type gets its own columns and zeros in
    the other type's columns ("padding"). A weight row of the first layer then only ever
    multiplies one type's attribute, and the two node-type columns (``node=user``,
    ``node=item``) give each type its own bias. Zero-padding rather than, say, a shared column
    for "year" and "age" avoids giving two unrelated quantities one weight.

    **Input**: ``user_features`` ``(n_users, d_U)``, ``item_features`` ``(n_items, d_I)``
    (either may have 0 columns). **Output**: ``(X, names)``, X float32.
    """
    U = np.asarray(user_features, dtype=np.float32)
    V = np.asarray(item_features, dtype=np.float32)
    if U.ndim != 2 or V.ndim != 2:
        raise ValueError("user_features and item_features must be 2-D")
    if U.shape[1] != len(user_names) or V.shape[1] != len(item_names):
        raise ValueError("one name per feature column is needed")
    n_u, n_i = U.shape[0], V.shape[0]
    blocks = [
        [U, np.zeros((n_u, V.shape[1]), np.float32)],
        [np.zeros((n_i, U.shape[1]), np.float32), V],
    ]
    names = [f"user:{n}" for n in user_names] + [f"item:{n}" for n in item_names]
    if node_type:
        blocks[0].append(np.tile(np.array([[1.0, 0.0]], np.float32), (n_u, 1)))
        blocks[1].append(np.tile(np.array([[0.0, 1.0]], np.float32), (n_i, 1)))
        names += ["node=user", "node=item"]
    X = np.vstack([np.hstack(row) for row in blocks]).astype(np.float32)
    return X, tuple(names)


def structural_features(A, n_users: int, mode: str = "degree"):
    r"""Features that carry no attribute at all: the graph-only ablations.

    - ``mode="identity"``: :math:`X = I` (Kipf & Welling's "featureless" setting), as a
      float32 CSR matrix: the first layer's weight matrix becomes one learned vector per node;
    - ``mode="degree"``: :math:`x_v = (\log(1 + d_v) / \max_w \log(1 + d_w),\ [v \in U],\
      [v \in I])`: how active a user or how popular an item is, and its type.

    **Output**: ``(X, names)``.
    """
    n = A.shape[0]
    if mode == "identity":
        X = sp.identity(n, dtype=np.float32, format="csr")
        return X, tuple(f"node_{v}" for v in range(n))
    if mode == "degree":
        logd = np.log1p(graph.degrees(A))
        if logd.max() > 0:
            logd = logd / logd.max()
        is_user = (np.arange(n) < n_users).astype(np.float64)
        X = np.stack([logd, is_user, 1.0 - is_user], axis=1).astype(np.float32)
        return X, ("log_degree", "node=user", "node=item")
    raise ValueError(f"mode must be one of {FEATURE_MODES}, got {mode!r}")


def build_node_task(
    name: str,
    kind: str,
    adjacency,
    n_users: int,
    target: str,
    labels,
    class_names: Sequence[str],
    user_features,
    user_feature_names: Sequence[str],
    item_features,
    item_feature_names: Sequence[str],
    drop: Iterable[str] = (),
) -> NodeTask:
    """Assemble a :class:`NodeTask`, removing the target from the features.

    Args:
        target: ``"user"`` (labels for all users, in user order) or ``"item"``.
        labels: ``(n_targets,)`` class ids, or ``(n_targets, n_classes)`` 0/1 for multilabel.
        drop: feature names (of either block) to remove -- the columns that *are* the target.
            Every name must exist (a typo would otherwise leak the label silently).

    Raises:
        ValueError: if a name in ``drop`` is unknown, or if a remaining feature column of the
            target type equals a label column (leakage) -- so forgetting ``drop`` fails loudly.
    """
    if kind not in TASK_KINDS:
        raise ValueError(f"kind must be one of {TASK_KINDS}, got {kind!r}")
    if target not in ("user", "item"):
        raise ValueError(f"target must be 'user' or 'item', got {target!r}")
    A = sp.csr_matrix(adjacency, dtype=np.float64)
    n_nodes = A.shape[0]
    U = np.asarray(user_features, dtype=np.float32)
    V = np.asarray(item_features, dtype=np.float32)
    if U.shape[0] != n_users or V.shape[0] != n_nodes - n_users:
        raise ValueError(
            f"feature rows ({U.shape[0]} users, {V.shape[0]} items) do not match the graph "
            f"({n_users} users, {n_nodes - n_users} items)"
        )
    drop = list(drop)
    unknown = [d for d in drop if d not in user_feature_names and d not in item_feature_names]
    if unknown:
        raise ValueError(f"cannot drop unknown feature(s) {unknown}")
    keep_u = [k for k, n in enumerate(user_feature_names) if n not in drop]
    keep_i = [k for k, n in enumerate(item_feature_names) if n not in drop]
    U, V = U[:, keep_u], V[:, keep_i]
    u_names = [user_feature_names[k] for k in keep_u]
    i_names = [item_feature_names[k] for k in keep_i]

    nodes = np.arange(n_users) if target == "user" else n_users + np.arange(n_nodes - n_users)
    y = np.asarray(labels)
    if kind == "multiclass":
        if y.shape != (nodes.size,):
            raise ValueError(f"multiclass labels must have shape ({nodes.size},), got {y.shape}")
        y = y.astype(np.int64)
        if y.min() < 0 or y.max() >= len(class_names):
            raise ValueError("class ids must lie in [0, n_classes)")
        Y = np.eye(len(class_names), dtype=np.float32)[y]
    else:
        if y.shape != (nodes.size, len(class_names)):
            raise ValueError(
                f"multilabel labels must have shape ({nodes.size}, {len(class_names)}), "
                f"got {y.shape}"
            )
        if not np.isin(y, (0, 1)).all():
            raise ValueError("multilabel labels must be 0/1")
        y = y.astype(np.float32)
        Y = y
    own = U if target == "user" else V
    own_names = u_names if target == "user" else i_names
    for c in range(Y.shape[1]):
        same = np.flatnonzero((own == Y[:, c : c + 1]).all(axis=0))
        if same.size and 0 < Y[:, c].sum() < Y.shape[0]:
            raise ValueError(
                f"feature {own_names[same[0]]!r} equals the label column {class_names[c]!r}: "
                "that is the target itself (leakage) -- pass it in `drop`"
            )
    X, names = block_features(U, V, u_names, i_names)
    return NodeTask(
        name=name,
        kind=kind,
        adjacency=A,
        features=X,
        feature_names=names,
        nodes=nodes.astype(np.int64),
        labels=y,
        class_names=tuple(class_names),
        n_users=int(n_users),
    )


# ---------------------------------------------------------------------------------------
# 2 Label-scarcity splits
# ---------------------------------------------------------------------------------------


class Split(NamedTuple):
    """Node ids of the training, validation and test nodes of one run."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray


def _stratified_order(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A permutation of ``0 … n-1`` whose every prefix (and chunk) is close to stratified.

    Within each class the members are shuffled and the k-th of n_c gets the key
    ``(k + u) / n_c`` with ``u ~ U(0, 1)``; sorting all keys interleaves the classes in
    proportion, so the first m positions hold about ``m * n_c / n`` members of class c.
    """
    n = labels.size
    key = np.empty(n, dtype=np.float64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        members = members[rng.permutation(members.size)]
        key[members] = (np.arange(members.size) + rng.random(members.size)) / members.size
    return np.argsort(key, kind="stable")


def scarcity_splits(
    task: NodeTask,
    fractions: Sequence[float],
    seed: int,
    valid_fraction: float = 0.2,
    test_fraction: float = 0.2,
    stratify: bool | None = None,
) -> dict[float, Split]:
    """Training sets of increasing size with the same validation and test nodes.

    For one ``seed`` the labelled nodes are put in one random order (stratified by class for
    multiclass tasks, unless ``stratify=False``); the first ``test_fraction`` of them is the
    test set, the next ``valid_fraction`` the validation set, and the training set for
    fraction ``f`` is the first ``round(f * n_labelled)`` (at least 1) of the remaining pool.
    So the training sets are **nested** (1 % ⊂ 5 % ⊂ 20 % ...), and every fraction is scored on
    the same test nodes -- the curve shows the effect of the labels, not of a new test set.

    ``f`` is a fraction of *all* labelled nodes; ``f`` can be at most
    ``1 - valid_fraction - test_fraction``. The validation set (used for early stopping) stays
    at ``valid_fraction`` whatever ``f``: generous when ``f`` is 1 % -- a caveat the notebook
    discusses (Shchur et al., 2018; Oliver et al., 2018).

    **Output**: ``{f: Split(train, valid, test)}`` of node ids (int64).
    """
    rng = np.random.default_rng(seed)
    n = task.nodes.size
    if stratify is None:
        stratify = task.kind == "multiclass"
    order = _stratified_order(task.labels, rng) if stratify else rng.permutation(n)
    n_test = int(round(test_fraction * n))
    n_valid = int(round(valid_fraction * n))
    pool = order[n_test + n_valid :]
    test = np.sort(task.nodes[order[:n_test]])
    valid = np.sort(task.nodes[order[n_test : n_test + n_valid]])
    out = {}
    for f in fractions:
        if not 0 < f <= 1 - valid_fraction - test_fraction + 1e-9:
            raise ValueError(
                f"fraction {f} must lie in (0, {1 - valid_fraction - test_fraction:g}]: the "
                "rest of the labelled nodes are the validation and test sets"
            )
        k = min(max(1, int(round(f * n))), pool.size)  # rounding may ask for one too many
        out[f] = Split(train=np.sort(task.nodes[pool[:k]]), valid=valid, test=test)
    return out


# ---------------------------------------------------------------------------------------
# 3 Metrics (NumPy)
# ---------------------------------------------------------------------------------------


def _rows(n: int, mask) -> np.ndarray:
    """A boolean mask of length n or an index array -> index array (None: all rows)."""
    if mask is None:
        return np.arange(n)
    mask = np.asarray(mask)
    if mask.dtype == bool:
        if mask.shape != (n,):
            raise ValueError(f"boolean mask must have shape ({n},), got {mask.shape}")
        return np.flatnonzero(mask)
    return mask.astype(np.int64)


def accuracy(y_true, y_pred, mask=None) -> float:
    r"""Share of correctly classified nodes, :math:`\frac{1}{|M|}\sum_{v \in M} [\hat y_v = y_v]`.

    ``y_true``, ``y_pred``: class ids ``(n,)``; ``mask``: boolean ``(n,)`` or indices.
    Range [0, 1]; NaN when the mask is empty.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rows = _rows(y_true.shape[0], mask)
    if rows.size == 0:
        return float("nan")
    return float(np.mean(y_true[rows] == y_pred[rows]))


def balanced_accuracy(y_true, y_pred, mask=None) -> float:
    r"""Mean recall over the classes: :math:`\frac{1}{|C'|}\sum_{c \in C'} \frac{|\{v \in M:
    y_v = c,\ \hat y_v = c\}|}{|\{v \in M: y_v = c\}|}`.

    ``y_true``, ``y_pred``: class ids ``(n,)``; ``mask``: boolean ``(n,)`` or indices;
    :math:`C'` = the classes present among the masked true labels (scikit-learn's
    ``balanced_accuracy_score``). Unlike accuracy it does not reward the majority class:
    predicting one class for every node gives exactly :math:`1/|C'|` (0.5 for gender) however
    unbalanced the classes are. Range [0, 1]; NaN when the mask is empty.
    """
    import warnings

    from sklearn.metrics import balanced_accuracy_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rows = _rows(y_true.shape[0], mask)
    if rows.size == 0:
        return float("nan")
    with warnings.catch_warnings():  # "y_pred contains classes not in y_true": intended
        warnings.simplefilter("ignore", UserWarning)
        return float(balanced_accuracy_score(y_true[rows], y_pred[rows]))


def roc_auc(y_true, scores, mask=None) -> float:
    r"""Area under the ROC curve of class ids ``(n,)`` ranked by ``scores`` ``(n, C)``.

    For each class :math:`c` the probability that a random node of class :math:`c` gets a
    higher score :math:`s_{vc}` than a random node of another class (ties count one half),

    .. math::
        \mathrm{AUC}_c = \frac{1}{|P_c|\,|N_c|} \sum_{v \in P_c} \sum_{w \in N_c}
        \big([s_{vc} > s_{wc}] + \tfrac12 [s_{vc} = s_{wc}]\big),

    computed by scikit-learn's ``roc_auc_score``. Two classes: :math:`\mathrm{AUC}_1`
    (the positive class is class 1); more: the unweighted mean over the classes that have
    both members and non-members among the masked nodes (one-vs-rest macro average, which
    equals ``roc_auc_score(..., multi_class="ovr")`` when every class is present).
    Threshold-free and insensitive to the class balance: constant scores (the majority vote)
    give exactly 0.5, a perfect ranking 1. Range [0, 1]; NaN if no class qualifies.
    """
    from sklearn.metrics import roc_auc_score

    y_true, S = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != y_true.shape[0]:
        raise ValueError(f"scores must have shape ({y_true.shape[0]}, n_classes), got {S.shape}")
    rows = _rows(y_true.shape[0], mask)
    y, S = y_true[rows], S[rows]
    classes = [1] if S.shape[1] == 2 else range(S.shape[1])
    aucs = [roc_auc_score(y == c, S[:, c]) for c in classes if 0 < np.sum(y == c) < y.size]
    return float(np.mean(aucs)) if aucs else float("nan")


def _as_binary(y, n_classes: int | None) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 1:
        k = int(y.max()) + 1 if n_classes is None else n_classes
        return np.eye(k, dtype=bool)[y]
    return y.astype(bool)


def f1_scores(y_true, y_pred, mask=None, n_classes: int | None = None) -> dict[str, float]:
    r"""Micro- and macro-averaged F1 of class ids ``(n,)`` or 0/1 label matrices ``(n, C)``.

    With :math:`TP_c, FP_c, FN_c` counted over the (masked) nodes,

    .. math::
        F1_c = \frac{2\,TP_c}{2\,TP_c + FP_c + FN_c}, \qquad
        \text{macro-}F1 = \frac{1}{|C'|}\sum_{c \in C'} F1_c, \qquad
        \text{micro-}F1 = \frac{2 \sum_c TP_c}{\sum_c (2\,TP_c + FP_c + FN_c)},

    where :math:`C'` holds the classes that occur in the true **or** the predicted labels of
    the masked nodes (a class absent from both has no defined F1; scikit-learn's default for
    multiclass does the same). For multiclass labels micro-F1 equals accuracy. Macro-F1
    weighs every class equally, so it exposes a classifier that ignores the small classes.
    Computed by scikit-learn's ``f1_score`` restricted to ``labels=`` :math:`C'`.
    Range [0, 1]; NaN when no class qualifies (e.g. an empty mask).
    """
    from sklearn.metrics import f1_score

    T, P = _as_binary(y_true, n_classes), _as_binary(y_pred, n_classes)
    k = max(T.shape[1], P.shape[1])
    if T.shape[1] < k or P.shape[1] < k:  # class ids: pad the narrower one-hot
        T = np.pad(T, ((0, 0), (0, k - T.shape[1])))
        P = np.pad(P, ((0, 0), (0, k - P.shape[1])))
    rows = _rows(T.shape[0], mask)
    T, P = T[rows], P[rows]
    present = np.flatnonzero((T | P).any(axis=0))
    if present.size == 0:
        return {"micro_f1": float("nan"), "macro_f1": float("nan")}
    return {
        f"{avg}_f1": float(f1_score(T, P, average=avg, labels=present, zero_division=0.0))
        for avg in ("micro", "macro")
    }


def average_precision(y_true, scores) -> float:
    r"""Average precision of one binary label ranked by ``scores`` (scikit-learn's definition).

    .. math::
        AP = \sum_n (R_n - R_{n-1})\, P_n ,

    over the distinct score thresholds taken from high to low, :math:`P_n, R_n` the precision
    and recall of "score >= threshold n" (tied scores enter together, so a constant score
    gives AP = prevalence). Computed by scikit-learn's ``average_precision_score``.
    Range [0, 1]; NaN if there is no positive.
    """
    from sklearn.metrics import average_precision_score

    y = np.asarray(y_true).astype(bool)
    if not y.any():
        return float("nan")
    return float(average_precision_score(y, np.asarray(scores, dtype=np.float64)))


def mean_average_precision(Y_true, scores, mask=None) -> float:
    r"""Mean over labels of :func:`average_precision`: :math:`\frac{1}{|C'|}\sum_{c\in C'} AP_c`.

    ``Y_true`` ``(n, C)`` 0/1, ``scores`` ``(n, C)``; :math:`C'` = labels with at least one
    positive among the masked nodes. Threshold-free, so it judges the ranking a multilabel
    model produces, not the 0.5 cut-off. A constant score gives the mean prevalence.
    """
    Y = np.asarray(Y_true)
    S = np.asarray(scores)
    rows = _rows(Y.shape[0], mask)
    aps = [average_precision(Y[rows, c], S[rows, c]) for c in range(Y.shape[1])]
    aps = [a for a in aps if not np.isnan(a)]
    return float(np.mean(aps)) if aps else float("nan")


def predict_labels(scores, kind: str, threshold: float = 0.5) -> np.ndarray:
    """Turn scores into predictions.

    - multiclass: the most likely class, ``argmax`` per row -> ``(n,)`` int64;
    - multilabel: every label with probability ``>= threshold``, and if there is none, the
      single most likely label (every film has at least one genre) -> ``(n, C)`` bool.

    The same rule is used for every model, so F1 compares rankings-plus-cut-off fairly.
    """
    S = np.asarray(scores)
    if kind == "multiclass":
        return S.argmax(axis=1).astype(np.int64)
    if kind != "multilabel":
        raise ValueError(f"kind must be one of {TASK_KINDS}, got {kind!r}")
    pred = S >= threshold
    empty = ~pred.any(axis=1)
    pred[np.flatnonzero(empty), S[empty].argmax(axis=1)] = True
    return pred


def node_metrics(task: NodeTask, scores, nodes) -> dict[str, float]:
    """The task's metrics on the given labelled nodes (ids or boolean mask over all nodes).

    - multiclass: ``accuracy``, ``balanced_accuracy``, ``roc_auc`` (from the scores, no
      threshold) and ``macro_f1``;
    - multilabel: ``micro_f1``, ``macro_f1``, ``map`` (mean average precision).

    On unbalanced classes (gender: 71 % men) accuracy alone hides a classifier that predicts
    the majority for everyone; balanced accuracy (0.5 for it) and ROC-AUC (0.5 for any
    constant score) do not. Notebook 04, section 5.5, reads the gender task with all three.
    """
    S = np.asarray(scores)
    if S.shape != (task.n_nodes, task.n_classes):
        raise ValueError(f"scores must have shape {(task.n_nodes, task.n_classes)}, got {S.shape}")
    nodes = _rows(task.n_nodes, nodes)
    y = task.node_labels(nodes)
    pred = predict_labels(S[nodes], task.kind)
    if task.kind == "multiclass":
        return {
            "accuracy": accuracy(y, pred),
            "balanced_accuracy": balanced_accuracy(y, pred),
            "roc_auc": roc_auc(y, S[nodes]),
            "macro_f1": f1_scores(y, pred, n_classes=task.n_classes)["macro_f1"],
        }
    f1 = f1_scores(y, pred)
    return {
        "micro_f1": f1["micro_f1"],
        "macro_f1": f1["macro_f1"],
        "map": mean_average_precision(y, S[nodes]),
    }


def metric_by_degree(
    task: NodeTask, scores_by_model: Mapping[str, Any], nodes, bins: Sequence[float]
) -> pd.DataFrame:
    """The task's headline metric within node-degree buckets ``[bins[k], bins[k+1])``.

    Multiclass: accuracy of the nodes in the bucket; multilabel: mean average precision over
    the nodes in the bucket (labels with a positive among them). Degrees are those of
    ``task.adjacency`` (the training graph). Returns one row per bucket with the number of
    nodes and one column per model (NaN for an empty bucket).
    """
    nodes = _rows(task.n_nodes, nodes)
    deg = graph.degrees(task.adjacency)[nodes]
    bucket = np.digitize(deg, bins) - 1
    y = task.node_labels(nodes)
    table: dict[str, list] = {"nodes": [], **{m: [] for m in scores_by_model}}
    labels = []
    for k in range(len(bins) - 1):
        inside = bucket == k
        hi = "" if np.isinf(bins[k + 1]) else f"{bins[k + 1]:g}"
        labels.append(f"[{bins[k]:g}, {hi})" if hi else f">= {bins[k]:g}")
        table["nodes"].append(int(inside.sum()))
        for model, S in scores_by_model.items():
            S = np.asarray(S)[nodes][inside]
            if not inside.any():
                value = float("nan")
            elif task.kind == "multiclass":
                value = accuracy(y[inside], predict_labels(S, task.kind))
            else:
                value = mean_average_precision(y[inside], S)
            table[model].append(value)
    return pd.DataFrame(table, index=pd.Index(labels, name="degree"))


# ---------------------------------------------------------------------------------------
# 4 Baselines (no TensorFlow)
# ---------------------------------------------------------------------------------------


def _prior(task: NodeTask, train) -> np.ndarray:
    """Class frequencies (multiclass) or label prevalences (multilabel) on the training nodes."""
    Y = task.targets()[np.asarray(train)]
    return Y.mean(axis=0).astype(np.float64)


def majority_scores(task: NodeTask, split: Split, seed: int | None = None) -> np.ndarray:
    """Every node gets the training prior as its scores.

    Multiclass: predicts the majority class of the training nodes. Multilabel: the label
    prevalences; after :func:`predict_labels` every film gets the most common genre. The floor
    any model must beat.
    """
    return np.tile(_prior(task, split.train), (task.n_nodes, 1))


def _dense(X) -> np.ndarray:
    return X.toarray() if sp.issparse(X) else np.asarray(X)


def _solver(n_classes: int) -> str:
    # liblinear is ~30x faster than lbfgs for the many tiny binary fits of the notebook (it
    # also penalises the intercept, which matters little at C=1); it cannot do multinomial.
    return "liblinear" if n_classes == 2 else "lbfgs"


def _state(seed: int | None) -> int:
    # liblinear shuffles the data; without random_state it would draw from NumPy's global
    # generator, so results would depend on what ran before.
    return 0 if seed is None else int(seed) % 2**32


def logistic_regression_scores(
    task: NodeTask, split: Split, seed: int | None = None, C: float = 1.0
) -> np.ndarray:
    r"""Logistic regression on each node's **own** features only: no graph at all.

    Multiclass: multinomial, :math:`p(y \mid x_v) = \mathrm{softmax}(W x_v + b)`; multilabel:
    one binary model per label. L2 penalty ``C`` (scikit-learn's inverse strength); solver
    liblinear for two classes, lbfgs for more.
    A label whose training nodes are all 0 (or all 1) gets that constant. Validation nodes are
    not used (no early stopping needed for a convex model). ``seed`` fixes liblinear's
    shuffling (``random_state``), so the result never depends on global random state.
    """
    from sklearn.linear_model import LogisticRegression

    X = _dense(task.features)
    train = np.asarray(split.train)
    Y = task.targets()
    out = np.tile(_prior(task, train), (task.n_nodes, 1))
    rows = task.nodes  # only labelled-type nodes need predictions
    if task.kind == "multiclass":
        y = Y[train].argmax(axis=1)
        classes = np.unique(y)
        if classes.size > 1:
            model = LogisticRegression(
                C=C, solver=_solver(classes.size), max_iter=2000, random_state=_state(seed)
            )
            model.fit(X[train], y)
            out[rows] = 0.0
            out[np.ix_(rows, model.classes_)] = model.predict_proba(X[rows])
        return out
    for c in range(task.n_classes):
        y = Y[train, c]
        if 0 < y.sum() < y.size:
            model = LogisticRegression(
                C=C, solver="liblinear", max_iter=2000, random_state=_state(seed)
            )
            model.fit(X[train], y)
            out[rows, c] = model.predict_proba(X[rows])[:, 1]
    return out


def label_propagation(
    S, Y0, alpha: float = 0.9, tol: float = 1e-6, max_iter: int = 1000
) -> tuple[np.ndarray, int]:
    r"""Zhou et al.'s label spreading: iterate :math:`F \leftarrow \alpha S F + (1-\alpha) Y_0`.

    .. math::
        F^{(0)} = Y_0, \qquad F^{(t+1)} = \alpha S F^{(t)} + (1 - \alpha) Y_0
        \;\xrightarrow{t\to\infty}\; F^* = (1 - \alpha)(I - \alpha S)^{-1} Y_0 ,

    with :math:`S = \hat A = D^{-1/2} A D^{-1/2}` (the course's :math:`\hat A`: no self-loops)
    and :math:`Y_0` the one-hot / 0-1 labels of the training nodes (zero rows elsewhere). Each
    step passes every node's current scores to its neighbours (weight :math:`\alpha`) and
    pulls the training nodes back to their labels (weight :math:`1-\alpha`). For
    :math:`0 \le \alpha < 1` it converges because the eigenvalues of :math:`S` lie in
    :math:`[-1, 1]`; the error shrinks like :math:`\alpha^t`. No features, no training: the
    graph alone.

    **Input**: ``S`` ``(n, n)`` sparse, ``Y0`` ``(n, k)``. **Output**: ``(F, n_iterations)``.

    Reference: Zhou, Bousquet, Lal, Weston & Schölkopf, "Learning with Local and Global
    Consistency", NIPS 2003.
    """
    if not 0 <= alpha < 1:
        raise ValueError(f"alpha must lie in [0, 1), got {alpha}")
    Y0 = np.asarray(Y0, dtype=np.float64)
    F = Y0.copy()
    for t in range(1, max_iter + 1):
        F_next = alpha * (S @ F) + (1 - alpha) * Y0
        delta = np.abs(F_next - F).max()
        F = F_next
        if delta < tol:
            return F, t
    return F, max_iter


def label_propagation_scores(
    task: NodeTask, split: Split, seed: int | None = None, alpha: float = 0.9
) -> np.ndarray:
    r"""Label propagation turned into class scores for every node.

    Propagates the training labels *and* a column :math:`m` that marks the training nodes,
    then divides: :math:`\hat p_{vc} = F_{vc} / F_{vm}` is a weighted average of the labels
    of the training nodes that reach :math:`v` -- a probability for each class (multiclass) or
    label (multilabel) that the 0.5 cut-off of :func:`predict_labels` can use. For multiclass
    the division does not change the arg-max. Nodes that no training label reaches (other
    connected components, isolated items) get the training prior.
    """
    S = graph.normalized_adjacency(task.adjacency, "symmetric")
    train = np.asarray(split.train)
    Y0 = np.zeros((task.n_nodes, task.n_classes + 1))
    Y0[train, :-1] = task.targets()[train]
    Y0[train, -1] = 1.0
    F, _ = label_propagation(S, Y0, alpha=alpha)
    mass = F[:, -1:]
    reached = mass[:, 0] > 1e-12
    out = np.tile(_prior(task, train), (task.n_nodes, 1))
    out[reached] = np.clip(F[reached, :-1] / mass[reached], 0.0, 1.0)
    return out


# ---------------------------------------------------------------------------------------
# 6 Experiments
# ---------------------------------------------------------------------------------------

Method = Callable[[NodeTask, Split, int], np.ndarray]


def run_experiment(
    tasks: Sequence[NodeTask],
    methods: Mapping[str, Method],
    fractions: Sequence[float],
    seeds: Sequence[int],
    progress: bool = True,
    on_result: Callable[[NodeTask, str, float, int, Split, np.ndarray], None] | None = None,
    **split_kwargs,
) -> pd.DataFrame:
    """Every method on every task, label fraction and seed, on identical splits.

    For each task and seed, :func:`scarcity_splits` draws the splits once; every method then
    sees exactly the same training, validation and test nodes. Methods are callables
    ``method(task, split, seed) -> scores`` of shape ``(n_nodes, n_classes)``; they are
    scored on ``split.test`` with :func:`node_metrics`. Each (task, seed, fraction) is one call
    of :func:`gnnrec_utils.experiments.run_seeds`, which times and scores the methods.

    **Output**: one row per (task, method, fraction, seed) with the metrics, ``n_train`` and
    ``seconds`` (wall time of the method); for a method that exposes its last fit as
    ``last_fit`` (a :class:`gnnrec_utils.node_gnn.GNNMethod`), also ``epochs``,
    ``best_epoch`` and ``stopped_early`` (False: the run hit ``max_epochs`` before
    converging).

    ``on_result(task, method, fraction, seed, split, scores)``, if given, is called right
    after each run, while the method still holds that run's model (e.g. to keep a GNN's
    hidden layer, ``method.trainer(task).embed()``, without training it again).
    """
    rows = []
    total = len(tasks) * len(seeds) * len(fractions) * len(methods)
    with tqdm(total=total, disable=not progress, desc="runs", mininterval=10) as bar:
        for task in tasks:
            for seed in seeds:
                splits = scarcity_splits(task, fractions, seed, **split_kwargs)
                for fraction, split in splits.items():
                    fits = {}

                    def record(name, run_seed, _obj, scores, fits=fits, split=split, task=task,
                               fraction=fraction):  # fmt: skip
                        fits[name] = getattr(methods[name], "last_fit", None)
                        if on_result is not None:
                            on_result(task, name, fraction, run_seed, split, scores)
                        bar.update()

                    table = run_seeds(
                        {name: functools.partial(m, task, split) for name, m in methods.items()},
                        [seed],
                        functools.partial(node_metrics, task, nodes=split.test),
                        on_result=record,
                    )
                    for name in methods:
                        values = table[table["model"] == name]
                        metrics = dict(zip(values["metric"], values["value"], strict=True))
                        row = {
                            "task": task.name,
                            "method": name,
                            "fraction": fraction,
                            "seed": seed,
                            "n_train": int(split.train.size),
                        }
                        row.update({k: v for k, v in metrics.items() if not k.startswith("fit_")})
                        row["seconds"] = metrics["fit_seconds"]
                        fit = fits[name]
                        if fit is not None:
                            row["epochs"], row["best_epoch"] = fit.epochs, fit.best_epoch
                            row["stopped_early"] = fit.stopped_early
                        rows.append(row)
    return pd.DataFrame(rows)


def summarise(results: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean, standard deviation (ddof=1) and number of seeds per (task, method, fraction).

    Columns are a two-level index ``(metric, "mean" | "std" | "n")``; metrics default to
    every metric column present.
    """
    keys = ["task", "method", "fraction"]
    if metrics is None:
        known = ("accuracy", "balanced_accuracy", "roc_auc", "micro_f1", "macro_f1", "map")
        metrics = [m for m in known if m in results]
    grouped = results.groupby(keys, sort=False)[list(metrics)]
    return grouped.agg(["mean", "std", "count"]).rename(columns={"count": "n"}, level=1)
