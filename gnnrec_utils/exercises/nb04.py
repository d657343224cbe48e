"""Exercise checks for notebook 04 (node classification).

- 4.1 :func:`check_occupation_task`: a 21-class occupation task without the occupation columns;
- 4.2 :func:`check_small_validation`: a validation set no larger than the training set;
- 4.3 :func:`check_degree_features`: log-degree and node type as the only features;
- 4.4 :func:`check_residual_gcn`: the from-scratch GCN of section 3.3 with a skip connection.

TensorFlow is imported only inside :func:`check_residual_gcn`.
"""

from __future__ import annotations

from gnnrec_utils.exercises._base import _fail, _ok

from collections.abc import Callable

import numpy as np

__all__ = [
    "check_occupation_task",
    "check_small_validation",
    "check_degree_features",
    "check_residual_gcn",
]


def check_occupation_task(task, user_features, user_feature_names) -> bool:
    """Exercise 4.1: a 21-class occupation task on user nodes without the occupation columns."""
    names = [str(n) for n in user_feature_names]
    occ_cols = [i for i, n in enumerate(names) if n.startswith("occupation=")]
    want = np.asarray(user_features)[:, occ_cols].argmax(axis=1)
    if task.n_classes != len(occ_cols):
        _fail("4.1", f"{task.n_classes} classes", f"one class per occupation ({len(occ_cols)})")
    leaked = [n for n in task.feature_names if "occupation=" in str(n)]
    if leaked:
        _fail(
            "4.1",
            f"the features still contain {len(leaked)} occupation columns (label leakage)",
            "pass drop=[every 'occupation=…' column] to build_node_task",
        )
    n_users = len(want)
    got = task.node_labels(np.arange(n_users))
    if not np.array_equal(got, want):
        _fail("4.1", "the labels differ from the users' occupations", "argmax of the one-hots")
    return _ok("4.1", f"{task.n_classes} occupations, no occupation feature left")


def check_small_validation(split, train_size_target: int | None = None) -> bool:
    """Exercise 4.2: a validation set no larger than the training set, disjoint from the rest."""
    train, valid, test = (np.asarray(p) for p in split)
    if np.intersect1d(train, valid).size or np.intersect1d(valid, test).size:
        _fail("4.2", "validation overlaps training or test", "use nc.scarcity_splits")
    target = train.size if train_size_target is None else train_size_target
    if valid.size > max(target, 1) + 1:
        _fail(
            "4.2",
            f"{valid.size} validation nodes for {train.size} training nodes",
            "set valid_fraction to the training fraction (e.g. 0.01 for 1 %)",
        )
    return _ok("4.2", f"{train.size} training and {valid.size} validation nodes")


def check_degree_features(X, A, n_users: int) -> bool:
    """Exercise 4.3: ``[log(1+d)/max log(1+d), is_user, is_item]`` for every node."""
    A = A.tocsr() if hasattr(A, "tocsr") else np.asarray(A)
    degree = np.asarray(A.sum(axis=1)).ravel()
    logd = np.log1p(degree)
    is_user = (np.arange(len(degree)) < n_users).astype(float)
    want = np.column_stack([logd / logd.max(), is_user, 1 - is_user])
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    if X.shape != want.shape:
        _fail("4.3", f"X has shape {X.shape}", f"three columns per node: {want.shape}")
    if not np.allclose(X, want, atol=1e-6):
        if np.allclose(X[:, 0], degree / degree.max(), atol=1e-6):
            _fail("4.3", "the degree column is not logged", "use log(1 + d), then scale")
        _fail("4.3", "X differs from nc.structural_features(A, n_users, 'degree')", "compare")
    return _ok("4.3", "log-degree and node type for every node")


def check_residual_gcn(residual_gcn_logits: Callable) -> bool:
    r"""Exercise 4.4: the two-layer GCN with a linear skip from each node's own features.

    .. math::
        Z = \tilde A\, \mathrm{ReLU}(\tilde A X W_0 + b_0)\, W_1 + b_1 + X W_s

    The function is called as ``residual_gcn_logits(propagate, x, W0, b0, W1, b1, W_skip)``
    with ``propagate`` the CSR operator :math:`M \mapsto \tilde A M` of a small random graph
    (``graph.to_tf_operator``), ``x`` ``(n, d)`` and the weights as ``tf.Variable``; it must
    return the logits ``(n, C)`` and let a ``tf.GradientTape`` reach ``W_skip``.
    """
    from gnnrec_utils import graph

    import tensorflow as tf

    rng = np.random.default_rng(4)
    R = (rng.random((6, 5)) < 0.5).astype(float)
    R[np.arange(5), np.arange(5)] = 1.0  # no isolated node
    a_tilde = graph.gcn_operator(graph.bipartite_adjacency(R))
    propagate = graph.to_tf_operator(a_tilde)
    n, d, hidden, k = a_tilde.shape[0], 3, 4, 2
    X = rng.normal(size=(n, d)).astype(np.float32)
    arrays = [
        rng.normal(size=s).astype(np.float32) for s in ((d, hidden), (hidden,), (hidden, k), (k,))
    ]
    W_s = rng.normal(size=(d, k)).astype(np.float32)
    variables = [tf.Variable(w) for w in (*arrays, W_s)]
    with tf.GradientTape() as tape:
        out = residual_gcn_logits(propagate, tf.constant(X), *variables)
        total = tf.reduce_sum(out) if tf.is_tensor(out) else None
    grad = None if total is None else tape.gradient(total, variables[-1])
    out = np.asarray(out, dtype=np.float64)

    W0, b0, W1, b1 = (a.astype(np.float64) for a in arrays)
    A = a_tilde.toarray()
    H = np.maximum(A @ X @ W0 + b0, 0)
    plain = A @ H @ W1 + b1
    want = plain + X @ W_s
    if out.shape != want.shape:
        _fail(
            "4.4",
            f"logits of shape {out.shape}",
            f"one row per node, one column per class: {want.shape}",
        )
    if np.allclose(out, want, atol=1e-4):
        if grad is None:
            _fail(
                "4.4",
                "the tape gets no gradient for W_skip",
                "compute with TensorFlow ops (@, tf.nn.relu, propagate), not NumPy",
            )
        return _ok("4.4", "Z = Ã ReLU(Ã X W0 + b0) W1 + b1 + X W_skip, differentiable")
    if np.allclose(out, plain, atol=1e-4):
        _fail("4.4", "the output is the plain GCN's: the skip term is missing", "add x @ W_skip")
    if np.allclose(out, plain + A @ X @ W_s, atol=1e-4):
        _fail(
            "4.4",
            "the skip goes through Ã, so the node's own features are averaged away again",
            "add x @ W_skip outside propagate(...)",
        )
    _fail(
        "4.4",
        "the logits differ from Ã ReLU(Ã X W0 + b0) W1 + b1 + X W_skip",
        "compare term by term",
    )
