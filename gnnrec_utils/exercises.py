"""Checks for the course exercises: specific feedback, not just pass/fail.

Each ``check_*`` function recomputes the expected answer from the inputs with plain code of
its own, prints ``✓ Exercise N.M: …`` when the answer is right and otherwise raises
:class:`ExerciseFeedback` (an ``AssertionError``) that says what is wrong and gives a hint.
Exercise numbers are ``<notebook>.<exercise>``: ``check_threshold_cost`` is Exercise 1.1, the
first exercise of notebook 01.

In the student edition (``make student``) the solution cells are replaced by a stub; the check
cells stay as they are.
"""

from __future__ import annotations

from gnnrec_utils.constants import ITEM_COL, TIMESTAMP_COL, USER_COL

from collections.abc import Callable

import numpy as np
import pandas as pd


class ExerciseFeedback(AssertionError):
    """An exercise answer is not right yet; the message says why and how to proceed."""


def _fail(exercise: str, problem: str, hint: str) -> None:
    raise ExerciseFeedback(f"Exercise {exercise} — not yet: {problem}\n  Hint: {hint}")


def _ok(exercise: str, message: str) -> bool:
    print(f"✓ Exercise {exercise}: {message}")
    return True


def _plain_gini(counts: np.ndarray) -> float:
    """Mean absolute difference over all pairs divided by twice the mean (the definition)."""
    x = np.asarray(counts, dtype=np.float64)
    if x.sum() == 0:
        return 0.0
    return float(np.abs(x[:, None] - x[None, :]).mean() / (2 * x.mean()))


# --------------------------------------------------------------------------------------------
# Notebook 01: preprocessing


def check_threshold_cost(
    ratings: pd.DataFrame, density: float, gini: float, threshold: int = 4
) -> bool:
    """Exercise 1.1: density and item-popularity Gini of the ``rating >= threshold`` data set.

    Expected: density over the full catalogue, |R| / (n_users · n_items), and the Gini of the
    item popularity counting items without a positive as 0.
    """
    kept = ratings[ratings["rating"] >= threshold]
    n_users = ratings[USER_COL].nunique()
    n_items = ratings[ITEM_COL].nunique()
    want_density = len(kept) / (n_users * n_items)
    counts = kept[ITEM_COL].value_counts().reindex(ratings[ITEM_COL].unique(), fill_value=0)
    want_gini = _plain_gini(counts.to_numpy())
    if not np.isfinite(density) or not np.isfinite(gini):
        _fail("1.1", "density and gini must be finite numbers", "compute both as floats")
    if not np.isclose(density, want_density, rtol=1e-9):
        partial = len(kept) / (kept[USER_COL].nunique() * kept[ITEM_COL].nunique())
        if np.isclose(density, partial, rtol=1e-9):
            _fail(
                "1.1",
                f"density {density:.5f} divides by the users and items that still have a positive",
                f"use the full catalogue ({n_users} × {n_items}) so the two data sets compare",
            )
        if np.isclose(density, len(ratings) / (n_users * n_items), rtol=1e-9):
            _fail("1.1", "that is the density of all ratings", f"keep rating >= {threshold}")
        _fail("1.1", f"density {density:.5f} is off", "density = |R| / (|U| |I|)")
    if not np.isclose(gini, want_gini, rtol=1e-9, atol=1e-12):
        nonzero = _plain_gini(counts.to_numpy()[counts.to_numpy() > 0])
        if np.isclose(gini, nonzero, rtol=1e-9):
            _fail(
                "1.1",
                "the Gini leaves out items with no positive",
                "reindex the popularity on every item id with fill_value=0",
            )
        _fail("1.1", f"gini {gini:.4f} is off", "pp.gini(popularity) with all items included")
    before = _plain_gini(ratings[ITEM_COL].value_counts().to_numpy())
    trend = "more" if want_gini > before else "less"
    return _ok(
        "1.1",
        f"density {want_density:.4%}, Gini {want_gini:.3f} — popularity is {trend} "
        f"concentrated than with all ratings (Gini {before:.3f})",
    )


def check_leave_last_out(
    leave_last_out: Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]],
    interactions: pd.DataFrame,
) -> bool:
    """Exercise 1.2: ``leave_last_out(df) -> (train, test)`` puts each user's latest row in test.

    Ties on the latest timestamp are broken by ``item_id``: the largest id counts as the last.
    The function is tried on a small table with a tie, then on ``interactions``.
    """
    tiny = pd.DataFrame(
        {
            USER_COL: [1, 1, 1, 2, 2, 3],
            ITEM_COL: [10, 11, 12, 10, 13, 11],
            TIMESTAMP_COL: [5, 9, 9, 1, 2, 7],
        }
    )
    for name, table in (("a 6-row example with a tie", tiny), ("the interactions", interactions)):
        result = leave_last_out(table.copy())
        if not (isinstance(result, tuple) and len(result) == 2):
            _fail("1.2", "the function must return a tuple (train, test)", "return train, test")
        train, test = result
        if len(train) + len(test) != len(table):
            _fail(
                "1.2",
                f"on {name}, train + test has {len(train) + len(test)} rows, not {len(table)}",
                "every interaction goes to exactly one part",
            )
        per_user = test.groupby(USER_COL).size()
        if per_user.max() != 1 or per_user.size != table[USER_COL].nunique():
            _fail(
                "1.2",
                f"on {name}, the test set must hold exactly one row per user",
                "group by user and keep one row each (e.g. idxmax over a sort key)",
            )
        keys = table.sort_values([USER_COL, TIMESTAMP_COL, ITEM_COL]).groupby(USER_COL).tail(1)
        want = set(zip(keys[USER_COL], keys[ITEM_COL], strict=True))
        got = set(zip(test[USER_COL], test[ITEM_COL], strict=True))
        if got != want:
            wrong = sorted(got - want)[:3]
            _fail(
                "1.2",
                f"on {name}, these test rows are not each user's latest: {wrong}",
                "sort by (user, timestamp, item_id) and take each user's last row; ties on "
                "the timestamp go to the largest item_id",
            )
    return _ok("1.2", f"one latest interaction per user ({len(test)} test rows)")


