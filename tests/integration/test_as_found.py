"""Projects as they are found, end to end on the real engine: ``containerize init``,
each command it prints next run as written, a build for both platforms, then the
test matrix, with no edit between them.

The fixtures have no ``[tool.containerize]`` table: a Django site with a
``requirements.txt`` of ``==`` pins and no ``pyproject.toml`` (its settings read a
secret from the environment, and ``/`` needs a login); a Pyramid project with Paste
Deploy files, a tool-only ``pyproject.toml`` and unhashed pip-compile output under
``requirements/``; a Flask project whose Dockerfile installs two hashed sets of
``requirements/``, beside a root file that gathers the dev sets too; a Django site
locked with pipenv (no ``pyproject.toml``); and a Flask project locked with PDM.
Gunicorn alone, which is what init proposes for each: the other servers are the
subject of test_servers.py.

A setuptools project that must itself be installed (fixtures/pyramid-egg: its
production.ini says ``use = egg:Egg-Greeter``) goes the same way for linux/amd64:
init names ``containerize lock requirements.txt .`` next, and the image holds the
project as a wheel of setup.py's version.
"""

from __future__ import annotations

import json
import re
import shlex
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import tomlkit

from containerize import cli, process
from containerize.engine import containers
from containerize.platforms import LINUX_AMD64

AS_FOUND = ("django-bare", "pyramid-ini", "flask-deploy-sets", "django-pipenv", "flask-pdm")


@pytest.fixture
def image(monkeypatch: pytest.MonkeyPatch, base_image: str) -> Iterator[str]:
    """A name of its own for the images (the base image is the one init proposes)."""
    name = f"containerize-test/as-found-{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("CONTAINERIZE_BASE_IMAGE", raising=False)
    monkeypatch.setenv("CONTAINERIZE_IMAGE", name)
    yield name
    listed = process.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", name])
    if listed.stdout.split():
        process.run(["docker", "image", "rm", "--force", *listed.stdout.split()], check=False)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = cli.main(argv)
    captured = capsys.readouterr()
    with capsys.disabled():
        print(f"$ containerize {shlex.join(argv)}\n{captured.out}{captured.err}")
    assert code == 0, f"containerize {shlex.join(argv)} exited {code}:\n{captured.err}"
    return captured.out


@pytest.mark.parametrize("fixture", AS_FOUND)
def test_init_its_next_steps_a_build_and_the_matrix(
    fixture: str,
    make_project: Callable[[str], Path],
    image: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project(fixture)
    had_pyproject = (project / "pyproject.toml").exists()
    monkeypatch.chdir(project)

    out = _run(["init"], capsys)
    table = tomlkit.parse((project / "pyproject.toml").read_text())["tool"]["containerize"]
    assert table["base-image"] == re.findall(r'^base-image = "([^"]+)"', out, re.MULTILINE)[0]
    if not had_pyproject:
        assert f"created {project / 'pyproject.toml'}" in out

    steps = re.findall(r"^next: '(containerize [^']*)'$", out, flags=re.MULTILINE)
    assert steps, out
    assert steps[-1] == "containerize build --dry-run"
    for step in steps:
        _run(shlex.split(step)[1:], capsys)

    built = _run(["build"], capsys)
    assert re.search(r"linux/amd64 [\d.]+ MiB compressed, linux/arm64 [\d.]+ MiB", built), built
    tested = _run(["test"], capsys)
    for platform in ("linux/amd64", "linux/arm64"):
        assert f"gunicorn {platform}: passed" in tested, tested


#: fixtures/pyramid-egg's version: setup.py reads it from greeter/__init__.py.
EGG_VERSION = "2.3.1"
_PROBE = (
    "import importlib.metadata as m, json; d = m.distribution('Egg-Greeter'); "
    "print(json.dumps({'version': d.version, 'direct_url': d.read_text('direct_url.json'), "
    "'entry_points': [e.value for e in d.entry_points if e.group == 'paste.app_factory']}))"
)


def test_init_locks_the_project_itself_and_the_image_installs_it(
    make_project: Callable[[str], Path],
    image: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project("pyramid-egg")
    monkeypatch.chdir(project)

    out = _run(["init"], capsys)
    assert re.search(r'^app = "production.ini"', out, re.MULTILINE), out
    assert "note: app: templates/greeter.ini is not proposed: it is a template" in out
    assert "(use = egg:Egg-Greeter) (production.ini:7)" in out
    steps = re.findall(r"^next: '(containerize [^']*)'$", out, flags=re.MULTILINE)
    assert steps[0] == "containerize lock requirements.txt .", out
    assert steps[-1] == "containerize build --dry-run"
    for step in steps:
        _run(shlex.split(step)[1:], capsys)
    assert 'directory = { path = "." }' in (project / "pylock.toml").read_text()

    built = _run(["build", "--platform", str(LINUX_AMD64)], capsys)
    assert f"egg_greeter-{EGG_VERSION}-py3-none-any.whl (linux-amd64)" in built, built
    tested = _run(["test", "--platform", str(LINUX_AMD64)], capsys)
    assert f"gunicorn {LINUX_AMD64}: passed" in tested, tested

    tag = f"{image}:gunicorn"
    probe = process.run(["docker", "run", "--rm", "--platform", str(LINUX_AMD64), tag,
                         "python", "-c", _PROBE])  # fmt: skip
    installed = json.loads(probe.stdout)
    # A wheel of setup.py's version, not an editable install pointing at /app.
    assert installed["version"] == EGG_VERSION
    assert installed["direct_url"] is None
    assert installed["entry_points"] == ["greeter:main"]
    container = containers.start(tag, platform=LINUX_AMD64, port=8000)
    try:
        page = containers.get(container, "/", timeout=180)
        assert (page.status, page.body) == (
            200,
            f"Hello from Pyramid (Egg-Greeter {EGG_VERSION})".encode(),
        )
    finally:
        containers.remove(container)
