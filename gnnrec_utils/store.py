r"""The trained-model store: a model trained once for a (recipe, split, seed) is saved and
loaded by every later notebook, the command line and the tests, instead of being trained again.

An **entry** is identified by what determines the trained weights:

- the recipe's name and its full settings (constructor and training settings, the epoch cap,
  the settings of the models it starts from);
- the **split fingerprint**: SHA-256 of the training and validation arrays (and ratings)
  with the catalogue size, :func:`split_fingerprint`;
- the seed.

Its folder ``<root>/<recipe>/<first 20 hex digits of the SHA-256 of the three>`` holds
``weights.npz`` (``model.get_weights()``, float32 as trained: loading gives bit-identical
weights) and ``meta.json`` (the identity in full, the SHA-256 of ``weights.npz``, the training
history, the **code version** and the library versions). An entry is used only when all of
these match; otherwise it is

- *missing*: trained and saved;
- *corrupt* (unreadable meta, a weights file whose hash differs, arrays of the wrong shapes):
  retrained and replaced, with a warning naming the folder;
- *stale* (the model code, TensorFlow/NumPy or TensorFlow's intra-op thread setting changed
  since it was written): retrained and replaced, with a line saying why.

The code version, :func:`code_version`, is the SHA-256 of the source of the modules that
define and train the models (``models``, ``layers``, ``training``, ``gan``, ``graph``,
``closed_form``, ``recipes``): any edit there retrains, conservatively.

Writes are atomic: the entry is written to a temporary folder next to it and renamed into
place, so a killed run leaves either the old entry or the new one, never half of one.
**Two processes, one entry** (``make run`` runs two notebooks side by side, and 05 and 06
share models): :meth:`ModelStore.fit_or_load` loads a complete entry without further ado;
to train one it takes an exclusive lock on the entry (``fcntl.flock`` on
``<root>/.locks/<recipe>-<hash>.lock``), looks again and trains only if the entry is still
not there, and saves before letting go. A second process that wants the same entry meanwhile
waits, says so in one line, and loads what the first one trained. The operating system
releases the lock when a process dies, so a killed run never blocks the next.
(Without ``fcntl``, on Windows, there is no lock: the two would both train, with the same
result.)
The default root is ``<outputs>/models`` (:func:`gnnrec_utils.paths.output_dir`, git-ignored;
``make clean`` removes it); ``GNNREC_MODEL_STORE=off`` disables the store (everything is
trained), ``GNNREC_MODEL_STORE=<folder>`` moves it.

Taught in ``notebooks/03_mf_recommendation.ipynb`` (§3, "Train once"); used by 05 and 06.
"""

from __future__ import annotations

from gnnrec_utils.artefacts import file_digest
from gnnrec_utils.notebook import json_plain

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: no entry lock (see the module docstring)
    fcntl = None


def _plain(value: Any) -> Any:
    """A training history as JSON values (NumPy to Python; a ``-inf`` "best so far" kept)."""
    return json_plain(value, nonfinite="keep")


__all__ = [
    "STORE_ENV",
    "MODULES",
    "ModelStore",
    "StoreWarning",
    "code_version",
    "default_store",
    "split_fingerprint",
]

#: Environment variable: ``off`` disables the store, a path moves it.
STORE_ENV = "GNNREC_MODEL_STORE"
#: Modules whose source defines the trained weights (their hash is the code version).
MODULES = ("models", "layers", "training", "gan", "graph", "closed_form", "recipes")
FORMAT_VERSION = 1
_WEIGHTS, _META = "weights.npz", "meta.json"


class StoreWarning(UserWarning):
    """A store entry was corrupt and is being retrained (the message names its folder)."""


