"""Preloading the app before the workers fork: the import check's verdict, the
entrypoint's decision, and the arguments each server gets.

The verdict is taken from real threads, sockets and child processes, in this process
and in the import check run for real (``containerize_wsgi.py --check --verdict``) from
a folder laid out as the image's.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from containerize import config, runtime, servers
from containerize.errors import ConfigError
from containerize.runtime import containerize_preload, containerize_workers
from containerize.runtime import containerize_start as start

CLEAN = {"clean": True, "found": []}
THREADED = {"clean": False, "found": ["1 thread ('poller')"]}


def spec(server: str, setting: str = "auto") -> dict[str, Any]:
    """server.json's part that preloading reads, as the build writes it."""
    preload = servers.get(server).preload
    return {
        "server": server,
        "preload": setting,
        "preload_args": {
            "on": list(preload.on),
            "off": list(preload.off),
            "cannot": preload.cannot,
        },
    }


# --- the verdict ----------------------------------------------------------------------


def test_a_load_that_leaves_nothing_running_is_clean() -> None:
    before = containerize_preload.running()
    assert _found(containerize_preload.verdict(before, containerize_preload.running())) == CLEAN


def test_a_thread_left_running_is_named() -> None:
    before = containerize_preload.running()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, name="poller")
    thread.start()
    try:
        found = containerize_preload.verdict(before, containerize_preload.running())
    finally:
        stop.set()
        thread.join()
    assert _found(found) == THREADED


def _found(verdict: dict[str, Any] | None) -> dict[str, Any]:
    """*verdict* without the memory it measured, which is checked here: whole steps."""
    assert verdict is not None
    rest = dict(verdict)
    mib = rest.pop("memory_mib")
    assert mib > 0
    assert mib % containerize_preload.MEMORY_STEP_MIB == 0
    return rest


def test_an_open_socket_is_counted() -> None:
    before = containerize_preload.running()
    with socket.socket(), socket.socket():
        found = containerize_preload.verdict(before, containerize_preload.running())
    assert _found(found) == {"clean": False, "found": ["2 open sockets"]}
    assert _found(containerize_preload.verdict(before, containerize_preload.running())) == CLEAN


def test_a_child_process_is_counted() -> None:
    before = containerize_preload.running()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = containerize_preload.verdict(before, containerize_preload.running())
    finally:
        child.kill()
        child.wait()
    assert _found(found) == {"clean": False, "found": ["1 child process"]}


def test_the_loaded_apps_memory_is_recorded_in_whole_steps() -> None:
    after = {"threads": [], "sockets": 0, "children": [], "anon_kib": 73_232}
    assert containerize_preload.verdict(after, after) == {
        "clean": True, "found": [], "memory_mib": 72  # 71.5 MiB, up to a whole step
    }  # fmt: skip
    # The few KiB one run holds more than another stay in the same step.
    assert containerize_preload.memory_mib(73_240) == containerize_preload.memory_mib(73_232)
    assert containerize_preload.memory_mib(8 * 1024) == 8
    assert containerize_preload.memory_mib(1) == 8
    # Where /proc does not show it, nothing is recorded, and start.py counts no app.
    after["anon_kib"] = None
    assert "memory_mib" not in containerize_preload.verdict(after, after)


def test_what_the_process_had_before_the_load_does_not_count() -> None:
    before = {"threads": ["pytest-timeout"], "sockets": 1, "children": [7]}
    after = {"threads": ["pytest-timeout", "sentry", "sentry"], "sockets": 1, "children": [7]}
    assert containerize_preload.verdict(before, after) == {
        "clean": False,
        "found": ["2 threads ('sentry', 'sentry')"],
    }


APP_CLEAN = "def application(environ, start_response):\n    return []\n"
APP_THREAD = (
    "import threading, time\n"
    "threading.Thread(target=time.sleep, args=(60,), name='metrics', daemon=True).start()\n"
    + APP_CLEAN
)
APP_SOCKET = "import socket\nCONNECTION = socket.socket()\n" + APP_CLEAN


