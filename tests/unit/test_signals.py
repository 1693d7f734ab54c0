"""Ctrl-C and SIGTERM stop a run at once and clean up; a later run cleans up after SIGKILL.

The CLI runs in a subprocess against a loopback index that serves the locked wheel
slowly (or not at all), and the test signals it mid-download. Stop times are printed,
never asserted beyond a generous bound that only guards against a hang.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from containerize import cli, fsutil, process
from containerize.errors import Interrupted
from containerize.resolve.cache import Cache

REPO = Path(__file__).resolve().parents[2]
HANG_GUARD = 5.0  # seconds: far above the ~1 s a stop takes; only catches a hang
WHEEL = "gunicorn-{version}-py3-none-any.whl"


# --------------------------------------------------------------------------- the index


@dataclass
class Index:
    """A loopback server for wheel files: fast, throttled, or stalled.

    ``slow``: 4 KiB every 50 ms. ``stall-body``: headers and one chunk, then nothing.
    ``stall-headers``: the request is read and never answered.
    """

    files: dict[str, bytes] = field(default_factory=dict)
    mode: str = "fast"
    streaming: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.rpartition("/")[2]
                body = index.files.get(name) if self.path.startswith("/files/") else None
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if index.mode == "stall-headers":
                    index.streaming.set()
                    index.release.wait(30)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if index.mode == "fast":
                    self.wfile.write(body)
                    return
                step = 4096
                for start in range(0, len(body), step):
                    self.wfile.write(body[start : start + step])
                    self.wfile.flush()
                    index.streaming.set()
                    if index.mode == "stall-body":
                        index.release.wait(30)
                        return
                    if index.release.wait(0.05):
                        return

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client that was interrupted hangs up mid-answer: expected


@pytest.fixture
def index() -> Iterator[Index]:
    served = Index()
    server = _Server(("127.0.0.1", 0), served.handler())
    host, port = server.server_address[:2]
    served.url = f"http://{host!s}:{port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield served
    finally:
        served.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- the project


def lock_wheel(project: Path, index: Index, version: str, body: bytes) -> str:
    """Serve *body* as gunicorn *version*'s wheel and lock the project to it."""
    name = WHEEL.format(version=version)
    index.files[name] = body
    digest = hashlib.sha256(body).hexdigest()
    (project / "pylock.toml").write_text(
        textwrap.dedent(
            f"""\
            lock-version = "1.0"
            created-by = "test"
            requires-python = ">=3.11"

            [[packages]]
            name = "gunicorn"
            version = "{version}"

            [[packages.wheels]]
            url = "{index.url}/files/{name}"
            size = {len(body)}
            hashes = {{sha256 = "{digest}"}}
            """
        )
    )
    return name


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """\
            [project]
            name = "signals-demo"
            version = "1.0"
            requires-python = ">=3.11"
            dependencies = []

            [tool.containerize]
            app = "hello:application"
            platforms = ["linux/amd64"]
            servers = ["gunicorn"]
            """
        )
    )
    (root / "hello.py").write_text("def application(environ, start_response):\n    return []\n")
    return root


