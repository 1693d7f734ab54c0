"""What every check of a cell shares: the records, readiness, and how a check is timed.

A check takes the :class:`Subject` (the cell and its started container) and returns
the :class:`Outcome`\\ s it decided, or raises :class:`Failed` with a one-line reason
and the detail a person needs to see why (the request and the response, the processes,
the files found). The checks themselves live beside this module: the HTTP checks in
:mod:`containerize.matrix.httpchecks`, the checks of the container and its image in
:mod:`containerize.matrix.containerchecks`. The runner decides the order and what
still runs after a failure: readiness (:func:`ready`) first. Every request goes to the
port the engine published on 127.0.0.1, and every wait is bounded.
"""

from __future__ import annotations

import http.client
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from containerize import process
from containerize.engine import buildlog, containers
from containerize.errors import ContainerTestError
from containerize.matrix import readiness
from containerize.matrix.plan import Cell
from containerize.runtime.containerize_health import healthy

Status = Literal["passed", "failed", "skipped"]

logger = logging.getLogger("containerize")

#: How long a container whose log shows a traceback may take to exit (seconds, natively).
TRACEBACK_EXIT_WAIT = 3.0


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """How one check went."""

    check: str
    status: Status
    message: str  # one line
    detail: str = ""  # what a person needs to see why: request and response, processes
    seconds: float = 0.0


class Failed(Exception):
    """A check failed: *message* is one line, *detail* the evidence."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@dataclass(kw_only=True)
class Subject:
    """A cell and its running container, with the figures the report shows."""

    cell: Cell
    container: containers.Container
    started: float  # time.monotonic() when the engine started the container
    network: str | None = None  # the cell's private network, where its services are
    ready_seconds: float | None = None
    latency_ms: tuple[float, float] | None = None  # p50, p99 of the burst
    size: int | None = None
    facts: dict[str, str] = field(default_factory=dict)


def timed(name: str, check: Callable[[], Outcome | str]) -> Outcome:
    """Run *check*, turning its answer or its failure into an :class:`Outcome`."""
    began = time.monotonic()
    try:
        result = check()
    except Failed as exc:
        return Outcome(
            check=name,
            status="failed",
            message=exc.message,
            detail=exc.detail,
            seconds=time.monotonic() - began,
        )
    except ContainerTestError as exc:
        return Outcome(
            check=name,
            status="failed",
            message=exc.message,
            detail=exc.hint or "",
            seconds=time.monotonic() - began,
        )
    if isinstance(result, Outcome):
        return result
    return Outcome(check=name, status="passed", message=result, seconds=time.monotonic() - began)


def ready(subject: Subject) -> str:
    """The health-check path answers 200-399 (redirects not followed) within the
    platform's time bound; a container that cannot get there fails as soon as that is
    clear (see :mod:`containerize.matrix.readiness`)."""
    cell = subject.cell
    verdict, answer, log = await_ready(
        subject.container,
        cell.healthcheck_path,
        started=subject.started,
        timeout=cell.ready_timeout,
        slowdown=cell.slowdown,
    )
    if verdict.kind == "ready":
        assert answer is not None
        subject.ready_seconds = time.monotonic() - subject.started
        return f"first {answer.status} after {subject.ready_seconds:.1f}s"
    if verdict.kind == "timeout" and answer is None and containers.running(subject.container):
        raise Failed(verdict.message, detail=_listening(subject))  # nothing answers the port
    raise Failed(verdict.message, detail=ready_detail(verdict, answer, log))


def await_ready(
    container: containers.Container,
    path: str,
    *,
    started: float,
    timeout: float,
    slowdown: float = 1.0,
    interval: float = 0.5,
) -> tuple[readiness.Verdict, containers.Response | None, str]:
    """GET *path* until :func:`readiness.judge` decides: the verdict, the last answer
    (None when none came) and the container's log as last read.

    *started* is the ``time.monotonic()`` of the container's start; the log and the
    container's state are read after every answer that is not ready.
    """
    attempts: list[readiness.Attempt] = []
    answer: containers.Response | None = None
    log = ""
    while True:
        remaining = timeout - (time.monotonic() - started)
        try:
            response = containers.request(
                container, path, timeout=max(1.0, min(10.0 * slowdown, remaining))
            )
        except (OSError, http.client.HTTPException) as exc:
            attempt = readiness.Attempt(
                at=time.monotonic() - started, error=f"{type(exc).__name__}: {exc}"
            )
        else:
            answer = response
            attempt = readiness.Attempt(at=time.monotonic() - started, status=response.status)
        attempts.append(attempt)
        exit_code = None
        if attempt.status is None or not healthy(attempt.status):
            state = containers.state(container)
            if not state.get("Running", False):
                exit_code = int(state.get("ExitCode", -1))
            log = containers.logs(container)
        verdict = readiness.judge(
            attempts,
            path=path,
            exit_code=exit_code,
            log=log,
            now=time.monotonic() - started,
            timeout=timeout,
            slowdown=slowdown,
        )
        if verdict.kind == "traceback":
            # A server whose worker failed to import the app is often about to exit: its
            # exit code says more, so it gets a moment to show it.
            exited = _exit_code_within(container, seconds=TRACEBACK_EXIT_WAIT * slowdown)
            if exited is not None:
                log = containers.logs(container)
                verdict = readiness.judge(
                    attempts,
                    path=path,
                    exit_code=exited,
                    log=log,
                    now=time.monotonic() - started,
                    timeout=timeout,
                    slowdown=slowdown,
                )
        if verdict.kind != "waiting":
            if verdict.kind == "ready":
                logger.info(
                    "GET http://%s:%d%s -> %d (%s, attempt %d, %.1fs)",
                    container.host, container.port, path, attempt.status,
                    container.platform, len(attempts), attempt.at,
                )  # fmt: skip
            return verdict, answer, log
        time.sleep(interval)


def _exit_code_within(container: containers.Container, *, seconds: float) -> int | None:
    """*container*'s exit code once it exits within *seconds*, else None."""
    deadline = time.monotonic() + seconds
    while True:
        state = containers.state(container)
        if not state.get("Running", False):
            return int(state.get("ExitCode", -1))
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.25)


