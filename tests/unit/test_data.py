"""Unit tests of gnnrec_utils.data on a tiny synthetic MovieLens (no network, no real data).

The same five-movie, three-user dataset is written once as a GroupLens-format ``ml-100k.zip``
and once as a RecBole-format wheel, with the awkward cases of the real files: the item titled
"unknown" (GroupLens 267, "unkonwn" in RecBole), a "(1995) (V)" title, a latin-1 title, zip
codes with letters and leading zeros. Sources are injected with checksums of these archives
and fake fetchers; the real network and pip entry points are replaced by a guard.
"""

from __future__ import annotations

from gnnrec_utils import data
from gnnrec_utils.constants import GENRES

import dataclasses
import hashlib
import io
import json
import subprocess
import sys
import urllib.error
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

# --------------------------------------------------------------------------------------------
# The synthetic dataset, in both source formats
# --------------------------------------------------------------------------------------------

USERS = [  # id, age, gender, occupation, zip code
    (1, 24, "M", "technician", "85711"),
    (2, 53, "F", "other", "01002"),
    (3, 23, "M", "writer", "T8H1N"),
]
ITEMS = [  # id, GroupLens title, genres
    (1, "Toy Story (1995)", ("Animation", "Children's", "Comedy")),
    (2, "unknown", ("unknown",)),
    (3, "Land Before Time III: The Time of the Great Giving (1995) (V)", ("Animation",)),
    (4, "Cérémonie, La (1995)", ("Drama",)),
    (5, "Shanghai Triad (Yao a yao yao dao waipo qiao) (1995)", ("Drama", "Film-Noir")),
]
YEARS = [1995, None, 1995, 1995, 1995]
RATINGS = [  # user, item, rating, timestamp -- deliberately not sorted
    (3, 1, 4, 881250949),
    (1, 2, 3, 891717742),
    (1, 1, 5, 878887116),
    (2, 4, 1, 880606923),
    (2, 5, 2, 886397596),
    (3, 3, 4, 884182806),
    (1, 5, 3, 881171488),
]
WHEN = (1998, 4, 22, 0, 0, 0)  # fixed zip timestamps: the archives are byte-reproducible


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=WHEN), payload)
    return buffer.getvalue()


def grouplens_members() -> dict[str, bytes]:
    u_data = "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in RATINGS)
    u_item = ""
    for item, title, genres in ITEMS:
        flags = "|".join("1" if g in genres else "0" for g in GENRES)
        if title == "unknown":  # GroupLens 267: no dates, no URL
            u_item += f"{item}|unknown||||{flags}\n"
        else:
            u_item += f"{item}|{title}|01-Jan-1995||http://us.imdb.com/x|{flags}\n"
    u_user = "".join("|".join(map(str, row)) + "\n" for row in USERS)
    return {
        "ml-100k/README": b"synthetic",
        "ml-100k/u.data": u_data.encode("latin-1"),
        "ml-100k/u.item": u_item.encode("latin-1"),
        "ml-100k/u.user": u_user.encode("latin-1"),
    }


def recbole_members() -> dict[str, bytes]:
    folder = "recbole/dataset_example/ml-100k/"
    inter = "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    inter += "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in RATINGS)
    item = "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    for item_id, title, genres in ITEMS:
        if title == "unknown":
            name, year = "unkonwn", "unkonwn"  # [sic], as in recbole 1.2.1
        else:
            name, year = title.rsplit(" (", 1)
            year = year[:-1]
        item += f"{item_id}\t{name}\t{year}\t{' '.join(genres)}\n"
    user = "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    user += "".join("\t".join(map(str, row)) + "\n" for row in USERS)
    return {
        "recbole/__init__.py": b"",
        f"{folder}ml-100k.inter": inter.encode("utf-8"),
        f"{folder}ml-100k.item": item.encode("utf-8"),
        f"{folder}ml-100k.user": user.encode("utf-8"),
        "recbole-1.2.1.dist-info/METADATA": b"Name: recbole\n",
    }


GROUPLENS_ZIP = _zip(grouplens_members())
RECBOLE_WHEEL = _zip(recbole_members())


def expected_tables():
    ratings = pd.DataFrame(sorted(RATINGS), columns=["user_id", "item_id", "rating", "timestamp"])
    items = pd.DataFrame(
        {
            "item_id": np.array([i for i, _, _ in ITEMS], dtype=np.int64),
            "title": pd.Series([t for _, t, _ in ITEMS], dtype=str),
            "year": pd.array(YEARS, dtype="Int64"),
        }
    )
    for genre in GENRES:
        items[genre] = np.array([genre in g for _, _, g in ITEMS], dtype=np.int8)
    users = pd.DataFrame(
        {
            "user_id": np.array([u[0] for u in USERS], dtype=np.int64),
            "age": np.array([u[1] for u in USERS], dtype=np.int64),
            "gender": pd.Series([u[2] for u in USERS], dtype=str),
            "occupation": pd.Series([u[3] for u in USERS], dtype=str),
            "zip_code": pd.Series([u[4] for u in USERS], dtype=str),
        }
    )
    return ratings.astype("int64"), items, users


