"""containerize's entrypoint, which start.py runs in the image as PID 1 with the
image's Python (start.py is a stub: see its docstring).

It reads the server's settings from ``server.json`` beside it, lets environment
variables override them, waits for the services the app needs, runs the start-up
commands, then becomes the server, so that the server is PID 1 and receives the
engine's stop signal itself: a server that is a Python script run by this very
interpreter (Gunicorn's console script, the uWSGI and cheroot launchers,
mod_wsgi-express) is run in this process, as if it had been exec'ed, without a
second interpreter's start (see :func:`python_script`); any other is exec'ed.

Run-time settings, the same names on every server:

``WSGI_WORKERS``      worker processes; else ``WEB_CONCURRENCY`` (Heroku, Dokku, Render),
                      else the image's ``workers``, else the smaller of 2 x CPUs + 1
                      (CPUs: what the container may use, its cgroup CPU quota, v2 or
                      v1, and cpuset) and what its memory limit holds (below)
``WSGI_WORKER_MEMORY`` MiB one worker needs (default: the server's, see server.json)
``WSGI_THREADS``      threads per worker (default: the server's, see server.json)
``WSGI_TIMEOUT``      seconds a request may take before its worker is recycled
``WSGI_KEEPALIVE``    seconds an idle keep-alive connection stays open
``WSGI_GRACE_PERIOD`` seconds in-flight requests get to finish after SIGTERM
``WSGI_ALLOWED_HOSTS`` Host names served, comma-separated ('*' for any, '.example.com'
                      for a domain and its subdomains); loopback names always pass
                      (see containerize_hosts.py)
``WSGI_MAX_REQUESTS`` requests a worker serves before it is replaced (0: never)
``WSGI_MAX_REQUESTS_JITTER`` up to this many more per worker (default: a tenth)
``WSGI_TRUSTED_PROXIES`` proxies whose X-Forwarded-For and X-Forwarded-Proto are
                      believed: addresses or CIDR networks, comma-separated ('none':
                      none); replaces the image's list (see containerize_proxies.py)
``WSGI_ACCESS_LOG``   'common', 'json' or 'off' (see containerize_accesslog.py)
``WSGI_PRELOAD``      'auto', 'on' or 'off': load the app in the server's master and
                      fork the workers from it, or load it in each worker (below)
``WSGI_WAIT_FOR``     'host:port' services to wait for, comma-separated
``WSGI_WAIT_TIMEOUT`` seconds to wait for them (default 30)
``WSGI_PRESTART``     commands to run first, one per line, split like a shell would
                      but run without one (e.g. 'python manage.py migrate --noinput')

Under a memory limit (cgroup v2 ``memory.max``, v1 ``memory.limit_in_bytes``) the
formula's count is capped at (limit - the server's reserve) / worker memory, so that a
node with many CPUs and a small limit does not start more workers than fit. A limit
too small for one worker stops the start (exit 2), whatever set the count; a count
set by a variable or the image that is more than the limit holds is kept, with a
warning. The start line says where the count came from.

The Host allow-list is checked by the server itself where the server can (uWSGI's
routes, an Apache ``<If>`` section), so that static files it serves on its own are covered
too: server.json's ``host_check`` arguments are added to the command, with
``{allowed_hosts_re}`` replaced by the list's regular expression, which the server's
environment also gets as ``CONTAINERIZE_ALLOWED_HOSTS_RE`` (for its configuration
files). A list that holds '*' adds nothing. A bad entry stops the start.

Preloading (``WSGI_PRELOAD``, the image's ``preload``): see containerize_preload.py.

With arguments (``docker run IMAGE python manage.py shell``) it runs them instead of
the server, without the hooks.

This file runs in the image: standard library only (and containerize_hosts.py,
containerize_proxies.py, containerize_accesslog.py and containerize_preload.py beside
it), no containerize imports.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time

# Not typing's TYPE_CHECKING: importing typing is a few milliseconds of every start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import Any

if __name__ == "containerize.runtime.containerize_start":  # from the package (tests)
    from containerize.runtime import containerize_accesslog as accesslog
    from containerize.runtime import containerize_hosts as hosts
    from containerize.runtime import containerize_preload as preloading
    from containerize.runtime import containerize_proxies as proxies
    from containerize.runtime import containerize_workers as workers
else:  # in the image, imported by start.py: its folder is sys.path[0]
    import containerize_accesslog as accesslog  # type: ignore[import-not-found,no-redef]
    import containerize_hosts as hosts  # type: ignore[import-not-found,no-redef]
    import containerize_preload as preloading  # type: ignore[import-not-found,no-redef]
    import containerize_proxies as proxies  # type: ignore[import-not-found,no-redef]
    import containerize_workers as workers  # type: ignore[import-not-found,no-redef]

# Raised and logged throughout, as in the worker sizing.
StartError = workers.StartError
log = workers.log

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "server.json")
VERDICT = os.path.join(HERE, "import-check.json")
# The allow-list's regular expression, for the server's configuration files.
HOSTS_RE = "CONTAINERIZE_ALLOWED_HOSTS_RE"
_HOSTS_PLACEHOLDER = "{allowed_hosts_re}"

# name: (environment variable, low, high)
SETTINGS = {
    "threads": ("WSGI_THREADS", 1, 1024),
    "timeout": ("WSGI_TIMEOUT", 1, 86400),
    "keepalive": ("WSGI_KEEPALIVE", 1, 3600),
    "grace_period": ("WSGI_GRACE_PERIOD", 1, 3600),
    "worker_memory": ("WSGI_WORKER_MEMORY", 1, 65536),
    "max_requests": ("WSGI_MAX_REQUESTS", 0, 10**9),
    "max_requests_jitter": ("WSGI_MAX_REQUESTS_JITTER", 0, 10**9),
}
_PLACEHOLDER = re.compile(
    r"\{(workers|threads|timeout|keepalive|grace_period|concurrency"
    r"|max_requests|max_requests_jitter|max_requests_delta)\}"
)


# --- settings ---------------------------------------------------------------------


def settings(
    spec: dict[str, Any],
    environ: dict[str, str],
    cpus: int,
    memory: int | None = None,
    app: workers.AppMemory | None = None,
) -> tuple[dict[str, int], str]:
    """The server's settings (server.json's defaults, then the environment's), and where
    the worker count came from; *memory* is the container's limit in bytes (None: none),
    *app* what the build measured the loaded app to hold.
    """
    defaults = spec.get("settings", {})
    values: dict[str, int] = {}
    for name, (variable, low, high) in SETTINGS.items():
        told = workers.whole_number(environ, variable, low, high)
        if told is not None:
            values[name] = told
        elif defaults.get(name) is not None:
            values[name] = int(defaults[name])
        elif name == "max_requests_jitter":  # after max_requests, in SETTINGS' order
            values[name] = values["max_requests"] // 10
        elif name == "max_requests":
            values[name] = 0
        else:
            raise StartError(f"server.json has no default for {name!r}")
    worker_mib, reserve, measured = workers.memory_needs(
        spec, environ, values["worker_memory"], app
    )
    values["worker_memory"] = worker_mib
    values["workers"], why = workers.size_workers(
        spec, environ, cpus, memory, worker_mib, reserve=reserve, measured=measured
    )
    values["concurrency"] = values["workers"] * values["threads"]
    # uWSGI adds (worker id x delta): the jitter spread over the workers. Nothing to
    # spread when workers are never recycled.
    values["max_requests_delta"] = (
        values["max_requests_jitter"] // values["workers"] if values["max_requests"] else 0
    )
    return values, why


def server_argv(spec: dict[str, Any], values: dict[str, int]) -> list[str]:
    """server.json's argv with each {placeholder} replaced by its value."""
    return [_PLACEHOLDER.sub(lambda m: str(values[m[1]]), arg) for arg in spec["argv"]]


