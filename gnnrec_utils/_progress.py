"""Progress bars for the training loops: live in JupyterLab, one finished line in saved runs.

The one home of the tqdm import (private). ``tqdm(...)`` takes tqdm's own arguments and
returns a bar whose form follows the environment variable ``GNNREC_PROGRESS``:

- unset or ``live``: ``tqdm.auto`` — a widget bar in JupyterLab, a ``\\r``-updated text bar in
  a terminal (its one-off "IProgress not found" warning silenced here);
- ``summary``: nothing while the loop runs, then ONE line on stdout when the bar closes,
  ``BPR-MF: done 300/300 [01:23, 3.61it/s, loss=0.1234]``, or, for a loop that ended before
  its total (early stopping, an error), ``BPR-MF: stopped at 120/300 [00:33, 3.61it/s, …]``.
  No bar is drawn, so no saved output holds a "…%|" frame. ``tools/run_notebooks.py``
  sets it for every papermill run (the kernel inherits it) and ``make test`` for nbval, because
  a saved notebook keeps only the text a widget showed when it was created ("0%|"), never the
  bar it became;
- ``off``: no bars at all.
"""

from __future__ import annotations

import os
import sys
import warnings

from tqdm.std import tqdm as _std_tqdm

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm as _auto_tqdm

__all__ = ["PROGRESS_ENV", "SummaryBar", "progress_mode", "tqdm"]

#: The environment variable that selects the bar's form (see the module docstring).
PROGRESS_ENV = "GNNREC_PROGRESS"
MODES = ("live", "summary", "off")


def progress_mode(environ=None) -> str:
    """The progress form chosen by ``GNNREC_PROGRESS`` in ``environ`` (default ``os.environ``).

    Returns one of ``"live"`` (also when unset or empty), ``"summary"``, ``"off"``; any other
    value raises ``ValueError`` naming the variable and the accepted values.
    """
    env = os.environ if environ is None else environ
    value = env.get(PROGRESS_ENV, "").strip().lower() or "live"
    if value not in MODES:
        raise ValueError(
            f"{PROGRESS_ENV}={env.get(PROGRESS_ENV)!r} is not one of {', '.join(MODES)}: "
            f"set one of those, or unset it for live bars"
        )
    return value


class SummaryBar(_std_tqdm):
    """A tqdm bar that prints nothing while it runs and one line when it closes.

    Writes to stdout unless ``file=`` is given (a notebook shows stderr as a warning). The
    line is ``"<desc>: done n/total [elapsed, rate, postfix]"`` when ``n`` reached ``total``
    (``"done n"`` without a total), else ``"<desc>: stopped at n/total […]"``.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("file", sys.stdout)
        kwargs["leave"] = True  # close() then calls display(pos=0) once and ends the line
        self._closing = False
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None):  # noqa: D401 - tqdm's hook
        if self._closing and msg is None:
            self.fp.write(self.summary())
        return True

    def summary(self) -> str:
        """The line ``close()`` prints (see the class docstring)."""
        d = self.format_dict
        total, n = d["total"], d["n"]
        elapsed = d["elapsed"]
        rate = d["rate"] if d["rate"] else (n / elapsed if elapsed else None)
        unit = d["unit"]
        if not rate:
            rate_text = f"?{unit}/s"
        elif rate < 1:  # tqdm's own convention for slow loops
            rate_text = f"{1 / rate:.2f}s/{unit}"
        else:
            rate_text = f"{rate:.2f}{unit}/s"
        postfix = f", {d['postfix']}" if d.get("postfix") else ""
        prefix = f"{d['prefix']}: " if d.get("prefix") else ""
        interval = self.format_interval(elapsed)
        if total is None:
            count = f"done {n}"
        elif n >= total:
            count = f"done {n}/{total}"
        else:
            count = f"stopped at {n}/{total}"
        return f"{prefix}{count} [{interval}, {rate_text}{postfix}]"

    def close(self):
        self._closing = True
        super().close()


def tqdm(*args, **kwargs):
    """A progress bar with tqdm's arguments, in the form ``GNNREC_PROGRESS`` selects.

    Read at every call, so a kernel started by papermill with ``GNNREC_PROGRESS=summary``
    prints one line per loop while JupyterLab (variable unset) shows live widget bars.
    """
    mode = progress_mode()
    if mode == "summary":
        return SummaryBar(*args, **kwargs)
    if mode == "off":
        kwargs["disable"] = True
        return _std_tqdm(*args, **kwargs)
    return _auto_tqdm(*args, **kwargs)
