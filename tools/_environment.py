"""The course's environment variables, read from ``gnnrec.env`` at the repository root.

``gnnrec.env`` is the one home of the course's variables (TF_USE_LEGACY_KERAS,
TF_CPP_MIN_LOG_LEVEL, PYTHONHASHSEED, TF_ENABLE_ONEDNN_SPMM, TF_NUM_INTRAOP_THREADS,
TF_NUM_INTEROP_THREADS, OPENBLAS_NUM_THREADS): the Makefile ``include``s it, ``conftest.py`` and
``tools/install_kernel.py`` call :func:`course_environment`. Stdlib only, so it can run before
anything imports TensorFlow.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ENV_FILE = Path(__file__).resolve().parent.parent / "gnnrec.env"
_LINE = re.compile(r"^([A-Z_][A-Z0-9_]*)=(\S*)$")


def course_environment(path: str | os.PathLike = ENV_FILE) -> dict[str, str]:
    """``{KEY: VALUE}`` of ``path``, in file order; blank lines and ``#`` comments skipped.

    Any other line (spaces around ``=``, quotes, ``export``) raises ``ValueError`` naming the
    line: the same file must mean the same thing to make and to Python.
    """
    env: dict[str, str] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: expected KEY=VALUE without spaces, got {line!r}")
        env[match.group(1)] = match.group(2)
    return env
