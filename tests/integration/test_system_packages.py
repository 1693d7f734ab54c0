"""An sdist that needs a C library: psycopg2, compiled against libpq, for real.

The psycopg2 fixture declares no system packages: the well-known table brings
libpq-dev into the compile build, and libpq5 reaches the images because the compiled
extension links against libpq.so.5 (derived from its ELF on each target platform).
It is built once, gunicorn only, for both platforms; the arm64 compile runs under
emulation (about 3 minutes here, once per CI run; later builds take the wheel from
the compile cache). Another test compiles for linux/amd64 alone, natively, from an
empty compile cache and then from the wheel it left there; a last one breaks the
build on purpose (amd64 only, fails within seconds of the compile starting) to check
the error a user reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from containerize import config, process
from containerize.commands.machine import machine
from containerize.engine import containers
from containerize.errors import BuildError
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform

from .conftest import Built, _build, copy_project

logger = logging.getLogger("containerize.tests")
READY = 180  # emulated containers start slowly


@pytest.fixture(scope="session")
def psycopg2_images(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    project = copy_project("psycopg2-app", tmp_path_factory.mktemp("projects"))
    yield from _build(project, f"containerize-test/psycopg2-{session_id}")


def _installed(image: str, platform: Platform, package: str) -> bool:
    result = process.run(
        ["docker", "run", "--rm", "--pull", "never", "--platform", str(platform),
         "--entrypoint", "dpkg-query", image, "--show", "--showformat=${Status}", package],
        check=False,
        timeout=300,
    )  # fmt: skip
    return result.returncode == 0 and "install ok installed" in result.stdout


@pytest.mark.parametrize("platform", [LINUX_AMD64, LINUX_ARM64], ids=str)
def test_psycopg2_compiles_and_runs_against_libpq(
    psycopg2_images: Built, platform: Platform
) -> None:
    image = psycopg2_images.tag("gunicorn")
    container = containers.start(image, platform=platform, port=8000, pull=False)
    try:
        page = containers.get(container, "/", timeout=READY)
    finally:
        containers.remove(container)
    assert page.status == 200, page.describe()
    lines = page.body.decode().splitlines()
    assert lines[0].startswith("psycopg2 2.9."), lines
    # Debian 12's libpq is PostgreSQL 15's: version numbers 150000 and up.
    built, running = (int(line.rsplit(" ", 1)[1]) for line in lines[1:3])
    assert 150000 <= built < 160000, lines
    assert running == built, lines
    # The run-time library came in, derived from the extension; the compiler did not.
    assert _installed(image, platform, "libpq5")
    assert not _installed(image, platform, "gcc")
    assert not _installed(image, platform, "libpq-dev")


def test_one_platform_compiles_then_takes_its_wheel_from_the_cache(
    make_project: Callable[[str], Path],
    base_image: str,
    session_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A build for one platform: BuildKit's local exporter writes that platform's
    files at the top of the output, not in a linux_amd64 folder, on some engines."""
    monkeypatch.setenv("CONTAINERIZE_CACHE_DIR", str(tmp_path / "cache"))
    project = make_project("psycopg2-app")
    cfg = config.load(
        project,
        overrides={
            "image": f"containerize-test/psycopg2-amd64-{session_id}",
            "platforms": ["linux/amd64"],
            "servers": ["gunicorn"],
        },
    )
    for attempt in ("compiled", "from the cache"):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="containerize"):
            prepared = pipeline.prepare(
                cfg, machine(engine=True), output="load", dry_run=False, no_cache=True
            )
        assert prepared.wheelhouse is not None
        (item,) = prepared.wheelhouse.platforms
        assert not item.pending, attempt
        assert [w.filename for w in item.compiled] == [
            "psycopg2-2.9.13-cp311-cp311-linux_x86_64.whl"
        ], attempt
        said = caplog.text
        if attempt == "compiled":
            assert "psycopg2-2.9.13.tar.gz for linux/amd64: compiled before" not in said
        else:
            assert "psycopg2-2.9.13.tar.gz for linux/amd64: compiled before" in said, said


def test_a_failing_compile_says_what_and_how_to_fix_it(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    project = make_project("psycopg2-app")
    pyproject = project / "pyproject.toml"
    # The well-known table turned off: pg_config is missing, as in a project without it.
    pyproject.write_text(
        pyproject.read_text()
        + "\n[tool.containerize.system-packages.sdists]\npsycopg2 = { build = [] }\n"
    )
    cfg = config.load(
        project,
        overrides={
            "image": f"containerize-test/psycopg2-fail-{session_id}",
            "platforms": ["linux/amd64"],
        },
    )
    with pytest.raises(BuildError) as info:
        pipeline.prepare(cfg, machine(engine=True), output="load")
    error = info.value
    text = str(error)
    logger.info("the error:\n%s", text)
    assert error.message.startswith(
        "the compile build failed in stage compile for linux/amd64 compiling "
        "psycopg2-2.9.13.tar.gz\n  step: RUN "
    ), text
    assert error.cause == "the build runs pg_config, which is not installed"
    assert any("pg_config executable not found" in line for line in error.lines), text
    assert not any(line.startswith("#") for line in error.lines), text
    assert error.hint is not None
    assert 'psycopg2 = { build = ["libpq-dev"] }' in error.hint
