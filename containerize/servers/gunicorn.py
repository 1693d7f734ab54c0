"""Gunicorn: a pure-Python pre-fork server."""

from __future__ import annotations

from packaging.utils import NormalizedName, canonicalize_name

from containerize.servers.base import ENTRY, ENTRY_DIR, Preload, Recycling, Runtime


class Gunicorn:
    name = "gunicorn"
    distribution: NormalizedName = canonicalize_name("gunicorn")
    # The gunicorn script runs gunicorn.app.wsgiapp's run().
    entry_module = "gunicorn.app.wsgiapp"
    serves_static = False
    # SIGTERM is Gunicorn's graceful shutdown: workers finish their requests within
    # --graceful-timeout, then the arbiter exits 0.
    stop_signal = "SIGTERM"
    # Sync workers; more than one thread makes Gunicorn use its gthread workers, which
    # also keep connections alive.
    default_threads = 1
    # Memory, as the test matrix's "limits" check reports it (a container of the image
    # under --cpus 1 --memory 256m: 3 workers, RSS and PSS from /proc after a burst of
    # 100 requests 8 at a time; amd64, fixtures/hello-wsgi and fixtures/django-app,
    # Django 5.2, measured 2026-12-07):
    # Gunicorn 27: a worker 20.4 MiB RSS (8.3 PSS) for hello-wsgi, 39.6 MiB RSS (26.8
    # PSS) for Django; the arbiter 25.1 MiB. An earlier hand measurement of Django's
    # index page (a template and a database query) gave 41 MiB RSS a worker. A worker
    # gets 64 MiB: the Django figure and about half again for a real app's growth
    # between recycles; RSS counts pages shared with other workers, so the count errs
    # on the safe side. The reserve, 32 MiB, is the arbiter and room.
    # --max-requests-jitter: each worker's limit gets a random 0..jitter on top.
    recycling: Recycling = "jitter"
    # --preload: the arbiter imports the app, then forks the workers (and every worker
    # that replaces one, after max-requests or a timeout) with it already loaded.
    preload = Preload(on=("--preload",))
    worker_memory = 64
    memory_reserve = 32
    workers_are_threads = False
    unblocks_stop_signals = False

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def command(self, runtime: Runtime) -> tuple[str, ...]:
        return (
            f"{runtime.venv}/bin/gunicorn",
            "--bind", f"0.0.0.0:{runtime.port}",
            "--workers", "{workers}",
            "--threads", "{threads}",
            "--timeout", "{timeout}",
            "--keep-alive", "{keepalive}",
            "--graceful-timeout", "{grace_period}",
            "--max-requests", "{max_requests}",
            "--max-requests-jitter", "{max_requests_jitter}",
            # Trusts no proxy itself: containerize_wsgi applies trusted-proxies, the
            # same way on every server (Gunicorn trusts 127.0.0.1 by default).
            "--forwarded-allow-ips", "",
            "--chdir", runtime.app_dir,
            "--pythonpath", ENTRY_DIR,
            # No access log: containerize_wsgi writes it, the same on every server.
            # Errors ('-' is stderr here).
            "--error-logfile", "-",
            # Heartbeat files on tmpfs-friendly /dev/shm, not the image's overlay /tmp.
            "--worker-tmp-dir", "/dev/shm",
            ENTRY,
        )  # fmt: skip

    def host_check(self, runtime: Runtime) -> tuple[str, ...]:
        # Every request reaches containerize_wsgi, which checks Host before WhiteNoise.
        return ()

    def files(self, runtime: Runtime) -> dict[str, str]:
        return {}


GUNICORN = Gunicorn()
