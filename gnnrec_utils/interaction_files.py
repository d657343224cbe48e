r"""Reading and checking the three interaction files of a split (train, validation, test).

:func:`load_split_files` reads three interaction files (CSV/TSV with a header: ``user_id``,
``item_id``, optional ``rating`` and ``timestamp``; ids of any kind) with
:func:`gnnrec_utils.data.read_interactions`, maps ids to 0-based indices (sorted raw ids:
integers numerically, anything else as text, so MovieLens ids ``1 … n`` become ``0 … n-1`` as
in notebook 01) and checks the rules below, each violation raising :class:`InputError` with a
one-line message that names the problem and the fix. The command line
(:mod:`gnnrec_utils.cli`) turns that error into exit code 2.

Rules for the files:

- a missing ``user_id``/``item_id`` column, an empty file, a non-numeric rating or timestamp,
  a malformed line, an id that is a missing-value marker (``NaN``, ``NA``, ``null`` …): the
  reader's message;
- an id spelled differently in two files — ``13.0`` or ``013`` in the test file for ``13`` in
  the training file: an error (matching them as text would silently turn one item into two,
  and report wrong metrics). A whole column of ``13.0``-style ids is read as integers, so a
  file saved by pandas from a float column matches one with plain integers;
- a user in the validation or test file who is not in the training file: an error (a model
  trained on these files has no vector for that user, so any number reported for them would
  be made up);
- a (user, item) pair that occurs twice, within or across files: an error (a pair cannot be
  both a training and a test positive);
- fewer than K = 20 candidate items left for a user once their training and validation items
  are removed: an error (full ranking at K would be meaningless);
- items that appear only in the validation/test files are **kept** as candidates, with a
  warning: they are part of the catalogue (notebook 01's MovieLens split has 44 of them) and a
  recommender that cannot rank them is rightly penalised. The catalogue is the union of the
  items of the three files.

Robustness probes and the tests that cover them: ``docs/robustness.md``.

Taught in ``notebooks/03_mf_recommendation.ipynb``.
"""

from __future__ import annotations

from gnnrec_utils.constants import ITEM_COL, USER_COL

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["InputError", "load_split_files"]


class InputError(ValueError):
    """A problem with the user's arguments or files, reported as one line and exit code 2."""


def _sorted_ids(values: Iterable) -> list:
    ids = pd.unique(pd.Series(list(values)))
    try:
        return sorted(ids)
    except TypeError:  # mixed kinds (ints in one file, text in another): sort as text
        return sorted(ids, key=str)


