"""The feed's cursors: opaque to clients, stable, and checked when they come back."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from catalog.changes import Key
from router.api.errors import BadParameter


def encode(key: Key) -> str:
    moment, source, row_id, index = key
    text = json.dumps([moment.isoformat(), source, row_id, index], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(cursor: str, parameter: str = "since") -> Key:
    """The key a cursor of ``encode`` names; ``BadParameter`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, source, row_id, index = json.loads(raw)
        key = (datetime.fromisoformat(moment), source, row_id, index)
        if key[0].tzinfo is None or not all(type(part) is int for part in key[1:]):
            raise ValueError
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise BadParameter(
            parameter,
            f"{parameter}: {cursor[:80]!r} is not a cursor of this feed; give the cursor of an "
            "item (or next) as it was sent.",
            "invalid_cursor",
        ) from None
    return key
