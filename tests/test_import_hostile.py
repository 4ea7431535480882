"""import_models against hostile input: each case is a named problem, never a traceback (#12).

Every refusal exits non-zero with a message naming the record and field where there is one, and
leaves the catalog as it was: its revision, its rows and their history.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.formats.problems import MAX_PROBLEMS
from catalog.formats.strict_json import MAX_DEPTH, MAX_INTEGER_DIGITS, nesting_depth
from catalog.importer import import_catalog
from catalog.models import ServedModel
from catalog.sources import MAX_BYTES_LIMIT, CatalogSourceError, read_source
from tests.helpers import NEW_RECORD as RECORD
from tests.helpers import catalog_state, record

ROOT = Path(__file__).resolve().parent.parent


def catalog_file(*records: dict, **top_level) -> bytes:
    # ensure_ascii=False keeps a lone surrogate as a character, which UTF-8 cannot encode;
    # the default writes it as the escape "\ud800", as a hostile file would.
    return json.dumps({"data": list(records), **top_level}).encode()


def with_value(key: str, raw: str, data: bytes | None = None) -> bytes:
    """A one-record file whose ``key`` holds the JSON text ``raw``, written as it is."""
    data = data or catalog_file(record())
    old = json.dumps(RECORD[key]).encode()
    marker = f'"{key}": '.encode()
    assert data.count(marker + old) == 1
    return data.replace(marker + old, marker + raw.encode())


@pytest.fixture
def refused(catalog, tmp_path):
    """Import ``data`` (or a URL); return the CommandError's message, checking nothing changed."""

    def run(data: bytes | None, *args: str, source: str | None = None) -> str:
        if source is None:
            assert data is not None, "a file's bytes, or a source"
            source = str(tmp_path / "catalog.json")
            Path(source).write_bytes(data)
        before = catalog_state()
        stdout, stderr = io.StringIO(), io.StringIO()
        with pytest.raises(CommandError) as raised:
            call_command("import_models", source, *args, stdout=stdout, stderr=stderr)
        assert catalog_state() == before
        assert stdout.getvalue() == ""
        message = str(raised.value)
        assert "Traceback" not in message + stderr.getvalue()
        return message

    return run


DEEP = b'{"data": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            DEEP,
            # The first bracket past the limit: `{"data": [` then 99 of the 100,000.
            f"file: arrays and objects are nested more than {MAX_DEPTH} levels deep at line 1, "
            "column 109; a catalog needs 5.",
            id="100,000 levels",
        ),
        pytest.param(
            b'{"data": ' + b"[" * 100_000, "nested more than 100 levels deep", id="unclosed"
        ),
        pytest.param(
            b'{"data": [{"a": ' + b"{" * 100_000 + b"}" * 100_000 + b"}]}",
            "nested more than 100 levels deep",
            id="100,000 objects",
        ),
        pytest.param(
            b'{\n  "data": [\n    {"extra": ' + b"[" * 98 + b"]" * 98 + b"}]}",
            # `    {"extra": ` then the 98th bracket.
            "nested more than 100 levels deep at line 3, column 112",
            id="101 levels",
        ),
    ],
)
def test_deep_nesting_is_refused_before_parsing(refused, data, expected):
    message = refused(data)
    assert "1 problem, nothing was imported.\n" in message
    assert expected in message


def test_nesting_up_to_the_limit_is_read(catalog, tmp_path):
    # File, data and record are 3 levels; the unknown key takes the rest, then is ignored.
    levels = MAX_DEPTH - 3
    data = catalog_file(record(extra=[]))
    data = data.replace(b'"extra": []', b'"extra": ' + b"[" * levels + b"]" * levels)
    (tmp_path / "catalog.json").write_bytes(data)
    stderr = io.StringIO()
    call_command(
        "import_models", str(tmp_path / "catalog.json"), stdout=io.StringIO(), stderr=stderr
    )
    assert stderr.getvalue() == "Notice: ignored unknown keys: data[].extra.\n"
    assert ServedModel.objects.filter(model_id="acme/new-model").exists()


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}], "c": {}}', 4),
        (b'["]]]]", "[[[[", "\\"", "\\\\", [["\\\\\\"["]]]', 3),  # brackets in strings
        (b"[[], [[]], [[[]]], []]", 4),
        (b'["a""b"[]]', 2),  # not JSON, but no string swallows a bracket
        (b'{"a": "[[[', 1),  # truncated inside a string
        (b"[[[[", 4),  # truncated: the depth a parser would reach
    ],
)
def test_nesting_depth_counts_brackets_outside_strings_only(text, depth):
    assert nesting_depth(text) == depth


