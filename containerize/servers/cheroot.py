"""Cheroot, CherryPy's pure-Python HTTP server: one process, a pool of threads.

Cheroot's own ``cheroot`` command cannot serve a container: it binds ``[::1]:8000`` by
default, imports the application before it puts the working directory on ``sys.path``,
and installs no SIGTERM handler, so as PID 1 (where the kernel drops signals that
have no handler) ``docker stop`` would wait out the grace period and SIGKILL it.

So the image runs :data:`LAUNCHER`, a short fixed program, with the venv's Python. It
takes every value from its argv, never from generated source: the app directory goes
first on ``sys.path``, the callable is found with ``importlib`` and ``getattr``, and
``cheroot.wsgi.Server`` listens on ``0.0.0.0``. SIGTERM and SIGINT are only written to
a pipe (``signal.set_wakeup_fd``) that the main thread waits on, so no work happens in
a handler and a signal during start-up is not lost. On the first signal the main
thread calls ``Server.stop()``: the listening socket closes, idle keep-alive
connections are dropped, in-flight requests finish (cheroot waits up to
:data:`SHUTDOWN_TIMEOUT` seconds, then shuts their sockets' read side and still waits
for the application to return), and the process exits 0. A second signal ends the
process at once, except as PID 1, where the engine's SIGKILL after its stop timeout
does.

Cheroot writes no access log of its own; the launcher logs one line per response to
stdout (client, request line without the query string, status), and its start and
stop to stderr, as cheroot does its errors.
"""

from __future__ import annotations

from packaging.utils import NormalizedName, canonicalize_name

from containerize.servers.base import App, Runtime

# One process serves every request, so ``workers`` (processes for the other servers)
# becomes threads: four per worker, the concurrency mod_wsgi gets from ``workers``
# processes of four threads each. The pool is fixed: cheroot grows it only on request.
THREADS_PER_WORKER = 4

# Below Docker's default 10 s stop timeout, so a stop normally ends with exit code 0.
SHUTDOWN_TIMEOUT = 8

LAUNCHER = """\
# containerize's cheroot launcher; argv: module callable app-dir port threads timeout
import importlib, os, signal, sys, threading

module, name, app_dir, port, threads, timeout = sys.argv[1:]

# A handler that does nothing but makes the signal reach the wakeup pipe.
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, lambda *_: None)

sys.path.insert(0, app_dir)
from cheroot import wsgi

app = getattr(importlib.import_module(module), name)


def logged(environ, start_response):
    def start(status, headers, exc_info=None):
        line = '%s "%s %s %s" %s' % (
            environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"), environ.get("SERVER_PROTOCOL"), status.split()[0],
        )
        print(line, flush=True)
        return start_response(status, headers, exc_info)

    return app(environ, start)


def log(message):
    print("cheroot: " + message, file=sys.stderr, flush=True)


server = wsgi.Server(
    ("0.0.0.0", int(port)), logged,
    numthreads=int(threads), max=int(threads), shutdown_timeout=int(timeout),
)
server.prepare()


def serve():
    try:
        server.serve()
    finally:
        os.write(wake_w, b"\\0")  # 0 is no signal: serving ended on its own


serving = threading.Thread(target=serve, name="cheroot-serve")
serving.start()
log("serving %s:%s on 0.0.0.0:%s, %s threads" % (module, name, port, threads))
received = os.read(wake_r, 1)[0]
if received == 0:
    serving.join()
    log("the server stopped without a signal")
    sys.exit(1)
for signum in (signal.SIGTERM, signal.SIGINT):
    signal.signal(signum, signal.SIG_DFL)
log("%s: finishing in-flight requests (%ss)" % (signal.Signals(received).name, timeout))
server.stop()
serving.join()
log("stopped")
"""


class Cheroot:
    name = "cheroot"
    distribution: NormalizedName = canonicalize_name("cheroot")
    serves_static = False
    # The launcher's handler stops the server gracefully (see the module docstring).
    stop_signal = "SIGTERM"

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def command(self, app: App, runtime: Runtime) -> tuple[str, ...]:
        return (
            f"{runtime.venv}/bin/python", "-c", LAUNCHER,
            app.module, app.callable, runtime.app_dir,
            str(runtime.port),
            str(runtime.workers * THREADS_PER_WORKER),
            str(SHUTDOWN_TIMEOUT),
        )  # fmt: skip


CHEROOT = Cheroot()
