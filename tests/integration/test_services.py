"""A new user's first run of a site that needs PostgreSQL, on both platforms: the
Django fixture, as found (its table removed), gets ``containerize init`` with the
engine answering, then ``containerize build`` and ``containerize test`` as written,
each as the user would type it. init's table is the only change to the project, but
for the secret: ``SECRET_KEY`` in a ``.env.test`` file (which never goes into an
image), named by ``env-file`` in init's table. The image name comes through
``CONTAINERIZE_IMAGE`` so a run leaves nothing under a name another test uses. The
matrix runs a gunicorn cell per platform (arm64 emulated), each with the PostgreSQL
init proposed (made from Debian's packages, for this machine's platform: services
run natively, also beside an emulated cell) and the migrations init proposed.

Then the secret is in no layer, config or history of either platform's image; a cell
reads a page that queries PostgreSQL; and a failing cell leaves no container or
network. The seconds each command took are logged (``-o log_cli=true``).
"""

from __future__ import annotations

import json
import logging
import sys
import tarfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from containerize import config, process
from containerize.engine import containers, probes
from containerize.host import baseimage, serviceimage
from containerize.matrix import plan, report, runner
from containerize.platforms import Platform
from containerize.testsettings import Probe

from .conftest import REPO, copy_project
from .test_init import strip_table
from .test_testenv import _search_layer

logger = logging.getLogger("containerize.tests")
SECRET = "ctz-" + uuid.uuid4().hex + "-never-in-an-image"
TEST_TABLE = "[tool.containerize.test]\n"


@dataclass(frozen=True, kw_only=True)
class FirstRun:
    project: Path
    image: str
    out: dict[str, str]  # each command's output, by command
    seconds: dict[str, float]

    def config(self) -> config.Config:
        return config.load(self.project, overrides={"image": self.image})


@pytest.fixture(scope="module")
def postgres_image(engine: None) -> str:
    """The PostgreSQL service image for this machine's platform only (CI time):
    services run natively; ``containerize service-image postgres`` builds both."""
    native = Platform(os="linux", arch=probes.native_arch())
    return baseimage.ensure(serviceimage.recipe("postgres", platforms=(native,)))


def _containerize(project: Path, *args: str, image: str) -> tuple[str, float]:
    """``containerize ARGS`` typed in *project*; its output and seconds."""
    started = time.monotonic()
    result = process.run(
        [sys.executable, "-m", "containerize", *args],
        check=False,
        timeout=1200,
        cwd=project,
        env={"CONTAINERIZE_IMAGE": image},
    )
    seconds = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"containerize {' '.join(args)}:\n{output}"
    logger.info("containerize %s: %.1fs", " ".join(args), seconds)
    return output, seconds


@pytest.fixture(scope="module")
def first_run(
    base_image: str,
    postgres_image: str,
    session_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FirstRun]:
    project = copy_project("django-postgres", tmp_path_factory.mktemp("projects"))
    strip_table(project)
    image = f"containerize-test/django-postgres-{session_id}"
    out: dict[str, str] = {}
    seconds: dict[str, float] = {}
    try:
        out["init"], seconds["init"] = _containerize(project, "init", image=image)
        # The secret the way a secret is given: in a dotenv file that stays out of the
        # image (.env.*), named by env-file in init's table. A value written in the
        # table itself would go in with pyproject.toml, which the app layer holds.
        (project / ".env.test").write_text(f"SECRET_KEY='{SECRET}'\n")
        pyproject = project / "pyproject.toml"
        text = pyproject.read_text()
        assert text.count(TEST_TABLE) == 1, text
        pyproject.write_text(text.replace(TEST_TABLE, TEST_TABLE + 'env-file = ".env.test"\n'))
        for command in ("build", "test"):
            out[command], seconds[command] = _containerize(project, command, image=image)
        yield FirstRun(project=project, image=image, out=out, seconds=seconds)
    finally:
        listed = process.run(
            ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", image], check=False
        )
        if listed.stdout.split():
            process.run(["docker", "image", "rm", "--force", *listed.stdout.split()], check=False)


def _images_normalized(table: dict[str, Any]) -> dict[str, Any]:
    """*table* with the image references that depend on what resolves here blanked."""
    table = {**table, "base-image": "..."}
    services = table.get("test", {}).get("services", {})
    table["test"] = {
        **table["test"],
        "services": {name: {**entry, "image": "..."} for name, entry in services.items()},
    }
    return table


