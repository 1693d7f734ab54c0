"""The services ``containerize init`` proposes beside the app: which server, from what
evidence, with the app's own variables wired to it, the image this machine can run,
and the table that loads as a build and the matrix read it."""

from __future__ import annotations

import shlex
import shutil
import textwrap
import tomllib
from pathlib import Path, PurePosixPath

import pytest
import tomlkit
from init_helpers import init, no_engine, table, write  # noqa: F401 (no_engine: an autouse fixture)
from packaging.utils import canonicalize_name
from packaging.version import Version
from test_init import DJANGO_MANAGE, DJANGO_SETTINGS, DJANGO_WSGI, PYPROJECT, REQUIREMENTS

from containerize import cli, config, testenv
from containerize.engine import buildx, probes
from containerize.host import baseimage, serviceimage
from containerize.init import environment, services
from containerize.init.sources import Sources
from containerize.resolve.lock import Lock, LockedPackage
from containerize.testsettings import SERVICE_IMAGES

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PG_URL = "postgresql://postgres:test-only@db:5432/postgres"
PG_READY = ["pg_isready", "--host=127.0.0.1", "--username=postgres"]


def lock_of(*names: str) -> Lock:
    packages = tuple(
        LockedPackage(name=canonicalize_name(n), version=Version("1.0")) for n in sorted(names)
    )
    return Lock(path=Path("/p/requirements.txt"), format="requirements", packages=packages)


def proposal(
    tmp_path: Path, code: str, *, lock: tuple[str, ...] = (), resolves: object = None
) -> services.Proposal:
    """What init proposes for settings *code* (a module the app imports)."""
    project = write(tmp_path / "p", {"settings.py": code})
    sources = Sources(project)
    source = sources.get(PurePosixPath("settings.py"))
    assert source is not None
    found = environment.find(sources, [source])
    return services.propose(found, [lock_of(*lock)], resolves=resolves)  # type: ignore[arg-type]


def entries(found: services.Proposal) -> dict[str, object]:
    return {name: entry for p in found.services for name, entry in p.entry.items()}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # Named in the settings: the server, and the variable the settings read for it.
        ('import environ\nenv = environ.Env()\n'
         'DATABASES = {"default": env.db(default="postgres://app@db/app")}',
         {"db": {"image": "postgres:15", "port": 5432, "env": {"POSTGRES_PASSWORD": "test-only"},
                 "app-env": {"DATABASE_URL": PG_URL}, "ready": PG_READY}}),
        ('import dj_database_url\n'
         'DATABASES = {"default": dj_database_url.config(default="mysql://db/app")}',
         {"db": {"image": "mysql:8.4", "port": 3306,
                 "env": {"MYSQL_ROOT_PASSWORD": "test-only", "MYSQL_DATABASE": "test"},
                 "app-env": {"DATABASE_URL": "mysql://root:test-only@db:3306/test"},
                 "ready": ["mysqladmin", "ping", "--host=127.0.0.1", "--user=root",
                           "--password=test-only"]}}),
        # An ENGINE and literal parts: nothing to wire (the table's comment says so).
        ('DATABASES = {"default": {"ENGINE": "django.contrib.gis.db.backends.postgis"}}',
         {"db": {"image": "postgres:15", "port": 5432, "env": {"POSTGRES_PASSWORD": "test-only"},
                 "ready": PG_READY}}),
        ('import os\nCELERY_BROKER_URL = os.getenv("CELERY_BROKER_URL", "rediss://c:6380/0")',
         {"cache": {"image": "redis:7", "port": 6379,
                    "app-env": {"CELERY_BROKER_URL": "redis://cache:6379/0"},
                    "ready": ["redis-cli", "ping"]}}),
    ],
)  # fmt: skip
def test_a_server_the_settings_name_is_proposed(
    tmp_path: Path, code: str, expected: dict[str, object]
) -> None:
    found = proposal(tmp_path, code)
    assert entries(found) == expected
    assert found.notes == ()


def test_a_url_variable_and_a_driver_in_the_lock_make_a_service(tmp_path: Path) -> None:
    """Flask-SQLAlchemy's URI from DATABASE_URL names no server; psycopg2 says which."""
    code = 'import os\nSQLALCHEMY_DATABASE_URI = os.environ["DATABASE_URL"]\n'
    found = proposal(tmp_path, code, lock=("psycopg2-binary", "flask-sqlalchemy"))
    (db,) = found.services
    assert db.entry["db"]["app-env"] == {"DATABASE_URL": PG_URL}
    assert [str(w) for w in db.why] == [
        'os.environ["DATABASE_URL"] (settings.py:2)',
        "psycopg2-binary in the lock (requirements.txt)",
        "postgres:15: not checked, no engine answered",
    ]
    # Without the driver: a note, no service (which server is it?).
    found = proposal(tmp_path, code, lock=("flask-sqlalchemy",))
    assert found.services == ()
    (note,) = found.notes
    assert note.startswith(
        'services: the app reads DATABASE_URL (os.environ["DATABASE_URL"] (settings.py:2)), '
        "but no driver in the lock or setting says which database server it is"
    )


