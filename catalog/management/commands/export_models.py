"""manage.py export_models [-o FILE] [--as-of MOMENT] [--schema-version 2.4]: the bytes the
endpoint serves (served)."""

import argparse
import os
import secrets
from datetime import datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.formats.published import HistoryUnavailable, snapshot
from catalog.formats.registry import FLAT, FORMATS, SCHEMA_VERSIONS


def moment(text: str) -> datetime:
    """An ISO 8601 date and time with its time zone (``Z`` for UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date and time, such as 2026-11-01T12:00:00Z."
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; add Z for UTC (2026-11-01T12:00:00Z) or an offset "
            "(+02:00)."
        )
    return value


def option(name: str, parse, value):
    """``value`` as ``parse`` reads it (a string from the command line, or already a value, or
    None); a mistake is a CommandError naming the option."""
    if not isinstance(value, str):
        return value
    try:
        return parse(value)
    except argparse.ArgumentTypeError as error:
        raise CommandError(f"{name}: {error}") from None


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once: a reader sees the old file or the new one."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the mode, as for any new file.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class Command(BaseCommand):
    help = (
        "Write the published catalog exactly as the endpoint serves it (or served it at a past "
        "moment, --as-of), to standard output or to a file (-o), which is replaced atomically."
    )

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")
        # Parsed in handle(), so that a mistake is one line and exit status 1 like every other
        # refusal, not argparse's usage block and 2.
        parser.add_argument(
            "--as-of",
            metavar="MOMENT",
            help="The catalog as served at this moment, from the history, scheduled price "
            "changes included: ISO 8601 with a time zone, e.g. 2026-11-01T12:00:00Z. In either "
            "format (with --schema-version, the typed one).",
        )
        parser.add_argument(
            "--schema-version",
            choices=SCHEMA_VERSIONS,
            help="Write the typed format of this schema version, as the endpoint serves it "
            "for ?schema_version=...; without it, the flat format.",
        )

    def handle(self, *args, output, as_of, schema_version, **options):
        as_of = option("--as-of", moment, as_of)
        written = FORMATS[schema_version or FLAT]
        left_out: list[str] = []
        if as_of is None:
            # The body and what it leaves out of each model (not silent: on stderr, exit status
            # 0) in one snapshot, so that a commit between the two reads cannot part them.
            with snapshot():
                body = written.published().body
                if written.left_out is not None:
                    left_out = written.left_out()
        else:
            try:
                body = written.as_of(as_of)
            except HistoryUnavailable as error:
                raise CommandError(str(error)) from None
        for line in left_out:
            self.stderr.write(line)
        if output is None:
            buffer = getattr(self.stdout, "buffer", None)
            if buffer is None:  # a text stream without bytes underneath (call_command in tests)
                self.stdout.write(body.decode(), ending="")
            else:
                self.stdout.flush()
                buffer.write(body)
                buffer.flush()
            return
        try:
            write_atomically(Path(output), body)
        except OSError as error:
            raise CommandError(f"Cannot write {output}: {error.strerror or error}.") from None
        if options["verbosity"] >= 1:
            when = "" if as_of is None else f" as of {as_of.isoformat()}"
            what = "" if schema_version is None else f" (schema_version {schema_version})"
            self.stdout.write(
                f"Wrote the published catalog{what}{when} to {output} ({len(body)} bytes)."
            )
