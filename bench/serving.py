"""The warm endpoint under load, side by side with the bare WSGI limit, for one catalog.

Every server runs under the same gunicorn flags on loopback: the real app (``config.wsgi``)
with the revision pushed (``CATALOG_FRESHNESS=push``, the default) without and with Redis, the
app asking PostgreSQL on every request (``strict``: also the path a process takes while its
listener is down), and ``bench.bare_wsgi`` serving the app's own response from memory. The
load runs alternate between the servers (A/B/A/B, the starting server rotating each round),
so that a burst of noise from the machine's other work lands on all of them; each round's
ratio to the bare app is taken, and the median of those ratios reported. Beside it, the CPU
time the workers of each server spent per request during its runs (from /proc): on a shared
machine the other work delays both servers, but adds little to what a request costs.

The bare app sends the app's bytes with the app's headers, gzip when asked: checked before the
runs (``_check_like_for_like``), so that the two differ only in what produces the response.

With ``typed_rounds``, the typed representation (``?schema_version=2.4``) is loaded the same
way afterwards, in fewer rounds: the pushed app beside a bare app replaying the typed bytes.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from bench import ENDPOINT, TYPED_ENDPOINT
from bench.load import LoadResult, Server, fetch, run_load

BARE = "bare"
ENCODINGS = ("identity", "gzip")
# The app the typed representation is loaded on (the default configuration).
TYPED_APP = "push"


@dataclass(frozen=True)
class AppConfig:
    key: str
    redis: bool
    freshness: str = "push"
    wsgi: str = "config.wsgi:application"


APPS = (
    AppConfig("push", redis=False),
    AppConfig("push-redis", redis=True),
    AppConfig("strict", redis=False, freshness="strict"),
)


@dataclass(frozen=True)
class LoadSettings:
    duration: float
    rounds: int
    connections: int
    workers: int


def app_environment(app: AppConfig, env: dict, redis_url: str, redis_prefix: str) -> dict:
    env = env | {"CATALOG_FRESHNESS": app.freshness}
    if app.redis:
        return env | {"REDIS_URL": redis_url, "REDIS_KEY_PREFIX": redis_prefix}
    return env


def save_responses(server: Server, directory: Path, path: str = ENDPOINT) -> dict[str, int]:
    """The app's response in each encoding, for the bare app to replay; returns body sizes."""
    sizes = {}
    for encoding in ENCODINGS:
        headers, body = fetch(server.url(path), encoding)
        (directory / f"{encoding}.headers.json").write_text(json.dumps(headers))
        (directory / f"{encoding}.body").write_bytes(body)
        sizes[encoding] = len(body)
    return sizes


def _check_same_bytes(server: Server, directory: Path, path: str = ENDPOINT) -> None:
    for encoding in ENCODINGS:
        _, body = fetch(server.url(path), encoding)
        if body != (directory / f"{encoding}.body").read_bytes():
            raise RuntimeError(f"{server.label} does not serve the app's bytes ({encoding})")


def _check_like_for_like(bare: Server, directory: Path, path: str = ENDPOINT) -> None:
    """The bare app answers each encoding with the app's body and the app's headers (but the
    date, which gunicorn writes for both)."""
    _check_same_bytes(bare, directory, path)
    for encoding in ENCODINGS:
        headers, _ = fetch(bare.url(path), encoding)
        saved = json.loads((directory / f"{encoding}.headers.json").read_text())
        if _comparable(headers) != _comparable(saved):
            raise RuntimeError(f"{bare.label} does not send the app's headers ({encoding})")


