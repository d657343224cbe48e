"""gnnrec_utils.store and gnnrec_utils.recipes: train once, load everywhere.

A model trained through the store and the same model loaded from it have bit-identical
weights and equal histories; a corrupt, stale or foreign entry is retrained (never used); a
failed write leaves nothing behind; the identity separates recipes, settings, splits and seeds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import wait_until

pytestmark = pytest.mark.unit

tf = pytest.importorskip("tensorflow")
recipes = pytest.importorskip("gnnrec_utils.recipes")
store_mod = pytest.importorskip("gnnrec_utils.store")

N_USERS, N_ITEMS = 40, 60


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    pairs = np.unique(rng.integers(0, N_USERS, 900) * 1000 + rng.integers(0, N_ITEMS, 900))
    users, items = pairs // 1000, pairs % 1000
    order = rng.permutation(users.size)
    cut = int(0.8 * users.size)
    tr, va = order[:cut], order[cut:]
    ratings = rng.integers(1, 6, users.size).astype(float)
    return (users[tr], items[tr]), (users[va], items[va]), (ratings[tr], ratings[va])


def _fit(name, split, store, lines=None, seed=3, **kw):
    train, valid, ratings = split
    kw.setdefault("epochs", 2)
    if name == "mf":
        kw["ratings"] = ratings
    if name == "gan":
        kw.setdefault("players", {"epochs": 2})
        kw.setdefault("fit_kwargs", {"epochs": 1, "n_samples": 4})
        kw.pop("epochs")
    say = lines.append if lines is not None else None
    return recipes.train_model(
        name, train, valid, N_USERS, N_ITEMS, seed=seed, progress=False, store=store, say=say, **kw
    )


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("name", ["bpr", "lightgcn", "gcnmf", "mf"])
def test_loaded_model_equals_the_trained_one(tmp_path, split, name):
    store = store_mod.ModelStore(tmp_path)
    lines = []
    tf.random.set_seed(3)  # GCN+MF's dropout draws from the global generator (the caller seeds)
    trained, h1 = _fit(name, split, store, lines)
    loaded, h2 = _fit(name, split, store, lines)
    assert lines[0].endswith("saved to the store") and "trained in" in lines[0]
    assert "loaded from the store" in lines[1]
    assert _same(trained.get_weights(), loaded.get_weights())  # bit-identical
    assert h1 == h2
    assert trained.get_weights()[0].dtype == np.float32
    # and the same weights as training again in this process, without a store
    tf.random.set_seed(3)
    again, h3 = _fit(name, split, None)
    assert _same(trained.get_weights(), again.get_weights())
    assert h3["best_epoch"] == h1["best_epoch"]


def test_gan_reuses_its_stored_players(tmp_path, split):
    store = store_mod.ModelStore(tmp_path)
    lines = []
    g1, _ = _fit("gan", split, store, lines)
    assert [line.split(":")[0] for line in lines] == [  # what differs from the registry, named
        "LightGCN [epochs=2] (seed 3)",
        "BPR-MF [epochs=2] (seed 3)",
        "GAN generator [epochs=1, n_samples=4; players epochs=2] (seed 3)",
    ]
    assert all("trained in" in line for line in lines)
    lines.clear()
    g2, _ = _fit("gan", split, store, lines)
    assert all("loaded from the store" in line for line in lines) and len(lines) == 3
    assert _same(g1.model.get_weights(), g2.model.get_weights())
    assert _same(g1.discriminator.get_weights(), g2.discriminator.get_weights())
    # the players trained by the GAN recipe are the ones a notebook asking for LightGCN gets
    lines.clear()
    _fit("lightgcn", split, store, lines)
    assert "loaded from the store" in lines[0]


def test_identity_separates_settings_split_and_seed(tmp_path, split):
    store = store_mod.ModelStore(tmp_path)
    s = recipes.settings_of("bpr", epochs=2)
    base = store.identity("bpr", s, "abc", 1)
    assert store.path(base) == store.path(store.identity("bpr", dict(s), "abc", 1))
    others = [
        store.identity("bpr", recipes.settings_of("bpr", epochs=3), "abc", 1),
        store.identity("bpr", recipes.settings_of("bpr", 2, fit_kwargs={"lr": 1e-2}), "abc", 1),
        store.identity("bpr", s, "abd", 1),
        store.identity("bpr", s, "abc", 2),
        store.identity("lightgcn", s, "abc", 1),
    ]
    assert len({store.path(i) for i in [base, *others]}) == 6
    train, valid, _ = split
    f = store_mod.split_fingerprint(train, valid, N_USERS, N_ITEMS)
    assert f == store_mod.split_fingerprint(tuple(map(list, train)), valid, N_USERS, N_ITEMS)
    assert f != store_mod.split_fingerprint(train, valid, N_USERS + 1, N_ITEMS)
    moved = (train[0], np.r_[train[1][:-1], (train[1][-1] + 1) % N_ITEMS])
    assert f != store_mod.split_fingerprint(moved, valid, N_USERS, N_ITEMS)


def _entry(tmp_path):
    (folder,) = [p for p in (tmp_path / "bpr").iterdir() if not p.name.startswith(".")]
    return folder


def test_corrupt_weights_are_retrained_with_a_warning(tmp_path, split):
    store = store_mod.ModelStore(tmp_path)
    first, _ = _fit("bpr", split, store)
    weights = _entry(tmp_path) / "weights.npz"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    weights.write_bytes(bytes(data))
    lines = []
    with pytest.warns(store_mod.StoreWarning, match="does not match the hash"):
        again, _ = _fit("bpr", split, store, lines)
    assert "trained in" in lines[0]
    assert _same(first.get_weights(), again.get_weights())
    lines.clear()
    _fit("bpr", split, store, lines)  # the replaced entry is good
    assert "loaded from the store" in lines[0]


@pytest.mark.parametrize(
    "damage", ["meta-garbage", "meta-missing", "weights-missing", "other-identity", "wrong-shapes"]
)
def test_every_kind_of_damage_is_retrained(tmp_path, split, damage):
    store = store_mod.ModelStore(tmp_path)
    _fit("bpr", split, store)
    folder = _entry(tmp_path)
    meta_path = folder / "meta.json"
    if damage == "meta-garbage":
        meta_path.write_text("{not json")
    elif damage == "meta-missing":
        meta_path.unlink()
    elif damage == "weights-missing":
        (folder / "weights.npz").unlink()
    else:
        meta = json.loads(meta_path.read_text())
        if damage == "other-identity":
            meta["identity"]["seed"] = 99
        else:  # arrays of other shapes, with a matching hash: caught when loading
            np.savez(folder / "weights.npz", np.zeros((2, 2), np.float32))
            meta["weights_sha256"] = store_mod.file_digest(folder / "weights.npz")
        meta_path.write_text(json.dumps(meta))
    lines = []
    with pytest.warns(store_mod.StoreWarning, match="corrupt"):
        _fit("bpr", split, store, lines)
    assert "trained in" in lines[0]


def test_stale_code_or_libraries_retrain(tmp_path, split, monkeypatch):
    store = store_mod.ModelStore(tmp_path)
    _fit("bpr", split, store)
    monkeypatch.setattr(store_mod, "code_version", lambda modules=None: "0" * 64)
    lines = []
    _fit("bpr", split, store, lines)
    assert "stale: the model code changed" in lines[0] and "trained in" in lines[1]
    lines.clear()
    _fit("bpr", split, store, lines)
    assert "loaded from the store" in lines[0]
    monkeypatch.setattr(store_mod, "_library_versions", lambda: {"tensorflow": "0.0"})
    lines.clear()
    _fit("bpr", split, store, lines)
    assert "stale: trained with" in lines[0]


def test_another_intra_op_thread_setting_is_stale(tmp_path, split, monkeypatch):
    # the setting changes trained weights in the last bits (gnnrec.env fixes it to 1)
    store = store_mod.ModelStore(tmp_path)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    _fit("bpr", split, store)
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "2")
    lines = []
    _fit("bpr", split, store, lines)
    assert "stale: trained with" in lines[0] and "'TF_NUM_INTRAOP_THREADS': '1'" in lines[0]
    assert "trained in" in lines[1]


def test_a_failed_write_leaves_no_entry_and_no_debris(tmp_path, split, monkeypatch):
    store = store_mod.ModelStore(tmp_path)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_mod.np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        _fit("bpr", split, store)
    assert list((tmp_path / "bpr").iterdir()) == []
    monkeypatch.undo()
    lines = []
    _fit("bpr", split, store, lines)
    assert "trained in" in lines[0]


def test_replacing_an_entry_keeps_no_old_copy(tmp_path, split):
    store = store_mod.ModelStore(tmp_path)
    _fit("bpr", split, store)
    (_entry(tmp_path) / "meta.json").write_text("{}")
    with pytest.warns(store_mod.StoreWarning):
        _fit("bpr", split, store)
    assert [p.name for p in (tmp_path / "bpr").iterdir()] == [_entry(tmp_path).name]


def test_default_store_follows_the_environment(tmp_path, monkeypatch):
    assert store_mod.default_store({"GNNREC_MODEL_STORE": "off"}) is None
    assert store_mod.default_store({"GNNREC_MODEL_STORE": str(tmp_path)}).root == tmp_path
    monkeypatch.setenv("GNNREC_OUTPUT_DIR", str(tmp_path / "out"))
    assert store_mod.default_store({}).root == tmp_path / "out" / "models"


def test_closed_form_models_and_bad_requests(split):
    train, valid, _ = split
    for name in recipes.CLOSED_FORM_MODELS:
        small = {"k": 8} if name in ("gf-cf", "item-knn") else None  # a 40-user toy
        model, history = recipes.train_model(
            name, train, valid, N_USERS, N_ITEMS, seed=0, model_kwargs=small, store=object()
        )  # the store is never touched
        assert history is None and model.score_all_users().shape == (N_USERS, N_ITEMS)
    with pytest.raises(ValueError, match="needs ratings"):
        recipes.train_model("mf", train, valid, N_USERS, N_ITEMS)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        recipes.settings_of("nope")
    with pytest.raises(ValueError, match="closed form"):
        recipes.settings_of("ease", fit_kwargs={"lr": 1.0})
    with pytest.raises(ValueError, match="players takes"):
        recipes.train_model("gan", train, valid, N_USERS, N_ITEMS, players={"lr": 1})


def test_describe_names_what_differs_from_the_registry():
    assert recipes.describe("gcnmf", recipes.settings_of("gcnmf")) == "GCN+MF"
    s = recipes.settings_of("bpr", epochs=10, fit_kwargs={"patience": 3, "lr": 5e-3})
    assert recipes.describe("bpr", s) == "BPR-MF [epochs=10, lr=0.005, patience=3]"
    same_lr = recipes.settings_of(
        "bpr", fit_kwargs={"lr": recipes.MODEL_DEFAULTS["bpr"]["fit"]["lr"]}
    )
    assert (
        recipes.describe("bpr", same_lr) == "BPR-MF"
    )  # a value equal to the registry's is no change


def test_registry_is_complete_and_labelled():
    assert set(recipes.MODEL_NAMES) == set(recipes.MODEL_DEFAULTS) == set(recipes.LABELS)
    assert set(recipes.CLI_MODELS) < set(recipes.MODEL_NAMES)
    s = recipes.settings_of("lightgcn", epochs=7, model_kwargs={"n_layers": 2})
    assert s["fit"]["epochs"] == 7 and s["model"]["n_layers"] == 2
    assert recipes.MODEL_DEFAULTS["lightgcn"]["fit"]["epochs"] == 300  # defaults untouched


def test_gan_players_can_have_settings_of_their_own(tmp_path, split):
    store = store_mod.ModelStore(tmp_path)
    lines = []
    _fit("gan", split, store, lines, players={"lightgcn": {"epochs": 2}, "bpr": {"epochs": 1}})
    assert lines[0].startswith("LightGCN [epochs=2] (seed 3): trained in")
    assert lines[1].startswith("BPR-MF [epochs=1] (seed 3): trained in")
    assert "players epochs=1; epochs=2" in lines[2]
    train, valid, _ = split
    with pytest.raises(ValueError, match="players are"):
        recipes.train_model("gan", train, valid, N_USERS, N_ITEMS, players={"ease": {}})


# -- two processes, one entry (make run runs notebooks 05 and 06 side by side) -------------

_WORKER = """
import json, pathlib, sys, time
import numpy as np
from gnnrec_utils.store import ModelStore