EXPECTED_HASH = data.content_hash(*expected_tables())
REAL_RUN_PIP = data._run_pip  # saved before the autouse guard replaces it

# --------------------------------------------------------------------------------------------
# Fixtures: synthetic sources, no network
# --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Replace the real network/pip entry points; fail the test if anything reaches them."""
    reached = []

    def refuse(*args, **kwargs):
        reached.append(args)
        raise OSError("unit tests must not use the network")

    monkeypatch.setattr(data, "_urlopen", refuse)
    monkeypatch.setattr(data, "_run_pip", refuse)
    yield
    assert not reached, f"a unit test reached the network: {reached}"


class FakeSources:
    """Registry entries for the synthetic archives; ``serve`` says what each fetch writes."""

    def __init__(self):
        self.calls = Counter()
        self.dests: list[Path] = []
        self.serve = {"grouplens": GROUPLENS_ZIP, "recbole": RECBOLE_WHEEL}

    def _fetch(self, name):
        def fetch(dest: Path) -> None:
            self.calls[name] += 1
            self.dests.append(dest)
            payload = self.serve[name]
            if isinstance(payload, Exception):
                dest.write_bytes(b"partial")  # a download that dies half-way
                raise payload
            dest.write_bytes(payload)

        return fetch

    @property
    def sources(self):
        grouplens, recbole = data.SOURCES
        return (
            dataclasses.replace(
                grouplens,
                checksum=hashlib.sha1(GROUPLENS_ZIP).hexdigest(),
                fetch=self._fetch("grouplens"),
                origin="test://ml-100k.zip",
            ),
            dataclasses.replace(
                recbole,
                checksum=hashlib.sha256(RECBOLE_WHEEL).hexdigest(),
                fetch=self._fetch("recbole"),
                origin="test://recbole.whl",
            ),
        )


@pytest.fixture
def fake():
    return FakeSources()


@pytest.fixture
def root(tmp_path):
    return tmp_path / "data"


def load(root, fake, **kwargs):
    kwargs.setdefault("verbose", False)
    kwargs.setdefault("sources", fake.sources)
    kwargs.setdefault("expected_hash", EXPECTED_HASH)
    return data.load_movielens(root, **kwargs)


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in files_under(folder)}


CACHE_FILES = [
    "ml-100k/SOURCE.json",
    "ml-100k/items.tsv",
    "ml-100k/ratings.tsv",
    "ml-100k/users.tsv",
]

# --------------------------------------------------------------------------------------------
# Parsers and canonical tables
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reader"),
    [(GROUPLENS_ZIP, data.read_grouplens_zip), (RECBOLE_WHEEL, data.read_recbole_wheel)],
    ids=["grouplens", "recbole"],
)
def test_each_parser_gives_the_canonical_tables(tmp_path, payload, reader):
    archive = tmp_path / "archive.zip"
    archive.write_bytes(payload)
    for got, want in zip(reader(archive), expected_tables(), strict=True):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert isinstance(got.index, pd.RangeIndex)


def test_grouplens_and_recbole_parsers_agree(tmp_path):
    (tmp_path / "a.zip").write_bytes(GROUPLENS_ZIP)
    (tmp_path / "b.whl").write_bytes(RECBOLE_WHEEL)
    grouplens = data.read_grouplens_zip(tmp_path / "a.zip")
    recbole = data.read_recbole_wheel(tmp_path / "b.whl")
    for left, right in zip(grouplens, recbole, strict=True):
        pd.testing.assert_frame_equal(left, right, check_exact=True)
    assert data.content_hash(*grouplens) == data.content_hash(*recbole) == EXPECTED_HASH
    _, items, users = grouplens
    by_id = items.set_index("item_id")
    assert by_id.loc[2, "title"] == "unknown" and pd.isna(by_id.loc[2, "year"])
    assert by_id.loc[2, "unknown"] == 1
    assert by_id.loc[3, "title"].endswith("(1995) (V)") and by_id.loc[3, "year"] == 1995
    assert by_id.loc[4, "title"] == "Cérémonie, La (1995)"
    assert by_id.loc[5, "year"] == 1995  # the last "(dddd)", not "(Yao a yao …)"
    assert users["zip_code"].tolist() == ["85711", "01002", "T8H1N"]
    assert list(items.columns) == ["item_id", "title", "year", *GENRES]


