"""When a cell's container is ready, and when it has failed to become so (pure).

Ready is what Kubernetes calls ready for an ``httpGet`` probe: the health-check path
answers 200 to 399, with redirects not followed (a site whose ``/`` redirects to its
login page is up). The image's own ``HEALTHCHECK`` judges with the same function,
:func:`containerize.runtime.containerize_health.healthy`.

A container that cannot become ready is failed as soon as that is clear, not after the
whole ready timeout:

- it exited;
- its start-up log shows a Python traceback;
- it answered 5xx for :data:`SERVER_ERROR_SECONDS` running (a server that answers is
  up: its errors are the application's);
- it kept giving the same 4xx for :data:`SAME_CLIENT_ERROR_SECONDS` (a wrong
  ``healthcheck-path``, a Host the app refuses).

The runner observes (requests, the container's state, its log) and asks :func:`judge`
after each observation; everything here is a function of those observations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from containerize.runtime.containerize_health import healthy

#: A run of 5xx answers this long (seconds, natively) fails the cell.
SERVER_ERROR_SECONDS = 3.0
#: The same 4xx answered for this long (seconds, natively) fails the cell.
SAME_CLIENT_ERROR_SECONDS = 5.0
#: What a Python traceback's first line says.
TRACEBACK = "Traceback (most recent call last)"
#: The statuses that make a cell ready, as a report names them.
READY_RANGE = "200-399"

Kind = Literal["ready", "waiting", "exited", "traceback", "server-error", "client-error", "timeout"]


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One request to the health-check path: its status, or why it got none."""

    at: float  # seconds since the container started
    status: int | None = None
    error: str = ""  # when no answer came: 'ConnectionRefusedError: ...'

    def describe(self) -> str:
        return str(self.status) if self.status is not None else f"no answer ({self.error})"


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """What the observations so far say: ready, still waiting, or failed (and why)."""

    kind: Kind
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.kind not in ("ready", "waiting")


def judge(
    attempts: Sequence[Attempt],
    *,
    path: str,
    exit_code: int | None,
    log: str,
    now: float,
    timeout: float,
    slowdown: float = 1.0,
) -> Verdict:
    """The verdict on a container after *attempts* (oldest first) at *now* seconds.

    *exit_code* is set once the container has exited; *log* is its log so far;
    *timeout* is the ready timeout and *slowdown* stretches the error windows for an
    emulated platform, whose every answer is slower.
    """
    last = attempts[-1] if attempts else None
    if last is not None and last.status is not None and healthy(last.status):
        return Verdict(kind="ready", message=f"GET {path} answered {last.status} at {last.at:.1f}s")
    answered = f"last answer: {last.describe()}" if last else "no request made"
    if exit_code is not None:
        return Verdict(
            kind="exited",
            message=f"the container exited (exit code {exit_code}) before GET {path} "
            f"answered {READY_RANGE} ({answered})",
        )
    if TRACEBACK in log:
        return Verdict(
            kind="traceback",
            message=f"the start-up log shows a Python traceback, and GET {path} has not "
            f"answered {READY_RANGE} ({answered})",
        )
    failed = _error_answers(attempts, path=path, timeout=timeout, slowdown=slowdown)
    if failed is not None:
        return failed
    if now >= timeout:
        return Verdict(
            kind="timeout",
            message=f"GET {path} did not answer {READY_RANGE} within {timeout:g}s ({answered})",
        )
    return Verdict(kind="waiting")


def _error_answers(
    attempts: Sequence[Attempt], *, path: str, timeout: float, slowdown: float
) -> Verdict | None:
    """A failure when the newest answers are 5xx for long enough, or the same 4xx."""
    run = _trailing_run(attempts, lambda status: status >= 500)
    window = SERVER_ERROR_SECONDS * slowdown
    if run and run[-1].at - run[0].at >= window:
        return Verdict(
            kind="server-error",
            message=f"GET {path} answered server errors for {run[-1].at - run[0].at:.1f}s "
            f"running (last: {run[-1].status}); failed after {window:g}s of them, "
            f"not the {timeout:g}s timeout",
        )
    last = attempts[-1] if attempts else None
    if last is None or last.status is None or not 400 <= last.status < 500:
        return None
    client_error = last.status
    same = _trailing_run(attempts, lambda status: status == client_error)
    window = SAME_CLIENT_ERROR_SECONDS * slowdown
    if same[-1].at - same[0].at < window:
        return None
    return Verdict(
        kind="client-error",
        message=f"GET {path} kept answering {client_error} for {same[-1].at - same[0].at:.1f}s: "
        f"check tool.containerize.healthcheck-path (a path that answers {READY_RANGE} "
        "without a login)",
    )


def _trailing_run(attempts: Sequence[Attempt], matches: Callable[[int], bool]) -> list[Attempt]:
    """The newest attempts, back to the first that did not answer a status *matches*."""
    run: list[Attempt] = []
    for attempt in reversed(attempts):
        if attempt.status is None or not matches(attempt.status):
            break
        run.append(attempt)
    return run[::-1]


def _traceback_span(all_lines: list[str]) -> tuple[int, int] | None:
    """Where the first traceback of *all_lines* starts and ends (through the
    exception's own line: the first one after it not indented); None when none."""
    first = next((i for i, line in enumerate(all_lines) if TRACEBACK in line), None)
    if first is None:
        return None
    end = next(
        (
            i + 1
            for i in range(first + 1, len(all_lines))
            if all_lines[i][:1] not in ("", " ", "\t")
        ),
        len(all_lines),
    )
    return first, end


def traceback_excerpt(log: str, lines: int = 30) -> str:
    """The log's first traceback, through the exception's own line (its first frames
    and its last when it is longer than *lines*); the log's tail when it shows none."""
    all_lines = log.splitlines()
    span = _traceback_span(all_lines)
    if span is None:
        return "\n".join(all_lines[-lines:])
    cause = all_lines[span[0] : span[1]]
    if len(cause) > lines:
        cause = [*cause[:3], "  ...", *cause[-(lines - 4) :]]
    return "\n".join(cause)


def after_traceback(log: str) -> str:
    """What *log* says after its first traceback ends (a second traceback, the start
    script's last word); the whole log when it shows none."""
    all_lines = log.splitlines()
    span = _traceback_span(all_lines)
    return log if span is None else "\n".join(all_lines[span[1] :])
