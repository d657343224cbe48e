"""Fault injection for the MovieLens loader (issue 16): killed fetches, read-only and odd
cache folders, verified tables without network, warnings that point at the caller.

Read-only folders: the tests run as root in CI, and root ignores ``chmod``. So the loads that
must meet a read-only folder run in a subprocess started through ``setpriv`` with
``CAP_DAC_OVERRIDE``/``CAP_DAC_READ_SEARCH``/``CAP_FOWNER`` dropped from its capability
bounding set: a root process without them obeys the owner's permission bits like any user.
Each such test first checks that the subprocess really cannot write there, so it cannot pass
vacuously. (As a non-root user, plain ``chmod`` suffices and no prefix is used.)
"""

from __future__ import annotations

from gnnrec_utils import data

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.unit.test_data import (
    CACHE_FILES,
    EXPECTED_HASH,
    GROUPLENS_ZIP,
    RECBOLE_WHEEL,
    FakeSources,
    load,
    snapshot,
)
from tests.unit.test_data import no_network as _no_network  # noqa: F401  (autouse guard)

pytestmark = pytest.mark.unit


@pytest.fixture
def fake():
    return FakeSources()


@pytest.fixture
def root(tmp_path):
    return tmp_path / "data"


ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}

# --------------------------------------------------------------------------------------------
# Helpers: loads in a subprocess, optionally without root's permission override
# --------------------------------------------------------------------------------------------

# Loads with the synthetic archives' checksums; every fetch fails (no network in tests).
LOAD_SCRIPT = """
import dataclasses, json, sys
from gnnrec_utils import data
root, sha1, sha256, expected = sys.argv[1:5]
def offline(dest):
    raise OSError("offline (test)")
grouplens, recbole = data.SOURCES
sources = (dataclasses.replace(grouplens, checksum=sha1, fetch=offline),
           dataclasses.replace(recbole, checksum=sha256, fetch=offline))
try:
    ml = data.load_movielens(root, verbose=False, sources=sources, expected_hash=expected)
except data.DataUnavailableError as error:
    print(json.dumps({"error": str(error), "failures": list(error.failures)}))
    raise SystemExit(3)
print(json.dumps({"rows": len(ml.ratings)}))
"""