def test_recbole_unknown_genre_is_a_clear_error(tmp_path):
    members = recbole_members()
    key = "recbole/dataset_example/ml-100k/ml-100k.item"
    members[key] = members[key].replace(b"Drama", b"Dramedy", 1)
    (tmp_path / "w.whl").write_bytes(_zip(members))
    with pytest.raises(data.DataFormatError, match="unknown genre 'Dramedy'"):
        data.read_recbole_wheel(tmp_path / "w.whl")


def test_grouplens_malformed_line_names_member_and_line(tmp_path):
    members = grouplens_members()
    members["ml-100k/u.user"] += b"4|30|M|writer\n"  # 4 fields instead of 5
    (tmp_path / "g.zip").write_bytes(_zip(members))
    with pytest.raises(data.DataFormatError, match=r"u\.user, line 4: expected 5 fields"):
        data.read_grouplens_zip(tmp_path / "g.zip")


def test_content_hash_ignores_dtype_backend_row_order_and_index():
    ratings, items, users = expected_tables()
    as_object = items.astype({"title": object})
    shuffled = ratings.sample(frac=1.0, random_state=0).set_index(np.arange(10, 17))
    narrow = ratings.astype("int32")
    assert data.content_hash(shuffled, as_object, users) == EXPECTED_HASH
    assert data.content_hash(narrow, items, users.astype(object)) == EXPECTED_HASH


@pytest.mark.parametrize(
    ("index", "change"),
    [
        (0, lambda r: r.assign(rating=r["rating"].where(r.index != 0, 2))),
        (1, lambda i: i.assign(title=i["title"].str.replace("Toy", "Joy"))),
        (2, lambda u: u.assign(zip_code=u["zip_code"].str.replace("01002", "1002"))),
    ],
    ids=["rating", "title", "zip-leading-zero"],
)
def test_content_hash_changes_with_any_value(index, change):
    tables = list(expected_tables())
    tables[index] = change(tables[index])
    assert data.content_hash(*tables) != EXPECTED_HASH


def test_content_hash_rejects_non_canonical_tables():
    ratings, items, users = expected_tables()
    with pytest.raises(data.DataFormatError, match="must have columns"):
        data.content_hash(ratings[["item_id", "user_id", "rating", "timestamp"]], items, users)
    with pytest.raises(data.DataFormatError, match="duplicate"):
        data.content_hash(pd.concat([ratings, ratings.head(1)]), items, users)
    with pytest.raises(data.DataFormatError, match="0 or 1"):
        data.content_hash(ratings, items.assign(Drama=2), users)
    with pytest.raises(data.DataFormatError, match="tabs or newlines"):
        data.content_hash(ratings, items.assign(title="a\tb"), users)
    with pytest.raises(data.DataFormatError, match="not an integer: 'x'"):
        data.content_hash(ratings.astype({"rating": object}).assign(rating="x"), items, users)


# Any text but tab, CR and LF (which the canonical files cannot hold); surrogates are not UTF-8.
_TITLE = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\t\r\n"), max_size=30
)


@settings(max_examples=25, deadline=None)
@given(titles=st.lists(_TITLE, min_size=1, max_size=6), zips=st.lists(_TITLE, min_size=1))
def test_cache_files_round_trip_any_text(titles, zips):
    """What the cache writes (the content_hash serialisation) reads back to equal frames."""
    ratings, _, _ = expected_tables()
    items = pd.DataFrame(
        {
            "item_id": np.arange(1, len(titles) + 1, dtype=np.int64),
            "title": pd.Series(titles, dtype=str),
            "year": pd.array([data._year_of(t) for t in titles], dtype="Int64"),
        }
    )
    for genre in GENRES:
        items[genre] = np.int8(0)
    users = pd.DataFrame(
        {
            "user_id": np.arange(1, len(zips) + 1, dtype=np.int64),
            "age": np.int64(30),
            "gender": "F",
            "occupation": "other",
            "zip_code": pd.Series(zips, dtype=str),
        }
    )
    tables = (ratings, items, users)
    files = {
        name: data._table_bytes(t, name) for name, t in zip(data.TABLE_NAMES, tables, strict=True)
    }
    for got, want in zip(data._tables_from_bytes(files, "mem"), tables, strict=True):
        pd.testing.assert_frame_equal(got, data._canonical_table(want, _name(want), "t"))


def _name(frame):
    return {"rating": "ratings", "title": "items", "zip_code": "users"}[
        next(c for c in ("rating", "title", "zip_code") if c in frame.columns)
    ]