root, tag = pathlib.Path(sys.argv[1]), sys.argv[2]
log = root.parent / f"{tag}.log"


class Toy:  # a model: get_weights / set_weights
    def __init__(self):
        self.w = [np.zeros(3, np.float32)]

    def get_weights(self):
        return self.w

    def set_weights(self, w):
        self.w = [np.asarray(x) for x in w]


def train(model):
    (root.parent / f"{tag}.training").touch()
    deadline = time.monotonic() + 60
    while not (root.parent / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    model.w = [np.arange(3, dtype=np.float32) + 1]
    return {"epochs": 1}


def say(line):
    with open(log, "a") as f:
        f.write(line + "\\n")


model, history, status = ModelStore(root).fit_or_load("toy", {"a": 1}, "split", 0, Toy, train,
                                                       say=say)
say(json.dumps({"status": status, "w": model.w[0].tolist(), "history": history}))
"""


def _worker(tmp_path, tag):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "store"), tag])


def _log(tmp_path, tag):
    path = tmp_path / f"{tag}.log"
    return path.read_text().splitlines() if path.exists() else []


def test_a_second_process_waits_for_the_entry_and_loads_it(tmp_path):
    first = _worker(tmp_path, "first")
    wait_until(lambda: (tmp_path / "first.training").exists(), "the first to train", first)
    second = _worker(tmp_path, "second")
    wait_until(
        lambda: any("waiting" in line for line in _log(tmp_path, "second")),
        "the second to wait",
        second,
    )
    assert not (tmp_path / "second.training").exists()
    (tmp_path / "release").touch()
    assert first.wait(60) == 0 and second.wait(60) == 0
    one, two = (json.loads(_log(tmp_path, tag)[-1]) for tag in ("first", "second"))
    assert _log(tmp_path, "second")[0] == (
        "toy (seed 0): another process is training it; waiting to load it"
    )
    assert "loaded from the store" in _log(tmp_path, "second")[1]
    assert (one["status"], two["status"]) == ("trained", "loaded")
    assert one["w"] == two["w"] == [1.0, 2.0, 3.0] and one["history"] == two["history"]
    assert not (tmp_path / "second.training").exists()  # trained once


def test_a_killed_trainer_does_not_block_the_next_process(tmp_path):
    first = _worker(tmp_path, "first")
    wait_until(lambda: (tmp_path / "first.training").exists(), "the first to train", first)
    first.kill()
    first.wait(60)
    (tmp_path / "release").touch()
    second = _worker(tmp_path, "second")
    assert second.wait(60) == 0  # the lock died with its holder; nothing half-written is used
    assert json.loads(_log(tmp_path, "second")[-1])["status"] == "trained"
    assert (tmp_path / "second.training").exists()
