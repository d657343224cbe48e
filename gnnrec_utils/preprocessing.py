"""Data preprocessing: audit, implicit feedback, id re-indexing and side features.

The article behind the course lists three preprocessing steps -- cleaning (数据清洗),
normalisation (数据归一化) and feature extraction (特征提取). This module holds the code for
all three as small pure functions on pandas/numpy data; notebook ``01_preprocessing`` teaches
them on MovieLens-100K. Nothing here touches files, random state or TensorFlow.

Conventions: raw ids (``user_id``, ``item_id``) are whatever the source uses (1-based in
MovieLens); model code works with contiguous 0-based indices (``user_idx``, ``item_idx``),
produced by :class:`IdMap`. Feature matrices are ``float32`` with row ``k`` describing index
``k`` and come with their column names (:class:`Features`).

Defined in notebook ``01_preprocessing`` (sections 2-4).
"""

from __future__ import annotations

from gnnrec_utils.constants import GENRES, ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL
from gnnrec_utils.metrics import gini  # noqa: F401  (re-exported: one Gini for popularity and exposure)

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

# Names of the 0-based index columns that :func:`reindex` adds next to the raw ids.
USER_IDX = "user_idx"
ITEM_IDX = "item_idx"

# MovieLens-1M's age groups (its README), as half-open intervals [low, high) in years.
AGE_BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("<18", 0, 18),
    ("18-24", 18, 25),
    ("25-34", 25, 35),
    ("35-44", 35, 45),
    ("45-49", 45, 50),
    ("50-55", 50, 56),
    ("56+", 56, math.inf),
)

# The 21 occupations of MovieLens-100K (GroupLens's u.occupation), in its (alphabetical) order.
OCCUPATIONS: tuple[str, ...] = (
    "administrator",
    "artist",
    "doctor",
    "educator",
    "engineer",
    "entertainment",
    "executive",
    "healthcare",
    "homemaker",
    "lawyer",
    "librarian",
    "marketing",
    "none",
    "other",
    "programmer",
    "retired",
    "salesman",
    "scientist",
    "student",
    "technician",
    "writer",
)

GENDERS: tuple[str, ...] = ("F", "M")


def _as_array(values: Iterable) -> np.ndarray:
    """``np.asarray`` that also accepts generators and pandas objects."""
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy()
    if not hasattr(values, "__len__"):
        values = list(values)
    return np.asarray(values)


# --------------------------------------------------------------------------------------------
# Audit (数据清洗: what is there to clean?)
# --------------------------------------------------------------------------------------------


def count_duplicates(interactions: pd.DataFrame, keys: Sequence[str] = (USER_COL, ITEM_COL)) -> int:
    """Number of rows that repeat an earlier row's ``keys`` (0 means every pair is unique).

    Args:
        interactions: a table with the ``keys`` columns.
        keys: the columns that identify one interaction; by default a (user, item) pair.

    Returns:
        ``len(interactions) - number of distinct key tuples``.
    """
    return int(interactions.duplicated(subset=list(keys)).sum())


def missing_values(table: pd.DataFrame) -> pd.Series:
    """Count of missing cells (``NaN``/``None``/``pd.NA``) per column, as an int64 Series."""
    return table.isna().sum().astype("int64")


def density(n_interactions: int, n_users: int, n_items: int) -> float:
    r"""Share of the user-item matrix that is observed.

    .. math:: \rho = \frac{|R|}{|U|\,|I|}, \qquad \text{sparsity} = 1 - \rho

    Args:
        n_interactions: :math:`|R|`, the number of distinct observed (user, item) pairs.
        n_users: :math:`|U|`.
        n_items: :math:`|I|`.

    Returns:
        :math:`\rho \in [0, 1]` when the interactions are distinct pairs.
    """
    if n_users <= 0 or n_items <= 0:
        raise ValueError(f"n_users and n_items must be positive, got {n_users} and {n_items}")
    return float(n_interactions) / (float(n_users) * float(n_items))