def test_settings_that_read_the_parts_get_each_part(tmp_path: Path) -> None:
    code = """\
        import os

        DATABASES = {"default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("DB_HOST", "localhost"),
            "PORT": os.getenv("DB_PORT", "5432"),
            "NAME": os.environ["POSTGRES_DB"],
            "USER": os.environ["POSTGRES_USER"],
            "PASSWORD": os.environ["POSTGRES_PASSWORD"],
        }}
        CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache",
                              "LOCATION": os.environ["REDIS_URL"]}}
        """
    found = proposal(tmp_path, textwrap.dedent(code), lock=("psycopg2", "django-redis"))
    assert entries(found) == {
        "db": {
            "image": "postgres:15", "port": 5432, "env": {"POSTGRES_PASSWORD": "test-only"},
            "app-env": {"POSTGRES_DB": "postgres", "POSTGRES_USER": "postgres",
                        "POSTGRES_PASSWORD": "test-only", "DB_HOST": "db", "DB_PORT": "5432"},
            "ready": PG_READY,
        },
        "cache": {"image": "redis:7", "port": 6379, "app-env": {"REDIS_URL": "redis://cache:6379/0"},
                  "ready": ["redis-cli", "ping"]},
    }  # fmt: skip


def test_a_driver_in_the_lock_alone_is_a_note(tmp_path: Path) -> None:
    found = proposal(tmp_path, "DEBUG = False\n", lock=("psycopg", "redis"))
    assert found.services == ()
    assert [n.split(",")[0] for n in found.notes] == [
        "services: psycopg in the lock",
        "services: redis in the lock",
    ]
    assert found.notes[0].endswith(
        "if the tests need one, add it to [tool.containerize.test.services] (see the README)"
    )


@pytest.mark.parametrize(
    ("resolving", "image", "step"),
    [
        ({"postgres:15"}, "postgres:15", None),
        ({SERVICE_IMAGES["postgres"]}, SERVICE_IMAGES["postgres"], None),
        (set(), SERVICE_IMAGES["postgres"], "containerize service-image postgres"),
    ],
)
def test_the_image_is_one_this_machine_can_run(
    tmp_path: Path, resolving: set[str], image: str, step: str | None
) -> None:
    code = 'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql"}}'
    asked: list[str] = []

    def resolves(ref: str) -> bool:
        asked.append(ref)
        return ref in resolving

    (db,) = proposal(tmp_path, code, resolves=resolves).services
    assert (db.entry["db"]["image"], db.build_step) == (image, step)
    assert asked[0] == "postgres:15"


def test_mysql_where_its_image_cannot_be_pulled_says_so(tmp_path: Path) -> None:
    code = 'DATABASES = {"default": {"ENGINE": "django.db.backends.mysql"}}'
    found = proposal(tmp_path, code, resolves=lambda ref: False)
    (db,) = found.services
    assert (db.entry["db"]["image"], db.build_step) == ("mysql:8.4", None)
    assert found.comment is not None
    assert "Containerize builds no MySQL image: where mysql:8.4 cannot be pulled, name one" in (
        " ".join(found.comment.splitlines())
    )


def test_the_service_images_init_names_are_those_service_image_builds() -> None:
    assert {name: serviceimage.reference(name) for name in serviceimage.RECIPES} == SERVICE_IMAGES


def test_the_django_postgres_fixture_gets_its_database_and_migrations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fixture as found (no table): the table init writes loads, gives the app the
    database on the cell's network over the placeholder, and migrates before serving."""
    project = tmp_path / "django-postgres"
    shutil.copytree(
        FIXTURES / "django-postgres",
        project,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock", "__pycache__"),
    )
    document = tomlkit.parse((project / "pyproject.toml").read_text())
    del document["tool"]["containerize"]
    (project / "pyproject.toml").write_text(document.as_string())
    assert init(project) == 0, capsys.readouterr().err
    written = table(project)
    assert written["test"] == {
        "env": {
            "DATABASE_URL": "postgres://placeholder:placeholder@localhost:5432/placeholder",
            "SECRET_KEY": "placeholder",
            "WSGI_PRESTART": "python manage.py migrate --noinput",
        },
        "services": {
            "db": {"image": "postgres:15", "port": 5432, "env": {"POSTGRES_PASSWORD": "test-only"},
                   "app-env": {"DATABASE_URL": PG_URL}, "ready": PG_READY},
        },
    }  # fmt: skip
    text = (project / "pyproject.toml").read_text()
    assert (
        "[tool.containerize.test.services]\n"
        "# Proposed by containerize init. Each cell of the test matrix starts these beside\n"
        "# the app on a private network, where a service's name is its host name; app-env\n"
        "# gives the app their addresses (over test.env).\n"
        "# PostgreSQL: 'django.db.backends.postgresql' (shelf/settings.py:53).\n"
        "# Where postgres:15 cannot be pulled, 'containerize service-image postgres' builds\n"
        "# 127.0.0.1:5000/containerize/postgres:15-bookworm from Debian's packages: name that\n"
        "# in image.\n"
        'db = {image = "postgres:15", port = 5432, '
    ) in text
    cfg = config.load(project, environ={})
    (db,) = cfg.test.services
    assert (db.name, db.port, db.ready) == ("db", 5432, tuple(PG_READY))
    assert dict(testenv.variables(cfg.test))["DATABASE_URL"] == PG_URL
    assert tomllib.loads(text)["tool"]["containerize"]["healthcheck-path"] == "/accounts/login/"


