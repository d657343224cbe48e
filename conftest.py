"""Repository-wide pytest set-up: runs before any test module imports TensorFlow.

TensorFlow decides between Keras 3 and tf-keras when it is first imported, from
TF_USE_LEGACY_KERAS. Setting the course's variables here (from ``gnnrec.env``, their one home)
makes every pytest run (unit tests, papermill-driven notebook tests, nbval) use tf-keras
whatever the test modules import first. Values already set in the environment are kept.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "tools"))
from _environment import course_environment  # noqa: E402

for _key, _value in course_environment().items():
    os.environ.setdefault(_key, _value)
