"""manage.py export_models [-o FILE]: exactly the bytes the endpoint serves."""

import os
import secrets
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from catalog.wire import published_catalog


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
        "Write the published catalog exactly as the endpoint serves it, to standard output or "
        "to a file (-o), which is replaced atomically."
    )

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="Write to this file instead of stdout.")

    def handle(self, *args, output, **options):
        _, body = published_catalog()
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
            self.stdout.write(f"Wrote the published catalog to {output} ({len(body)} bytes).")