LONE = "holds a lone surrogate (half of a UTF-16 pair, such as \\ud800), which is not Unicode text"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            catalog_file(record(name="New\ud800")),
            f'record 0, id "acme/new-model", name, value "New\\ud800": {LONE}',
            id="name",
        ),
        pytest.param(
            catalog_file(record(id="acme/new\udc00")),
            f'record 0, id "acme/new\\udc00", id, value "acme/new\\udc00": {LONE}',
            id="id (a low surrogate)",
        ),
        pytest.param(
            catalog_file(record(input_modalities=["text", "\ud800"])),
            f'record 0, id "acme/new-model", input_modalities, value ["text", "\\ud800"]: {LONE}',
            id="in a list",
        ),
        pytest.param(
            catalog_file(record(pricing={**RECORD["pricing"], "prompt": "0.1\ud800"})),
            f'record 0, id "acme/new-model", pricing.prompt, value "0.1\\ud800": {LONE}',
            id="price",
        ),
        pytest.param(
            catalog_file(record(datacenters=[{"country_code": "U\ud800"}])),
            f'record 0, id "acme/new-model", datacenters[0].country_code, value "U\\ud800": {LONE}',
            id="country code",
        ),
        pytest.param(
            catalog_file(record(extra={"deep": ["\ud800"]})),
            f'record 0, id "acme/new-model", extra, value {{"deep": ["\\ud800"]}}: {LONE}',
            id="inside an unknown key",
        ),
        pytest.param(
            catalog_file(record() | {"x\ud800": 1}),
            f'record 0, id "acme/new-model", x\\ud800, value 1: {LONE}',
            id="a key",
        ),
        pytest.param(
            catalog_file(record(), note="\ud800"),
            f'file, note, value "\\ud800": {LONE}',
            id="top level",
        ),
    ],
)
def test_a_lone_surrogate_is_named_with_its_record_and_field(refused, data, expected):
    assert b"\\ud800" in data or b"\\udc00" in data
    message = refused(data)
    assert expected in message
    message.encode("utf-8")  # the message itself holds none


@pytest.mark.parametrize(
    "note",
    [
        pytest.param("\U0001f600", id="a pair"),
        pytest.param("\\ud800", id="an escaped backslash, then ud800"),
    ],
)
def test_a_surrogate_pair_or_lookalike_is_read(catalog, tmp_path, note):
    data = catalog_file(record(note=note))
    assert b"\\ud8" in data
    (tmp_path / "catalog.json").write_bytes(data)
    call_command(
        "import_models", str(tmp_path / "catalog.json"), stdout=io.StringIO(), stderr=io.StringIO()
    )
    assert ServedModel.objects.filter(model_id="acme/new-model").exists()


DIGITS_5000 = "9" * 5000
SHOWN = "9" * 79 + "… (5,000 digits)"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(
            with_value("context_length", DIGITS_5000),
            f'record 0, id "acme/new-model", context_length, value {SHOWN}: must be a JSON '
            "integer, not a number of 5,000 digits.",
            id="length",
        ),
        pytest.param(
            with_value("created", "-" + DIGITS_5000),
            f"created, value -{'9' * 78}… (5,000 digits): must be a JSON integer",
            id="negative created",
        ),
        pytest.param(
            with_value("name", DIGITS_5000),
            "name, value 999",
            id="name",
        ),
        pytest.param(
            with_value("context_length", "1" * (MAX_INTEGER_DIGITS + 1)),
            f"not a number of {MAX_INTEGER_DIGITS + 1} digits.",
            id="one digit too many",
        ),
        pytest.param(
            with_value("context_length", "1" * MAX_INTEGER_DIGITS),
            "context_length, value 1111",
            id="read, then held to the rules",
        ),
        pytest.param(
            with_value("input_modalities", f"[{DIGITS_5000}]"),
            'input_modalities, value ["999',
            id="in a list",
        ),
    ],
)
def test_an_integer_of_thousands_of_digits_is_named_not_converted(refused, data, expected):
    message = refused(data)
    assert expected in message
    assert len(message) < 1000


def test_long_values_ids_and_keys_are_echoed_shortened_with_their_length(refused):
    long_id = "i" * 10_000_000
    data = catalog_file(record(id=long_id) | {"k" * 1_000_000: float("nan")})
    message = refused(data)
    assert len(message) < 2000
    shown_id = '"' + "i" * 78 + "… (10,000,000 characters)"
    assert f"record 0, id {shown_id}, id, value {shown_id}: " in message
    assert f"record 0, id {shown_id}, {'k' * 79}… (1,000,000 characters): NaN" in message


