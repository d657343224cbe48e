"""MovieLens-100K, fetched, checksum-verified and cached; plus a reader for your own ratings files.

The course uses one dataset, MovieLens-100K (GroupLens, 1998): 100,000 ratings (1–5 stars) by
943 users of 1,682 movies, with movie titles and genres and user demographics. GroupLens's
licence forbids redistributing it, so the repository never contains it: the first call of
:func:`load_movielens` (or ``make data``, which runs ``python -m gnnrec_utils.data``) fetches it
into the git-ignored cache ``data/`` and every later call reads the verified cache.

Sources are tried in order, each pinned by a checksum (the registry pattern of d2l's
``DATA_HUB``), see :data:`SOURCES`:

1. the local cache ``data/`` (canonical tables, then an already downloaded archive);
2. GroupLens's own archive ``ml-100k.zip`` (SHA-1 pinned);
3. the copy shipped inside the PyPI wheel ``recbole==1.2.1`` (SHA-256 pinned), downloaded with
   ``pip download`` and read as a zip — never installed.

Both archives are parsed into the same *canonical tables* (see :func:`content_hash` for their
exact form), and those must hash to one pinned value, :data:`ML100K_CONTENT_SHA256`, whichever
source they came from. Cache layout (also in ``data/README.md``)::

    data/raw/ml-100k.zip                        GroupLens archive, or
    data/raw/recbole-1.2.1-py3-none-any.whl     the RecBole wheel (whichever source succeeded)
    data/ml-100k/ratings.tsv                    canonical tables, tab-separated, UTF-8
    data/ml-100k/items.tsv
    data/ml-100k/users.tsv
    data/ml-100k/SOURCE.json                    source, archive checksum, content hash, file hashes

Every file is written to a temporary file in the same folder and renamed into place
(``os.replace``) only once it has been verified, so an interrupted or failed fetch leaves
nothing half-written and never removes a good cache. Temporaries carry the id of the process
that made them (``.<file>.<pid>.<random>.part``, ``.pip-download-<pid>-<random>/``); a load
that was killed cannot remove its own, so every load first removes those whose process is gone
(or older than :data:`STALE_AFTER_S`), leaving a concurrent load's alone.

Tables that verify (per-file sha256 and the pinned content hash) are served as they are, with
no network at all, even if the raw archive is missing or altered (an altered one is reported
and replaced only when the tables need a rebuild). A cache folder that cannot be used — a
folder where a cache file belongs, a file that cannot be read, a folder that cannot be
written when a rebuild is needed — is a :class:`DataUnavailableError` naming the path and the
fix (``GNNREC_DATA_DIR`` points the cache elsewhere). Probes and tests: ``docs/robustness.md``.

This module needs only numpy/pandas and the standard library (no TensorFlow).
Taught in ``notebooks/01_preprocessing.ipynb``.
"""

from __future__ import annotations

from gnnrec_utils.artefacts import file_digest
from gnnrec_utils.constants import GENRES, ITEM_COL, RATING_COL, TIMESTAMP_COL, USER_COL
from gnnrec_utils.paths import data_dir as _resolve_data_dir

import argparse
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import pandas as pd

__all__ = [
    "DataFormatError",
    "DataUnavailableError",
    "DataCacheWarning",
    "MovieLens100K",
    "Source",
    "SOURCES",
    "ML100K_CONTENT_SHA256",
    "load_movielens",
    "fetch_movielens",
    "content_hash",
    "read_interactions",
    "read_grouplens_zip",
    "read_recbole_wheel",
    "main",
]

# sha256 of the canonical tables (see `content_hash`). Obtained by parsing the PyPI wheel
# recbole==1.2.1 (sha256 9c994820…a407, the only source reachable when this was written) with
# `read_recbole_wheel` and calling `content_hash` on the result. The GroupLens parser gives the
# same tables on a synthetic copy with every known quirk (tests/unit/test_data.py), but has not
# yet been run on the real ml-100k.zip: should it ever disagree, that source fails with a
# content-hash mismatch and loading falls through to the next one.
ML100K_CONTENT_SHA256 = "5646b00f2b486231cadffcb693cd99ce9381d3fcebcf6cef18a04cc6da2047be"

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
GROUPLENS_SHA1 = "cd4dcac4241c8a4ad7badc7ca635da8a69dddb83"  # as in d2l's DATA_HUB
RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"  # measured

DOWNLOAD_TIMEOUT_S = 20  # GroupLens: fail fast when offline
PIP_TIMEOUT_S = 600

CACHE_SUBDIR = "ml-100k"
RAW_SUBDIR = "raw"
SOURCE_FILE = "SOURCE.json"
TABLE_NAMES = ("ratings", "items", "users")

_MAX_MEMBER_BYTES = 64 * 2**20  # guard against zip bombs: the largest real member is 2 MB

# Canonical schema: (column, kind). Kinds: "int" int64, "year" nullable Int64, "flag" int8 0/1,
# "str" text without tab/newline. The order is the column order of the frames and of the files.
_SCHEMA: dict[str, tuple[tuple[str, str], ...]] = {
    "ratings": (
        (USER_COL, "int"),
        (ITEM_COL, "int"),
        (RATING_COL, "int"),
        (TIMESTAMP_COL, "int"),
    ),
    "items": ((ITEM_COL, "int"), ("title", "str"), ("year", "year"))
    + tuple((genre, "flag") for genre in GENRES),
    "users": (
        (USER_COL, "int"),
        ("age", "int"),
        ("gender", "str"),
        ("occupation", "str"),
        ("zip_code", "str"),
    ),
}
_KEYS = {"ratings": [USER_COL, ITEM_COL], "items": [ITEM_COL], "users": [USER_COL]}
_YEAR = re.compile(r"\((\d{4})\)")

Tables = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


class DataFormatError(ValueError):
    """A file does not have the expected format or content (the message names file and problem)."""


class DataUnavailableError(RuntimeError):
    """MovieLens-100K cannot be loaded; the message names the path and a fix.

    Raised when every source failed — ``failures`` then lists ``(source name, reason)`` for
    each source tried, and the message says where to put an archive by hand (exact path and
    checksum) — and when the cache folder cannot be used: a cache path that is a folder, a
    file that cannot be read, a folder that cannot be written (``failures`` is empty).
    """

    def __init__(self, message: str, failures: Sequence[tuple[str, str]] = ()):
        super().__init__(message)
        self.failures = tuple(failures)


