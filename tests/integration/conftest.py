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
from collections.abc import Callable
from pathlib import Path

import pytest

from containerize.engine import probes
from containerize.host import baseimage

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
        if "base_image" in getattr(item, "fixturenames", ()):
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
