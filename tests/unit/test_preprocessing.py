"""Unit tests of gnnrec_utils.preprocessing on small synthetic tables."""

from __future__ import annotations

from gnnrec_utils import preprocessing as pp
from gnnrec_utils.constants import GENRES

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.unit


@pytest.fixture
def ratings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [10, 10, 10, 20, 20, 30],
            "item_id": [7, 8, 9, 7, 9, 7],
            "rating": [5, 3, 4, 1, 4, 2],
            "timestamp": [100, 101, 102, 103, 104, 105],
        }
    )


@pytest.fixture
def items() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "item_id": [9, 7, 8, 11],
            "title": ["C (1990)", "A (1980)", "unknown", "A (1980)"],
            "year": pd.array([1990, 1980, None, 2000], dtype="Int64"),
        }
    )
    for g in GENRES:
        frame[g] = np.int8(0)
    frame.loc[frame.item_id == 7, ["Action", "Comedy"]] = 1
    frame.loc[frame.item_id == 8, "unknown"] = 1
    return frame


@pytest.fixture
def users() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": [30, 10, 20],
            "age": [17, 18, 56],
            "gender": ["F", "M", "F"],
            "occupation": ["student", "writer", "none"],
            "zip_code": ["00001", "00002", "00003"],
        }
    )


# -- audit --------------------------------------------------------------------------------------


def test_duplicates_and_missing(ratings):
    assert pp.count_duplicates(ratings) == 0
    doubled = pd.concat([ratings, ratings.iloc[[0, 3]]], ignore_index=True)
    assert pp.count_duplicates(doubled) == 2
    holes = ratings.astype({"rating": "float64"})
    holes.loc[1, "rating"] = np.nan
    assert pp.missing_values(holes).to_dict() == {
        "user_id": 0,
        "item_id": 0,
        "rating": 1,
        "timestamp": 0,
    }


def test_density_formula(ratings):
    assert pp.density(6, 3, 3) == pytest.approx(6 / 9)
    assert pp.density(9, 3, 3) == 1.0
    with pytest.raises(ValueError):
        pp.density(1, 0, 3)
    audit = pp.audit_interactions(ratings)
    assert audit["rows"] == 6 and audit["users"] == 3 and audit["items"] == 3
    assert audit["density"] == pytest.approx(6 / 9)
    assert audit["sparsity"] == pytest.approx(3 / 9)
    assert pp.audit_interactions(ratings, n_users=6, n_items=3)["density"] == pytest.approx(6 / 18)


def test_rating_distribution(ratings):
    dist = pp.rating_distribution(ratings)
    assert dist.index.tolist() == [1, 2, 3, 4, 5]
    assert dist["count"].tolist() == [1, 1, 1, 2, 1]
    assert dist["share"].sum() == pytest.approx(1.0)


def test_popularity_sorted_with_ties_by_id(ratings):
    pop = pp.popularity(ratings)
    assert pop.index.tolist() == [7, 9, 8]
    assert pop.tolist() == [3, 2, 1]


def test_gini_limits_and_formula():
    assert pp.gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert pp.gini([0, 0, 0, 10]) == pytest.approx(3 / 4)  # (n-1)/n: all on one item
    assert pp.gini([0, 0, 0]) == 0.0
    x = np.array([1.0, 2.0, 7.0, 3.0, 0.0])
    pairwise = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean())
    assert pp.gini(x) == pytest.approx(pairwise)
    assert pp.gini(x) == pytest.approx(pp.gini(x[::-1] * 3))  # order and scale invariant
    with pytest.raises(ValueError):
        pp.gini([-1, 2])


def test_top_share_limits():
    assert pp.top_share([1] * 10, 0.2) == pytest.approx(0.2)
    assert pp.top_share([0] * 9 + [4], 0.2) == 1.0
    assert pp.top_share([5, 1, 1, 1, 1, 1], 0.2) == pytest.approx(6 / 10)  # ceil(1.2) = 2 items
    assert pp.top_share([3, 1], 1.0) == 1.0
    with pytest.raises(ValueError):
        pp.top_share([1, 2], 0.0)


def test_duplicate_titles(items):
    dups = pp.duplicate_titles(items)
    assert dups["item_id"].tolist() == [7, 11]


# -- implicit feedback ----------------------------------------------------------------------------


def test_to_implicit_keeps_everything_by_default(ratings):
    out = pp.to_implicit(ratings)
    pd.testing.assert_frame_equal(out, ratings)
    assert out is not ratings


def test_to_implicit_threshold(ratings):
    out = pp.to_implicit(ratings, threshold=4)
    assert out["rating"].tolist() == [5, 4, 4]
    assert out.index.tolist() == [0, 1, 2]
    assert len(pp.to_implicit(ratings, threshold=6)) == 0
    with pytest.raises(TypeError):
        pp.to_implicit(ratings, threshold="4")
    with pytest.raises(ValueError):
        pp.to_implicit(ratings, threshold=float("nan"))


# -- ids ------------------------------------------------------------------------------------------


