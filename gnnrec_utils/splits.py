"""Train/validation/test splits of interaction tables, and their statistics.

Two protocols, both returning a :class:`Split` of three DataFrames with the input's columns:

- :func:`random_split` -- per-user random hold-out (the course's main protocol, as in the
  NGCF/LightGCN benchmarks): each user's interactions are shuffled and cut by ``fractions``.
- :func:`temporal_split` -- time-ordered hold-out: either one global cut-off in time for
  everybody (``scope="global"``, the default: nothing from the future leaks into training) or
  each user's own history cut in time (``scope="user"``).

Randomness comes in through ``seed=`` only (``np.random.default_rng(seed)``); no global state
is read or changed. Splits do not depend on the row order of the input.

Defined in notebook ``01_preprocessing`` (section 5).
"""

from __future__ import annotations

from gnnrec_utils.constants import DEFAULT_SEED, ITEM_COL, TIMESTAMP_COL, USER_COL

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

SPLIT_NAMES = ("train", "valid", "test")


class Split(NamedTuple):
    """Three disjoint interaction tables whose union is the input table."""

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,):
        raise ValueError(f"fractions must be (train, valid, test), got {tuple(fractions)!r}")
    if (f < 0).any() or f[0] <= 0:
        raise ValueError(f"fractions must be >= 0 with a positive train share, got {f.tolist()}")
    if abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {f.tolist()} (sum {f.sum():.6g})")
    return f


def _check_columns(interactions: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in interactions]
    if missing:
        raise KeyError(f"interactions lack column(s) {missing}")
    if interactions.duplicated(subset=[USER_COL, ITEM_COL]).any():
        raise ValueError("interactions contain duplicate (user, item) pairs; deduplicate first")


def split_sizes(n: np.ndarray, fractions: Sequence[float]) -> np.ndarray:
    r"""How many of each group's ``n`` rows go to train, valid and test.

    Cut points are rounded cumulative shares, so each count is within one of
    :math:`f_s n` and the three always add up to :math:`n`:

    .. math:: c_1 = \lfloor f_1 n + \tfrac12 \rfloor, \quad
              c_2 = \lfloor (f_1 + f_2) n + \tfrac12 \rfloor, \quad
              (n_\text{train}, n_\text{valid}, n_\text{test}) = (c_1,\, c_2 - c_1,\, n - c_2)

    Then every group with :math:`n \ge 1` keeps at least one training row: if :math:`c_1 = 0`
    the first row moves to train, taken from valid if it has one, else from test.

    Args:
        n: group sizes, shape ``(g,)``, non-negative integers.
        fractions: ``(train, valid, test)``, summing to 1.

    Returns:
        ``int64`` array of shape ``(g, 3)``.
    """
    f = _check_fractions(fractions)
    n = np.asarray(n, dtype=np.int64)
    cum = np.cumsum(f)
    # A tiny epsilon protects exact halves from float noise (0.7 * 5 = 3.4999999999999996).
    c1 = np.floor(cum[0] * n + 0.5 + 1e-9).astype(np.int64)
    c2 = np.floor(cum[1] * n + 0.5 + 1e-9).astype(np.int64)
    c1 = np.clip(c1, 0, n)
    c2 = np.clip(c2, c1, n)
    sizes = np.stack([c1, c2 - c1, n - c2], axis=1)
    short = (sizes[:, 0] == 0) & (n > 0)
    from_valid = short & (sizes[:, 1] > 0)
    from_test = short & ~from_valid
    sizes[from_valid, 1] -= 1
    sizes[from_test, 2] -= 1
    sizes[short, 0] = 1
    return sizes


