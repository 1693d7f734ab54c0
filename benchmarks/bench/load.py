"""A fixed, short load on loopback with ``wrk``: its command line and its figures.

wrk (Debian has it: ``apt-get install wrk``) keeps a fixed number of connections
busy for a fixed time and prints a latency distribution; ``--latency`` adds the
percentiles this bench reads. The parser is pure, so its tests need no wrk.
"""

from __future__ import annotations

import re
import shutil
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from containerize import process
from containerize.errors import EngineError

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_RPS = re.compile(r"^Requests/sec:\s+([0-9.]+)\s*$", re.MULTILINE)
_P99 = re.compile(r"^\s*99(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class Load:
    """A fixed load: so many connections on so many threads for so many seconds."""

    connections: int = 16
    threads: int = 2
    seconds: int = 10

    def argv(self, url: str) -> list[str]:
        return [
            "wrk", "--threads", str(self.threads), "--connections", str(self.connections),
            "--duration", f"{self.seconds}s", "--timeout", "5s", "--latency", url,
        ]  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class LoadResult:
    requests: int
    rps: float
    p99_ms: float
    errors: int  # socket errors and answers other than 2xx/3xx


def parse(output: str) -> LoadResult:
    """The figures of wrk's ``--latency`` report; ValueError when one is missing."""
    rps, p99, total = _RPS.search(output), _P99.search(output), _TOTAL.search(output)
    if rps is None or p99 is None or total is None:
        raise ValueError("no 'Requests/sec', '99%' or total line in wrk's output")
    errors = 0
    if found := _NON_2XX.search(output):
        errors += int(found.group(1))
    if found := _SOCKET.search(output):
        errors += sum(int(n) for n in found.groups())
    return LoadResult(
        requests=int(total.group(1)),
        rps=float(rps.group(1)),
        p99_ms=float(p99.group(1)) * _UNITS[p99.group(2)],
        errors=errors,
    )


def median(results: Sequence[LoadResult]) -> LoadResult:
    """Several runs of one load as one: the median rate and p99, all requests and errors."""
    if not results:
        raise ValueError("the median of no load runs")
    return LoadResult(
        requests=sum(r.requests for r in results),
        rps=statistics.median(r.rps for r in results),
        p99_ms=statistics.median(r.p99_ms for r in results),
        errors=sum(r.errors for r in results),
    )


def require_wrk() -> None:
    """Stop, with the fix, when wrk is not on PATH."""
    if shutil.which("wrk") is None:
        raise EngineError(
            "the load generator 'wrk' is not installed",
            hint="on Debian: apt-get install -y wrk ('nox -s bench' installs it when run as root)",
        )


def run(load: Load, url: str) -> LoadResult:
    """Put *load* on *url* and read wrk's figures."""
    require_wrk()
    completed = process.run(load.argv(url), timeout=load.seconds + 60)
    try:
        return parse(completed.stdout)
    except ValueError as exc:
        raise EngineError(
            f"wrk printed no figures for {url}: {exc}",
            hint="its output:\n" + process.tail(completed.stdout + completed.stderr, 15),
        ) from None
