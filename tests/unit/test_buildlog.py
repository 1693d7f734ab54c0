"""A failed build explained from BuildKit's own log, as captured from real builds.

``tests/data/buildkit/`` holds plain-progress logs of two real failures on this
project's engine (apt's mirror rewritten to a placeholder host):

``psycopg2-no-pg-config.log``
    the psycopg2 fixture with ``system-packages.sdists.psycopg2 = { build = [] }``,
    built for linux/amd64: the compile build fails, pg_config is missing;
``import-check-no-libpq.log``
    the psycopg2 fixture's image build for both platforms before the import check
    ran on the runtime stage: libpq.so.5 is missing when the app is imported;
``server-no-pkg-resources.log``
    the gunicorn-pkg-resources fixture built for linux/amd64: its lock pins gunicorn
    20.1.0 and no setuptools, so the import check cannot import the server.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from containerize import process
from containerize.engine import buildlog, buildx
from containerize.errors import BuildError, CommandError
from containerize.platforms import LINUX_AMD64

DATA = Path(__file__).resolve().parents[1] / "data" / "buildkit"


def read(name: str) -> str:
    return (DATA / name).read_text()


def test_a_failed_sdist_compile_names_stage_platform_sdist_and_cause() -> None:
    failure = buildlog.summarize(read("psycopg2-no-pg-config.log"), ["linux/amd64"])
    assert failure is not None
    assert (failure.stage, failure.platform, failure.sdist) == (
        "compile",
        "linux/amd64",
        "psycopg2-2.9.13.tar.gz",
    )
    assert failure.python_package == "psycopg2"
    assert failure.step is not None
    assert failure.step.startswith("RUN --network=none --mount=")
    assert failure.diagnosis == buildlog.Diagnosis(
        cause="the build runs pg_config, which is not installed", package="libpq-dev"
    )
    # From the line that says it, without BuildKit's prefixes or pip's closing notes.
    assert failure.lines[0] == "Error: pg_config executable not found."
    assert len(failure.lines) <= 12
    assert not any(line.startswith("#") or "note: This error" in line for line in failure.lines)


def test_the_error_says_how_to_declare_the_package() -> None:
    log = read("psycopg2-no-pg-config.log")
    inv = buildx.BuildInvocation(context=Path("/ctx"), target="wheels", platforms=(LINUX_AMD64,))
    exc = CommandError("failed", argv=["docker", "buildx"], returncode=1, output=log)
    error = buildx.failure(inv, exc)
    summary = buildlog.summarize(log)
    assert summary is not None
    assert error.message == (
        "the compile build failed in stage compile for linux/amd64 compiling "
        f"psycopg2-2.9.13.tar.gz\n  step: {summary.step}"
    )
    assert error.hint == (
        "psycopg2 needs the Debian package libpq-dev to compile; declare it in "
        "pyproject.toml:\n\n[tool.containerize.system-packages.sdists]\n"
        'psycopg2 = { build = ["libpq-dev"] }\n'
    )
    text = str(error)
    assert "  cause: the build runs pg_config, which is not installed\n" in text
    assert "    Error: pg_config executable not found.\n" in text
    assert "#15" not in text
    assert "apt-mirror" not in text


def test_a_failed_import_check_names_the_missing_library() -> None:
    log = read("import-check-no-libpq.log")
    failure = buildlog.summarize(log)
    assert failure is not None
    assert (failure.stage, failure.platform, failure.sdist) == ("app-gunicorn", "linux/amd64", None)
    assert failure.diagnosis is not None
    assert failure.diagnosis.cause == (
        "the shared library libpq.so.5 is not installed where the step runs"
    )
    assert failure.lines[0] == (
        "ImportError: libpq.so.5: cannot open shared object file: No such file or directory"
    )
    inv = buildx.BuildInvocation(context=Path("/ctx"), target="gunicorn")
    error = buildx.failure(inv, CommandError("x", argv=["docker"], returncode=1, output=log))
    assert error.message.startswith("the build of gunicorn failed in stage app-gunicorn for ")
    assert "apt-file search libpq.so.5" in (error.hint or "")


def test_a_failed_import_check_without_a_known_cause_names_the_switch() -> None:
    """The same real log with the app's own error instead of a missing library: no
    diagnosis, so the fix is the import check's own."""
    log = read("import-check-no-libpq.log").replace(
        "ImportError: libpq.so.5: cannot open shared object file: No such file or directory",
        "LoadError: module 'app' (/app/app.py) has no attribute 'aplication'",
    )
    failure = buildlog.summarize(log)
    assert failure is not None
    assert failure.stage == "app-gunicorn"
    assert failure.diagnosis is None
    assert "LoadError: module 'app' (/app/app.py) has no attribute 'aplication'" in failure.lines
    inv = buildx.BuildInvocation(context=Path("/ctx"), target="gunicorn")
    error = buildx.failure(inv, CommandError("x", argv=["docker"], returncode=1, output=log))
    assert error.hint == buildx.IMPORT_CHECK_FIX
    assert "tool.containerize.import-check = false" in str(error)


