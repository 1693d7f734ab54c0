"""Run the matrix: each cell's container started, checked, stopped and removed.

A cell runs its checks in a fixed order: readiness first (nothing else is asked of a
container that never answers), the stop signal last (it ends the container). The
container is removed whatever happens: a failed check, an engine error, Ctrl-C. Every
container of a run carries the run's label, and the run removes them all on its way
out, so an interrupted matrix leaves nothing behind.

Cells run side by side in threads: a cell mostly waits (for an emulated server to
start, for answers), and each request is small.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from containerize import process
from containerize.engine import containers, docker, probes
from containerize.errors import CommandError, ContainerTestError
from containerize.matrix import checks, containerchecks, httpchecks, limits, services
from containerize.matrix.checks import Outcome, Subject
from containerize.matrix.plan import Cell, MatrixPlan
from containerize.matrix.report import CellResult, now

logger = logging.getLogger("containerize")

#: The variable that tells the pytest plugin which container a cell is running.
CELL_VARIABLE = "CONTAINERIZE_TEST_CELL"
_LOG_LINES = 30
_PYTEST_TIMEOUT = 900


def default_jobs() -> int:
    """One cell per CPU: emulated cells keep a core busy while they start."""
    return max(1, os.cpu_count() or 1)


def run_matrix(
    plan: MatrixPlan,
    *,
    project_dir: Path,
    jobs: int | None = None,
    on_result: Callable[[CellResult], None] = lambda result: None,
    run_id: str | None = None,
) -> list[CellResult]:
    """Run every cell of *plan*, *jobs* at a time; results in the plan's order.

    Every container of the run carries *run_id* (default: a new random one) as its
    label's value.
    """
    run_id = run_id or uuid.uuid4().hex[:12]
    pool = ThreadPoolExecutor(max_workers=max(1, min(jobs or default_jobs(), len(plan.cells))))
    futures: dict[Future[CellResult], Cell] = {}
    try:
        for cell in plan.cells:
            futures[pool.submit(run_cell, cell, run_id=run_id, project_dir=project_dir)] = cell
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                on_result(future.result())
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        removed = containers.remove_run(run_id)
        if removed:
            logger.info("removed %d container(s) of run %s", removed, run_id)


def run_cell(cell: Cell, *, run_id: str, project_dir: Path) -> CellResult:
    """Start *cell*'s container, run every check, stop it, remove it."""
    began = time.monotonic()
    outcomes: list[Outcome] = []
    subject: Subject | None = None
    beside: services.Running | None = None
    log_tail = ""
    image_id = None
    try:
        problem = _cannot_run(cell)
        if problem is not None:
            outcomes.append(problem)
        elif cell.settings.services:
            # Services first: the app's WSGI_PRESTART (migrations) needs them.
            beside, outcome = _start_services(cell, run_id=run_id)
            outcomes.append(outcome)
        if not any(o.status == "failed" for o in outcomes):
            try:
                started = time.monotonic()
                container = containers.start(
                    cell.image,
                    platform=cell.platform,
                    port=cell.port,
                    env=dict(cell.env),
                    network=beside.network if beside else None,
                    run_id=run_id,
                    pull=not cell.built,
                )
            except (CommandError, ContainerTestError) as exc:
                outcomes.append(_start_failed(cell, exc))
            else:
                subject = Subject(
                    cell=cell,
                    container=container,
                    started=started,
                    network=beside.network if beside else None,
                )
                image_id = _image_id(cell.image)
                outcomes += _checks(subject, run_id=run_id, project_dir=project_dir)
    finally:
        try:
            if subject is not None:
                if any(o.status == "failed" for o in outcomes):
                    log_tail = log_excerpt(containers.logs(subject.container))
                containers.remove(subject.container)
        finally:
            if beside is not None:
                beside.remove()
    return CellResult(
        server=cell.server,
        platform=str(cell.platform),
        image=cell.image,
        image_id=image_id,
        outcomes=tuple(outcomes),
        seconds=time.monotonic() - began,
        ready_seconds=subject.ready_seconds if subject else None,
        latency_ms=subject.latency_ms if subject else None,
        size=subject.size if subject else None,
        log_tail=log_tail,
        finished=now(),
    )


