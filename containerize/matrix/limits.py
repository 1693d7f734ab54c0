"""The production checks of a cell: one more container of its image, run as a small
production host runs it, with a CPU and a memory limit.

In that container (``--cpus 1 --memory 256m``, 512m on an emulated platform, where the
emulator's own memory counts too; the cell's test environment, and three variables of
its own) the checks are:

- **workers**: the start line's count is the formula's (2 x CPUs + 1, capped by what
  the memory limit holds at the image's per-worker memory; or the variable or image
  setting that the line names), and that many workers run: the processes that loaded
  the application, which the entry point marks in /dev/shm while the probe is on (a
  process title such as mod_wsgi's '(wsgi:...)' is not seen in /proc under emulation);
  cheroot's one process holds workers x threads threads;
- **limits**: a bounded burst, 8 at a time, has no failed request; no process of the
  container was killed for lack of memory (the engine's ``OOMKilled`` and the cgroup's
  own ``oom_kill`` count, v2 or v1); each worker's resident memory after the burst is
  reported (RSS, and PSS where the kernel shows it), with the master's;
- **proxy**: ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are honoured from a trusted
  address and ignored from any other, as the application sees them. The container
  trusts 127.0.0.1 (``WSGI_TRUSTED_PROXIES``): a request made inside it, from
  loopback, comes from a trusted proxy, and one from this machine, through the
  engine's published port, from an untrusted address. What the application sees is
  read through the entry point's environ probe, which ``CONTAINERIZE_ENVIRON_PROBE``
  turns on for that container only (it sits right in front of the application, so
  user apps need no probe route of their own);
- **access log**: with ``WSGI_ACCESS_LOG=json``, the lines on stdout for those
  requests hold the agreed fields (time, method, path, status, bytes, duration,
  remote address), with the client's address the trusted proxy named.
"""

from __future__ import annotations

import http.client
import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from containerize import process
from containerize.engine import containers, docker
from containerize.errors import CommandError, ContainerTestError
from containerize.image import plan as image_plan
from containerize.matrix import httpchecks
from containerize.matrix.checks import Failed, Outcome, Subject, await_ready, ready_detail, timed
from containerize.matrix.plan import Cell
from containerize.runtime.containerize_wsgi import MARKS
from containerize.servers.base import ENTRY_DIR

CPUS = 1
MEMORY_MIB = 256
#: Under emulation each process also holds the emulator's own memory (qemu: 30-50 MiB
#: more RSS a process, fixtures/hello-wsgi on linux/arm64), which the cgroup counts:
#: an emulated cell gets this many times the limit, and the formula is checked for it.
EMULATED_MEMORY_FACTOR = 2


def memory_limit(cell: Cell) -> int:
    """The cell's memory limit in MiB."""
    return MEMORY_MIB * (EMULATED_MEMORY_FACTOR if cell.emulated else 1)


def limits_text(cell: Cell) -> str:
    return f"--cpus {CPUS} --memory {memory_limit(cell)}m"


PROBE_PATH = "/_containerize/environ"
#: The client a trusted proxy names, and the one before it (RFC 5737 addresses).
CLIENT = "203.0.113.9"
FORWARDED = {"X-Forwarded-For": f"198.51.100.1, {CLIENT}", "X-Forwarded-Proto": "https"}
#: The fields every access log line holds, by their JSON names.
LOG_FIELDS = ("time", "method", "path", "status", "bytes", "duration_ms", "remote_addr")
_START_LINE = re.compile(
    r"containerize: starting (?P<server>\S+): (?P<workers>\d+) workers x "
    r"(?P<threads>\d+) threads \((?P<source>[^)]*)\)"
)
MIB = 1024 * 1024


def environment(cell_env: dict[str, str]) -> dict[str, str]:
    """The production container's variables: the cell's, and the checks' own."""
    return {
        **cell_env,
        "WSGI_TRUSTED_PROXIES": "127.0.0.1",
        "WSGI_ACCESS_LOG": "json",
        "CONTAINERIZE_ENVIRON_PROBE": PROBE_PATH,
    }