@pytest.fixture
def env(tmp_path: Path, index: Index) -> dict[str, str]:
    """An environment that reaches only the loopback index and no container engine."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "CONTAINERIZE_"))}
    return {
        **kept,
        "HOME": str(tmp_path / "home"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "CONTAINERIZE_CACHE_DIR": str(tmp_path / "cache"),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_INDEX_URL": f"{index.url}/simple/",
        "PATH": "/usr/bin:/bin",  # no docker: nothing here may reach an engine
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        "PYTHONPATH": str(REPO),
    }


def containerize(project: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "containerize", "--project", str(project), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"containerize did not finish in {timeout}s:\n{err}")
    return proc.returncode, out, err


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under *folder* (relative path -> content)."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def partials(cache: Path) -> list[str]:
    folder = cache / "partial"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def staging(build_dir: Path) -> list[str]:
    if not build_dir.exists():
        return []
    return sorted(p.name for p in build_dir.iterdir() if p.name.startswith(".wheelhouse."))


def first_wheelhouse(
    project: Path, env: dict[str, str], index: Index, monkeypatch: pytest.MonkeyPatch
) -> dict[str, bytes]:
    """A finished wheelhouse of gunicorn 23.0.0, the content a later run must keep
    (made in this process, with the subprocess's environment: it is quicker)."""
    lock_wheel(project, index, "23.0.0", os.urandom(50_000))
    with monkeypatch.context() as patch:
        for name in set(os.environ) - set(env):
            patch.delenv(name)
        for name, value in env.items():
            patch.setenv(name, value)
        assert cli.main(["--project", str(project), "wheelhouse"]) == 0
    house = snapshot(project / ".containerize" / "wheelhouse")
    assert "linux-amd64/gunicorn-23.0.0-py3-none-any.whl" in house
    return house


def interrupt_mid_download(
    project: Path, env: dict[str, str], index: Index, signum: int
) -> tuple[int, str, float]:
    """Start a wheelhouse run that downloads a slow file, signal it once the file is
    partly written, and return (exit code, stderr, seconds from signal to exit)."""
    cache = Path(env["CONTAINERIZE_CACHE_DIR"])
    proc = containerize(project, env, "wheelhouse")
    try:
        wait_for(index.streaming.is_set, "the download to start")
        if index.mode == "slow":
            wait_for(lambda: bool(partials(cache)), "a partial download in the cache")
        time.sleep(0.2)
        assert proc.poll() is None, "the run ended before the signal"
        start = time.monotonic()
        proc.send_signal(signum)
        code, _, err = finish(proc, timeout=HANG_GUARD + 5)
        return code, err, time.monotonic() - start
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- the tests


@pytest.mark.parametrize(
    ("mode", "signum", "code"),
    [
        ("slow", signal.SIGINT, 130),
        ("slow", signal.SIGTERM, 143),
        ("stall-body", signal.SIGINT, 130),
        ("stall-headers", signal.SIGTERM, 143),
    ],
    ids=["slow-SIGINT", "slow-SIGTERM", "stalled-body-SIGINT", "stalled-headers-SIGTERM"],
)
def test_signal_mid_download_stops_at_once_and_cleans_up(
    project: Path,
    env: dict[str, str],
    index: Index,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    signum: int,
    code: int,
) -> None:
    build_dir = project / ".containerize"
    cache = Path(env["CONTAINERIZE_CACHE_DIR"])
    before = first_wheelhouse(project, env, index, monkeypatch)
    new = lock_wheel(project, index, "23.0.1", os.urandom(400_000))
    index.mode = mode

    exit_code, err, seconds = interrupt_mid_download(project, env, index, signum)

    print(f"\n{signal.Signals(signum).name} during a {mode} download: stopped in {seconds:.2f} s")
    assert exit_code == code, err
    assert seconds < HANG_GUARD
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "interrupted" in line]
    assert len(lines) == 1, err
    print(lines[0])
    assert f"interrupted by {signal.Signals(signum).name} while downloading {new}" in lines[0]
    assert f"{build_dir / 'wheelhouse'} left as it was" in lines[0]
    # Nothing half-written stays, and the finished wheelhouse is the one from before.
    assert partials(cache) == []
    assert staging(build_dir) == []
    assert snapshot(build_dir / "wheelhouse") == before
    assert not list(cache.rglob(new))


