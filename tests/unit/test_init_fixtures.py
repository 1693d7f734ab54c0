"""``containerize init`` on each fixture with its table removed: the table it writes
says what the hand-written one says, where it matters.

Keys init cannot know are not compared: the image name, the servers and platforms,
the port, hosts Django computes at run time, and the base image (the fixtures name the
one this machine builds, 127.0.0.1:5000/...; init names the official image of the same
Python). The health-check path is compared where the code routes it in a way init
reads (a Django URLconf, a Flask route); elsewhere init leaves the default.
tests/integration/test_init.py builds one of them.

The fixtures taken as found (no table, some without pyproject.toml) are compared
with the table written out here.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
import tomlkit

from containerize import cli, config
from containerize.engine import probes
from containerize.resolve.lock import load_lock

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """init asks the engine whether the base image it proposes resolves: these tests
    run as on a machine without one (the base image is then not checked)."""
    monkeypatch.setattr(probes, "engine_reachable", lambda: False)


def strip_table(project: Path) -> str:
    """Remove [tool.containerize] (and its subtables) from the project's pyproject.toml."""
    pyproject = project / "pyproject.toml"
    document = tomlkit.parse(pyproject.read_text())
    tool = document["tool"]
    del tool["containerize"]
    if not tool:
        del document["tool"]
    stripped = document.as_string()
    pyproject.write_text(stripped)
    return stripped


