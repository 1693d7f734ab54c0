"""``tool.containerize.writable``: the check of its paths, the stage that gives them to
the app's user, the import check's mounts, and what ``containerize init`` proposes
from Django settings. No engine: tests/integration/test_writable.py builds it."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from init_helpers import init, no_engine, table, write  # noqa: F401 (no_engine: an autouse fixture)
from test_dockerfile import make, stage
from test_escape import buildkit_words
from test_init import DJANGO_MANAGE, DJANGO_SETTINGS, DJANGO_WSGI, REQUIREMENTS
from test_init import PYPROJECT as INIT_PYPROJECT

from containerize import config
from containerize.errors import ConfigError
from containerize.image import dockerfile, writable
from containerize.writablepaths import WritablePath

PYPROJECT = """\
[project]
name = "writes"
version = "1.0"

[tool.containerize]
app = "writes:app"
"""


def load(project: Path, value: list[str] | None, **files: str) -> config.Config:
    listed = "" if value is None else f"writable = {json.dumps(value)}\n"
    write(project, {"pyproject.toml": PYPROJECT + listed, "writes.py": "app = None\n", **files})
    return config.load(project, environ={})


def test_files_and_folders_sorted(tmp_path: Path) -> None:
    cfg = load(tmp_path, ["var/", "server.log", "media/", "logs/app.log"])
    assert cfg.writable == (
        WritablePath("logs/app.log", folder=False),
        WritablePath("media", folder=True),
        WritablePath("server.log", folder=False),
        WritablePath("var", folder=True),
    )
    assert [entry.text for entry in cfg.writable] == [
        "logs/app.log",
        "media/",
        "server.log",
        "var/",
    ]


def test_the_default_is_a_read_only_app_folder(tmp_path: Path) -> None:
    assert load(tmp_path, None).writable == ()


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("/var/log/app.log", "is not relative to the app folder", "/tmp"),
        ("../shared/", "'..'", "relative to the app folder"),
        ("logs/../server.log", "'..'", "relative to the app folder"),
        ("./server.log", "'.'", "relative to the app folder"),
        ("logs//x.log", "empty segment", "relative to the app folder"),
        ("/", "the app folder itself stays read-only", "relative to the app folder"),
        ("", "is empty", "leave it out"),
        ("*.log", "is a pattern", "list each path"),
        ("media/[ab]/", "is a pattern", "list each path"),
        ("logs\\x.log", "is not relative to the app folder", "relative to the app folder"),
        ("my file.log", "a character a writable path cannot hold", "letters, digits"),
        ("a,b.log", "a character a writable path cannot hold", "letters, digits"),
    ],
)
def test_bad_paths_say_what_and_how(tmp_path: Path, value: str, message: str, hint: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, [value])
    assert "tool.containerize.writable[0]" in str(info.value)
    assert message in str(info.value)
    assert hint in (info.value.hint or "")


def test_a_path_listed_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, ["media/", "var/", "media"])
    assert "writable[2]: 'media' is listed twice (as 'media/' before)" in str(info.value)


def test_the_kind_must_be_the_projects(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, ["media"], **{"media/README.txt": "x\n"})
    assert "names a file, but" in str(info.value)
    assert 'write "media/"' in (info.value.hint or "")
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "b", ["server.log/"], **{"server.log": ""})
    assert "names a folder, but" in str(info.value)
    assert 'write "server.log"' in (info.value.hint or "")
    with pytest.raises(ConfigError) as info:
        load(tmp_path / "c", ["writes.py/cache/"])
    assert "goes through" in str(info.value)


def test_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"real/x": ""})
    (tmp_path / "media").symlink_to(tmp_path / "real")
    with pytest.raises(ConfigError) as info:
        load(tmp_path, ["media/"])
    assert "symbolic link" in str(info.value)


def test_paths_are_relative_to_the_app_directory(tmp_path: Path) -> None:
    project = tmp_path / "in-site"
    write(
        project,
        {
            "pyproject.toml": PYPROJECT + 'app-directory = "site"\nwritable = ["media"]\n',
            "site/writes.py": "app = None\n",
            "site/media/x.txt": "",
        },
    )
    with pytest.raises(ConfigError) as info:
        config.load(project, environ={})
    assert "site/media is a folder in the project" in str(info.value)


@pytest.fixture
def listed(tmp_path: Path) -> config.Config:
    cfg = load(tmp_path, ["server.log", "media/", "media/avatar.png", "var/", "logs/app.log"])
    return replace(cfg, platforms=cfg.platforms[:1], servers=("gunicorn",))


def test_the_stage_gives_the_listed_paths_to_the_apps_user(listed: config.Config) -> None:
    text = dockerfile.render(make(listed))
    lines = stage(text, "writable")
    assert lines.startswith("FROM builder AS writable\n")
    assert "--network=none --mount=type=bind,source=app,target=/source" in lines
    image = "/writable/image/app/"
    assert (
        f"chown 10001:10001 {image}logs/app.log {image}media {image}media/avatar.png "
        f"{image}server.log {image}var"
    ) in lines
    assert f"chmod 0755 {image}media {image}var" in lines
    assert f"chmod 0644 {image}logs/app.log {image}media/avatar.png {image}server.log" in lines
    # A file: the project's when the context has it, else empty; a folder: empty in
    # the layer, with the project's files for the check only.
    assert (
        f"if [ -f /source/server.log ]; then cp /source/server.log {image}server.log; "
        f"else : > {image}server.log; fi"
    ) in lines
    assert (
        "if [ -d /source/media ]; then cp -R /source/media/. /writable/check/app/media/; fi"
        in lines
    )
    assert "cp -R /source/media/. /writable/image" not in lines
    assert lines.endswith("-exec touch --no-dereference --date=@315532800 '{}' +")
    # Made before the import check that mounts it (BuildKit needs it defined first).
    assert text.index(" AS writable\n") < text.index(" AS app-gunicorn\n")


def test_the_image_copies_the_layer_after_the_app(listed: config.Config) -> None:
    final = stage(dockerfile.render(make(listed)), "gunicorn")
    copy = "COPY --link --from=writable /writable/image/ /"
    assert copy in final
    app = "--from=app-gunicorn /tmp/containerize/files/ /"  # gathered by the check's step
    assert final.index(app) < final.index(copy) < final.index("USER")


def test_the_import_check_mounts_them_read_write(listed: config.Config) -> None:
    check = stage(dockerfile.render(make(listed)), "app-gunicorn")
    run = next(line for line in check.split("\nRUN ")[1:] if "--check" in line)
    mounts = [w for w in buildkit_words("RUN " + run) if w.startswith("--mount=")]
    # media/avatar.png is inside media/: mounted with it.
    assert mounts == [
        "--mount=type=bind,from=writable,source=/writable/check/app/logs/app.log,"
        "target=/app/logs/app.log,rw",
        "--mount=type=bind,from=writable,source=/writable/check/app/media,target=/app/media,rw",
        "--mount=type=bind,from=writable,source=/writable/check/app/server.log,"
        "target=/app/server.log,rw",
        "--mount=type=bind,from=writable,source=/writable/check/app/var,target=/app/var,rw",
        # The app the image gets is gathered from the context's files, never from what
        # the check wrote through those mounts.
        "--mount=type=bind,source=app,target=/containerize-app",
    ]
    assert " && cp -R /containerize-app/. /tmp/containerize/files/app/ " in run


def test_without_writable_paths_nothing_changes(tmp_path: Path) -> None:
    text = dockerfile.render(make(load(tmp_path, None)))
    assert " AS writable" not in text
    assert "--from=writable" not in text


def test_without_the_import_check_the_layer_is_still_copied(listed: config.Config) -> None:
    text = dockerfile.render(make(replace(listed, import_check=False)))
    assert " AS writable\n" in text
    assert "COPY --link --from=writable /writable/image/ /" in stage(text, "gunicorn")


def test_an_app_folder_a_mount_cannot_name_is_refused(listed: config.Config) -> None:
    planned = replace(make(listed), app_dir="/app/my site")
    with pytest.raises(ConfigError) as info:
        writable.stage(planned)
    assert "tool.containerize.app-directory" in str(info.value)


# --- init ---------------------------------------------------------------------------


@pytest.fixture
def django_site(tmp_path: Path) -> Path:
    return write(
        tmp_path / "django",
        {
            "pyproject.toml": INIT_PYPROJECT.replace('["flask"]', '["django"]'),
            "requirements.txt": REQUIREMENTS,
            "manage.py": DJANGO_MANAGE,
            "mysite/__init__.py": "",
            "mysite/settings.py": DJANGO_SETTINGS,
            "mysite/wsgi.py": DJANGO_WSGI,
            "shop/__init__.py": "",
        },
    )


WRITING = """\
    LOGGING = {
        "version": 1,
        "handlers": {
            "file": {"class": "logging.FileHandler", "filename": "server.log"},
            "errors": {
                "class": "logging.handlers.RotatingFileHandler",
                "filename": BASE_DIR / "logs" / "errors.log",
            },
            "tmp": {"class": "logging.FileHandler", "filename": "/tmp/app.log"},
            "env": {"class": "logging.FileHandler", "filename": os.environ["LOG_FILE"]},
            "console": {"class": "logging.StreamHandler"},
        },
    }
    MEDIA_ROOT = BASE_DIR / "media"
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "var" / "db.sqlite3",
        },
        "other": {"ENGINE": "django.db.backends.postgresql", "NAME": "shop"},
    }
    """


def _settings(django_site: Path, extra: str) -> None:
    text = textwrap.dedent(DJANGO_SETTINGS) + textwrap.dedent(extra)
    (django_site / "mysite/settings.py").write_text("import os\n" + text)


def test_init_proposes_what_the_settings_write(
    django_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _settings(django_site, WRITING)
    assert init(django_site) == 0
    assert table(django_site)["writable"] == ["logs/", "media/", "server.log", "var/"]
    written = (django_site / "pyproject.toml").read_text()
    # With the evidence, file and line, as init's other keys have.
    assert "LOGGING handler 'file' writes server.log (mysite/settings.py:" in written
    assert "MEDIA_ROOT media, where uploads are saved (mysite/settings.py:" in written
    assert "DATABASES['default'] is SQLite in var/db.sqlite3" in written
    assert "/tmp" not in written.split("writable")[1].split("\n\n")[0]
    config.load(django_site, environ={})  # what init wrote is valid


def test_init_never_proposes_the_app_folder_itself(
    django_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Django's own default: the database beside manage.py. Its folder is the app
    folder, which stays read-only: a note says what to do instead."""
    _settings(
        django_site,
        """\
        DATABASES = {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}
        }
        """,
    )
    assert init(django_site) == 0
    assert "writable" not in table(django_site)
    captured = capsys.readouterr()
    assert "that is the app folder itself, which stays read-only" in captured.out + captured.err


def test_init_proposes_nothing_for_paths_outside_the_project(django_site: Path) -> None:
    _settings(
        django_site,
        """\
        MEDIA_ROOT = "/var/www/media"
        LOGGING = {"handlers": {"f": {"class": "logging.FileHandler", "filename": "/tmp/x.log"}}}
        """,
    )
    assert init(django_site) == 0
    assert "writable" not in table(django_site)
