"""Exercise checks accept right answers and explain typical wrong ones."""

from __future__ import annotations

from gnnrec_utils import exercises

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.unit


@pytest.fixture
def ratings():
    rng = np.random.default_rng(0)
    pairs = {
        (u, i) for u, i in zip(rng.integers(1, 21, 300), rng.integers(1, 41, 300), strict=True)
    }
    users, items = zip(*sorted(pairs), strict=True)
    return pd.DataFrame(
        {
            "user_id": users,
            "item_id": items,
            "rating": rng.integers(1, 6, len(users)),
            "timestamp": rng.integers(0, 50, len(users)),
        }
    )


def _gini(x):
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    return ((2 * np.arange(1, n + 1) - n - 1) * x).sum() / (n * x.sum())


def _threshold_answer(ratings):
    kept = ratings[ratings.rating >= 4]
    density = len(kept) / (ratings.user_id.nunique() * ratings.item_id.nunique())
    pop = kept.item_id.value_counts().reindex(ratings.item_id.unique(), fill_value=0)
    return kept, density, _gini(pop)


def test_threshold_cost_right_answer(ratings, capsys):
    _, density, gini = _threshold_answer(ratings)
    assert exercises.check_threshold_cost(ratings, density, gini)
    assert "✓ Exercise 1.1" in capsys.readouterr().out


def test_threshold_cost_wrong_denominator_is_explained(ratings):
    kept, _, gini = _threshold_answer(ratings)
    partial = len(kept) / (kept.user_id.nunique() * kept.item_id.nunique())
    with pytest.raises(exercises.ExerciseFeedback, match="full catalogue"):
        exercises.check_threshold_cost(ratings, partial, gini)


def test_threshold_cost_gini_without_zero_items_is_explained(ratings):
    kept, density, _ = _threshold_answer(ratings)
    with pytest.raises(exercises.ExerciseFeedback, match="fill_value=0"):
        exercises.check_threshold_cost(ratings, density, _gini(kept.item_id.value_counts()))


def _right_loo(df):
    order = df.sort_values(["user_id", "timestamp", "item_id"])
    last = order.groupby("user_id").tail(1)
    return order.drop(index=last.index), last


def test_leave_last_out_right(ratings):
    assert exercises.check_leave_last_out(_right_loo, ratings)


def test_leave_last_out_bad_tie_break_is_explained(ratings):
    def first_on_ties(df):
        order = df.sort_values(["user_id", "timestamp", "item_id"], ascending=[True, True, False])
        last = order.groupby("user_id").tail(1)
        return order.drop(index=last.index), last

    with pytest.raises(exercises.ExerciseFeedback, match="largest item_id"):
        exercises.check_leave_last_out(first_on_ties, ratings)


def test_leave_last_out_losing_rows_is_explained(ratings):
    def drops_rows(df):
        train, test = _right_loo(df)
        return train.iloc[1:], test

    with pytest.raises(exercises.ExerciseFeedback, match="exactly one part"):
        exercises.check_leave_last_out(drops_rows, ratings)


def test_leave_last_out_wrong_return_type(ratings):
    with pytest.raises(exercises.ExerciseFeedback, match="tuple"):
        exercises.check_leave_last_out(lambda df: df, ratings)


@pytest.fixture
def degrees_setup():
    rng = np.random.default_rng(1)
    train_items = rng.integers(0, 30, 200)
    all_items = np.concatenate([train_items, rng.integers(0, 30, 60)])
    return train_items, all_items, 32  # items 30, 31 have degree 0


def _z(x):
    return (x - x.mean()) / x.std()


def test_log_popularity_right(degrees_setup):
    train_items, all_items, n = degrees_setup
    feature = _z(np.log1p(np.bincount(train_items, minlength=n)))
    assert exercises.check_log_popularity(feature, train_items, n, all_items=all_items)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d, a: _z(np.log1p(a)), "leakage"),
        (lambda d, a: _z(d.astype(float)), "log is missing"),
        (lambda d, a: np.log1p(d), "not standardised"),
        (lambda d, a: np.zeros(5), "shape"),
    ],
)
def test_log_popularity_mistakes_are_named(degrees_setup, make, message):
    train_items, all_items, n = degrees_setup
    degree = np.bincount(train_items, minlength=n)
    leaked = np.bincount(all_items, minlength=n)
    with pytest.raises(exercises.ExerciseFeedback, match=message):
        exercises.check_log_popularity(make(degree, leaked), train_items, n, all_items=all_items)