def test_id_map_round_trip():
    m = pp.IdMap.from_ids([30, 10, 20, 10], "user_id")
    assert len(m) == 3 and m.ids.tolist() == [10, 20, 30]
    enc = m.encode([20, 30, 10])
    assert enc.dtype == np.int32 and enc.tolist() == [1, 2, 0]
    assert m.decode(enc).tolist() == [20, 30, 10]
    assert m.index_name == "user_idx"
    assert m.to_frame().columns.tolist() == ["user_idx", "user_id"]
    with pytest.raises(KeyError, match="not in the map"):
        m.encode([10, 15])
    with pytest.raises(KeyError):
        m.encode([99])
    with pytest.raises(IndexError):
        m.decode([3])


def test_build_id_maps_uses_catalogue(ratings, items, users):
    positives = pp.to_implicit(ratings, threshold=5)  # only item 7 survives
    user_map, item_map = pp.build_id_maps(positives, users, items)
    assert user_map.ids.tolist() == [10, 20, 30]
    assert item_map.ids.tolist() == [7, 8, 9, 11]  # catalogue, not just the survivors
    only_seen = pp.build_id_maps(positives)
    assert only_seen[1].ids.tolist() == [7]
    with pytest.raises(KeyError):
        pp.build_id_maps(ratings, users.iloc[:2], items)


def test_reindex_is_contiguous_zero_based(ratings):
    user_map, item_map = pp.build_id_maps(ratings)
    out = pp.reindex(ratings, user_map, item_map)
    assert out.columns[:2].tolist() == ["user_idx", "item_idx"]
    assert out["user_idx"].dtype == np.int32
    assert sorted(out["user_idx"].unique()) == [0, 1, 2]
    assert sorted(out["item_idx"].unique()) == [0, 1, 2]
    assert (user_map.decode(out["user_idx"]) == out["user_id"]).all()
    assert (item_map.decode(out["item_idx"]) == out["item_id"]).all()


# -- features ---------------------------------------------------------------------------------


def test_normalisers():
    x = np.array([2.0, 4.0, 6.0])
    assert pp.min_max(x).tolist() == [0.0, 0.5, 1.0]
    z = pp.z_score(x)
    assert z.dtype == np.float32
    assert z.mean() == pytest.approx(0.0, abs=1e-6) and z.std() == pytest.approx(1.0)
    assert pp.min_max(np.ones(3)).tolist() == [0.0, 0.0, 0.0]
    assert pp.z_score(np.ones(3)).tolist() == [0.0, 0.0, 0.0]


def test_item_features(items):
    item_map = pp.IdMap.from_ids(items["item_id"], "item_id")  # 7, 8, 9, 11
    feats = pp.item_features(items, item_map)
    assert feats.matrix.dtype == np.float32
    assert feats.matrix.shape == (4, len(GENRES) + 2) == (4, len(feats.names))
    genres = feats.matrix[:, : len(GENRES)]
    assert genres[0, GENRES.index("Action")] == 1 and genres[0, GENRES.index("Comedy")] == 1
    assert genres.sum() == 3
    # years 1980, missing, 1990, 2000 -> missing imputed by the median 1990, then min-max
    year = feats.matrix[:, feats.names.index("year_minmax")]
    np.testing.assert_allclose(year, [0.0, 0.5, 0.5, 1.0])
    assert feats.matrix[:, -1].tolist() == [0.0, 1.0, 0.0, 0.0]
    z = pp.release_year(items, item_map, method="zscore")
    assert z.names == ["year_zscore", "year_missing"]
    with pytest.raises(ValueError):
        pp.release_year(items, item_map, method="log")


def test_age_buckets_edges():
    ages = [0, 17, 18, 24, 25, 34, 35, 44, 45, 49, 50, 55, 56, 90]
    assert pp.age_bucket(ages).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    with pytest.raises(ValueError):
        pp.age_bucket([np.nan])


def test_user_features(users):
    user_map = pp.IdMap.from_ids(users["user_id"], "user_id")  # 10, 20, 30
    feats = pp.user_features(users, user_map)
    assert feats.matrix.shape == (3, 7 + 1 + 21) == (3, len(feats.names))
    assert feats.matrix.dtype == np.float32
    assert (feats.matrix[:, :7].sum(axis=1) == 1).all()  # exactly one age bucket
    assert (feats.matrix[:, 8:].sum(axis=1) == 1).all()  # exactly one occupation
    row = dict(zip(feats.names, feats.matrix[2], strict=True))  # user 30: 17, F, student
    assert row["age=<18"] == 1 and row["gender=F"] == 1 and row["occupation=student"] == 1
    assert feats.matrix[0, feats.names.index("gender=F")] == 0  # user 10 is M
    bad = users.assign(occupation=["student", "astronaut", "none"])
    with pytest.raises(ValueError, match="astronaut"):
        pp.user_features(bad, user_map)


def test_features_need_every_id(users):
    user_map = pp.IdMap.from_ids([10, 20, 30, 40], "user_id")
    with pytest.raises(KeyError):
        pp.user_features(users, user_map)