def production(subject: Subject, *, run_id: str) -> list[Outcome]:
    """Start the limited container, run its checks, remove it."""
    cell = subject.cell
    began = time.monotonic()
    try:
        limited = containers.start(
            cell.image,
            platform=cell.platform,
            port=cell.port,
            env=environment(dict(cell.env)),
            cpus=CPUS,
            memory=f"{memory_limit(cell)}m",
            network=subject.network,
            run_id=run_id,
            pull=False,
        )
    except (CommandError, ContainerTestError) as exc:
        return [
            Outcome(
                check="limits",
                status="failed",
                message=f"could not start the image with {limits_text(cell)}: {exc}",
                seconds=time.monotonic() - began,
            )
        ]
    try:
        inner = Subject(cell=cell, container=limited, started=began, network=subject.network)
        verdict, answer, log = await_ready(
            limited,
            cell.healthcheck_path,
            started=began,
            timeout=cell.ready_timeout,
            slowdown=cell.slowdown,
        )
        if verdict.kind != "ready":
            return [
                Outcome(
                    check="limits",
                    status="failed",
                    message=f"with {limits_text(cell)}: {verdict.message}",
                    detail=ready_detail(verdict, answer, log),
                    seconds=time.monotonic() - began,
                )
            ]
        try:
            spec = _server_json(limited)
        except Failed as exc:
            return [
                Outcome(check="workers", status="failed", message=exc.message, detail=exc.detail)
            ]
        return [
            # The burst first: a server that loads the app at a worker's first request has
            # loaded it everywhere by then.
            timed("limits", lambda: memory(inner, spec)),
            timed("workers", lambda: workers(inner, spec)),
            timed("proxy", lambda: proxy(inner)),
            timed("access log", lambda: access_log(inner)),
        ]
    finally:
        containers.remove(limited)


# --------------------------------------------------------------------------- workers


@dataclass(frozen=True, kw_only=True)
class StartLine:
    server: str
    workers: int
    threads: int
    source: str


def start_line(log: str) -> StartLine | None:
    """The entry point's 'starting SERVER: N workers x T threads (SOURCE)' line."""
    found = _START_LINE.search(log)
    if found is None:
        return None
    return StartLine(
        server=found["server"],
        workers=int(found["workers"]),
        threads=int(found["threads"]),
        source=found["source"],
    )


def expected_workers(
    settings: dict[str, Any],
    env: dict[str, str],
    *,
    cpus: int,
    memory_mib: int,
    app_mib: int | None = None,
    preloaded: bool = False,
    threads_only: bool = False,
) -> tuple[int, str]:
    """The count the image promises (README, run-time settings), computed here on its
    own: a variable, else the image's ``workers``, else min(2 x CPUs + 1, (limit -
    reserve) / worker memory). With the app's memory as the build measured it
    (*app_mib*): a worker is at least 1.25 x it (in whole 8 MiB) unless stated, a
    preloading master (*preloaded*) holds it too, and a server whose workers are
    threads (*threads_only*) holds it once. The second value names the deciding rule."""
    for variable in ("WSGI_WORKERS", "WEB_CONCURRENCY"):
        text = env.get(variable, "").strip()
        if text.isdigit():
            return int(text), variable
    if settings.get("workers") is not None:
        return int(settings["workers"]), "the image's workers setting"
    text = env.get("WSGI_WORKER_MEMORY", "").strip()
    per_worker = int(text) if text.isdigit() else int(settings["worker_memory"])
    reserve = int(settings.get("memory_reserve") or 0)
    if app_mib:
        serving = math.ceil(int(app_mib * 1.25) / 8) * 8
        if threads_only:
            reserve = max(reserve, serving)
        else:
            if not text.isdigit() and not settings.get("worker_memory_stated"):
                per_worker = max(per_worker, serving)
            reserve += app_mib if preloaded else 0
    fits = (memory_mib - reserve) // per_worker
    by_cpus = 2 * cpus + 1
    if fits < by_cpus:
        return fits, f"memory: {memory_mib} MiB at {per_worker} MiB a worker"
    return by_cpus, f"2 x {cpus} CPUs + 1"


def workers(subject: Subject, spec: dict[str, Any]) -> str:
    """The start line's count is the formula's, and that many workers run."""
    log = containers.logs(subject.container)
    line = start_line(log)
    if line is None:
        raise Failed(
            "the log has no 'containerize: starting ...' line",
            detail="its log (first lines):\n" + "\n".join(log.splitlines()[:15]),
        )
    env = dict(subject.cell.env)
    want, rule = expected_workers(
        spec.get("settings", {}),
        env,
        cpus=CPUS,
        memory_mib=memory_limit(subject.cell),
        app_mib=_app_memory(subject.container),
        preloaded=PRELOADED_LINE in log,
        threads_only=bool(spec.get("workers_are_threads")),
    )
    if line.workers != want:
        raise Failed(
            f"the start line says {line.workers} workers ({line.source}); the formula "
            f"gives {want} ({rule})",
            detail=f"{limits_text(subject.cell)}, server.json settings: "
            + json.dumps(spec.get("settings", {}), sort_keys=True),
        )
    found = _proc(subject.container)
    running = count_workers(line.server, found.workers, threads=line.threads)
    if running != line.workers:
        raise Failed(
            f"{running} workers run (processes that loaded the app: "
            f"{', '.join(map(str, found.loaded)) or 'none'}), the start line says {line.workers}",
            detail=_table(found.table),
        )
    return f"{line.workers} workers x {line.threads} threads ({line.source}), {running} running"