def rating_distribution(ratings: pd.DataFrame, col: str = RATING_COL) -> pd.DataFrame:
    """Counts and shares of each rating value, sorted by value.

    Returns:
        A DataFrame indexed by rating value with columns ``count`` (int64) and ``share``
        (float64, summing to 1).
    """
    counts = ratings[col].value_counts().sort_index()
    out = pd.DataFrame({"count": counts.astype("int64")})
    out["share"] = out["count"] / out["count"].sum()
    out.index.name = col
    return out


def popularity(interactions: pd.DataFrame, col: str = ITEM_COL) -> pd.Series:
    """Number of interactions per id in ``col``, most popular first (ties by id).

    Ids that never occur are absent; pass the catalogue through :meth:`pandas.Series.reindex`
    with ``fill_value=0`` if you need them.
    """
    counts = interactions[col].value_counts()
    frame = counts.rename("count").rename_axis(col).reset_index()
    frame = frame.sort_values(["count", col], ascending=[False, True], kind="mergesort")
    return frame.set_index(col)["count"].astype("int64")


def top_share(counts: Iterable[float], top_fraction: float = 0.2) -> float:
    r"""Share of all interactions that fall on the most popular ``top_fraction`` of items.

    With :math:`n` items and counts sorted in decreasing order :math:`c_{(1)} \ge c_{(2)} \ge
    \dots`, and :math:`k = \lceil f n \rceil`:

    .. math:: \text{share}_f = \frac{\sum_{j=1}^{k} c_{(j)}}{\sum_{j=1}^{n} c_{(j)}}

    Equal popularity gives about ``top_fraction``; everything on one item gives 1.

    Args:
        counts: one non-negative count per item (include zero-count items to measure the
            whole catalogue).
        top_fraction: :math:`f \in (0, 1]`.
    """
    x = np.sort(_as_array(counts).astype(np.float64).ravel())[::-1]
    if not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction}")
    if x.size == 0 or x.sum() == 0:
        raise ValueError("counts must contain at least one positive value")
    k = math.ceil(top_fraction * x.size - 1e-9)
    return float(x[:k].sum() / x.sum())


def duplicate_titles(items: pd.DataFrame, title_col: str = "title") -> pd.DataFrame:
    """Items whose title occurs more than once, sorted by title then id.

    MovieLens-100K lists some films under two ids (each with its own ratings); they are two
    items for a recommender unless merged on purpose.
    """
    mask = items[title_col].duplicated(keep=False)
    return items.loc[mask].sort_values([title_col, ITEM_COL], kind="mergesort")


def audit_interactions(
    ratings: pd.DataFrame,
    n_users: int | None = None,
    n_items: int | None = None,
) -> dict[str, float | int]:
    """Headline statistics of an interaction table, as plain Python numbers.

    Args:
        ratings: columns ``user_id``, ``item_id`` and optionally ``rating``, ``timestamp``.
        n_users, n_items: catalogue sizes for the density; default: ids seen in ``ratings``.

    Returns:
        ``rows``, ``users``, ``items`` (distinct ids seen), ``duplicates``, ``missing_cells``,
        ``density``, ``sparsity``, per-user and per-item min/median/max counts and, if present,
        rating min/max/mean and the timestamp range.
    """
    users_seen = int(ratings[USER_COL].nunique())
    items_seen = int(ratings[ITEM_COL].nunique())
    n_u = users_seen if n_users is None else int(n_users)
    n_i = items_seen if n_items is None else int(n_items)
    dups = count_duplicates(ratings)
    rho = density(len(ratings) - dups, n_u, n_i)
    per_user = ratings.groupby(USER_COL).size()
    per_item = ratings.groupby(ITEM_COL).size()
    out: dict[str, float | int] = {
        "rows": int(len(ratings)),
        "users": users_seen,
        "items": items_seen,
        "duplicates": dups,
        "missing_cells": int(missing_values(ratings).sum()),
        "density": rho,
        "sparsity": 1.0 - rho,
        "user_count_min": int(per_user.min()),
        "user_count_median": float(per_user.median()),
        "user_count_max": int(per_user.max()),
        "item_count_min": int(per_item.min()),
        "item_count_median": float(per_item.median()),
        "item_count_max": int(per_item.max()),
    }
    if RATING_COL in ratings:
        out["rating_min"] = float(ratings[RATING_COL].min())
        out["rating_max"] = float(ratings[RATING_COL].max())
        out["rating_mean"] = float(ratings[RATING_COL].mean())
    if TIMESTAMP_COL in ratings:
        out["timestamp_min"] = int(ratings[TIMESTAMP_COL].min())
        out["timestamp_max"] = int(ratings[TIMESTAMP_COL].max())
    return out


