"""Unit tests of gnnrec_utils.splits on small synthetic interaction tables."""

from __future__ import annotations

from gnnrec_utils import splits

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.unit

FRACTIONS = (0.7, 0.1, 0.2)


def make_interactions(n_users: int = 30, n_items: int = 60, seed: int = 0) -> pd.DataFrame:
    """Users with 1 .. ~40 distinct items each, random timestamps with many ties."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        k = 1 + (u * 7) % 40
        for i in rng.choice(n_items, size=k, replace=False):
            rows.append((u + 1, int(i) + 1, int(rng.integers(1, 6)), int(rng.integers(0, 50))))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])


@pytest.fixture
def data() -> pd.DataFrame:
    return make_interactions()


def pairs(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["user_id"], frame["item_id"], strict=True))


# -- split_sizes --------------------------------------------------------------------------------


def test_split_sizes_rounding_and_small_groups():
    n = np.array([0, 1, 2, 3, 5, 10, 20, 21, 100])
    sizes = splits.split_sizes(n, FRACTIONS)
    assert (sizes.sum(axis=1) == n).all()
    assert (sizes >= 0).all()
    assert (sizes[n > 0, 0] >= 1).all()  # everybody keeps a training row
    assert sizes[1].tolist() == [1, 0, 0]
    assert sizes[5].tolist() == [7, 1, 2]
    assert sizes[6].tolist() == [14, 2, 4]
    big = n >= 5
    np.testing.assert_array_less(np.abs(sizes[big] - np.outer(n[big], FRACTIONS)), 1.0 + 1e-9)


@pytest.mark.parametrize("bad", [(0.7, 0.2), (0.5, 0.1, 0.1), (0.0, 0.5, 0.5), (1.1, -0.1, 0.0)])
def test_bad_fractions_are_refused(data, bad):
    with pytest.raises(ValueError):
        splits.random_split(data, bad, seed=0)


def test_duplicate_pairs_are_refused(data):
    with pytest.raises(ValueError, match="duplicate"):
        splits.random_split(pd.concat([data, data.iloc[:1]]), FRACTIONS, seed=0)


# -- random_split -------------------------------------------------------------------------------


def test_random_split_is_a_partition(data):
    parts = splits.random_split(data, FRACTIONS, seed=1)
    splits.verify_partition(data, parts)
    assert pairs(parts.train) | pairs(parts.valid) | pairs(parts.test) == pairs(data)
    assert list(parts.train.columns) == list(data.columns)
    merged = pd.concat(parts).sort_values(["user_id", "item_id"]).reset_index(drop=True)
    expected = data.sort_values(["user_id", "item_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, expected)  # other columns travel with their rows


def test_random_split_fractions_per_user(data):
    parts = splits.random_split(data, FRACTIONS, seed=1)
    counts = pd.DataFrame(
        {name: p.groupby("user_id").size() for name, p in parts._asdict().items()}
    )
    counts = counts.reindex(data["user_id"].unique()).fillna(0).astype(int)
    n = counts.sum(axis=1).to_numpy()
    expected = splits.split_sizes(n, FRACTIONS)
    np.testing.assert_array_equal(counts[["train", "valid", "test"]].to_numpy(), expected)
    assert (counts["train"] >= 1).all()
    big = n >= 5
    share = counts.to_numpy()[big] / n[big, None]
    assert (np.abs(share - np.array(FRACTIONS)) <= 1.0 / n[big, None] + 1e-9).all()


def test_random_split_determinism(data):
    a = splits.random_split(data, FRACTIONS, seed=7)
    b = splits.random_split(data, FRACTIONS, seed=7)
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
    c = splits.random_split(data, FRACTIONS, seed=8)
    assert pairs(a.test) != pairs(c.test)


def test_random_split_ignores_input_order(data):
    shuffled = data.sample(frac=1.0, random_state=3).reset_index(drop=True)
    a = splits.random_split(data, FRACTIONS, seed=5)
    b = splits.random_split(shuffled, FRACTIONS, seed=5)
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)


def test_random_split_leaves_global_numpy_state_alone(data):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    splits.random_split(data, FRACTIONS, seed=5)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_random_split_without_validation(data):
    parts = splits.random_split(data, (0.8, 0.0, 0.2), seed=0)
    assert len(parts.valid) == 0
    splits.verify_partition(data, parts)


# -- temporal_split -----------------------------------------------------------------------------


def test_temporal_global_respects_time(data):
    parts = splits.temporal_split(data, FRACTIONS, scope="global")
    splits.verify_partition(data, parts)
    assert parts.train["timestamp"].max() <= parts.valid["timestamp"].min()
    assert parts.valid["timestamp"].max() <= parts.test["timestamp"].min()
    assert [len(p) for p in parts] == splits.split_sizes(np.array([len(data)]), FRACTIONS)[
        0
    ].tolist()


def test_temporal_global_breaks_ties_by_ids():
    # ten interactions at the same instant: the cut follows (user, item) order
    frame = pd.DataFrame({"user_id": [2, 1] * 5, "item_id": range(10, 0, -1), "timestamp": 0})
    parts = splits.temporal_split(frame, (0.5, 0.0, 0.5))
    ordered = frame.sort_values(["user_id", "item_id"])
    assert pairs(parts.train) == pairs(ordered.iloc[:5])
    again = splits.temporal_split(frame.iloc[::-1], (0.5, 0.0, 0.5))
    pd.testing.assert_frame_equal(parts.train, again.train)


def test_temporal_user_scope_respects_each_users_time(data):
    parts = splits.temporal_split(data, FRACTIONS, scope="user")
    splits.verify_partition(data, parts)
    assert set(parts.train["user_id"]) == set(data["user_id"])
    last_train = parts.train.groupby("user_id")["timestamp"].max()
    for later in (parts.valid, parts.test):
        first = later.groupby("user_id")["timestamp"].min()
        assert (last_train.reindex(first.index) <= first).all()


def test_temporal_bad_scope(data):
    with pytest.raises(ValueError):
        splits.temporal_split(data, FRACTIONS, scope="item")


# -- verify_partition and statistics ------------------------------------------------------------


def test_verify_partition_catches_overlap_and_loss(data):
    parts = splits.random_split(data, FRACTIONS, seed=0)
    with pytest.raises(AssertionError, match="share"):
        splits.verify_partition(
            data, [parts.train, parts.valid, pd.concat([parts.test, parts.train.iloc[:1]])]
        )
    with pytest.raises(AssertionError):
        splits.verify_partition(data, [parts.train, parts.valid, parts.test.iloc[1:]])


def test_split_statistics():
    train = pd.DataFrame({"user_id": [1, 1, 2], "item_id": [1, 2, 1], "timestamp": [1, 2, 3]})
    valid = pd.DataFrame({"user_id": [2], "item_id": [3], "timestamp": [4]})
    test = pd.DataFrame({"user_id": [3, 1], "item_id": [3, 3], "timestamp": [5, 6]})
    stats = splits.split_statistics(splits.Split(train, valid, test), n_users=4, n_items=5)
    assert stats.index.tolist() == ["train", "valid", "test"]
    assert stats["rows"].tolist() == [3, 1, 2]
    assert stats["share"].sum() == pytest.approx(1.0)
    assert stats.loc["train", "density"] == pytest.approx(3 / 20)
    assert stats.loc["test", "users_not_in_train"] == 1  # user 3
    assert stats.loc["test", "items_not_in_train"] == 1  # item 3
    assert stats.loc["test", "rows_cold_item"] == 2
    assert stats.loc["train", ["users_not_in_train", "items_not_in_train"]].sum() == 0
    assert stats.loc["test", "time_min"] == 5 and stats.loc["test", "time_max"] == 6
    default = splits.split_statistics({"train": train, "test": test})
    assert default.loc["train", "density"] == pytest.approx(3 / (3 * 3))
