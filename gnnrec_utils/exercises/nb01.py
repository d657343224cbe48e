"""Exercise checks for notebook 01 (preprocessing)."""

from __future__ import annotations

from gnnrec_utils.constants import ITEM_COL, TIMESTAMP_COL, USER_COL
from gnnrec_utils.exercises._base import _fail, _ok
from gnnrec_utils.metrics import gini as _gini

from collections.abc import Callable

import numpy as np
import pandas as pd


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
    want_gini = _gini(counts.to_numpy())
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
        with_positive = counts.to_numpy()[counts.to_numpy() > 0]
        nonzero = _gini(with_positive) if with_positive.size else 0.0
        if np.isclose(gini, nonzero, rtol=1e-9):
            _fail(
                "1.1",
                "the Gini leaves out items with no positive",
                "reindex the popularity on every item id with fill_value=0",
            )
        _fail("1.1", f"gini {gini:.4f} is off", "pp.gini(popularity) with all items included")
    before = _gini(ratings[ITEM_COL].value_counts().to_numpy())
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
