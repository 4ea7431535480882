"""What differs between two states of a served model, named as the flat format names it.

The importer reports these names (``-v 2``, ``--format json``) and the history stores them
(``changed_fields``), so both compare models exactly as they are served.
"""

from __future__ import annotations

from collections.abc import Sequence

from catalog.formats.flat.encode import WireRecord, wire_record
from catalog.formats.flat.names import OVERRIDES, PRICING_KEYS, PUBLISHED, RECORD_KEYS
from catalog.formats.flat.offering import FlatFields
from catalog.models import ServedModel


def changed_keys(before: WireRecord, after: WireRecord) -> list[str]:
    """The keys whose served value differs, in record order; prices as ``pricing.<key>``, then
    ``pricing.overrides``."""
    changed = []
    for key in RECORD_KEYS:
        if key == "pricing":
            changed += [
                f"pricing.{price}"
                for price in PRICING_KEYS
                if before["pricing"][price] != after["pricing"][price]  # type: ignore[literal-required]  # price is one of PRICING_KEYS
            ]
            if before["pricing"].get(OVERRIDES) != after["pricing"].get(OVERRIDES):
                changed.append(f"pricing.{OVERRIDES}")
        elif before.get(key) != after.get(key):
            changed.append(key)
    return changed


def changed_fields(
    before: ServedModel,
    before_codes: Sequence[str],
    after: ServedModel,
    after_codes: Sequence[str],
    *,
    before_flat: FlatFields,
    after_flat: FlatFields,
) -> list[str]:
    """The names of what differs between two states of a model, compared as they are served
    (``before_flat``/``after_flat``: the flat fields of each one's offering)."""
    changed = changed_keys(
        wire_record(before, before_codes, before_flat), wire_record(after, after_codes, after_flat)
    )
    if before.is_published != after.is_published:
        changed.append(PUBLISHED)
    return changed
