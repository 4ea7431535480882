"""Work on the whole catalog at once without the cyclic garbage collector's full passes.

Rendering or importing a whole catalog makes hundreds of thousands of objects (rows, records,
offerings) that all live until the end; so many new objects trigger many full passes, each
walking all of them (their cost: docs/PERFORMANCE.md). They hold no reference cycles worth
collecting meanwhile, so ``gc_paused`` switches the collector off for the duration (reference
counting still frees what is dropped) and back on after, as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models import Lookup


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside (nested uses leave it to the outermost)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class AnyOf(Lookup):
    """``column = ANY(%s)``: the values as one array parameter, not one parameter per model
    (``__in``), which is slow to compose and parse for a whole catalog."""

    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]