class DataCacheWarning(UserWarning):
    """The cache under ``data/`` was incomplete or altered and is being rebuilt."""


class _SourceFailed(Exception):
    """One source failed; the message says why. Collected into DataUnavailableError."""


# --------------------------------------------------------------------------------------------
# The source registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One place MovieLens-100K can come from, pinned by the checksum of its archive.

    Attributes:
        name: short name recorded in ``SOURCE.json`` and in :attr:`MovieLens100K.source`.
        filename: the archive's file name under ``data/raw/``.
        algorithm: ``hashlib`` name of the checksum (``"sha1"``, ``"sha256"``).
        checksum: hex digest the archive must have.
        fetch: ``fetch(dest)`` writes the archive to the path ``dest`` (a temporary file next to
            its final place) or raises; it need not verify anything.
        read: ``read(archive) -> (ratings, items, users)`` canonical tables.
        origin: where it comes from, for messages (URL or requirement).
        manual: how to place the archive by hand (``{raw}`` is replaced by ``data/raw``).
    """

    name: str
    filename: str
    algorithm: str
    checksum: str
    fetch: Callable[[Path], None]
    read: Callable[[Path], Tables]
    origin: str
    manual: str


def _urlopen(url: str, timeout: float):
    """``urllib.request.urlopen``; a separate name so tests can replace the network."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (fixed https URL)


def _run_pip(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``python -m pip <args>`` with this interpreter; a separate name for tests."""
    return subprocess.run(
        [sys.executable, "-m", "pip", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _download_grouplens(dest: Path) -> None:
    """Download GroupLens's ml-100k.zip to ``dest`` (short timeout: fails fast when offline)."""
    try:
        with _urlopen(GROUPLENS_URL, DOWNLOAD_TIMEOUT_S) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out, length=2**20)
    except OSError as error:  # URLError, timeouts and socket errors are all OSError
        raise _SourceFailed(f"download of {GROUPLENS_URL} failed: {error}") from error


def _pip_download_recbole(dest: Path) -> None:
    """``pip download`` the recbole wheel (no dependencies, never installed) to ``dest``."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{_PIP_PREFIX}{os.getpid()}-", dir=dest.parent))
    try:
        args = ["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check"]
        args += ["--no-input", RECBOLE_REQUIREMENT, "-d", str(workdir)]
        try:
            result = _run_pip(args, PIP_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as error:
            raise _SourceFailed(f"pip download {RECBOLE_REQUIREMENT} failed: {error}") from error
        if result.returncode != 0:
            tail = " ".join((result.stderr or result.stdout or "").strip().splitlines()[-3:])
            raise _SourceFailed(
                f"pip download {RECBOLE_REQUIREMENT} exited with {result.returncode}: {tail}"
            )
        wheels = sorted(workdir.glob("*.whl"))
        if len(wheels) != 1:
            names = [p.name for p in workdir.iterdir()]
            raise _SourceFailed(f"pip download left {names} instead of one wheel")
        os.replace(wheels[0], dest)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Reading archives safely
# --------------------------------------------------------------------------------------------


def _is_unsafe_member(name: str) -> bool:
    """True for absolute paths, drive letters and any ``..`` component (POSIX or Windows)."""
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return True
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return ".." in parts


def _open_zip(path: Path) -> zipfile.ZipFile:
    """Open ``path`` as a zip, rejecting it whole if any member path is absolute or has ``..``."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise DataFormatError(f"{path} is not a readable zip archive ({error})") from error
    unsafe = [info.filename for info in archive.infolist() if _is_unsafe_member(info.filename)]
    if unsafe:
        archive.close()
        raise DataFormatError(
            f"{path} contains unsafe member paths {unsafe[:3]} (absolute or with '..'); "
            "refusing to read it"
        )
    return archive


def _read_member(archive: zipfile.ZipFile, path: Path, member: str) -> bytes:
    """The bytes of ``member``; a clear error if it is missing or implausibly large."""
    try:
        info = archive.getinfo(member)
    except KeyError:
        raise DataFormatError(f"{path} has no member {member!r}") from None
    if info.file_size > _MAX_MEMBER_BYTES:
        raise DataFormatError(f"{path}:{member} is {info.file_size} bytes, too large")
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as error:  # also CRC mismatches
        raise DataFormatError(f"{path}:{member} cannot be read ({error})") from error


