"""``containerize init`` on small projects written here: what it finds, what it writes,
and what it refuses. Sources are read, never imported: none of these projects'
dependencies is installed."""

from __future__ import annotations

import shutil
import textwrap
import tomllib
from pathlib import Path

import pytest
from init_helpers import init, no_engine, table, write  # noqa: F401 (no_engine: an autouse fixture)

from containerize import config
from containerize.init import apps, django, python
from containerize.init.sources import Sources

PYPROJECT = """\
# The project's own comment, kept as it is.
[project]
name = "site"   # odd  spacing, kept too
version = "1.0"
requires-python = ">=3.11"
dependencies = ["flask"]

[tool.ruff]
line-length = 100
"""

# A hashed requirements file, the smallest lock there is.
REQUIREMENTS = """\
flask==3.1.0 \\
    --hash=sha256:d667207822eb83f1c4b50949b1623c8fc8d51f2341d65f72e1a1815397551138
"""


@pytest.fixture
def flask_factory(tmp_path: Path) -> Path:
    return write(
        tmp_path / "factory",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "flaskr/__init__.py": """\
                from flask import Flask


                def create_app(test_config=None):
                    app = Flask(__name__, instance_relative_config=True)
                    if test_config:
                        app.config.update(test_config)
                    return app
                """,
            "flaskr/static/style.css": "body {}\n",
            "flaskr/views.py": "from flask import Blueprint\n",
        },
    )


DJANGO_SETTINGS = """\
    from pathlib import Path

    BASE_DIR = Path(__file__).resolve().parent.parent
    ALLOWED_HOSTS = ["shop.example", ".shop.example", "localhost"]
    INSTALLED_APPS = ["django.contrib.staticfiles", "shop"]
    WSGI_APPLICATION = "mysite.wsgi.application"
    STATIC_URL = "static/"
    STATIC_ROOT = BASE_DIR / "collected"
    """

DJANGO_WSGI = """\
    import os

    from django.core.wsgi import get_wsgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

    application = get_wsgi_application()
    """

DJANGO_MANAGE = """\
    import os
    import sys

    if __name__ == "__main__":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    """


@pytest.fixture
def django_site(tmp_path: Path) -> Path:
    return write(
        tmp_path / "django",
        {
            "pyproject.toml": PYPROJECT.replace('["flask"]', '["django"]'),
            "requirements.txt": REQUIREMENTS,
            "manage.py": DJANGO_MANAGE,
            "mysite/__init__.py": "",
            "mysite/settings.py": DJANGO_SETTINGS,
            "mysite/wsgi.py": DJANGO_WSGI,
            "mysite/asgi.py": "application = None\n",
            "shop/__init__.py": "",
        },
    )


