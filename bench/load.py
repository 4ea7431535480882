"""Load on loopback: gunicorn servers the bench starts and stops, and the client that loads them.

The client is wrk (Debian package ``wrk``) when it is installed; otherwise a bounded Python
client (threads, one request per connection like wrk against gunicorn's sync workers, stopped
by a deadline and a request cap). The Python client is much slower than wrk, so with it the
server is rarely the bottleneck and the ratios understate the gap; the report says which
client ran.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import ROOT

WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
HOST = "127.0.0.1"
# A load run never sends more than this many requests, whatever the duration.
PYTHON_CLIENT_MAX_REQUESTS = 200_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def rss_kib(pid: int) -> int:
    """The resident set size of a process, from /proc (0 if it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may contain spaces and parentheses; the fields after the last ")" do not.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


class Server:
    """``gunicorn -w 2`` (sync workers) on a free loopback port, in its own process group."""

    def __init__(self, label: str, app: str, env: dict[str, str], workers: int, log_dir: Path):
        self.label = label
        self.app = app
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.log_path = log_dir / f"gunicorn-{label}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    def url(self, path: str) -> str:
        return f"http://{HOST}:{self.port}{path}"

    def start(self, ready_path: str, timeout: float = 60) -> None:
        command = [sys.executable, "-m", "gunicorn", self.app, "--bind", f"{HOST}:{self.port}"]
        command += ["--workers", str(self.workers), "--worker-class", "sync"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.label}) exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url(ready_path), timeout=30) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn ({self.label}) did not answer in {timeout:.0f} s")

    def worker_rss_kib(self) -> list[int]:
        return [rss_kib(pid) for pid in children(self.process.pid)] if self.process else []

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def fetch(url: str, accept_encoding: str) -> tuple[list[tuple[str, str]], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": accept_encoding})
    with urllib.request.urlopen(request, timeout=60) as response:
        return list(response.headers.items()), response.read()


@dataclass
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(url: str, *, duration: float, connections: int, gzip: bool) -> LoadResult:
    command = ["wrk", "--latency", "-t1", f"-c{connections}", f"-d{duration:g}s"]
    command += ["-s", str(WRK_SCRIPT), "-H", f"Accept-Encoding: {'gzip' if gzip else 'identity'}"]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    figures = json.loads(line.removeprefix("BENCH "))
    return LoadResult(
        requests_per_second=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        requests=figures["requests"],
        errors=figures["errors"] + figures["non_2xx"],
    )


def run_python_client(url: str, *, duration: float, connections: int, gzip: bool) -> LoadResult:
    """The fallback when wrk is missing: ``connections`` threads until the deadline or the cap."""
    parsed = urllib.request.urlparse(url)
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + duration

    def worker() -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            with lock:
                if len(latencies) + errors >= PYTHON_CLIENT_MAX_REQUESTS:
                    return
            started = time.perf_counter()
            connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
            try:
                connection.request("GET", parsed.path, headers=headers)
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
            finally:
                connection.close()
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    percentiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return LoadResult(
        requests_per_second=len(latencies) / elapsed,
        p50_ms=percentiles[49] * 1000,
        p99_ms=percentiles[98] * 1000,
        requests=len(latencies),
        errors=errors,
    )


def run_load(url: str, *, duration: float, connections: int, gzip: bool) -> LoadResult:
    client = run_wrk if wrk_path() else run_python_client
    return client(url, duration=duration, connections=connections, gzip=gzip)