def _decode(data: bytes, encoding: str, where: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise DataFormatError(f"{where} is not {encoding} text ({error})") from error


def _split_lines(text: str, sep: str, n_fields: int, where: str) -> list[list[str]]:
    """Non-empty lines split on ``sep``; every line must have exactly ``n_fields`` fields."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(sep)
        if len(fields) != n_fields:
            raise DataFormatError(
                f"{where}, line {number}: expected {n_fields} fields separated by {sep!r}, "
                f"found {len(fields)}"
            )
        rows.append(fields)
    return rows


def _year_of(title: str) -> int | None:
    """The last ``(dddd)`` group of a title: ``"… (1995) (V)"`` → 1995, ``"unknown"`` → None."""
    years = _YEAR.findall(title)
    return int(years[-1]) if years else None


def read_grouplens_zip(path: str | os.PathLike) -> Tables:
    """Canonical tables from GroupLens's ``ml-100k.zip``.

    Reads ``ml-100k/u.data`` (``user \\t item \\t rating \\t timestamp``), ``ml-100k/u.item``
    (pipe-separated, latin-1: id, title, release date, video release date, IMDb URL, 19 genre
    flags in :data:`~gnnrec_utils.constants.GENRES` order) and ``ml-100k/u.user`` (id, age,
    gender, occupation, zip code). The title is kept whole (``"Toy Story (1995)"``).

    Returns:
        ``(ratings, items, users)`` in the canonical form described in :func:`content_hash`.

    Raises:
        DataFormatError: not a zip, unsafe member paths, missing members or malformed lines.
    """
    path = Path(path)
    with _open_zip(path) as archive:
        data = {
            name: _read_member(archive, path, f"ml-100k/u.{name}")
            for name in ("data", "item", "user")
        }
    where = f"{path}:ml-100k/u.data"
    rows = _split_lines(_decode(data["data"], "latin-1", where), "\t", 4, where)
    ratings = pd.DataFrame(rows, columns=[c for c, _ in _SCHEMA["ratings"]])

    where = f"{path}:ml-100k/u.item"
    rows = _split_lines(_decode(data["item"], "latin-1", where), "|", 5 + len(GENRES), where)
    items = pd.DataFrame({ITEM_COL: [r[0] for r in rows], "title": [r[1] for r in rows]})
    items["year"] = [_year_of(r[1]) for r in rows]
    for j, genre in enumerate(GENRES):
        items[genre] = [r[5 + j] for r in rows]

    where = f"{path}:ml-100k/u.user"
    rows = _split_lines(_decode(data["user"], "latin-1", where), "|", 5, where)
    users = pd.DataFrame(rows, columns=[c for c, _ in _SCHEMA["users"]])
    return _canonical_tables(ratings, items, users, where=str(path))


_RECBOLE_DIR = "recbole/dataset_example/ml-100k/"
_RECBOLE_HEADERS = {
    "inter": ["user_id:token", "item_id:token", "rating:float", "timestamp:float"],
    "item": ["item_id:token", "movie_title:token_seq", "release_year:token", "class:token_seq"],
    "user": ["user_id:token", "age:token", "gender:token", "occupation:token", "zip_code:token"],
}


def _recbole_rows(archive: zipfile.ZipFile, path: Path, kind: str) -> list[list[str]]:
    member = f"{_RECBOLE_DIR}ml-100k.{kind}"
    where = f"{path}:{member}"
    header = _RECBOLE_HEADERS[kind]
    text = _decode(_read_member(archive, path, member), "utf-8", where)
    rows = _split_lines(text, "\t", len(header), where)
    if not rows or rows[0] != header:
        found = rows[0] if rows else "nothing"
        raise DataFormatError(f"{where}: expected header {header}, found {found}")
    return rows[1:]


def _recbole_title(title: str, year: str) -> str:
    """Undo RecBole's split of the GroupLens title into ``movie_title`` and ``release_year``.

    RecBole cut ``"<title> (<year>)"`` at the last parenthesis, so the full title is
    ``f"{title} ({year})"`` — also for ``"… (1995)"`` + ``"V"``. GroupLens's item 267 is titled
    ``"unknown"``; RecBole stores it as ``"unkonwn"`` / ``"unkonwn"`` [sic].
    """
    if title == "unkonwn" and year == "unkonwn":
        return "unknown"
    return f"{title} ({year})"


def read_recbole_wheel(path: str | os.PathLike) -> Tables:
    """Canonical tables from the copy of MovieLens-100K inside the ``recbole`` wheel.

    Reads ``recbole/dataset_example/ml-100k/ml-100k.{inter,item,user}`` (RecBole's tab-separated
    "atomic files" with typed headers such as ``user_id:token``) straight from the wheel, which
    is a zip; nothing is installed. Titles are rebuilt as GroupLens has them (see
    :func:`_recbole_title`); genres come from the space-separated ``class`` column.

    Returns:
        ``(ratings, items, users)`` in the canonical form described in :func:`content_hash`.

    Raises:
        DataFormatError: not a zip, unsafe member paths, missing members, wrong headers,
            malformed lines or unknown genre names.
    """
    path = Path(path)
    with _open_zip(path) as archive:
        inter, item, user = (_recbole_rows(archive, path, k) for k in ("inter", "item", "user"))

    ratings = pd.DataFrame(inter, columns=[c for c, _ in _SCHEMA["ratings"]])
    titles = [_recbole_title(r[1], r[2]) for r in item]
    items = pd.DataFrame({ITEM_COL: [r[0] for r in item], "title": titles})
    items["year"] = [_year_of(t) for t in titles]
    flags = np.zeros((len(item), len(GENRES)), dtype=np.int8)
    column_of = {genre: j for j, genre in enumerate(GENRES)}
    for i, row in enumerate(item):
        for genre in row[3].split():
            if genre not in column_of:
                raise DataFormatError(
                    f"{path}:{_RECBOLE_DIR}ml-100k.item: item {row[0]} has unknown genre "
                    f"{genre!r}; expected one of {list(GENRES)}"
                )
            flags[i, column_of[genre]] = 1
    for j, genre in enumerate(GENRES):
        items[genre] = flags[:, j]
    users = pd.DataFrame(user, columns=[c for c, _ in _SCHEMA["users"]])
    return _canonical_tables(ratings, items, users, where=str(path))


SOURCES: tuple[Source, ...] = (
    Source(
        name="grouplens",
        filename="ml-100k.zip",
        algorithm="sha1",
        checksum=GROUPLENS_SHA1,
        fetch=_download_grouplens,
        read=read_grouplens_zip,
        origin=GROUPLENS_URL,
        manual=f"download {GROUPLENS_URL} and save it as {{raw}}/ml-100k.zip",
    ),
    Source(
        name="recbole",
        filename=RECBOLE_WHEEL,
        algorithm="sha256",
        checksum=RECBOLE_SHA256,
        fetch=_pip_download_recbole,
        read=read_recbole_wheel,
        origin=f"PyPI wheel {RECBOLE_REQUIREMENT}",
        manual=(
            f"python -m pip download --no-deps --only-binary=:all: {RECBOLE_REQUIREMENT} -d {{raw}}"
        ),
    ),
)
"""The registry, in the order the sources are tried after the local cache."""


# --------------------------------------------------------------------------------------------
# Canonical tables and their content hash
# --------------------------------------------------------------------------------------------


def _as_int(series: pd.Series, where: str) -> np.ndarray:
    """int64 values of ``series`` (ints or integer text); a clear error naming the first bad one."""
    if pd.api.types.is_integer_dtype(series.dtype) and not series.isna().any():
        return series.to_numpy(dtype=np.int64)
    numbers = pd.to_numeric(series, errors="coerce")
    bad = numbers.isna() | (numbers != np.round(numbers))
    if bad.any():
        raise DataFormatError(f"{where}: not an integer: {series[bad].iloc[0]!r}")
    return numbers.to_numpy(dtype=np.int64)


def _as_year(series: pd.Series, where: str) -> pd.api.extensions.ExtensionArray:
    values = ["" if pd.isna(v) else v for v in series.tolist()]
    nonempty = pd.Series([v for v in values if v != ""], dtype=object)
    ints = iter(_as_int(nonempty, where).tolist()) if len(nonempty) else iter(())
    return pd.array([pd.NA if v == "" else next(ints) for v in values], dtype="Int64")


def _as_text(series: pd.Series, where: str) -> pd.Series:
    values = series.tolist()
    for value in values:
        if not isinstance(value, str):
            raise DataFormatError(f"{where}: expected text, found {value!r}")
        if "\t" in value or "\n" in value or "\r" in value:
            raise DataFormatError(f"{where}: text may not contain tabs or newlines: {value!r}")
    return pd.Series(values, dtype=str)


def _canonical_table(frame: pd.DataFrame, name: str, where: str) -> pd.DataFrame:
    columns = [column for column, _ in _SCHEMA[name]]
    if list(frame.columns) != columns:
        raise DataFormatError(f"{where}: {name} must have columns {columns}, found {list(frame)}")
    out = {}
    for column, kind in _SCHEMA[name]:
        series = frame[column].reset_index(drop=True)
        at = f"{where}: {name}.{column}"
        if kind == "int":
            out[column] = _as_int(series, at)
        elif kind == "year":
            out[column] = _as_year(series, at)
        elif kind == "flag":
            values = _as_int(series, at)
            if not np.isin(values, (0, 1)).all():
                raise DataFormatError(f"{at}: genre flags must be 0 or 1")
            out[column] = values.astype(np.int8)
        else:
            out[column] = _as_text(series, at)
    table = pd.DataFrame(out)
    keys = _KEYS[name]
    duplicated = table.duplicated(keys)
    if duplicated.any():
        first = table.loc[duplicated, keys].iloc[0].tolist()
        raise DataFormatError(f"{where}: {name} has duplicate {keys} {first}")
    return table.sort_values(keys, kind="stable", ignore_index=True)


def _canonical_tables(
    ratings: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, *, where: str
) -> Tables:
    return (
        _canonical_table(ratings, "ratings", where),
        _canonical_table(items, "items", where),
        _canonical_table(users, "users", where),
    )


def _column_text(series: pd.Series, kind: str) -> list[str]:
    if kind == "year":
        return ["" if pd.isna(v) else str(int(v)) for v in series.tolist()]
    if kind == "str":
        return [str(v) for v in series.tolist()]
    return [str(int(v)) for v in series.tolist()]


def _table_bytes(frame: pd.DataFrame, name: str) -> bytes:
    """The canonical file of one table: header line, then one tab-separated line per row."""
    table = _canonical_table(frame, name, where="content_hash")  # validates; sorted copy
    columns = [_column_text(table[column], kind) for column, kind in _SCHEMA[name]]
    lines = ["\t".join(column for column, _ in _SCHEMA[name])]
    lines.extend("\t".join(row) for row in zip(*columns, strict=True))
    return ("\n".join(lines) + "\n").encode("utf-8")


def _hash_table_bytes(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in TABLE_NAMES:
        digest.update(f"{name} {len(files[name])}\n".encode("ascii"))
        digest.update(files[name])
    return digest.hexdigest()


def content_hash(ratings: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame) -> str:
    """sha256 of the canonical tables: the one number that says "this is MovieLens-100K".

    Canonical tables (what :func:`load_movielens` returns):

    * ``ratings`` — columns ``user_id, item_id, rating, timestamp``, all int64, sorted by
      ``(user_id, item_id)``, index ``0..n-1``. Real data: 100,000 × 4, users 1..943,
      items 1..1682, ratings 1..5, timestamps in Unix seconds.
    * ``items`` — ``item_id`` (int64); ``title`` (str, GroupLens's full title such as
      ``"Toy Story (1995)"``; ``"unknown"`` for item 267); ``year`` (nullable Int64: the last
      ``(dddd)`` in the title, <NA> if none); then the 19 genre columns named as
      :data:`~gnnrec_utils.constants.GENRES`, int8 0/1. Sorted by ``item_id``. Real: 1,682 × 22.
    * ``users`` — ``user_id`` (int64), ``age`` (int64), ``gender`` (str ``"M"``/``"F"``),
      ``occupation`` (str), ``zip_code`` (str, leading zeros and letters kept). Sorted by
      ``user_id``. Real: 943 × 5.

    Serialisation: each table is written as UTF-8 text, header line then one line per row,
    fields joined by a tab, integers in decimal, <NA> as the empty string, every line ending in
    ``"\\n"`` — exactly the bytes of the cache files ``data/ml-100k/<name>.tsv``. The hash is
    :math:`\\mathrm{sha256}(\\Vert_{t} \\; \\texttt{"<t> <len>\\textbackslash n"} \\Vert
    \\mathrm{bytes}_t)` over ``t`` = ratings, items, users. It depends only on the values, not on
    dtype backends (object or pandas ``str``, int32 or int64) nor on the row order or index of
    the frames passed in (they are sorted first).

    Returns:
        64 hex characters; :data:`ML100K_CONTENT_SHA256` for the real data.

    Raises:
        DataFormatError: wrong columns, missing or non-integer values, duplicate keys, flags
            other than 0/1, or text containing tabs/newlines.
    """
    frames = (ratings, items, users)
    files = {
        name: _table_bytes(frame, name) for name, frame in zip(TABLE_NAMES, frames, strict=True)
    }
    return _hash_table_bytes(files)


def _tables_from_bytes(files: dict[str, bytes], where: str) -> Tables:
    """Parse the canonical ``.tsv`` bytes back into canonical frames (inverse of _table_bytes)."""
    frames = []
    for name in TABLE_NAMES:
        dtypes = {
            column: (str if kind in ("str", "year") else "int64") for column, kind in _SCHEMA[name]
        }
        try:
            frame = pd.read_csv(
                io.BytesIO(files[name]),
                sep="\t",
                dtype=dtypes,
                keep_default_na=False,
                na_filter=False,
                quoting=csv.QUOTE_NONE,
                encoding="utf-8",
                engine="c",
            )
        except (ValueError, pd.errors.ParserError) as error:
            raise DataFormatError(f"{where}/{name}.tsv cannot be parsed ({error})") from error
        frames.append(_canonical_table(frame, name, f"{where}/{name}.tsv"))
    return frames[0], frames[1], frames[2]


# --------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MovieLens100K:
    """MovieLens-100K as canonical tables (see :func:`content_hash` for their exact form).

    Attributes:
        ratings: ``(100000, 4)`` user_id, item_id, rating, timestamp (int64).
        items: ``(1682, 22)`` item_id, title, year, then the 19 genre flags (int8).
        users: ``(943, 5)`` user_id, age, gender, occupation, zip_code.
        source: the registry entry the tables came from (``"grouplens"`` or ``"recbole"``).
        content_hash: sha256 of the tables, equal to :data:`ML100K_CONTENT_SHA256`.
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    source: str
    content_hash: str

    def __repr__(self) -> str:
        return (
            f"MovieLens100K(ratings={self.ratings.shape}, items={self.items.shape}, "
            f"users={self.users.shape}, source={self.source!r}, "
            f"content_hash={self.content_hash[:12]}…)"
        )


def _temp_path(final: Path) -> Path:
    """A new empty temporary file next to ``final`` (same folder, so os.replace is atomic)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{final.name}.{os.getpid()}.", suffix=_PART_SUFFIX, dir=final.parent
    )
    os.close(handle)
    return Path(name)


def _publish(temp: Path, final: Path) -> None:
    """Rename a finished, verified temporary file onto ``final`` (atomic on one filesystem)."""
    os.chmod(temp, 0o644)  # mkstemp creates 0600; cache files are ordinary readable files
    os.replace(temp, final)


def _write_atomic(final: Path, data: bytes) -> None:
    """Write ``data`` to ``final`` through a temporary file and ``os.replace``."""
    temp = _temp_path(final)
    try:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(temp, final)
    finally:
        temp.unlink(missing_ok=True)


_PART_SUFFIX = ".part"
_PIP_PREFIX = ".pip-download-"
#: A temporary file or pip folder whose process has gone, or older than this, is debris.
STALE_AFTER_S = 2 * PIP_TIMEOUT_S


def _folder_fix(path: Path) -> str:
    return (
        f"make it writable (e.g. `chmod -R u+w {path}`) or load into another folder with "
        "GNNREC_DATA_DIR=<folder> (or data_dir=<folder>)"
    )


def _require_file_or_nothing(path: Path) -> None:
    """A cache path must be a regular file or absent; a folder or device there is an error."""
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise DataUnavailableError(
            f"MovieLens-100K cannot be loaded: {path} is {kind}; move it away (or delete it) "
            "and load again"
        )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DataUnavailableError(
            f"MovieLens-100K cannot be loaded: cannot read {path} ({error.strerror}); make it "
            f"readable (e.g. `chmod u+r {path}`) or load into another folder with "
            "GNNREC_DATA_DIR=<folder> (or data_dir=<folder>)"
        ) from None


def _require_writable(folder: Path, why: str) -> None:
    """Create ``folder`` if needed and prove a file can be created in it; else a clear error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(
            prefix=f".write-test.{os.getpid()}.", suffix=_PART_SUFFIX, dir=folder
        )
        os.close(handle)
        os.unlink(name)
    except OSError as error:
        where = folder if folder.exists() else next(p for p in folder.parents if p.exists())
        raise DataUnavailableError(
            f"MovieLens-100K cannot be loaded: {why}, but {folder} cannot be written "
            f"({error.strerror}); {_folder_fix(where)}"
        ) from None


# Names of this module's temporaries: ".<file>.<pid>.<random>.part" (mkstemp's random part
# has no dot) and ".pip-download-<pid>-<random>". Older names without a pid also match.
_TEMPORARY = re.compile(
    rf"\..+?(?:\.(?P<pid>\d+))?\.[A-Za-z0-9_]+{re.escape(_PART_SUFFIX)}"
    rf"|{re.escape(_PIP_PREFIX)}(?:(?P<pip_pid>\d+)-)?[A-Za-z0-9_]+"
)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def _remove_stale_temporaries(folders: Iterable[Path], say) -> None:
    """Remove what a killed load left behind in ``folders``.

    A temporary file (``.<name>.<pid>.<random>.part``) or pip folder
    (``.pip-download-<pid>-<random>``) is removed when the process named in it is gone, or
    when it is older than :data:`STALE_AFTER_S`; a concurrent load's temporaries (process
    alive, recent) are left alone. Errors are ignored: a read-only folder keeps its debris
    and the load goes on.
    """
    now = time.time()
    removed = []
    for folder in folders:
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            match = _TEMPORARY.fullmatch(entry.name)
            if match is None:
                continue
            pid = match.group("pid") or match.group("pip_pid")
            try:
                age = now - entry.lstat().st_mtime
                alive = pid is None or _process_alive(int(pid))
                if alive and age < STALE_AFTER_S:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
            except OSError:
                continue
            removed.append(entry.name)
    if removed:
        say(f"MovieLens-100K: removed leftovers of an interrupted load: {', '.join(removed)}")


def _warn(message: str) -> None:
    """Warn with the location of the first caller outside this module (the user's line)."""
    level, frame = 1, sys._getframe(0)
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, DataCacheWarning, stacklevel=level)


