"""How start.py becomes the server: a Python script of this very interpreter is run in
its process (no second interpreter start), anything else is exec'ed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from containerize import runtime
from containerize.runtime import containerize_start as start

PYTHON = "/opt/venv/bin/python"


def test_python_running_a_script_is_run_in_process() -> None:
    command = [PYTHON, "/opt/containerize/uwsgi_serve.py", "--http-socket", "0.0.0.0:8000"]
    assert start.python_script(command, PYTHON) == "/opt/containerize/uwsgi_serve.py"


@pytest.mark.parametrize(
    "command",
    [
        [PYTHON, "-m", "gunicorn"],
        [PYTHON, "serve.py"],  # relative: exec'ed as written
        [PYTHON],
        ["/usr/bin/python3", "/opt/containerize/uwsgi_serve.py"],  # another interpreter
        ["/no/such/server", "--port", "8000"],
    ],
)
def test_anything_else_is_execed(command: list[str]) -> None:
    assert start.python_script(command, PYTHON) is None


@pytest.mark.parametrize(
    ("first_line", "in_process"),
    [
        (f"#!{PYTHON}\n", True),
        (f"#!{PYTHON}\r\n", True),
        (f"#!{PYTHON}3\n", False),
        ("#!/bin/sh\n", False),
        ("\x7fELF", False),
    ],
)
def test_a_console_script_of_this_interpreter_is_run_in_process(
    tmp_path: Path, first_line: str, in_process: bool
) -> None:
    script = tmp_path / "gunicorn"
    script.write_text(first_line + "import sys\n")
    expected = str(script) if in_process else None
    assert start.python_script([str(script), "--bind", "0.0.0.0:8000"], PYTHON) == expected


def _image_folder(tmp_path: Path, argv: list[str]) -> Path:
    """start.py and its files laid out as in the image, with a server.json for *argv*."""
    folder = tmp_path / "opt-containerize"
    folder.mkdir()
    for name, data in runtime.sources().items():
        (folder / name).write_bytes(data)
    spec = {
        "server": "fake",
        "app_dir": str(tmp_path),
        "argv": argv,
        "settings": {"timeout": 30, "keepalive": 5, "grace_period": 8, "threads": 1,
                     "worker_memory": 64, "workers": 2},
    }  # fmt: skip
    (folder / "server.json").write_text(json.dumps(spec))
    return folder


SERVE = """\
import json, os, signal, sys
print(json.dumps({
    "argv": sys.argv,
    "path0": sys.path[0],
    "main": __name__,
    "start_was_here": "containerize_hosts" in sys.modules,
    "sigterm_default": signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
}), flush=True)
if os.environ.get("FAKE_SLOW"):  # a master importing the app before its own handlers
    import time
    time.sleep(60)
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
"""


@pytest.mark.parametrize("code", [0, 3])
def test_start_runs_a_python_server_in_its_own_process(tmp_path: Path, code: int) -> None:
    serve = tmp_path / "serve" / "fake_serve.py"
    serve.parent.mkdir()
    serve.write_text(SERVE)
    folder = _image_folder(tmp_path, [sys.executable, str(serve), "--workers", "{workers}"])
    done = subprocess.run(
        [sys.executable, str(folder / "start.py")],
        capture_output=True, text=True, timeout=60, check=False,
        env={"FAKE_EXIT": str(code), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {
        "argv": [str(serve), "--workers", "2"],
        "path0": str(serve.parent),
        "main": "__main__",
        "start_was_here": True,  # the same process: start.py's modules are loaded
        # start.py's handler, until the server installs its own: PID 1 would drop it
        "sigterm_default": False,
    }
    assert "containerize: starting fake: 2 workers" in done.stderr


def test_start_execs_any_other_server(tmp_path: Path) -> None:
    folder = _image_folder(tmp_path, ["/bin/sh", "-c", "echo workers=$0", "{workers}"])
    done = subprocess.run(
        [sys.executable, str(folder / "start.py")],
        capture_output=True, text=True, timeout=60, check=False, env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "workers=2\n"


def test_a_stop_before_the_server_handles_it_ends_the_start_at_once(tmp_path: Path) -> None:
    serve = tmp_path / "serve" / "fake_serve.py"
    serve.parent.mkdir()
    serve.write_text(SERVE)
    folder = _image_folder(tmp_path, [sys.executable, str(serve)])
    started = subprocess.Popen(
        [sys.executable, str(folder / "start.py")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"FAKE_SLOW": "1", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        assert started.stdout is not None
        assert json.loads(started.stdout.readline())["main"] == "__main__"  # it is running
        started.send_signal(signal.SIGTERM)
        _, stderr = started.communicate(timeout=10)  # not the fake's 60 s
    finally:
        started.kill()
    assert started.returncode == 0, stderr
    assert "containerize: SIGTERM before the server started: stopping" in stderr
