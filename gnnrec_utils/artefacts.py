"""Save and load the processed data set as plain files plus a checksummed manifest.

Notebook ``01_preprocessing`` writes ``<data_dir>/processed/``; every later notebook loads it
with :func:`load_artefacts`, which verifies each file against the manifest before using it.

Layout of an artefact folder::

    processed/
        manifest.json        what is there: shapes, dtypes, sha256 of every file, parameters
        <name>.npy           one NumPy array each (np.save, no pickles)
        <name>.tsv           one table each (tab-separated, UTF-8, fixed float format)

Reproducible bytes: ``.npy`` headers hold only dtype/shape/order, tables are written with a
fixed float format and ``\\n`` line ends, and the manifest is JSON with sorted keys and no
timestamps -- so saving the same data twice gives byte-identical files (and checksums). Zip
containers (``np.savez``) are avoided on purpose: zip entries carry modification times.

Atomic: everything is written to a temporary sibling folder first and swapped into place at
the end, so a crash leaves either the old complete set or the new complete set.

Defined in notebook ``01_preprocessing`` (section 7).
"""

from __future__ import annotations

from gnnrec_utils import __version__
from gnnrec_utils.notebook import json_plain
from gnnrec_utils.paths import repo_root

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
FLOAT_FORMAT = "%.17g"  # round-trips every float64 exactly
REBUILD_HINT = (
    "Re-run notebooks/01_preprocessing.ipynb (or `make data` / `make run`) to rebuild the "
    "processed artefacts."
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ArtefactError(RuntimeError):
    """A processed artefact is missing, changed or does not match what the caller expects."""


@dataclass(frozen=True)
class Artefacts:
    """What :func:`load_artefacts` returns.

    Attributes:
        arrays: name -> NumPy array.
        tables: name -> DataFrame (dtypes restored from the manifest).
        params: the parameters recorded at save time (seed, fractions, source hash …).
        manifest: the whole manifest as saved.
    """

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)


def display_path(path: str | os.PathLike) -> str:
    """``path`` for printing: relative to the repository root, else ``<outside repo>/<name>``.

    Notebooks and error messages print paths through this so no machine path is shown.
    """
    try:
        return Path(path).resolve().relative_to(repo_root()).as_posix()
    except ValueError:
        return f"<outside repo>/{Path(path).name}"


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``hashlib.file_digest``, read in blocks).

    The one file hash of the package: the artefact manifest here (SHA-256) and the verified
    downloads of :mod:`gnnrec_utils.data` (the algorithm its source pins) use it.
    """
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def _check_names(arrays: Mapping[str, Any], tables: Mapping[str, Any]) -> None:
    for name in list(arrays) + list(tables):
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"artefact name {name!r} must match {_NAME.pattern}")
    both = set(arrays) & set(tables)
    if both:
        raise ValueError(f"names used for both an array and a table: {sorted(both)}")


_TABLE_KINDS = {"i", "u", "f", "b"}


def _column_dtype(series: pd.Series) -> str:
    """The dtype name we store for a table column; raises for what we cannot round-trip."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        values = series.to_numpy(dtype=object)
        if any(not isinstance(v, str) for v in values):
            raise TypeError(
                f"column {series.name!r}: text columns must hold only strings (no missing values)"
            )
        return "str"
    if isinstance(dtype, (pd.Int64Dtype, pd.Int32Dtype, pd.Int16Dtype, pd.Int8Dtype)):
        return str(dtype)
    if isinstance(dtype, pd.BooleanDtype):
        return "boolean"
    if isinstance(dtype, np.dtype) and dtype.kind in _TABLE_KINDS:
        return dtype.name
    raise TypeError(f"column {series.name!r} has unsupported dtype {dtype}")


def _write_table(frame: pd.DataFrame, path: Path) -> list[dict[str, str]]:
    if not frame.columns.is_unique:
        raise ValueError(f"table {path.stem!r} has duplicate column names")
    columns = [{"name": str(c), "dtype": _column_dtype(frame[c])} for c in frame.columns]
    text = frame.to_csv(
        sep="\t", index=False, float_format=FLOAT_FORMAT, lineterminator="\n", na_rep=""
    )
    path.write_bytes(text.encode("utf-8"))
    return columns