@dataclass(frozen=True)
class _Cached:
    tables: Tables
    record: dict


def _read_cache(cache: Path, expected_hash: str) -> _Cached | None:
    """The verified canonical tables, or None (with a warning naming the bad file) if invalid."""
    record_path = cache / SOURCE_FILE
    paths = {name: cache / f"{name}.tsv" for name in TABLE_NAMES}
    for path in (record_path, *paths.values()):
        _require_file_or_nothing(path)
    present = [p for p in (record_path, *paths.values()) if p.exists()]
    if not present:
        return None  # first run: nothing to complain about
    missing = [str(p) for p in (record_path, *paths.values()) if not p.exists()]
    if missing:
        _warn(f"MovieLens-100K cache incomplete: {', '.join(missing)} missing; rebuilding")
        return None
    try:
        record = json.loads(_read_bytes(record_path).decode("utf-8"))
        recorded = {name: record["files"][f"{name}.tsv"] for name in TABLE_NAMES}
    except (ValueError, KeyError, TypeError) as error:
        _warn(f"{record_path} is unreadable ({error!r}); rebuilding the cache")
        return None
    files = {name: _read_bytes(paths[name]) for name in TABLE_NAMES}
    altered = [
        str(paths[name])
        for name in TABLE_NAMES
        if hashlib.sha256(files[name]).hexdigest() != recorded[name]
    ]
    if altered:
        _warn(
            f"{', '.join(altered)} does not match the sha256 recorded in {record_path} "
            "(truncated or altered); rebuilding the cache"
        )
        return None
    actual = _hash_table_bytes(files)
    if actual != expected_hash:
        _warn(
            f"the tables in {cache} have content hash {actual}, expected {expected_hash}; "
            "rebuilding the cache"
        )
        return None
    if record.get("content_sha256") != expected_hash:
        _warn(
            f"{record_path} records content hash {record.get('content_sha256')!r}, expected "
            f"{expected_hash} (the tables themselves match); rebuilding the cache"
        )
        return None
    try:
        tables = _tables_from_bytes(files, str(cache))
    except DataFormatError as error:  # cannot happen for bytes we wrote; be safe anyway
        _warn(f"{error}; rebuilding the cache")
        return None
    return _Cached(tables, record)


