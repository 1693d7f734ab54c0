"""Integration fixtures: a real engine, a real registry, real containers.

Nothing here mocks the engine. Without one, these tests skip locally with the
command that provides it; in CI (``CI=true``) they fail instead, so a CI run can
never pass by skipping them.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from containerize import bases, config, process
from containerize.commands.machine import machine
from containerize.engine import preflight, probes
from containerize.host import baseimage
from containerize.image import pipeline
from containerize.platforms import Platform

REPO = Path(__file__).resolve().parents[2]
logger = logging.getLogger("containerize.tests")


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here needs the engine; those that build also fetch from the index.

    So ``pytest -m "not engine"`` runs the unit suite alone.
    """
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.engine)
        if {"base_image", "trixie_base_image"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.network)


@pytest.fixture(scope="session")
def engine() -> None:
    """A reachable engine with buildx, arm64 emulation and the loopback registry."""
    missing = []
    if not probes.engine_reachable():
        missing.append("a docker engine with buildx")
    if not probes.emulator_enabled("arm64"):
        missing.append("arm64 emulation")
    if not probes.registry_reachable():
        missing.append(f"the registry on {probes.REGISTRY_ADDRESS}")
    if missing:
        message = f"missing {', '.join(missing)}: run 'nox -s engine' (as root on Debian)"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def base_image(engine: None) -> str:
    """The Debian Python base image in the loopback registry (built once, then cached)."""
    return baseimage.ensure()


@pytest.fixture(scope="session")
def trixie_base_image(engine: None) -> str:
    """The Debian trixie (Python 3.13) base image for this machine's platform only,
    built once like the default one, under a tag of its own (``3.13-trixie-amd64``).

    Only the tests of projects that need Python 3.13 ask for it. The arm64 root file
    system would cost a fresh CI run 5 to 9 minutes of package scripts under emulation;
    making a foreign one is the same code that the bookworm base, built on every run,
    goes through. ``containerize base-image --python 3.13`` builds both platforms.
    """
    recipe = baseimage.Recipe.for_suite(bases.by_name("trixie"))
    native = Platform(os="linux", arch=probes.native_arch())
    return baseimage.ensure(replace(recipe, tag=f"{recipe.tag}-{native.arch}", platforms=(native,)))


@pytest.fixture(scope="session")
def session_id() -> str:
    return uuid.uuid4().hex[:8]


def copy_project(name: str, dest: Path) -> Path:
    """A fresh copy of ``fixtures/<name>`` without build output or pins."""
    target = dest / name
    shutil.copytree(
        REPO / "fixtures" / name,
        target,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock", "__pycache__"),
    )
    return target


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a fixture project into this test's temporary directory."""
    return lambda name: copy_project(name, tmp_path)


@pytest.fixture(scope="session")
def hello_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project("hello-wsgi", tmp_path_factory.mktemp("projects"))


@dataclass(frozen=True)
class Built:
    """A fixture project's images, built once per run for every server and platform."""

    image: str
    project: Path

    def tag(self, server: str) -> str:
        return f"{self.image}:{server}"

    def config(self, **overrides: object) -> config.Config:
        """The project's configuration, as built (*overrides* as on the command line)."""
        return config.load(self.project, overrides={"image": self.image, **overrides})


def _build(project: Path, image: str) -> Iterator[Built]:
    cfg = config.load(project, overrides={"image": image})
    prepared = pipeline.prepare(
        cfg,
        machine(engine=True),
        output=preflight.choose_output(cfg.platforms, push=False),
    )
    for summary in pipeline.build(prepared.invocations):
        logger.info("built %s in %.1fs: %s", summary.server, summary.seconds, summary.sizes)
    yield Built(image=image, project=project)
    for inv in prepared.invocations:
        process.run(["docker", "image", "rm", "--force", *inv.tags], check=False)


@pytest.fixture(scope="session")
def flask_images(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """The Flask fixture's images: shared by every test of the run that needs them."""
    project = copy_project("flask-app", tmp_path_factory.mktemp("projects"))
    yield from _build(project, f"containerize-test/flask-{session_id}")


@pytest.fixture(scope="session")
def django_images(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    project = copy_project("django-app", tmp_path_factory.mktemp("projects"))
    yield from _build(project, f"containerize-test/django-{session_id}")


@pytest.fixture(scope="session")
def django_subfolder_images(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """The Django site kept in site/ (app-directory = "site"): Gunicorn, both platforms."""
    project = copy_project("django-subfolder", tmp_path_factory.mktemp("projects"))
    yield from _build(project, f"containerize-test/django-subfolder-{session_id}")