@functools.cache
def code_version(modules: tuple[str, ...] = MODULES) -> str:
    """SHA-256 over the source files of ``gnnrec_utils.<module>`` for each existing module.

    Computed once per process: the code that trains is the code that was imported, even if a
    file is edited while a notebook runs.
    """
    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(f"gnnrec_utils.{name}")
        if spec is None or spec.origin is None:
            continue
        digest.update(name.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    return digest.hexdigest()


def _library_versions() -> dict[str, str]:
    """NumPy's and TensorFlow's versions and TensorFlow's intra-op thread setting.

    The thread setting is here because it changes trained weights in the last bits (GCN+MF's
    sums are split across threads): the course fixes it to 1 in ``gnnrec.env``, and a model
    trained under another setting is stale, not "the same model".
    """
    import tensorflow as tf

    return {
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "TF_NUM_INTRAOP_THREADS": os.environ.get("TF_NUM_INTRAOP_THREADS", "default"),
    }


def split_fingerprint(
    train: tuple, valid: tuple | None, n_users: int, n_items: int, ratings: tuple | None = None
) -> str:
    r"""SHA-256 of the training (and validation) interactions the model learns from.

    ``train``/``valid``: ``(users, items)`` index arrays; ``ratings``: ``(train_ratings,
    valid_ratings)`` for explicit models. Arrays are hashed as little-endian int64/float64 in
    the given order, so the same split read twice has the same fingerprint.
    """
    digest = hashlib.sha256(f"{int(n_users)}x{int(n_items)}".encode())
    parts = [*train, *(valid or ())]
    for a in parts:
        digest.update(np.ascontiguousarray(np.asarray(a), dtype="<i8").tobytes() + b"|")
    for r in ratings or ():
        digest.update(np.ascontiguousarray(np.asarray(r), dtype="<f8").tobytes() + b"|")
    return digest.hexdigest()


def default_store(environ: Mapping[str, str] | None = None) -> ModelStore | None:
    """The store under ``<outputs>/models``, another folder, or None (``GNNREC_MODEL_STORE``)."""
    env = os.environ if environ is None else environ
    value = env.get(STORE_ENV, "").strip()
    if value.lower() in ("off", "0", "none", "false"):
        return None
    if value:
        return ModelStore(value)
    from gnnrec_utils.paths import output_dir

    return ModelStore(output_dir() / "models")


class ModelStore:
    """Trained models on disk, keyed by (recipe, settings, split fingerprint, seed).

    ``fit_or_load(recipe, settings, split, seed, build, train)`` is the one entry point:
    ``build()`` returns a fresh untrained model (its weights created), ``train(model)`` trains
    it in place and returns its history. Returns ``(model, history, status)`` where ``status``
    is ``"loaded"`` or ``"trained"``; ``say`` (default ``print``) gets one line saying which.
    Models expose ``get_weights()``/``set_weights()`` (Keras) — the GAN's pair is wrapped by
    the recipe.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ModelStore({str(self.root)!r})"

    # -- identity ------------------------------------------------------------------------
    @staticmethod
    def identity(recipe: str, settings: Mapping, split: str, seed: int) -> dict:
        return {
            "recipe": str(recipe),
            "settings": _plain(dict(settings)),
            "split": str(split),
            "seed": int(seed),
            "format": FORMAT_VERSION,
        }

    def path(self, identity: Mapping) -> Path:
        text = json.dumps(identity, sort_keys=True)
        return self.root / identity["recipe"] / hashlib.sha256(text.encode()).hexdigest()[:20]

    # -- reading -------------------------------------------------------------------------
    def _read(self, folder: Path, identity: Mapping) -> tuple[list[np.ndarray], dict] | str:
        """The entry's weights and meta, or a string saying why it cannot be used."""
        meta_path, weights_path = folder / _META, folder / _WEIGHTS
        if not meta_path.exists() and not weights_path.exists():
            return "missing"
        try:
            meta = json.loads(meta_path.read_text())
            if meta["identity"] != json.loads(json.dumps(identity)):
                return "corrupt: its meta.json describes another model"
            if file_digest(weights_path) != meta["weights_sha256"]:
                return "corrupt: weights.npz does not match the hash in meta.json"
            with np.load(weights_path, allow_pickle=False) as data:
                weights = [data[f"arr_{k}"] for k in range(len(data.files))]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"corrupt: {type(exc).__name__}: {exc}"
        if meta.get("code_version") != code_version():
            return "stale: the model code changed since it was trained"
        if meta.get("libraries") != _library_versions():
            return f"stale: trained with {meta.get('libraries')}, running {_library_versions()}"
        return weights, meta

    # -- writing -------------------------------------------------------------------------
    def save(
        self,
        identity: Mapping,
        weights: list[np.ndarray],
        history: Any,
        train_seconds: float | None = None,
    ) -> Path:
        """Write the entry atomically (temporary folder, then rename) and return its folder."""
        folder = self.path(identity)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            np.savez(tmp / _WEIGHTS, *weights)
            meta = {
                "identity": _plain(dict(identity)),
                "weights_sha256": file_digest(tmp / _WEIGHTS),
                "shapes": [list(np.shape(w)) for w in weights],
                "code_version": code_version(),
                "libraries": _library_versions(),
                "train_seconds": train_seconds,
                "history": _plain(history),
            }
            (tmp / _META).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
            if folder.exists():  # replace a corrupt/stale entry: old out of the way first
                old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
                os.replace(folder, old / "entry")
                os.replace(tmp, folder)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return folder

    # -- the entry point -----------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, folder: Path, name: str, say: Callable[[str], None] | None):
        """Hold the entry's lock; if another process holds it, say so and wait for it."""
        if fcntl is None:
            yield
            return
        path = self.root / ".locks" / f"{folder.parent.name}-{folder.name}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a")  # noqa: SIM115 (closed below)
        except OSError:  # a read-only store: nothing can be saved, loading needs no lock
            yield
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if say:
                    say(f"{name}: another process is training it; waiting to load it")
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def fit_or_load(
        self,
        recipe: str,
        settings: Mapping,
        split: str,
        seed: int,
        build: Callable[[], Any],
        train: Callable[[Any], Any],
        label: str | None = None,
        say: Callable[[str], None] | None = print,
    ):
        """Load the model for this identity, or train and save it. See the class docstring."""
        identity = self.identity(recipe, settings, split, seed)
        folder = self.path(identity)
        name = f"{label or recipe} (seed {seed})"
        found = self._read(folder, identity)  # a complete entry needs no lock: renamed in whole
        if not isinstance(found, str):
            model = build()
            if self._load_into(model, found, name, say):
                return model, found[1]["history"], "loaded"
        with self._locked(folder, name, say):  # train it, unless another process just did
            return self._fit_or_load(identity, folder, name, build, train, say)

    @staticmethod
    def _load_into(model, found: tuple, name: str, say: Callable[[str], None] | None) -> bool:
        """Set the entry's weights into ``model``; False if the shapes do not fit."""
        weights, meta = found
        if [np.shape(w) for w in model.get_weights()] != [np.shape(w) for w in weights]:
            return False
        model.set_weights(weights)
        if say:
            say(
                f"{name}: loaded from the store (trained in {meta.get('train_seconds') or 0:.0f} s)"
            )
        return True

    def _fit_or_load(self, identity, folder, name, build, train, say):
        found = self._read(folder, identity)
        model = None
        if not isinstance(found, str):
            model = build()
            if self._load_into(model, found, name, say):
                return model, found[1]["history"], "loaded"
            found = "corrupt: its arrays do not have the model's shapes"
        if found.startswith("corrupt"):
            warnings.warn(
                f"model store entry {folder} is {found}; retraining it", StoreWarning, stacklevel=3
            )
        elif found.startswith("stale") and say:
            say(f"{name}: store entry is {found}; retraining")
        if model is None:  # (a model built for a bad entry is still untrained: reuse it)
            model = build()
        start = time.perf_counter()
        history = train(model)
        seconds = time.perf_counter() - start
        # the caller gets the history as a load would give it (JSON types): same either way
        history = json.loads(json.dumps(_plain(history)))
        self.save(identity, model.get_weights(), history, train_seconds=seconds)
        if say:
            say(f"{name}: trained in {seconds:.0f} s and saved to the store")
        return model, history, "trained"

    def clear(self) -> None:
        """Remove every entry (``make clean`` removes the whole outputs folder)."""
        shutil.rmtree(self.root, ignore_errors=True)