def test_a_rule_message_quoting_a_huge_value_is_shortened(refused):
    message = refused(catalog_file(record(name="\x07" + "n" * 1_000_000)))
    assert "name, value " in message
    # The rule's reason quotes the whole name; it is cut, and says how long it was.
    assert "The name must not contain control characters: '\\x07nnnn" in message
    assert "… (1,000,0" in message.split("control characters")[1]
    assert len(message) < 2000


def test_a_notice_names_at_most_20_unknown_keys(catalog, tmp_path):
    extra = {f"extra{n:03}": n for n in range(25)}
    (tmp_path / "catalog.json").write_bytes(catalog_file(record() | extra))
    stderr = io.StringIO()
    call_command(
        "import_models", str(tmp_path / "catalog.json"), stdout=io.StringIO(), stderr=stderr
    )
    named = ", ".join(f"data[].extra{n:03}" for n in range(20))
    assert stderr.getvalue() == f"Notice: ignored unknown keys: {named} and 5 more.\n"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[::1", "http://[::1 is not a valid URL: Invalid IPv6 URL."),
        ("http://catalog.invalid:99999/", "is not a valid URL: Port out of range 0-65535."),
        ("http://catalog.invalid:http/", "is not a valid URL: Port could not be cast"),
        ("http:///models", "http:///models is not an http(s) URL with a host name."),
        ("http://catalog.invalid/a b", "holds spaces or control characters"),
        ("http://catalog.invalid/\x00", "holds spaces or control characters"),
        ("http://user:secret@catalog.invalid/", "holds credentials; they are not supported"),
        ("ftp://catalog.invalid/models", "ftp://catalog.invalid/models: only http(s) URLs"),
        ("file:///etc/passwd", "only http(s) URLs are read"),
    ],
)
def test_a_malformed_url_is_a_clear_error(refused, url, expected):
    assert expected in refused(None, source=url)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--max-bytes", str(MAX_BYTES_LIMIT + 1)], f"between 1 and {MAX_BYTES_LIMIT}"),
        (["--max-bytes", "0"], f"between 1 and {MAX_BYTES_LIMIT}"),
        (["--max-bytes", "1e9"], "'1e9' is not a whole number"),
        (["--timeout", "0"], "'0' is not a whole number between 1"),
    ],
)
def test_limits_out_of_range_are_refused(refused, args, expected):
    assert expected in refused(catalog_file(record()), *args)


def test_max_bytes_above_its_limit_is_refused_by_the_service_too():
    with pytest.raises(CatalogSourceError, match=f"between 1 and {MAX_BYTES_LIMIT}"):
        read_source("-", stdin=io.BytesIO(b"{}"), max_bytes=MAX_BYTES_LIMIT + 1)


def test_a_source_of_unknown_size_is_read_whole_up_to_max_bytes_exactly():
    data = bytes(range(256)) * 12_289  # a little over 3 MiB: the buffer grows twice
    assert read_source("-", stdin=io.BytesIO(data), max_bytes=len(data)) == data
    with pytest.raises(CatalogSourceError, match=f"larger than {len(data) - 1} bytes"):
        read_source("-", stdin=io.BytesIO(data), max_bytes=len(data) - 1)


def test_the_importer_frees_the_raw_bytes_once_decoded(db):
    data = bytearray(catalog_file(record()))
    result = import_catalog(data, dry_run=True)
    assert result.created == ["acme/new-model"]
    assert data == bytearray()


def test_a_path_that_is_not_utf8_is_named_and_recorded_with_escapes(catalog, tmp_path):
    path = tmp_path / os.fsdecode(b"caf\xe9.json")
    path.write_bytes(catalog_file(record()))
    stdout = io.StringIO()
    call_command("import_models", str(path), stdout=stdout)
    assert "caf\\udce9.json: 1 created" in stdout.getvalue()
    reason = ServedModel.history.get(model_id="acme/new-model").history_change_reason
    assert reason.endswith("caf\\udce9.json")


# --- A hostile HTTP server -------------------------------------------------------------------

# The server's pause between two bytes: five of them fill a --timeout of 1 s.
TRICKLE_SECONDS = 0.2


class _HostileHandler(http.server.BaseHTTPRequestHandler):
    """Answers by path: /trickle-body, /trickle-headers, /announce-too-much, /endless, /to-ftp."""

    def do_GET(self):
        # The client gives up, as it should.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            assert isinstance(self.server, _HostileServer)
            self._answer(self.server.stop)

    def _answer(self, stop):
        body = catalog_file(record())
        if self.path == "/to-ftp":
            self.send_response(302)
            self.send_header("Location", "ftp://catalog.invalid/models")
            self.end_headers()
            return
        if self.path == "/announce-too-much":
            self.send_response(200)
            self.send_header("Content-Length", str(10**9))
            self.end_headers()
            stop.wait()  # and send nothing: the client must not wait for it
            return
        if self.path == "/endless":
            self.send_response(200)
            self.end_headers()
            while not stop.is_set():
                self.wfile.write(b" " * 65536)
            return
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
        if self.path == "/trickle-body":
            self.wfile.write(head)
            slow = body
        else:
            slow = head + body
        for byte in slow:
            if stop.wait(TRICKLE_SECONDS):
                return
            self.wfile.write(bytes([byte]))
            self.wfile.flush()

    def log_message(self, *args):
        pass


