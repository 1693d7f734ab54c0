"""pytest fixtures for a project's own tests against each running image.

List the tests in ``[tool.containerize.test] pytest = ["tests/container"]``. Each cell
of the matrix (``nox -s test_images``, ``containerize test``) runs them once against its
own running container, and reports each test as a check of that cell::

    def test_home_page(base_url):
        with urllib.request.urlopen(base_url + "/") as answer:
            assert b"Welcome" in answer.read()

    def test_no_errors_logged(container):
        container.get("/")
        assert "Traceback" not in container.logs()

The plugin is registered through the ``pytest11`` entry point. Outside a cell (a plain
``pytest`` run) the fixtures skip the tests that use them, with the command that runs
them.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.parse
from dataclasses import dataclass

import pytest

from containerize.engine import containers, docker
from containerize.matrix.runner import CELL_VARIABLE
from containerize.platforms import Platform


@dataclass(frozen=True, kw_only=True)
class RunningImage:
    """The container of the current cell."""

    id: str
    image: str
    server: str
    platform: str
    base_url: str  # http://127.0.0.1:<published port>

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def get(self, path: str = "/", *, host: str = "localhost") -> containers.Response:
        """One GET to the container, with *host* as Host (10 s at most)."""
        address = urllib.parse.urlsplit(self.base_url)
        target = containers.Container(
            id=self.id,
            image=self.image,
            platform=Platform.parse(self.platform),
            host=address.hostname or "127.0.0.1",
            port=address.port or 80,
        )
        try:
            return containers.request(target, path, host=host)
        except (OSError, http.client.HTTPException) as exc:
            pytest.fail(f"GET {path} to {self.image} ({self.platform}): no answer: {exc}")

    def logs(self) -> str:
        """What the container has written to stdout and stderr so far."""
        result = docker.run("logs", self.id, check=False, timeout=60)
        return result.stdout + result.stderr


@pytest.fixture(scope="session")
def container() -> RunningImage:
    """The running container of the current matrix cell."""
    raw = os.environ.get(CELL_VARIABLE)
    if not raw:
        pytest.skip(
            "needs a running image: run these tests in the test matrix "
            "('nox -s test_images' or 'containerize test')"
        )
    info = json.loads(raw)
    return RunningImage(
        id=info["id"],
        image=info["image"],
        server=info["server"],
        platform=info["platform"],
        base_url=info["base_url"],
    )


@pytest.fixture(scope="session")
def base_url(container: RunningImage) -> str:
    """``http://127.0.0.1:<port>`` of the current cell's container."""
    return container.base_url
