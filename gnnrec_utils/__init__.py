"""gnnrec_utils: the helper package of the gnnrec course.

Importing it has exactly one side effect: it makes TensorFlow use tf-keras (Keras 2), which
Spektral 1.3.1 needs (see :mod:`gnnrec_utils._keras_guard`). Everything else lives in
submodules that are imported explicitly: ``data``, ``graph``, ``models`` …
"""

from gnnrec_utils._keras_guard import KerasVersionError, ensure_legacy_keras

ensure_legacy_keras()

__version__ = "0.1.0"
__all__ = ["KerasVersionError", "ensure_legacy_keras", "__version__"]