def _read_table(path: Path, columns: list[dict[str, str]]) -> pd.DataFrame:
    dtypes = {c["name"]: c["dtype"] for c in columns}
    text_cols = [name for name, dt in dtypes.items() if dt == "str"]
    frame = pd.read_csv(
        path,
        sep="\t",
        dtype={name: (str if dt == "str" else dt) for name, dt in dtypes.items()},
        keep_default_na=False,
        na_values={name: [""] for name in dtypes if name not in text_cols},
        encoding="utf-8",
    )
    return frame[[c["name"] for c in columns]]


def save_artefacts(
    out_dir: str | os.PathLike,
    arrays: Mapping[str, np.ndarray],
    tables: Mapping[str, pd.DataFrame],
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Write arrays (``.npy``), tables (``.tsv``) and ``manifest.json`` to ``out_dir``, atomically.

    ``out_dir`` belongs to this function: an existing artefact folder (one with a manifest) is
    replaced as a whole. A non-empty folder *without* a manifest is refused, so a wrong path
    cannot wipe unrelated files.

    Args:
        out_dir: the artefact folder, e.g. ``data/processed``.
        arrays: name -> array (numeric, bool or fixed-width string dtype; no object arrays).
        tables: name -> DataFrame (int, float, bool, nullable int/bool and string columns).
        params: JSON-friendly parameters that produced the data (seed, split fractions,
            implicit threshold, source content hash …); the package version is added.

    Returns:
        The manifest (also written to ``out_dir/manifest.json``).
    """
    out = Path(out_dir)
    _check_names(arrays, tables)
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ArtefactError(
            f"refusing to overwrite '{display_path(out)}': it is not empty and has no {MANIFEST}"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    # os.mkdir honours the umask (tempfile.mkdtemp would leave the final folder mode 0700)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        files: dict[str, dict[str, Any]] = {}
        for name, array in arrays.items():
            arr = np.asarray(array)
            if arr.dtype.hasobject:
                raise TypeError(f"array {name!r} has dtype object; pickled arrays are not saved")
            filename = f"{name}.npy"
            np.save(tmp / filename, np.ascontiguousarray(arr), allow_pickle=False)
            files[filename] = {
                "kind": "array",
                "dtype": arr.dtype.str if arr.dtype.kind in "SU" else arr.dtype.name,
                "shape": list(arr.shape),
                "sha256": file_digest(tmp / filename),
            }
        for name, frame in tables.items():
            filename = f"{name}.tsv"
            columns = _write_table(frame, tmp / filename)
            files[filename] = {
                "kind": "table",
                "columns": columns,
                "rows": len(frame),
                "sha256": file_digest(tmp / filename),
            }
        manifest = {
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "params": json_plain(dict(params), paths="refuse"),
            "files": files,
        }
        text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (tmp / MANIFEST).write_bytes(text.encode("utf-8"))
        if _same_set_in_place(out, text):  # a re-run: readers keep their folder, no swap
            shutil.rmtree(tmp)
        else:
            _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return json.loads(text)


def _same_set_in_place(out: Path, manifest_text: str) -> bool:
    """True when ``out`` already holds, verified, the set whose manifest is ``manifest_text``.

    A re-run of notebook 01 then leaves the folder alone instead of swapping in identical
    bytes: another process reading ``out`` at that moment (two notebooks or test workers side
    by side) never finds it missing.
    """
    try:
        if (out / MANIFEST).read_bytes() != manifest_text.encode("utf-8"):
            return False
        verify_artefacts(out)
    except (OSError, ArtefactError):
        return False
    return True


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` with renames (old set kept until the new one is in place)."""
    old = None
    if out.exists():
        old = tmp.with_name(tmp.name.replace(".tmp-", ".old-", 1))
        out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None:
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_manifest(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The manifest of an artefact folder; :class:`ArtefactError` if it is missing or broken."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise ArtefactError(f"'{display_path(path)}' is missing. {REBUILD_HINT}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ArtefactError(
            f"'{display_path(path)}' is not valid JSON ({err}). {REBUILD_HINT}"
        ) from err
    if manifest.get("format_version") != FORMAT_VERSION or "files" not in manifest:
        raise ArtefactError(f"'{display_path(path)}' has an unknown format. {REBUILD_HINT}")
    return manifest


def verify_artefacts(out_dir: str | os.PathLike) -> dict[str, Any]:
    """Check every file listed in the manifest exists and has its recorded sha256.

    Returns:
        The manifest.

    Raises:
        ArtefactError: naming the first missing or changed file and how to rebuild it.
    """
    out = Path(out_dir)
    manifest = read_manifest(out)
    for filename, entry in sorted(manifest["files"].items()):
        path = out / filename
        if not path.is_file():
            raise ArtefactError(
                f"Processed artefact '{display_path(path)}' is missing. {REBUILD_HINT}"
            )
        actual = file_digest(path)
        if actual != entry["sha256"]:
            raise ArtefactError(
                f"Processed artefact '{display_path(path)}' has changed since it was saved (sha256 "
                f"{actual[:12]}…, manifest says {entry['sha256'][:12]}…). {REBUILD_HINT}"
            )
    return manifest


def load_artefacts(
    out_dir: str | os.PathLike, expect: Mapping[str, Any] | None = None
) -> Artefacts:
    """Verify and load an artefact folder written by :func:`save_artefacts`.

    Args:
        out_dir: the artefact folder, e.g. ``data_dir() / "processed"``.
        expect: parameters the caller relies on, e.g. ``{"seed": 42, "split_fractions":
            [0.7, 0.1, 0.2]}``; each must equal the recorded value (tuples compare as lists).

    Returns:
        :class:`Artefacts` with arrays, tables, params and the manifest.

    Raises:
        ArtefactError: when the manifest or a file is missing, a checksum or shape differs, or
            an expected parameter does not match -- always naming the file or parameter and
            telling how to rebuild.
    """
    out = Path(out_dir)
    manifest = verify_artefacts(out)
    params = manifest.get("params", {})
    for key, wanted in (expect or {}).items():
        if key not in params:
            raise ArtefactError(
                f"Parameter {key!r} is not recorded in '{display_path(out / MANIFEST)}'. "
                f"{REBUILD_HINT}"
            )
        wanted = json_plain(wanted, paths="refuse")
        if wanted != params[key]:
            raise ArtefactError(
                f"Parameter {key!r} is {params[key]!r} in '{display_path(out / MANIFEST)}', "
                f"expected {wanted!r}. {REBUILD_HINT}"
            )
    arrays: dict[str, np.ndarray] = {}
    tables: dict[str, pd.DataFrame] = {}
    for filename, entry in sorted(manifest["files"].items()):
        path = out / filename
        name = filename.rsplit(".", 1)[0]
        if entry["kind"] == "array":
            arr = np.load(path, allow_pickle=False)
            if list(arr.shape) != entry["shape"] or np.dtype(entry["dtype"]) != arr.dtype:
                raise ArtefactError(
                    f"Processed artefact '{display_path(path)}' has shape {arr.shape} / dtype "
                    f"{arr.dtype}, manifest says {entry['shape']} / {entry['dtype']}. "
                    f"{REBUILD_HINT}"
                )
            arrays[name] = arr
        elif entry["kind"] == "table":
            frame = _read_table(path, entry["columns"])
            if len(frame) != entry["rows"]:
                raise ArtefactError(
                    f"Processed artefact '{display_path(path)}' has {len(frame)} rows, manifest "
                    f"says {entry['rows']}. {REBUILD_HINT}"
                )
            tables[name] = frame
        else:
            raise ArtefactError(f"unknown artefact kind {entry['kind']!r} for '{filename}'")
    return Artefacts(arrays=arrays, tables=tables, params=params, manifest=manifest)
