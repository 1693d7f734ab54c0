"""The matrix's production checks without an engine: what they read and how they judge.

The in-image scripts run here on this machine's Python against folders laid out as
an image's are; the verdicts are fed what those scripts print.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from containerize import config
from containerize.matrix import containerchecks, limits, plan
from containerize.matrix.checks import Failed
from containerize.runtime import containerize_start as start
from containerize.runtime import containerize_workers, containerize_wsgi
from containerize.servers import gunicorn

SERVERS_LOCK = Path(gunicorn.__file__).parent / "servers.pylock.toml"

# --------------------------------------------------------------------------- workers


def test_the_start_line_is_read_with_its_count_threads_and_source() -> None:
    log = (
        "containerize: allowed hosts: *\n"
        "containerize: starting uwsgi: 2 workers x 1 threads (memory: a 160 MiB limit holds "
        "2 at 64 MiB a worker; 3 by CPUs), timeout 30 s, grace period 20 s\n"
    )
    line = limits.start_line(log)
    assert line == limits.StartLine(
        server="uwsgi",
        workers=2,
        threads=1,
        source="memory: a 160 MiB limit holds 2 at 64 MiB a worker; 3 by CPUs",
    )
    assert limits.start_line("gunicorn: Booting worker with pid: 7\n") is None


@pytest.mark.parametrize(
    ("settings", "env", "expected"),
    [
        ({"worker_memory": 64, "memory_reserve": 32}, {}, (3, "2 x 1 CPUs + 1")),
        # 256 - 32 = 224 MiB holds two workers of 100 MiB: memory decides.
        (
            {"worker_memory": 64, "memory_reserve": 32},
            {"WSGI_WORKER_MEMORY": "100"},
            (2, "memory: 256 MiB at 100 MiB a worker"),
        ),
        ({"worker_memory": 64, "workers": 5}, {}, (5, "the image's workers setting")),
        ({"worker_memory": 64}, {"WEB_CONCURRENCY": "4"}, (4, "WEB_CONCURRENCY")),
        (
            {"worker_memory": 64},
            {"WEB_CONCURRENCY": "4", "WSGI_WORKERS": "6"},
            (6, "WSGI_WORKERS"),
        ),
    ],
)
def test_the_expected_count_follows_the_documented_order(
    settings: dict[str, Any], env: dict[str, str], expected: tuple[int, str]
) -> None:
    assert limits.expected_workers(settings, env, cpus=1, memory_mib=256) == expected


def test_the_expected_count_agrees_with_the_entry_point() -> None:
    """The check computes the count on its own; under the check's limits both agree."""
    for settings in (
        {"worker_memory": 64, "memory_reserve": 32},
        {"worker_memory": 120, "memory_reserve": 16},
        {"worker_memory": 2, "memory_reserve": 64},
    ):
        spec = {"server": "x", "settings": settings}
        ours, _ = limits.expected_workers(settings, {}, cpus=1, memory_mib=256)
        theirs, _ = containerize_workers.size_workers(
            spec, {}, 1, 256 * containerize_workers.MIB, settings["worker_memory"]
        )
        assert ours == theirs


@pytest.mark.parametrize("app_mib", [None, 16, 80, 200])
@pytest.mark.parametrize("preloaded", [True, False])
@pytest.mark.parametrize(
    ("settings", "threads_only"),
    [
        ({"worker_memory": 64, "memory_reserve": 32}, False),
        ({"worker_memory": 64, "memory_reserve": 32, "worker_memory_stated": True}, False),
        ({"worker_memory": 64, "memory_reserve": 16}, False),
        ({"worker_memory": 2, "memory_reserve": 64}, True),
    ],
)
@pytest.mark.parametrize("memory_mib", [256, 512, 1024])
def test_the_expected_count_with_the_apps_memory_agrees_with_the_entry_point(
    settings: dict[str, Any],
    threads_only: bool,
    app_mib: int | None,
    preloaded: bool,
    memory_mib: int,
) -> None:
    spec = {"server": "x", "settings": settings, "workers_are_threads": threads_only}
    app = None if app_mib is None else containerize_workers.AppMemory(app_mib, preloaded=preloaded)
    try:
        theirs = start.settings(
            {**spec, "settings": {**settings, "threads": 1, "timeout": 30, "keepalive": 5,
                                  "grace_period": 8}},
            {}, cpus=1, memory=memory_mib * containerize_workers.MIB, app=app,
        )[0]["workers"]  # fmt: skip
    except containerize_workers.StartError:
        theirs = 0
    ours, _ = limits.expected_workers(
        settings, {}, cpus=1, memory_mib=memory_mib, app_mib=app_mib,
        preloaded=preloaded, threads_only=threads_only,
    )  # fmt: skip
    assert ours == max(theirs, 0) or (theirs == 0 and ours < 1)


