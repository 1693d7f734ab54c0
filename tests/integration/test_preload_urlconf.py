"""A preloading master loads a Django app's URLconf before it forks the workers, in
real containers of a real image (fixtures/django-app, linux/amd64).

The copy of django-app built here has a URLconf that appends, each time it is
imported, the importing process's id to a file; Gunicorn runs as the container's PID
1 (start.py runs it in its own process), so its master is process 1. On demand
(``URLS_FAIL_ONCE``) its first import raises, as a URLconf that queries a database
that is not up yet at start would.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import pytest

from containerize import config, process
from containerize.commands.machine import machine
from containerize.engine import containers
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64

from .conftest import copy_project

READY = 120
IMPORTS = "/tmp/urls-imported-by"  # in the container, writable by its user
SERVERS = ("gunicorn", "uwsgi")

URLS = f"""

# Added by tests/integration/test_preload_urlconf.py: who imports this URLconf.
import os as _os

with open({IMPORTS!r}, "a") as _file:
    _file.write(f"{{_os.getpid()}}\\n")
if _os.environ.get("URLS_FAIL_ONCE") and not _os.path.exists("/tmp/urls-failed"):
    open("/tmp/urls-failed", "w").close()
    raise ConnectionRefusedError(111, "the database at db:5432 is not up yet")
"""


@pytest.fixture(scope="module")
def image(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """django-app with the recording URLconf, for Gunicorn and uWSGI: the name before
    the server's tag."""
    project = copy_project("django-app", tmp_path_factory.mktemp("preload-urlconf"))
    with (project / "mysite" / "urls.py").open("a") as file:
        file.write(URLS)
    name = f"containerize-test/preload-urlconf-{session_id}"
    cfg = config.load(
        project, overrides={"image": name, "platforms": ["linux/amd64"], "servers": SERVERS}
    )
    prepared = pipeline.prepare(cfg, machine(engine=True), output="load")
    try:
        pipeline.build(prepared.invocations)
        yield name
    finally:
        for invocation in prepared.invocations:
            process.run(["docker", "image", "rm", "--force", *invocation.tags], check=False)


@contextlib.contextmanager
def _container(image: str, env: dict[str, str]) -> Iterator[containers.Container]:
    """A container of *image* started with *env*, removed whatever the test says."""
    container = containers.start(image, platform=LINUX_AMD64, port=8000, env=env)
    try:
        yield container
    finally:
        containers.remove(container)


def _imported_by(container: containers.Container) -> list[int]:
    read = containers.execute(container, ["cat", IMPORTS])
    return [int(pid) for pid in read.stdout.split()] if read.returncode == 0 else []


def _wait_for(container: containers.Container, text: str) -> str:
    """The container's log once it holds *text* (at most READY seconds)."""
    deadline = time.monotonic() + READY
    while text not in (log := containers.logs(container)):
        assert time.monotonic() < deadline, log
        assert containers.running(container), log
        time.sleep(0.2)
    return log


def _urlconf_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "containerize: URLconf:" in line]


@pytest.mark.parametrize("server", SERVERS)
def test_the_master_loads_the_urlconf_and_the_workers_inherit_it(image: str, server: str) -> None:
    with _container(f"{image}:{server}", {"WSGI_WORKERS": "2"}) as container:
        _inherited(container)


def _inherited(container: containers.Container) -> None:
    verdict = json.loads(
        containers.execute(container, ["cat", "/opt/containerize/import-check.json"]).stdout
    )
    assert verdict["clean"] is True
    assert verdict["urlconf"] == {"loaded": True, "found": []}
    # Before any request: imported once, by the master (PID 1).
    log = _wait_for(container, "containerize: URLconf:")
    assert _urlconf_lines(log) == [
        "containerize: URLconf: 'mysite.urls' loaded by the master, which forks the workers "
        "with it loaded (Django loads it at the first request)"
    ], log
    assert _imported_by(container) == [1]
    for _ in range(6):  # whichever worker answers, it had the URLconf from the master
        answer = containers.get(container, "/health", timeout=READY)
        assert answer.status == 200, answer.describe()
    assert _imported_by(container) == [1], containers.logs(container)


def test_a_urlconf_that_raises_at_start_is_left_to_the_first_request(image: str) -> None:
    """Its database not up yet when the master loads it: one line, the server starts as
    it always did, and a worker loads the URLconf at its first request."""
    env = {"WSGI_WORKERS": "2", "URLS_FAIL_ONCE": "1"}
    with _container(f"{image}:gunicorn", env) as container:
        _left_to_the_first_request(container)


def _left_to_the_first_request(container: containers.Container) -> None:
    answer = containers.get(container, "/health", timeout=READY)
    assert answer.status == 200, answer.describe()
    log = containers.logs(container)
    assert _urlconf_lines(log) == [
        "containerize: URLconf: 'mysite.urls' left to the first request, as Django does "
        "(loading it in the master raised ConnectionRefusedError: [Errno 111] the database "
        "at db:5432 is not up yet)"
    ], log
    assert "Traceback" not in log
    imported = _imported_by(container)
    assert imported[0] == 1  # the master tried, and failed
    assert len(imported) >= 2, imported  # then each worker at its first request
    assert 1 not in imported[1:], imported
