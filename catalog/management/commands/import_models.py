"""manage.py import_models SOURCE: import a catalog file in the wire format, flat or typed
(``schema_version`` 2.4, recognised from the file's records); with ``--effective-at MOMENT``,
schedule the file's price changes for that moment instead.

Reads the source (``catalog.sources``), then hands the bytes to ``catalog.importer``.
"""

import argparse
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import cast

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from catalog.actions.schedule import ScheduleError, check_moment
from catalog.formats.problems import CatalogFileInvalid, printable, shorten
from catalog.importer import (
    BATCH_SIZE,
    ImportResult,
    ScheduleResult,
    import_catalog,
    schedule_import,
)
from catalog.management.commands.export_models import moment, option
from catalog.offering import InvalidOffering
from catalog.sources import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_BYTES_LIMIT,
    CatalogSourceError,
    Readable,
    read_source,
)

# The unknown keys a notice names; a hostile file may hold millions.
_NOTICE_KEYS = 20


def _whole_number(maximum: int | None = None):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1 or (maximum is not None and value > maximum):
            upper = f" and {maximum}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(
                f"{shorten(text)!r} is not a whole number between 1{upper}"
            )
        return value

    return parse


# Rows written per table, as this session has counted them (its current transaction and any
# earlier one not yet reported), with the rows after which autovacuum would analyse the table.
_WRITES = """
SELECT s.schemaname, s.relname, s.n_tup_ins + s.n_tup_upd + s.n_tup_del,
    current_setting('autovacuum_analyze_threshold')::int
    + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0)
FROM pg_stat_xact_user_tables s JOIN pg_class c ON c.oid = s.relid
"""


def _rows_written() -> dict[tuple[str, str], tuple[int, float]]:
    with connection.cursor() as cursor:
        cursor.execute(_WRITES)
        return {(schema, table): (rows, threshold) for schema, table, rows, threshold in cursor}


def _tables_to_analyze(before: dict[tuple[str, str], tuple[int, float]]) -> list[str]:
    """The tables the current transaction has written, since ``before``, enough rows to for
    autovacuum to analyse them once committed: a bulk import's, not a few changes'."""
    quote = connection.ops.quote_name
    return [
        f"{quote(schema)}.{quote(table)}"
        for (schema, table), (rows, threshold) in sorted(_rows_written().items())
        if rows - before.get((schema, table), (0, 0))[0] > threshold
    ]


@contextmanager
def _analyzed_after_commit(writing: bool) -> Iterator[None]:
    """Around an import: once it has committed, the tables it wrote enough rows to for autovacuum
    to analyse them are analysed now rather than when autovacuum gets to them (a minute or more).
    Until then the render's queries are planned blind (docs/architecture/decisions.md). The
    importer's transaction is held open here a moment longer to ask PostgreSQL what it wrote."""
    if not writing:
        yield
        return
    with transaction.atomic():
        before = _rows_written()
        yield
        tables = _tables_to_analyze(before)
    if tables:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")


