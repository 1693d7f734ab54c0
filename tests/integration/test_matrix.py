"""The test matrix against real images: the Flask fixture's on every server and
platform, and images broken on purpose, whose failure messages are checked.

The broken images are made from the Flask fixture's Gunicorn image by ``docker
commit`` (no build, no network): an app that raises at import, a server on the wrong
port, an entry point that ignores SIGTERM, a process that runs as root.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from containerize import process
from containerize.config import Probe
from containerize.engine import containers
from containerize.matrix import plan, report, runner
from containerize.matrix.checks import Outcome
from containerize.platforms import LINUX_AMD64, Platform

from .conftest import Built, _build, copy_project


def _matrix(built: Built, **overrides: object) -> plan.MatrixPlan:
    return plan.plan_matrix(built.config(**overrides), native_arch="amd64")


def _narrowed(
    tmp_path_factory: pytest.TempPathFactory, servers: list[str], platforms: list[str]
) -> Path:
    """The Flask fixture for *servers* on *platforms* only: a cheaper build for the
    tests that need one server's image."""
    project = copy_project("flask-app", tmp_path_factory.mktemp("projects"))
    pyproject = project / "pyproject.toml"
    lines = []
    for line in pyproject.read_text().splitlines():
        key = line.partition(" = ")[0]
        if key in ("servers", "platforms"):
            lines.append(f"{key} = " + json.dumps(servers if key == "servers" else platforms))
        else:
            lines.append(line)
    pyproject.write_text("\n".join(lines) + "\n")
    return project


