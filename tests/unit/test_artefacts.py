"""Unit tests of gnnrec_utils.artefacts: round trip, reproducible bytes, tamper detection."""

from __future__ import annotations

from gnnrec_utils import artefacts
from gnnrec_utils.artefacts import ArtefactError, load_artefacts, save_artefacts

import hashlib
import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.unit

PARAMS = {"seed": 42, "split_fractions": (0.7, 0.1, 0.2), "implicit_threshold": None}


def make_content():
    rng = np.random.default_rng(0)
    arrays = {
        "train_user": rng.integers(0, 10, size=50).astype(np.int32),
        "item_features": rng.random((7, 3)).astype(np.float32),
        "weights": rng.standard_normal(5),
        "feature_names": np.array(["genre=Action", "year_minmax", "gender=F"]),
        "mask": np.array([True, False, True]),
    }
    tables = {
        "items": pd.DataFrame(
            {
                "item_id": np.arange(1, 5, dtype=np.int64),
                "title": ["Toy Story (1995)", 'Say "NA"\ttab', "NA", ""],
                "year": pd.array([1995, None, 1990, 2000], dtype="Int64"),
                "score": [0.1, 1 / 3, np.nan, -2.5e-12],
                "Action": np.array([1, 0, 0, 1], dtype=np.int8),
                "flag": [True, False, True, True],
            }
        ),
        "user_map": pd.DataFrame({"user_idx": np.arange(3, dtype=np.int32), "user_id": [1, 2, 5]}),
    }
    return arrays, tables


def file_hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_round_trip(tmp_path):
    arrays, tables = make_content()
    out = tmp_path / "processed"
    manifest = save_artefacts(out, arrays, tables, PARAMS)
    loaded = load_artefacts(out, expect={"seed": 42, "split_fractions": (0.7, 0.1, 0.2)})
    assert set(loaded.arrays) == set(arrays) and set(loaded.tables) == set(tables)
    for name, arr in arrays.items():
        np.testing.assert_array_equal(loaded.arrays[name], arr)
        assert loaded.arrays[name].dtype == arr.dtype
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(loaded.tables[name], frame)
    assert loaded.params["split_fractions"] == [0.7, 0.1, 0.2]
    assert loaded.params["implicit_threshold"] is None
    assert manifest == loaded.manifest
    entry = manifest["files"]["item_features.npy"]
    assert entry["shape"] == [7, 3] and entry["dtype"] == "float32"
    assert manifest["files"]["items.tsv"]["rows"] == 4
    assert "package_version" in manifest
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.npy" for n in arrays] + [f"{n}.tsv" for n in tables] + ["manifest.json"]
    )


def test_double_save_is_byte_identical(tmp_path):
    arrays, tables = make_content()
    save_artefacts(tmp_path / "a", arrays, tables, PARAMS)
    first = file_hashes(tmp_path / "a")
    save_artefacts(tmp_path / "a", *make_content(), PARAMS)  # overwrite in place
    save_artefacts(tmp_path / "b", *make_content(), PARAMS)  # and elsewhere
    assert file_hashes(tmp_path / "a") == first == file_hashes(tmp_path / "b")
    text = (tmp_path / "a" / "manifest.json").read_text()
    assert json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text
    # nothing but the artefact folders is left behind (no temporary folders)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_tampered_file_is_detected(tmp_path):
    out = tmp_path / "processed"
    save_artefacts(out, *make_content(), PARAMS)
    arr = np.load(out / "train_user.npy")
    arr[0] += 1
    np.save(out / "train_user.npy", arr)
    with pytest.raises(ArtefactError, match=r"train_user\.npy.*changed.*01_preprocessing"):
        load_artefacts(out)
    save_artefacts(out, *make_content(), PARAMS)
    with open(out / "items.tsv", "a") as fh:
        fh.write("5\tx\t\t\t0\tTrue\n")
    with pytest.raises(ArtefactError, match=r"items\.tsv"):
        load_artefacts(out)


def test_missing_file_is_detected(tmp_path):
    out = tmp_path / "processed"
    save_artefacts(out, *make_content(), PARAMS)
    (out / "user_map.tsv").unlink()
    with pytest.raises(ArtefactError, match=r"user_map\.tsv.*missing.*make data"):
        load_artefacts(out)
    with pytest.raises(ArtefactError, match="manifest.json.*missing"):
        load_artefacts(tmp_path / "nowhere")