class Command(BaseCommand):
    help = (
        "Import models from a catalog file in a format the endpoint serves, flat or typed "
        "(records with schema_version 2.4): a path, - for "
        "standard input, or the http(s) URL of another instance's endpoint. Every record is "
        "validated first; on any problem nothing is written. Models in the file are created or "
        "updated and published; the others are left alone unless --prune. With --effective-at, "
        "the file's price changes are scheduled for that moment instead, and it may change "
        "nothing else."
    )
    # Tests hand the command a binary stream instead of the process's standard input.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("source", help="A file path, - (standard input) or an http(s) URL.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change; write nothing."
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Unpublish published models absent from the file (they are never deleted).",
        )
        # Options with a value to check are parsed in handle(), so that a mistake is one line
        # and exit status 1 like every other refusal, not argparse's usage block and 2.
        parser.add_argument(
            "--effective-at",
            metavar="MOMENT",
            help="Schedule the file's price changes for this moment (ISO 8601 with a time zone, "
            "on the minute, in the future, e.g. 2026-12-01T00:00:00Z) instead of importing now. "
            "The file may change only prices of models in the catalog; compared with the prices "
            "in force just before the moment.",
        )
        parser.add_argument(
            "--announce",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="With --effective-at: whether the change is public ahead of its moment "
            "(--announce, the default: customers must hear of a price change ahead) or "
            "confidential until then (--no-announce).",
        )
        parser.add_argument(
            "--allow-large-price-changes",
            action="store_true",
            help="Accept prices of stored models that change more than ten times up or down, "
            "or to or from zero (refused otherwise, as likely mistakes).",
        )
        parser.add_argument(
            "--format",
            choices=["text", "json"],
            default="text",
            help="The summary's format; json is meant for pipelines.",
        )
        parser.add_argument(
            "--max-bytes",
            default=DEFAULT_MAX_BYTES,
            help=(
                f"Refuse a larger source, before reading it when its size is known (default "
                f"{DEFAULT_MAX_BYTES}, at most {MAX_BYTES_LIMIT})."
            ),
        )
        parser.add_argument(
            "--timeout",
            default=DEFAULT_TIMEOUT_SECONDS,
            help=(
                f"Seconds a URL's whole download may take, from connecting to the last byte "
                f"(default {DEFAULT_TIMEOUT_SECONDS})."
            ),
        )

    def handle(
        self,
        *args,
        source,
        dry_run,
        prune,
        effective_at,
        announce,
        allow_large_price_changes,
        format,
        max_bytes,
        timeout,
        **options,
    ):
        effective_at = option("--effective-at", moment, effective_at)
        max_bytes = option("--max-bytes", _whole_number(MAX_BYTES_LIMIT), max_bytes)
        timeout = option("--timeout", _whole_number(), timeout)
        if effective_at is None and announce is not None:
            raise CommandError(
                f"--{'' if announce else 'no-'}announce applies only to a change scheduled "
                "with --effective-at; an import without it changes prices now."
            )
        if effective_at is not None:
            if prune:
                raise CommandError(
                    "--prune cannot be used with --effective-at: a scheduled file changes only "
                    "the prices of the models it lists."
                )
            try:
                check_moment(effective_at)  # before reading (downloading) the source
            except ScheduleError as error:
                raise CommandError(f"--effective-at: {error}") from None
        # typeshed says BinaryIO, which has no readinto(); standard input's buffer is a reader.
        stdin: Readable = options.get("stdin") or cast(io.BufferedReader, sys.stdin.buffer)
        # A path may hold bytes that are not UTF-8 (as lone surrogates); messages and the
        # history get their escapes.
        name = "standard input" if source == "-" else printable(source)
        # The history says which command wrote, and from what.
        change_reason = f"import_models: {'stdin' if source == '-' else name}"
        result: ImportResult | ScheduleResult
        try:
            # A bytearray, which the importer empties once decoded (it takes no memory after).
            data = read_source(source, stdin=stdin, max_bytes=max_bytes, timeout=timeout)
            with _analyzed_after_commit(not dry_run):
                if effective_at is None:
                    result = import_catalog(
                        data,
                        prune=prune,
                        dry_run=dry_run,
                        progress=self._progress_display(),
                        change_reason=change_reason,
                        allow_large_price_changes=allow_large_price_changes,
                    )
                else:
                    result = schedule_import(
                        data,
                        effective_at,
                        dry_run=dry_run,
                        source=change_reason,
                        announced=announce is not False,
                        allow_large_price_changes=allow_large_price_changes,
                    )
        except CatalogSourceError as error:
            raise CommandError(str(error)) from None
        except InvalidOffering as error:  # the last line: the decoders and the plan name them
            raise CommandError(f"{name}: {error} Nothing was imported.") from None
        except ScheduleError as error:
            raise CommandError(f"{name}: {error} Nothing was scheduled.") from None
        except CatalogFileInvalid as error:
            count = len(error.problems)
            at_least = "" if error.complete else "at least "
            raise CommandError(
                f"{name}: {at_least}{count} problem{'s' if count != 1 else ''}, "
                f"nothing was {'imported' if effective_at is None else 'scheduled'}.\n"
                f"{error}"
            ) from None
        if result.ignored_keys:
            ignored = ", ".join(
                f"{shorten(key)} ({count}×)" if count > 1 else shorten(key)
                for key, count in list(result.ignored_keys.items())[:_NOTICE_KEYS]
            )
            if len(result.ignored_keys) > _NOTICE_KEYS:
                ignored += f" and {len(result.ignored_keys) - _NOTICE_KEYS} more"
            self.stderr.write(f"Notice: ignored unknown keys: {ignored}.", self.style.WARNING)
        if format == "json":
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
        elif isinstance(result, ScheduleResult):
            self._summarize_schedule(name, result, options["verbosity"])
        else:
            self._summarize(name, result, options["verbosity"])

    def _summarize(self, name: str, result: ImportResult, verbosity: int) -> None:
        if verbosity >= 2:
            for model_id in result.created:
                self.stdout.write(f"  created     {model_id}")
            for model_id, fields in result.updated.items():
                self.stdout.write(f"  updated     {model_id}: {', '.join(fields)}")
            for model_id in result.pruned:
                self.stdout.write(f"  unpublished {model_id}")
        if verbosity >= 1:
            counts = ", ".join(f"{count} {what}" for what, count in result.counts.items())
            if result.dry_run:
                self.stdout.write(f"Dry run of {name}, nothing written: {counts}.")
            else:
                self.stdout.write(self.style.SUCCESS(f"Imported {name}: {counts}."))

    def _summarize_schedule(self, name: str, result: ScheduleResult, verbosity: int) -> None:
        # A dry run is asked for to see the changes: listed at the default verbosity.
        if verbosity >= (1 if result.dry_run else 2):
            for model_id, changes in result.scheduled.items():
                self.stdout.write(f"  {model_id}")
                for change in changes:
                    self.stdout.write(f"    {change}")
        if verbosity >= 1:
            when = _when(result.effective_at)
            models = result.counts["scheduled"]
            counts = (
                f"{models} model{'s' if models != 1 else ''} with a price change, "
                f"{result.counts['unchanged']} unchanged"
            )
            if not result.announced:
                when += ", confidential until then"
            if result.dry_run:
                self.stdout.write(
                    f"Dry run of {name} for {when}, nothing scheduled: would schedule {counts}."
                )
            else:
                self.stdout.write(self.style.SUCCESS(f"Scheduled {name} for {when}: {counts}."))

    def _progress_display(self):
        """A progress line for long imports, only on a terminal (never in logs or pipes)."""
        if not self.stdout.isatty():
            return None

        def show(stage: str, done: int, total: int) -> None:
            if total > BATCH_SIZE:
                end = "\n" if done == total else ""
                self.stdout.write(f"\r{stage} {done}/{total} models", ending=end)
                self.stdout.flush()

        return show


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