def ready_detail(verdict: readiness.Verdict, answer: containers.Response | None, log: str) -> str:
    """The last answer, then the log: its first traceback and what the log says after
    it when it shows one (not the traceback twice), else its last lines."""
    parts = [answer.describe()] if answer is not None else []
    if readiness.TRACEBACK in log:
        parts.append("its log's traceback:\n" + readiness.traceback_excerpt(log))
        # What a build step's failure would say of it: a library the image lacks, a
        # path the app's user cannot write.
        diagnosis, _ = buildlog.diagnose(log.splitlines())
        if diagnosis is not None:
            parts.append(f"cause: {diagnosis.cause}")
            if diagnosis.fix:
                parts.append(f"hint: {diagnosis.fix}")
        after = readiness.after_traceback(log)
        if after:
            parts.append("its log after the traceback (last lines):\n" + process.tail(after, 15))
    elif log:
        parts.append("its log (last lines):\n" + process.tail(log, 15))
    return "\n".join(parts)


def _listening(subject: Subject) -> str:
    """Which TCP ports the container listens on, when nothing answers the expected one."""
    found = containers.execute(subject.container, ["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    ports = sorted(
        {
            int(fields[1].rsplit(":", 1)[1], 16)
            for line in found.stdout.splitlines()[1:]
            if len(fields := line.split()) > 3 and fields[3] == "0A"  # TCP_LISTEN
        }
    )
    expected = subject.cell.port
    if not ports:
        return f"nothing in the container listens on a TCP port (expected {expected})"
    if expected in ports:
        return f"the container listens on {expected}, but does not answer HTTP there"
    listed = ", ".join(map(str, ports))
    return (
        f"the container listens on {listed}, not on port {expected}: the server's port "
        f"differs from tool.containerize.port ({expected})"
    )
