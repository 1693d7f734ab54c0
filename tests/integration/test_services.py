"""Services beside the app against a real engine: the Django fixture that needs
PostgreSQL builds, its migrations run by WSGI_PRESTART against a PostgreSQL made from
Debian's packages on the cell's private network, a page that reads the database answers
200, the secret is in no image; and a failing cell leaves no container or network."""

from __future__ import annotations

import sys
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from containerize import process
from containerize.engine import containers, probes
from containerize.host import baseimage, serviceimage
from containerize.matrix import plan, report, runner
from containerize.platforms import Platform

from .conftest import Built, _build, copy_project
from .test_testenv import _search_layer

SECRET = "ctz-" + uuid.uuid4().hex + "-never-in-an-image"


@pytest.fixture(scope="module")
def postgres_image(engine: None) -> str:
    """The PostgreSQL service image for this machine's platform only (CI time);
    ``containerize service-image postgres`` builds both."""
    native = Platform(os="linux", arch=probes.native_arch())
    return baseimage.ensure(serviceimage.recipe("postgres", platforms=(native,)))


@pytest.fixture(scope="module")
def django_images(
    base_image: str,
    postgres_image: str,
    session_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Built]:
    project = copy_project("django-postgres", tmp_path_factory.mktemp("projects"))
    assert postgres_image in (project / "pyproject.toml").read_text()
    (project / ".env.test").write_text(f"SECRET_KEY='{SECRET}'\n")
    text = (project / "pyproject.toml").read_text()
    # What this machine needs beside init's table: the local base image, one platform,
    # the secret from a file, and a probe of the page that reads the database.
    text = text.replace('base-image = "python:3.11-slim-bookworm"', f'base-image = "{base_image}"')
    text = text.replace(
        'healthcheck-path = "/accounts/login/"\n',
        'healthcheck-path = "/accounts/login/"\nplatforms = ["linux/amd64"]\n',
    )
    text = text.replace(
        "[tool.containerize.test]\n",
        "[tool.containerize.test]\n"
        'env-file = ".env.test"\n'
        'probes = [{ path = "/books/", contains = "0 book(s) on postgresql" }]\n',
    )
    (project / "pyproject.toml").write_text(text)
    yield from _build(project, f"containerize-test/django-postgres-{session_id}")


def _leftovers(run_id: str) -> tuple[list[str], list[str]]:
    label = f"label={containers.LABEL}={run_id}"
    ps = process.run(["docker", "ps", "--all", "--quiet", "--filter", label]).stdout.split()
    nets = process.run(["docker", "network", "ls", "--quiet", "--filter", label]).stdout.split()
    return ps, nets


def test_the_site_migrates_and_reads_postgres_in_the_matrix(django_images: Built) -> None:
    (cell,) = plan.plan_matrix(django_images.config(), native_arch="amd64").cells
    run_id = "services-" + uuid.uuid4().hex[:8]
    result = runner.run_cell(cell, run_id=run_id, project_dir=django_images.project)
    assert result.passed, report.failures([result])
    outcomes = {o.check: o for o in result.outcomes}
    assert outcomes["services"].message.startswith(f"ready on containerize-{run_id}-gunicorn")
    assert outcomes["probe /books/"].status == "passed"
    assert _leftovers(run_id) == ([], [])


def test_the_cli_test_is_green(django_images: Built) -> None:
    result = process.run(
        [
            sys.executable, "-m", "containerize", "--project", str(django_images.project), "test",
            "--server", "gunicorn", "--platform", "linux/amd64",
            "--image", f"gunicorn={django_images.tag('gunicorn')}",
        ],
        check=False,
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_failing_cell_leaves_no_container_or_network(django_images: Built) -> None:
    cfg = django_images.config()
    run_id = "services-" + uuid.uuid4().hex[:8]
    # A migration that cannot run: the app's container stops before it serves.
    broken_start = replace(
        cfg, test=replace(cfg.test, env=(*cfg.test.env, ("WSGI_PRESTART", "python -c 'exit(4)'")))
    )
    (cell,) = plan.plan_matrix(broken_start, native_arch="amd64").cells
    result = runner.run_cell(cell, run_id=run_id, project_dir=django_images.project)
    assert not result.passed
    assert {o.check: o.status for o in result.outcomes}["services"] == "passed"
    assert _leftovers(run_id) == ([], [])

    # A service that exits at once: the cell fails naming it, and the app never starts.
    (db,) = cfg.test.services
    dead = replace(cfg, test=replace(cfg.test, services=(replace(db, command=("--nope",)),)))
    (cell,) = plan.plan_matrix(dead, native_arch="amd64").cells
    result = runner.run_cell(cell, run_id=run_id, project_dir=django_images.project)
    (outcome,) = result.outcomes
    assert (outcome.check, outcome.status) == ("services", "failed")
    assert "service 'db'" in outcome.message
    assert _leftovers(run_id) == ([], [])


def test_the_secret_is_in_no_layer(django_images: Built, tmp_path: Path) -> None:
    image = django_images.tag("gunicorn")
    assert SECRET not in process.run(["docker", "image", "inspect", image]).stdout
    assert SECRET not in process.run(["docker", "history", "--no-trunc", image]).stdout
    archive = tmp_path / "image.tar"
    process.run(["docker", "save", "--output", str(archive), image], timeout=600)
    searched = 0
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            data = outer.extractfile(member) if member.isfile() else None
            if data is not None:
                searched += _search_layer(data.read(), SECRET.encode(), member.name)
    assert searched > 1000