#: The entry point's line when the server's master loads the app (containerize_preload).
PRELOADED_LINE = "containerize: app: preloaded"


def _app_memory(container: containers.Container) -> int | None:
    """What the build's import check measured the loaded app to hold (its verdict in
    the image), in MiB; None when the image has no such figure."""
    read = containers.execute(container, ["cat", f"{ENTRY_DIR}/import-check.json"])
    try:
        found = json.loads(read.stdout) if read.returncode == 0 else None
    except ValueError:
        return None
    mib = found.get("memory_mib") if isinstance(found, dict) else None
    return mib if isinstance(mib, int) and mib > 0 else None


# --------------------------------------------------------------------------- /proc


#: Run in the image: every process's parent, command line, resident memory and threads,
#: the cgroup's count of processes killed for lack of memory (v2, else v1), and the
#: processes that marked themselves as having loaded the application (argv[1]).
_PROC_SCRIPT = r"""
import glob, json, os, sys
MARKS = sys.argv[1]
rows = []
for name in os.listdir("/proc"):
    if not name.isdigit() or int(name) == os.getpid():
        continue
    try:
        with open(f"/proc/{name}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{name}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        continue
    pss = None
    try:
        with open(f"/proc/{name}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    rows.append({
        "pid": int(name), "ppid": int(status["PPid"]), "cmdline": cmdline,
        "rss_kib": int(status.get("VmRSS", "0 kB").split()[0]), "pss_kib": pss,
        "threads": int(status["Threads"]),
    })
oom = None
for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    oom = int(value)
        break
    except OSError:
        pass
marks = sorted(int(p[len(MARKS):]) for p in glob.glob(MARKS + "*") if p[len(MARKS):].isdigit())
print(json.dumps({"processes": rows, "oom_kill": oom, "loaded": marks}))
"""


@dataclass(frozen=True, kw_only=True)
class Process:
    pid: int
    ppid: int
    cmdline: str
    rss_kib: int
    pss_kib: int | None
    threads: int


@dataclass(frozen=True, kw_only=True)
class Proc:
    """What the in-image script read."""

    table: list[Process]
    oom_kill: int | None
    loaded: list[int]

    @property
    def workers(self) -> list[Process]:
        return worker_processes(self.table, self.loaded)


def _proc(container: containers.Container) -> Proc:
    python = f"{image_plan.VENV}/bin/python"
    result = containers.execute(container, [python, "-c", _PROC_SCRIPT, MARKS], timeout=120)
    if result.returncode != 0:
        raise Failed("could not read /proc in the container", detail=result.stdout + result.stderr)
    found = json.loads(result.stdout)
    table = sorted((Process(**row) for row in found["processes"]), key=lambda p: p.pid)
    return Proc(table=table, oom_kill=found["oom_kill"], loaded=found["loaded"])


def worker_processes(table: list[Process], loaded: list[int]) -> list[Process]:
    """The running processes that loaded the application (the entry point marks them
    while the probe is on): the pre-fork servers' workers, mod_wsgi's daemon processes,
    cheroot's one process; not a master, nor Apache's own children."""
    return [p for p in table if p.pid in set(loaded)]


def count_workers(server: str, found: list[Process], *, threads: int) -> int:
    """Workers running (*found*: the processes that loaded the application), or for
    cheroot, its one process's pool of threads / threads."""
    if server == "cheroot":
        # The pool's threads, beside the main, the serving thread and maybe a few
        # of the Python runtime's: whole workers' worth of them.
        pool = max((p.threads for p in found), default=0) - 2
        return max(0, pool) // max(1, threads)
    return len(found)


def _table(table: list[Process]) -> str:
    return "\n".join(
        f"  {p.pid:>5} {p.ppid:>5} {p.rss_kib / 1024:7.1f} MiB {p.threads:>3} thr  {p.cmdline}"
        for p in table
    )


