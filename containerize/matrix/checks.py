"""What each cell asks of its running container, one function per check.

A check takes the :class:`Subject` (the cell and its started container) and returns
the :class:`Outcome`\\ s it decided, or raises :class:`Failed` with a one-line reason
and the detail a person needs to see why (the request and the response, the processes,
the files found). The runner decides the order and what still runs after a failure.
Every request goes to the port the engine published on 127.0.0.1, and every wait is
bounded.
"""

from __future__ import annotations

import http.client
import json
import logging
import mimetypes
import statistics
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from containerize import process
from containerize.config import Probe
from containerize.engine import containers
from containerize.errors import ContainerTestError
from containerize.image import plan as image_plan
from containerize.matrix import readiness
from containerize.matrix.plan import Cell
from containerize.runtime.containerize_health import healthy

Status = Literal["passed", "failed", "skipped"]

# Tools a runtime image must not hold: they belong in the builder stage.
_TOOLCHAIN = ("gcc", "cc", "c++", "g++", "clang", "make", "ld", "pip", "pip3", "uv", "poetry")
# Where a pip package would be importable by any Python in the image.
_PIP_GLOBS = (
    f"{image_plan.VENV}/lib/python3*/site-packages/pip",
    "/usr/lib/python3*/dist-packages/pip",
    "/usr/lib/python3/dist-packages/pip",
    "/usr/local/lib/python3*/site-packages/pip",
)
_FOREIGN_HOST = "foreign-host.containerize.invalid"

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
    """The last answer, then the log: from its traceback when it shows one."""
    parts = [answer.describe()] if answer is not None else []
    if readiness.TRACEBACK in log:
        parts.append("its log's traceback:\n" + readiness.traceback_excerpt(log))
    if log:
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


def metadata(subject: Subject) -> str:
    """The OCI labels, exposed port, stop signal and user are as planned."""
    cell = subject.cell
    details = containers.inspect(subject.container)
    image_config = details.get("Config") or {}
    problems = []
    labels = image_config.get("Labels") or {}
    for key, value in cell.labels:
        if labels.get(key) != value:
            problems.append(f"label {key} is {labels.get(key)!r}, planned {value!r}")
    exposed = image_config.get("ExposedPorts") or {}
    if f"{cell.port}/tcp" not in exposed:
        problems.append(f"exposes {sorted(exposed) or 'no port'}, planned {cell.port}/tcp")
    signal = _signal_name(image_config.get("StopSignal") or "SIGTERM")
    if signal != cell.stop_signal:
        problems.append(f"stop signal {signal}, planned {cell.stop_signal}")
    user = str(image_config.get("User") or "")
    if user.split(":", maxsplit=1)[0] in ("", "0", "root"):
        problems.append(f"USER is {user or 'not set'}: the image starts as root")
    if problems:
        raise Failed("; ".join(problems))
    return f"labels, port {cell.port}/tcp, {signal}, user {user}"


def _signal_name(text: str) -> str:
    names = {"2": "SIGINT", "3": "SIGQUIT", "9": "SIGKILL", "15": "SIGTERM", "28": "SIGWINCH"}
    text = text.strip().upper()
    text = names.get(text, text)
    return text if text.startswith("SIG") else f"SIG{text}"


def not_root(subject: Subject) -> str:
    """No process in the container runs as root."""
    table = containers.processes(subject.container)
    root = [(user, command) for user, command in table if user in ("root", "0")]
    if root:
        raise Failed(
            f"{len(root)} of {len(table)} processes run as root",
            detail="\n".join(f"  {user:>8}  {command}" for user, command in table),
        )
    users = sorted({user for user, _ in table})
    return f"{len(table)} processes, user {', '.join(users)}"


_TOOL_SCRIPT = """
import glob, json, shutil, sys
tools = [t for t in sys.argv[2].split(",") if shutil.which(t)]
pips = sorted({p for pattern in sys.argv[1].split(",") for p in glob.glob(pattern)})
print(json.dumps({"tools": [shutil.which(t) for t in tools], "pip": pips}))
"""


