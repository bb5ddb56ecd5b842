"""What the benchmarks measure a uwsgi tree with: PSS, CPU, ab bursts, verdicts."""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from heat_wsgi.runtime import process
from heat_wsgi.runtime.process import Proc

START_TIMEOUT = 90.0
POLL = 0.01  # cold start resolution; process.wait_for_http polls every 0.2 s
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    pass


# -- one process tree ---------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # After the ")" that ends the command name the fields start at number 3.
    return raw[raw.rindex(")") + 2:].split()


def children(pid: int) -> list[int]:
    """Live direct children of ``pid`` (uwsgi's workers and routers are the master's)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(entry))
    return sorted(found)


def pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/smaps_rollup has no Pss line")


def tree_pss_mb(master: int, expected_children: int) -> float:
    """PSS of master + children: shared pages are split between the sharers,
    so the sum is what the tree really costs."""
    pids = [master, *children(master)]
    if len(pids) != expected_children + 1:
        raise BenchError(f"uwsgi tree of {master} has {len(pids) - 1} children, "
                         f"expected {expected_children}")
    return sum(pss_kb(pid) for pid in pids) / 1024


def tree_cpu_s(master: int) -> float:
    """User + system CPU seconds used so far by master + live children.

    On a box other engineers load too, req/s and wall-clock start times
    swing with their work; the CPU a server spends per request or per start
    does not, so it is reported next to them as the steadier figure."""
    total = 0
    for pid in [master, *children(master)]:
        fields = _stat(pid)
        if fields:
            total += int(fields[14 - 3]) + int(fields[15 - 3])  # utime, stime
    return total / CLOCK_TICKS


def wait_first_200(url: str, proc: Proc, started: float,
                   timeout: float = START_TIMEOUT) -> float:
    """Seconds from ``started`` to the first 200 from ``url``."""
    while True:
        if process.http_status(url, timeout=5.0) == 200:
            return time.monotonic() - started
        if not process.is_alive(proc.pid):
            raise BenchError(f"{proc.name} exited before serving {url}"
                             + process.log_tail(proc.log))
        if time.monotonic() - started > timeout:
            raise BenchError(f"{proc.name}: no 200 from {url} after {timeout:g}s"
                             + process.log_tail(proc.log))
        time.sleep(POLL)


# -- load ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AbRun:
    """What one ``ab`` run reported."""

    rps: float
    completed: int
    failed: int  # socket errors and non-2xx answers
    latencies_ms: tuple[int, ...]  # per request, when asked for


def ab(url: str, seconds: int = 0, requests: int = 0, concurrency: int = 8, *,
       socket_timeout: int = 10, latencies: Path | None = None,
       non_2xx_fail: bool = False) -> AbRun:
    """Run ``ab`` on ``url`` for ``seconds`` (whole seconds: ab reads 0.5 as
    "no limit"), or for ``requests`` requests; with ``latencies``, ab writes
    every request's total time there (``-g``) and it is returned too. With
    ``non_2xx_fail``, an answer other than 2xx counts as failed."""
    if seconds > 0:
        # -t before -n: -t resets the request cap to 50,000, -n lifts it again.
        limit = ["-t", str(seconds), "-n", "100000000"]
    else:
        limit = ["-n", str(requests)]
    extra = ["-g", str(latencies)] if latencies is not None else []
    argv = ["ab", "-q", "-r", "-s", str(socket_timeout), *limit, "-c", str(concurrency), *extra, url]
    timeout = seconds + 60
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except FileNotFoundError:
        raise BenchError("ab (ApacheBench, Debian package apache2-utils) is not "
                         "installed") from None
    except subprocess.TimeoutExpired:
        raise BenchError(f"ab on {url} did not finish in {timeout:g}s") from None

    def number(label: str) -> str:
        match = re.search(rf"^{label}:\s+([\d.]+)", done.stdout, re.M)
        if match is None:
            raise BenchError(f"ab on {url}: no {label!r} in its output "
                             f"(status {done.returncode}): {done.stderr.strip()[-300:]} "
                             f"{done.stdout.strip()[-300:]}")
        return match.group(1)

    completed = int(number("Complete requests"))
    # ab counts a body whose length differs from the first one as "failed"
    # too; only connection, receive and other socket errors matter here.
    # The breakdown reads "(Connect: 0, Receive: 0, Length: 0, Exceptions: 0)".
    errors = sum(int(m) for m in re.findall(r"\b(?:Connect|Receive|Exceptions): (\d+)",
                                            done.stdout))
    non_2xx = re.search(r"^Non-2xx responses:\s+(\d+)", done.stdout, re.M)
    if non_2xx_fail and non_2xx:
        errors += int(non_2xx.group(1))
    times: tuple[int, ...] = ()
    if latencies is not None and latencies.is_file():
        # Columns: starttime, seconds, ctime, dtime, ttime, wait (ms).
        rows = latencies.read_text().splitlines()[1:]
        times = tuple(int(row.split("\t")[4]) for row in rows if row.count("\t") >= 5)
        latencies.unlink()
    return AbRun(float(number("Requests per second")), completed, errors, times)


# -- report -------------------------------------------------------------------

def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    measured: float
    threshold: float
    higher_is_better: bool
    detail: str
    # Quartiles of the per-burst ratios, when the figure is a rate.
    spread: tuple[float, float] | None = None

    @property
    def status(self) -> str:
        if not self.higher_is_better:
            return "PASS" if self.measured <= self.threshold else "MISS"
        if self.measured >= self.threshold:
            return "PASS"
        # Below the line, but a quarter of the paired bursts or more are
        # above it: the difference is smaller than this run's noise.
        if self.spread is not None and self.spread[1] >= self.threshold:
            return "PASS (within noise)"
        return "MISS"


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """The lower and upper quartiles of ``values`` (both the value, if one)."""
    if len(values) >= 2:
        low, _, high = statistics.quantiles(values, n=4, method="inclusive")
        return low, high
    return values[0], values[0]


def rate_verdict(name: str, ratios: list[float], threshold: float, detail: str) -> Verdict:
    """A verdict on the median of paired per-burst ratios, with their quartiles."""
    low, high = quartiles(ratios)
    return Verdict(name, median(ratios), threshold, True,
                   f"{detail}; per-burst ratios {low:.2f}-{high:.2f} (quartiles)",
                   spread=(low, high))


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """A SIGTERM unwinds like Ctrl-C, so the finally blocks stop our servers."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