class _HostileServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _HostileHandler)
        self.stop = threading.Event()


@pytest.fixture
def hostile_server():
    server = _HostileServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.stop.set()
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/trickle-body", "/trickle-headers"])
def test_timeout_bounds_the_whole_download_of_a_trickling_server(refused, hostile_server, path):
    url = hostile_server + path
    started = time.monotonic()
    message = refused(None, "--timeout", "1", source=url)
    elapsed = time.monotonic() - started
    assert message == (
        f"{url} was not read within 1 seconds (--timeout bounds the whole download)."
    )
    # Each byte comes within 0.2 s, so only a deadline for the whole download stops it; the
    # slack is for a busy machine, and far below the body's 150 s at that pace.
    assert 1 <= elapsed < 3


def test_a_download_announcing_more_than_max_bytes_is_refused_unread(refused, hostile_server):
    url = hostile_server + "/announce-too-much"
    started = time.monotonic()
    message = refused(None, "--max-bytes", "1000", "--timeout", "30", source=url)
    assert message == f"{url} is larger than 1000 bytes; raise --max-bytes to import it."
    assert time.monotonic() - started < 10


def test_a_download_sending_more_than_max_bytes_stops_at_the_cap(refused, hostile_server):
    url = hostile_server + "/endless"
    message = refused(None, "--max-bytes", "3000000", source=url)
    assert message == f"{url} is larger than 3000000 bytes; raise --max-bytes to import it."


def test_a_redirect_to_another_scheme_is_refused(refused, hostile_server):
    url = hostile_server + "/to-ftp"
    assert refused(None, source=url) == (
        f"{url} redirects to a URL that is refused: ftp://catalog.invalid/models is not an "
        "http(s) URL with a host name."
    )


# --- The real command: exit status and standard error ----------------------------------------


def _database_url() -> str:
    """The test database, for a process of its own (a socket directory for the embedded one)."""
    settings = connection.settings_dict
    user = quote(settings["USER"], safe="")
    if settings["PASSWORD"]:
        user += ":" + quote(settings["PASSWORD"], safe="")
    host = settings["HOST"] or "127.0.0.1"
    if host.startswith("/"):
        return f"postgresql://{user}@/{settings['NAME']}?host={quote(host, safe='/')}"
    return f"postgresql://{user}@{host}:{settings['PORT'] or 5432}/{settings['NAME']}"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(DEEP, "file: arrays and objects are nested more than 100", id="deep"),
        pytest.param(
            catalog_file(record(name="\ud800")),
            'record 0, id "acme/new-model", name, value "\\ud800": holds a lone surrogate',
            id="lone surrogate",
        ),
        pytest.param(
            with_value("context_length", DIGITS_5000),
            f'record 0, id "acme/new-model", context_length, value {SHOWN}',
            id="5,000 digits",
        ),
        pytest.param(None, "CommandError: http://[::1 is not a valid URL", id="url"),
    ],
)
def test_manage_py_exits_non_zero_without_a_traceback(
    transactional_db, catalog, tmp_path, data, expected
):
    source = "http://[::1"
    if data is not None:
        source = str(tmp_path / "catalog.json")
        Path(source).write_bytes(data)
    before = catalog_state()
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "PYTHONIOENCODING": "utf-8:strict",  # a lone surrogate written out would raise
    }
    finished = subprocess.run(
        [sys.executable, "manage.py", "import_models", source],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    assert expected in finished.stderr
    assert finished.stdout == ""
    assert catalog_state() == before


def test_a_file_of_millions_of_problems_is_listed_up_to_the_cap(refused):
    # 2.5 million of these took 1.4 GB and 39 s to list; the decoder now stops at the cap.
    message = refused(b'{"data": [' + b",".join([b"1"] * 50_000) + b"]}")
    header, *lines = message.splitlines()
    assert header.endswith(f"at least {MAX_PROBLEMS} problems, nothing was imported.")
    assert lines[0] == "record 0, value 1: a model must be an object, not the number 1."
    assert lines[MAX_PROBLEMS - 1].startswith(f"record {MAX_PROBLEMS - 1}, ")
    assert lines[MAX_PROBLEMS:] == [
        f"… and more; only the first {MAX_PROBLEMS} problems are listed."
    ]
