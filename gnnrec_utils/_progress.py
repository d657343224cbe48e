"""``tqdm.auto`` for the training loops, imported without its one-off ipywidgets warning (private).

``tqdm.auto`` warns once when ipywidgets is missing (plain terminals, papermill without
widgets); the progress bars work either way, so the warning is silenced here, in one place.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