def _proc(pid: int, ppid: int, cmdline: str, threads: int = 1) -> limits.Process:
    return limits.Process(
        pid=pid, ppid=ppid, cmdline=cmdline, rss_kib=20480, pss_kib=8192, threads=threads
    )


def test_workers_are_the_processes_that_loaded_the_app() -> None:
    gunicorn = "/opt/venv/bin/python /opt/venv/bin/gunicorn --bind 0.0.0.0:8000"
    prefork = [
        _proc(1, 0, gunicorn),
        _proc(7, 1, gunicorn),
        _proc(8, 1, gunicorn),
        _proc(9, 0, "/opt/venv/bin/python -c ..."),
    ]
    # 6: a worker recycled since, whose mark stays behind.
    found = limits.worker_processes(prefork, [6, 7, 8])
    assert [p.pid for p in found] == [7, 8]
    assert limits.count_workers("gunicorn", found, threads=1) == 2
    # Under emulation every Apache process shows the same command line.
    apache = "/usr/libexec/qemu-binfmt/aarch64-binfmt-P /usr/sbin/apache2 apache2"
    table = [_proc(1, 0, apache, 2), _proc(14, 1, apache, 9), _proc(19, 1, apache, 17)]
    assert [p.pid for p in limits.worker_processes(table, [14])] == [14]
    # cheroot: 3 workers x 4 threads is a pool of 12, beside the main and serving threads.
    cheroot = [_proc(1, 0, "/opt/venv/bin/python /opt/containerize/cheroot_serve.py", 14)]
    assert limits.count_workers("cheroot", cheroot, threads=4) == 3


# In a process of its own: the marks' fork hooks stay for the life of the process.
MARK_AND_FORK = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from containerize.runtime import containerize_wsgi
prefix = sys.argv[2]
containerize_wsgi.mark_loaded(prefix)
print(sorted(os.listdir(os.path.dirname(prefix))), flush=True)
child = os.fork()
if child == 0:
    os._exit(0)