def allowed_hosts(spec: dict[str, Any], environ: dict[str, str]) -> tuple[str, ...]:
    """``WSGI_ALLOWED_HOSTS``, else the image's list; a bad entry is a StartError."""
    try:
        return hosts.configured(spec.get("allowed_hosts", [hosts.ANY]), environ)
    except hosts.HostsError as exc:
        raise StartError(str(exc)) from None


def recycling(spec: dict[str, Any], values: dict[str, int]) -> str | None:
    """The start line about recycling workers; None when they are never recycled."""
    count, jitter = values["max_requests"], values["max_requests_jitter"]
    if not count:
        return None
    how = spec.get("recycling", "jitter")
    if how == "none":
        return (
            f"recycling: {spec['server']} serves from one process and cannot recycle it; "
            f"max-requests ({count}) is not applied"
        )
    if how == "exact" or not jitter:
        return f"recycling: each worker after {count} requests" + (
            f" ({spec['server']} has no jitter)" if how == "exact" and jitter else ""
        )
    return f"recycling: each worker after {count} to {count + jitter} requests"


def access_log(spec: dict[str, Any], environ: dict[str, str]) -> str:
    """``WSGI_ACCESS_LOG``, else the image's format; a bad one is a StartError (the WSGI
    entry point reads the same variable)."""
    try:
        return accesslog.configured(spec.get("access_log", "common"), environ)
    except accesslog.AccessLogError as exc:
        raise StartError(str(exc)) from None