def no_toolchain(subject: Subject) -> str:
    """The runtime image holds no compiler, pip or build tool."""
    argv = ["-c", _TOOL_SCRIPT, ",".join(_PIP_GLOBS), ",".join(_TOOLCHAIN)]
    for python in (f"{image_plan.VENV}/bin/python", "python3"):
        result = containers.execute(subject.container, [python, *argv])
        if result.returncode == 0:
            break
    else:
        raise Failed("no Python in the image to look with", detail=result.stdout + result.stderr)
    found = json.loads(result.stdout)
    present = [*found["tools"], *found["pip"]]
    if present:
        raise Failed(
            f"the runtime image holds build tools: {', '.join(present)}",
            detail="compilers, pip and build tools belong in the builder stage; a base "
            "image that brings them (the official python images bring pip) can be "
            "replaced by a slimmer one in tool.containerize.base-image",
        )
    return "no compiler, pip or build tool"


def size(subject: Subject) -> str:
    """The unpacked image is within the budget (``test.size-budget``)."""
    details = containers.inspect(subject.container, size=True)
    subject.size = int(details.get("SizeRootFs") or 0) or None
    budget = subject.cell.settings.size_budget
    if subject.size is None:
        raise Failed("the engine reported no size for the container's image")
    shown = _mib(subject.size)
    if budget is not None and subject.size > budget:
        raise Failed(
            f"{shown} unpacked, over the budget of {_mib(budget)}",
            detail="raise tool.containerize.test.size-budget, or find what grew with "
            f"'docker history {subject.cell.image}'",
        )
    return f"{shown} unpacked" + (f" (budget {_mib(budget)})" if budget else " (no budget set)")


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def probe(subject: Subject, spec: Probe) -> str:
    """One configured probe: status, body text and header texts."""
    answer = _request(subject, spec.path, host=spec.host)
    problems = []
    # The probe a test table without probes gets (the health-check path, every field
    # at its default) asks what readiness asks, and is judged the same way.
    if spec == Probe(path=subject.cell.healthcheck_path):
        if not healthy(answer.status):
            problems.append(f"status {answer.status}, expected {readiness.READY_RANGE}")
    elif answer.status != spec.status:
        problems.append(f"status {answer.status}, expected {spec.status}")
    if spec.contains is not None and spec.contains.encode() not in answer.body:
        problems.append(f"the body does not contain {spec.contains!r}")
    for name, text in spec.headers:
        value = answer.header(name)
        if value is None or text.lower() not in value.lower():
            problems.append(f"header {name} is {value!r}, expected it to contain {text!r}")
    if problems:
        raise Failed("; ".join(problems), detail=answer.describe())
    return f"{answer.status} in {answer.seconds * 1000:.0f} ms"


def _request(subject: Subject, path: str, *, host: str = "localhost") -> containers.Response:
    try:
        return containers.request(
            subject.container, path, host=host, timeout=10.0 * subject.cell.slowdown
        )
    except (OSError, http.client.HTTPException) as exc:
        raise Failed(
            f"GET {path} (Host: {host}) got no answer: {type(exc).__name__}: {exc}"
        ) from None


_FIRST_FILE = """
import mimetypes, os, sys
found = []
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    found += [os.path.relpath(os.path.join(folder, f), sys.argv[1]) for f in sorted(files)]
typed = [f for f in found if mimetypes.guess_type(f)[0]]
css = [f for f in typed if f.endswith(".css")]
print(len(found), (css or typed or [""])[0])
"""