def test_expected_parameters_are_checked(tmp_path):
    out = tmp_path / "processed"
    save_artefacts(out, *make_content(), PARAMS)
    with pytest.raises(ArtefactError, match="'seed' is 42.*expected 1"):
        load_artefacts(out, expect={"seed": 1})
    with pytest.raises(ArtefactError, match="not recorded"):
        load_artefacts(out, expect={"epochs": 3})


def test_failed_save_leaves_old_set_intact(tmp_path):
    out = tmp_path / "processed"
    arrays, tables = make_content()
    save_artefacts(out, arrays, tables, PARAMS)
    before = file_hashes(out)
    broken = dict(tables, bad=pd.DataFrame({"when": pd.to_datetime(["2020-01-01"])}))
    with pytest.raises(TypeError):
        save_artefacts(out, arrays, broken, PARAMS)
    assert file_hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["processed"]


def test_refuses_bad_input(tmp_path):
    arrays, tables = make_content()
    with pytest.raises(TypeError):
        save_artefacts(tmp_path / "x", {"objs": np.array([1, "a"], dtype=object)}, {}, PARAMS)
    with pytest.raises(ValueError):
        save_artefacts(tmp_path / "x", {"../up": arrays["mask"]}, {}, PARAMS)
    with pytest.raises(ValueError):
        save_artefacts(tmp_path / "x", {"t": arrays["mask"]}, {"t": tables["items"]}, PARAMS)
    with pytest.raises(ValueError):
        save_artefacts(tmp_path / "x", arrays, {}, {"lr": float("nan")})
    missing_text = pd.DataFrame({"title": ["a", None]}, dtype=object)
    with pytest.raises(TypeError, match="strings"):
        save_artefacts(tmp_path / "x", {}, {"t": missing_text}, PARAMS)
    other = tmp_path / "not_artefacts"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(ArtefactError, match="refusing"):
        save_artefacts(other, arrays, {}, PARAMS)
    assert (other / "notes.txt").read_text() == "keep me"


def test_error_messages_hold_no_machine_paths(tmp_path):
    out = tmp_path / "processed"
    save_artefacts(out, *make_content(), PARAMS)
    (out / "mask.npy").unlink()
    with pytest.raises(ArtefactError) as info:
        artefacts.load_artefacts(out)
    assert str(tmp_path) not in str(info.value)


def test_folder_mode_follows_umask(tmp_path):
    out = tmp_path / "processed"
    save_artefacts(out, *make_content(), PARAMS)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask


def test_one_json_converter_for_results_and_manifests(tmp_path):
    from gnnrec_utils.notebook import json_plain

    from pathlib import Path

    value = {1: (np.int64(2), np.float32(0.5)), "a": np.array([[1, 2]]), "p": Path("x/y")}
    assert json_plain(value) == {"1": [2, 0.5], "a": [[1, 2]], "p": "x/y"}
    with pytest.raises(TypeError, match="machine-specific"):
        json_plain(value, paths="refuse")
    with pytest.raises(ValueError, match="non-finite"):
        json_plain([np.float64("inf")])
    with pytest.raises(TypeError, match="set"):
        json_plain({1, 2})


def test_file_digest_is_hashlib_of_the_bytes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"gnnrec" * 1000)
    assert artefacts.file_digest(path) == hashlib.sha256(b"gnnrec" * 1000).hexdigest()
    assert artefacts.file_digest(path, "sha1") == hashlib.sha1(b"gnnrec" * 1000).hexdigest()


def test_saving_the_same_set_again_leaves_the_folder_in_place(tmp_path):
    # a re-run of notebook 01 while another process reads data/processed: no moment without it
    out = tmp_path / "processed"
    save_artefacts(out, *make_content(), PARAMS)
    inode = out.stat().st_ino
    save_artefacts(out, *make_content(), PARAMS)
    assert out.stat().st_ino == inode  # not swapped
    arrays, tables = make_content()
    arrays["train_user"] = arrays["train_user"][::-1].copy()
    save_artefacts(out, arrays, tables, PARAMS)
    assert out.stat().st_ino != inode  # another set is swapped in
    np.testing.assert_array_equal(load_artefacts(out).arrays["train_user"], arrays["train_user"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["processed"]  # no debris