@pytest.fixture(scope="module")
def gunicorn_images(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """The Flask fixture's Gunicorn image for linux/amd64: what the images broken on
    purpose are made from."""
    project = _narrowed(tmp_path_factory, ["gunicorn"], ["linux/amd64"])
    yield from _build(project, f"containerize-test/flask-gunicorn-{session_id}")


def _outcomes(result: report.CellResult) -> dict[str, Outcome]:
    return {outcome.check: outcome for outcome in result.outcomes}


def test_every_server_on_every_platform_passes_every_check(flask_images: Built) -> None:
    matrix = _matrix(flask_images)
    run_id = _run_id()
    results = runner.run_matrix(matrix, project_dir=flask_images.project, jobs=2, run_id=run_id)
    assert [r.name for r in results] == [c.name for c in matrix.cells]
    assert len(results) == 8
    for result in results:
        assert result.passed, report.failures([result])
        checks = _outcomes(result)
        assert checks["static"].status == "passed"
        assert checks["static"].message.startswith("/static/style.css: 200 text/css")
        assert checks["static"].message.endswith("; Host foreign-host.containerize.invalid: 400")
        assert checks["hosts"].message == "Host foreign-host.containerize.invalid: 400"
        assert checks["read-only"].status == "passed"
        assert "with a request in flight: exit 0" in checks["stop signal"].message
        assert checks["probe /"].status == "passed"
        assert checks["probe /health (Host: flask-app.example)"].status == "passed"
        # Under --cpus 1 --memory 256m: the formula's workers, no OOM kill, each
        # worker's memory, the proxy rule as the app sees it, the access log's fields.
        assert re.search(
            r"\d+ workers x \d+ threads \(.*\), \d+ running", checks["workers"].message
        )
        assert "no OOM kill" in checks["limits"].message
        assert "worker RSS" in checks["limits"].message
        assert checks["proxy"].message.startswith(
            "trusted 127.0.0.1: REMOTE_ADDR 203.0.113.9, https; untrusted "
        )
        assert checks["access log"].message.startswith("json line with time, method, path")
        # The project's own tests ran against this cell's container, one check each.
        mine = sorted(name for name in checks if name.startswith("pytest "))
        assert mine == [
            "pytest tests.container.test_pages::test_home_page_links_the_stylesheet",
            "pytest tests.container.test_pages::test_nothing_went_wrong_in_the_log",
            "pytest tests.container.test_pages::test_slow_requests_are_answered",
        ]
        assert result.ready_seconds is not None
        assert result.latency_ms is not None
        assert result.size is not None
        assert result.size < 300 * 2**20
    written = report.record(flask_images.config().build_dir, results, matrix.all_cells)
    assert written.missing == ()
    assert "FAILED" not in written.markdown.read_text()
    assert _labelled(run_id) == []  # every container of the run is gone


def _derive(base: str, name: str, changes: list[str], files: dict[str, str], tmp_path: Path) -> str:
    """An image made from *base* by ``docker commit``: *files* copied in (by path in
    the image), *changes* (Dockerfile instructions) applied. No build, no network."""
    tag = f"{base.rsplit(':', 1)[0]}-{name}:broken"
    created = process.run(
        ["docker", "create", "--platform", "linux/amd64", "--pull", "never", base], timeout=120
    ).stdout.strip()
    try:
        for target, text in files.items():
            source = tmp_path / f"{name}-{Path(target).name}"
            source.write_text(text)
            source.chmod(0o644)
            process.run(["docker", "cp", str(source), f"{created}:{target}"], timeout=120)
        argv = ["docker", "commit"]
        for change in changes:
            argv += ["--change", change]
        process.run([*argv, created, tag], timeout=300)
    finally:
        process.run(["docker", "rm", "--force", created], check=False, timeout=60)
    return tag


_APP = """
from flask import Flask, redirect


def create_app():
    app = Flask(__name__)

    @app.get("/")
    def index():
        return redirect("/login")  # 302, as a site with a login page answers

    @app.get("/login")
    def login():
        return "log in here"

    @app.get("/health")
    def health():
        {health}

    return app
"""


@pytest.fixture(scope="module")
def broken_images(
    gunicorn_images: Built, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    tmp_path = tmp_path_factory.mktemp("broken")
    good = gunicorn_images.tag("gunicorn")
    ignore = (
        "import signal, subprocess, sys\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "child = subprocess.Popen([sys.executable, '/opt/containerize/start.py'],"
        " start_new_session=True)\n"
        "sys.exit(child.wait())\n"
    )
    images = {
        "raises": _derive(
            good,
            "raises",
            [],
            {"/app/flaskr/__init__.py": "raise RuntimeError('the database is not configured')\n"},
            tmp_path,
        ),
        "port": _derive(
            good, "port", ['CMD ["python", "-m", "http.server", "9000"]'], {}, tmp_path
        ),
        "sigterm": _derive(
            good,
            "sigterm",
            ['ENTRYPOINT ["/opt/venv/bin/python", "/opt/ignore.py"]'],
            {"/opt/ignore.py": ignore},
            tmp_path,
        ),
        "root": _derive(good, "root", ["USER root"], {}, tmp_path),
        "redirects": _derive(
            good,
            "redirects",
            [],
            {"/app/flaskr/__init__.py": _APP.format(health='return "ok"')},
            tmp_path,
        ),
        "answers-500": _derive(
            good,
            "answers-500",
            [],
            {"/app/flaskr/__init__.py": _APP.format(health='return "database down", 500')},
            tmp_path,
        ),
        "raises-on-request": _derive(
            good,
            "raises-on-request",
            [],
            {"/app/flaskr/__init__.py": _APP.format(health='raise KeyError("DATABASE_URL")')},
            tmp_path,
        ),
    }
    yield images
    process.run(["docker", "image", "rm", "--force", *images.values()], check=False)


_BROKEN = ("raises", "port", "sigterm", "root")


def test_broken_images_fail_with_the_reason(
    gunicorn_images: Built, broken_images: dict[str, str]
) -> None:
    # A short grace period: the SIGTERM-ignoring image is killed after 2 + 10 s.
    (gunicorn,) = _matrix(gunicorn_images, **{"grace-period": 2}).cells
    cells = tuple(
        dataclasses.replace(gunicorn, image=broken_images[name], built=True) for name in _BROKEN
    )
    matrix = plan.MatrixPlan(cells=cells, all_cells=())
    run_id = _run_id()
    results = dict(
        zip(
            _BROKEN,
            runner.run_matrix(matrix, project_dir=gunicorn_images.project, jobs=4, run_id=run_id),
            strict=True,
        )
    )
    assert not any(result.passed for result in results.values())

    raises = _outcomes(results["raises"])
    assert list(raises) == ["ready"]  # nothing else is asked of a container that never answers
    # What the product promises: the container exited, not zero, and the reason from its
    # log is shown. Not the server's own exit code (Gunicorn's depends on the machine).
    exited = re.match(
        r"the container exited \(exit code (-?\d+)\) before GET /health", raises["ready"].message
    )
    assert exited, raises["ready"].message
    assert int(exited[1]) != 0
    assert "RuntimeError: the database is not configured" in raises["ready"].detail
    assert "RuntimeError: the database is not configured" in results["raises"].log_tail

    port = _outcomes(results["port"])["ready"]
    assert port.message.startswith("GET /health did not answer 200-399 within 60s")
    assert "listens on 9000, not on port 8000" in port.detail

    stop = _outcomes(results["sigterm"])
    assert stop["ready"].status == "passed"
    assert stop["stop signal"].status == "failed"
    assert stop["stop signal"].message.startswith("SIGTERM did not stop it: the engine killed it")
    # Stopped right after its first answer, it is killed too.
    assert stop["early stop"].message.startswith("SIGTERM did not stop it: the engine killed it")
    assert [o.check for o in results["sigterm"].failures] == ["early stop", "stop signal"]

    root = _outcomes(results["root"])
    assert root["not root"].status == "failed"
    assert "processes run as root" in root["not root"].message
    assert "root" in root["not root"].detail
    assert "USER is root: the image starts as root" in root["metadata"].message

    text = report.failures(list(results.values()))
    assert "container log (last lines):" in text
    assert all(result.image_id for result in results.values())
    assert _labelled(run_id) == []  # every container of the run is gone


def test_readiness_is_judged_as_kubernetes_judges_an_http_get_probe(
    gunicorn_images: Built, broken_images: dict[str, str]
) -> None:
    """A site whose / redirects passes; one that answers 500 (with or without a
    traceback) or keeps answering 404 fails in seconds, not after the 60 s timeout."""
    (gunicorn,) = _matrix(gunicorn_images).cells
    plain = dataclasses.replace(
        gunicorn.settings, probes=(Probe(path="/"),), slow_path=None, pytest=()
    )
    redirects = dataclasses.replace(
        gunicorn,
        image=broken_images["redirects"],
        healthcheck_path="/",
        settings=plain,
    )
    failing = [
        dataclasses.replace(gunicorn, image=broken_images[name], settings=plain)
        for name in ("answers-500", "raises-on-request")
    ]
    missing = dataclasses.replace(gunicorn, healthcheck_path="/no-such-page", settings=plain)
    matrix = plan.MatrixPlan(cells=(redirects, *failing, missing), all_cells=())
    run_id = _run_id()
    results = runner.run_matrix(matrix, project_dir=gunicorn_images.project, jobs=4, run_id=run_id)
    passed, answers_500, raises, not_found = results
    for result in results:
        ready = _outcomes(result)["ready"]
        print(f"{result.image}: ready {ready.status} in {ready.seconds:.1f}s: {ready.message}")

    assert passed.passed, report.failures([passed])
    assert _outcomes(passed)["ready"].message.startswith("first 302 after ")
    assert _outcomes(passed)["probe /"].status == "passed"
    assert _outcomes(passed)["burst"].status == "passed"

    for result in (answers_500, raises, not_found):
        assert list(_outcomes(result)) == ["ready"]
        # Seconds, not the 60 s ready timeout (a slow machine's start included).
        assert _outcomes(result)["ready"].seconds < 30, _outcomes(result)["ready"]
    failed = _outcomes(answers_500)["ready"]
    assert re.match(
        r"GET /health answered server errors for [\d.]+s running \(last: 500\); ", failed.message
    )
    assert "-> 500" in failed.detail
    assert "database down" in failed.detail

    failed = _outcomes(raises)["ready"]
    assert failed.message.startswith("the start-up log shows a Python traceback, and GET /health")
    assert "(last answer: 500)" in failed.message
    assert "KeyError: 'DATABASE_URL'" in failed.detail

    failed = _outcomes(not_found)["ready"]
    assert failed.message.startswith("GET /no-such-page kept answering 404 for ")
    assert "tool.containerize.healthcheck-path" in failed.message
    assert _labelled(run_id) == []


def test_the_image_health_check_agrees_with_the_matrix(
    gunicorn_images: Built, broken_images: dict[str, str]
) -> None:
    """The image's own HEALTHCHECK command, run in the container: healthy for the
    site whose / redirects, unhealthy for the one that answers 500."""
    verdicts = {}
    for name, path in (("redirects", "/"), ("answers-500", "/health")):
        image = broken_images[name]
        inspected = process.run(
            ["docker", "image", "inspect", "--format", "{{json .Config.Healthcheck.Test}}", image]
        )
        kind, *argv = json.loads(inspected.stdout)
        assert kind == "CMD"
        assert argv[-2:] == ["8000", "/health"]  # healthcheck-path as built
        container = containers.start(image, platform=LINUX_AMD64, port=8000, pull=False)
        try:
            containers.get(container, path, timeout=60)  # any answer: the server is up
            ran = containers.execute(container, [*argv[:-1], path])
        finally:
            containers.remove(container)
        verdicts[name] = (ran.returncode, ran.stdout.strip())
    assert verdicts == {"redirects": (0, "GET /: 302"), "answers-500": (1, "GET /health: 500")}


@pytest.fixture(scope="module")
def uwsgi_arm64_images(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """The Flask fixture's uWSGI image for linux/arm64 alone (emulated here)."""
    project = _narrowed(tmp_path_factory, ["uwsgi"], ["linux/arm64"])
    yield from _build(project, f"containerize-test/flask-uwsgi-arm64-{session_id}")


_TRIES = 5


def test_uwsgi_on_emulated_arm64_stops_on_sigterm_right_after_its_first_answer(
    uwsgi_arm64_images: Built,
) -> None:
    """Stopped as soon as it first answers, while its other workers still load the app
    (seconds under emulation), uWSGI exits within the grace period, every time; and
    the matrix's own early-stop check passes."""
    arm64 = Platform.parse("linux/arm64")
    config = uwsgi_arm64_images.config()
    image = uwsgi_arm64_images.tag("uwsgi")
    stops = []
    for _ in range(_TRIES):
        container = containers.start(image, platform=arm64, port=config.port, pull=False)
        try:
            containers.get(container, config.healthcheck_path, timeout=300)
            stopped = containers.stop(container, timeout=config.grace_period + 10)
            log = containers.logs(container)
        finally:
            containers.remove(container)
        stops.append(stopped)
        assert not stopped.killed, f"killed after {stopped.seconds:.1f}s:\n{log[-3000:]}"
        assert stopped.seconds < config.grace_period, log[-3000:]
    print("stopped after " + ", ".join(f"{s.seconds:.1f}s (exit {s.exit_code})" for s in stops))

    (cell,) = plan.plan_matrix(config, native_arch="amd64").cells
    run_id = _run_id()
    result = runner.run_cell(cell, run_id=run_id, project_dir=uwsgi_arm64_images.project)
    early = _outcomes(result)["early stop"]
    assert early.status == "passed", report.failures([result])
    assert early.message.startswith("SIGTERM right after the first answer: exit ")
    assert _labelled(run_id) == []


def test_a_platform_without_an_emulator_is_an_error_with_the_fix(gunicorn_images: Built) -> None:
    riscv = Platform.parse("linux/riscv64")
    if (Path("/proc/sys/fs/binfmt_misc") / "qemu-riscv64").exists():
        pytest.skip("this machine emulates riscv64")
    (cell,) = _matrix(gunicorn_images).cells[:1]
    result = runner.run_cell(
        dataclasses.replace(cell, platform=riscv, emulated=True),
        run_id="riscv",
        project_dir=gunicorn_images.project,
    )
    (outcome,) = result.outcomes
    assert outcome.check == "platform"
    assert outcome.status == "failed"
    assert "cannot run linux/riscv64 images: no emulator for riscv64" in outcome.message
    assert "qemu-user-static" in outcome.detail


def test_an_image_never_built_says_how_to_build_it(gunicorn_images: Built) -> None:
    (cell,) = _matrix(gunicorn_images).cells[:1]
    result = runner.run_cell(
        dataclasses.replace(cell, image="containerize-test/never-built:gunicorn"),
        run_id="missing",
        project_dir=gunicorn_images.project,
    )
    (outcome,) = result.outcomes
    assert outcome.message == "the engine holds no image containerize-test/never-built:gunicorn"
    assert "nox -s image" in outcome.detail


def test_the_command_line_exits_non_zero_and_ctrl_c_leaves_no_container(
    flask_images: Built, broken_images: dict[str, str]
) -> None:
    project = str(flask_images.project)
    env = {**os.environ, "CONTAINERIZE_IMAGE": flask_images.image}
    argv = [sys.executable, "-m", "containerize", "--project", project, "test"]
    argv += ["--server", "gunicorn", "--platform", "linux/amd64", "--image", broken_images["port"]]
    failed = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert failed.returncode == 7, failed.stdout + failed.stderr
    assert "1 of 1 cell(s) failed: gunicorn linux/amd64" in failed.stdout
    assert "report: " in failed.stdout

    # Ctrl-C while the cells run: the command stops, and removes every container it started.
    # Only this run's containers are looked at (its label value): other runs on the same
    # engine may have theirs.
    argv = [sys.executable, "-m", "containerize", "--project", project, "test", "--jobs", "2"]
    running = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        runs: set[str] = set()
        while time.monotonic() < deadline and not runs:
            runs = _runs_of(flask_images.image)
            time.sleep(0.5)
        assert runs, "no container started within 120 s"
        running.send_signal(signal.SIGINT)
        out, err = running.communicate(timeout=120)
    finally:
        running.kill()
    assert running.returncode == 130, out + err
    assert [_labelled(run) for run in sorted(runs)] == [[]] * len(runs)


def _runs_of(image: str) -> set[str]:
    """The run labels of the containers of *image*'s tags (this test's own images)."""
    listed = process.run(
        ["docker", "ps", "--all", "--filter", f"label={containers.LABEL}", "--format",
         f'{{{{.Image}}}} {{{{.Label "{containers.LABEL}"}}}}'],
    ).stdout  # fmt: skip
    return {
        run
        for reference, _, run in (line.partition(" ") for line in listed.splitlines())
        if reference.startswith(f"{image}:") and run
    }


def _run_id() -> str:
    """A run label of this test's own, so that other runs' containers on the same
    engine neither fail nor pass its checks."""
    return f"test-{uuid.uuid4().hex[:12]}"


def _labelled(run_id: str) -> list[str]:
    """The containers, and the services' containers, of run *run_id* that remain."""
    return process.run(
        ["docker", "ps", "--all", "--quiet", "--filter", f"label={containers.LABEL}={run_id}"]
    ).stdout.split()


def test_nox_runs_one_cell_alone(flask_images: Built) -> None:
    noxfile = flask_images.project / "noxfile.py"
    noxfile.write_text("import containerize.nox\ncontainerize.nox.register()\n")
    env = {**os.environ, "CONTAINERIZE_IMAGE": flask_images.image}
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "nox",
            "--no-dependencies",
            "-s",
            "test_images(server='cheroot', platform='linux/arm64')",
        ],
        cwd=flask_images.project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "cheroot linux/arm64  passed" in ran.stdout + ran.stderr