def test_sigkill_leaves_leftovers_that_the_next_run_removes(
    project: Path, env: dict[str, str], index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_dir = project / ".containerize"
    cache = Path(env["CONTAINERIZE_CACHE_DIR"])
    first_wheelhouse(project, env, index, monkeypatch)
    new = lock_wheel(project, index, "23.0.1", os.urandom(400_000))
    index.mode = "slow"

    exit_code, _, _ = interrupt_mid_download(project, env, index, signal.SIGKILL)
    assert exit_code == -signal.SIGKILL
    # No chance to clean up: a partial download and a staging folder stay.
    assert len(partials(cache)) == 1
    assert len(staging(build_dir)) == 1

    index.mode = "fast"
    code, _, err = finish(containerize(project, env, "wheelhouse"))

    assert code == 0, err
    notes = [line for line in err.splitlines() if "removed what an interrupted run" in line]
    assert len(notes) == 1, err
    assert ".wheelhouse.partial-" in notes[0]
    assert "1 partial download(s)" in notes[0]
    assert partials(cache) == []
    assert staging(build_dir) == []
    assert f"linux-amd64/{new}" in snapshot(build_dir / "wheelhouse")


def test_leftovers_of_a_live_run_are_kept(tmp_path: Path) -> None:
    """Two concurrent runs: one never removes what the other is writing."""
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        for pid in (live.pid, dead.pid):
            (tmp_path / f".wheelhouse.partial-{pid}-abcdefgh").mkdir()
            (tmp_path / f".containerize.lock.{pid}-abcdefgh.tmp").write_text("x")
        (tmp_path / ".wheelhouse.partial-abc_defg").mkdir()  # an older version's: no pid
        cache = Cache(root=tmp_path / "cache")
        cache.partial_folder.mkdir(parents=True)
        for pid in (live.pid, dead.pid):
            (cache.partial_folder / f"{pid}-abcdefgh.part").write_text("x")

        removed = fsutil.remove_leftovers(tmp_path)
        assert sorted(removed) == sorted(
            [
                f".wheelhouse.partial-{dead.pid}-abcdefgh",
                f".containerize.lock.{dead.pid}-abcdefgh.tmp",
            ]
        )
        assert cache.remove_leftovers() == [f"{dead.pid}-abcdefgh.part"]
        assert (tmp_path / f".wheelhouse.partial-{live.pid}-abcdefgh").is_dir()
        assert (cache.partial_folder / f"{live.pid}-abcdefgh.part").is_file()
        # Only the holder of the build folder's lock removes names without an owner.
        assert (tmp_path / ".wheelhouse.partial-abc_defg").is_dir()
        assert fsutil.remove_leftovers(tmp_path, locked=True) == [".wheelhouse.partial-abc_defg"]
        assert (tmp_path / f".wheelhouse.partial-{live.pid}-abcdefgh").is_dir()
    finally:
        live.kill()
        live.wait()


def test_a_zombie_owner_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for(lambda: fsutil.owner_gone(child.pid), "the child to exit (unreaped)")
    assert child.poll() == 0  # reaped only now: it was a zombie above
    assert not fsutil.owner_gone(os.getpid())


# --------------------------------------------------------------------------- children

# A child that records the signal it gets and exits, or ignores SIGTERM altogether.
CHILD = """
import os, signal, sys, time
marker = sys.argv[1]
if sys.argv[2] == "ignores-sigterm":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
else:
    def stop(signum, frame):
        open(marker + ".term", "w").close()
        sys.exit(0)
    signal.signal(signal.SIGTERM, stop)
with open(marker + ".pid", "w") as f:
    f.write(str(os.getpid()))
time.sleep(60)
"""

# Runs the child through process.run: streaming to the terminal, as the CLI runs
# docker buildx build, or captured, as it runs pip and git.
PARENT = """
import sys
from containerize import process
from containerize.errors import Interrupted
child, marker, mode, capture = sys.argv[1:]
try:
    with process.interruptible():
        process.run([sys.executable, "-c", child, marker, mode], capture=capture == "captured")
except Interrupted as exc:
    print("containerize: " + exc.line(), file=sys.stderr)
    sys.exit(exc.exit_code)
"""


def alive(pid: int) -> bool:
    return not fsutil.owner_gone(pid)


@pytest.mark.parametrize(
    ("signum", "code", "child_mode", "output"),
    [
        (signal.SIGINT, 130, "exits-on-sigterm", "streamed"),
        (signal.SIGTERM, 143, "ignores-sigterm", "captured"),
    ],
    ids=["SIGINT-streaming-child", "SIGTERM-to-a-captured-child-that-ignores-it"],
)
def test_signal_stops_a_running_command(
    tmp_path: Path, signum: int, code: int, child_mode: str, output: str
) -> None:
    marker = tmp_path / "child"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, str(marker), child_mode, output],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = marker.with_suffix(".pid")
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", "the child to start")
        child = int(pid_file.read_text())
        start = time.monotonic()
        parent.send_signal(signum)
        _, err = parent.communicate(timeout=HANG_GUARD + 5)
        seconds = time.monotonic() - start
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()

    print(
        f"\n{signal.Signals(signum).name}, {output} child {child_mode}: stopped in {seconds:.2f} s"
    )
    assert parent.returncode == code, err
    assert seconds < HANG_GUARD
    assert "Traceback" not in err
    assert f"interrupted by {signal.Signals(signum).name} while running" in err
    assert "stopped it" in err
    assert not alive(child)
    # The child was asked first; one that ignores it is killed after the grace.
    assert marker.with_suffix(".term").exists() == (child_mode == "exits-on-sigterm")


# --------------------------------------------------------------------------- in-process


def test_a_signal_never_splits_a_held_step() -> None:
    steps = []

    def held_step() -> None:
        with process.interruptible():
            with process.uninterrupted():
                os.kill(os.getpid(), signal.SIGINT)
                steps.append("after the signal, still held")
            steps.append("never reached")

    with pytest.raises(Interrupted) as caught:
        held_step()
    assert steps == ["after the signal, still held"]
    assert caught.value.exit_code == 130


def test_replacing_dir_interrupted_keeps_the_old_tree(tmp_path: Path) -> None:
    dest = tmp_path / "wheelhouse"
    dest.mkdir()
    (dest / "old.whl").write_text("old")

    def replace_and_get_signalled() -> None:
        with process.interruptible(), fsutil.replacing_dir(dest) as new:
            (new / "new.whl").write_text("new")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler raises here

    with pytest.raises(Interrupted) as caught:
        replace_and_get_signalled()
    assert caught.value.exit_code == 143
    assert f"{dest} left as it was" in caught.value.line()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wheelhouse"]
    assert (dest / "old.whl").read_text() == "old"
    assert not (dest / "new.whl").exists()


def test_handlers_are_restored_after_the_run() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with process.interruptible():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before