def test_a_static_command_failed_after_the_check_names_the_command() -> None:
    """The first server's check step runs a Python static command after the app loaded
    (containerize.image.checkedstatic): when that fails, the fix is the command's."""
    log = read("import-check-no-libpq.log")
    for prefix in ("#31 0.245 ", "0.245 "):
        log = log.replace(
            f"{prefix}ImportError: libpq.so.5: cannot open shared object file: "
            "No such file or directory\n",
            f"{prefix}PermissionError: [Errno 13] Permission denied: '/app/collected'\n",
        ).replace(
            f"{prefix}containerize: the application app:application failed to load: "
            "ImportError: libpq.so.5: cannot open shared object file: No such file or directory",
            f"{prefix}containerize: the static command failed: PermissionError: [Errno 13] "
            "Permission denied: '/app/collected'",
        )
    failure = buildlog.summarize(log)
    assert failure is not None
    assert failure.stage == "app-gunicorn"
    inv = buildx.BuildInvocation(context=Path("/ctx"), target="gunicorn")
    error = buildx.failure(inv, CommandError("x", argv=["docker"], returncode=1, output=log))
    assert error.hint == buildx.STATIC_COMMAND_FIX
    assert "import-check = false" not in str(error)


def test_an_import_check_that_writes_in_the_app_folder_says_the_user_cannot() -> None:
    """The same real log with the traceback of an app that makes a folder at import
    (``os.mkdir('logs')`` in /app, as the app's user): the cause is the user's rights,
    and the fix says where to write instead, and names the switch last."""
    log = read("import-check-no-libpq.log").replace(
        "ImportError: libpq.so.5: cannot open shared object file: No such file or directory",
        "PermissionError: [Errno 13] Permission denied: 'logs'",
    )
    failure = buildlog.summarize(log)
    assert failure is not None
    assert failure.stage == "app-gunicorn"
    assert failure.diagnosis is not None
    assert failure.diagnosis.cause == (
        "the app's user (not root: tool.containerize.uid) cannot write 'logs' in the app "
        "folder (its working directory, owned by root)"
    )
    assert failure.lines[0] == "PermissionError: [Errno 13] Permission denied: 'logs'"
    inv = buildx.BuildInvocation(context=Path("/ctx"), target="gunicorn")
    error = buildx.failure(inv, CommandError("x", argv=["docker"], returncode=1, output=log))
    hint = error.hint or ""
    # The declared fix first: the folder the app makes, writable by its user alone.
    assert hint.startswith('let the app\'s user write that path alone: writable = ["logs/"]')
    assert "/tmp or a mounted volume" in hint
    assert "LOG_TO_STDOUT=1" in hint
    assert hint.endswith(
        "import-check = false would only move the failure to the container's start"
    )
    assert "cannot write 'logs' in the app folder" in str(error)