# --------------------------------------------------------------------------- memory


def memory(subject: Subject, spec: dict[str, Any]) -> str:
    """A bounded burst under the limits: no request fails, no process is OOM-killed;
    each worker's resident memory afterwards is reported."""
    try:
        burst, failed = httpchecks.burst(subject), None
    except Failed as exc:  # why requests failed is in the memory figures and the log
        burst, failed = "", exc
    proc = _proc(subject.container)
    table, oom, found = proc.table, proc.oom_kill, proc.workers
    state = containers.state(subject.container)
    others = [p for p in table if p not in found]
    killed = []
    if state.get("OOMKilled"):
        killed.append("the engine reports the container OOM-killed")
    if oom:
        killed.append(f"the cgroup counts {oom} process(es) killed for lack of memory")
    if killed:
        killed.append(oom_fix(spec, found, others))
    problems = ([] if failed is None else [failed.message]) + killed
    if problems:
        details = [] if failed is None else [failed.detail]
        details.append(_table(table))
        if failed is not None:  # what the server said of the requests it dropped
            log = containers.logs(subject.container)
            details.append("its log (last lines):\n" + process.tail(log, 15))
        raise Failed("; ".join(problems), detail="\n".join(d for d in details if d))
    return (
        f"{limits_text(subject.cell)}: {burst}; no OOM kill"
        + ("" if oom is not None else " (engine's word; the cgroup shows no count)")
        + f"; {memory_summary(found, others)}"
    )


def oom_fix(spec: dict[str, Any], found: list[Process], others: list[Process]) -> str:
    """What to set after an OOM kill, from the memory the processes reached: a worker
    size with a tenth more room than the largest worker measured."""
    assumed = spec.get("settings", {}).get("worker_memory")
    largest = max((p.rss_kib for p in found), default=0) / 1024
    rest = sum(p.rss_kib for p in others) / 1024
    if not largest or (assumed and largest * 1.1 <= assumed):
        return (
            "lower 'workers' or raise 'worker-memory' in [tool.containerize] (or "
            "WSGI_WORKERS, WSGI_WORKER_MEMORY), or give the container more memory"
        )
    suggested = math.ceil(largest * 1.1)
    return (
        f"its workers reached {largest:.0f} MiB each (the rest {rest:.0f} MiB), more than the "
        f"{assumed} MiB a worker the count assumed: set worker-memory = {suggested} in "
        f"[tool.containerize] (or WSGI_WORKER_MEMORY={suggested}), or give the container "
        "more memory"
    )


def memory_summary(found: list[Process], others: list[Process]) -> str:
    """'worker RSS 20.1, 20.3 MiB (PSS 8.0, 8.1); others 25.0 MiB'."""
    rss = ", ".join(f"{p.rss_kib / 1024:.1f}" for p in found)
    text = f"worker RSS {rss or '-'} MiB"
    pss = [p.pss_kib for p in found if p.pss_kib is not None]
    if pss:
        text += " (PSS " + ", ".join(f"{k / 1024:.1f}" for k in pss) + ")"
    if others:
        text += "; others " + ", ".join(f"{p.rss_kib / 1024:.1f}" for p in others) + " MiB"
    return text


# --------------------------------------------------------------------------- proxy


_INSIDE = r"""
import json, sys, urllib.request
port, path, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
with urllib.request.urlopen(request, timeout=30) as answer:
    print(answer.read().decode())
"""


def _inside(subject: Subject, headers: dict[str, str]) -> dict[str, Any]:
    """GET the probe from inside the container, from 127.0.0.1."""
    python = f"{image_plan.VENV}/bin/python"
    argv = [python, "-c", _INSIDE, str(subject.cell.port), PROBE_PATH, json.dumps(headers)]
    result = containers.execute(subject.container, argv, timeout=60 * subject.cell.slowdown)
    if result.returncode != 0:
        raise Failed(
            f"GET {PROBE_PATH} from inside the container failed",
            detail=result.stdout + result.stderr,
        )
    return _environ(result.stdout)


