"""Every server, done right, on the example projects: real images, real containers.

The Flask and Django fixtures are each built once per run for every server and both
platforms, then shared by the tests below. Each check talks only to 127.0.0.1, where
the engine publishes the container's port, and every wait is bounded.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from containerize import config, process
from containerize.commands.machine import machine
from containerize.engine import buildx, containers
from containerize.errors import CommandError
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform

from .conftest import Built

logger = logging.getLogger("containerize.tests")

SERVERS = ("gunicorn", "uwsgi", "mod_wsgi", "cheroot")
PLATFORMS = (LINUX_AMD64, LINUX_ARM64)
# Emulated containers start slowly: first answers get a generous bound.
READY = 180
MIGRATE = {"WSGI_PRESTART": "python manage.py migrate --noinput"}


@pytest.fixture
def run() -> Iterator[Callable[..., containers.Container]]:
    """Start containers for one test; all of them are removed at its end."""
    started: list[containers.Container] = []

    def start(
        image: str, platform: Platform = LINUX_AMD64, **kwargs: object
    ) -> containers.Container:
        container = containers.start(image, platform=platform, port=8000, **kwargs)  # type: ignore[arg-type]
        started.append(container)
        return container

    yield start
    for container in started:
        containers.remove(container)


def _without_host(container: containers.Container, path: str) -> int:
    """The status of an HTTP/1.0 GET of *path* that sends no Host header."""
    with socket.create_connection((container.host, container.port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    assert status_line.startswith("HTTP/1."), answer[:200]
    return int(status_line.split()[1])


def _static_follows_the_allow_list(
    container: containers.Container, *, allowed: str, foreign: str = "evil.example"
) -> None:
    """A static file: 400 for *foreign* or no Host, 200 for *allowed* and loopback names."""
    refused = containers.get(container, "/static/style.css", host=foreign)
    assert refused.status == 400, refused.describe()
    assert b"stylesheet" not in refused.body
    assert _without_host(container, "/static/style.css") == 400
    for host in (allowed, "127.0.0.1:8000", "[::1]:8000", "localhost"):
        css = containers.get(container, "/static/style.css", host=host)
        assert css.status == 200, css.describe()
        assert (css.header("Content-Type") or "").startswith("text/css"), css.describe()
        assert b"stylesheet" in css.body


def _not_root(container: containers.Container) -> None:
    users = {user for user, _ in containers.processes(container)}
    assert users == {"10001"}, containers.processes(container)


@pytest.mark.parametrize("platform", PLATFORMS, ids=str)
@pytest.mark.parametrize("server", SERVERS)
def test_flask_factory_app_static_files_and_hosts(
    flask_images: Built, run: Callable[..., containers.Container], server: str, platform: Platform
) -> None:
    container = run(flask_images.tag(server), platform)
    page = containers.get(container, "/", timeout=READY)
    assert page.status == 200, page.body
    assert b"Hello from flask-app" in page.body

    css = containers.get(container, "/static/style.css")
    assert css.status == 200
    assert (css.header("Content-Type") or "").startswith("text/css")

    # The Host allow-list answers before the application is called...
    foreign = containers.get(container, "/", host="evil.example")
    assert foreign.status == 400, foreign.body
    assert containers.get(container, "/health", host="flask-app.example").status == 200
    assert containers.get(container, "/health", host="FLASK-APP.example:8000").status == 200
    # ...and before a static file is served, by the server itself (uWSGI's static map,
    # Apache's alias) or by WhiteNoise; loopback names always pass (the health check).
    _static_follows_the_allow_list(container, allowed="flask-app.example:8000")
    _not_root(container)


@pytest.mark.parametrize("platform", PLATFORMS, ids=str)
@pytest.mark.parametrize("server", SERVERS)
def test_django_migrates_and_serves_hashed_static_files_for_a_year(
    django_images: Built, run: Callable[..., containers.Container], server: str, platform: Platform
) -> None:
    container = run(django_images.tag(server), platform, env=MIGRATE)
    page = containers.get(container, "/", timeout=READY)
    assert page.status == 200, page.body
    assert b"Hello from django-app" in page.body
    assert b"0 notes" in page.body  # the migration ran before the server started
    assert "running python manage.py migrate --noinput" in containers.logs(container)

    # collectstatic ran at build time: the page links the hashed name it wrote.
    match = re.search(rb'href="(/static/notes/site\.[0-9a-f]{12}\.css)"', page.body)
    assert match, page.body
    css = containers.get(container, match[1].decode())
    assert css.status == 200
    assert (css.header("Content-Type") or "").startswith("text/css")
    cache_control = css.header("Cache-Control") or ""
    expires = css.header("Expires")
    # uWSGI's static map gives hashed names a far Expires; the others a year's max-age.
    assert "max-age=31536000" in cache_control or (server == "uwsgi" and expires), css.headers
    assert containers.get(container, "/", host="evil.example").status == 400
    _not_root(container)


@pytest.mark.parametrize("server", SERVERS)
def test_sigterm_lets_an_in_flight_request_finish(
    flask_images: Built, run: Callable[..., containers.Container], server: str
) -> None:
    container = run(flask_images.tag(server))
    assert containers.get(container, "/health", timeout=READY).status == 200
    answers: list[containers.Response | BaseException] = []

    def slow() -> None:
        try:
            answers.append(containers.get(container, "/slow?seconds=3", timeout=20))
        except BaseException as exc:  # reported below, in the test's thread
            answers.append(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    threading.Event().wait(1.0)  # the request is in the application now
    stopped = containers.stop(container, timeout=20)
    thread.join(timeout=30)
    (answer,) = answers
    assert isinstance(answer, containers.Response), answer
    assert (answer.status, answer.body) == (200, b"slept 3 seconds")
    assert stopped.exit_code == 0, containers.logs(container)
    assert not stopped.killed
    # Within the image's grace period (8 s), not the engine's 20 s timeout.
    assert stopped.seconds < 9, stopped


@pytest.mark.parametrize("server", SERVERS)
def test_allowed_hosts_set_at_run_time_replace_the_images_for_static_files_too(
    flask_images: Built, run: Callable[..., containers.Container], server: str
) -> None:
    container = run(flask_images.tag(server), env={"WSGI_ALLOWED_HOSTS": ".run-time.example"})
    assert containers.get(container, "/health", host="127.0.0.1", timeout=READY).status == 200
    assert "allowed hosts: .run-time.example, loopback" in containers.logs(container)
    _static_follows_the_allow_list(container, allowed="cdn.RUN-TIME.example.:80")
    assert containers.get(container, "/", host="run-time.example").status == 200
    # The image's own list (flask-app.example) no longer applies.
    for path in ("/static/style.css", "/"):
        answer = containers.get(container, path, host="flask-app.example")
        assert answer.status == 400, answer.describe()
    containers.remove(container)

    # '*' serves any host, on static files too, and a request without Host.
    container = run(flask_images.tag(server), env={"WSGI_ALLOWED_HOSTS": "*"})
    css = containers.get(container, "/static/style.css", host="evil.example", timeout=READY)
    assert css.status == 200, css.describe()
    assert _without_host(container, "/static/style.css") == 200
    assert containers.get(container, "/", host="evil.example").status == 200


START = "/opt/containerize/start.py"


def _serving_processes(container: containers.Container, server: str) -> int:
    """How many processes serve requests: workers (and a master where there is one)."""
    commands = [command for _, command in containers.processes(container)]
    if server == "mod_wsgi":  # mod_wsgi's daemon processes, which run the app
        return sum(1 for command in commands if command.startswith("(wsgi:"))
    # A server run in start.py's process (Gunicorn, uWSGI's launcher) keeps its command
    # line, master and forked workers alike.
    return sum(1 for command in commands if server in command or START in command)


@pytest.mark.parametrize("server", SERVERS)
def test_workers_follow_the_cpu_limit_and_the_environment(
    flask_images: Built, run: Callable[..., containers.Container], server: str
) -> None:
    # Processes that serve: Gunicorn and uWSGI have a master besides their workers.
    extra = {"gunicorn": 1, "uwsgi": 1, "mod_wsgi": 0, "cheroot": 0}[server]
    host_cpus = os.cpu_count() or 1
    for cpus, env, workers in (
        (1, {}, 3),
        (2, {}, 2 * min(2, host_cpus) + 1),
        (2, {"WSGI_WORKERS": "2", "WSGI_THREADS": "3"}, 2),
    ):
        container = run(flask_images.tag(server), cpus=cpus, env=env)
        assert containers.get(container, "/health", timeout=READY).status == 200
        threads = int(env.get("WSGI_THREADS", 4 if server in ("mod_wsgi", "cheroot") else 1))
        assert f"starting {server}: {workers} workers x {threads} threads" in containers.logs(
            container
        )
        if server == "cheroot":  # one process holding workers x threads threads
            status = containers.execute(container, ["cat", "/proc/1/status"]).stdout
            found = re.search(r"^Threads:\s+(\d+)$", status, re.M)
            assert found, status
            assert int(found[1]) >= workers * threads, status
        else:
            expected = workers + extra
            for _ in range(40):  # workers boot after the first answer: up to 10 s
                if _serving_processes(container, server) == expected:
                    break
                threading.Event().wait(0.25)
            assert _serving_processes(container, server) == expected, containers.processes(
                container
            )
        containers.remove(container)


def test_a_wsgi_script_file_is_served_by_every_server(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    project = make_project("hello-wsgi")
    (project / "deploy").mkdir()
    (project / "deploy" / "site.wsgi").write_text(
        "from hello import application as _hello\n\n"
        "def application(environ, start_response):\n"
        "    return _hello(environ, start_response)\n"
    )
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('app = "hello:application"', 'app = "deploy/site.wsgi"')
    )
    image = f"containerize-test/script-{session_id}"
    cfg = config.load(project, overrides={"image": image, "platforms": ["linux/amd64"]})
    assert cfg.app.kind == "script"
    prepared = pipeline.prepare(cfg, machine(engine=True), output="load")
    pipeline.build(prepared.invocations)
    try:
        for server in SERVERS:
            container = containers.start(f"{image}:{server}", platform=LINUX_AMD64, port=8000)
            try:
                answer = containers.get(container, "/", timeout=60)
                assert (answer.status, answer.body) == (200, b"Hello World!"), server
            finally:
                containers.remove(container)
    finally:
        for inv in prepared.invocations:
            process.run(["docker", "image", "rm", "--force", *inv.tags], check=False)


def test_a_paste_deploy_app_is_served_by_every_server(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """fixtures/paste-app: 'deploy/prod.ini#site', PasteDeploy from a pip-compile lock."""
    project = make_project("paste-app")
    image = f"containerize-test/paste-{session_id}"
    cfg = config.load(project, overrides={"image": image, "platforms": ["linux/amd64"]})
    assert (cfg.app.kind, cfg.app.section) == ("paste", "site")
    prepared = pipeline.prepare(cfg, machine(engine=True), output="load")
    pipeline.build(prepared.invocations)
    try:
        for server in SERVERS:
            container = containers.start(f"{image}:{server}", platform=LINUX_AMD64, port=8000)
            try:
                # The composite 'site' maps '/' to a pipeline: a filter, then the page.
                page = containers.get(container, "/", timeout=60)
                assert (page.status, page.body) == (200, b"Hello from paste-app"), server
                assert page.header("X-Served-By") == "paste-deploy", (server, page.headers)
                # ...and '/api' to a second app, which sees the prefix moved to SCRIPT_NAME.
                api = containers.get(container, "/api/items")
                assert api.status == 200, (server, api.describe())
                assert json.loads(api.body) == {
                    "app": "api", "script_name": "/api", "path": "/items",
                }, server  # fmt: skip
            finally:
                containers.remove(container)
    finally:
        for inv in prepared.invocations:
            process.run(["docker", "image", "rm", "--force", *inv.tags], check=False)


def test_an_app_that_fails_to_import_fails_the_build(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    project = make_project("hello-wsgi")
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"hello:application"', '"hello:no_such_callable"')
    )
    cfg = config.load(
        project,
        overrides={
            "image": f"containerize-test/broken-{session_id}",
            "platforms": ["linux/amd64"],
            "servers": ["gunicorn"],
        },
    )
    prepared = pipeline.prepare(cfg, machine(engine=True), output="load")
    with pytest.raises(CommandError) as info:
        buildx.build(prepared.invocations[0], stream=False)
    output = str(info.value)
    assert "module 'hello'" in output
    assert "has no attribute 'no_such_callable'" in output
    assert "tool.containerize.import-check = false" in output
    # The image copies the app from the step that imports it: nothing was loaded
    # under any of its tags.
    for tag in prepared.invocations[0].tags:
        found = process.run(["docker", "image", "inspect", tag], check=False, timeout=60)
        assert found.returncode != 0, tag


def test_failed_start_up_hooks_stop_the_container_with_a_reason(
    flask_images: Built, run: Callable[..., containers.Container]
) -> None:
    failing = run(
        flask_images.tag("gunicorn"), env={"WSGI_PRESTART": "python -c 'raise SystemExit(3)'"}
    )
    assert containers.wait_exited(failing, timeout=60) == 3
    assert "failed with exit code 3" in containers.logs(failing)

    waiting = run(
        flask_images.tag("gunicorn"),
        env={"WSGI_WAIT_FOR": "127.0.0.1:1", "WSGI_WAIT_TIMEOUT": "2"},
    )
    assert containers.wait_exited(waiting, timeout=60) == 1
    assert "127.0.0.1:1 did not accept a connection within 2 s" in containers.logs(waiting)

    bad = run(flask_images.tag("gunicorn"), env={"WSGI_WORKERS": "many"})
    assert containers.wait_exited(bad, timeout=60) == 2
    assert "WSGI_WORKERS='many' is not a whole number" in containers.logs(bad)

    # A wildcard inside a name is not Django's syntax: refused, never guessed at.
    hosts = run(flask_images.tag("uwsgi"), env={"WSGI_ALLOWED_HOSTS": "*.example.com"})
    assert containers.wait_exited(hosts, timeout=60) == 2
    assert "WSGI_ALLOWED_HOSTS: '*.example.com' is not a host name" in containers.logs(hosts)
