"""Exercise checks for notebook 04 (node classification)."""

from __future__ import annotations

from gnnrec_utils.exercises._base import _fail, _ok

import numpy as np


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