@pytest.mark.parametrize(
    ("path", "entry"),
    [
        ("server.log", "server.log"),
        ("/app/server.log", "server.log"),
        ("logs", "logs/"),
        ("logs/server.log", "logs/"),
        ("/app/var/log/app.log", "var/log/"),
        ("./db.sqlite3", "db.sqlite3"),
    ],
)
def test_the_hint_names_the_writable_entry(path: str, entry: str) -> None:
    """A file of the app folder itself is listed as the file; one in a subfolder, by
    its folder (where the app may create or rotate it); a name without a suffix is a
    folder the app makes."""
    diagnosis, _ = buildlog.diagnose([f"PermissionError: [Errno 13] Permission denied: '{path}'"])
    assert diagnosis is not None
    assert f'writable = ["{entry}"]' in (diagnosis.fix or "")


def test_a_permission_error_outside_the_app_folder_names_the_path() -> None:
    diagnosis, at = buildlog.diagnose(
        [
            "Traceback (most recent call last):",
            "PermissionError: [Errno 13] Permission denied: '/var/log/app.log'",
        ]
    )
    assert diagnosis is not None
    assert at == 1
    assert diagnosis.cause.endswith("cannot write '/var/log/app.log'")
    # Outside the app folder 'writable' cannot help: it is not offered.
    assert "writable" not in (diagnosis.fix or "")


@pytest.mark.parametrize(
    ("line", "cause", "package"),
    [
        (
            "psycopg/psycopgmodule.c:28:10: fatal error: libpq-fe.h: No such file or directory",
            "the C header libpq-fe.h is missing: its -dev package is not installed",
            "libpq-dev",
        ),
        (
            "src/lxml/etree.c:96:10: fatal error: libxml/xmlversion.h: No such file or directory",
            "the C header libxml/xmlversion.h is missing: its -dev package is not installed",
            "libxml2-dev",
        ),
        (
            "/bin/sh: 1: mysql_config: not found",
            "the build runs mysql_config, which is not installed",
            "default-libmysqlclient-dev",
        ),
        (
            "error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory",
            "the sdist needs a C compiler, which the build step does not have",
            "gcc",
        ),
        (
            "E: Unable to locate package libpq-deb",
            "apt cannot find the Debian package 'libpq-deb' in the base image's package sources",
            None,
        ),
    ],
)
def test_known_failures(line: str, cause: str, package: str | None) -> None:
    diagnosis, at = buildlog.diagnose(["something before", line])
    assert diagnosis is not None
    assert at == 1
    assert (diagnosis.cause, diagnosis.package) == (cause, package)


def test_an_unknown_failure_shows_the_last_lines_and_no_guess() -> None:
    log = (
        "#7 [linux/arm64 compile 5/5] RUN step\n"
        + "".join(f"#7 0.{i:03d} line {i}\n" for i in range(30))
        + "#7 ERROR: process did not complete successfully: exit code: 1\n"
    )
    failure = buildlog.summarize(log)
    assert failure is not None
    assert failure.diagnosis is None
    assert failure.lines == tuple(f"line {i}" for i in range(18, 30))
    assert buildlog.summarize("#1 [internal] load\n#1 DONE 0.1s\n") is None


def test_a_teed_command_streams_and_keeps_its_output(capfd: pytest.CaptureFixture[str]) -> None:
    script = "import sys; print('out'); sys.stderr.write('one\\ntwo\\n'); sys.exit(3)"
    with pytest.raises(CommandError) as info:
        process.run_teed([sys.executable, "-c", script])
    assert info.value.returncode == 3
    assert info.value.output == "one\ntwo\n"
    streamed = capfd.readouterr()
    assert streamed.err == "one\ntwo\n"
    assert streamed.out == "out\n"
    done = process.run_teed([sys.executable, "-c", "import sys; sys.stderr.write('ok\\n')"])
    assert done.stderr == "ok\n"


