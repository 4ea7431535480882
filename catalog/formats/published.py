"""What every format's published reader shares. Now: the catalog read in one snapshot with its
revision (``in_snapshot``, ``Published``; ``snapshot`` for other reads that must agree with it),
the price rows in force at a moment as plain columns. At a past moment: the history records
that were the public catalog then (``records_as_of``), each model as its record left it
(``state_of``). Each format renders from these in its own ``published`` module."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from catalog.bulk import gc_paused
from catalog.models import HistoricalServedModel, HistoryRecord, PriceEntry, ServedModel
from catalog.offering import Offering
from catalog.revision import REVISION_SQL

# A price row as the published readers read it (flat and typed), before its overrides.
PRICE_ROW_COLUMNS = ("model_id", "modality_id", "price_type", "unit", "cost_usd", "ttl_seconds",
                     "implicit", "utc_start", "utc_end", "utc_days")  # fmt: skip


def prices_in_force(rows: Q, at: datetime | None = None) -> QuerySet[PriceEntry]:
    """The price rows ``rows`` selects that are in force at ``at`` (default: now), unordered."""
    return PriceEntry.objects.filter(rows, PriceEntry.in_force_at(at or timezone.now())).order_by()


class Published(NamedTuple):
    """A rendered catalog: the revision it was read at, and until when it stays true."""

    revision: int
    body: bytes
    # The next moment a published price starts or ends (a scheduled change); None: until the
    # next revision. Time joins the revision here: the body of a revision is current until then.
    valid_until: datetime | None = None


# The revision, and the next moment after %(at)s that a published price starts or ends: one
# round trip, on the partial indexes of valid_from and valid_until. LEAST skips NULLs.
_REVISION_AND_NEXT_CHANGE = f"""
SELECT ({REVISION_SQL}), LEAST(
    (SELECT min(p.valid_from) FROM catalog_priceentry p
        JOIN catalog_servedmodel m ON m.id = p.model_id
        WHERE p.valid_from > %(at)s AND m.is_published{{shown}}),
    (SELECT min(p.valid_until) FROM catalog_priceentry p
        JOIN catalog_servedmodel m ON m.id = p.model_id
        WHERE p.valid_until > %(at)s AND m.is_published{{shown}}))
"""
_ONLY_SHOWN = (
    " AND (p.price_type, p.unit) IN (SELECT * FROM unnest(%(types)s::text[], %(units)s::text[]))"
)


def in_snapshot(
    read: Callable[[datetime], bytes], shown: Sequence[tuple[str, str]] | None = None
) -> Published:
    """The catalog revision and what ``read`` renders of the catalog in force now, read in one
    snapshot, with the moment until which that body is true: the next start or end of a price
    of the (type, unit) pairs ``shown`` (default: of any price).

    Both reads share a REPEATABLE READ snapshot, so the body is exactly the catalog at that
    revision: a write committing in between can never put old data under a new revision.
    """
    at = timezone.now()
    with snapshot():
        return _read(read, at, shown)


@contextmanager
def snapshot() -> Iterator[None]:
    """One REPEATABLE READ, read-only transaction: every read inside it sees the same catalog,
    whatever commits meanwhile. Inside a caller's transaction (tests) its isolation level
    applies, as SET TRANSACTION must come first; the endpoint and the exporter never read
    inside one."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _read(
    read: Callable[[datetime], bytes], at: datetime, shown: Sequence[tuple[str, str]] | None
) -> Published:
    parameters: dict[str, Any] = {"at": at}
    if shown is not None:
        parameters |= {"types": [t for t, _ in shown], "units": [u for _, u in shown]}
    statement = _REVISION_AND_NEXT_CHANGE.format(shown="" if shown is None else _ONLY_SHOWN)
    with connection.cursor() as cursor:
        cursor.execute(statement, parameters)
        revision, valid_until = cursor.fetchone()
    with gc_paused():
        return Published(revision or 0, read(at), valid_until)


# --- at a past moment, from the history ------------------------------------------------------
class HistoryUnavailable(Exception):
    """The history does not reach back to the moment asked for."""


class State(NamedTuple):
    """A served model as a history record left it, and its offering then."""

    model: ServedModel
    offering: Offering


def state_of(record: HistoryRecord, at: datetime | None = None) -> State:
    """The served model as ``record`` left it, with the prices in force at ``at`` (default:
    when the record was made; a scheduled change may have started since). Cached on the
    record, per moment."""
    at = at or record.history_date
    states = record.__dict__.setdefault("_states_of", {})
    state = states.get(at)
    if state is None:
        state = State(record.instance, Offering.from_json(record.offering, at))
        states[at] = state
    return state


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def records_as_of(moment: datetime) -> list[HistoryRecord]:
    """Each model's latest record at or before ``moment``, left out if it is a deletion or a
    draft; two queries. Raises ``HistoryUnavailable`` for a moment before the first record.

    A record is dated when its change was made, a moment before it committed.
    """
    first = HistoricalServedModel.objects.aggregate(first=Min("history_date"))["first"]
    if first is None:
        raise HistoryUnavailable("The catalog has no recorded history yet.")
    if moment < first:
        raise HistoryUnavailable(
            f"The history starts at {_iso(first)}; there is no record of the catalog at "
            f"{_iso(moment)}."
        )
    latest = (
        HistoricalServedModel.objects.filter(history_date__lte=moment)
        .order_by("id", "-history_date", "-history_id")
        .distinct("id")
        .values("history_id")
    )
    return list(
        HistoricalServedModel.objects.filter(history_id__in=latest, is_published=True)
        .exclude(history_type="-")
        .order_by()
    )