def test_django_site(django_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert init(django_site) == 0
    out = capsys.readouterr().out
    assert table(django_site) == {
        "app": "mysite.wsgi:application",
        "lock": "requirements.txt",
        "base-image": "python:3.11-slim-bookworm",
        "allowed-hosts": ["shop.example", ".shop.example", "localhost"],
        "static": {
            "url": "/static/",
            "dir": "collected",
            "command": ["python", "manage.py", "collectstatic", "--noinput"],
        },
    }
    # One line per key, each with the file and line it came from.
    lines = {line.split(" = ")[0]: line for line in out.splitlines() if " = " in line}
    assert 'WSGI_APPLICATION = "mysite.wsgi.application" (mysite/settings.py:6)' in lines["app"]
    assert "(mysite/wsgi.py:7)" in lines["app"]
    assert "(mysite/settings.py:4)" in lines["allowed-hosts"]
    assert "(mysite/settings.py:7)" in lines["static"]
    assert "(mysite/settings.py:8)" in lines["static"]
    assert 'requires-python = ">=3.11" (pyproject.toml:5)' in lines["base-image"]
    assert "wrote [tool.containerize]" in out
    cfg = config.load(django_site)
    assert cfg.static is not None
    assert cfg.static.command == ("python", "manage.py", "collectstatic", "--noinput")


def test_django_site_in_a_subfolder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """site/manage.py, site/mysite/...: site/ is the app folder, and the app and its
    static files are written relative to it, with the settings split in two."""
    project = write(
        tmp_path / "sub",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "site/manage.py": DJANGO_MANAGE.replace("mysite.settings", "mysite.settings.prod"),
            "site/mysite/__init__.py": "",
            "site/mysite/wsgi.py": DJANGO_WSGI.replace("mysite.settings", "mysite.settings.prod"),
            "site/mysite/settings/__init__.py": "",
            "site/mysite/settings/base.py": DJANGO_SETTINGS.replace(
                "parent.parent", "parents[2]"
            ).replace('BASE_DIR / "collected"', 'os.path.join(BASE_DIR, "collected")'),
            "site/mysite/settings/prod.py": """\
                from .base import *  # noqa: F403

                ALLOWED_HOSTS = [os.environ["HOST"]]
                """,
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project) == {
        "app-directory": "site",
        "app": "mysite.wsgi:application",
        "lock": "requirements.txt",
        "base-image": "python:3.11-slim-bookworm",
        "static": {
            "url": "/static/",
            "dir": "collected",
            "command": ["python", "manage.py", "collectstatic", "--noinput"],
        },
    }
    assert (
        'app-directory = "site"  # mysite.wsgi is imported from site/ (site/mysite/wsgi.py); '
        "Django's manage.py (site/manage.py)\n" in out
    )
    assert "(site/mysite/settings/base.py:6)" in out
    cfg = config.load(project, environ={})
    assert cfg.app_root == project.resolve() / "site"

    sources = Sources(project)
    [app] = apps.find(sources, extra=django.candidates(sources))
    assert (app.spec, str(app.import_root)) == ("mysite.wsgi:application", "site")
    site = django.site(app, sources)
    assert site is not None
    assert site.settings == "mysite.settings.prod"
    assert site.static is not None
    assert (site.static.url, site.static.dir, site.static.command) == (
        "/static/",
        "site/collected",
        ("python", "site/manage.py", "collectstatic", "--noinput"),
    )
    assert site.allowed_hosts is None
    assert any("computed when the settings run" in note for note in site.notes)


def test_flask_factory(flask_factory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert init(flask_factory) == 0
    assert table(flask_factory) == {
        "app": "flaskr:create_app()",
        "lock": "requirements.txt",
        "base-image": "python:3.11-slim-bookworm",
        "static": {"url": "/static/", "dir": "flaskr/static"},
    }
    out = capsys.readouterr().out
    assert "def create_app() returns a Flask app (flaskr/__init__.py:4)" in out


def test_subfolder_static_files_outside_the_app_folder_are_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the app folder goes into the image: a STATIC_ROOT beside it is not written."""
    project = write(
        tmp_path / "outside",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "site/manage.py": DJANGO_MANAGE,
            "site/mysite/__init__.py": "",
            "site/mysite/wsgi.py": DJANGO_WSGI,
            "site/mysite/settings.py": DJANGO_SETTINGS.replace(
                'BASE_DIR / "collected"', 'BASE_DIR.parent / "public"'
            ),
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["app-directory"] == "site"
    assert "static" not in table(project)
    assert "static: not set: public/ is outside the app folder site/" in out


def test_a_relative_static_root_is_in_the_folder_the_site_runs_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "relative",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "site/manage.py": DJANGO_MANAGE,
            "site/mysite/__init__.py": "",
            "site/mysite/wsgi.py": DJANGO_WSGI,
            "site/mysite/settings.py": DJANGO_SETTINGS.replace(
                'BASE_DIR / "collected"', '"collected"'
            ),
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    assert table(project)["static"] == {
        "url": "/static/",
        "dir": "collected",
        "command": ["python", "manage.py", "collectstatic", "--noinput"],
    }


def test_a_package_named_site_is_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """site/site/wsgi.py: Python's own site module is imported first, so the table would
    not build; init says so and writes nothing."""
    project = write(
        tmp_path / "named-site",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "site/manage.py": DJANGO_MANAGE.replace("mysite", "site"),
            "site/site/__init__.py": "",
            "site/site/wsgi.py": DJANGO_WSGI.replace("mysite", "site"),
            "site/site/settings.py": DJANGO_SETTINGS.replace("mysite", "site"),
        },
    )
    before = (project / "pyproject.toml").read_bytes()
    assert init(project) == 2
    err = capsys.readouterr().err
    assert "the table init made would not load, so nothing was written" in err
    assert "the standard library's site module" in err
    assert "rename the app's package site/" in err
    assert (project / "pyproject.toml").read_bytes() == before


def test_manage_py_outside_the_app_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """manage.py beside pyproject.toml, the project in src/: the image holds src/ only,
    so collectstatic runs through python -m django with the settings named."""
    project = write(
        tmp_path / "manage-outside",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "manage.py": DJANGO_MANAGE,
            "src/mysite/__init__.py": "",
            "src/mysite/wsgi.py": DJANGO_WSGI,
            "src/mysite/settings.py": DJANGO_SETTINGS,
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    made = table(project)
    assert (made["app-directory"], made["app"]) == ("src", "mysite.wsgi:application")
    assert made["static"] == {
        "url": "/static/",
        "dir": "collected",
        "command": [
            "python", "-m", "django", "collectstatic", "--noinput", "--settings", "mysite.settings"
        ],
    }  # fmt: skip


def test_src_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found under src/: src/ is the app folder, the static folder relative to it."""
    project = write(
        tmp_path / "src-layout",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "src/shop/__init__.py": "",
            "src/shop/app.py": """\
                import flask

                def make_app():
                    return flask.Flask(__name__, static_folder="assets")
                """,
            "src/shop/assets/site.css": "",
            "tests/conftest.py": "from flask import Flask\napp = Flask(__name__)\n",
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project) == {
        "app-directory": "src",
        "app": "shop.app:make_app()",
        "lock": "requirements.txt",
        "base-image": "python:3.11-slim-bookworm",
        "static": {"url": "/assets/", "dir": "shop/assets"},
    }
    assert 'app-directory = "src"  # shop.app is imported from src/ (src/shop/app.py)\n' in out
    assert "def make_app() returns a Flask app (src/shop/app.py:3)" in out

    sources = Sources(project)
    [app] = apps.find(sources)  # tests/ is not searched
    assert (app.spec, str(app.import_root)) == ("shop.app:make_app()", "src")
    assert app.static is not None
    assert (app.static.url, app.static.dir) == ("/assets/", "src/shop/assets")


def test_flask_app_object_beats_its_factory(tmp_path: Path) -> None:
    project = write(
        tmp_path / "object",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "app.py": """\
                from flask import Flask

                def create_app():
                    app = Flask(__name__)
                    return app

                app = create_app()
                """,
        },
    )
    assert init(project) == 0
    assert table(project)["app"] == "app:app"


def test_wsgi_py_beats_the_flask_factory_it_calls(tmp_path: Path) -> None:
    project = write(
        tmp_path / "wsgi",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "wsgi.py": "from portal import create_app\n\napplication = create_app()\n",
            "portal/__init__.py": "from flask import Flask\n\n"
            "def create_app():\n    return Flask(__name__)\n",
        },
    )
    assert init(project) == 0
    assert table(project)["app"] == "wsgi:application"