def static_file(subject: Subject) -> Outcome | str:
    """A file of the static folder is served with its content type, and with 400 to a
    host not in ``allowed-hosts``."""
    cell = subject.cell
    if cell.static_url is None or cell.static_dir is None:
        return Outcome(check="static", status="skipped", message="no static files configured")
    listed = containers.execute(
        subject.container, [f"{image_plan.VENV}/bin/python", "-c", _FIRST_FILE, cell.static_dir]
    )
    count, _, name = listed.stdout.strip().partition(" ")
    if listed.returncode == 0 and count == "0":
        # The static command found nothing to copy (Django's collectstatic without an
        # app that ships static files): nothing to serve, and nothing wrong.
        return Outcome(
            check="static",
            status="skipped",
            message=f"the static folder {cell.static_dir} is empty: nothing to serve",
        )
    if listed.returncode != 0 or not name:
        raise Failed(
            f"the static folder {cell.static_dir} holds no file of a known type",
            detail=process.tail(listed.stdout + listed.stderr, 10),
        )
    path = cell.static_url + urllib.parse.quote(name)
    answer = _request(subject, path)
    expected = mimetypes.guess_type(name)[0] or ""
    content_type = answer.header("Content-Type") or ""
    if answer.status != 200 or not content_type.startswith(expected):
        raise Failed(
            f"GET {path}: {answer.status} {content_type or 'without a Content-Type'}, "
            f"expected 200 {expected}",
            detail=answer.describe(),
        )
    if "*" in cell.allowed_hosts:
        return f"{path}: 200 {content_type}"
    # The server may serve the file without the WSGI app: the allow-list still applies.
    foreign = _request(subject, path, host=_FOREIGN_HOST)
    if foreign.status != 400:
        raise Failed(
            f"GET {path} with Host {_FOREIGN_HOST}: {foreign.status}, expected 400",
            detail=foreign.describe(),
        )
    return f"{path}: 200 {content_type}; Host {_FOREIGN_HOST}: 400"


def foreign_host(subject: Subject) -> Outcome | str:
    """A request for a host not in ``allowed-hosts`` gets 400."""
    if "*" in subject.cell.allowed_hosts:
        return Outcome(
            check="hosts",
            status="skipped",
            message="allowed-hosts holds '*': every host is served",
        )
    answer = _request(subject, subject.cell.healthcheck_path, host=_FOREIGN_HOST)
    if answer.status != 400:
        raise Failed(
            f"Host {_FOREIGN_HOST} got {answer.status}, expected 400", detail=answer.describe()
        )
    return f"Host {_FOREIGN_HOST}: 400"


def burst(subject: Subject) -> str:
    """A bounded concurrent burst of requests completes with zero errors."""
    cell = subject.cell
    settings = cell.settings
    path = cell.healthcheck_path
    deadline = time.monotonic() + 60.0 * cell.slowdown
    errors: list[str] = []
    timings: list[float] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        if time.monotonic() > deadline:
            return
        began = time.monotonic()
        try:
            answer = containers.request(subject.container, path, timeout=10.0 * cell.slowdown)
        except (OSError, http.client.HTTPException) as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        else:
            outcome = "" if healthy(answer.status) else f"status {answer.status}"
        with lock:
            (errors.append(outcome) if outcome else timings.append(time.monotonic() - began))

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=settings.burst_concurrency) as pool:
        list(pool.map(one, range(settings.burst_requests)))
    seconds = time.monotonic() - began
    done = len(errors) + len(timings)
    if timings:
        subject.latency_ms = (_percentile(timings, 50), _percentile(timings, 99))
    summary = f"{done} x GET {path}, {settings.burst_concurrency} at a time, in {seconds:.1f}s"
    if errors or done < settings.burst_requests:
        kinds = sorted(set(errors))
        raise Failed(
            f"{len(errors)} errors, {settings.burst_requests - done} not sent in time: " + summary,
            detail="\n".join(f"  {errors.count(k)} x {k}" for k in kinds[:10]),
        )
    p50, p99 = subject.latency_ms or (0.0, 0.0)
    return f"{summary}: p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def _percentile(seconds: Sequence[float], percent: int) -> float:
    if len(seconds) == 1:
        return seconds[0] * 1000
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return cuts[percent - 1] * 1000 if percent < 100 else max(seconds) * 1000


_READ_ONLY_HINT = (
    "with a read-only root, only the tmpfs folders of tool.containerize.test.tmpfs are "
    "writable, and mounted noexec unless told: mod_wsgi-express runs the apachectl it "
    'writes into /tmp, so it needs tmpfs = ["/tmp:exec"]'
)