def copy_fixture(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(
        FIXTURES / name,
        target,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock", "__pycache__"),
    )
    return target


@pytest.mark.parametrize(
    "name",
    [
        "hello-wsgi",
        "flask-app",
        "django-app",
        "flask-pip-compile",
        "django-subfolder",
        "psycopg2-app",
        "paste-app",
    ],
)
def test_init_rewrites_what_matters(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = config.load(FIXTURES / name)
    project = copy_fixture(name, tmp_path)
    stripped = strip_table(project)

    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "wrote [tool.containerize]" in out

    text = (project / "pyproject.toml").read_text()
    assert text.startswith(stripped)  # nothing before the new table moved
    made = config.load(project)
    assert made.app_directory == original.app_directory
    assert made.app == original.app
    made_lock = load_lock(made.project_dir, made.lock)
    original_lock = load_lock(original.project_dir, original.lock)
    assert made_lock.path.relative_to(project) == original_lock.path.relative_to(FIXTURES / name)
    assert made.static == original.static
    assert made.python_version == original.python_version
    assert made.base_image == "python:3.11-slim-bookworm"
    assert made.env == original.env
    if name in HEALTH_ROUTED:
        assert made.healthcheck_path == original.healthcheck_path
    else:
        assert made.healthcheck_path == "/"


#: Fixtures whose health route init reads (the others test the default, or a path a
#: bare WSGI function compares PATH_INFO against).
HEALTH_ROUTED = frozenset({"django-app", "django-subfolder", "flask-app"})


def test_init_of_a_project_for_python_313(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The official 3.13 image is written; the local trixie image is named as the way
    to build one here."""
    original = config.load(FIXTURES / "hello-py313")
    project = copy_fixture("hello-py313", tmp_path)
    strip_table(project)
    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    made = config.load(project)
    assert made.app == original.app
    assert made.python_version == original.python_version == (3, 13)
    assert made.base_image == "python:3.13-slim-bookworm"
    assert (
        f"note: base-image: where python:3.13-slim-bookworm cannot be pulled, 'containerize "
        f"base-image --python 3.13' builds {original.base_image} (Python 3.13) from Debian's "
        "packages"
    ) in out.splitlines()


SECRET_COMMENT = (
    "\n[tool.containerize.test]\n# Placeholders for the settings the app reads from the "
    "environment when imported:\n# used by the import check and the test matrix only, "
    "never baked into an image.\n# Replace them with values your tests need.\n"
)


def _init(project: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert cli.main(["--project", str(project), "init"]) == 0, capsys.readouterr().err
    return capsys.readouterr().out.splitlines()


def _table(project: Path) -> dict[str, object]:
    made: dict[str, object] = tomllib.loads((project / "pyproject.toml").read_text())["tool"][
        "containerize"
    ]
    return made


def test_a_pyramid_project_as_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """production.ini, not development.ini; the unhashed pip-compile output is locked
    next; the tool-only pyproject.toml keeps every byte."""
    project = copy_fixture("pyramid-ini", tmp_path)
    before = (project / "pyproject.toml").read_text()
    out = _init(project, capsys)
    assert _table(project) == {
        "app": "production.ini",
        "base-image": "python:3.11-slim-bookworm",
        "healthcheck-path": "/health",
    }
    assert (project / "pyproject.toml").read_text().startswith(before + "\n[tool.containerize]\n")
    made = config.load(project, environ={})
    assert (made.name, made.app.kind, made.locks) == ("pyramid-ini", "paste", ())
    assert "compiled for Python 3.11 (requirements/main.txt:2)" in out[1]
    assert any("development.ini" in line and "named for development" in line for line in out)
    assert any(line.startswith("note: lock: not set: requirements/main.txt pin") for line in out)
    assert out[-2:] == [
        "next: 'containerize lock requirements/main.txt'",
        "next: 'containerize build --dry-run'",
    ]


def test_a_flask_project_with_deployment_sets_as_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The set the Dockerfile installs, not the root aggregator; the factory, not
    run.py's app made under __main__; SECRET_KEY as a placeholder."""
    project = copy_fixture("flask-deploy-sets", tmp_path)
    out = _init(project, capsys)
    assert _table(project) == {
        "app": "shop:create_app()",
        "servers": ["gunicorn"],  # the Dockerfile's CMD runs it
        "lock": ["requirements/main.txt", "requirements/deploy.txt"],
        "base-image": "python:3.11-slim-bookworm",
        "healthcheck-path": "/healthz",
        "static": {"url": "/static/", "dir": "shop/static"},
        "test": {"env": {"SECRET_KEY": "placeholder"}},
    }
    assert SECRET_COMMENT in (project / "pyproject.toml").read_text()
    made = config.load(project, environ={})
    assert made.locks == (project / "requirements/main.txt", project / "requirements/deploy.txt")
    assert made.test.env == (("SECRET_KEY", "placeholder"),)
    assert made.env == ()  # nothing for the image itself
    assert made.name == "flask-deploy-sets"  # no pyproject.toml of its own: the folder's
    lock = next(line for line in out if line.startswith("lock = "))
    assert lock.endswith(
        "pip install -r requirements/main.txt -r requirements/deploy.txt (Dockerfile:5)"
    )
    assert any(line.startswith("note: app: run:app is not a candidate") for line in out)
    assert out[-1] == "next: 'containerize build --dry-run'"


def test_a_bare_django_project_as_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No pyproject.toml: one is made with the table only; / needs a login, so the
    health check asks the login page."""
    project = copy_fixture("django-bare", tmp_path)
    out = _init(project, capsys)
    assert _table(project) == {
        "app": "mysite.wsgi:application",
        "base-image": "python:3.11-slim-bookworm",
        "healthcheck-path": "/accounts/login/",
        "static": {
            "url": "/static/",
            "dir": "staticfiles",
            "command": ["python", "manage.py", "collectstatic", "--noinput"],
        },
        "test": {"env": {"DJANGO_SECRET_KEY": "placeholder"}},
    }
    text = (project / "pyproject.toml").read_text()
    assert text.startswith("[tool.containerize]\n")
    assert set(tomllib.loads(text)) == {"tool"}
    made = config.load(project, environ={})
    assert (made.name, made.healthcheck_path) == ("django-bare", "/accounts/login/")
    assert made.test.env == (("DJANGO_SECRET_KEY", "placeholder"),)
    assert out[-2:] == [
        "next: 'containerize lock requirements.txt'",
        "next: 'containerize build --dry-run'",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "django-pipenv",
            {
                "app": "bookshelf.wsgi:application",
                "lock": "Pipfile.lock",
                "base-image": "python:3.11-slim-bookworm",
                "healthcheck-path": "/health",
                "static": {
                    "url": "/static/",
                    "dir": "staticfiles",
                    "command": ["python", "manage.py", "collectstatic", "--noinput"],
                },
            },
        ),
        (
            "flask-pdm",
            {
                "app": "wsgi:application",
                "lock": "pdm.lock",
                "base-image": "python:3.11-slim-bookworm",
                "healthcheck-path": "/health",
            },
        ),
    ],
)
def test_projects_locked_with_pipenv_and_pdm_as_found(
    name: str, expected: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lock the tool made is found where it stands; the Python comes from it (and
    the Pipfile's [requires]); the table loads as a build loads it."""
    project = copy_fixture(name, tmp_path)
    out = _init(project, capsys)
    assert _table(project) == expected
    base_image = next(line for line in out if line.startswith("base-image = "))
    assert "(Pipfile.lock)" in base_image or "(pdm.lock)" in base_image
    made = config.load(project, environ={})
    assert made.locks == (project / str(expected["lock"]),)