def _cut_groups(ordered: pd.DataFrame, group: np.ndarray, fractions: Sequence[float]) -> Split:
    """Cut each group of consecutive rows of ``ordered`` (grouped by ``group``) by fractions."""
    _, start, counts = np.unique(group, return_index=True, return_counts=True)
    sizes = split_sizes(counts, fractions)
    rank = np.arange(len(ordered)) - np.repeat(start, counts)
    train_end = np.repeat(sizes[:, 0], counts)
    valid_end = train_end + np.repeat(sizes[:, 1], counts)
    part = np.where(rank < train_end, 0, np.where(rank < valid_end, 1, 2))
    return Split(*(_tidy(ordered.loc[part == k]) for k in range(3)))


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by (user, item) with a fresh RangeIndex: a canonical, file-stable order."""
    return frame.sort_values([USER_COL, ITEM_COL], kind="mergesort").reset_index(drop=True)


def random_split(
    interactions: pd.DataFrame,
    fractions: Sequence[float] = (0.7, 0.1, 0.2),
    seed: int = DEFAULT_SEED,
) -> Split:
    """Per-user random train/valid/test split.

    Each user's interactions are shuffled and cut by :func:`split_sizes`, so every user has
    about ``fractions`` of their rows in each part (within one row) and appears in train.

    Small users: a user with ``n`` rows gets ``round(f_train * n)`` training rows but never
    fewer than one; when rounding leaves train empty, one row moves there from valid (else
    test). A user with one interaction therefore has it in train only, and users with very few
    rows may have an empty valid or test part. (MovieLens-100K has >= 20 ratings per user, so
    this never triggers there.)

    Deterministic: the rows are first put in a canonical (user, item) order, then shuffled with
    ``np.random.default_rng(seed)``; the same input and seed always give the same split, in
    whatever row order the input comes.

    Args:
        interactions: columns ``user_id`` and ``item_id`` (+ any others, carried along); each
            (user, item) pair at most once.
        fractions: ``(train, valid, test)`` shares summing to 1; ``valid`` may be 0.
        seed: seed of the NumPy generator used for the shuffle.

    Returns:
        :class:`Split`; each part sorted by (user, item) with a fresh index.
    """
    _check_fractions(fractions)
    _check_columns(interactions, [USER_COL, ITEM_COL])
    canonical = interactions.sort_values([USER_COL, ITEM_COL], kind="mergesort")
    rng = np.random.default_rng(seed)
    shuffled = canonical.iloc[rng.permutation(len(canonical))]
    # A stable sort by user keeps the random order inside each user.
    ordered = shuffled.sort_values(USER_COL, kind="mergesort")
    return _cut_groups(ordered, ordered[USER_COL].to_numpy(), fractions)


def temporal_split(
    interactions: pd.DataFrame,
    fractions: Sequence[float] = (0.7, 0.1, 0.2),
    scope: str = "global",
    time_col: str = TIMESTAMP_COL,
) -> Split:
    """Time-ordered train/valid/test split.

    Rows are ordered by ``(timestamp, user_id, item_id)`` -- the ids break ties on equal
    timestamps deterministically -- and then cut:

    - ``scope="global"``: one ordering of all rows, cut at the ``fractions`` quantiles of rows.
      Every training row is no later than every validation row, and those no later than every
      test row: the model is trained on the past and evaluated on the future, as when it is
      deployed. Users who only appear after a cut-off have no training rows (cold-start users;
      see :func:`split_statistics`).
    - ``scope="user"``: each user's own history is cut (earliest rows to train, latest to
      test) with the same per-user rounding as :func:`random_split`; everybody keeps training
      rows, but one user's training rows may be later than another user's test rows.

    Args:
        interactions: columns ``user_id``, ``item_id`` and ``time_col``; pairs unique.
        fractions: ``(train, valid, test)`` shares summing to 1.
        scope: ``"global"`` or ``"user"``.
        time_col: the timestamp column.

    Returns:
        :class:`Split`; each part sorted by (user, item) with a fresh index.
    """
    _check_fractions(fractions)
    _check_columns(interactions, [USER_COL, ITEM_COL, time_col])
    if scope == "global":
        ordered = interactions.sort_values([time_col, USER_COL, ITEM_COL], kind="mergesort")
        return _cut_groups(ordered, np.zeros(len(ordered), dtype=np.int64), fractions)
    if scope == "user":
        ordered = interactions.sort_values([USER_COL, time_col, ITEM_COL], kind="mergesort")
        return _cut_groups(ordered, ordered[USER_COL].to_numpy(), fractions)
    raise ValueError(f"scope must be 'global' or 'user', got {scope!r}")


def verify_partition(interactions: pd.DataFrame, split: Split | Sequence[pd.DataFrame]) -> None:
    """Raise ``AssertionError`` unless the parts are disjoint and their union is ``interactions``.

    Rows are compared on (user, item), the key of an interaction, and the row counts must add
    up, so no row is lost, duplicated or invented.
    """
    parts = list(split)
    keys = [set(zip(p[USER_COL].to_numpy(), p[ITEM_COL].to_numpy(), strict=True)) for p in parts]
    for a in range(len(parts)):
        for b in range(a + 1, len(parts)):
            overlap = keys[a] & keys[b]
            assert not overlap, f"parts {a} and {b} share {len(overlap)} (user, item) pairs"
    total = sum(len(p) for p in parts)
    assert total == len(interactions), f"parts hold {total} rows, input has {len(interactions)}"
    union = set().union(*keys)
    source = set(
        zip(interactions[USER_COL].to_numpy(), interactions[ITEM_COL].to_numpy(), strict=True)
    )
    assert union == source, "the union of the parts differs from the input pairs"


def split_statistics(
    split: Split | Mapping[str, pd.DataFrame],
    n_users: int | None = None,
    n_items: int | None = None,
    time_col: str = TIMESTAMP_COL,
) -> pd.DataFrame:
    r"""One row of statistics per part of a split.

    Columns:

    - ``rows``, ``share`` (of all rows), ``users``, ``items`` (distinct ids in the part);
    - ``density`` :math:`= \text{rows} / (n_\text{users}\, n_\text{items})`, with the catalogue
      sizes (default: the ids seen in any part), so parts are comparable;
    - ``users_not_in_train``, ``items_not_in_train``: ids in this part without a training row
      (cold-start ids; 0 for train itself), and ``rows_cold_item``: rows of this part whose
      item has no training row -- no collaborative model can rank those items;
    - ``time_min``, ``time_max``: the part's timestamp range, when ``time_col`` exists.

    Args:
        split: a :class:`Split` or a mapping name -> DataFrame whose first entry is train.
        n_users, n_items: catalogue sizes for the density.

    Returns:
        DataFrame indexed by part name (``split``), in the given order.
    """
    parts = dict(split._asdict()) if isinstance(split, Split) else dict(split)
    if not parts:
        raise ValueError("no parts given")
    train = next(iter(parts.values()))
    all_rows = pd.concat(list(parts.values()), ignore_index=True)
    n_u = int(all_rows[USER_COL].nunique()) if n_users is None else int(n_users)
    n_i = int(all_rows[ITEM_COL].nunique()) if n_items is None else int(n_items)
    train_users = set(train[USER_COL].to_numpy())
    train_items = set(train[ITEM_COL].to_numpy())
    has_time = all(time_col in p for p in parts.values())
    rows = []
    for name, part in parts.items():
        users = set(part[USER_COL].to_numpy())
        items = set(part[ITEM_COL].to_numpy())
        row = {
            "split": name,
            "rows": len(part),
            "share": len(part) / max(len(all_rows), 1),
            "users": len(users),
            "items": len(items),
            "density": len(part) / (n_u * n_i) if n_u and n_i else float("nan"),
            "users_not_in_train": len(users - train_users),
            "items_not_in_train": len(items - train_items),
            "rows_cold_item": int((~part[ITEM_COL].isin(train_items)).sum()),
        }
        if has_time:
            row["time_min"] = int(part[time_col].min()) if len(part) else -1
            row["time_max"] = int(part[time_col].max()) if len(part) else -1
        rows.append(row)
    return pd.DataFrame(rows).set_index("split")
