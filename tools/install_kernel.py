"""Register the course's Jupyter kernel ``gnnrec`` inside the active environment.

The kernelspec carries what every notebook run needs before Python starts:
- the environment variables of ``gnnrec.env`` (their one home, with a comment on each:
  tf-keras for Spektral, quiet TensorFlow logs, fixed hashing, the oneDNN CSR kernel);
- ``--IPKernelApp.capture_fd_output=False``: what TensorFlow's C++ start-up writes straight to
  the process's stderr (absl, cudart_stub) goes to the kernel's terminal, not into notebook
  outputs.

Usage: python tools/install_kernel.py   (writes <sys.prefix>/share/jupyter/kernels/gnnrec)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from _environment import course_environment  # tools/ is on sys.path: this runs as a script

NAME = "gnnrec"
DISPLAY_NAME = "gnnrec (TF 2.21 + tf-keras)"
ENV = course_environment()


def main() -> int:
    target = Path(sys.prefix) / "share" / "jupyter" / "kernels" / NAME
    target.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.capture_fd_output=False",
        ],
        "display_name": DISPLAY_NAME,
        "language": "python",
        "env": ENV,
        "metadata": {"debugger": True},
    }
    (target / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    print(f"kernel '{NAME}' registered in {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
