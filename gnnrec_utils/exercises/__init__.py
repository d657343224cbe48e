"""Checks for the course exercises: specific feedback, not just pass/fail.

Each ``check_*`` function recomputes the expected answer from the inputs with plain code of
its own, prints ``✓ Exercise N.M: …`` when the answer is right and otherwise raises
:class:`ExerciseFeedback` (an ``AssertionError``) that says what is wrong and gives a hint.
Exercise numbers are ``<notebook>.<exercise>``: ``check_threshold_cost`` is Exercise 1.1, the
first exercise of notebook 01.

In the student edition (``make student``) the solution cells are replaced by a stub; the check
cells stay as they are.

The checks live in one module per notebook (``nb01`` … ``nb06``); this package re-exports them,
so notebooks call ``exercises.check_…``.
"""

from __future__ import annotations

from gnnrec_utils.exercises._base import ExerciseFeedback
from gnnrec_utils.exercises.nb01 import *  # noqa: F403
from gnnrec_utils.exercises.nb02 import *  # noqa: F403
from gnnrec_utils.exercises.nb03 import *  # noqa: F403
from gnnrec_utils.exercises.nb04 import *  # noqa: F403
from gnnrec_utils.exercises.nb05 import *  # noqa: F403
from gnnrec_utils.exercises.nb06 import *  # noqa: F403
from gnnrec_utils.exercises.nb07 import *  # noqa: F403

__all__ = ["ExerciseFeedback"] + [n for n in dir() if n.startswith("check_")]