def check_log_popularity(
    feature: np.ndarray, train_items: np.ndarray, n_items: int, all_items: np.ndarray | None = None
) -> bool:
    """Exercise 1.3: z-scored ``log(1 + d_i)`` with ``d_i`` the item degree in the training split.

    Args:
        feature: the student's feature, shape ``(n_items,)``.
        train_items: 0-based item index of every training interaction.
        n_items: number of items.
        all_items: 0-based item index of every interaction (train, valid and test), to recognise
            a feature computed on all data (leakage).
    """
    feature = np.asarray(feature, dtype=np.float64).ravel()
    if feature.shape != (n_items,):
        _fail("1.3", f"shape {feature.shape}, expected ({n_items},)", "one value per item")
    degree = np.bincount(np.asarray(train_items), minlength=n_items).astype(np.float64)

    def standardise(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / x.std()

    want = standardise(np.log1p(degree))
    if np.allclose(feature, want, atol=1e-5):
        return _ok("1.3", "mean 0, standard deviation 1, from training degrees only")
    if all_items is not None:
        leaked = np.bincount(np.asarray(all_items), minlength=n_items).astype(np.float64)
        if np.allclose(feature, standardise(np.log1p(leaked)), atol=1e-5):
            _fail(
                "1.3",
                "the degrees include validation and test interactions (leakage)",
                "count degrees on the training split only",
            )
    if np.allclose(feature, standardise(degree), atol=1e-5):
        _fail("1.3", "the log is missing", "apply np.log1p to the degrees before z-scoring")
    if np.allclose(feature, np.log1p(degree), atol=1e-5):
        _fail("1.3", "the feature is not standardised", "use pp.z_score(np.log1p(degree))")
    if np.allclose(feature, np.log(degree + 1e-12), atol=1e-3) or not np.isfinite(feature).all():
        _fail("1.3", "log(0) for items without training interactions", "use log(1 + d)")
    _fail("1.3", "the values differ from z_score(log(1 + d))", "compare step by step")
    return False  # unreachable, keeps type checkers happy


# --------------------------------------------------------------------------------------------
# Notebook 02: GCN propagation


def check_row_normalisation(P_row, eig_row, A) -> bool:
    """Exercise 2.1: ``P_row = D̃⁻¹(A + I)`` (dense) and its eigenvalues sorted increasingly.

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
    A_tilde = A + np.eye(n)
    want = A_tilde / A_tilde.sum(axis=1, keepdims=True)
    if not np.allclose(P_row, want):
        if np.allclose(P_row, A / np.maximum(A.sum(axis=1, keepdims=True), 1e-300)):
            _fail("2.1", "the self-loops are missing", "use Ã = A + I before dividing")
        if np.allclose(P_row, A_tilde / A_tilde.sum(axis=0, keepdims=True)):
            _fail("2.1", "you divided the columns", "divide row i by d̃_i (axis=1)")
        _fail("2.1", "P_row is not D̃⁻¹Ã", "add the self-loops, then divide each row by its sum")
    d = A_tilde.sum(axis=1)
    a_hat = A_tilde / np.sqrt(np.outer(d, d))
    eig_row = np.asarray(eig_row, dtype=np.float64)
    if eig_row.shape != (n,) or np.any(np.diff(eig_row) < -1e-12):
        _fail("2.1", "eig_row must hold the n eigenvalues in increasing order", "np.sort(...)")
    if not np.allclose(eig_row, np.linalg.eigvalsh(a_hat), atol=1e-8):
        _fail("2.1", "eig_row differs from the spectrum of Â", "eigenvalues of P_row itself")
    return _ok("2.1", "P_row is row-stochastic, not symmetric, and shares Â's eigenvalues")


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


def check_deep_smoothing(cos_deep, first_kernel, a_hat, max_depth: int) -> bool:
    """Exercise 2.3: mean pairwise cosine similarity after each of ``max_depth`` GCN layers.

    Args:
        cos_deep: the student's values, shape ``(max_depth,)``.
        first_kernel: the first layer's weight matrix ``W⁽⁰⁾``, shape ``(n, width)``.
        a_hat: the renormalised operator Â (dense ``(n, n)``); the input is ``X = I``.
    """
    cos_deep = np.asarray(cos_deep, dtype=np.float64)
    if cos_deep.shape != (max_depth,):
        _fail("2.3", f"cos_deep has shape {cos_deep.shape}", f"one value per layer ({max_depth})")
    if np.any(np.abs(cos_deep) > 1 + 1e-6):
        _fail("2.3", "values outside [-1, 1]", "cosine similarities are bounded by 1")
    first = np.tanh(np.asarray(a_hat) @ np.asarray(first_kernel))  # bias starts at 0
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


# --------------------------------------------------------------------------------------------
# Notebook 04: node classification


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