def _write_cache(cache: Path, raw: Path, source: Source, files: dict[str, bytes]) -> dict:
    """Write the three tables and then SOURCE.json, each atomically; return the record."""
    try:
        return _write_cache_files(cache, raw, source, files)
    except OSError as error:  # a full disk, a quota, a folder made read-only meanwhile
        raise DataUnavailableError(
            f"MovieLens-100K cannot be loaded: writing the cache in {cache} failed "
            f"({error.strerror or error}); free some space or {_folder_fix(cache)}"
        ) from None


def _write_cache_files(cache: Path, raw: Path, source: Source, files: dict[str, bytes]) -> dict:
    for name in TABLE_NAMES:
        _write_atomic(cache / f"{name}.tsv", files[name])
    record = {
        "dataset": "MovieLens-100K",
        "source": source.name,
        "origin": source.origin,
        "archive": f"{raw.name}/{source.filename}",
        "archive_algorithm": source.algorithm,
        "archive_checksum": source.checksum,
        "content_sha256": _hash_table_bytes(files),
        "files": {f"{name}.tsv": hashlib.sha256(files[name]).hexdigest() for name in TABLE_NAMES},
        "licence": "GroupLens forbids redistribution: never commit anything under data/.",
    }
    text = json.dumps(record, indent=2, sort_keys=True) + "\n"
    _write_atomic(cache / SOURCE_FILE, text.encode("utf-8"))
    return record


