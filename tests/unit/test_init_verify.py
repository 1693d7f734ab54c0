"""init's verdict on the app it proposes: imported once in the build's check stage
when an engine answers, else the table says why it was not (and what checks it).

The engine's side (the check stage built, the app imported with the test
environment) is tests/integration/test_init.py's; here, the words: the table's
comment above ``app``, the lines init prints, from a real BuildKit log of a failed
import check."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from init_helpers import init, no_engine, write  # noqa: F401 (no_engine: an autouse fixture)

from containerize import config, staticfiles
from containerize.engine import buildx
from containerize.errors import BuildError, CommandError
from containerize.init import detect, verify
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.project import parse_project

DATA = Path(__file__).resolve().parents[1] / "data" / "buildkit"
REQUIREMENTS = (
    "flask==3.0.0 \\\n"
    "    --hash=sha256:21128f47e4e3b9d597a3e8521a329bf56909b690fcc3fa3e477725aa81367638\n"
)


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"engine": False}, "no engine answered"),
        ({"lock_step": "containerize lock requirements.in"},
         "no lock yet ('containerize lock requirements.in' makes one)"),
        ({"base_step": "containerize base-image 3.12"},
         "its base image is not built yet ('containerize base-image 3.12' builds it)"),
        ({"import_check": False}, "import-check is off"),
        ({}, None),
    ],
)  # fmt: skip
def test_why_the_app_cannot_be_imported_now(facts: dict[str, object], reason: str | None) -> None:
    given: dict[str, object] = {
        "engine": True, "lock_step": None, "base_step": None, "import_check": True, **facts
    }  # fmt: skip
    assert verify.cannot_check(**given) == reason  # type: ignore[arg-type]


def test_without_an_engine_the_written_table_says_the_app_was_not_verified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "site", {"requirements.txt": REQUIREMENTS, "wsgi.py": "application = None\n"}
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "app: not verified: no engine answered; 'containerize build' checks it\n" in out
    assert (project / "pyproject.toml").read_text() == (
        "[tool.containerize]\n"
        "# app not verified: no engine answered; 'containerize build' checks it\n"
        'app = "wsgi:application"\n'
        'lock = "requirements.txt"\n'
        'base-image = "python:3.11-slim-bookworm"\n'
    )


def test_the_check_is_one_server_on_the_check_platform(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "requirements.txt": REQUIREMENTS,
            "wsgi.py": "app = 1\n",
            "pyproject.toml": '[tool.containerize]\napp = "wsgi:app"\nlock = "requirements.txt"\n'
            'servers = ["uwsgi", "gunicorn", "mod_wsgi"]\n',
        },
    )
    cfg = config.load(tmp_path, environ={})
    check = verify.check_for(cfg, "arm64")
    assert (check.server, check.platform, check.target) == ("gunicorn", LINUX_ARM64, "app-gunicorn")
    assert (check.config.servers, check.config.platforms) == (("gunicorn",), (LINUX_ARM64,))
    assert check.described() == "the check stage of the gunicorn image, on linux/arm64"
    only_uwsgi = verify.check_for(dataclasses.replace(cfg, servers=("uwsgi",)), "amd64")
    assert (only_uwsgi.server, only_uwsgi.platform) == ("uwsgi", LINUX_AMD64)
    # init verifies the import: the static command the build's check step runs after
    # a Python one is the build's to run (its failure is not the import's).
    collect = ("python", "manage.py", "collectstatic", "--noinput")
    with_static = dataclasses.replace(
        cfg, static=staticfiles.StaticFiles(url="/static/", dir="staticfiles", command=collect)
    )
    kept = verify.check_for(with_static, "amd64").config.static
    assert kept == staticfiles.StaticFiles(url="/static/", dir="staticfiles")
    assert with_static.static is not None
    assert with_static.static.command == collect

    inv = buildx.BuildInvocation(
        context=tmp_path, target="gunicorn", tags=("me/site:gunicorn",),
        labels=(("k", "v"),), output=None, cache_to=("type=registry,ref=x",),
    )  # fmt: skip
    argv = buildx.argv(verify.invocation(check, inv))
    assert argv[argv.index("--target") + 1] == "app-gunicorn"
    assert argv[-3:] == ["--output", "type=cacheonly", str(tmp_path)]
    assert not {"--tag", "--label", "--cache-to"} & set(argv)


def _failed_check(error_line: str) -> BuildError:
    log = (DATA / "import-check-no-libpq.log").read_text()
    log = log.replace(
        "ImportError: libpq.so.5: cannot open shared object file: No such file or directory",
        error_line,
    )
    inv = buildx.BuildInvocation(context=Path("/ctx"), target="app-gunicorn")
    return buildx.failure(inv, CommandError("x", argv=["docker"], returncode=1, output=log))


def test_a_failed_import_says_what_failed_its_last_line_and_how_to_fix_it(tmp_path: Path) -> None:
    """From the real log of a failed import check, its error swapped for the one a
    twelve-factor settings module gives without its variable."""
    write(tmp_path, {"requirements.txt": REQUIREMENTS, "app.py": "application = 1\n",
                     "pyproject.toml": '[tool.containerize]\napp = "app:application"\n'
                     'lock = "requirements.txt"\n'})  # fmt: skip
    check = verify.check_for(config.load(tmp_path, environ={}), "amd64")
    exc = _failed_check("KeyError: 'SECRET_KEY'")
    assert verify.is_import_failure(check, exc)
    verdict = verify.import_failed(
        check, "app:application", exc, others=("containerize init --force --app other:app",)
    )
    assert not verdict.verified
    assert verdict.comment == (
        "app not verified: importing it failed in the check stage of the gunicorn image, on\n"
        "linux/amd64:\n  KeyError: 'SECRET_KEY'\n"
        "fix that, then 'containerize build' checks it again"
    )
    assert verdict.lines[:2] == (
        "app: app:application did NOT import in the check stage of the gunicorn image, "
        "on linux/amd64:",
        "  KeyError: 'SECRET_KEY'",
    )
    text = "\n".join(verdict.lines)
    assert (
        "to fix it: give the settings it reads real values in [tool.containerize.test] env" in text
    )
    assert "  or choose another candidate: containerize init --force --app other:app" in text
    assert "set import-check = false" in text
    assert verdict.lines[-1] == "the table is written, marked unverified"


def test_an_import_that_connects_to_a_test_service_is_told_to_turn_the_check_off(
    tmp_path: Path,
) -> None:
    """Found in a public Flask app: psycopg2.connect(DATABASE_URL) at import. The
    import check has no services; no value in env helps, import-check = false does."""
    write(tmp_path, {"requirements.txt": REQUIREMENTS, "app.py": "application = 1\n",
                     "pyproject.toml": '[tool.containerize]\napp = "app:application"\n'
                     'lock = "requirements.txt"\n\n[tool.containerize.test.services]\n'
                     'db = {image = "postgres:15", port = 5432}\n'})  # fmt: skip
    check = verify.check_for(config.load(tmp_path, environ={}), "amd64")
    exc = _failed_check(
        'OperationalError: could not translate host name "db" to address: Temporary '
        "failure in name resolution"
    )
    verdict = verify.import_failed(check, "app:application", exc, others=())
    (fix,) = [line for line in verdict.lines if line.startswith("to fix it: ")]
    assert fix == (
        "to fix it: the import connects to db, a service the test matrix starts beside the "
        "app; the import check runs at build time, without network or services: set "
        "import-check = false in [tool.containerize] (each test cell still imports the app, "
        "with db running)"
    )
    # Another error of the same app keeps the usual ways.
    other = verify.import_failed(
        check, "app:application", _failed_check("KeyError: 'X'"), others=()
    )
    assert any(line.startswith("to fix it: give the settings") for line in other.lines)


def test_a_missing_library_names_its_cause() -> None:
    exc = _failed_check(
        "ImportError: libpq.so.5: cannot open shared object file: No such file or directory"
    )
    check = verify.Check(config=None, server="gunicorn", platform=LINUX_AMD64)  # type: ignore[arg-type]
    verdict = verify.import_failed(check, "app:application", exc, others=())
    assert verdict.lines[1] == (
        "  ImportError: libpq.so.5: cannot open shared object file: No such file or directory"
    )
    assert verdict.lines[2] == (
        "  cause: the shared library libpq.so.5 is not installed where the step runs"
    )
    assert "choose another candidate" not in "\n".join(verdict.lines)


def test_a_step_before_the_import_is_no_import_failure() -> None:
    log = (DATA / "psycopg2-no-pg-config.log").read_text()
    inv = buildx.BuildInvocation(context=Path("/ctx"), target=buildx.COMPILE_TARGET)
    exc = buildx.failure(inv, CommandError("x", argv=["docker"], returncode=1, output=log))
    check = verify.Check(config=None, server="gunicorn", platform=LINUX_AMD64)  # type: ignore[arg-type]
    assert not verify.is_import_failure(check, exc)


def test_the_other_candidates_are_offered_as_commands_that_write_their_table(
    tmp_path: Path,
) -> None:
    """What a failed import offers besides the test environment: each other app."""
    project = write(
        tmp_path / "two",
        {
            "requirements.txt": REQUIREMENTS,
            "admin.py": "from flask import Flask\n\nadmin = Flask(__name__)\n",
            "api.py": "import flask\n\napi = flask.Flask(__name__)\n",
        },
    )
    found = detect.detect(parse_project("", project / "pyproject.toml"), project, app="api:api")
    assert found.alternatives == ("containerize init --force --app 'admin:admin'",)