def _laid_out(tmp_path: Path, source: str) -> tuple[Path, Path]:
    """The runtime files in a folder as in the image, with server.json naming the app
    *source* (``site_app:application``) in an app folder: (that folder, the app's)."""
    folder = tmp_path / "opt-containerize"
    folder.mkdir()
    for name, data in runtime.sources().items():
        (folder / name).write_bytes(data)
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "site_app.py").write_text(source)
    server_json = {
        "app": {"kind": "callable", "module": "site_app", "callable": "application"},
        "app_dir": str(app_dir),
        "access_log": "off",
    }
    (folder / "server.json").write_text(json.dumps(server_json))
    return folder, app_dir


@pytest.mark.parametrize(
    ("source", "said"),
    [(APP_CLEAN, None), (APP_THREAD, "1 thread ('metrics')"), (APP_SOCKET, "1 open socket")],
    ids=["clean", "thread", "socket"],
)
def test_the_import_check_writes_its_verdict(tmp_path: Path, source: str, said: str | None) -> None:
    """The runtime files laid out as in the image, run as the build runs them."""
    folder, _ = _laid_out(tmp_path, source)
    # As in the build: a folder the check makes itself, which the image copies.
    verdict = tmp_path / "files" / "opt" / "containerize" / "import-check.json"
    check = [sys.executable, "-I", str(folder / "containerize_wsgi.py"), "--check"]
    done = subprocess.run(
        [*check, "--verdict", str(verdict)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    expected = CLEAN if said is None else {"clean": False, "found": [said]}
    assert _found(json.loads(verdict.read_text())) == expected
    assert _found(containerize_preload.read_verdict(str(verdict))) == expected
    if said is None:
        assert "left" not in done.stderr
    else:
        assert f"loading it left {said} running" in done.stderr
    usage = subprocess.run([*check, "--verdict"], capture_output=True, text=True, check=False)
    assert usage.returncode == 2
    assert "usage: containerize_wsgi.py --check [--verdict FILE]" in usage.stderr


MANAGE = """import os, sys
print("static:", sys.argv, os.getcwd() == os.path.dirname(os.path.abspath(__file__)))
import site_app  # loaded by the check already: the same module, not loaded again
print("loaded once:", site_app.LOADS)
os.makedirs("staticfiles", exist_ok=True)
open(os.path.join("staticfiles", "site.css"), "w").write("body {}")
if sys.argv[1:] == ["fail"]:
    sys.exit(3)
if sys.argv[1:] == ["raise"]:
    raise ValueError("no STATIC_ROOT")
"""
APP_COUNTED = (
    "import builtins\nbuiltins.LOADS = getattr(builtins, 'LOADS', 0) + 1\nLOADS = builtins.LOADS\n"
    + APP_CLEAN
)


def test_the_check_then_runs_a_python_static_command_in_its_process(tmp_path: Path) -> None:
    """``--then``: after the app loaded and the verdict was written, the static command
    runs in the same process, as the interpreter would run it; its status is the step's."""
    folder, app_dir = _laid_out(tmp_path, APP_COUNTED)
    (app_dir / "manage.py").write_text(MANAGE)
    (app_dir / "static_mod.py").write_text("import sys\nprint('module:', sys.argv[1:])\n")
    verdict = tmp_path / "import-check.json"
    check = [sys.executable, "-I", str(folder / "containerize_wsgi.py"), "--check"]
    check += ["--verdict", str(verdict), "--then"]

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        verdict.unlink(missing_ok=True)
        return subprocess.run(
            [*check, *command], cwd=app_dir, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip

    done = run("python", "manage.py", "collectstatic", "--noinput")
    assert done.returncode == 0, done.stderr
    assert "static: ['manage.py', 'collectstatic', '--noinput'] True" in done.stdout
    assert "loaded once: 1" in done.stdout
    assert (app_dir / "staticfiles" / "site.css").read_text() == "body {}"
    # The verdict is the load's, written before the command ran.
    assert _found(json.loads(verdict.read_text())) == CLEAN
    said = done.stderr
    assert said.index("site_app:application loads") < said.index(
        "containerize: the static command: python manage.py collectstatic --noinput"
    )
    module = run("python3", "-m", "static_mod", "--out", "x")
    assert module.returncode == 0, module.stderr
    assert "module: ['--out', 'x']" in module.stdout
    failed = run("python", "manage.py", "fail")
    assert failed.returncode == 3
    assert "containerize: the static command failed (exit status 3)" in failed.stderr
    assert _found(json.loads(verdict.read_text())) == CLEAN  # the app loaded; the command failed
    raised = run("python", "manage.py", "raise")
    assert raised.returncode == 1
    assert "ValueError: no STATIC_ROOT" in raised.stderr
    assert "containerize: the static command failed: ValueError: no STATIC_ROOT" in raised.stderr
    for bad in (("sh", "-c", "true"), ("python", "-c", "print()"), ("python",)):
        refused = run(*bad)
        assert refused.returncode == 2
        assert "--then takes a Python command" in refused.stderr
    # An app that does not load: the command does not run.
    (app_dir / "site_app.py").write_text("raise ImportError('no module named nowhere')\n")
    broken = run("python", "manage.py", "collectstatic")
    assert broken.returncode == 1
    assert "static command" not in broken.stderr
    assert not verdict.exists()


def test_a_missing_or_broken_verdict_is_none(tmp_path: Path) -> None:
    assert containerize_preload.read_verdict(str(tmp_path / "none.json")) is None
    (tmp_path / "bad.json").write_text("{not json")
    assert containerize_preload.read_verdict(str(tmp_path / "bad.json")) is None
    (tmp_path / "odd.json").write_text('{"clean": "yes"}')
    assert containerize_preload.read_verdict(str(tmp_path / "odd.json")) is None


# --- the decision -----------------------------------------------------------------------


def test_auto_preloads_when_the_import_left_nothing_running() -> None:
    args, line = containerize_preload.decide(spec("gunicorn"), {}, CLEAN)
    assert args == ["--preload"]
    assert line == (
        "app: preloaded by the master, which forks the workers with it loaded "
        '(preload = "auto" in the image: the build\'s import check left no thread, '
        "socket or child process running)"
    )


def test_auto_loads_in_each_worker_when_the_import_left_a_thread() -> None:
    args, line = containerize_preload.decide(spec("gunicorn"), {}, THREADED)
    assert args == []
    assert line == (
        'app: loaded by each worker (preload = "auto" in the image: the build\'s import '
        "check left 1 thread ('poller') running)"
    )


def test_auto_without_a_verdict_loads_in_each_worker() -> None:
    args, line = containerize_preload.decide(spec("uwsgi"), {}, None)
    assert args == ["--lazy-apps"]
    assert "the image has no import check's verdict (import-check = false)" in line


@pytest.mark.parametrize(
    ("setting", "environ", "verdict", "preloaded", "source"),
    [
        ("on", {}, THREADED, True, 'preload = "on" in the image'),
        ("off", {}, CLEAN, False, 'preload = "off" in the image'),
        ("off", {"WSGI_PRELOAD": "on"}, THREADED, True, "WSGI_PRELOAD=on"),
        ("on", {"WSGI_PRELOAD": "off"}, CLEAN, False, "WSGI_PRELOAD=off"),
        ("on", {"WSGI_PRELOAD": " TRUE "}, None, True, "WSGI_PRELOAD=TRUE"),
        ("on", {"WSGI_PRELOAD": "0"}, CLEAN, False, "WSGI_PRELOAD=0"),
        ("off", {"WSGI_PRELOAD": "auto"}, CLEAN, True, "WSGI_PRELOAD=auto: the build's"),
        ("auto", {"WSGI_PRELOAD": "auto"}, THREADED, False, "WSGI_PRELOAD=auto: the build's"),
        ("on", {"WSGI_PRELOAD": " "}, None, True, 'preload = "on" in the image'),
    ],
)
def test_the_variable_wins_over_the_image(
    setting: str,
    environ: dict[str, str],
    verdict: dict[str, Any] | None,
    preloaded: bool,
    source: str,
) -> None:
    args, line = containerize_preload.decide(spec("uwsgi", setting), environ, verdict)
    assert args == (["--py-call-uwsgi-fork-hooks"] if preloaded else ["--lazy-apps"])
    assert line.startswith("app: preloaded" if preloaded else "app: loaded by each worker")
    assert f"({source}" in line


def test_a_bad_variable_stops_the_start() -> None:
    with pytest.raises(
        containerize_workers.StartError, match=r"WSGI_PRELOAD='maybe' is not 'auto', 'on' or"
    ):
        start.preload(spec("gunicorn"), {"WSGI_PRELOAD": "maybe"}, None)


@pytest.mark.parametrize("server", ["mod_wsgi", "cheroot"])
def test_a_server_that_cannot_preload_gets_no_arguments_and_says_why(server: str) -> None:
    cannot = servers.get(server).preload.cannot
    assert cannot
    assert containerize_preload.decide(spec(server), {}, CLEAN) == (
        [],
        f"app: loaded by each process ({cannot})",
    )
    assert containerize_preload.decide(spec(server), {"WSGI_PRELOAD": "on"}, CLEAN) == (
        [],
        f"app: loaded by each process ({cannot}; WSGI_PRELOAD=on does not apply)",
    )


# --- each server's command ----------------------------------------------------------------


RUNTIME = servers.Runtime(
    python="/usr/bin/python3", python_version=(3, 11), venv="/opt/venv", app_dir="/app", port=8000
)


@pytest.mark.parametrize(
    ("server", "preloaded", "lazy"),
    [
        ("gunicorn", ["--preload"], []),
        ("uwsgi", ["--py-call-uwsgi-fork-hooks"], ["--lazy-apps"]),
        ("mod_wsgi", [], []),
        ("cheroot", [], []),
    ],
)
def test_each_server_is_told_to_preload_or_not(
    server: str, preloaded: list[str], lazy: list[str]
) -> None:
    assert containerize_preload.decide(spec(server), {"WSGI_PRELOAD": "on"}, None)[0] == preloaded
    assert containerize_preload.decide(spec(server), {"WSGI_PRELOAD": "off"}, None)[0] == lazy
    # Neither is in the command itself: the entrypoint adds one or the other.
    command = servers.get(server).command(RUNTIME)
    assert not set(preloaded + lazy) & set(command)


# --- the option ---------------------------------------------------------------------------


def project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1"\n[tool.containerize]\napp = "a:b"\n' + table
    )
    return tmp_path


def test_the_option_defaults_to_auto_and_takes_on_and_off(tmp_path: Path) -> None:
    assert config.load(project(tmp_path, ""), environ={}).preload == "auto"
    assert config.load(project(tmp_path, 'preload = "Off"\n'), environ={}).preload == "off"
    assert config.load(project(tmp_path, 'preload = "on"\n'), environ={}).preload == "on"


@pytest.mark.parametrize(
    ("value", "message"),
    [('"yes please"', r"preload: 'yes please' is not a preload setting"), ("true", "preload")],
)
def test_a_bad_option_says_what_to_write(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config.load(project(tmp_path, f"preload = {value}\n"), environ={})


def test_the_build_says_which_servers_cannot_preload_as_asked() -> None:
    names = ("cheroot", "gunicorn", "mod_wsgi", "uwsgi")
    assert servers.preload_notices(names, "auto") == []
    assert servers.preload_notices(names, "off") == []
    notices = servers.preload_notices(names, "on")
    assert [line.split(" ")[1] for line in notices] == ["cheroot", "mod_wsgi"]
    assert notices[0] == (
        "notice: cheroot cannot preload the app (cheroot serves from one process, which loads "
        'the app once), so preload = "on" does not apply to its image'
    )