def test_a_django_site_with_manage_py_outside_the_app_folder_migrates_by_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = textwrap.dedent(DJANGO_SETTINGS) + (
        'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql"}}\n'
    )
    project = write(
        tmp_path / "split",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "tools/manage.py": DJANGO_MANAGE,
            "mysite/__init__.py": "",
            "mysite/settings.py": settings,
            "mysite/wsgi.py": DJANGO_WSGI,
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    test = table(project)["test"]
    assert isinstance(test, dict)
    assert test["env"] == {
        "WSGI_PRESTART": "python -m django migrate --noinput --settings mysite.settings"
    }
    assert list(test["services"]) == ["db"]


def test_a_manage_py_that_defaults_to_other_settings_is_not_the_sites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found in a public project: manage.py defaults to development settings (SQLite),
    wsgi.py to production ones (PostgreSQL). 'python manage.py migrate' migrated the
    SQLite file and the cell failed; the app's own settings are named instead, for the
    migrations and for collectstatic."""
    base = textwrap.dedent(DJANGO_SETTINGS).replace("parent.parent", "parent.parent.parent")
    project = write(
        tmp_path / "two-settings",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "manage.py": DJANGO_MANAGE.replace('"mysite.settings"', '"mysite.settings.dev"'),
            "mysite/__init__.py": "",
            "mysite/settings/__init__.py": "",
            "mysite/settings/base.py": base,
            "mysite/settings/dev.py": "from mysite.settings.base import *\n"
            'DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db"}}\n',
            "mysite/settings/prod.py": "from mysite.settings.base import *\n"
            'DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql"}}\n',
            "mysite/wsgi.py": DJANGO_WSGI.replace('"mysite.settings"', '"mysite.settings.prod"'),
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    written = table(project)
    test = written["test"]
    assert isinstance(test, dict)
    assert test["env"] == {
        "WSGI_PRESTART": "python -m django migrate --noinput --settings mysite.settings.prod"
    }
    assert written["static"] == {
        "url": "/static/",
        "dir": "collected",
        "command": ["python", "-m", "django", "collectstatic", "--noinput", "--settings",
                    "mysite.settings.prod"],
    }  # fmt: skip
    assert (
        "filled by collectstatic with the app's settings (mysite.settings.prod): manage.py "
        "defaults to mysite.settings.dev (line 5)"
    ) in out


def test_a_database_url_with_a_default_needs_no_server(tmp_path: Path) -> None:
    code = (
        "import dj_database_url\n"
        'DATABASES = {"default": dj_database_url.config(default="sqlite:////tmp/db.sqlite3")}\n'
    )
    found = proposal(tmp_path, code)
    assert (found.services, found.notes) == ((), ())
    # The same variable from the lock's driver's point of view: PostgreSQL, wired.
    (db,) = proposal(tmp_path, code, lock=("psycopg",)).services
    assert db.entry["db"]["app-env"] == {"DATABASE_URL": PG_URL}


def test_where_no_image_resolves_the_next_steps_build_them_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An engine answers, but neither the official images nor the local ones resolve:
    init names the commands that build them, before the build's (the app is then not
    imported: its base image is not there). Each command runs as written; what builds
    an image is replaced at containerize's own boundary, which receives the recipe."""
    project = tmp_path / "django-postgres"
    shutil.copytree(
        FIXTURES / "django-postgres",
        project,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock", "__pycache__"),
    )
    document = tomlkit.parse((project / "pyproject.toml").read_text())
    del document["tool"]["containerize"]
    (project / "pyproject.toml").write_text(document.as_string())
    asked: list[str] = []
    monkeypatch.setattr(probes, "engine_reachable", lambda: True)
    monkeypatch.setattr(buildx, "imagetools_inspect", asked.append)  # nothing resolves
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert SERVICE_IMAGES["postgres"] in asked
    assert table(project)["test"]["services"]["db"]["image"] == SERVICE_IMAGES["postgres"]  # type: ignore[index]
    assert "app: not verified: its base image is not built yet ('containerize base-image' " in out
    steps = [line for line in out.splitlines() if line.startswith("next: ")]
    assert steps == [
        "next: 'containerize base-image'",
        "next: 'containerize service-image postgres'",
        "next: 'containerize build --dry-run'",
    ]
    built: list[baseimage.Recipe] = []

    def ensure(recipe: baseimage.Recipe) -> str:
        built.append(recipe)
        return recipe.ref

    monkeypatch.setattr(baseimage, "ensure", ensure)
    monkeypatch.chdir(project)
    assert cli.main(shlex.split("service-image postgres")) == 0
    assert built == [serviceimage.recipe("postgres")]
    assert capsys.readouterr().out == SERVICE_IMAGES["postgres"] + "\n"
