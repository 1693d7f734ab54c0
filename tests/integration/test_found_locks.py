"""Projects locked by pipenv and by PDM, built from their own locks and served.

Each fixture is taken as found (no ``[tool.containerize]``); the test writes the table
that ``containerize init`` would, for linux/amd64 and Gunicorn only: what is under test
is the lock reading (the hashes named from the index, the groups), not the matrix. A
last project has no lock at all: ``containerize lock`` makes one, with the real uv and
the configured index.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from containerize import cli, config, process
from containerize.commands.machine import machine
from containerize.engine import containers, preflight
from containerize.errors import LockError
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64

_CSS = "/static/bookshelf/shelf.css"


def _table(app: str, image: str, base_image: str) -> str:
    return (
        "\n[tool.containerize]\n"
        f'app = "{app}"\n'
        f'image = "{image}"\n'
        f'base-image = "{base_image}"\n'
        'platforms = ["linux/amd64"]\n'
        'servers = ["gunicorn"]\n'
        "port = 8000\n"
        'healthcheck-path = "/health"\n'
    )


def _build_and_get(project: Path, image: str, paths: list[str]) -> list[containers.Response]:
    cfg = config.load(project)
    prepared = pipeline.prepare(
        cfg,
        machine(engine=True),
        output=preflight.choose_output(cfg.platforms, push=False),
    )
    summaries = pipeline.build(prepared.invocations)
    try:
        container = containers.start(f"{image}:gunicorn", platform=LINUX_AMD64, port=8000)
        try:
            responses = [containers.get(container, path, timeout=120) for path in paths]
            stopped = containers.stop(container, timeout=20)
            assert (stopped.exit_code, stopped.killed) == (0, False)
            return responses
        finally:
            containers.remove(container)
    finally:
        process.run(["docker", "image", "rm", "--force", *summaries[0].tags], check=False)


def test_django_locked_with_pipenv(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """Pipfile.lock's default section, its hashes named from the configured index."""
    project = make_project("django-pipenv")
    image = f"containerize-test/django-pipenv-{session_id}"
    assert not (project / "pyproject.toml").exists()
    # The table alone (the name is the folder's, the version git's or 0), as init
    # proposes it for this project.
    static = (
        'static = { url = "/static/", dir = "staticfiles", command = ["python", "manage.py", '
        '"collectstatic", "--noinput"] }\n'
    )
    table = _table("bookshelf.wsgi:application", image, base_image).lstrip() + static
    (project / "pyproject.toml").write_text(table)
    page, health, css = _build_and_get(project, image, ["/", "/health", _CSS])
    assert page.status == 200, page.body
    assert b"<h1>Bookshelf</h1>" in page.body
    assert b"<li>A Pattern Language</li>" in page.body
    assert f'href="{_CSS}"'.encode() in page.body
    assert json.loads(health.body) == {"status": "ok", "books": 3}
    assert css.status == 200
    assert css.body == (project / "bookshelf/static/bookshelf/shelf.css").read_bytes()


def test_flask_locked_with_pdm(
    make_project: Callable[[str], Path], base_image: str, session_id: str
) -> None:
    """pdm.lock's default group only: the test group (pytest) stays out of the image."""
    project = make_project("flask-pdm")
    image = f"containerize-test/flask-pdm-{session_id}"
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + _table("wsgi:application", image, base_image))
    page, health = _build_and_get(project, image, ["/", "/health"])
    assert page.status == 200, page.body
    assert b"<h1>Guestbook</h1>" in page.body
    assert b"No entries yet." in page.body
    assert json.loads(health.body) == {"status": "ok"}


APP = '''"""A WSGI app without a framework's help."""


def application(environ, start_response):
    body = b"locked by containerize lock"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


def test_unhashed_requirements_locked_by_containerize_lock(
    tmp_path: Path,
    base_image: str,
    session_id: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """'containerize lock' resolves an unhashed requirements file with the uv of the tools
    lock and the user's index; the build uses the pylock.toml it wrote, and stops once the
    requirements change."""
    project = tmp_path / "plain"
    project.mkdir()
    (project / "app.py").write_text(APP)
    (project / "requirements.txt").write_text("markupsafe>=3\nwerkzeug>=3.1\n")
    image = f"containerize-test/plain-lock-{session_id}"
    table = _table("app:application", image, base_image).replace(
        'healthcheck-path = "/health"', 'healthcheck-path = "/"\nlock = "requirements.txt"'
    )
    (project / "pyproject.toml").write_text(table.lstrip())

    assert cli.main(["--project", str(project), "lock"]) == 0
    out = capsys.readouterr().out
    assert "packages pinned from requirements.txt for Python >=3.11" in out
    assert "  werkzeug==" in out
    assert 'set lock = "pylock.toml" in [tool.containerize]' in out
    assert config.load(project).lock == project / "pylock.toml"

    (page,) = _build_and_get(project, image, ["/"])
    assert (page.status, page.body) == (200, b"locked by containerize lock")

    (project / "requirements.txt").write_text("markupsafe>=3\nwerkzeug>=3.1\nblinker\n")
    with pytest.raises(LockError) as info:
        pipeline.resolve(config.load(project), machine(engine=False))
    assert info.value.message == (
        "requirements.txt changed since the lock was made: run containerize lock"
    )