def test_wsgi_script_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mod_wsgi-style script: the first binding of application is the evidence."""
    project = write(
        tmp_path / "script",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "deploy/site.wsgi": "from portal import make\n\napplication = make()\n"
            "application = wrap(application)\n",
        },
    )
    assert init(project) == 0
    assert table(project)["app"] == "deploy/site.wsgi"
    assert "'application' in a .wsgi file (deploy/site.wsgi:3)" in capsys.readouterr().out
    assert config.load(project).app.kind == "script"


PASTE_INI = """\
[DEFAULT]
debug = false

[composite:portal]
use = egg:Paste#urlmap
/ = web
/api = api

[pipeline:web]
pipeline = gzip site

[filter:gzip]
use = egg:Paste#gzip

[app:site]
use = call:portal:make

[filter-app:api]
next = api-core
use = call:portal:auth

[app:api-core]
use = call:portal:api
"""


def test_paste_deploy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The application no other section uses is the one served; tox.ini and the like
    are no applications."""
    project = write(
        tmp_path / "paste",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "deploy/prod.ini": PASTE_INI,
            "tox.ini": "[tox]\nenvlist = py311\n\n[testenv]\ncommands = pytest\n",
            "portal.py": "def make(global_config, **settings):\n    return None\n",
        },
    )
    assert init(project) == 0
    assert table(project)["app"] == "deploy/prod.ini#portal"
    assert "Paste Deploy application 'portal' (deploy/prod.ini:4)" in capsys.readouterr().out
    assert config.load(project).app.kind == "paste"


