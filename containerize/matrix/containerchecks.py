"""The checks of a cell's container and its image: what the image declares, who runs,
what it holds, how big it is, and how it stops.

The last ones start a second container (read-only root, stopped at its first answer)
or end the cell's own (the stop signal), so the runner runs them last (see
:mod:`containerize.matrix.checks`).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from dataclasses import dataclass

from containerize import process
from containerize.engine import containers
from containerize.image import plan as image_plan
from containerize.matrix.checks import Failed, Outcome, Subject, await_ready, ready_detail
from containerize.matrix.plan import Cell

#: Seconds from sending the slow-path request to sending the stop signal: the request
#: is in the app by then, and a slow path of a few seconds is still running.
IN_FLIGHT_DELAY = 1.0

# Tools a runtime image must not hold: they belong in the builder stage.
_TOOLCHAIN = ("gcc", "cc", "c++", "g++", "clang", "make", "ld", "pip", "pip3", "uv", "poetry")
# Packaging tools importable by a Python in the image: the venv's, then the system's.
_PACKAGING = ("pip", "setuptools", "wheel")
_SITE_GLOBS = (
    f"{image_plan.VENV}/lib/python3*/site-packages",
    "/usr/lib/python3*/dist-packages",
    "/usr/lib/python3/dist-packages",
    "/usr/local/lib/python3*/site-packages",
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


# Run in the image. A packaging tool in the app's venv is the project's own choice when
# its dist-info says containerize placed it (INSTALLER): the venv is made without pip,
# and what containerize places there is the project's lock and its own servers' lock,
# which holds none of these tools (tests/unit/test_matrix.py checks). Anything else (a
# base image's pip, a tool another installer put in) is reported.
_TOOL_SCRIPT = """
import glob, json, os, shutil, sys
venv, sites, tools, names = sys.argv[1], sys.argv[2].split(","), sys.argv[3], sys.argv[4]
def placed(site, name):
    for info in glob.glob(os.path.join(site, name + "-*.dist-info")):
        try:
            with open(os.path.join(info, "INSTALLER")) as f:
                if f.read().strip() == "containerize":
                    return os.path.basename(info)[: -len(".dist-info")]
        except OSError:
            pass
    return None
found, locked = [], {}
for pattern in sites:
    for site in sorted(glob.glob(pattern)):
        for name in names.split(","):
            path = os.path.join(site, name)
            if not os.path.isdir(path):
                continue
            version = placed(site, name) if site.startswith(venv + "/") else None
            if version:
                locked[name] = version
            elif path not in found:
                found.append(path)
paths = [shutil.which(t) for t in tools.split(",")]
for path in paths:
    if not path:
        continue
    mine = os.path.dirname(path) == venv + "/bin"
    if mine and os.path.basename(path) in ("pip", "pip3") and "pip" in locked:
        continue
    found.append(path)
print(json.dumps({"found": found, "locked": sorted(locked.values())}))
"""


def no_toolchain(subject: Subject) -> str:
    """The runtime image holds no compiler, pip or build tool, except the packaging
    tools the project's own lock asks for (an app that runs pip at run time)."""
    venv = image_plan.VENV
    argv = ["-c", _TOOL_SCRIPT, venv, ",".join(_SITE_GLOBS), ",".join(_TOOLCHAIN)]
    argv.append(",".join(_PACKAGING))
    for python in (f"{venv}/bin/python", "python3"):
        result = containers.execute(subject.container, [python, *argv])
        if result.returncode == 0:
            break
    else:
        raise Failed("no Python in the image to look with", detail=result.stdout + result.stderr)
    return judge_toolchain(json.loads(result.stdout))


def judge_toolchain(found: dict[str, list[str]]) -> str:
    """The check's verdict on what :data:`_TOOL_SCRIPT` found in the image."""
    present, locked = found["found"], found["locked"]
    if present:
        raise Failed(
            f"the runtime image holds build tools: {', '.join(present)}",
            detail="compilers, pip and build tools belong in the builder stage; a base "
            "image that brings them (the official python images bring pip) can be "
            "replaced by a slimmer one in tool.containerize.base-image",
        )
    if locked:
        return f"no compiler or build tool; {', '.join(locked)} from the project's lock"
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
    second = _second(subject, run_id=run_id, read_only=True, tmpfs=cell.settings.tmpfs)
    try:
        _await_second(subject, second, hint=_READ_ONLY_HINT)
    finally:
        containers.remove(second)
    return f"serves with --read-only and tmpfs {', '.join(cell.settings.tmpfs)}"


def _second(
    subject: Subject, *, run_id: str, read_only: bool = False, tmpfs: tuple[str, ...] = ()
) -> containers.Container:
    """A second container of the cell's image, on the cell's network, as the first."""
    cell = subject.cell
    return containers.start(
        cell.image,
        platform=cell.platform,
        port=cell.port,
        env=dict(cell.env),
        network=subject.network,
        read_only=read_only,
        tmpfs=tmpfs,
        run_id=run_id,
        pull=False,
    )


def _await_second(subject: Subject, second: containers.Container, *, hint: str = "") -> None:
    """*second* is ready as the cell judges readiness; else the check fails, with *hint*."""
    cell = subject.cell
    verdict, answer, log = await_ready(
        second,
        cell.healthcheck_path,
        started=time.monotonic(),
        timeout=cell.ready_timeout,
        slowdown=cell.slowdown,
    )
    if verdict.kind != "ready":
        detail = ready_detail(verdict, answer, log)
        raise Failed(verdict.message, detail=detail + ("\n" + hint if hint else ""))


