"""Preloading the app before the workers fork, in real containers of real images
(fixtures/hello-wsgi, linux/amd64).

The copy of hello-wsgi built here records, at import, the process that imported it;
``/_probe/loaded`` answers with that process id and the answering worker's own. A
worker forked from a master that preloaded the app answers with a pid that is not the
importer's; a worker that loaded the app itself answers with its own.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from containerize import config, process
from containerize.commands.machine import machine
from containerize.engine import containers
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64

from .conftest import copy_project

READY = 120
PROBE = "/_probe/loaded"
SLOW = "/_probe/slow"

WRAPPER = """

# Added by tests/integration/test_preload.py: who imported this module, and a slow page.
import time as _time

if os.environ.get("PROBE_SLOW_IMPORT"):  # an import that takes seconds, as under emulation
    _time.sleep(float(os.environ["PROBE_SLOW_IMPORT"]))
_LOADED_BY = os.getpid()
_hello = application


def application(environ, start_response):
    path = environ.get("PATH_INFO")
    if path == "/_probe/loaded":
        body = json.dumps({"pid": os.getpid(), "loaded_by": _LOADED_BY}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    if path == "/_probe/slow":
        _time.sleep(3)
    return _hello(environ, start_response)
"""

THREAD = """
import threading as _threading

_threading.Thread(target=_time.sleep, args=(86400,), name="metrics", daemon=True).start()
"""


def _build(project: Path, image: str, servers: list[str]) -> list[tuple[str, ...]]:
    cfg = config.load(
        project, overrides={"image": image, "platforms": ["linux/amd64"], "servers": servers}
    )
    prepared = pipeline.prepare(cfg, machine(engine=True), output="load")
    pipeline.build(prepared.invocations)
    return [inv.tags for inv in prepared.invocations]


@pytest.fixture(scope="module")
def images(
    base_image: str, session_id: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """hello-wsgi with the probe, for every server; and with a thread started at import,
    for Gunicorn. By name: the server's, and 'threaded'."""
    built: list[tuple[str, ...]] = []
    try:
        project = copy_project("hello-wsgi", tmp_path_factory.mktemp("preload"))
        with (project / "hello.py").open("a") as file:
            file.write(WRAPPER)
        image = f"containerize-test/preload-{session_id}"
        built += _build(project, image, ["gunicorn", "uwsgi", "mod_wsgi", "cheroot"])
        threaded = copy_project("hello-wsgi", tmp_path_factory.mktemp("preload-thread"))
        with (threaded / "hello.py").open("a") as file:
            file.write(WRAPPER + THREAD)
        threaded_image = f"containerize-test/preload-thread-{session_id}"
        built += _build(threaded, threaded_image, ["gunicorn"])
        names = {s: f"{image}:{s}" for s in ("gunicorn", "uwsgi", "mod_wsgi", "cheroot")}
        yield {**names, "threaded": f"{threaded_image}:gunicorn"}
    finally:
        for tags in built:
            process.run(["docker", "image", "rm", "--force", *tags], check=False)


@pytest.fixture
def run() -> Iterator[Callable[..., containers.Container]]:
    started: list[containers.Container] = []

    def start(image: str, env: dict[str, str]) -> containers.Container:
        container = containers.start(image, platform=LINUX_AMD64, port=8000, env=env)
        started.append(container)
        assert containers.get(container, "/", timeout=READY).status == 200
        return container

    yield start
    for container in started:
        containers.remove(container)


def _loaded(container: containers.Container) -> dict[str, Any]:
    answer = containers.request(container, PROBE, timeout=30)
    assert answer.status == 200, answer.describe()
    found: dict[str, Any] = json.loads(answer.body)
    return found


def _start_line(container: containers.Container) -> str:
    lines = [
        line for line in containers.logs(container).splitlines() if "containerize: app:" in line
    ]
    assert len(lines) == 1, containers.logs(container)
    return lines[0]


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi"])
def test_auto_preloads_an_app_whose_import_leaves_nothing_running(
    images: dict[str, str], run: Callable[..., containers.Container], server: str
) -> None:
    container = run(images[server], {"WSGI_WORKERS": "2"})
    verdict = containers.execute(container, ["cat", "/opt/containerize/import-check.json"])
    found = json.loads(verdict.stdout)
    # What the loaded app holds, in whole 8 MiB (hello-wsgi: the interpreter and little else).
    assert found.pop("memory_mib") in range(8, 65, 8)
    assert found == {"clean": True, "found": []}
    assert "app: preloaded by the master, which forks the workers with it loaded" in _start_line(
        container
    )
    for _ in range(6):  # whichever worker answers, it did not import the app itself
        loaded = _loaded(container)
        assert loaded["pid"] != loaded["loaded_by"], loaded


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi"])
def test_off_makes_each_worker_load_the_app(
    images: dict[str, str], run: Callable[..., containers.Container], server: str
) -> None:
    container = run(images[server], {"WSGI_WORKERS": "2", "WSGI_PRELOAD": "off"})
    assert "app: loaded by each worker (WSGI_PRELOAD=off)" in _start_line(container)
    for _ in range(6):
        loaded = _loaded(container)
        assert loaded["pid"] == loaded["loaded_by"], loaded


def test_auto_does_not_preload_an_app_whose_import_starts_a_thread(
    images: dict[str, str], run: Callable[..., containers.Container]
) -> None:
    container = run(images["threaded"], {"WSGI_WORKERS": "2"})
    line = _start_line(container)
    assert "app: loaded by each worker" in line
    assert "the build's import check left 1 thread ('metrics') running" in line
    loaded = _loaded(container)
    assert loaded["pid"] == loaded["loaded_by"], loaded


@pytest.mark.parametrize("server", ["mod_wsgi", "cheroot"])
def test_a_server_that_cannot_preload_says_so_and_loads_the_app_per_process(
    images: dict[str, str], run: Callable[..., containers.Container], server: str
) -> None:
    container = run(images[server], {"WSGI_WORKERS": "2", "WSGI_PRELOAD": "on"})
    assert "WSGI_PRELOAD=on does not apply" in _start_line(container)
    loaded = _loaded(container)
    assert loaded["pid"] == loaded["loaded_by"], loaded


@pytest.mark.parametrize("server", ["gunicorn", "uwsgi"])
def test_recycled_workers_are_forked_with_the_app_loaded(
    images: dict[str, str], run: Callable[..., containers.Container], server: str
) -> None:
    env = {"WSGI_WORKERS": "1", "WSGI_MAX_REQUESTS": "3", "WSGI_MAX_REQUESTS_JITTER": "0"}
    container = run(images[server], env)
    time.sleep(1.5)  # uWSGI replaces a worker once it has lived a second
    seen = [_loaded(container) for _ in range(8)]
    assert len({loaded["pid"] for loaded in seen}) >= 2, seen
    assert all(loaded["pid"] != loaded["loaded_by"] for loaded in seen), seen


@pytest.mark.parametrize(
    ("server", "preload"),
    [
        ("gunicorn", "on"),
        ("gunicorn", "off"),
        ("uwsgi", "on"),
        ("uwsgi", "off"),
        ("mod_wsgi", "auto"),
        ("cheroot", "auto"),
    ],
)
def test_the_stop_signal_lets_an_in_flight_request_finish(
    images: dict[str, str], run: Callable[..., containers.Container], server: str, preload: str
) -> None:
    """Preloaded or not, and with start.py running the server in its own process: the
    image's stop signal reaches the server, which lets the request finish, and exits 0."""
    container = run(images[server], {"WSGI_WORKERS": "2", "WSGI_PRELOAD": preload})
    answers: list[object] = []

    def slow() -> None:
        try:
            answers.append(containers.request(container, SLOW, timeout=30).status)
        except OSError as exc:
            answers.append(exc)

    thread = threading.Thread(target=slow, daemon=True)
    thread.start()
    time.sleep(1.0)  # the request is in the application now
    stopped = containers.stop(container, timeout=20)
    thread.join(timeout=30)
    assert answers == [200], containers.logs(container)
    assert (stopped.exit_code, stopped.killed) == (0, False), containers.logs(container)
    assert stopped.seconds < 9, stopped  # the grace period (8 s), not the engine's timeout


# Gunicorn: start.py's handler, until Gunicorn's own, ends the start with 0. uWSGI: its
# asap hook, installed before the master loads the app, runs end_me (uWSGI's end code).
@pytest.mark.parametrize(("server", "code"), [("gunicorn", 0), ("uwsgi", 30)])
def test_a_stop_while_the_master_imports_the_app_stops_it_at_once(
    images: dict[str, str], server: str, code: int
) -> None:
    """A preloaded master imports the app before its server installs stop handlers; a
    stop then must end the container at once, not wait for the engine to kill it."""
    env = {"WSGI_WORKERS": "1", "WSGI_PRELOAD": "on", "PROBE_SLOW_IMPORT": "8"}
    container = containers.start(images[server], platform=LINUX_AMD64, port=8000, env=env)
    try:
        deadline = time.monotonic() + READY
        while "containerize: app: preloaded" not in containers.logs(container):
            assert time.monotonic() < deadline, containers.logs(container)
            assert containers.running(container), containers.logs(container)
            time.sleep(0.1)
        time.sleep(1.0)  # the master is in the app's 8 s import now
        stopped = containers.stop(container, timeout=20)
        logs = containers.logs(container)
        assert (stopped.exit_code, stopped.killed) == (code, False), logs
        assert stopped.seconds < 5, (stopped, logs)  # not the import's 8 s, nor the timeout
    finally:
        containers.remove(container)