def _tables_from_archive(source: Source, archive: Path, expected_hash: str):
    """Parse a checksum-verified archive; the tables must hash to ``expected_hash``."""
    tables = source.read(archive)
    files = {name: _table_bytes(t, name) for name, t in zip(TABLE_NAMES, tables, strict=True)}
    actual = _hash_table_bytes(files)
    if actual != expected_hash:
        raise DataFormatError(
            f"tables read from {archive} have content hash {actual}, expected {expected_hash}"
        )
    return tables, files


def _fetch_verified(source: Source, final: Path, expected_hash: str):
    """Fetch ``source`` into a temp file next to ``final``; verify checksum and content; rename.

    Nothing is left behind on failure; ``final`` (if any) is only replaced by a verified copy.
    """
    temp = _temp_path(final)
    try:
        source.fetch(temp)
        actual = file_digest(temp, source.algorithm)
        if actual != source.checksum:
            raise _SourceFailed(
                f"downloaded {final.name} has {source.algorithm} {actual}, "
                f"expected {source.checksum}; not saved to {final}"
            )
        result = _tables_from_archive(source, temp, expected_hash)
        _publish(temp, final)
        return result
    except DataFormatError as error:
        reason = str(error).replace(str(temp), f"downloaded {final.name}")
        raise _SourceFailed(f"{reason}; not saved to {final}") from error
    finally:
        temp.unlink(missing_ok=True)


def _unavailable(raw: Path, failures: list[tuple[str, str]], sources: Sequence[Source]):
    lines = ["MovieLens-100K is not available: every source failed."]
    lines += [f"  - {name}: {reason}" for name, reason in failures]
    lines.append(
        f"To place the data by hand, put ONE of these files into {raw}/ and load again "
        "(e.g. `python -m gnnrec_utils.data`):"
    )
    for source in sources:
        lines.append(
            f"  - {raw / source.filename}  ({source.algorithm} {source.checksum}); "
            f"to get it: {source.manual.format(raw=raw)}"
        )
    return DataUnavailableError("\n".join(lines), failures)