def test_paste_deploy_main_wins(tmp_path: Path) -> None:
    project = write(
        tmp_path / "paste",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "production.ini": PASTE_INI + "\n[app:main]\nuse = call:portal:make\n",
        },
    )
    assert init(project) == 0
    assert table(project)["app"] == "production.ini"


def test_two_paste_applications_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "paste",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "deploy.ini": "[app:web]\nuse = call:a:web\n\n[app:admin]\nuse = call:a:admin\n",
        },
    )
    assert init(project) == 2
    err = capsys.readouterr().err
    assert "2 WSGI applications found" in err
    assert "deploy.ini#admin (Paste Deploy application 'admin' (deploy.ini:4))" in err
    assert init(project, "--app", "deploy.ini#web") == 0
    assert table(project)["app"] == "deploy.ini#web"


def test_two_apps_are_an_error_until_one_is_chosen(
    flask_factory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(flask_factory, {"admin.py": "from flask import Flask\n\nadmin = Flask(__name__)\n"})
    write(flask_factory, {"api.py": "import flask\n\napi = flask.Flask(__name__)\n"})
    before = (flask_factory / "pyproject.toml").read_bytes()
    assert init(flask_factory) == 2
    err = capsys.readouterr().err
    assert "2 WSGI applications found" in err
    assert "admin:admin (admin = Flask(__name__) (admin.py:3))" in err
    assert "api:api (api = flask.Flask(__name__) (api.py:3))" in err
    assert "hint: choose one: containerize init --app 'admin:admin'" in err
    assert (flask_factory / "pyproject.toml").read_bytes() == before

    assert init(flask_factory, "--app", "api:api") == 0
    out = capsys.readouterr().out
    assert table(flask_factory)["app"] == "api:api"
    assert "note: app: also found admin:admin" in out


def test_nothing_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = write(
        tmp_path / "empty",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "lib/util.py": "def helper():\n    return 1\n",
            "broken.py": "def (:\n",
        },
    )
    before = (project / "pyproject.toml").read_bytes()
    assert init(project) == 2
    err = capsys.readouterr().err
    assert "no WSGI application found: searched 2 Python file(s) in" in err
    assert "WSGI_APPLICATION" in err
    assert "wsgi.py" in err
    assert "Flask" in err
    assert "could not parse broken.py" in err
    assert "hint: name it: containerize init --app" in err
    assert (project / "pyproject.toml").read_bytes() == before


