"""What ``containerize init`` finds in projects as they come: apps that an import
defines, apps that share a name, requirements sets in subfolders and the files that
install them, the Python stated outside ``pyproject.toml``, no ``pyproject.toml`` at
all, settings read from the environment, and the health-check path. Each project is
a small tree written here; sources are read, never imported."""

from __future__ import annotations

import ast
import shlex
import textwrap
import tomllib
from pathlib import Path, PurePosixPath

import pytest
from init_helpers import init, no_engine, table, write  # noqa: F401 (no_engine: an autouse fixture)
from test_init import DJANGO_MANAGE, DJANGO_SETTINGS, DJANGO_WSGI, PYPROJECT, REQUIREMENTS

from containerize import cli
from containerize.commands import setup
from containerize.engine import buildx, probes
from containerize.init import environment, locks, python
from containerize.init.sources import (
    Sources,
    conditional_bindings,
    dev_word,
    import_bindings,
)

# A second hashed pin, for sets of several files.
GUNICORN = """\
gunicorn==23.0.0 \\
    --hash=sha256:ec400d38950de4dfd418cff8328b2c8faed0edb0d517d3394e457c317908ca4d
"""
FLASK_FACTORY = """\
from flask import Flask


def create_app():
    app = Flask(__name__)
    return app
"""


def printed(out: str, key: str) -> str:
    """The line init printed for *key*, with its evidence."""
    return next(line for line in out.splitlines() if line.startswith(f"{key} = "))


# --- only what an import defines ---------------------------------------------------


