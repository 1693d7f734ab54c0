"""containerize's cheroot launcher: one process, a pool of threads.

Cheroot's own ``cheroot`` command cannot serve a container: it binds ``[::1]:8000`` by
default, imports the application before it puts the working directory on ``sys.path``,
and installs no SIGTERM handler, so as PID 1 (where the kernel drops signals that have
no handler) ``docker stop`` would wait out the engine's timeout and SIGKILL it.

argv: port threads keep-alive grace-period (seconds). Cheroot has one socket
timeout, for reading a request and for an idle keep-alive connection alike; it has no
limit on the application's own time. The application is containerize_wsgi's
(beside this file), which finds the user's application itself.

SIGTERM and SIGINT are only written to a pipe (``signal.set_wakeup_fd``) that the main
thread waits on, so no work happens in a handler and a signal during start-up is not
lost. On the first signal the main thread calls ``Server.stop()``: the listening socket
closes, idle keep-alive connections are dropped, in-flight requests finish (cheroot
waits up to the grace period, then shuts their sockets' read side and still waits for
the application to return), and the process exits 0. A second signal ends the process
at once, except as PID 1, where the engine's SIGKILL after its stop timeout does.

Cheroot writes no access log of its own: containerize_wsgi's access log writes one
line per response to stdout, as on every server; start, stop and errors go to stderr.

This file runs in the image: standard library and cheroot only.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))


def log(message: str) -> None:
    print(f"cheroot: {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    port, threads, keepalive, grace = (int(arg) for arg in argv)

    # A handler that does nothing but makes the signal reach the wakeup pipe.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)

    sys.path.insert(0, HERE)
    import containerize_wsgi  # type: ignore[import-not-found]
    from cheroot import wsgi  # type: ignore[import-not-found]

    server = wsgi.Server(
        ("0.0.0.0", port),  # a container serves on every interface
        containerize_wsgi.application,
        numthreads=threads,
        max=threads,
        timeout=keepalive,
        shutdown_timeout=grace,
        # Cheroot's listen backlog is 5 by default: a burst of new connections beyond
        # that overflows the accept queue while its one selector thread hands the last
        # ones to the pool, the kernel drops the SYNs, and each client retries after its
        # 1 s SYN timeout (the matrix's burst, 100 requests 8 at a time, hello-wsgi on
        # amd64: p99 1,010-1,033 ms in 3 runs of 5, p50 3-7 ms). With the system's
        # maximum (the kernel caps it at net.core.somaxconn), as Gunicorn's 2048 and
        # uWSGI's 100 are no bottleneck there either: p99 6-37 ms in 8 runs, Gunicorn's
        # 14-84 ms in the same runs (measured 2026-12-07).
        request_queue_size=socket.SOMAXCONN,
    )
    server.prepare()

    def serve() -> None:
        try:
            server.serve()
        finally:
            os.write(wake_w, b"\0")  # 0 is no signal: serving ended on its own

    serving = threading.Thread(target=serve, name="cheroot-serve")
    serving.start()
    log(f"serving on 0.0.0.0:{port}, {threads} threads")
    received = os.read(wake_r, 1)[0]
    if received == 0:
        serving.join()
        log("the server stopped without a signal")
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)
    log(f"{signal.Signals(received).name}: finishing in-flight requests ({grace} s)")
    server.stop()
    serving.join()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