# --------------------------------------------------------------------------------------------
# Implicit feedback
# --------------------------------------------------------------------------------------------


def to_implicit(ratings: pd.DataFrame, threshold: float | None = None) -> pd.DataFrame:
    r"""Turn explicit ratings into implicit positive interactions.

    .. math:: \mathcal{R}^{+} = \{(u, i) : r_{ui} \text{ observed}\} \;\;
        (\text{threshold} = \text{None}), \qquad
        \mathcal{R}^{+}_{\tau} = \{(u, i) : r_{ui} \ge \tau\}

    The course protocol uses ``threshold=None``: *every* rating is a positive ("the user chose
    to watch and rate it"), as in the LightGCN/NGCF benchmarks on MovieLens. Unobserved pairs
    are unlabelled, not negative; samplers draw negatives from them later.

    Args:
        ratings: columns ``user_id``, ``item_id``, ``rating`` (+ any others, kept).
        threshold: ``None`` keeps every row; a number keeps rows with ``rating >= threshold``.

    Returns:
        A new DataFrame with the kept rows in their original order and a fresh RangeIndex.
    """
    if threshold is None:
        kept = ratings
    else:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
            raise TypeError(f"threshold must be a number or None, got {threshold!r}")
        if not np.isfinite(threshold):
            raise ValueError(f"threshold must be finite, got {threshold}")
        kept = ratings.loc[ratings[RATING_COL] >= threshold]
    return kept.reset_index(drop=True).copy()


# --------------------------------------------------------------------------------------------
# Id re-indexing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IdMap:
    """A bijection between raw ids and contiguous 0-based indices ``0 .. n-1``.

    ``ids[k]`` is the raw id of index ``k``; ids are kept sorted, so for MovieLens (ids
    ``1..n``) index ``k`` is id ``k + 1``.

    Attributes:
        ids: sorted unique raw ids, shape ``(n,)``.
        name: the raw id column this map belongs to (``user_id`` or ``item_id``).
    """

    ids: np.ndarray
    name: str = "id"

    @classmethod
    def from_ids(cls, ids: Iterable, name: str = "id") -> IdMap:
        """Build the map from any iterable of raw ids (duplicates are fine)."""
        arr = np.unique(_as_array(ids))
        if arr.dtype == object:
            raise TypeError("ids must be numbers or strings of one type, not mixed objects")
        return cls(ids=arr, name=name)

    def __len__(self) -> int:
        return int(self.ids.size)

    @property
    def index_name(self) -> str:
        """Column name of the 0-based index (``user_idx`` for ``user_id``)."""
        return self.name[:-3] + "_idx" if self.name.endswith("_id") else self.name + "_idx"

    def encode(self, raw: Iterable) -> np.ndarray:
        """Raw ids -> ``int32`` indices; raises ``KeyError`` naming ids that are not in the map."""
        values = np.asarray(raw)
        if values.size == 0:
            return np.zeros(values.shape, dtype=np.int32)
        pos = np.searchsorted(self.ids, values)
        pos_clipped = np.minimum(pos, len(self) - 1)
        bad = self.ids[pos_clipped] != values
        if bad.any():
            unknown = pd.unique(values[bad].ravel())[:5].tolist()
            raise KeyError(f"{int(bad.sum())} {self.name} value(s) not in the map, e.g. {unknown}")
        return pos.astype(np.int32)

    def decode(self, idx: Iterable[int]) -> np.ndarray:
        """0-based indices -> raw ids."""
        idx = np.asarray(idx)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"{self.index_name} out of range 0..{len(self) - 1}")
        return self.ids[idx]

    def to_frame(self) -> pd.DataFrame:
        """The map as a two-column table (``<name>_idx``, ``<name>``), one row per index."""
        return pd.DataFrame(
            {self.index_name: np.arange(len(self), dtype=np.int32), self.name: self.ids}
        )