def _ensure(
    root: Path,
    sources: Sequence[Source],
    expected_hash: str,
    verbose: bool,
) -> tuple[Tables, str, Path]:
    """Make the verified cache exist; return (tables, source name, cache folder)."""
    say = print if verbose else (lambda *args, **kwargs: None)
    cache, raw = root / CACHE_SUBDIR, root / RAW_SUBDIR
    _remove_stale_temporaries((raw, cache), say)
    by_name = {source.name: source for source in sources}
    cached = _read_cache(cache, expected_hash)
    if cached is not None:  # verified tables: served as they are, never any network
        name = str(cached.record.get("source", "unknown"))
        source = by_name.get(name)
        archive = raw / source.filename if source else None
        note = ""
        if archive is None or not archive.exists():
            note = "; raw archive absent (not needed while the tables verify)"
        elif not archive.is_file():
            _warn(f"{archive} is not a file; the verified tables in {cache} are used")
        else:
            actual = file_digest(archive, source.algorithm)
            if actual != source.checksum:
                _warn(
                    f"{archive} has {source.algorithm} {actual}, expected {source.checksum} "
                    f"(truncated, altered or another version); the verified tables in {cache} "
                    "are used, and the archive is replaced if the cache ever needs a rebuild"
                )
        say(f"MovieLens-100K: verified cache {cache} (sha256 {expected_hash[:12]}…){note}")
        return cached.tables, name, cache

    _require_writable(cache, f"the cache in {cache} must be built")
    failures: list[tuple[str, str]] = []
    verified_locally: set[str] = set()
    # 1. archives already in data/raw/ (no network)
    for source in sources:
        archive = raw / source.filename
        _require_file_or_nothing(archive)
        if not archive.is_file():
            continue
        actual = file_digest(archive, source.algorithm)
        if actual != source.checksum:
            _warn(
                f"{archive} has {source.algorithm} {actual}, expected {source.checksum} "
                "(truncated, altered or another version); it will be replaced if a fetch succeeds"
            )
            reason = f"{archive} has {source.algorithm} {actual}, expected {source.checksum}"
            failures.append((source.name, reason))
            continue
        verified_locally.add(source.name)
        say(f"MovieLens-100K: building tables from {archive} …", end=" ", flush=True)
        try:
            tables, files = _tables_from_archive(source, archive, expected_hash)
        except DataFormatError as error:
            say("failed")
            failures.append((source.name, str(error)))
            continue
        _write_cache(cache, raw, source, files)
        say("ok")
        return tables, source.name, cache
    # 2. fetch, in registry order
    if any(source.name not in verified_locally for source in sources):
        _require_writable(raw, f"the archive must be downloaded into {raw}")
    for source in sources:
        if source.name in verified_locally:
            continue  # a fetch would give the same verified bytes that just failed to parse
        say(f"MovieLens-100K: trying {source.name} ({source.origin}) …", end=" ", flush=True)
        start = time.perf_counter()
        try:
            tables, files = _fetch_verified(source, raw / source.filename, expected_hash)
        except Exception as error:  # noqa: BLE001 (any failure: record it, try the next source)
            reason = str(error) if isinstance(error, _SourceFailed) else repr(error)
            say(f"failed: {reason}")
            failures.append((source.name, reason))
            continue
        _write_cache(cache, raw, source, files)
        say(f"ok ({time.perf_counter() - start:.1f} s)")
        return tables, source.name, cache
    raise _unavailable(raw, failures, sources)


def fetch_movielens(
    data_dir: str | os.PathLike | None = None,
    *,
    verbose: bool = True,
    sources: Sequence[Source] | None = None,
    expected_hash: str | None = None,
) -> Path:
    """Make sure the verified MovieLens-100K cache exists; return its folder.

    Tries the local cache, then :data:`SOURCES` in order (GroupLens, then the RecBole wheel on
    PyPI); see the module docstring for the layout. A truncated or altered cache file is
    reported (:class:`DataCacheWarning`, naming the file) and rebuilt.

    Args:
        data_dir: the cache root; default ``$GNNREC_DATA_DIR`` or ``<repo>/data``.
        verbose: print one short line per source tried.
        sources: the registry to use instead of :data:`SOURCES` (tests use synthetic ones).
        expected_hash: the content hash to require instead of :data:`ML100K_CONTENT_SHA256`.

    Returns:
        The folder ``<data_dir>/ml-100k`` holding ``ratings.tsv``, ``items.tsv``,
        ``users.tsv`` and ``SOURCE.json``.

    Raises:
        DataUnavailableError: every source failed (the message says how to place files by hand).

    Taught in ``notebooks/01_preprocessing.ipynb``.
    """
    _, _, cache = _ensure(
        _resolve_data_dir(data_dir),
        SOURCES if sources is None else sources,
        ML100K_CONTENT_SHA256 if expected_hash is None else expected_hash,
        verbose,
    )
    return cache


def load_movielens(
    data_dir: str | os.PathLike | None = None,
    *,
    verbose: bool = True,
    sources: Sequence[Source] | None = None,
    expected_hash: str | None = None,
) -> MovieLens100K:
    """MovieLens-100K as verified canonical tables, fetched into the cache on first use.

    Every call checks the cache against the pinned content hash (a few tens of milliseconds);
    a missing, truncated or altered file is rebuilt from the verified raw archive, or fetched
    again. Arguments as in :func:`fetch_movielens`.

    Returns:
        :class:`MovieLens100K` with ``ratings`` (100000, 4), ``items`` (1682, 22) and
        ``users`` (943, 5), described in :func:`content_hash`; ``source`` and ``content_hash``.

    Raises:
        DataUnavailableError: every source failed.

    Example:
        >>> ml = load_movielens()                                      # doctest: +SKIP
        >>> ml.ratings.shape, ml.items.shape, ml.users.shape           # doctest: +SKIP
        ((100000, 4), (1682, 22), (943, 5))

    Taught in ``notebooks/01_preprocessing.ipynb``.
    """
    expected = ML100K_CONTENT_SHA256 if expected_hash is None else expected_hash
    tables, source, _ = _ensure(
        _resolve_data_dir(data_dir), SOURCES if sources is None else sources, expected, verbose
    )
    return MovieLens100K(*tables, source=source, content_hash=expected)


# --------------------------------------------------------------------------------------------
# Your own ratings files
# --------------------------------------------------------------------------------------------