os.waitpid(child, 0)
print(child, sorted(os.listdir(os.path.dirname(prefix))), flush=True)
containerize_wsgi.mark_loaded(os.path.join(sys.argv[1], "no-such-folder", "app-"))
"""


def test_each_process_that_loads_the_app_marks_itself_when_the_probe_is_on(
    tmp_path: Path,
) -> None:
    """A worker that loaded the app, or was forked with it loaded (preloaded), is
    marked; a master that forked it is not."""
    marks = tmp_path / "marks"
    marks.mkdir()
    root = Path(containerize_wsgi.__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-c", MARK_AND_FORK, str(root), str(marks / "app-")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    loaded, forked = done.stdout.splitlines()
    pid = loaded.split("'app-")[1].split("'")[0]
    child = forked.split()[0]
    assert loaded == f"['app-{pid}']"
    assert forked == f"{child} ['app-{child}']", done.stdout
    assert done.stderr == ""


def test_the_memory_summary_names_every_worker_and_the_rest() -> None:
    workers = [_proc(7, 1, "w"), _proc(8, 1, "w")]
    master = limits.Process(pid=1, ppid=0, cmdline="m", rss_kib=25600, pss_kib=None, threads=1)
    assert limits.memory_summary(workers, [master]) == (
        "worker RSS 20.0, 20.0 MiB (PSS 8.0, 8.0); others 25.0 MiB"
    )


def test_the_proc_script_reads_this_machines_processes() -> None:
    """The script the check runs in the image, run here: it lists processes with their
    memory, leaves itself out, and reads an oom_kill count where the cgroup has one."""
    ran = subprocess.run(
        [sys.executable, "-c", limits._PROC_SCRIPT, "/nonexistent/containerize-app-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found = json.loads(ran.stdout)
    rows = found["processes"]
    assert rows
    assert all(row["rss_kib"] >= 0 and row["threads"] >= 1 for row in rows)
    assert not any(limits._PROC_SCRIPT.strip()[:20] in row["cmdline"] for row in rows)
    assert found["oom_kill"] is None or isinstance(found["oom_kill"], int)
    assert found["loaded"] == []


# --------------------------------------------------------------------------- access log

_LINE: dict[str, Any] = {
    "time": "2026-12-07T11:17:52.453Z",
    "remote_addr": "203.0.113.9",
    "method": "GET",
    "path": "/_containerize/environ",
    "protocol": "HTTP/1.1",
    "status": 200,
    "bytes": 114,
    "duration_ms": 0.248,
}


def test_a_json_access_line_with_every_field_passes() -> None:
    lines = ["gunicorn: booting", json.dumps({**_LINE, "remote_addr": "172.17.0.1"})]
    lines.append(json.dumps(_LINE))
    found, problems = limits.log_problems(lines, path=_LINE["path"], remote_addr="203.0.113.9")
    assert (found, problems) == (_LINE, [])


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"duration_ms": None}, "duration_ms None"),
        ({"remote_addr": "172.17.0.1"}, "remote_addr '172.17.0.1', expected '203.0.113.9'"),
        ({"time": "07/Dec/2026:11:17:52 +0000"}, "time '07/Dec/2026:11:17:52 +0000'"),
        ({"bytes": 0}, "bytes 0"),
    ],
)
def test_a_json_access_line_that_lacks_a_field_is_named(
    change: dict[str, Any], problem: str
) -> None:
    line = json.dumps({**_LINE, **change})
    _, problems = limits.log_problems([line], path=_LINE["path"], remote_addr="203.0.113.9")
    assert problems == [problem]
    line = json.dumps({k: v for k, v in _LINE.items() if k != "status"})
    _, problems = limits.log_problems([line], path=_LINE["path"], remote_addr="203.0.113.9")
    assert problems == ["no 'status'"]


def test_no_access_line_at_all_is_named() -> None:
    found, problems = limits.log_problems(
        ["containerize: access log: json (stdout)"], path="/x", remote_addr="203.0.113.9"
    )
    assert (found, problems) == (None, ["no access log line on stdout for GET /x"])


# --------------------------------------------------------------------------- probe


def test_the_environ_probe_answers_only_its_path() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b"app"]

    probe = containerize_wsgi.EnvironProbe(app, "/_containerize/environ")
    seen: list[str] = []
    environ = {
        "PATH_INFO": "/_containerize/environ",
        "REQUEST_METHOD": "GET",
        "REMOTE_ADDR": "203.0.113.9",
        "wsgi.url_scheme": "https",
        "HTTPS": "on",
    }
    body = json.loads(b"".join(probe(environ, lambda status, headers: seen.append(status))))
    assert (body["REMOTE_ADDR"], body["wsgi.url_scheme"], body["HTTPS"]) == (
        "203.0.113.9",
        "https",
        "on",
    )
    assert seen == ["200 OK"]
    other = {**environ, "PATH_INFO": "/"}
    assert probe(other, lambda status, headers: None) == [b"app"]


def test_the_environ_probe_is_only_there_when_asked_for(tmp_path: Path) -> None:
    (tmp_path / "demo.py").write_text("def app(environ, start_response):\n    return []\n")
    spec = {"app": {"kind": "callable", "module": "demo", "callable": "app"}}
    spec["app_dir"] = str(tmp_path)  # type: ignore[assignment]

    def layers(app: Any) -> list[str]:
        names = []
        while hasattr(app, "app"):
            names.append(type(app).__name__)
            app = app.app
        return names

    plain = containerize_wsgi.build(spec, {"WSGI_ACCESS_LOG": "off"})
    assert "EnvironProbe" not in layers(plain)
    probed = containerize_wsgi.build(
        spec, {"WSGI_ACCESS_LOG": "off", "CONTAINERIZE_ENVIRON_PROBE": "/_containerize/environ"}
    )
    assert layers(probed)[-1] == "EnvironProbe"  # right in front of the application


# --------------------------------------------------------------------------- build tools


def _site(root: Path, *, name: str, installer: str | None) -> None:
    (root / name).mkdir(parents=True)
    if installer is not None:
        info = root / f"{name}-24.0.dist-info"
        info.mkdir()
        (info / "INSTALLER").write_text(installer + "\n")


def _look(tmp_path: Path) -> dict[str, list[str]]:
    venv = tmp_path / "venv"
    sites = [
        str(venv / "lib/python3*/site-packages"),
        str(tmp_path / "usr/lib/python3/dist-packages"),
    ]
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            containerchecks._TOOL_SCRIPT,
            str(venv),
            ",".join(sites),
            "no-such-tool-here",
            ",".join(containerchecks._PACKAGING),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    found: dict[str, list[str]] = json.loads(ran.stdout)
    return found


def test_pip_from_the_projects_lock_is_not_a_build_tool(tmp_path: Path) -> None:
    _site(tmp_path / "venv/lib/python3.11/site-packages", name="pip", installer="containerize")
    found = _look(tmp_path)
    assert found == {"found": [], "locked": ["pip-24.0"]}
    assert containerchecks.judge_toolchain(found) == (
        "no compiler or build tool; pip-24.0 from the project's lock"
    )


def test_pip_that_containerize_did_not_place_is_reported(tmp_path: Path) -> None:
    _site(tmp_path / "venv/lib/python3.11/site-packages", name="setuptools", installer="pip")
    _site(tmp_path / "usr/lib/python3/dist-packages", name="pip", installer=None)
    found = _look(tmp_path)
    assert found["locked"] == []
    assert [Path(p).name for p in found["found"]] == ["setuptools", "pip"]
    with pytest.raises(Failed, match=r"the runtime image holds build tools: .*setuptools"):
        containerchecks.judge_toolchain(found)


def test_containerizes_own_servers_lock_holds_no_packaging_tool() -> None:
    """What the rule above rests on: a packaging tool that containerize placed in the
    venv can only have come from the project's lock."""
    lock = tomllib.loads(SERVERS_LOCK.read_text())
    names = {package["name"] for package in lock["packages"]}
    assert {"cheroot", "gunicorn", "mod-wsgi", "pyuwsgi"} <= names
    assert not names & set(containerchecks._PACKAGING)