def build_id_maps(
    interactions: pd.DataFrame,
    users: pd.DataFrame | None = None,
    items: pd.DataFrame | None = None,
) -> tuple[IdMap, IdMap]:
    """User and item maps over the catalogue (``users``/``items`` tables) or the interactions.

    Using the catalogue keeps indices stable when a filter (e.g. an implicit threshold) drops
    every interaction of some item: the item keeps its index and simply has degree 0.

    Raises:
        KeyError: when an interaction refers to an id missing from the given catalogue.
    """
    user_map = IdMap.from_ids(
        (users if users is not None else interactions)[USER_COL].to_numpy(), USER_COL
    )
    item_map = IdMap.from_ids(
        (items if items is not None else interactions)[ITEM_COL].to_numpy(), ITEM_COL
    )
    user_map.encode(interactions[USER_COL].to_numpy())  # raises on unknown ids
    item_map.encode(interactions[ITEM_COL].to_numpy())
    return user_map, item_map


def reindex(interactions: pd.DataFrame, user_map: IdMap, item_map: IdMap) -> pd.DataFrame:
    """Prepend ``user_idx``/``item_idx`` (``int32``, 0-based) columns; the raw ids are kept."""
    out = interactions.copy()
    out.insert(0, ITEM_IDX, item_map.encode(out[ITEM_COL].to_numpy()))
    out.insert(0, USER_IDX, user_map.encode(out[USER_COL].to_numpy()))
    return out


# --------------------------------------------------------------------------------------------
# Features (数据归一化, 特征提取)
# --------------------------------------------------------------------------------------------


class Features(NamedTuple):
    """A ``float32`` feature matrix (row ``k`` = index ``k``) and its column names."""

    matrix: np.ndarray
    names: list[str]


def _aligned(table: pd.DataFrame, id_map: IdMap) -> pd.DataFrame:
    """Rows of ``table`` in the order of ``id_map`` (every id exactly once)."""
    col = id_map.name
    if table[col].duplicated().any():
        raise ValueError(f"{col} is not unique in the table")
    indexed = table.set_index(col)
    missing = np.setdiff1d(id_map.ids, indexed.index.to_numpy())
    if missing.size:
        raise KeyError(
            f"{missing.size} {col} value(s) of the map have no row, e.g. {missing[:5].tolist()}"
        )
    return indexed.loc[id_map.ids].reset_index()


def min_max(x: np.ndarray) -> np.ndarray:
    r"""Min-max scaling to :math:`[0, 1]`: :math:`x' = (x - \min x) / (\max x - \min x)`.

    A constant input maps to zeros. Returns ``float32`` of the input's shape.
    """
    x = np.asarray(x, dtype=np.float64)
    lo, hi = x.min(), x.max()
    span = hi - lo
    return ((x - lo) / span if span > 0 else np.zeros_like(x)).astype(np.float32)


def z_score(x: np.ndarray) -> np.ndarray:
    r"""Standardisation: :math:`x' = (x - \bar x) / \sigma_x` (population :math:`\sigma`).

    A constant input maps to zeros. Returns ``float32`` of the input's shape.
    """
    x = np.asarray(x, dtype=np.float64)
    sd = x.std()
    return ((x - x.mean()) / sd if sd > 0 else np.zeros_like(x)).astype(np.float32)


def genre_multi_hot(items: pd.DataFrame, item_map: IdMap) -> Features:
    """The 19 genre flags as a multi-hot matrix, shape ``(n_items, 19)``, names ``genre=<g>``."""
    table = _aligned(items, item_map)
    matrix = table[list(GENRES)].to_numpy(dtype=np.float32)
    if not np.isin(matrix, (0.0, 1.0)).all():
        raise ValueError("genre columns must hold 0/1 flags")
    return Features(matrix, [f"genre={g}" for g in GENRES])