def test_existing_table_is_kept_unless_forced(
    flask_factory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pyproject = flask_factory / "pyproject.toml"
    original = PYPROJECT.replace(
        "[tool.ruff]",
        '[tool.containerize]\napp = "old:app"  # mine\nport = 9000\n\n[tool.ruff]',
    )
    pyproject.write_text(original)

    assert init(flask_factory) == 2
    err = capsys.readouterr().err
    assert "already has a [tool.containerize] table" in err
    assert "--force" in err
    assert pyproject.read_text() == original

    assert init(flask_factory, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "writing needs --force" in out
    assert (
        "[tool.containerize]\n"
        "# app not verified: a dry run builds nothing; 'containerize build' checks it\n"
        'app = "flaskr:create_app()"'
    ) in out
    assert pyproject.read_text() == original

    assert init(flask_factory, "--force") == 0
    out = capsys.readouterr().out
    assert "whose port are gone" in out
    head, _, rest = original.partition("[tool.containerize]")
    tail = rest[rest.index("[tool.ruff]") :]
    text = pyproject.read_text()
    # Replaced where it stood; every byte around it as it was.
    assert text.startswith(head + "[tool.containerize]\n")
    assert text.endswith("\n" + tail)
    assert table(flask_factory)["app"] == "flaskr:create_app()"


def test_comments_and_layout_are_kept_byte_for_byte(flask_factory: Path) -> None:
    pyproject = flask_factory / "pyproject.toml"
    original = (
        PYPROJECT
        + "\n# A trailing comment, then odd spacing:\n[tool.mypy]\nstrict    =   true\n"
        + "files = [\n    'a',  # one\n    'b',\n]\n"
    )
    pyproject.write_text(original)
    assert init(flask_factory) == 0
    text = pyproject.read_text()
    assert text.startswith(original)
    assert text[len(original) :].startswith("\n[tool.containerize]\n")


def test_crlf_files_keep_their_line_ends(flask_factory: Path) -> None:
    pyproject = flask_factory / "pyproject.toml"
    original = PYPROJECT.replace("\n", "\r\n").encode()
    pyproject.write_bytes(original)
    assert init(flask_factory) == 0
    data = pyproject.read_bytes()
    assert data.startswith(original)
    assert b"\n" not in data.replace(b"\r\n", b"")


def test_tool_tables_spread_over_the_file(flask_factory: Path) -> None:
    """tomlkit's out-of-order tables: the old table goes, the new one is appended."""
    pyproject = flask_factory / "pyproject.toml"
    pyproject.write_text(
        '[tool.containerize]\napp = "old:app"\n\n'
        + PYPROJECT
        + "\n[tool.containerize.test]\nread-only = true\n\n[tool.black]\nline-length = 99\n"
    )
    assert init(flask_factory, "--force") == 0
    data = tomllib.loads(pyproject.read_text())
    assert data["tool"]["black"] == {"line-length": 99}
    assert data["tool"]["ruff"] == {"line-length": 100}
    assert data["tool"]["containerize"]["app"] == "flaskr:create_app()"
    assert "test" not in data["tool"]["containerize"]


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"pyproject.toml": "[project\nname = 'x'\n"}, "not valid TOML"),
        (
            {"pyproject.toml": 'tool = { ruff = { line-length = 100 } }\n[project]\nname = "x"\n'},
            "cannot add [tool.containerize] safely",
        ),
    ],
)
def test_bad_pyproject(
    tmp_path: Path, files: dict[str, str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(tmp_path / "bad", {**files, "wsgi.py": "application = None\n"})
    before = {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()}
    assert init(project) == 2
    assert message in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in project.iterdir() if p.is_file()} == before


def test_a_table_that_would_not_load_is_not_written(
    flask_factory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No project name, and a folder name that makes none: config.load refuses, so init
    writes nothing and says why."""
    project = flask_factory.rename(flask_factory.parent / "___")
    pyproject = project / "pyproject.toml"
    original = PYPROJECT.replace('name = "site"   # odd  spacing, kept too\n', "")
    pyproject.write_text(original)
    assert init(project) == 2
    err = capsys.readouterr().err
    assert "the table init made would not load, so nothing was written" in err
    assert "no project name" in err
    assert pyproject.read_text() == original


def test_a_project_without_a_name_is_named_for_its_folder(
    flask_factory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No [project] name: the table is checked as the build names the project, from
    its folder, and written."""
    pyproject = flask_factory / "pyproject.toml"
    original = PYPROJECT.replace('name = "site"   # odd  spacing, kept too\n', "")
    pyproject.write_text(original)
    assert init(flask_factory) == 0, capsys.readouterr().err
    assert pyproject.read_text().startswith(original)
    assert table(flask_factory)["app"] == "flaskr:create_app()"


def test_locks(flask_factory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixtures = Path(__file__).parents[2] / "fixtures"
    shutil.copy(fixtures / "flask-app/uv.lock", flask_factory)
    shutil.copy(fixtures / "hello-wsgi/poetry.lock", flask_factory)
    assert init(flask_factory, "--dry-run") == 2
    err = capsys.readouterr().err
    assert "more than one lock file (poetry.lock, uv.lock)" in err
    assert "containerize init --lock poetry.lock" in err

    pyproject = flask_factory / "pyproject.toml"
    pyproject.write_text(PYPROJECT.replace('["flask"]', '["flask", "requests"]'))
    assert init(flask_factory, "--lock", "uv.lock") == 0
    out = capsys.readouterr().out
    assert table(flask_factory)["lock"] == "uv.lock"
    assert "chosen with --lock" in out
    # A stale lock is worth a note, not a refusal: re-locking is the user's next step.
    assert "note: lock: uv.lock is out of date with pyproject.toml: requests" in out

    assert init(flask_factory, "--force", "--lock", "../elsewhere.txt") == 2
    assert "not a file inside the project" in capsys.readouterr().err


def test_an_unhashed_requirements_file_is_locked_next(
    flask_factory: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pins without hashes are no lock: lock stays unset and 'containerize lock' is the
    next step, before the build."""
    (flask_factory / "requirements.txt").write_text("# pinned by hand\nflask==3.1.0\n")
    assert init(flask_factory) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "lock" not in table(flask_factory)
    assert (
        "note: lock: not set: requirements.txt pin without hashes (flask==3.1.0, "
        "requirements.txt:2), so they are no lock; 'containerize lock' makes a hashed lock "
        "of them"
    ) in out.splitlines()
    assert out.splitlines()[-2:] == [
        "next: 'containerize lock requirements.txt'",
        "next: 'containerize build --dry-run'",
    ]

    assert init(flask_factory, "--force", "--lock", "requirements.txt") == 0
    out = capsys.readouterr().out
    assert "lock" not in table(flask_factory)
    assert "next: 'containerize lock requirements.txt'" in out


def test_no_lock_is_a_note(flask_factory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flask_factory / "requirements.txt").unlink()
    assert init(flask_factory) == 0
    out = capsys.readouterr().out
    assert "note: lock: not set: no lock file" in out
    assert "'containerize lock' makes one from pyproject.toml's dependencies" in out
    assert "next: 'containerize lock pyproject.toml'" in out
    assert "lock" not in table(flask_factory)


@pytest.mark.parametrize(
    ("constraint", "header", "expected"),
    [
        (">=3.8", "", "3.11"),
        (">=3.12", "", "3.12"),
        (">=3.10,<3.11", "", "3.10"),
        (">=3.11.4", "", "3.11"),
        (">=3.9", "# This file is autogenerated by pip-compile with Python 3.13\n", "3.13"),
        (
            ">=3.9",
            "# This file was autogenerated by uv via the following command:\n"
            "#    uv pip compile --generate-hashes --python-version 3.12 requirements.in\n",
            "3.12",
        ),
    ],
)
def test_python_version(
    flask_factory: Path,
    constraint: str,
    header: str,
    expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (flask_factory / "pyproject.toml").write_text(PYPROJECT.replace(">=3.11", constraint))
    (flask_factory / "requirements.txt").write_text(header + REQUIREMENTS)
    assert init(flask_factory) == 0, capsys.readouterr().err
    written = table(flask_factory)
    assert written["base-image"] == f"python:{expected}-slim-bookworm"
    assert written.get("python-version", "3.11") == expected
    assert config.load(flask_factory).python_version == tuple(map(int, expected.split(".")))


def test_no_known_python_fits(flask_factory: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (flask_factory / "pyproject.toml").write_text(PYPROJECT.replace(">=3.11", ">=3.15"))
    assert init(flask_factory) == 2
    err = capsys.readouterr().err
    assert 'requires-python = ">=3.15" (pyproject.toml:5)' in err
    assert "none of 3.10, 3.11, 3.12, 3.13" in err


def test_default_base_image_is_the_default_python() -> None:
    defaults = {option.key: option.default for option in config.OPTIONS}
    assert python.BASE_IMAGES[python.DEFAULT_PYTHON] == defaults["base-image"]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('STATIC_ROOT = BASE_DIR / "static"', "static"),
        ('STATIC_ROOT = BASE_DIR / "var" / "static"', "var/static"),
        ('STATIC_ROOT = os.path.join(BASE_DIR, "static")', "static"),
        ('STATIC_ROOT = str(BASE_DIR.joinpath("static"))', "static"),
        ('STATIC_ROOT = Path(__file__).parents[1] / "static"', "static"),
        ('STATIC_ROOT = "staticfiles"', "staticfiles"),
        ('STATIC_ROOT = "/var/www/static"', None),  # outside the app folder
        ('STATIC_ROOT = os.environ["STATIC_ROOT"]', None),  # known only at run time
        ('STATIC_ROOT = BASE_DIR.parent / "static"', None),  # above the project
        ("STATIC_ROOT = BASE_DIR", None),  # the project itself
    ],
)
def test_static_root_forms(django_site: Path, setting: str, expected: str | None) -> None:
    settings = django_site / "mysite/settings.py"
    text = textwrap.dedent(DJANGO_SETTINGS).replace('STATIC_ROOT = BASE_DIR / "collected"', setting)
    settings.write_text("import os\n" + text)
    assert init(django_site) == 0
    static = table(django_site).get("static")
    if expected is None:
        assert static is None
    else:
        assert isinstance(static, dict)
        assert static["dir"] == expected


def test_sources_name_modules_as_python_imports_them(tmp_path: Path) -> None:
    project = write(
        tmp_path / "names",
        {
            "hello.py": "",
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/mod.py": "",
            "src/lib/__init__.py": "",
            "scripts/run.py": "",
            "my-site/wsgi.py": "",
            "class/x.py": "",
            ".venv/lib/site.py": "",
            "node_modules/x.py": "",
        },
    )
    sources = Sources(project)
    named = {
        str(path): (str(s.import_root), s.module)
        for path in sources.paths
        if (s := sources.get(path)) is not None
    }
    assert named == {
        "hello.py": (".", "hello"),
        "pkg/__init__.py": (".", "pkg"),
        "pkg/sub/__init__.py": (".", "pkg.sub"),
        "pkg/sub/mod.py": (".", "pkg.sub.mod"),
        "src/lib/__init__.py": ("src", "lib"),
        "scripts/run.py": ("scripts", "run"),
        "my-site/wsgi.py": ("my-site", "wsgi"),
        "class/x.py": ("class", "x"),
    }


@pytest.mark.parametrize(
    ("constraint", "local"),
    [
        (
            ">=3.13",
            "'containerize base-image --python 3.13' builds "
            "127.0.0.1:5000/containerize/python:3.13-trixie (Python 3.13)",
        ),
        (
            ">=3.11",
            "'containerize base-image' builds "
            "127.0.0.1:5000/containerize/python:3.11-bookworm (Python 3.11)",
        ),
        (
            ">=3.12",
            # No Debian suite containerize builds from ships 3.12: the note says so, and
            # names the local base that fits the project all the same.
            "no base containerize builds here has Python 3.12: 'containerize base-image' "
            "builds bookworm (Python 3.11), trixie (Python 3.13); of those, "
            "127.0.0.1:5000/containerize/python:3.13-trixie ('containerize base-image "
            "--python 3.13') fits the project too",
        ),
    ],
)
def test_the_local_base_of_the_chosen_python_is_a_note(
    flask_factory: Path, constraint: str, local: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (flask_factory / "pyproject.toml").write_text(PYPROJECT.replace(">=3.11", constraint))
    assert init(flask_factory) == 0
    out = capsys.readouterr().out
    notes = [line for line in out.splitlines() if line.startswith("note: base-image:")]
    expected = table(flask_factory)["base-image"]
    if "no base" in local:
        assert notes == [f"note: base-image: where {expected} cannot be pulled, {local}"]
    else:
        assert notes == [
            f"note: base-image: where {expected} cannot be pulled, {local} from Debian's packages"
        ]