def unprivileged() -> list[str]:
    """Command prefix under which permission bits apply (see the module docstring)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a folder read-only for us")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def run_load(folder: Path, prefix: list[str]) -> tuple[int, dict, str]:
    args = [
        str(folder),
        hashlib.sha1(GROUPLENS_ZIP).hexdigest(),
        hashlib.sha256(RECBOLE_WHEEL).hexdigest(),
        EXPECTED_HASH,
    ]
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", LOAD_SCRIPT, *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout or "{}"), proc.stderr


def assert_cannot_write(folder: Path, prefix: list[str]) -> None:
    """The test's premise: under ``prefix``, creating a file in ``folder`` fails."""
    probe = f"open({str(folder / 'probe')!r}, 'w')"
    proc = subprocess.run([*prefix, sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode != 0 and "PermissionError" in proc.stderr, "folder is writable"


def make_read_only(*folders: Path) -> None:
    for folder in folders:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)


@pytest.fixture
def restore_permissions(tmp_path):
    yield
    for path in [tmp_path, *tmp_path.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)


# --------------------------------------------------------------------------------------------
# Read-only and odd cache folders: one DataUnavailableError naming the path and a fix
# --------------------------------------------------------------------------------------------


def test_truncated_table_in_read_only_folder_is_a_clear_error(root, fake, restore_permissions):
    load(root, fake)
    ratings = root / "ml-100k/ratings.tsv"
    ratings.write_bytes(ratings.read_bytes()[:40])
    before = snapshot(root)
    make_read_only(root / "ml-100k", root / "raw", root)
    prefix = unprivileged()
    assert_cannot_write(root / "ml-100k", prefix)
    code, out, stderr = run_load(root, prefix)
    assert code == 3, stderr
    message = out["error"]
    assert f"{root.resolve() / 'ml-100k'} cannot be written (Permission denied)" in message
    assert "chmod -R u+w" in message and "GNNREC_DATA_DIR=<folder>" in message
    assert "put ONE of these files" not in message  # no advice that cannot work
    assert "ratings.tsv" in stderr  # the warning that says what was wrong with the cache
    assert snapshot(root) == before


def test_empty_read_only_folder_is_a_clear_error(tmp_path, restore_permissions):
    folder = tmp_path / "ro"
    folder.mkdir()
    make_read_only(folder)
    prefix = unprivileged()
    assert_cannot_write(folder, prefix)
    code, out, stderr = run_load(folder, prefix)
    assert code == 3, stderr
    message = out["error"]
    assert str(folder / "ml-100k") in message and "Permission denied" in message
    assert f"chmod -R u+w {folder}" in message and "GNNREC_DATA_DIR" in message
    assert "put ONE of these files" not in message and out["failures"] == []
    assert list(folder.iterdir()) == []


def test_unreadable_table_is_a_clear_error(root, fake, restore_permissions):
    load(root, fake)
    ratings = root / "ml-100k/ratings.tsv"
    ratings.chmod(0)
    prefix = unprivileged()
    code, out, stderr = run_load(root, prefix)
    assert code == 3, stderr
    assert f"cannot read {ratings.resolve()} (Permission denied)" in out["error"]


@pytest.mark.parametrize("path", ["ml-100k/ratings.tsv", "ml-100k/SOURCE.json", "raw/ml-100k.zip"])
def test_a_folder_where_a_cache_file_belongs_is_a_clear_error(root, fake, path):
    load(root, fake)
    target = root / path
    target.unlink()
    target.mkdir()
    if path.startswith("raw/"):  # the tables must need a rebuild for the archive to matter
        (root / "ml-100k/items.tsv").unlink()
    with pytest.raises(data.DataUnavailableError, match="is a folder; move it away") as caught:
        with pytest.warns(data.DataCacheWarning) if path.startswith("raw/") else _nothing():
            load(root, fake)
    assert str(target.resolve()) in str(caught.value)
    assert target.is_dir()  # never removed: it may hold the user's files


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# --------------------------------------------------------------------------------------------
# Killed fetches leave debris; the next load removes it (and only stale debris)
# --------------------------------------------------------------------------------------------

# A fetch of the RecBole wheel killed mid-download: pip has written part of the wheel.
KILLED_FETCH_SCRIPT = """
import dataclasses, sys, time
from pathlib import Path
from gnnrec_utils import data
def run_pip(args, timeout):
    folder = Path(args[args.index("-d") + 1])
    (folder / "recbole-1.2.1-py3-none-any.whl").write_bytes(b"partial wheel" * 1000)
    print("downloading", flush=True)
    time.sleep(300)
data._run_pip = run_pip
grouplens, recbole = data.SOURCES
def offline(dest):
    raise OSError("offline (test)")
sources = (dataclasses.replace(grouplens, fetch=offline), recbole)
data.load_movielens(sys.argv[1], verbose=False, sources=sources)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_fetch_leaves_debris_that_the_next_load_removes(root, fake, sig):
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_FETCH_SCRIPT, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        assert proc.stdout.readline().strip() == "downloading", proc.stderr.read()
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    raw = root / "raw"
    debris = sorted(p.name for p in raw.iterdir())
    # the premise: what a killed fetch leaves (pip's folder with the partial wheel, and the
    # temporary file that was to receive the verified wheel), both named with the dead pid
    assert any(n.startswith(f".pip-download-{proc.pid}-") for n in debris), debris
    assert any(n.startswith(f".recbole-1.2.1-py3-none-any.whl.{proc.pid}.") for n in debris)

    ml = load(root, fake)
    assert ml.source == "grouplens"
    assert sorted(p.name for p in raw.iterdir()) == ["ml-100k.zip"]
    assert sorted(p.name for p in (root / "ml-100k").iterdir()) == sorted(
        Path(f).name for f in CACHE_FILES
    )


def test_cleanup_spares_a_concurrent_load_and_removes_old_nameless_debris(root, fake):
    load(root, fake)
    raw = root / "raw"
    live = raw / f".ml-100k.zip.{os.getpid()}.abcd1234.part"  # this process: alive
    live.write_bytes(b"in progress")
    recent = raw / ".ml-100k.zip.k2j3h4l5.part"  # an older load's name without a pid
    recent.write_bytes(b"?")
    old_dir = raw / ".pip-download-x1y2z3"
    old_dir.mkdir()
    (old_dir / "recbole.whl").write_bytes(b"partial")
    long_ago = time.time() - data.STALE_AFTER_S - 60
    os.utime(old_dir, (long_ago, long_ago))
    unrelated = raw / "notes.part"  # not one of ours (no leading dot)
    unrelated.write_bytes(b"mine")
    load(root, fake)
    assert live.exists() and recent.exists() and unrelated.exists()
    assert not old_dir.exists()
    os.utime(recent, (long_ago, long_ago))
    load(root, fake)
    assert not recent.exists() and live.exists()


# --------------------------------------------------------------------------------------------
# Verified tables need no network; warnings point at the caller and show both hashes
# --------------------------------------------------------------------------------------------


def test_verified_tables_without_archive_need_no_network(root, fake, capsys):
    load(root, fake)
    (root / "raw/ml-100k.zip").unlink()
    calls = Counter(fake.calls)
    # a source that would hang (a proxy that accepts and never answers) must not be reached
    fake.serve["grouplens"] = fake.serve["recbole"] = AssertionError("network reached")
    before = snapshot(root)
    ml = load(root, fake, verbose=True)
    assert fake.calls == calls  # no fetch at all (and the autouse guard saw no pip/urlopen)
    assert ml.content_hash == EXPECTED_HASH and ml.source == "grouplens"
    assert "raw archive absent (not needed while the tables verify)" in capsys.readouterr().out
    assert snapshot(root) == before


def test_tampered_record_warning_shows_two_different_hashes_at_the_callers_line(root, fake):
    load(root, fake)
    record_path = root / "ml-100k/SOURCE.json"
    record = json.loads(record_path.read_text())
    record["content_sha256"] = "0" * 64
    record_path.write_text(json.dumps(record))
    with pytest.warns(data.DataCacheWarning) as warned:
        load(root, fake)
    (warning,) = warned
    message = str(warning.message)
    assert f"records content hash '{'0' * 64}', expected {EXPECTED_HASH}" in message
    assert Path(warning.filename).name == "test_data.py"  # load() there calls load_movielens


def test_cache_warning_points_at_the_users_line(root, fake):
    load(root, fake)
    (root / "ml-100k/items.tsv").unlink()
    with pytest.warns(data.DataCacheWarning) as warned:
        data.load_movielens(  # the line the warning must name
            root, verbose=False, sources=fake.sources, expected_hash=EXPECTED_HASH
        )
    assert {Path(w.filename).name for w in warned} == {"test_robustness_data.py"}