def release_year(
    items: pd.DataFrame, item_map: IdMap, method: str = "minmax", year_col: str = "year"
) -> Features:
    r"""Normalised release year plus a flag for years that were missing and imputed.

    Missing years are imputed with the median of the known years *before* scaling, and
    ``year_missing`` = 1 marks them so a model can tell imputed from real values.

    Args:
        items: the item table with an ``item_id`` and a (nullable) year column.
        item_map: fixes the row order.
        method: ``"minmax"`` (:func:`min_max`, to :math:`[0, 1]`) or ``"zscore"`` (:func:`z_score`).

    Returns:
        Features of shape ``(n_items, 2)``: ``year_<method>`` and ``year_missing``.
    """
    scalers = {"minmax": min_max, "zscore": z_score}
    if method not in scalers:
        raise ValueError(f"method must be one of {sorted(scalers)}, got {method!r}")
    table = _aligned(items, item_map)
    years = pd.to_numeric(table[year_col], errors="coerce").astype("Float64")
    missing = years.isna().to_numpy()
    if missing.all():
        raise ValueError("every year is missing; nothing to impute from")
    filled = years.fillna(float(years.dropna().median())).to_numpy(dtype=np.float64)
    matrix = np.column_stack([scalers[method](filled), missing.astype(np.float32)])
    return Features(matrix.astype(np.float32), [f"year_{method}", "year_missing"])


def item_features(items: pd.DataFrame, item_map: IdMap, year_method: str = "minmax") -> Features:
    """Genre multi-hot (19) + normalised year (1) + year-missing flag (1): ``(n_items, 21)``."""
    parts = [genre_multi_hot(items, item_map), release_year(items, item_map, year_method)]
    return Features(
        np.hstack([p.matrix for p in parts]).astype(np.float32), [n for p in parts for n in p.names]
    )


def age_bucket(ages: Iterable[float]) -> np.ndarray:
    """Index into :data:`AGE_BUCKETS` (``int64``) for each age; raises on missing/negative ages."""
    a = np.asarray(ages, dtype=np.float64)
    if np.isnan(a).any() or (a < 0).any():
        raise ValueError("ages must be non-negative numbers without missing values")
    edges = np.array([low for _, low, _ in AGE_BUCKETS[1:]], dtype=np.float64)
    return np.searchsorted(edges, a, side="right").astype(np.int64)


def _one_hot(codes: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((codes.size, n), dtype=np.float32)
    out[np.arange(codes.size), codes] = 1.0
    return out


def user_features(users: pd.DataFrame, user_map: IdMap) -> Features:
    """Age bucket one-hot (7) + ``gender=F`` (1) + occupation one-hot (21): ``(n_users, 29)``.

    Age buckets are MovieLens-1M's (:data:`AGE_BUCKETS`); occupations follow
    :data:`OCCUPATIONS` so the columns never depend on which users are present.

    Raises:
        ValueError: on a gender outside ``{"F", "M"}`` or an occupation outside the list.
    """
    table = _aligned(users, user_map)
    age = _one_hot(age_bucket(table["age"].to_numpy()), len(AGE_BUCKETS))
    gender = table["gender"].astype(str)
    bad_gender = sorted(set(gender) - set(GENDERS))
    if bad_gender:
        raise ValueError(f"unexpected gender value(s) {bad_gender}; expected {GENDERS}")
    is_female = (gender.to_numpy() == "F").astype(np.float32)[:, None]
    occupation = table["occupation"].astype(str).str.strip().str.lower()
    bad_occ = sorted(set(occupation) - set(OCCUPATIONS))
    if bad_occ:
        raise ValueError(f"unexpected occupation(s) {bad_occ}; expected one of {OCCUPATIONS}")
    occ_codes = occupation.map({o: k for k, o in enumerate(OCCUPATIONS)}).to_numpy(np.int64)
    matrix = np.hstack([age, is_female, _one_hot(occ_codes, len(OCCUPATIONS))])
    names = (
        [f"age={label}" for label, _, _ in AGE_BUCKETS]
        + ["gender=F"]
        + [f"occupation={o}" for o in OCCUPATIONS]
    )
    return Features(matrix.astype(np.float32), names)