def read_only(subject: Subject, *, run_id: str) -> Outcome | str:
    """The image also serves with a read-only root filesystem (and ``tmpfs`` folders)."""
    cell = subject.cell
    if not cell.settings.read_only:
        return Outcome(check="read-only", status="skipped", message="test.read-only is off")
    second = containers.start(
        cell.image,
        platform=cell.platform,
        port=cell.port,
        env=dict(cell.env),
        network=subject.network,
        read_only=True,
        tmpfs=cell.settings.tmpfs,
        run_id=run_id,
        pull=False,
    )
    try:
        verdict, answer, log = await_ready(
            second,
            cell.healthcheck_path,
            started=time.monotonic(),
            timeout=cell.ready_timeout,
            slowdown=cell.slowdown,
        )
        if verdict.kind != "ready":
            raise Failed(
                verdict.message,
                detail=ready_detail(verdict, answer, log) + "\n" + _READ_ONLY_HINT,
            )
    finally:
        containers.remove(second)
    return f"serves with --read-only and tmpfs {', '.join(cell.settings.tmpfs)}"


def early_stop(subject: Subject, *, run_id: str) -> str:
    """A second container, told to stop as soon as it first answers, exits within the
    grace period without the engine's SIGKILL: a server whose other workers are still
    loading the app (seconds, under emulation) must stop too."""
    cell = subject.cell
    second = containers.start(
        cell.image,
        platform=cell.platform,
        port=cell.port,
        env=dict(cell.env),
        network=subject.network,
        run_id=run_id,
        pull=False,
    )
    try:
        verdict, answer, log = await_ready(
            second,
            cell.healthcheck_path,
            started=time.monotonic(),
            timeout=cell.ready_timeout,
            slowdown=cell.slowdown,
        )
        if verdict.kind != "ready":
            raise Failed(verdict.message, detail=ready_detail(verdict, answer, log))
        stopped = containers.stop(second, timeout=cell.grace_period + 10)
        if stopped.killed or stopped.seconds > cell.grace_period + 2 * cell.slowdown:
            raise Failed(
                _late_stop(cell, stopped) + " (stopped right after its first answer)",
                detail="its log (last lines):\n" + process.tail(containers.logs(second), 20),
            )
    finally:
        containers.remove(second)
    return (
        f"{cell.stop_signal} right after the first answer: exit {stopped.exit_code} "
        f"after {stopped.seconds:.1f}s (grace {cell.grace_period}s)"
    )


def _late_stop(cell: Cell, stopped: containers.Stopped) -> str:
    if stopped.killed:
        return (
            f"{cell.stop_signal} did not stop it: the engine killed it after "
            f"{stopped.seconds:.0f}s (exit code 137)"
        )
    return f"took {stopped.seconds:.1f}s to exit, grace period {cell.grace_period}s"


def sigterm(subject: Subject) -> str:
    """The stop signal lets an in-flight request finish, and the container exits in
    time: within the grace period, with exit code 0, without the engine's SIGKILL."""
    cell = subject.cell
    grace = cell.grace_period
    margin = 2 * cell.slowdown
    answers: list[containers.Response | str] = []
    thread = None
    if cell.settings.slow_path:
        path = cell.settings.slow_path

        def slow() -> None:
            try:
                answers.append(containers.request(subject.container, path, timeout=grace + 30))
            except (OSError, http.client.HTTPException) as exc:
                answers.append(f"{type(exc).__name__}: {exc}")

        thread = threading.Thread(target=slow, daemon=True)
        thread.start()
        time.sleep(1.0 * cell.slowdown)  # the request is in the application now
    stopped = containers.stop(subject.container, timeout=grace + 10)
    if thread is not None:
        thread.join(timeout=30)
    problems = []
    if stopped.killed or stopped.seconds > grace + margin:
        problems.append(_late_stop(cell, stopped))
    if not stopped.killed and stopped.exit_code != 0:
        problems.append(f"exit code {stopped.exit_code} after {cell.stop_signal}")
    detail = ""
    if thread is not None:
        answer = answers[0] if answers else "no answer within the wait"
        if isinstance(answer, str) or answer.status != 200:
            problems.append(f"the in-flight GET {cell.settings.slow_path} did not finish")
            detail = answer if isinstance(answer, str) else answer.describe()
    if problems:
        raise Failed("; ".join(problems), detail=detail)
    during = " with a request in flight" if thread is not None else ""
    return f"{cell.stop_signal}{during}: exit 0 after {stopped.seconds:.1f}s (grace {grace}s)"


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