def trusted_proxies(spec: dict[str, Any], environ: dict[str, str]) -> tuple[str, ...]:
    """``WSGI_TRUSTED_PROXIES``, else the image's list, as networks; a bad entry is a
    StartError (the WSGI entry point reads the same variable)."""
    try:
        networks = proxies.configured(spec.get("trusted_proxies", []), environ)
    except proxies.ProxiesError as exc:
        raise StartError(str(exc)) from None
    return tuple(str(network) for network in networks)


def host_check(spec: dict[str, Any], entries: tuple[str, ...]) -> tuple[list[str], str | None]:
    """The arguments that make the server check Host itself, and the list's pattern.

    Both are empty when *entries* allow any host.
    """
    regex = hosts.pattern(entries)
    if regex is None:
        return [], None
    return [arg.replace(_HOSTS_PLACEHOLDER, regex) for arg in spec.get("host_check", [])], regex


def preload(
    spec: dict[str, Any], environ: dict[str, str], verdict: dict[str, Any] | None
) -> tuple[list[str], str]:
    """The arguments that make the server preload the app or not, and the start line
    (containerize_preload.decide, with the image's *verdict*); a bad variable is a
    StartError."""
    try:
        return preloading.decide(spec, environ, verdict)
    except preloading.PreloadError as exc:
        raise StartError(str(exc)) from None


# --- becoming the server -----------------------------------------------------------


def python_script(command: list[str], python: str = sys.executable) -> str | None:
    """The Python script *command* runs with *python*, this interpreter, or None.

    ``python script.py ...`` and a script whose first line is ``#!python`` are run
    in this process (:func:`run_script`): an exec would start the same interpreter
    again, in the same environment, only to import what this one has imported. The
    bench's Django image, Gunicorn, 9 starts each (medians, 2026-12-07): Gunicorn's
    "Listening" line came 0.105 s after the container started exec'ed, 0.086 s run here.
    """
    if command[0] == python:
        script = command[1] if len(command) > 1 else ""
        return script if script.endswith(".py") and os.path.isabs(script) else None
    try:
        with open(command[0], "rb") as file:
            first = file.readline(len(python) + 4)
    except OSError:
        return None
    return command[0] if first.rstrip(b"\r\n") == b"#!" + python.encode() else None


def run_script(script: str, argv: list[str]) -> None:
    """Run *script* as ``__main__`` with *argv*, as an exec of it would: its folder
    first on ``sys.path`` instead of this one's. Returns only if it does."""
    import runpy

    sys.argv = argv
    sys.path[0] = os.path.dirname(script)
    runpy.run_path(script, run_name="__main__")


# --- hooks ------------------------------------------------------------------------


def parse_services(text: str) -> list[tuple[str, int]]:
    """'db:5432, cache:6379' -> [('db', 5432), ('cache', 6379)]; '[::1]:80' works too."""
    services = []
    for item in re.split(r"[,\s]+", text.strip()):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise StartError(
                f"WSGI_WAIT_FOR: {item!r} is not 'host:port'; write e.g. 'db:5432,cache:6379'"
            )
        services.append((host, int(port)))
    return services


def wait_for(services: list[tuple[str, int]], timeout: float) -> None:
    """Return once every service accepts a TCP connection; StartError after *timeout*."""
    import socket  # here: a start without services does without it

    deadline = time.monotonic() + timeout
    for host, port in services:
        log(f"waiting for {host}:{port} (up to {timeout:g} s)")
        last = "no attempt"
        while True:
            try:
                with socket.create_connection((host, port), timeout=2):
                    break
            except OSError as exc:
                last = exc.strerror or str(exc)
            if time.monotonic() >= deadline:
                raise StartError(
                    f"{host}:{port} did not accept a connection within {timeout:g} s "
                    f"(last error: {last}); check the service, or raise WSGI_WAIT_TIMEOUT",
                    code=1,
                )
            time.sleep(0.5)
        log(f"{host}:{port} is up")