def _start_services(cell: Cell, *, run_id: str) -> tuple[services.Running | None, Outcome]:
    began = time.monotonic()
    try:
        running = services.start(cell, run_id=run_id)
    except checks.Failed as exc:
        return None, Outcome(
            check="services",
            status="failed",
            message=exc.message,
            detail=exc.detail,
            seconds=time.monotonic() - began,
        )
    return running, Outcome(
        check="services",
        status="passed",
        message=f"ready on {running.network}: {services.summary(cell)}",
        seconds=time.monotonic() - began,
    )


def log_excerpt(log: str, lines: int = _LOG_LINES) -> str:
    """The log's last *lines*, and before them its first traceback when that scrolled
    out of view: the first error is the cause, what follows is often its fallout (a
    Gunicorn master halting after its worker failed to import the app)."""
    all_lines = log.splitlines()
    tail = all_lines[-lines:]
    first = next((i for i, line in enumerate(all_lines) if line.startswith("Traceback")), None)
    if first is None or first >= len(all_lines) - lines:
        return "\n".join(tail)
    # The exception's own line ends the traceback: the first one not indented.
    end = next(
        (
            i + 1
            for i in range(first + 1, min(first + 500, len(all_lines)))
            if all_lines[i] and not all_lines[i].startswith((" ", "\t"))
        ),
        first + 1,
    )
    cause = all_lines[first:end]
    if len(cause) > lines:  # a deep import chain: its first frames and its last
        cause = [*cause[:3], "  ...", *cause[-(lines - 4) :]]
    return "\n".join([*cause, "...", *tail])


def _checks(subject: Subject, *, run_id: str, project_dir: Path) -> list[Outcome]:
    cell = subject.cell
    first = checks.timed("ready", lambda: checks.ready(subject))
    if first.status == "failed":
        return [first]
    outcomes = [first]
    steps: list[tuple[str, Callable[[], Outcome | str]]] = [
        ("metadata", lambda: containerchecks.metadata(subject)),
        ("not root", lambda: containerchecks.not_root(subject)),
        ("no build tools", lambda: containerchecks.no_toolchain(subject)),
        ("size", lambda: containerchecks.size(subject)),
    ]
    for spec in cell.settings.probes:
        name = f"probe {spec.path}" + (f" (Host: {spec.host})" if spec.host != "localhost" else "")
        steps.append((name, lambda spec=spec: httpchecks.probe(subject, spec)))  # type: ignore[misc]
    steps += [
        ("static", lambda: httpchecks.static_file(subject)),
        ("hosts", lambda: httpchecks.foreign_host(subject)),
        ("burst", lambda: httpchecks.burst(subject)),
    ]
    for name, step in steps:
        outcomes.append(checks.timed(name, step))
    outcomes += user_tests(subject, project_dir=project_dir)
    # Under a CPU and memory limit: workers, memory, proxy headers, access log.
    outcomes += limits.production(subject, run_id=run_id)
    outcomes.append(
        checks.timed("read-only", lambda: containerchecks.read_only(subject, run_id=run_id))
    )
    outcomes.append(
        checks.timed("early stop", lambda: containerchecks.early_stop(subject, run_id=run_id))
    )
    outcomes.append(
        checks.timed("stop signal", lambda: containerchecks.sigterm(subject, run_id=run_id))
    )
    return outcomes


def _cannot_run(cell: Cell) -> Outcome | None:
    """A platform this machine cannot run, or a built image the engine does not hold."""
    if not probes.emulator_enabled(cell.platform.arch):
        return Outcome(
            check="platform",
            status="failed",
            message=f"this machine cannot run {cell.platform} images: no emulator for "
            f"{cell.platform.arch} is registered",
            detail="on Debian, as root: apt-get install qemu-user-static binfmt-support "
            "(or 'containerize engine up'); or leave the platform out with --platform",
        )
    if cell.built and _image_id(cell.image) is None and not _pulled(cell):
        pullable = _in_a_registry(cell.image)
        return Outcome(
            check="image",
            status="failed",
            message=f"the engine holds no image {cell.image}"
            + (", and its registry has none" if pullable else ""),
            detail="build it first: 'nox -s image' (containerize build), or test a pushed "
            "image with 'containerize test --image SERVER=REFERENCE'",
        )
    return None


def _in_a_registry(image: str) -> bool:
    """Whether *image* names its registry host (``host:port/...``, ``host.domain/...``)."""
    host, slash, _ = image.partition("/")
    return bool(slash) and ("." in host or ":" in host or host == "localhost")


