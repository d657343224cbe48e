"""Repository-wide pytest set-up: runs before any test module imports TensorFlow.

TensorFlow decides between Keras 3 and tf-keras when it is first imported, from
TF_USE_LEGACY_KERAS. Setting it here makes every pytest run (unit tests, papermill-driven
notebook tests, nbval) use tf-keras whatever the test modules import first.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("TF_ENABLE_ONEDNN_SPMM", "1")