def _comparable(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted((name.lower(), value) for name, value in headers if name.lower() != "date")


def _summary(runs: list[LoadResult], ratios: list[float], cpu_us: list[float]) -> dict:
    return {
        "rps": statistics.median(run.requests_per_second for run in runs),
        "p99_ms": statistics.median(run.p99_ms for run in runs),
        "ratio": statistics.median(ratios) if ratios else 1.0,
        "ratios": ratios,
        "cpu_us": statistics.median(cpu_us) if cpu_us else None,
        "errors": sum(run.errors for run in runs),
        "runs": len(runs),
    }


def rounds(servers: dict[str, Server], path: str, gzip: bool, load: LoadSettings, progress) -> dict:
    """Load the servers at ``path`` in turn, round after round: runs, ratios to the bare app and
    the workers' CPU time per request, by key."""
    keys = list(servers)
    runs: dict[str, list[LoadResult]] = {key: [] for key in keys}
    ratios: dict[str, list[float]] = {key: [] for key in keys}
    cpu_us: dict[str, list[float]] = {key: [] for key in keys}
    # Every worker renders (or loads) the catalog and its gzip form before the clock starts.
    for key in keys:
        run_load(servers[key].url(path), duration=1, connections=load.connections, gzip=gzip)
    for index in range(load.rounds):
        order = keys[index % len(keys) :] + keys[: index % len(keys)]
        this_round = {}
        for key in order:
            cpu_before = servers[key].worker_cpu_seconds()
            this_round[key] = run_load(
                servers[key].url(path),
                duration=load.duration,
                connections=load.connections,
                gzip=gzip,
            )
            if this_round[key].requests:
                cpu = servers[key].worker_cpu_seconds() - cpu_before
                cpu_us[key].append(cpu / this_round[key].requests * 1e6)
        limit = this_round[BARE].requests_per_second
        for key, result in this_round.items():
            runs[key].append(result)
            if limit:
                ratios[key].append(result.requests_per_second / limit)
        progress(
            f"{'gzip' if gzip else 'identity'} round {index + 1}/{load.rounds}: "
            + ", ".join(f"{key} {run.requests_per_second:.0f}/s" for key, run in this_round.items())
        )
    return {key: _summary(runs[key], ratios[key], cpu_us[key]) for key in keys}


def measure(
    apps: tuple[AppConfig, ...],
    env: dict[str, str],
    redis_url: str,
    redis_prefix: str,
    load: LoadSettings,
    work: Path,
    progress,
    typed_rounds: int = 0,
) -> dict:
    """Start the servers, load them in turn, stop them; figures by server and encoding."""
    servers: dict[str, Server] = {}
    responses = work / "responses"
    responses.mkdir(parents=True)
    try:
        for app in apps:
            app_env = app_environment(app, env, redis_url, redis_prefix)
            servers[app.key] = Server(app.key, app.wsgi, app_env, load.workers, work)
            servers[app.key].start(ready_path="/healthz")
        # No worker of the app has asked for the catalog yet (only /healthz).
        idle_rss = {key: server.worker_rss_kib() for key, server in servers.items()}
        first, *others = servers.values()
        body_bytes = save_responses(first, responses)
        for server in others:
            _check_same_bytes(server, responses)
        bare_env = env | {"BENCH_RESPONSES": str(responses)}
        servers[BARE] = Server(BARE, "bench.bare_wsgi:application", bare_env, load.workers, work)
        servers[BARE].start(ready_path=ENDPOINT)
        _check_like_for_like(servers[BARE], responses)
        idle_rss[BARE] = servers[BARE].worker_rss_kib()
        by_encoding = {
            encoding: rounds(servers, ENDPOINT, encoding == "gzip", load, progress)
            for encoding in ENCODINGS
        }
        figures = {
            key: {encoding: by_encoding[encoding][key] for encoding in ENCODINGS}
            | {
                "idle_rss_mib": [kib / 1024 for kib in idle_rss[key]],
                "rss_mib": [kib / 1024 for kib in server.worker_rss_kib()],
            }
            for key, server in servers.items()
        }
        result = {"servers": figures, "body_bytes": body_bytes}
        if typed_rounds:
            result["typed"] = _typed(servers, env, load, typed_rounds, work, progress)
        return result
    finally:
        for server in servers.values():
            server.stop()


def _typed(
    servers: dict[str, Server],
    env: dict[str, str],
    load: LoadSettings,
    round_count: int,
    work: Path,
    progress,
) -> dict:
    """The typed representation on the pushed app, beside a bare app replaying its bytes (the
    bare server is added to ``servers``, which the caller stops)."""
    responses = work / "responses-typed"
    responses.mkdir()
    body_bytes = save_responses(servers[TYPED_APP], responses, TYPED_ENDPOINT)
    for key, server in servers.items():
        if key not in (TYPED_APP, BARE):
            _check_same_bytes(server, responses, TYPED_ENDPOINT)
    bare_env = env | {"BENCH_RESPONSES": str(responses)}
    bare = Server(f"{BARE}-typed", "bench.bare_wsgi:application", bare_env, load.workers, work)
    servers[f"{BARE}-typed"] = bare
    bare.start(ready_path=ENDPOINT)
    # The same request line on both: the bare app ignores the query string.
    _check_like_for_like(bare, responses, TYPED_ENDPOINT)
    loaded = {TYPED_APP: servers[TYPED_APP], BARE: bare}
    typed_load = LoadSettings(load.duration, round_count, load.connections, load.workers)

    def typed_progress(message: str) -> None:
        progress(f"typed {message}")

    by_encoding = {
        encoding: rounds(loaded, TYPED_ENDPOINT, encoding == "gzip", typed_load, typed_progress)
        for encoding in ENCODINGS
    }
    return {
        "servers": {
            key: {encoding: by_encoding[encoding][key] for encoding in ENCODINGS} for key in loaded
        },
        "body_bytes": body_bytes,
    }
