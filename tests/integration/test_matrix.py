"""The test matrix against real images: the Flask fixture's on every server and
platform, and images broken on purpose, whose failure messages are checked.

The broken images are made from the Flask fixture's Gunicorn image by ``docker
commit`` (no build, no network): an app that raises at import, a server on the wrong
port, an entry point that ignores SIGTERM, a process that runs as root.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from containerize import process
from containerize.engine import containers
from containerize.matrix import plan, report, runner
from containerize.matrix.checks import Outcome
from containerize.platforms import LINUX_AMD64, Platform

from .conftest import Built


def _matrix(built: Built, **overrides: object) -> plan.MatrixPlan:
    return plan.plan_matrix(built.config(**overrides), native_arch="amd64")


def _outcomes(result: report.CellResult) -> dict[str, Outcome]:
    return {outcome.check: outcome for outcome in result.outcomes}


def test_every_server_on_every_platform_passes_every_check(flask_images: Built) -> None:
    matrix = _matrix(flask_images)
    results = runner.run_matrix(matrix, project_dir=flask_images.project, jobs=2)
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
    assert _labelled() == []  # every container of the run is gone


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


@pytest.fixture(scope="module")
def broken_images(
    flask_images: Built, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    tmp_path = tmp_path_factory.mktemp("broken")
    good = flask_images.tag("gunicorn")
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
    }
    yield images
    process.run(["docker", "image", "rm", "--force", *images.values()], check=False)


def test_broken_images_fail_with_the_reason(
    flask_images: Built, broken_images: dict[str, str]
) -> None:
    # A short grace period: the SIGTERM-ignoring image is killed after 2 + 10 s.
    gunicorn = next(
        cell
        for cell in _matrix(flask_images, **{"grace-period": 2}).cells
        if (cell.server, cell.platform) == ("gunicorn", LINUX_AMD64)
    )
    cells = tuple(
        dataclasses.replace(gunicorn, image=image, built=True) for image in broken_images.values()
    )
    matrix = plan.MatrixPlan(cells=cells, all_cells=())
    results = dict(
        zip(
            broken_images,
            runner.run_matrix(matrix, project_dir=flask_images.project, jobs=4),
            strict=True,
        )
    )
    assert not any(result.passed for result in results.values())

    raises = _outcomes(results["raises"])
    assert list(raises) == ["ready"]  # nothing else is asked of a container that never answers
    assert raises["ready"].message.startswith(f"{broken_images['raises']} (linux/amd64) exited")
    assert "(exit code 1)" in raises["ready"].message
    assert "RuntimeError: the database is not configured" in results["raises"].log_tail

    port = _outcomes(results["port"])["ready"]
    assert "did not answer GET /health" in port.message
    assert "listens on 9000, not on port 8000" in port.detail

    stop = _outcomes(results["sigterm"])
    assert stop["ready"].status == "passed"
    assert stop["stop signal"].status == "failed"
    assert stop["stop signal"].message.startswith("SIGTERM did not stop it: the engine killed it")
    assert [o.check for o in results["sigterm"].failures] == ["stop signal"]

    root = _outcomes(results["root"])
    assert root["not root"].status == "failed"
    assert "processes run as root" in root["not root"].message
    assert "root" in root["not root"].detail
    assert "USER is root: the image starts as root" in root["metadata"].message

    text = report.failures(list(results.values()))
    assert "container log (last lines):" in text
    assert all(result.image_id for result in results.values())
    assert _labelled() == []  # every container of the run is gone


def test_a_platform_without_an_emulator_is_an_error_with_the_fix(flask_images: Built) -> None:
    riscv = Platform.parse("linux/riscv64")
    if (Path("/proc/sys/fs/binfmt_misc") / "qemu-riscv64").exists():
        pytest.skip("this machine emulates riscv64")
    (cell,) = _matrix(flask_images).cells[:1]
    result = runner.run_cell(
        dataclasses.replace(cell, platform=riscv, emulated=True),
        run_id="riscv",
        project_dir=flask_images.project,
    )
    (outcome,) = result.outcomes
    assert outcome.check == "platform"
    assert outcome.status == "failed"
    assert "cannot run linux/riscv64 images: no emulator for riscv64" in outcome.message
    assert "qemu-user-static" in outcome.detail


def test_an_image_never_built_says_how_to_build_it(flask_images: Built) -> None:
    (cell,) = _matrix(flask_images).cells[:1]
    result = runner.run_cell(
        dataclasses.replace(cell, image="containerize-test/never-built:gunicorn"),
        run_id="missing",
        project_dir=flask_images.project,
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
    argv = [sys.executable, "-m", "containerize", "--project", project, "test", "--jobs", "2"]
    running = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _labelled():
            time.sleep(0.5)
        assert _labelled(), "no container started within 120 s"
        running.send_signal(signal.SIGINT)
        out, err = running.communicate(timeout=120)
    finally:
        running.kill()
    assert running.returncode == 130, out + err
    assert _labelled() == []


def _labelled() -> list[str]:
    return process.run(
        ["docker", "ps", "--all", "--quiet", "--filter", f"label={containers.LABEL}"]
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