def test_cache_text_survives_values_pandas_would_treat_as_missing(root, fake):
    ratings, items, users = expected_tables()
    items["title"] = pd.Series(["NA", "null", "", '"quoted" title', "N/A"], dtype=str)
    items["year"] = pd.array([None] * 5, dtype="Int64")
    tables = (ratings, items, users)
    files = {n: data._table_bytes(t, n) for n, t in zip(data.TABLE_NAMES, tables, strict=True)}
    _, got, _ = data._tables_from_bytes(files, "mem")
    assert got["title"].tolist() == ["NA", "null", "", '"quoted" title', "N/A"]


# --------------------------------------------------------------------------------------------
# Fetching, caching, verifying
# --------------------------------------------------------------------------------------------


def test_cold_fetch_falls_through_then_warm_load_uses_cache(root, fake, capsys):
    fake.serve["grouplens"] = urllib.error.URLError("Name or service not known")
    ml = load(root, fake, verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert "trying grouplens" in lines[0] and "failed" in lines[0]
    assert "trying recbole" in lines[1] and "ok" in lines[1]
    assert ml.source == "recbole" and ml.content_hash == EXPECTED_HASH
    for got, want in zip((ml.ratings, ml.items, ml.users), expected_tables(), strict=True):
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert files_under(root) == sorted(["raw/recbole-1.2.1-py3-none-any.whl", *CACHE_FILES])
    assert (root / "raw/recbole-1.2.1-py3-none-any.whl").read_bytes() == RECBOLE_WHEEL
    record = json.loads((root / "ml-100k/SOURCE.json").read_text())
    assert record["source"] == "recbole"
    assert record["archive"] == "raw/recbole-1.2.1-py3-none-any.whl"
    assert record["archive_checksum"] == hashlib.sha256(RECBOLE_WHEEL).hexdigest()
    assert record["content_sha256"] == EXPECTED_HASH

    before = snapshot(root)
    again = load(root, fake, verbose=True)
    assert fake.calls == Counter(grouplens=1, recbole=1)  # no second fetch
    assert snapshot(root) == before
    pd.testing.assert_frame_equal(again.items, ml.items)
    assert again.source == "recbole"
    assert "MovieLens100K(ratings=(7, 4)" in repr(again)


def test_warm_load_prints_one_line(root, fake, capsys):
    load(root, fake)
    load(root, fake, verbose=True)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "verified cache" in out[0]


def test_fetch_movielens_returns_cache_folder(root, fake):
    folder = data.fetch_movielens(
        root, verbose=False, sources=fake.sources, expected_hash=EXPECTED_HASH
    )
    assert folder == root.resolve() / "ml-100k"
    assert sorted(p.name for p in folder.iterdir()) == [
        "SOURCE.json",
        "items.tsv",
        "ratings.tsv",
        "users.tsv",
    ]


def test_downloads_go_to_a_temp_file_in_the_same_folder(root, fake):
    final = root.resolve() / "raw" / "ml-100k.zip"
    seen = {}

    def fetch(dest):
        seen["dest"], seen["final_existed"] = dest, final.exists()
        dest.write_bytes(GROUPLENS_ZIP)

    grouplens, recbole = fake.sources
    load(root, fake, sources=(dataclasses.replace(grouplens, fetch=fetch), recbole))
    assert seen["dest"].parent == final.parent and seen["dest"].name != final.name
    assert not seen["final_existed"] and not seen["dest"].exists()
    assert final.read_bytes() == GROUPLENS_ZIP
    assert files_under(root) == sorted(["raw/ml-100k.zip", *CACHE_FILES])


def test_grouplens_and_recbole_caches_are_byte_identical(tmp_path, fake):
    load(tmp_path / "a", fake)  # grouplens first
    fake.serve["grouplens"] = OSError("offline")
    load(tmp_path / "b", fake)  # falls through to recbole
    for name in ("ratings.tsv", "items.tsv", "users.tsv"):
        a = (tmp_path / "a/ml-100k" / name).read_bytes()
        assert a == (tmp_path / "b/ml-100k" / name).read_bytes()
    assert json.loads((tmp_path / "b/ml-100k/SOURCE.json").read_text())["source"] == "recbole"


def test_wrong_checksum_is_reported_and_falls_through(root, fake, capsys):
    fake.serve["grouplens"] = GROUPLENS_ZIP[:-1] + bytes([GROUPLENS_ZIP[-1] ^ 1])
    ml = load(root, fake, verbose=True)
    out = capsys.readouterr().out
    assert ml.source == "recbole"
    assert "ml-100k.zip has sha1" in out
    assert f"expected {hashlib.sha1(GROUPLENS_ZIP).hexdigest()}" in out
    assert not (root / "raw/ml-100k.zip").exists()
    assert files_under(root) == sorted(["raw/recbole-1.2.1-py3-none-any.whl", *CACHE_FILES])


def test_archive_that_is_not_a_zip_is_reported_and_falls_through(root, fake):
    junk = b"<html>Service unavailable</html>"
    grouplens, recbole = fake.sources
    pinned_junk = dataclasses.replace(grouplens, checksum=hashlib.sha1(junk).hexdigest())
    fake.serve["grouplens"] = junk
    with pytest.raises(data.DataUnavailableError) as caught:
        load(root, fake, sources=(pinned_junk,))
    assert "downloaded ml-100k.zip is not a readable zip archive" in str(caught.value)
    assert files_under(root) == []
    ml = load(root, fake, sources=(pinned_junk, recbole))
    assert ml.source == "recbole"
    assert not (root / "raw/ml-100k.zip").exists()


def test_failed_fetches_leave_no_partial_files(root, fake):
    fake.serve["grouplens"] = TimeoutError("timed out")
    fake.serve["recbole"] = OSError("pip: connection reset")
    with pytest.raises(data.DataUnavailableError):
        load(root, fake)
    assert files_under(root) == []
    assert all(not dest.exists() for dest in fake.dests)


def test_parse_failure_after_checksum_leaves_no_files(root, fake):
    members = recbole_members()
    del members["recbole/dataset_example/ml-100k/ml-100k.user"]
    broken = _zip(members)
    grouplens, recbole = fake.sources
    source = dataclasses.replace(recbole, checksum=hashlib.sha256(broken).hexdigest())
    fake.serve["recbole"] = broken
    with pytest.raises(data.DataUnavailableError, match="has no member"):
        load(root, fake, sources=(source,))
    assert files_under(root) == []


def test_every_source_failing_is_one_clear_error(root, fake):
    fake.serve["grouplens"] = urllib.error.URLError("Name or service not known")
    fake.serve["recbole"] = OSError("pip exited with 1")
    with pytest.raises(data.DataUnavailableError) as caught:
        load(root, fake)
    error = caught.value
    message = str(error)
    raw = root.resolve() / "raw"
    assert [name for name, _ in error.failures] == ["grouplens", "recbole"]
    assert "Name or service not known" in message and "pip exited with 1" in message
    assert f"{raw / 'ml-100k.zip'}  (sha1 {hashlib.sha1(GROUPLENS_ZIP).hexdigest()})" in message
    wheel_line = f"{raw / 'recbole-1.2.1-py3-none-any.whl'}  (sha256 "
    assert wheel_line + hashlib.sha256(RECBOLE_WHEEL).hexdigest() in message
    assert f"--only-binary=:all: recbole==1.2.1 -d {raw}" in message
    assert isinstance(error, RuntimeError)


@pytest.mark.parametrize(
    "member",
    ["../evil.txt", "/etc/evil", "ml-100k/../../evil", "C:/evil", "..\\evil", "ml-100k\\..\\x"],
)
def test_unsafe_member_paths_are_rejected(tmp_path, root, fake, member):
    members = grouplens_members()
    members[member] = b"payload"
    crafted = _zip(members)
    (tmp_path / "crafted.zip").write_bytes(crafted)
    with pytest.raises(data.DataFormatError, match="unsafe member paths"):
        data.read_grouplens_zip(tmp_path / "crafted.zip")

    grouplens, recbole = fake.sources
    pinned = dataclasses.replace(grouplens, checksum=hashlib.sha1(crafted).hexdigest())
    fake.serve["grouplens"] = crafted
    ml = load(root, fake, sources=(pinned, recbole))  # rejected, falls through
    assert ml.source == "recbole"
    assert not (root / "raw/ml-100k.zip").exists()
    assert not list(tmp_path.rglob("evil*"))


@pytest.mark.parametrize("table", ["ratings", "items", "users"])
@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_damaged_table_is_detected_and_rebuilt_from_raw(root, fake, table, damage):
    load(root, fake)
    before = snapshot(root)
    path = root / "ml-100k" / f"{table}.tsv"
    content = bytearray(path.read_bytes())
    if damage == "flip":
        content[len(content) // 2] ^= 0x01  # one byte altered
        path.write_bytes(bytes(content))
    elif damage == "truncate":
        path.write_bytes(bytes(content[: len(content) // 2]))
    else:
        path.unlink()
    with pytest.warns(data.DataCacheWarning, match=rf"{table}\.tsv"):
        ml = load(root, fake)
    assert fake.calls == Counter(grouplens=1)  # rebuilt from data/raw, not fetched again
    assert snapshot(root) == before
    pd.testing.assert_frame_equal(ml.ratings, expected_tables()[0])


def test_damaged_source_json_is_detected_and_rebuilt(root, fake):
    load(root, fake)
    before = snapshot(root)
    (root / "ml-100k/SOURCE.json").write_text("{not json")
    with pytest.warns(data.DataCacheWarning, match="SOURCE.json"):
        load(root, fake)
    assert snapshot(root) == before


def test_damaged_raw_archive_is_reported_and_replaced_when_a_rebuild_needs_it(root, fake):
    fake.serve["grouplens"] = OSError("offline")
    load(root, fake)
    before = snapshot(root)
    wheel = root / "raw/recbole-1.2.1-py3-none-any.whl"
    content = bytearray(wheel.read_bytes())
    content[100] ^= 0xFF
    wheel.write_bytes(bytes(content))
    good, bad = hashlib.sha256(RECBOLE_WHEEL).hexdigest(), hashlib.sha256(content).hexdigest()
    # the tables still verify: they are served, the bad archive is reported, nothing fetched
    with pytest.warns(data.DataCacheWarning, match=rf"whl has sha256 {bad}, expected {good}"):
        ml = load(root, fake)
    assert fake.calls["recbole"] == 1 and ml.source == "recbole"
    # once the tables need a rebuild, the bad archive is fetched again and replaced
    (root / "ml-100k/items.tsv").unlink()
    with pytest.warns(data.DataCacheWarning):
        ml = load(root, fake)
    assert fake.calls["recbole"] == 2  # fetched again
    assert snapshot(root) == before
    assert ml.source == "recbole"


def test_truncated_raw_archive_with_missing_tables_is_refetched(root, fake):
    load(root, fake)
    archive = root / "raw/ml-100k.zip"
    archive.write_bytes(archive.read_bytes()[:1000])
    (root / "ml-100k/items.tsv").unlink()
    with pytest.warns(data.DataCacheWarning):
        ml = load(root, fake)
    assert fake.calls["grouplens"] == 2
    assert archive.read_bytes() == GROUPLENS_ZIP
    assert ml.source == "grouplens"


def test_failures_never_delete_a_good_cache(root, fake):
    load(root, fake)
    archive = root / "raw/ml-100k.zip"
    archive.write_bytes(b"tampered")
    tables_before = {n: (root / "ml-100k" / n).read_bytes() for n in ("items.tsv", "users.tsv")}
    fake.serve["grouplens"] = OSError("offline")
    fake.serve["recbole"] = OSError("offline")
    with pytest.warns(data.DataCacheWarning) as warned:
        ml = load(root, fake)  # the verified tables are still served, without any fetch
    messages = [str(w.message) for w in warned]
    assert any(f"{archive} has sha1" in m and "verified tables" in m for m in messages)
    assert fake.calls == Counter(grouplens=1)
    assert ml.content_hash == EXPECTED_HASH
    assert archive.read_bytes() == b"tampered"  # left for the user to inspect
    for name, payload in tables_before.items():
        assert (root / "ml-100k" / name).read_bytes() == payload

    before = snapshot(root)
    with pytest.raises(data.DataUnavailableError), pytest.warns(data.DataCacheWarning):
        load(root, fake, expected_hash="0" * 64)  # a new pin that nothing can satisfy
    assert snapshot(root) == before


def test_verified_local_archive_is_used_without_network(root, fake):
    (root / "raw").mkdir(parents=True)
    (root / "raw/recbole-1.2.1-py3-none-any.whl").write_bytes(RECBOLE_WHEEL)  # placed by hand
    ml = load(root, fake)
    assert ml.source == "recbole" and not fake.calls


# --------------------------------------------------------------------------------------------
# The real fetchers, with the network replaced
# --------------------------------------------------------------------------------------------


def test_grouplens_fetcher_streams_with_a_short_timeout(tmp_path, monkeypatch):
    seen = {}

    def urlopen(url, timeout):
        seen["url"], seen["timeout"] = url, timeout
        return io.BytesIO(b"zip bytes")

    monkeypatch.setattr(data, "_urlopen", urlopen)
    data._download_grouplens(tmp_path / "x.part")
    assert (tmp_path / "x.part").read_bytes() == b"zip bytes"
    assert seen == {"url": data.GROUPLENS_URL, "timeout": 20}


def test_grouplens_fetcher_reports_network_errors(tmp_path, monkeypatch):
    def urlopen(url, timeout):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(data, "_urlopen", urlopen)
    with pytest.raises(data._SourceFailed, match="Name or service not known"):
        data._download_grouplens(tmp_path / "x.part")


def test_recbole_fetcher_runs_pip_download_without_installing(tmp_path, monkeypatch):
    seen = {}

    def run_pip(args, timeout):
        seen["args"] = args
        folder = Path(args[args.index("-d") + 1])
        assert folder.parent == tmp_path  # pip's folder sits next to the destination
        (folder / "recbole-1.2.1-py3-none-any.whl").write_bytes(b"wheel")
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(data, "_run_pip", run_pip)
    data._pip_download_recbole(tmp_path / "w.part")
    assert (tmp_path / "w.part").read_bytes() == b"wheel"
    assert seen["args"][:3] == ["download", "--no-deps", "--only-binary=:all:"]
    assert "recbole==1.2.1" in seen["args"] and "install" not in seen["args"]
    assert files_under(tmp_path) == ["w.part"]  # the pip folder is gone


def test_recbole_fetcher_reports_pip_failure_and_cleans_up(tmp_path, monkeypatch):
    def run_pip(args, timeout):
        return subprocess.CompletedProcess(args, 1, "", "ERROR: No matching distribution\n")

    monkeypatch.setattr(data, "_run_pip", run_pip)
    with pytest.raises(data._SourceFailed, match="exited with 1: ERROR: No matching"):
        data._pip_download_recbole(tmp_path / "w.part")
    assert list(tmp_path.iterdir()) == []


def test_run_pip_uses_this_interpreter(monkeypatch):
    seen = {}

    def run(command, **kwargs):
        seen["command"], seen["kwargs"] = command, kwargs
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(data.subprocess, "run", run)
    REAL_RUN_PIP(["--version"], timeout=5)  # the autouse guard replaced data._run_pip
    assert seen["command"][:3] == [sys.executable, "-m", "pip"]
    assert seen["kwargs"]["timeout"] == 5


# --------------------------------------------------------------------------------------------
# read_interactions
# --------------------------------------------------------------------------------------------


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_interactions_tsv_with_string_ids(tmp_path):
    path = write(tmp_path, "log.tsv", "user_id\titem_id\nalice\tB0001\nbob\t007\n")
    frame = data.read_interactions(path)
    assert frame.columns.tolist() == ["user_id", "item_id"]
    assert frame["user_id"].tolist() == ["alice", "bob"]
    assert frame["item_id"].tolist() == ["B0001", "007"]  # leading zeros kept: ids stay text


def test_read_interactions_csv_with_all_columns(tmp_path):
    text = (
        "item_id,user_id,rating,timestamp,source\n10,1,4.5,881250949,web\n11,2,3,881250950.0,app\n"
    )
    frame = data.read_interactions(write(tmp_path, "r.csv", text))
    assert frame.columns.tolist() == ["user_id", "item_id", "rating", "timestamp", "source"]
    assert frame["user_id"].dtype == np.int64 and frame["item_id"].tolist() == [10, 11]
    assert frame["rating"].tolist() == [4.5, 3.0] and frame["rating"].dtype == np.float64
    assert frame["timestamp"].tolist() == [881250949, 881250950]
    assert frame["timestamp"].dtype == np.int64
    assert frame["source"].tolist() == ["web", "app"]


def test_read_interactions_sniffs_separator_and_skips_blank_lines(tmp_path):
    frame = data.read_interactions(write(tmp_path, "r.txt", "user_id\titem_id\n1\t2\n\n3\t4\n"))
    assert frame.values.tolist() == [[1, 2], [3, 4]]


def test_read_interactions_missing_column_is_named(tmp_path):
    path = write(tmp_path, "r.csv", "user,item_id,rating\n1,2,3\n")
    with pytest.raises(data.DataFormatError) as caught:
        data.read_interactions(path)
    message = str(caught.value)
    assert "missing required column 'user_id'" in message
    assert "['user', 'item_id', 'rating']" in message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("text", ["", "\n\n  \n"])
def test_read_interactions_empty_file(tmp_path, text):
    with pytest.raises(data.DataFormatError, match="is empty"):
        data.read_interactions(write(tmp_path, "r.csv", text))


def test_read_interactions_header_without_rows(tmp_path):
    with pytest.raises(data.DataFormatError, match="no rows"):
        data.read_interactions(write(tmp_path, "r.csv", "user_id,item_id\n"))


@pytest.mark.parametrize("bad", ["1,2,3,4", "1"])
def test_read_interactions_wrong_field_count_names_the_line(tmp_path, bad):
    path = write(tmp_path, "r.csv", f"user_id,item_id,rating\n1,2,3\n2,3,4\n{bad}\n")
    with pytest.raises(data.DataFormatError, match=r"line 4: expected 3 fields"):
        data.read_interactions(path)


def test_read_interactions_empty_id_names_the_line(tmp_path):
    path = write(tmp_path, "r.csv", "user_id,item_id\n1,2\n,3\n")
    with pytest.raises(data.DataFormatError, match="line 3: empty 'user_id'"):
        data.read_interactions(path)


@pytest.mark.parametrize(
    ("column", "text", "value"),
    [
        ("rating", "user_id,item_id,rating\n1,2,4\n1,3,five\n1,4,x\n", "'five' on line 3"),
        ("rating", "user_id,item_id,rating\n1,2,\n", "'' on line 2"),
        ("timestamp", "user_id,item_id,timestamp\n1,2,2024-01-01\n", "'2024-01-01' on line 2"),
    ],
)
def test_read_interactions_non_numeric_values_are_named(tmp_path, column, text, value):
    with pytest.raises(data.DataFormatError, match=rf"column '{column}' must be numeric") as c:
        data.read_interactions(write(tmp_path, "r.csv", text))
    assert f"first bad value {value}" in str(c.value)


def test_read_interactions_fractional_timestamp(tmp_path):
    with pytest.raises(data.DataFormatError, match="whole seconds; first bad value '1.5'"):
        data.read_interactions(write(tmp_path, "r.csv", "user_id,item_id,timestamp\n1,2,1.5\n"))


def test_read_interactions_reads_the_canonical_ratings_file(root, fake):
    load(root, fake)
    frame = data.read_interactions(root / "ml-100k/ratings.tsv")
    expected = expected_tables()[0].astype({"rating": np.float64})
    pd.testing.assert_frame_equal(frame, expected)


# --------------------------------------------------------------------------------------------
# Command line and module hygiene
# --------------------------------------------------------------------------------------------


def test_main_prints_a_summary(root, fake, monkeypatch, capsys):
    monkeypatch.setattr(data, "SOURCES", fake.sources)
    monkeypatch.setattr(data, "ML100K_CONTENT_SHA256", EXPECTED_HASH)
    assert data.main(["--data-dir", str(root), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "source 'grouplens'" in out and "7 ratings by 3 users of 5 items" in out
    assert EXPECTED_HASH in out and str(root.resolve() / "ml-100k") in out


def test_main_exits_1_with_the_error(root, fake, monkeypatch, capsys):
    fake.serve["grouplens"] = fake.serve["recbole"] = OSError("offline")
    monkeypatch.setattr(data, "SOURCES", fake.sources)
    assert data.main(["--data-dir", str(root), "--quiet"]) == 1
    assert "every source failed" in capsys.readouterr().err


def test_importing_data_does_not_import_tensorflow():
    code = "import sys, gnnrec_utils.data; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------------------------
# read_interactions: quotes, ids written as floats, missing-value ids (issue 16)
# --------------------------------------------------------------------------------------------


def _rows_with_quotes(sep):
    lines = [sep.join(["user_id", "item_id", "comment"])]
    for k in range(480):
        comment = {100: '"great film', 103: 'so-so"'}.get(k, "ok")
        lines.append(sep.join([str(k % 30 + 1), str(k % 80 + 1), comment]))
    return "\n".join(lines) + "\n"


def test_read_interactions_tsv_has_no_quoting(tmp_path):
    frame = data.read_interactions(write(tmp_path, "r.tsv", _rows_with_quotes("\t")))
    assert len(frame) == 480  # no row swallowed by the unmatched quote
    assert frame["comment"].iloc[100] == '"great film' and frame["comment"].iloc[103] == 'so-so"'


def test_read_interactions_csv_field_over_several_lines_is_refused(tmp_path):
    with pytest.raises(data.DataFormatError, match=r"lines 102-105: a quoted field runs over 4"):
        data.read_interactions(write(tmp_path, "r.csv", _rows_with_quotes(",")))
    # well-formed CSV quoting still works
    frame = data.read_interactions(write(tmp_path, "q.csv", 'user_id,item_id,c\n1,2,"a, ""b"""\n'))
    assert frame["c"].tolist() == ['a, "b"']


def test_read_interactions_reads_integer_ids_written_as_floats(tmp_path):
    frame = data.read_interactions(write(tmp_path, "r.csv", "user_id,item_id\n1.0,13.0\n2,7\n"))
    assert frame["user_id"].tolist() == [1, 2] and frame["item_id"].tolist() == [13, 7]
    assert frame["item_id"].dtype == np.int64
    # text ids stay exactly as written: leading zeros and fractions are not numbers here
    frame = data.read_interactions(write(tmp_path, "s.csv", "user_id,item_id\n007,13.5\n1,13.0\n"))
    assert frame["user_id"].tolist() == ["007", "1"] and frame["item_id"].tolist() == [
        "13.5",
        "13.0",
    ]


@pytest.mark.parametrize("marker", ["NaN", "nan", "NA", "null", "None", "#N/A"])
def test_read_interactions_refuses_missing_value_markers_as_ids(tmp_path, marker):
    path = write(tmp_path, "r.tsv", f"user_id\titem_id\n1\t2\n3\t{marker}\n")
    with pytest.raises(data.DataFormatError, match=rf"line 3: item_id '{marker}' marks a missing"):
        data.read_interactions(path)
