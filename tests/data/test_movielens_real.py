"""The real MovieLens-100K, through the verified cache (fetched into data/ on first use).

Run with ``pytest -m data``. The first run downloads an archive (GroupLens, else the RecBole
wheel from PyPI); later runs read ``data/ml-100k`` and take about a second.
"""

from __future__ import annotations

from gnnrec_utils import data
from gnnrec_utils.constants import GENRES, ML100K_N_ITEMS, ML100K_N_RATINGS, ML100K_N_USERS

import json
import shutil
import time

import numpy as np
import pytest

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def ml():
    return data.load_movielens(verbose=False)


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_counts(ml):
    assert ml.ratings.shape == (ML100K_N_RATINGS, 4) == (100_000, 4)
    assert ml.items.shape == (ML100K_N_ITEMS, 3 + len(GENRES)) == (1682, 22)
    assert ml.users.shape == (ML100K_N_USERS, 5) == (943, 5)
    assert ml.ratings["user_id"].nunique() == 943
    assert ml.ratings["item_id"].nunique() == 1682


def test_ids_are_contiguous_from_one(ml):
    assert np.array_equal(np.unique(ml.ratings["user_id"]), np.arange(1, 944))
    assert np.array_equal(np.unique(ml.ratings["item_id"]), np.arange(1, 1683))
    assert np.array_equal(ml.users["user_id"].to_numpy(), np.arange(1, 944))
    assert np.array_equal(ml.items["item_id"].to_numpy(), np.arange(1, 1683))


def test_no_duplicate_pairs_and_ratings_in_range(ml):
    assert not ml.ratings.duplicated(["user_id", "item_id"]).any()
    assert set(ml.ratings["rating"].unique()) == {1, 2, 3, 4, 5}


def test_canonical_form(ml):
    assert ml.ratings.columns.tolist() == ["user_id", "item_id", "rating", "timestamp"]
    assert (ml.ratings.dtypes == np.int64).all()
    assert ml.ratings.equals(ml.ratings.sort_values(["user_id", "item_id"], ignore_index=True))
    assert ml.items.columns.tolist()[3:] == list(GENRES) and len(GENRES) == 19
    assert (ml.items[list(GENRES)].dtypes == np.int8).all()
    assert str(ml.items["year"].dtype) == "Int64"
    assert ml.users.columns.tolist() == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert set(ml.users["gender"]) == {"M", "F"}


def test_content_hash_matches_the_pin(ml):
    assert ml.content_hash == data.ML100K_CONTENT_SHA256
    assert data.content_hash(ml.ratings, ml.items, ml.users) == data.ML100K_CONTENT_SHA256


def test_every_item_has_a_genre(ml):
    assert (ml.items[list(GENRES)].sum(axis=1) >= 1).all()


def test_known_rows(ml):
    items = ml.items.set_index("item_id")
    assert items.loc[1, "title"] == "Toy Story (1995)" and items.loc[1, "year"] == 1995
    assert items.loc[267, "title"] == "unknown" and items.loc[267, "unknown"] == 1
    assert items["year"].isna().sum() == 1  # only item 267 has no year
    assert items.loc[1412, "title"].endswith("Giving (1995) (V)")
    assert items.loc[1412, "year"] == 1995
    assert items.loc[1623, "title"] == "Cérémonie, La (1995)"
    zips = ml.users.set_index("user_id")["zip_code"]
    assert zips.loc[9] == "01002" and zips.loc[74] == "T8H1N"


def test_fetching_twice_gives_byte_identical_files(tmp_path):
    cache = data.fetch_movielens(verbose=False)
    first = snapshot(cache)
    assert data.fetch_movielens(verbose=False) == cache
    assert snapshot(cache) == first
    # rebuilding from the raw archive alone gives the same bytes again
    record = json.loads((cache / "SOURCE.json").read_text())
    (tmp_path / "raw").mkdir()
    shutil.copy(cache.parent / record["archive"], tmp_path / record["archive"])
    rebuilt = data.fetch_movielens(tmp_path, verbose=False)
    assert snapshot(rebuilt) == first


def test_warm_load_is_fast():
    data.load_movielens(verbose=False)
    start = time.perf_counter()
    data.load_movielens(verbose=False)
    assert time.perf_counter() - start < 2.0  # measured ~0.1 s; generous for slow CI machines