def parse_commands(text: str) -> list[list[str]]:
    """One command per non-empty line, split by shell rules (quotes), run without a shell."""
    if not text.strip():
        return []
    import shlex  # here, as subprocess below: a start without commands does without it

    commands = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            commands.append(shlex.split(line))
        except ValueError as exc:
            raise StartError(f"WSGI_PRESTART line {number}: {exc}: {line!r}") from None
    return commands


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_running: subprocess.Popen[bytes] | None = None
_stopping = 0


def _on_signal(signum: int, _frame: object) -> None:
    global _stopping
    _stopping = signum
    if _running is not None and _running.poll() is None:
        _running.send_signal(signum)  # the command decides how to stop
    else:
        raise SystemExit(128 + signum)


def _stop_before_serving(signum: int, _frame: object) -> None:
    log(f"{signal.Signals(signum).name} before the server started: stopping")
    raise SystemExit(0)


def run_commands(commands: list[list[str]], cwd: str) -> None:
    """Run each command in turn; the first failure stops the start with its exit code."""
    global _running
    if not commands:
        return
    import shlex
    import subprocess  # here: a start without commands does without it

    for argv in commands:
        log("running " + shlex.join(argv))
        try:
            _running = subprocess.Popen(argv, cwd=cwd)
        except OSError as exc:
            raise StartError(f"cannot run {shlex.join(argv)}: {exc.strerror}", code=127) from None
        code = _running.wait()
        _running = None
        if _stopping:
            raise SystemExit(128 + _stopping)
        if code != 0:
            raise StartError(f"{shlex.join(argv)} failed with exit code {code}", code=code or 1)


# --- main -------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)
    if argv:
        # Someone else's command: run it as PID 1 in our place, as is.
        try:
            os.execvp(argv[0], argv)  # noqa: S606
        except OSError as exc:
            log(f"cannot run {argv[0]}: {exc.strerror}")
            return 127
    try:
        with open(SPEC, encoding="utf-8") as file:
            spec = json.load(file)
        environ = dict(os.environ)
        cpus = workers.available_cpus()
        memory = workers.cgroup_memory_limit()
        verdict = preloading.read_verdict(VERDICT)
        preload_argv, preload_line = preload(spec, environ, verdict)
        app = workers.AppMemory.of(verdict, preloaded=preload_line.startswith(preloading.PRELOADED))
        values, workers_from = settings(spec, environ, cpus, memory, app)
        services = parse_services(environ.get("WSGI_WAIT_FOR", ""))
        commands = parse_commands(environ.get("WSGI_PRESTART", ""))
        wait_text = environ.get("WSGI_WAIT_TIMEOUT", "30").strip() or "30"
        if not wait_text.isdigit():
            raise StartError(f"WSGI_WAIT_TIMEOUT={wait_text!r} is not a whole number of seconds")
        entries = allowed_hosts(spec, environ)
        trusted = trusted_proxies(spec, environ)
        log_format = access_log(spec, environ)
        check_argv, hosts_re = host_check(spec, entries)
        if services:
            wait_for(services, float(wait_text))
        run_commands(commands, cwd=spec["app_dir"])
        command = server_argv(spec, values) + preload_argv + check_argv
    except StartError as exc:
        log(str(exc))
        return exc.code
    log(
        f"starting {spec['server']}: {values['workers']} workers x {values['threads']} threads "
        f"({workers_from}), timeout {values['timeout']} s, grace period {values['grace_period']} s"
    )
    log(f"allowed hosts: {', '.join(entries)}" + (", loopback" if hosts_re else ""))
    log(f"trusted proxies: {', '.join(trusted) or 'none (X-Forwarded-* ignored)'}")
    if (line := recycling(spec, values)) is not None:
        log(line)
    log(f"access log: {log_format}" + ("" if log_format == "off" else " (stdout)"))
    log(preload_line)
    if hosts_re is not None:
        os.environ[HOSTS_RE] = hosts_re
    if spec.get("unblocks_stop_signals"):
        # Blocked, a stop signal that comes before the server handles it stays pending
        # across the exec; the server's launcher unblocks it. Unblocked, PID 1 would
        # drop it, and the engine would kill the container after its timeout.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    script = python_script(command)
    if script is None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        os.execv(command[0], command)  # noqa: S606
    # In this process a handler stays until the server installs its own: a preloaded
    # Gunicorn imports the app before it does (seconds under emulation), and PID 1
    # without a handler would drop a stop signal that comes then, so the engine would
    # kill the container after its timeout. Nothing is served yet: stop at once, with
    # 0, as uWSGI's launcher does for a stop before uWSGI starts.
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_before_serving)
    run_script(script, command[1:] if command[0] == sys.executable else command)
    return 0