def _pulled(cell: Cell) -> bool:
    """Pull a built image the engine does not hold from its registry: a build on
    another engine (a remote builder, another runner) pushed it and loaded nothing here."""
    if not _in_a_registry(cell.image):
        return False  # a local name: nothing to pull it from
    pulled = docker.run(
        "pull", "--quiet", "--platform", str(cell.platform), cell.image, check=False, timeout=600
    )
    if pulled.returncode == 0:
        logger.info("pulled %s (%s) from its registry", cell.image, cell.platform)
    return pulled.returncode == 0


def _start_failed(cell: Cell, exc: CommandError | ContainerTestError) -> Outcome:
    text = str(exc)
    detail = exc.output_tail if isinstance(exc, CommandError) else exc.hint or ""
    if "does not match the specified platform" in text + detail:
        return Outcome(
            check="start",
            status="failed",
            message=f"{cell.image} holds no {cell.platform} image",
            detail=f"build it for {cell.platform} ('containerize build' builds every "
            "configured platform)\n" + detail,
        )
    return Outcome(
        check="start", status="failed", message=f"docker run failed: {text}", detail=detail
    )


def _image_id(image: str) -> str | None:
    result = docker.run("image", "inspect", "--format", "{{.Id}}", image, check=False, timeout=60)
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None


# --------------------------------------------------------------------------- user tests


def user_tests(subject: Subject, *, project_dir: Path) -> list[Outcome]:
    """The project's own pytest tests against this cell's container, one outcome each."""
    paths = subject.cell.settings.pytest
    if not paths:
        return []
    began = time.monotonic()
    missing = [path for path in paths if not (project_dir / path).exists()]
    if missing:
        return [
            _pytest_outcome(
                "failed",
                f"no such test path: {', '.join(missing)} (tool.containerize.test.pytest)",
                began=began,
            )
        ]
    try:
        import pytest  # noqa: F401, PLC0415 (only a project with tests of its own needs it)
    except ImportError:
        return [
            _pytest_outcome(
                "failed",
                f"pytest is not installed for {sys.executable}",
                "install it beside containerize (pip install pytest) to run "
                "tool.containerize.test.pytest",
                began=began,
            )
        ]
    container = subject.container
    cell_info = {
        "id": container.id,
        "image": subject.cell.image,
        "server": subject.cell.server,
        "platform": str(subject.cell.platform),
        "base_url": f"http://{container.host}:{container.port}",
    }
    env = {**os.environ, CELL_VARIABLE: json.dumps(cell_info)}
    with tempfile.TemporaryDirectory(prefix="containerize-pytest-") as scratch:
        xml_path = Path(scratch) / "junit.xml"
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
        argv += [f"--junitxml={xml_path}", "--", *paths]
        result = process.run(
            argv,
            cwd=project_dir,
            env=env,
            check=False,
            timeout=_PYTEST_TIMEOUT * subject.cell.slowdown,
        )
        cases = _junit_cases(xml_path)
    if not cases:
        return [
            _pytest_outcome(
                "failed",
                f"pytest ran no test (exit code {result.returncode})",
                process.tail(result.stdout + result.stderr, 20),
                began=began,
            )
        ]
    return cases


def _pytest_outcome(
    status: checks.Status, message: str, detail: str = "", *, began: float
) -> Outcome:
    return Outcome(
        check="pytest",
        status=status,
        message=message,
        detail=detail,
        seconds=time.monotonic() - began,
    )


def _junit_cases(path: Path) -> list[Outcome]:
    """One outcome per test case of pytest's JUnit XML."""
    try:
        root = ET.parse(path).getroot()  # noqa: S314 (pytest's own output, just written)
    except (OSError, ET.ParseError):
        return []
    outcomes = []
    for case in root.iter("testcase"):
        name = f"pytest {case.get('classname', '')}::{case.get('name', '')}"
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        skipped = case.find("skipped")
        seconds = float(case.get("time") or 0)
        if problem is not None:
            outcomes.append(
                Outcome(
                    check=name,
                    status="failed",
                    message=(problem.get("message") or "failed").splitlines()[0][:200],
                    detail=process.tail(problem.text or "", 25),
                    seconds=seconds,
                )
            )
        elif skipped is not None:
            outcomes.append(
                Outcome(
                    check=name,
                    status="skipped",
                    message=skipped.get("message") or "",
                    seconds=seconds,
                )
            )
        else:
            outcomes.append(Outcome(check=name, status="passed", message="passed", seconds=seconds))
    return outcomes