def test_an_emulated_cell_gets_room_for_the_emulators_memory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "2.0"\n\n[tool.containerize]\napp = "demo:app"\n'
        'platforms = ["linux/amd64", "linux/arm64"]\nservers = ["gunicorn"]\n'
    )
    cfg = config.load(tmp_path, environ={})
    native, emulated = plan.plan_matrix(cfg, native_arch="amd64").cells
    assert limits.limits_text(native) == "--cpus 1 --memory 256m"
    assert limits.limits_text(emulated) == "--cpus 1 --memory 512m"


def test_an_oom_kill_is_answered_with_the_worker_size_the_workers_reached() -> None:
    spec = {"settings": {"worker_memory": 64, "memory_reserve": 32}}
    workers = [
        limits.Process(pid=29, ppid=1, cmdline="gunicorn", rss_kib=106 * 1024,
                       pss_kib=None, threads=1),
        limits.Process(pid=30, ppid=1, cmdline="gunicorn", rss_kib=79 * 1024,
                       pss_kib=None, threads=1),
    ]  # fmt: skip
    master = [
        limits.Process(pid=1, ppid=0, cmdline="start.py", rss_kib=88 * 1024,
                       pss_kib=None, threads=1)
    ]  # fmt: skip
    fix = limits.oom_fix(spec, workers, master)
    assert fix.startswith("its workers reached 106 MiB each (the rest 88 MiB), more than the 64")
    assert "set worker-memory = 117 in [tool.containerize] (or WSGI_WORKER_MEMORY=117)" in fix
    # Workers within what the count assumed: the other ways out, no figure.
    lean = limits.Process(
        pid=31, ppid=1, cmdline="gunicorn", rss_kib=40 * 1024, pss_kib=None, threads=1
    )
    small = limits.oom_fix(spec, [lean], master)
    assert small.startswith("lower 'workers' or raise 'worker-memory'")
