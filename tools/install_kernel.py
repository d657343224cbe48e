"""Register the course's Jupyter kernel ``gnnrec`` inside the active environment.

The kernelspec carries what every notebook run needs before Python starts:
- ``TF_USE_LEGACY_KERAS=1``: Spektral 1.3.1 needs tf-keras (Keras 2);
- ``TF_CPP_MIN_LOG_LEVEL=3``: TensorFlow's C++ logging stays quiet;
- ``TF_ENABLE_ONEDNN_SPMM=1``: the fast oneDNN CSR kernel inside ``tf.function`` too
  (docs/benchmarks.md);
- ``--IPKernelApp.capture_fd_output=False``: what TensorFlow's C++ start-up writes straight to
  the process's stderr (absl, cudart_stub) goes to the kernel's terminal, not into notebook
  outputs.

Usage: python tools/install_kernel.py   (writes <sys.prefix>/share/jupyter/kernels/gnnrec)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NAME = "gnnrec"
DISPLAY_NAME = "gnnrec (TF 2.21 + tf-keras)"
ENV = {
    "TF_USE_LEGACY_KERAS": "1",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_ENABLE_ONEDNN_SPMM": "1",
    "PYTHONHASHSEED": "0",
}


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
