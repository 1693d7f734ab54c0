"""Many images from one repository: the monorepo fixture's services, which share a
library of the uv workspace, built with that library as a wheel and served.

linux/amd64 only, Gunicorn only: the library is pure Python, and the other platform
and servers go through the same code as every other fixture.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from containerize import commands, config, process
from containerize.engine import containers, preflight
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64

SERVICES = ("api", "web")


def _build(project: Path, image: str) -> tuple[str, ...]:
    cfg = config.load(
        project, overrides={"image": image, "platforms": ["linux/amd64"], "servers": ["gunicorn"]}
    )
    prepared = pipeline.prepare(
        cfg,
        commands.machine(engine=True),
        output=preflight.choose_output(cfg.platforms, push=False),
    )
    (summary,) = pipeline.build(prepared.invocations)
    return summary.tags


@pytest.fixture
def monorepo_images(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> Iterator[dict[str, str]]:
    root = make_project("monorepo")
    built: dict[str, str] = {}
    tags: list[str] = []
    try:
        for service in SERVICES:
            image = f"containerize-test/monorepo-{service}-{session_id}"
            tags += _build(root / "services" / service, image)
            built[service] = f"{image}:gunicorn"
        yield built
    finally:
        process.run(["docker", "image", "rm", "--force", *tags], check=False)


def test_services_install_the_shared_library_as_a_wheel(monorepo_images: dict[str, str]) -> None:
    for service, tag in monorepo_images.items():
        # The library's console script, and its version read by importlib.metadata.
        cli = process.run(
            [
                "docker",
                "run",
                "--rm",
                "--platform",
                str(LINUX_AMD64),
                tag,
                "shared-cli",
                "--version",
            ]
        )
        assert cli.stdout.strip() == "shared-cli 1.4.0", service
        # Installed, not editable: a wheel's files in the venv, and no source tree.
        where = process.run(
            ["docker", "run", "--rm", "--platform", str(LINUX_AMD64), tag, "python", "-c",
             "import json, shared, importlib.metadata as m; d = m.distribution('shared'); "
             "print(json.dumps([shared.__file__, d.read_text('INSTALLER'), d.version]))"]
        )  # fmt: skip
        path, installer, version = json.loads(where.stdout)
        assert path.startswith("/opt/venv/lib/python3.11/site-packages/shared/"), path
        assert (installer.strip(), version) == ("containerize", "1.4.0")
        container = containers.start(tag, platform=LINUX_AMD64, port=8000)
        try:
            page = containers.get(container, "/", timeout=180)
            assert page.status == 200, page.body
            assert f"Hello from {service} (shared 1.4.0)".encode() in page.body
        finally:
            containers.remove(container)