@pytest.mark.parametrize(
    ("file", "text"),
    [
        ("Procfile", "web: flask db upgrade; gunicorn blog:app\nworker: rq worker jobs\n"),
        (
            "boot.sh",
            "#!/bin/sh\n# gunicorn portal.tasks:app is the worker's\n"
            "exec gunicorn -b :5000 blog:app\n",
        ),
        ("Dockerfile", 'FROM python:3.11\nCMD ["gunicorn", "-b", ":5000", "blog:app"]\n'),
    ],
)
def test_the_projects_own_start_command_chooses_between_apps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str, text: str
) -> None:
    # The same factory called in the web entry point and in a worker's module: two
    # apps of one strength; the command that starts the web server names one.
    project = write(
        tmp_path / "blog",
        {
            "requirements.txt": "flask==3.1.0\n",
            "portal/__init__.py": FLASK_FACTORY,
            "portal/tasks.py": "from portal import create_app\n\napp = create_app()\n",
            "blog.py": "from portal import create_app\n\napp = create_app()\n",
            file: text,
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["app"] == "blog:app"
    line = printed(out, "app")
    assert f"({file}:" in line
    notes = [n for n in out.splitlines() if n.startswith("note: app: also found")]
    assert [n.split()[4] for n in notes] == ["portal.tasks:app", "portal:create_app()"]
    # Without the start command the two are an error that lists both.
    (project / file).unlink()
    (project / "pyproject.toml").unlink()
    assert init(project) == 2
    err = capsys.readouterr().err
    assert "2 WSGI applications found" in err


def test_an_app_bound_under_main_is_no_candidate_the_factory_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run.py binds app only when run as a script: importing run gives no 'app'. The
    factory it calls is the app."""
    project = write(
        tmp_path / "run-main",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "run.py": """\
                from portal import create_app

                if __name__ == "__main__":
                    app = create_app()
                    app.run(debug=True)
                """,
            "portal/__init__.py": FLASK_FACTORY,
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["app"] == "portal:create_app()"
    assert "def create_app() returns a Flask app (portal/__init__.py:4)" in printed(out, "app")
    assert (
        "note: app: run:app is not a candidate: app = create_app() (run.py:4) is bound only "
        'under if __name__ == "__main__": (line 3), which an import does not run, so '
        "importing the module may not define it"
    ) in out.splitlines()


def test_apps_bound_in_branches_that_may_not_run(tmp_path: Path) -> None:
    """A binding in one branch only may be missing after the import; one in every
    branch (or after a branch that raises) is there."""
    project = write(
        tmp_path / "branches",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "optional.py": """\
                import os
                from flask import Flask

                try:
                    import sentry_sdk
                    app = Flask(__name__)
                except ImportError:
                    pass
                """,
            "everywhere.py": """\
                import os
                from flask import Flask

                if os.environ.get("DEBUG"):
                    application = Flask(__name__, static_folder=None)
                elif os.environ.get("X"):
                    raise RuntimeError("X is not supported")
                else:
                    application = Flask(__name__)
                """,
        },
    )
    sources = Sources(project)
    optional = sources.get(PurePosixPath("optional.py"))
    everywhere = sources.get(PurePosixPath("everywhere.py"))
    assert optional is not None
    assert everywhere is not None
    assert "app" not in {b.name for b in import_bindings(optional.tree)}
    [why] = [w for b, w in conditional_bindings(optional.tree) if b.name == "app"]
    assert why == "in a try block (line 4) that may fail first"
    assert "application" in {b.name for b in import_bindings(everywhere.tree)}
    assert init(project) == 0
    assert table(project)["app"] == "everywhere:application"


def test_a_wsgi_py_that_binds_application_in_one_branch_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "branch-wsgi",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "wsgi.py": "import os\n\nif os.environ.get('LEGACY'):\n"
            "    from legacy import application\n",
        },
    )
    assert init(project) == 2
    err = capsys.readouterr().err
    assert "no WSGI application found" in err
    assert "\n  wsgi:application is not a candidate: 'application' (wsgi.py:4)" in err
    assert init(project, "--app", "wsgi:application", "--dry-run") == 0
    assert (
        "note: app: wsgi:application is not a candidate: 'application' (wsgi.py:4) is bound "
        "only when os.environ.get('LEGACY') (line 3) at import, so importing the file may "
        "not define it"
    ) in capsys.readouterr().out.splitlines()


def test_type_checking_imports_bind_nothing(tmp_path: Path) -> None:
    project = write(
        tmp_path / "typing",
        {"m.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\nimport y\n"},
    )
    source = Sources(project).get(PurePosixPath("m.py"))
    assert source is not None
    assert [b.name for b in import_bindings(source.tree)] == ["TYPE_CHECKING", "y"]


# --- apps that share a name --------------------------------------------------------


def _django_in(folder: str) -> dict[str, str]:
    return {
        f"{folder}/manage.py": DJANGO_MANAGE,
        f"{folder}/mysite/__init__.py": "",
        f"{folder}/mysite/settings.py": DJANGO_SETTINGS,
        f"{folder}/mysite/wsgi.py": DJANGO_WSGI,
    }


def test_apps_that_share_a_name_are_chosen_by_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three tutorial steps, each a mysite/wsgi.py: the error lists them by folder, and
    the hint, run as written, chooses one."""
    files = {"pyproject.toml": PYPROJECT, "requirements.txt": REQUIREMENTS}
    for step in ("part1", "part2", "part 3"):
        files.update(_django_in(step))
    project = write(tmp_path / "tutorial", files)
    assert init(project) == 2
    err = capsys.readouterr().err
    assert "3 WSGI applications found in 3 folders; which one does the image serve?" in err
    assert (
        '  part1/: mysite.wsgi:application (WSGI_APPLICATION = "mysite.wsgi.application" '
        "(part1/mysite/settings.py:6); 'application' in a wsgi.py (part1/mysite/wsgi.py:7))"
    ) in err.splitlines()
    assert "  part 3/: mysite.wsgi:application" in err
    hint = next(line for line in err.splitlines() if line.strip().startswith("hint:"))
    assert (
        hint.strip() == "hint: choose one by its folder: containerize init --app-directory 'part 3'"
    )

    command = shlex.split(hint.partition("by its folder: ")[2])
    assert command[:2] == ["containerize", "init"]
    assert cli.main(["--project", str(project), *command[1:]]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["app-directory"] == "part 3"
    assert table(project)["app"] == "mysite.wsgi:application"
    assert "chosen with --app-directory" in printed(out, "app-directory")
    # The others are named with the options that would choose them.
    assert "; to choose it: containerize init --app-directory part1\n" in out


def test_app_directory_that_holds_no_app(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "empty-folder",
        {"pyproject.toml": PYPROJECT, "docs/x.txt": "", **_django_in("site")},
    )
    assert init(project, "--app-directory", "docs") == 2
    assert "--app-directory docs: no WSGI application is imported from that folder" in (
        capsys.readouterr().err
    )
    assert init(project, "--app-directory", "../elsewhere") == 2
    assert "not a folder inside the project" in capsys.readouterr().err


# --- what production installs ------------------------------------------------------

AGGREGATOR = """\
# Every set, for the dependency bot.
-r requirements/main.txt
-r requirements/deploy.txt
-r requirements/test.txt
-r requirements/lint.txt
"""


def _sets(tmp_path: Path, **more: str) -> Path:
    return write(
        tmp_path / "sets",
        {
            "pyproject.toml": PYPROJECT,
            "app.py": "from flask import Flask\n\napp = Flask(__name__)\n",
            "requirements.txt": AGGREGATOR,
            "requirements/main.txt": REQUIREMENTS,
            "requirements/deploy.txt": GUNICORN,
            "requirements/test.txt": "-r main.txt\npytest==8.3.4 \\\n    --hash=sha256:"
            + "0" * 64
            + "\n",
            "requirements/lint.txt": "ruff==0.9.0 \\\n    --hash=sha256:" + "1" * 64 + "\n",
            **more,
        },
    )


def test_the_production_sets_beat_an_aggregator_of_every_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _sets(tmp_path)
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["lock"] == ["requirements/deploy.txt", "requirements/main.txt"]
    assert (
        "of 5 requirements files, those not named for development that no other includes "
        "(requirements/lint.txt, requirements/test.txt left out)"
    ) in printed(out, "lock")
    assert (
        "note: lock: requirements.txt is not chosen: it includes requirements/test.txt, a "
        "'test' set"
    ) in out.splitlines()


@pytest.mark.parametrize(
    ("where", "text", "line"),
    [
        (
            "Dockerfile",
            "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements requirements\n"
            "RUN pip install --no-cache-dir \\\n    -r requirements/main.txt \\\n"
            "    -r requirements/deploy.txt\nCOPY . .\n",
            4,
        ),
        (
            ".github/workflows/deploy.yml",
            "jobs:\n  deploy:\n    steps:\n      - run: |\n          python -m pip install "
            "-r /srv/site/requirements/main.txt -r /srv/site/requirements/deploy.txt\n",
            5,
        ),
        (
            ".gitlab-ci.yml",
            "deploy:\n  script:\n    - uv pip install --system --requirement=requirements/main.txt"
            " -r requirements/deploy.txt && ./deploy.sh\n",
            3,
        ),
    ],
)
def test_the_set_the_deployment_installs_is_chosen(
    tmp_path: Path, where: str, text: str, line: int, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _sets(tmp_path, **{where: text})
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["lock"] == ["requirements/main.txt", "requirements/deploy.txt"]
    assert f"({where}:{line})" in printed(out, "lock")


def test_a_deployment_file_beats_ci_and_test_sets_are_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _sets(
        tmp_path,
        **{
            ".github/workflows/test.yml": "steps:\n  - run: pip install -r requirements/main.txt"
            " -r requirements/test.txt\n",
        },
    )
    assert init(project) == 0
    out = capsys.readouterr().out
    assert table(project)["lock"] == "requirements/main.txt"
    assert "requirements/test.txt left out: a 'test' set (.github/workflows/test.yml:2)" in printed(
        out, "lock"
    )

    write(project, {"Procfile": "release: pip install -r requirements/deploy.txt\n"})
    assert init(project, "--force") == 0
    assert table(project)["lock"] == "requirements/deploy.txt"


def test_a_set_is_chosen_with_lock_repeated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _sets(tmp_path)
    args = ("--lock", "requirements/main.txt", "--lock", "requirements/lint.txt")
    assert init(project, *args) == 0, capsys.readouterr().err
    assert table(project)["lock"] == ["requirements/main.txt", "requirements/lint.txt"]
    assert "chosen with --lock" in printed(capsys.readouterr().out, "lock")

    write(project, {"uv.lock": ""})
    assert init(project, "--force", "--lock", "uv.lock", "--lock", "requirements/main.txt") == 2
    assert "only requirements files (.txt) make a lock together" in capsys.readouterr().err


def test_the_app_folders_own_requirements_are_chosen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each folder its own project: the chosen app's requirements, never another's."""
    files = {"pyproject.toml": PYPROJECT}
    for step in ("part1", "part2"):
        files.update(_django_in(step))
        files[f"{step}/requirements.txt"] = REQUIREMENTS
    project = write(tmp_path / "steps", files)
    assert init(project, "--app-directory", "part2") == 0, capsys.readouterr().err
    assert table(project)["lock"] == "part2/requirements.txt"
    capsys.readouterr()

    write(project, {"tools/requirements.txt": REQUIREMENTS, "wsgi.py": "application = None\n"})
    assert init(project, "--force", "--app", "wsgi:application") == 0
    out = capsys.readouterr().out
    assert "lock" not in table(project)
    assert (
        "note: lock: requirements files of other folders are not chosen (part1/requirements.txt, "
        "part2/requirements.txt); 'containerize init --lock FILE' chooses one"
    ) in out.splitlines()


def test_development_sets_are_never_chosen(tmp_path: Path) -> None:
    project = write(
        tmp_path / "dev-only",
        {
            "requirements-dev.txt": REQUIREMENTS,
            "requirements/docs.txt": REQUIREMENTS,
            "requirements/prod.txt": REQUIREMENTS,
            "tests/requirements.txt": REQUIREMENTS,
        },
    )
    found = locks.find(project, declares_dependencies=False)
    assert found.files == (PurePosixPath("requirements/prod.txt"),)
    assert {dev_word(p) for p in found.all_files} == {"dev", "docs", None, "tests"}


def test_pins_without_hashes_in_a_subfolder_are_locked_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "unhashed",
        {
            "pyproject.toml": PYPROJECT,
            "app.py": "from flask import Flask\n\napp = Flask(__name__)\n",
            "requirements/base.txt": "flask==3.1.0\n",
            "requirements/production.txt": "-r base.txt\ngunicorn>=23\n",
            "requirements/local.txt": "-r base.txt\nwerkzeug[watchdog]==3.1.3\n",
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "lock" not in table(project)
    assert (
        "note: lock: not set: requirements/production.txt pin without hashes (gunicorn>=23, "
        "requirements/production.txt:2 and 1 more), so they are no lock; 'containerize lock' "
        "makes a hashed lock of them"
    ) in out.splitlines()
    assert "next: 'containerize lock requirements/production.txt'" in out


#: The smallest locks pipenv and PDM write (no packages), as their readers take them.
EMPTY_LOCKS = {
    "Pipfile.lock": '{"_meta": {"hash": {"sha256": "'
    + "0" * 64
    + '"}, "pipfile-spec": 6, "requires": {"python_version": "3.11"}, "sources": []}, '
    '"default": {}, "develop": {}}\n',
    "pdm.lock": '[metadata]\ngroups = ["default"]\nstrategy = ["inherit_metadata"]\n'
    'lock_version = "4.5.0"\ncontent_hash = "sha256:' + "0" * 64 + '"\n\n'
    '[[metadata.targets]]\nrequires_python = ">=3.11"\n',
}


@pytest.mark.parametrize("name", ["Pipfile.lock", "pdm.lock"])
def test_pipenv_and_pdm_locks_are_found(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "locked",
        {
            "pyproject.toml": PYPROJECT,
            "app.py": "from flask import Flask\n\napp = Flask(__name__)\n",
            name: EMPTY_LOCKS[name],
            "requirements-dev.txt": REQUIREMENTS,
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["lock"] == name
    assert "the only lock file beside pyproject.toml" in printed(out, "lock")


def test_a_pipfile_without_its_lock_is_locked_next(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "pipfile",
        {
            "app.py": "from flask import Flask\n\napp = Flask(__name__)\n",
            "Pipfile": '[packages]\nflask = "*"\n\n[requires]\npython_version = "3.13"\n',
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "lock" not in table(project)
    assert "'containerize lock' makes one from the Pipfile" in out
    assert table(project)["base-image"] == "python:3.13-slim-bookworm"
    assert 'python_version = "3.13" (Pipfile:5)' in printed(out, "base-image")
    assert out.splitlines()[-2] == "next: 'containerize lock Pipfile'"


# --- the Python --------------------------------------------------------------------


# --- the server the project runs ------------------------------------------------------

APP = "from flask import Flask\n\napp = Flask(__name__)\n"


@pytest.mark.parametrize(
    ("files", "expected", "evidence"),
    [
        ({".python-version": "3.12.7\n"}, "3.12", "3.12.7 (.python-version:1)"),
        ({"runtime.txt": "python-3.13.1\n"}, "3.13", "python-3.13.1 (runtime.txt:1)"),
        (
            {"Dockerfile": "# syntax=docker/dockerfile:1\nFROM python:3.12-slim AS base\n"},
            "3.12",
            "FROM python:3.12-slim AS base (Dockerfile:2)",
        ),
        (
            {"Pipfile": '[packages]\n\n[requires]\npython_full_version = "3.10.4"\n'},
            "3.10",
            'python_full_version = "3.10.4" (Pipfile:4)',
        ),
    ],
)
def test_the_python_stated_outside_pyproject(
    tmp_path: Path,
    files: dict[str, str],
    expected: str,
    evidence: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = write(
        tmp_path / "stated",
        {
            "pyproject.toml": PYPROJECT.replace(">=3.11", ">=3.10"),
            "requirements.txt": REQUIREMENTS,
            "app.py": "from flask import Flask\n\napp = Flask(__name__)\n",
            **files,
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["base-image"] == f"python:{expected}-slim-bookworm"
    assert evidence in printed(out, "base-image")


def test_pythons_that_disagree_are_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The newest stated Python that every constraint allows wins; the others are
    named with why they were not used."""
    project = write(
        tmp_path / "disagree",
        {
            "pyproject.toml": PYPROJECT.replace(">=3.11", ">=3.11,<3.13"),
            "requirements.txt": REQUIREMENTS,
            "app.py": "from flask import Flask\n\napp = Flask(__name__)\n",
            ".python-version": "3.13\n",
            "runtime.txt": "python-3.11.9\n",
            "Dockerfile": "FROM python:3.12-slim-bookworm\n",
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["base-image"] == "python:3.12-slim-bookworm"
    lines = out.splitlines()
    assert (
        "note: python: the project states several Pythons: 3.13 (.python-version:1), 3.11 "
        "(runtime.txt:1), 3.12 (Dockerfile:1); 3.12 is the newest that fits"
    ) in lines
    assert (
        "note: python: 3.13 (.python-version:1) is not used: it does not satisfy "
        'requires-python = ">=3.11,<3.13" (pyproject.toml:5)'
    ) in lines


def test_a_packages_own_requires_python_rules_out_older_pythons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing but the lock says it: Django 6 records Requires-Python >=3.12."""
    project = write(
        tmp_path / "django6",
        {
            "pyproject.toml": '[project]\nname = "site"\nversion = "1"\n'
            'dependencies = ["django>=6"]\n',
            "wsgi.py": "application = None\n",
            "pylock.toml": 'lock-version = "1.0"\ncreated-by = "uv"\n\n[[packages]]\n'
            'name = "django"\nversion = "6.0"\nrequires-python = ">=3.12"\n'
            'wheels = [{ url = "https://files.invalid/django-6.0-py3-none-any.whl", '
            'hashes = { sha256 = "' + "2" * 64 + '" } }]\n',
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["base-image"] == "python:3.12-slim-bookworm"
    assert "django 6.0 requires Python >=3.12 (pylock.toml)" in printed(out, "base-image")


def test_without_any_statement_the_lock_will_tell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "nothing",
        {"requirements.txt": "django==5.2\n", "wsgi.py": "application = None\n"},
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert (
        "note: python: nothing in the project states it; the pins' own needs (their "
        "Requires-Python) are known from the lock after 'containerize lock': run "
        "'containerize init --force' then to check this choice"
    ) in out.splitlines()


# --- pyproject.toml ----------------------------------------------------------------


def test_no_pyproject_one_is_created_with_the_table_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "My Site",
        {"requirements.txt": REQUIREMENTS, "wsgi.py": "application = None\n"},
    )
    assert init(project, "--dry-run") == 0
    assert "is not created" in capsys.readouterr().out
    assert not (project / "pyproject.toml").exists()

    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(
        "[tool.containerize]\n"
        "# app not verified: no engine answered; 'containerize build' checks it\n"
        'app = "wsgi:application"\n'
    )
    assert set(tomllib.loads(text)) == {"tool"}
    assert (project / "pyproject.toml").stat().st_mode & 0o777 == 0o644
    assert f"created {project / 'pyproject.toml'} with [tool.containerize] only" in out


def test_a_tool_only_pyproject_gets_the_table_and_keeps_every_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = "# linters only\n[tool.isort]\nprofile = 'black'   # spacing kept\n"
    project = write(
        tmp_path / "tool-only",
        {
            "pyproject.toml": original,
            "requirements.txt": REQUIREMENTS,
            "wsgi.py": "application = None\n",
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(original + "\n[tool.containerize]\n")
    assert tomllib.loads(text)["tool"]["isort"] == {"profile": "black"}


# --- the test environment ----------------------------------------------------------


def test_settings_read_from_the_environment_at_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = """\
        import os

        import environ
        from decouple import config
        from pydantic_settings import BaseSettings, SettingsConfigDict

        env = environ.Env(DEBUG=(bool, False))

        SECRET_KEY = os.environ["SECRET_KEY"]
        DEBUG = env("DEBUG")
        ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
        DATABASES = {"default": env.db()}
        SENTRY_DSN = os.getenv("SENTRY_DSN")
        TIME_ZONE = os.getenv("TIME_ZONE", "UTC")
        LANGUAGE = os.environ.get("LANGUAGE") or "en"
        VERBOSE = os.environ.get("VERBOSE") == "1"
        STRICT = os.environ["STRICT"] == "1"
        API_KEY = config("API_KEY")
        CACHE_SECONDS = config("CACHE_SECONDS", cast=int)
        EMAIL_HOST = config("EMAIL_HOST", default="localhost")
        CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
        WSGI_APPLICATION = "mysite.wsgi.application"


        class Payments(BaseSettings):
            model_config = SettingsConfigDict(env_prefix="PAY_")
            token: str
            timeout: int = 10


        def later():
            return os.environ["ONLY_WHEN_CALLED"]


        if __name__ == "__main__":
            print(os.environ["ONLY_AS_A_SCRIPT"])
        """
    project = write(
        tmp_path / "twelve",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "manage.py": DJANGO_MANAGE,
            "mysite/__init__.py": "",
            "mysite/settings.py": settings,
            "mysite/wsgi.py": DJANGO_WSGI,
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(project)["test"] == {
        "env": {
            "ALLOWED_HOSTS": "*",
            "API_KEY": "placeholder",
            "CACHE_SECONDS": "1",
            "DATABASE_URL": "postgres://placeholder:placeholder@localhost:5432/placeholder",
            "PAY_TOKEN": "placeholder",
            "SECRET_KEY": "placeholder",
            "STRICT": "placeholder",
        },
        # The cache backend names Redis; DATABASE_URL names no server (no driver in
        # the lock): tests/unit/test_init_services.py has the rest.
        "services": {"cache": {"image": "redis:7", "port": 6379, "ready": ["redis-cli", "ping"]}},
    }
    text = (project / "pyproject.toml").read_text()
    assert (
        "[tool.containerize.test]\n# Placeholders for the settings the app reads from the "
        "environment when imported:\n# used by the import check and the test matrix only, "
        "never baked into an image.\n"
    ) in text
    line = printed(out, "test")
    assert 'os.environ["SECRET_KEY"] (mysite/settings.py:9)' in line
    assert "env.db() (mysite/settings.py:12)" in line
    assert "Payments.token: str (BaseSettings) (mysite/settings.py:27)" in line
    assert (
        "Redis beside the app: 'django.core.cache.backends.redis.RedisCache' "
        "(mysite/settings.py:21); redis:7: not checked, no engine answered"
    ) in line
    assert (
        "note: services: the app reads DATABASE_URL (env.db() (mysite/settings.py:12)), but no "
        "driver in the lock or setting says which database server it is"
    ) in out


def test_a_factory_body_runs_at_import(tmp_path: Path) -> None:
    project = write(
        tmp_path / "factory-env",
        {
            "portal/__init__.py": """\
                import os

                from flask import Flask

                from .config import Config


                def create_app():
                    app = Flask(__name__)
                    app.config.from_object(Config)
                    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
                    return app
                """,
            "portal/config.py": """\
                import os


                class Config:
                    SECRET_KEY = os.environ.get("SECRET_KEY")
                    MAIL_SERVER = "mysql://db/mail"
                """,
        },
    )
    sources = Sources(project)
    source = sources.module("portal", near=PurePosixPath("."))
    assert source is not None
    found = environment.find(sources, [source], factories=[(source, "create_app")])
    # SECRET_KEY = os.environ.get(...) is None when unset, which an import survives.
    assert {r.name: r.placeholder for r in found.reads} == {
        "DATABASE_URL": "postgres://placeholder:placeholder@localhost:5432/placeholder",
    }
    assert [service for service, _ in found.services] == ["MySQL"]


def test_a_django_secret_key_from_the_environment_gets_a_placeholder(tmp_path: Path) -> None:
    """Found in a public project: SECRET_KEY = os.environ.get("SECRET_KEY") imports
    as None, and then Django answered every request with 500 ('The SECRET_KEY setting
    must not be empty') in the test matrix. A module-level SECRET_KEY read without a
    default is required; other reads kept as None stay optional."""
    project = write(
        tmp_path / "secret",
        {
            "settings.py": """\
                import os

                SECRET_KEY = os.environ.get("SECRET_KEY")
                DEBUG = os.environ.get("DEBUG")
                SENTRY_DSN = os.getenv("SENTRY_DSN")
                """,
        },
    )
    sources = Sources(project)
    source = sources.get(PurePosixPath("settings.py"))
    assert source is not None
    found = environment.find(sources, [source])
    assert [(r.name, r.placeholder, r.evidence.line) for r in found.reads] == [
        ("SECRET_KEY", "placeholder", 3)
    ]


def test_a_setting_read_only_when_set_or_kept_as_none_is_not_required(tmp_path: Path) -> None:
    # The shapes of a real Wagtail site's and a real Flask app's settings: a feature
    # turned on by a variable, values that stay None, and values used at once.
    settings = """\
        import os

        if "CSP_DEFAULT_SRC" in os.environ:
            CSP_DEFAULT_SRC = os.environ.get("CSP_DEFAULT_SRC").split(",")
            if "CSP_SCRIPT_SRC" in os.environ:
                CSP_SCRIPT_SRC = os.environ.get("CSP_SCRIPT_SRC").split(",")
        if "CDN_TOKEN" in os.environ or "CDN_BEARER" in os.environ:
            CDN_ZONE = os.environ["CDN_ZONE"]
        if os.getenv("BUCKET") and True:
            BUCKET_REGION = os.environ["BUCKET_REGION"]
        if "SECRET" not in os.environ:
            SECRET = "generated"
        else:
            SECRET = os.environ["SECRET"]
        if "DEBUG" in os.environ:
            DEBUG = True
        else:
            KEY = os.environ["KEY"]
        SERVER_NAME = os.environ.get("SERVER_NAME")
        MAIL_SERVER = os.getenv("MAIL_SERVER")
        HOSTS = os.environ.get("HOSTS").split(",")
        PORT = int(os.getenv("PORT"))
        URL = os.getenv("BASE") + "/api"
        """
    project = write(tmp_path / "optional", {"settings.py": settings})
    sources = Sources(project)
    source = sources.get(PurePosixPath("settings.py"))
    assert source is not None
    found = environment.find(sources, [source])
    assert sorted(r.name for r in found.reads) == ["BASE", "HOSTS", "KEY", "PORT"]


def test_a_function_the_import_calls_runs_at_import(tmp_path: Path) -> None:
    """application = create_app() in a wsgi.py: the factory's body (and what it calls)
    runs at import; a function nobody calls does not."""
    project = write(
        tmp_path / "called",
        {
            "wsgi.py": "from portal import create_app\n\napplication = create_app()\n",
            "portal/__init__.py": """\
                import os

                from flask import Flask


                def _configure(app):
                    app.config["TOKEN"] = os.environ["API_TOKEN"]


                def create_app():
                    app = Flask(__name__)
                    _configure(app)
                    return app


                def unused():
                    return os.environ["NEVER_READ"]
                """,
        },
    )
    sources = Sources(project)
    wsgi = sources.get(PurePosixPath("wsgi.py"))
    assert wsgi is not None
    found = environment.find(sources, [wsgi])
    assert [(r.name, str(r.evidence)) for r in found.reads] == [
        ("API_TOKEN", 'os.environ["API_TOKEN"] (portal/__init__.py:7)')
    ]


def test_what_a_paste_deploy_file_calls_runs_at_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path / "paste-env",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "production.ini": "[app:main]\nuse = call:portal.app:main\n",
            "portal/__init__.py": "",
            "portal/app.py": """\
                import os


                def main(global_config, **settings):
                    settings["sqlalchemy.url"] = os.environ["DATABASE_URL"]
                    return None
                """,
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    assert table(project)["test"] == {
        "env": {"DATABASE_URL": "postgres://placeholder:placeholder@localhost:5432/placeholder"}
    }


def test_placeholders() -> None:
    assert environment.placeholder("DEBUG", "str") == "false"
    assert environment.placeholder("FEATURE", "bool") == "false"
    assert environment.placeholder("REDIS_URL", "str") == "redis://localhost:6379/0"
    assert environment.placeholder("DB", "PostgresDsn") == (
        "postgres://placeholder:placeholder@localhost:5432/placeholder"
    )
    assert environment.placeholder("SECRET_KEY", "str") == "placeholder"


# --- the health-check path ---------------------------------------------------------

URLS = """\
from django.contrib.auth.decorators import login_required
from django.urls import include, path

from . import views

urlpatterns = [
    path("", {root}),
    path("accounts/", include("django.contrib.auth.urls")),
]
"""


@pytest.mark.parametrize(
    ("root", "views", "expected"),
    [
        ("login_required(views.home)", "def home(request):\n    pass\n", "/accounts/login/"),
        (
            "views.home",
            "from django.contrib.auth.decorators import login_required\n\n\n"
            "@login_required\ndef home(request):\n    pass\n",
            "/accounts/login/",
        ),
        (
            "views.Home.as_view()",
            "from django.contrib.auth.mixins import LoginRequiredMixin\n"
            "from django.views.generic import TemplateView\n\n\n"
            "class Home(LoginRequiredMixin, TemplateView):\n    pass\n",
            "/accounts/login/",
        ),
        ("views.home", "def home(request):\n    pass\n", None),  # / answers anyone
    ],
)
def test_django_login_url_when_the_root_needs_a_login(
    django_project: Path,
    root: str,
    views: str,
    expected: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(django_project, {"mysite/urls.py": URLS.format(root=root), "mysite/views.py": views})
    assert init(django_project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert table(django_project).get("healthcheck-path") == expected
    if expected is not None:
        line = printed(out, "healthcheck-path")
        assert 'LOGIN_URL = "/accounts/login/" (mysite/settings.py:10)' in line
        assert "/ needs a login" in line
        assert "(mysite/urls.py:7)" in line


@pytest.mark.parametrize(
    ("views", "expected"),
    [
        ("def home(request):\n    pass\n", "/accounts/login/"),
        (
            "from django.contrib.auth.decorators import login_not_required\n\n\n"
            "@login_not_required\ndef home(request):\n    pass\n",
            None,
        ),
    ],
)
def test_django_login_url_when_the_middleware_makes_every_view_need_a_login(
    django_project: Path, views: str, expected: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = django_project / "mysite/settings.py"
    settings.write_text(
        settings.read_text()
        + 'MIDDLEWARE = [\n    "django.contrib.auth.middleware.LoginRequiredMiddleware",\n]\n'
    )
    write(
        django_project, {"mysite/urls.py": URLS.format(root="views.home"), "mysite/views.py": views}
    )
    assert init(django_project) == 0, capsys.readouterr().err
    assert table(django_project).get("healthcheck-path") == expected
    if expected is not None:
        line = printed(capsys.readouterr().out, "healthcheck-path")
        assert (
            "every view needs a login: MIDDLEWARE has "
            "django.contrib.auth.middleware.LoginRequiredMiddleware (mysite/settings.py:12)"
        ) in line


def test_django_login_url_when_the_root_is_not_routed(
    django_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(django_project, {"mysite/urls.py": "from django.urls import path\n\nurlpatterns = []\n"})
    assert init(django_project) == 0
    assert table(django_project)["healthcheck-path"] == "/accounts/login/"
    assert "no pattern routes / (mysite/urls.py)" in printed(
        capsys.readouterr().out, "healthcheck-path"
    )


def test_a_health_route_wins(django_project: Path) -> None:
    write(
        django_project,
        {
            "mysite/urls.py": URLS.format(root="login_required(views.home)").replace(
                "urlpatterns = [", 'urlpatterns = [\n    path("healthz/", views.health),'
            ),
            "mysite/views.py": "def home(request):\n    pass\n",
        },
    )
    assert init(django_project) == 0
    assert table(django_project)["healthcheck-path"] == "/healthz/"


@pytest.fixture
def django_project(tmp_path: Path) -> Path:
    settings = textwrap.dedent(DJANGO_SETTINGS) + 'ROOT_URLCONF = "mysite.urls"\n'
    settings += 'LOGIN_URL = "/accounts/login/"\n'
    return write(
        tmp_path / "login",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "manage.py": DJANGO_MANAGE,
            "mysite/__init__.py": "",
            "mysite/settings.py": settings,
            "mysite/wsgi.py": DJANGO_WSGI,
        },
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ('@app.get("/healthz")\ndef ok():\n    return "ok"\n', "/healthz"),
        ('@app.route("/health", methods=["GET"])\ndef ok():\n    return "ok"\n', "/health"),
        ('@bp.route("/health")\ndef ok():\n    return "ok"\n', None),  # under /api
        ('@app.route("/healthy")\ndef ok():\n    return "ok"\n', None),
    ],
)
def test_flask_health_routes(tmp_path: Path, code: str, expected: str | None) -> None:
    project = write(
        tmp_path / "flask-health",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "app.py": "from flask import Blueprint, Flask\n\napp = Flask(__name__)\n"
            'bp = Blueprint("api", __name__, url_prefix="/api")\n\n' + code,
        },
    )
    assert init(project) == 0
    assert table(project).get("healthcheck-path") == expected


@pytest.mark.parametrize(("imported", "expected"), [(True, "/health"), (False, None)])
def test_a_health_route_counts_where_the_app_imports_it(
    tmp_path: Path, imported: bool, expected: str | None
) -> None:
    """A blueprint's route serves the app when the app's import runs its module."""
    project = write(
        tmp_path / "blueprint",
        {
            "pyproject.toml": PYPROJECT,
            "requirements.txt": REQUIREMENTS,
            "app.py": "from flask import Flask\n\napp = Flask(__name__)\n"
            + ("from ops import bp\napp.register_blueprint(bp)\n" if imported else ""),
            "ops.py": 'from flask import Blueprint\n\nbp = Blueprint("ops", __name__)\n\n\n'
            '@bp.get("/health")\ndef health():\n    return "ok"\n',
        },
    )
    assert init(project) == 0
    assert table(project).get("healthcheck-path") == expected


def test_is_main_guard_either_way_round() -> None:
    from containerize.init.sources import is_main_guard  # noqa: PLC0415

    for text in ('__name__ == "__main__"', "'__main__' == __name__"):
        expression = ast.parse(text, mode="eval").body
        assert is_main_guard(expression)
    assert not is_main_guard(ast.parse('__name__ != "__main__"', mode="eval").body)


def test_a_stated_python_no_local_base_has_names_only_newer_bases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # .python-version says 3.12 and nothing is locked yet: the bookworm base's 3.11 is
    # older than what the project states, so it is not offered as one that fits.
    project = write(
        tmp_path / "site",
        {
            ".python-version": "3.12\n",
            "requirements.txt": "flask==3.1.0\n",
            "wsgi.py": "application = None\n",
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    (note,) = [n for n in out.splitlines() if n.startswith("note: base-image:")]
    assert note.endswith(
        "of those, 127.0.0.1:5000/containerize/python:3.13-trixie "
        "('containerize base-image --python 3.13') fits the project too"
    )
    assert "3.11-bookworm" not in note


def test_a_scheme_the_code_only_rewrites_is_no_service(tmp_path: Path) -> None:
    # A Flask config that falls back to SQLite and fixes Heroku's old URL scheme.
    config = """\
        import os


        class Config:
            SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "").replace(
                "postgres://", "postgresql://"
            ) or "sqlite:///app.db"
            CACHE = "redis://cache:6379/0"
        """
    project = write(tmp_path / "rewrite", {"config.py": config})
    sources = Sources(project)
    source = sources.get(PurePosixPath("config.py"))
    assert source is not None
    found = environment.find(sources, [source])
    assert [service for service, _ in found.services] == ["Redis"]


# --- the server the project runs ------------------------------------------------------

APP = "from flask import Flask\n\napp = Flask(__name__)\n"


@pytest.mark.parametrize(
    ("files", "expected", "evidence"),
    [
        (
            {"Procfile": "web: uwsgi --ini uwsgi.ini\nworker: celery -A blog worker\n"},
            ["uwsgi"],
            ["runs uwsgi: web: uwsgi --ini uwsgi.ini (Procfile:1)"],
        ),
        (
            {
                "boot.sh": "#!/bin/sh\nflask db upgrade\nexec gunicorn -b :5000 blog:app\n",
                "Dockerfile": "FROM python:3.12-slim\nRUN pip install gunicorn\n"
                'ENTRYPOINT ["./boot.sh"]\n',
            },
            ["gunicorn"],
            ["runs gunicorn: exec gunicorn -b :5000 blog:app (boot.sh:3)"],
        ),
        (
            {
                "Dockerfile": "FROM python:3.12-slim\nRUN pip install mod_wsgi\n"
                'CMD ["/venv/bin/mod_wsgi-express", "start-server", "blog.wsgi"]\n',
                "Procfile.dev": "web: gunicorn --reload blog:app\n",
            },
            ["mod_wsgi"],
            [
                'runs mod_wsgi: CMD ["/venv/bin/mod_wsgi-express", "start-server", "blog.wsgi"] '
                "(Dockerfile:3)"
            ],
        ),
        (
            {"run.sh": "python -m cheroot blog:app\n", "Procfile": "web: gunicorn blog:app\n"},
            ["gunicorn", "cheroot"],
            [
                "runs gunicorn: web: gunicorn blog:app (Procfile:1)",
                "runs cheroot: python -m cheroot blog:app (run.sh:1)",
            ],
        ),
    ],
)
def test_the_server_the_project_runs_today_is_proposed(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    expected: list[str],
    evidence: list[str],
) -> None:
    project = write(tmp_path / "blog", {"requirements.txt": REQUIREMENTS, "blog.py": APP, **files})
    assert init(project) == 0, capsys.readouterr().err
    assert table(project)["servers"] == expected
    assert printed(capsys.readouterr().out, "servers").endswith("; ".join(evidence))


def test_where_nothing_names_a_server_gunicorn_stays_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Installed, and run only by a development file: nothing production runs.
    project = write(
        tmp_path / "blog",
        {
            "requirements.txt": REQUIREMENTS,
            "blog.py": APP,
            "Dockerfile": "FROM python:3.12-slim\nRUN pip install uwsgi\nCMD flask run\n",
            "Procfile.dev": "web: uwsgi --http :8000 -w blog:app\n",
        },
    )
    assert init(project) == 0, capsys.readouterr().err
    assert "servers" not in table(project)


# --- a base image that resolves -------------------------------------------------------


def _chosen(version: tuple[int, int]) -> python.PythonChoice:
    return python.PythonChoice(
        version=version, base_image=python.BASE_IMAGES[version], why=("stated",)
    )


def test_the_base_image_proposed_is_checked_where_an_engine_answers() -> None:
    official = "python:3.11-slim-bookworm"
    local = "127.0.0.1:5000/containerize/python:3.11-bookworm"
    # No engine: the official image, said to be unchecked.
    base = python.check_base(_chosen((3, 11)), None)
    assert (base.ref, base.why[-1], base.build_step) == (
        official,
        "not checked: no engine answered",
        None,
    )
    assert base.note is not None
    assert "'containerize base-image' builds" in base.note
    # The official image resolves: it stays.
    base = python.check_base(_chosen((3, 11)), {official, local}.__contains__)
    assert (base.ref, base.why[-1], base.note) == (official, f"{official} resolves here", None)
    # It does not, the local one exists: the local one, with why.
    base = python.check_base(_chosen((3, 11)), {local}.__contains__)
    assert (base.ref, base.build_step) == (local, None)
    assert base.why[-1] == (
        f"{official} does not resolve here; {local} does (built by 'containerize base-image')"
    )
    # Neither: the local one, and the step that builds it.
    base = python.check_base(_chosen((3, 13)), set().__contains__)
    assert base.ref == "127.0.0.1:5000/containerize/python:3.13-trixie"
    assert base.build_step == "containerize base-image --python 3.13"
    assert "(not built yet)" in str(base.why[-1])
    # No base containerize builds has 3.12: the official one, and the note that says so.
    base = python.check_base(_chosen((3, 12)), set().__contains__)
    assert base.ref == "python:3.12-slim-bookworm"
    assert base.why[-1] == "python:3.12-slim-bookworm does not resolve here"
    assert base.note is not None
    assert "no base containerize builds here has Python 3.12" in base.note


def test_init_names_the_base_image_step_before_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Where the official image does not resolve and the local base for the stated
    Python is not built yet, init proposes it and names the command that builds it
    before the build; the engine's answers here are a set of the references it has."""
    project = write(
        tmp_path / "blog",
        {
            "requirements.txt": REQUIREMENTS,
            ".python-version": "3.13\n",
            "blog.py": "from flask import Flask\n\napp = Flask(__name__)\n",
        },
    )
    asked: list[str] = []

    def inspect(ref: str, **_: object) -> None:
        asked.append(ref)  # nothing resolves: an offline machine with no local base yet

    monkeypatch.setattr(probes, "engine_reachable", lambda: True)
    monkeypatch.setattr(buildx, "imagetools_inspect", inspect)
    monkeypatch.setattr(setup, "record_build_requirements", lambda project: None)
    assert init(project) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    local = "127.0.0.1:5000/containerize/python:3.13-trixie"
    assert asked == ["python:3.13-slim-bookworm", local]
    assert table(project)["base-image"] == local
    assert table(project)["python-version"] == "3.13"
    assert printed(out, "base-image").endswith(
        "builds 127.0.0.1:5000/containerize/python:3.13-trixie from Debian's packages "
        "(not built yet)"
    )
    assert [line for line in out.splitlines() if line.startswith("next: ")] == [
        "next: 'containerize base-image --python 3.13'",
        "next: 'containerize build --dry-run'",
    ]


# --- Flask-Login's login view as the health check ------------------------------------

LOGIN_APP = {
    "requirements.txt": REQUIREMENTS,
    "blog.py": "from app import create_app\n\napp = create_app()\n",
    "app/__init__.py": """\
        from flask import Flask
        from flask_login import LoginManager

        login = LoginManager()
        login.login_view = 'auth.login'


        def create_app():
            app = Flask(__name__)
            login.init_app(app)
            from app.auth import bp as auth_bp
            app.register_blueprint(auth_bp, url_prefix='/auth')
            from app.main import bp as main_bp
            app.register_blueprint(main_bp)
            return app
        """,
    "app/auth/__init__.py": """\
        from flask import Blueprint

        bp = Blueprint('auth', __name__)

        from app.auth import routes
        """,
    "app/auth/routes.py": """\
        from app.auth import bp


        @bp.route('/login', methods=['GET', 'POST'])
        def login():
            return 'form'
        """,
    "app/main/__init__.py": """\
        from flask import Blueprint

        bp = Blueprint('main', __name__)

        from app.main import routes
        """,
    "app/main/routes.py": """\
        from flask_login import login_required

        from app.main import bp


        @bp.route('/', methods=['GET', 'POST'])
        @bp.route('/index')
        @login_required
        def index():
            return 'home'
        """,
}


def test_flask_login_view_when_the_root_needs_a_login(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(tmp_path / "blog", LOGIN_APP)
    assert init(project) == 0, capsys.readouterr().err
    assert table(project)["healthcheck-path"] == "/auth/login"
    line = printed(capsys.readouterr().out, "healthcheck-path")
    assert line.endswith(
        "# login.login_view = 'auth.login' (app/__init__.py:5); auth.login is login(), "
        "routed at /auth/login (app/auth/routes.py:5); / needs a login: @login_required "
        "index() (app/main/routes.py:9)"
    )


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"app/main/routes.py": LOGIN_APP["app/main/routes.py"].replace("@login_required\n", "")},
         "/ is open to anyone"),
        ({"app/__init__.py": LOGIN_APP["app/__init__.py"].replace("'auth.login'", "views")},
         "login_view is not a literal"),
        ({"app/__init__.py": LOGIN_APP["app/__init__.py"].replace(
            "app.register_blueprint(auth_bp, url_prefix='/auth')",
            "app.register_blueprint(auth_bp, url_prefix=PREFIX)")},
         "the prefix is not a literal: the path is not known"),
    ],
)  # fmt: skip
def test_flask_login_view_only_where_it_reads_with_confidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], why: str
) -> None:
    project = write(tmp_path / "blog", {**LOGIN_APP, **change})
    assert init(project) == 0, capsys.readouterr().err
    assert "healthcheck-path" not in table(project), why