def early_stop(subject: Subject, *, run_id: str) -> str:
    """A second container, told to stop as soon as it first answers, exits within the
    grace period without the engine's SIGKILL: a server whose other workers are still
    loading the app (seconds, under emulation) must stop too."""
    cell = subject.cell
    second = _second(subject, run_id=run_id)
    try:
        _await_second(subject, second)
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


def _ended(answer: containers.Response | str) -> str:
    return "failed" if isinstance(answer, str) else f"answered {answer.status}"


def _late_stop(cell: Cell, stopped: containers.Stopped) -> str:
    if stopped.killed:
        return (
            f"{cell.stop_signal} did not stop it: the engine killed it after "
            f"{stopped.seconds:.0f}s (exit code 137)"
        )
    return f"took {stopped.seconds:.1f}s to exit, grace period {cell.grace_period}s"


def sigterm(subject: Subject, *, run_id: str) -> str:
    """The stop signal lets an in-flight request finish, and the container exits in
    time: within the grace period, with exit code 0, without the engine's SIGKILL."""
    cell = subject.cell
    tried = _stop_with_request(subject, subject.container)
    again = ""
    if tried.lost and cell.emulated:
        # mod_wsgi has lost, now and then, during Apache's graceful stop, the response
        # to a request its app had answered (its log said 200): under emulation in full
        # test runs, and once natively (1 of 4 runs of the matrix test alone). Not
        # explained. Under emulation, where it was seen most, once more in a new
        # container of the image, and the message says so; natively it fails at once.
        second = _second(subject, run_id=run_id)
        try:
            _await_second(subject, second)
            retried = _stop_with_request(subject, second)
        finally:
            containers.remove(second)
        lost = tried.detail.replace("\n", "; ")
        if not retried.problems:
            again = f" (in a second container: in the first, {tried.problems[0]}: {lost})"
            tried = retried
        else:
            detail = f"{tried.detail}\nagain, in a second container: {retried.detail}"
            tried = _StopTry(stopped=retried.stopped, problems=retried.problems, detail=detail)
    if tried.problems:
        raise Failed("; ".join(tried.problems), detail=tried.detail)
    stopped = tried.stopped
    return (
        f"{cell.stop_signal}{tried.during}: exit 0 after {stopped.seconds:.1f}s "
        f"(grace {cell.grace_period}s){again}"
    )


@dataclass(frozen=True, kw_only=True)
class _StopTry:
    stopped: containers.Stopped
    problems: list[str]
    detail: str = ""
    during: str = ""
    lost: bool = False  # the slow-path request got no HTTP answer at all


def _stop_with_request(subject: Subject, container: containers.Container) -> _StopTry:
    """Send the slow-path request (if any), then the stop signal while it runs."""
    cell = subject.cell
    grace = cell.grace_period
    margin = 2 * cell.slowdown
    answers: list[tuple[float, containers.Response | str]] = []
    thread = None
    began = time.monotonic()
    if cell.settings.slow_path:
        path = cell.settings.slow_path

        def slow() -> None:
            try:
                answer: containers.Response | str = containers.request(
                    container, path, timeout=grace + 30
                )
            except (OSError, http.client.HTTPException) as exc:
                answer = f"{type(exc).__name__}: {exc}"
            answers.append((time.monotonic() - began, answer))

        thread = threading.Thread(target=slow, daemon=True)
        thread.start()
        # Not stretched for an emulated platform: the request reaches the app within
        # this even there, and the signal must come while the slow path still runs
        # (the engine itself takes a while to deliver it).
        time.sleep(IN_FLIGHT_DELAY)
    signalled = time.monotonic() - began
    stopped = containers.stop(container, timeout=grace + 10)
    if thread is not None:
        thread.join(timeout=30)
    problems = []
    if stopped.killed or stopped.seconds > grace + margin:
        problems.append(_late_stop(cell, stopped))
    if not stopped.killed and stopped.exit_code != 0:
        problems.append(f"exit code {stopped.exit_code} after {cell.stop_signal}")
    if thread is None:
        return _StopTry(stopped=stopped, problems=problems)
    at, answer = answers[0] if answers else (None, "no answer within the wait")
    if isinstance(answer, str) or answer.status != 200:
        when = (
            f"GET {cell.settings.slow_path} sent at 0.0s, {cell.stop_signal} sent at "
            f"{signalled:.1f}s, "
            + ("no answer" if at is None else f"{_ended(answer)} at {at:.1f}s")
        )
        # Closed without an answer; not a request still hanging when the wait ended.
        lost = isinstance(answer, str) and at is not None and not problems
        problems.append(f"the in-flight GET {cell.settings.slow_path} did not finish")
        detail = (answer if isinstance(answer, str) else answer.describe()) + f"\n{when}"
        return _StopTry(stopped=stopped, problems=problems, detail=detail, lost=lost)
    if at is not None and at < signalled:
        # Honest about what was shown: the path was quicker than the wait.
        during = (
            f" (GET {cell.settings.slow_path} had finished before it, at {at:.1f}s:"
            " a longer slow-path keeps it in flight)"
        )
    else:
        during = " with a request in flight"
    return _StopTry(stopped=stopped, problems=problems, during=during)