def test_a_build_error_reads_as_a_summary() -> None:
    error = BuildError(
        "the build of gunicorn failed in stage app-gunicorn",
        argv=["docker"],
        returncode=1,
        lines=["a", "b"],
        cause="why",
        hint="how",
    )
    assert str(error) == (
        "the build of gunicorn failed in stage app-gunicorn\n  cause: why\n"
        "  last lines of the step:\n    a\n    b\n  hint: how"
    )
    assert error.exit_code == 6


def test_a_library_cffi_cannot_load_is_named_too() -> None:
    # WeasyPrint opens GObject by name through cffi: the message has no '.so' in it.
    lines = [
        "Traceback (most recent call last):",
        '  File "/opt/venv/lib/python3.13/site-packages/weasyprint/text/ffi.py", line 463',
        "OSError: cannot load library 'libgobject-2.0-0': libgobject-2.0-0: cannot open "
        "shared object file: No such file or directory.  Additionally, ctypes.util.find_library()"
        " did not manage to locate a library called 'libgobject-2.0-0'",
    ]
    diagnosis, at = buildlog.diagnose(lines)
    assert at == 2
    assert diagnosis is not None
    assert diagnosis.cause == (
        "the shared library libgobject-2.0-0 is not installed where the step runs"
    )
    assert "[tool.containerize.system-packages] run" in (diagnosis.fix or "")


def test_a_server_that_needs_pkg_resources_names_both_ways_out() -> None:
    """The real log: the import check imports gunicorn 20.1.0, whose util.py imports
    pkg_resources, and the lock has no setuptools. The cause names the server and its
    version; the fix, containerize's own pin of the server or setuptools in the lock."""
    log = read("server-no-pkg-resources.log")
    failure = buildlog.summarize(log, ["linux/amd64"])
    assert failure is not None
    assert (failure.stage, failure.platform) == ("app-gunicorn", "linux/amd64")
    assert failure.diagnosis is not None
    assert failure.diagnosis.cause == (
        "the server gunicorn 20.1.0 imports pkg_resources, which comes with setuptools, "
        "and the lock pins no setuptools: the container could not start it"
    )
    # From the check's own line, which names the file that imports it.
    assert failure.lines[0] == (
        "containerize: the server, gunicorn 20.1.0, cannot be imported: No module named "
        "'pkg_resources' (imported by /opt/venv/lib/python3.11/site-packages/gunicorn/"
        "util.py, line 25)"
    )
    inv = buildx.BuildInvocation(context=Path("/ctx"), target="gunicorn", platforms=(LINUX_AMD64,))
    error = buildx.failure(inv, CommandError("x", argv=["docker"], returncode=1, output=log))
    hint = error.hint or ""
    assert hint.startswith("let containerize's own pin of gunicorn be used")
    assert "drop gunicorn from the project's dependencies and re-lock" in hint
    assert "add setuptools (it provides pkg_resources) to your dependencies and re-lock" in hint
    assert "import-check = false" not in hint  # turning the check off would not help


def test_a_package_of_the_app_that_needs_pkg_resources_says_upgrade_or_add_setuptools() -> None:
    """The same need in a package the app imports: the traceback's line, no server."""
    lines = [
        'File "/opt/venv/lib/python3.11/site-packages/oldlib/__init__.py", line 3, in <module>',
        "    import pkg_resources",
        "ModuleNotFoundError: No module named 'pkg_resources'",
    ]
    diagnosis, at = buildlog.diagnose(lines)
    assert at == 2
    assert diagnosis is not None
    assert diagnosis.cause.startswith("a package imports pkg_resources, which comes with")
    assert diagnosis.fix is not None
    assert diagnosis.fix.startswith("upgrade that package (the traceback names its file)")
    assert "add setuptools" in diagnosis.fix
