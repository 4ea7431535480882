"""Load on loopback: gunicorn servers the bench starts and stops, and wrk (Debian package
``wrk``), which loads them."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench import ROOT

WRK_SCRIPT = Path(__file__).with_name("wrk_report.lua")
HOST = "127.0.0.1"


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


def cpu_seconds(pid: int) -> float:
    """A process's user and system CPU time, from /proc (0 if it has gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0
    # utime and stime: fields 14 and 15, the 12th and 13th after the command's ")".
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
                # gunicorn reads the shipped gunicorn.conf.py from here; its access log is left
                # out, as the figures have always been taken.
                env={**self.env, "GUNICORN_ACCESS_LOG": ""},
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

    def worker_cpu_seconds(self) -> float:
        """CPU time (user and system) the workers have used so far."""
        return sum(cpu_seconds(pid) for pid in children(self.process.pid)) if self.process else 0

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


run_load = run_wrk