def _show(value) -> str:
    """``repr`` of a raw id as the user wrote it (no ``np.int64(…)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _read(path: str, role: str) -> pd.DataFrame:
    from gnnrec_utils.data import DataFormatError, read_interactions

    if not Path(path).exists():
        raise InputError(f"{role} file {path!r} does not exist")
    if not Path(path).is_file():
        raise InputError(f"{role} file {path!r} is not a regular file")
    try:
        frame = read_interactions(path)
    except DataFormatError as error:
        raise InputError(" ".join(str(error).split())) from None
    except OSError as error:
        raise InputError(f"cannot read the {role} file {path!r} ({error.strerror})") from None
    return frame


def _as_text_ids(frames: dict[str, pd.DataFrame], col: str) -> None:
    """If a column holds ints in one file and text in another, make it text everywhere."""
    kinds = {pd.api.types.is_integer_dtype(f[col].dtype) for f in frames.values()}
    if len(kinds) > 1:
        for f in frames.values():
            f[col] = f[col].astype(str)


def _as_number(value) -> Decimal | None:
    """The number an id spells (``13``, ``"13.0"``, ``"013"``, ``"1.3e1"`` → 13), else None.

    Exact (``Decimal``), so long integer ids are never confused by float rounding.
    """
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _spelled_differently(unknown: Iterable, known: Iterable) -> tuple | None:
    """The first ``(id, known id)`` that differ as text but name the same number, or None.

    Catches ``"13.0"`` against ``13`` or ``"013"`` against ``"13"``: one file wrote its ids
    another way, and matching them as text would silently make new users or items.
    """
    if not len(unknown):
        return None
    by_number: dict[Decimal, object] = {}
    for value in known:
        number = _as_number(value)
        if number is not None:
            by_number.setdefault(number, value)
    for value in unknown:
        number = _as_number(value)
        if number is not None and number in by_number:
            return value, by_number[number]
    return None


def _spelling_error(role: str, col: str, clash: tuple) -> InputError:
    return InputError(
        f"{col} {_show(clash[0])} of the {role} file is spelled {_show(clash[1])} in the "
        f"training file; write the ids the same way in all three files"
    )


def load_split_files(
    train: str, valid: str, test: str, warn=print, ks: Iterable[int] = (10, 20)
) -> dict:
    """Read and check three interaction files; map raw ids to 0-based indices.

    **Output**: dict with ``"train"``, ``"valid"``, ``"test"`` (each ``(users, items)`` int64
    arrays), ``"n_users"``, ``"n_items"``, ``"user_ids"``, ``"item_ids"`` (raw ids by index).
    Raises :class:`InputError` for every rule in this module's docstring; ``warn`` receives
    the warning about items seen only in the validation/test files.
    """
    frames = {
        role: _read(path, role)
        for role, path in (("train", train), ("valid", valid), ("test", test))
    }
    for col in (USER_COL, ITEM_COL):
        _as_text_ids(frames, col)
    user_ids = _sorted_ids(frames["train"][USER_COL])
    user_index = {u: k for k, u in enumerate(user_ids)}
    for role in ("valid", "test"):
        unknown = pd.unique(frames[role][USER_COL][~frames[role][USER_COL].isin(user_index)])
        if len(unknown):
            clash = _spelled_differently(unknown, user_ids)
            if clash is not None:
                raise _spelling_error(role, USER_COL, clash)
            raise InputError(
                f"{len(unknown)} user(s) in the {role} file are not in the training file "
                f"(first: {_show(unknown[0])}); every {role} user needs training interactions"
            )
    train_items = pd.unique(frames["train"][ITEM_COL])
    for role in ("valid", "test"):
        only = pd.unique(frames[role][ITEM_COL][~frames[role][ITEM_COL].isin(train_items)])
        clash = _spelled_differently(only, train_items)
        if clash is not None:
            raise _spelling_error(role, ITEM_COL, clash)
    item_ids = _sorted_ids(pd.concat([f[ITEM_COL] for f in frames.values()]))
    item_index = {i: k for k, i in enumerate(item_ids)}
    out: dict = {"user_ids": user_ids, "item_ids": item_ids}
    out["n_users"], out["n_items"] = len(user_ids), len(item_ids)
    keys = []
    for role, frame in frames.items():
        u = frame[USER_COL].map(user_index).to_numpy(dtype=np.int64)
        i = frame[ITEM_COL].map(item_index).to_numpy(dtype=np.int64)
        out[role] = (u, i)
        keys.append(u * out["n_items"] + i)
    all_keys = np.concatenate(keys)
    uniq, counts = np.unique(all_keys, return_counts=True)
    if (counts > 1).any():
        k = int(uniq[np.argmax(counts > 1)])
        raise InputError(
            f"{int((counts > 1).sum())} (user, item) pair(s) occur more than once across the "
            f"files (first: user {_show(user_ids[k // out['n_items']])}, item "
            f"{_show(item_ids[k % out['n_items']])}); deduplicate them"
        )
    seen = np.bincount(out["train"][0], minlength=out["n_users"]) + np.bincount(
        out["valid"][0], minlength=out["n_users"]
    )
    short = out["n_items"] - seen < max(ks)
    if short.any():
        u = int(np.argmax(short))
        raise InputError(
            f"full ranking at K={max(ks)} needs at least {max(ks)} candidate items per user "
            f"after removing the user's training and validation items; user "
            f"{_show(user_ids[u])} has {out['n_items'] - int(seen[u])} of {out['n_items']}"
        )
    train_set = set(train_items)
    for role in ("valid", "test"):
        only = pd.unique(frames[role][ITEM_COL][~frames[role][ITEM_COL].isin(train_set)])
        if len(only):
            warn(
                f"warning: {len(only)} item(s) of the {role} file never occur in the training "
                f"file (first: {_show(only[0])}); they stay in the catalogue as candidates"
            )
    return out