def test_init_writes_the_table_the_fixture_holds_and_verifies_the_app(
    first_run: FirstRun, postgres_image: str
) -> None:
    init = first_run.out["init"]
    assert (
        "app: verified: shelf.wsgi:application imported in the check stage of the gunicorn "
        "image, on linux/amd64, with the test environment"
    ) in init
    # The service image exists (the fixture built it): the only next step is the build's.
    assert [line for line in init.splitlines() if line.startswith("next: ")] == [
        "next: 'containerize build --dry-run'"
    ]
    written = tomllib.loads((first_run.project / "pyproject.toml").read_text())
    committed = tomllib.loads((REPO / "fixtures/django-postgres/pyproject.toml").read_text())
    made = written["tool"]["containerize"]
    assert made["test"]["services"]["db"]["image"] in (postgres_image, "postgres:15")
    assert made["test"].pop("env-file") == ".env.test"  # the test's one addition
    assert _images_normalized(made) == _images_normalized(committed["tool"]["containerize"])


def test_init_build_and_test_go_green_on_both_platforms(first_run: FirstRun) -> None:
    tested = first_run.out["test"]
    for platform in ("linux/amd64", "linux/arm64"):
        assert f"gunicorn {platform}: passed" in tested, tested
    logger.info(
        "first run of django-postgres: %s",
        ", ".join(f"{k} {v:.0f}s" for k, v in first_run.seconds.items()),
    )


def test_the_secret_is_in_no_layer_config_or_history(first_run: FirstRun, tmp_path: Path) -> None:
    image = f"{first_run.image}:gunicorn"
    assert SECRET not in process.run(["docker", "image", "inspect", image]).stdout
    assert SECRET not in process.run(["docker", "history", "--no-trunc", image]).stdout
    archive = tmp_path / "image.tar"
    process.run(["docker", "save", "--output", str(archive), image], timeout=600)
    searched = 0
    architectures: set[str] = set()
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            data = outer.extractfile(member) if member.isfile() else None
            if data is not None:
                blob = data.read()
                architectures |= _config_architecture(blob)
                searched += _search_layer(blob, SECRET.encode(), member.name)
    assert architectures == {"amd64", "arm64"}  # both platforms' configs were read
    assert searched > 1000


def _config_architecture(blob: bytes) -> set[str]:
    """The architecture of *blob* when it is an image's config (which holds the
    image's history and labels), else nothing."""
    try:
        data = json.loads(blob) if blob.startswith(b"{") else None
    except ValueError:
        return set()
    if not isinstance(data, dict) or not {"rootfs", "history", "config"} <= data.keys():
        return set()
    return {str(data.get("architecture"))}


def test_the_site_migrates_and_reads_postgres_in_the_matrix(first_run: FirstRun) -> None:
    cfg = first_run.config()
    # A page that queries the table the migrations made, instead of the login page.
    books = Probe(path="/books/", contains="0 book(s) on postgresql")
    cfg = replace(cfg, test=replace(cfg.test, probes=(books,)))
    cells = plan.plan_matrix(cfg, native_arch="amd64").cells
    cell = next(c for c in cells if c.platform.arch == "amd64")
    run_id = "services-" + uuid.uuid4().hex[:8]
    result = runner.run_cell(cell, run_id=run_id, project_dir=first_run.project)
    assert result.passed, report.failures([result])
    outcomes = {o.check: o for o in result.outcomes}
    assert outcomes["services"].message.startswith(f"ready on containerize-{run_id}-gunicorn")
    assert outcomes["probe /books/"].status == "passed"
    assert _leftovers(run_id) == ([], [])


def _leftovers(run_id: str) -> tuple[list[str], list[str]]:
    label = f"label={containers.LABEL}={run_id}"
    ps = process.run(["docker", "ps", "--all", "--quiet", "--filter", label]).stdout.split()
    nets = process.run(["docker", "network", "ls", "--quiet", "--filter", label]).stdout.split()
    return ps, nets


def test_a_failing_cell_leaves_no_container_or_network(first_run: FirstRun) -> None:
    cfg = replace(first_run.config(), platforms=(Platform(os="linux", arch="amd64"),))
    run_id = "services-" + uuid.uuid4().hex[:8]
    # A migration that cannot run: the app's container stops before it serves.
    broken_start = replace(
        cfg, test=replace(cfg.test, env=(*cfg.test.env, ("WSGI_PRESTART", "python -c 'exit(4)'")))
    )
    (cell,) = plan.plan_matrix(broken_start, native_arch="amd64").cells
    result = runner.run_cell(cell, run_id=run_id, project_dir=first_run.project)
    assert not result.passed
    assert {o.check: o.status for o in result.outcomes}["services"] == "passed"
    assert _leftovers(run_id) == ([], [])

    # A service that exits at once: the cell fails naming it, and the app never starts.
    (db,) = cfg.test.services
    dead = replace(cfg, test=replace(cfg.test, services=(replace(db, command=("--nope",)),)))
    (cell,) = plan.plan_matrix(dead, native_arch="amd64").cells
    result = runner.run_cell(cell, run_id=run_id, project_dir=first_run.project)
    (outcome,) = result.outcomes
    assert (outcome.check, outcome.status) == ("services", "failed")
    assert "service 'db'" in outcome.message
    assert _leftovers(run_id) == ([], [])