# Integer ids, optionally with a zero fraction: "13", "-2", "13.0" (pandas writes an integer
# column that held a NaN as floats). No leading zeros, so "007" stays the text id "007".
_INT_TEXT = re.compile(r"(-?(?:0|[1-9][0-9]*))(?:\.0+)?")
# Values that pandas (and most spreadsheets) read as "missing"; never an id.
_MISSING_IDS = frozenset(
    ["#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN"]
    + ["<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)


def _ids(values: list[str]) -> pd.Series:
    """int64 if every id is integer text (``"13"`` or ``"13.0"``; no leading zeros, so none
    are lost), else str exactly as written."""
    matches = [_INT_TEXT.fullmatch(v) for v in values]
    if all(matches):
        try:
            return pd.Series(np.array([int(m.group(1)) for m in matches], dtype=np.int64))
        except OverflowError:
            pass
    return pd.Series(values, dtype=str)


def _numbers(values: list[str], column: str, lines: list[int], path: Path) -> pd.Series:
    numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
    bad = numbers.isna().to_numpy() | ~np.isfinite(numbers.to_numpy(dtype=float))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{path}: column {column!r} must be numeric; first bad value {values[i]!r} "
            f"on line {lines[i]}"
        )
    return numbers.astype(np.float64)


def read_interactions(path: str | os.PathLike) -> pd.DataFrame:
    """Read a user-supplied ratings/interactions file (CSV or TSV with a header row).

    The separator is a tab for ``.tsv``/``.tab`` files, a comma for ``.csv``, otherwise a tab if
    the header line contains one, else a comma. Columns ``user_id`` and ``item_id`` are required,
    ``rating`` and ``timestamp`` optional; other columns are kept as text. Ids may be anything:
    a column whose ids are all plain integers (``"42"``, not ``"007"``) becomes int64, otherwise
    the ids stay strings (map them to indices later). Rows keep the file's order.

    Returns:
        DataFrame of shape ``(n_rows, n_columns)``: ``user_id``, ``item_id``, then ``rating``
        (float64) and ``timestamp`` (int64) if present, then any other columns (str).

    Raises:
        DataFormatError: empty file or no rows; a missing required column (named, with the
            columns found); a line with the wrong number of fields or an empty id (line
            number given); a non-numeric rating or timestamp (column and first bad value).

    Taught in ``notebooks/01_preprocessing.ipynb``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataFormatError(f"{path} is not UTF-8 text ({error})") from error
    if not text.strip():
        raise DataFormatError(f"{path} is empty: expected a header line and rows")
    header_line = text.splitlines()[0]
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        sep = "\t"
    elif suffix == ".csv":
        sep = ","
    else:
        sep = "\t" if "\t" in header_line else ","
    # TSV has no quoting: a '"' in a free-text field is an ordinary character. (With CSV
    # quoting, '"great film' on one line and 'so-so"' three lines later would silently merge
    # the lines between them into one field.)
    quoting = csv.QUOTE_NONE if sep == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting)
    header = [name.strip() for name in next(reader)]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise DataFormatError(f"{path}: duplicate column names {duplicates}")
    for required in (USER_COL, ITEM_COL):
        if required not in header:
            raise DataFormatError(
                f"{path}: missing required column {required!r}; found columns {header} "
                f"(separator {sep!r}); required: {[USER_COL, ITEM_COL]}, "
                f"optional: {[RATING_COL, TIMESTAMP_COL]}"
            )
    rows: list[list[str]] = []
    lines: list[int] = []
    last_line = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise DataFormatError(
                f"{path}, line {last_line + 1}: {error} (an unmatched '\"'?)"
            ) from None
        first_line, last_line = last_line + 1, reader.line_num
        if last_line > first_line and any("\n" in f or "\r" in f for f in row):
            raise DataFormatError(
                f"{path}, lines {first_line}-{last_line}: a quoted field runs over "
                f"{last_line - first_line + 1} lines and would swallow rows (an unmatched "
                "'\"'?); quote the whole field and double the quotes inside it, or save the "
                "file as .tsv (read without quoting)"
            )
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if len(row) != len(header):
            raise DataFormatError(
                f"{path}, line {reader.line_num}: expected {len(header)} fields "
                f"({sep!r}-separated, as in the header), found {len(row)}"
            )
        rows.append([field.strip() for field in row])
        lines.append(reader.line_num)
    if not rows:
        raise DataFormatError(f"{path} has a header but no rows")
    columns = dict(zip(header, map(list, zip(*rows, strict=True)), strict=True))
    for required in (USER_COL, ITEM_COL):
        empty = [i for i, value in enumerate(columns[required]) if value == ""]
        if empty:
            raise DataFormatError(f"{path}, line {lines[empty[0]]}: empty {required!r}")
        missing = [i for i, value in enumerate(columns[required]) if value in _MISSING_IDS]
        if missing:
            value = columns[required][missing[0]]
            raise DataFormatError(
                f"{path}, line {lines[missing[0]]}: {required} {value!r} marks a missing value, "
                f"not an id ({len(missing)} such row(s)); fill in the ids or drop those rows"
            )

    out = {USER_COL: _ids(columns[USER_COL]), ITEM_COL: _ids(columns[ITEM_COL])}
    if RATING_COL in columns:
        out[RATING_COL] = _numbers(columns[RATING_COL], RATING_COL, lines, path)
    if TIMESTAMP_COL in columns:
        stamps = _numbers(columns[TIMESTAMP_COL], TIMESTAMP_COL, lines, path)
        fractional = (stamps != np.round(stamps)).to_numpy()
        if fractional.any():
            i = int(np.flatnonzero(fractional)[0])
            raise DataFormatError(
                f"{path}: column {TIMESTAMP_COL!r} must hold whole seconds; first bad value "
                f"{columns[TIMESTAMP_COL][i]!r} on line {lines[i]}"
            )
        out[TIMESTAMP_COL] = stamps.astype(np.int64)
    for name in header:
        if name not in out:
            out[name] = pd.Series(columns[name], dtype=str)
    return pd.DataFrame(out)


# --------------------------------------------------------------------------------------------
# Command line: `python -m gnnrec_utils.data` (`make data`)
# --------------------------------------------------------------------------------------------


def _summary(ml: MovieLens100K, cache: Path) -> str:
    ratings = ml.ratings
    return (
        f"MovieLens-100K ready from source '{ml.source}': {len(ratings):,} ratings by "
        f"{ratings[USER_COL].nunique():,} users of {ratings[ITEM_COL].nunique():,} items "
        f"({len(ml.users):,} users, {len(ml.items):,} items, {len(GENRES)} genres; ratings "
        f"{ratings[RATING_COL].min()}–{ratings[RATING_COL].max()}). Content sha256 "
        f"{ml.content_hash} matches the pinned value. Canonical tables in {cache} "
        f"(ratings.tsv, items.tsv, users.tsv, SOURCE.json); raw archive in "
        f"{cache.parent / RAW_SUBDIR}."
    )


def main(argv: Iterable[str] | None = None) -> int:
    """Fetch and verify MovieLens-100K, then print a one-paragraph summary. Exit code 0/1."""
    parser = argparse.ArgumentParser(
        prog="python -m gnnrec_utils.data",
        description="Fetch, verify and cache MovieLens-100K under data/ (see data/README.md).",
    )
    parser.add_argument("--data-dir", default=None, help="cache root (default: <repo>/data)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(None if argv is None else list(argv))
    try:
        ml = load_movielens(args.data_dir, verbose=not args.quiet)
    except DataUnavailableError as error:
        print(error, file=sys.stderr)
        return 1
    print(_summary(ml, _resolve_data_dir(args.data_dir) / CACHE_SUBDIR))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