def _outside(subject: Subject, headers: dict[str, str]) -> dict[str, Any]:
    """GET the probe from this machine, through the published port."""
    container = subject.container
    connection = http.client.HTTPConnection(
        container.host, container.port, timeout=10.0 * subject.cell.slowdown
    )
    try:
        connection.request("GET", PROBE_PATH, headers={"Host": "localhost", **headers})
        answer = connection.getresponse()
        body = answer.read()
    except (OSError, http.client.HTTPException) as exc:
        raise Failed(f"GET {PROBE_PATH} got no answer: {type(exc).__name__}: {exc}") from None
    finally:
        connection.close()
    if answer.status != 200:
        raise Failed(
            f"GET {PROBE_PATH}: {answer.status}", detail=body[:300].decode("utf-8", "replace")
        )
    return _environ(body.decode("utf-8", "replace"))


def _environ(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError:
        found = None
    if not isinstance(found, dict) or "REMOTE_ADDR" not in found:
        raise Failed(
            f"GET {PROBE_PATH} did not answer with the environ probe",
            detail=f"body: {text[:300]!r}; an image built by an older containerize has "
            "no probe: rebuild it",
        )
    return found


def proxy(subject: Subject) -> str:
    """Forwarded headers count from the trusted address only, as the app sees them."""
    trusted = _inside(subject, FORWARDED)
    plain = _outside(subject, {})
    untrusted = _outside(subject, FORWARDED)
    problems = []
    seen = (trusted["REMOTE_ADDR"], trusted["wsgi.url_scheme"], trusted.get("HTTPS"))
    if seen != (CLIENT, "https", "on"):
        problems.append(
            f"from 127.0.0.1 (trusted) the app saw REMOTE_ADDR={seen[0]}, "
            f"wsgi.url_scheme={seen[1]}, HTTPS={seen[2]}; expected {CLIENT}, https, on"
        )
    peer = plain["REMOTE_ADDR"]
    seen = (untrusted["REMOTE_ADDR"], untrusted["wsgi.url_scheme"], untrusted.get("HTTPS"))
    if seen != (peer, "http", None):
        problems.append(
            f"from {peer} (not trusted) the app saw REMOTE_ADDR={seen[0]}, "
            f"wsgi.url_scheme={seen[1]}, HTTPS={seen[2]}; expected {peer}, http, unset"
        )
    if problems:
        raise Failed(
            "; ".join(problems),
            detail=f"headers sent: {FORWARDED}; WSGI_TRUSTED_PROXIES=127.0.0.1",
        )
    return f"trusted 127.0.0.1: REMOTE_ADDR {CLIENT}, https; untrusted {peer}: headers ignored"


# --------------------------------------------------------------------------- access log


def log_problems(
    lines: list[str], *, path: str, remote_addr: str
) -> tuple[dict[str, Any] | None, list[str]]:
    """The JSON access log line for GET *path* from *remote_addr*, and what is wrong."""
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("path") == path:
            records.append(record)
    if not records:
        return None, [f"no access log line on stdout for GET {path}"]
    found = next((r for r in records if r.get("remote_addr") == remote_addr), records[-1])
    problems = [f"no {name!r}" for name in LOG_FIELDS if name not in found]
    if not problems:
        if found["method"] != "GET" or found["status"] != 200:
            problems.append(f"method {found['method']!r}, status {found['status']!r}")
        if found["remote_addr"] != remote_addr:
            problems.append(f"remote_addr {found['remote_addr']!r}, expected {remote_addr!r}")
        if not isinstance(found["bytes"], int) or found["bytes"] <= 0:
            problems.append(f"bytes {found['bytes']!r}")
        if not isinstance(found["duration_ms"], (int, float)) or found["duration_ms"] < 0:
            problems.append(f"duration_ms {found['duration_ms']!r}")
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(found["time"])):
            problems.append(f"time {found['time']!r}")
    return found, problems


def access_log(subject: Subject) -> str:
    """The access log line of the trusted probe request has every agreed field."""
    result = docker.run("logs", subject.container.id, check=False, timeout=60)
    lines = result.stdout.splitlines()  # the container's stdout only
    found, problems = log_problems(lines, path=PROBE_PATH, remote_addr=CLIENT)
    if problems:
        raise Failed(
            "access log: " + "; ".join(problems),
            detail="stdout (last lines):\n" + "\n".join(lines[-10:]),
        )
    return "json line with " + ", ".join(LOG_FIELDS) + f": {json.dumps(found)}"


def _server_json(container: containers.Container) -> dict[str, Any]:
    result = containers.execute(container, ["cat", f"{ENTRY_DIR}/server.json"])
    if result.returncode != 0:
        raise Failed(f"cannot read {ENTRY_DIR}/server.json", detail=result.stderr)
    spec: dict[str, Any] = json.loads(result.stdout)
    return spec
