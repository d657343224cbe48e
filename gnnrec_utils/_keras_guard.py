"""The one import-time side effect of :mod:`gnnrec_utils`: make sure Keras 2 (tf-keras) is used.

Spektral 1.3.1 is written for Keras 2. Under Keras 3 its ``GCNConv`` fails with
"Could not automatically infer the output shape". TensorFlow picks its Keras the first time
``tf.keras`` is touched, reading the environment variable ``TF_USE_LEGACY_KERAS``. This guard
sets that variable when nothing has decided yet and raises a clear error when it is too late.

The course kernel (``make kernel``), ``make`` targets and ``tests/conftest.py`` all set the
variable before Python starts, so the guard normally finds it already in place.
"""

from __future__ import annotations

import os
import sys
import types

FLAG = "TF_USE_LEGACY_KERAS"
_TRUE = {"1", "true", "True", "TRUE", "yes"}

FIX = (
    "Fix: start Python with TF_USE_LEGACY_KERAS=1 in the environment (the course kernel "
    "'gnnrec' does this: run `make kernel` and pick 'gnnrec (TF 2.21 + tf-keras)' in "
    "JupyterLab), or put `import gnnrec_utils` before any TensorFlow/Keras import and "
    "restart the kernel."
)


class KerasVersionError(RuntimeError):
    """Raised when TensorFlow already runs with Keras 3, which Spektral 1.3.1 cannot use."""


def _tf_keras_is_keras3() -> bool | None:
    """True/False once ``tf.keras`` has been resolved; None while it is still undecided."""
    tf = sys.modules.get("tensorflow")
    if tf is None:
        return None
    # `import tensorflow` fixes where `from tensorflow.keras.layers import …` looks (Spektral
    # imports that way), from the flag as it was at that moment.
    if tf.__dict__.get("_tf_uses_legacy_keras") is False:
        return True
    keras = tf.__dict__.get("keras")
    if not isinstance(keras, types.ModuleType):
        return None
    state = keras.__dict__
    if "_tfll_mode" in state:  # TensorFlow's KerasLazyLoader, maybe not yet resolved
        if not state.get("_tfll_initialized", False):
            return None
        return state.get("_tfll_keras_version") == "keras_3"
    # The loader has replaced itself with the real module.
    return not keras.__name__.startswith("tf_keras")


def ensure_legacy_keras() -> None:
    """Make ``tf.keras`` resolve to tf-keras (Keras 2), or raise :class:`KerasVersionError`."""
    value = os.environ.get(FLAG)
    if value is not None and value not in _TRUE:
        raise KerasVersionError(
            f"{FLAG}={value!r} selects Keras 3, which Spektral 1.3.1 does not support. " + FIX
        )
    if value is None:
        os.environ[FLAG] = "1"
    if _tf_keras_is_keras3():
        raise KerasVersionError(
            "TensorFlow was imported with Keras 3 active before gnnrec_utils could select "
            "tf-keras (Keras 2), which Spektral 1.3.1 needs. " + FIX
        )