# Notebook 02 ---------------------------------------------------------------------------------


@pytest.fixture
def path_graph():
    A = np.zeros((5, 5))
    for i in range(4):
        A[i, i + 1] = A[i + 1, i] = 1
    return A


def test_row_normalisation_right_and_typical_mistakes(path_graph):
    A = path_graph
    At = A + np.eye(5)
    P = At / At.sum(axis=1, keepdims=True)
    eig = np.sort(np.linalg.eigvals(P).real)
    assert exercises.check_row_normalisation(P, eig, A)
    with pytest.raises(exercises.ExerciseFeedback, match="self-loops"):
        exercises.check_row_normalisation(A / A.sum(axis=1, keepdims=True), eig, A)
    with pytest.raises(exercises.ExerciseFeedback, match="columns"):
        exercises.check_row_normalisation(At / At.sum(axis=0, keepdims=True), eig, A)
    with pytest.raises(exercises.ExerciseFeedback, match="increasing"):
        exercises.check_row_normalisation(P, eig[::-1], A)


def test_article_operator_check():
    import networkx as nx

    W = nx.to_numpy_array(nx.les_miserables_graph(), weight="weight")
    P = W / np.sqrt((W**2).sum(axis=1))[None, :]
    growth = np.linalg.norm(np.linalg.matrix_power(P, 20) @ np.ones(len(P))) / np.sqrt(len(P))
    asym = np.abs(P - P.T).max()
    assert exercises.check_article_operator(asym, growth, 0.0)
    with pytest.raises(exercises.ExerciseFeedback, match="regular"):
        exercises.check_article_operator(asym, growth, 0.1)
    with pytest.raises(exercises.ExerciseFeedback, match="twenty"):
        exercises.check_article_operator(asym, growth * 2, 0.0)


def test_deep_smoothing_check(path_graph):
    A = path_graph + np.eye(5)
    d = A.sum(axis=1)
    a_tilde = A / np.sqrt(np.outer(d, d))
    kernel = np.random.default_rng(0).normal(size=(5, 4))
    first = np.tanh(a_tilde @ kernel)
    first /= np.linalg.norm(first, axis=1, keepdims=True)
    cos = first @ first.T
    mean_cos = (cos.sum() - 5) / 20
    good = np.array([mean_cos, 0.9, 0.95])
    assert exercises.check_deep_smoothing(good, kernel, a_tilde, 3)
    with pytest.raises(exercises.ExerciseFeedback, match="first layer"):
        exercises.check_deep_smoothing(good[::-1], kernel, a_tilde, 3)
    with pytest.raises(exercises.ExerciseFeedback, match="one value per layer"):
        exercises.check_deep_smoothing(good[:2], kernel, a_tilde, 3)


# Notebook 04 ---------------------------------------------------------------------------------


def test_degree_features_check():
    import scipy.sparse as sp

    A = sp.csr_matrix(np.array([[0, 0, 1, 1], [0, 0, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0]], float))
    d = np.asarray(A.sum(axis=1)).ravel()
    user = np.array([1.0, 1.0, 0.0, 0.0])
    good = np.column_stack([np.log1p(d) / np.log1p(d).max(), user, 1 - user])
    assert exercises.check_degree_features(good, A, 2)
    unlogged = good.copy()
    unlogged[:, 0] = d / d.max()
    with pytest.raises(exercises.ExerciseFeedback, match="not logged"):
        exercises.check_degree_features(unlogged, A, 2)
    with pytest.raises(exercises.ExerciseFeedback, match="three columns"):
        exercises.check_degree_features(good[:, :2], A, 2)


def test_small_validation_check():
    train, valid, test = np.arange(5), np.arange(5, 10), np.arange(10, 20)
    assert exercises.check_small_validation((train, valid, test))
    with pytest.raises(exercises.ExerciseFeedback, match="valid_fraction"):
        exercises.check_small_validation((train, np.arange(5, 15), np.arange(15, 20)))
    with pytest.raises(exercises.ExerciseFeedback, match="overlaps"):
        exercises.check_small_validation((train, np.arange(4, 9), test))
