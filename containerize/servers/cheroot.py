"""Cheroot, CherryPy's pure-Python HTTP server: one process, a pool of threads.

Cheroot's own ``cheroot`` command cannot serve a container (it binds ``[::1]``, imports
the app before putting the working directory on ``sys.path``, and as PID 1 ignores
SIGTERM), so the image runs containerize's launcher, ``cheroot_serve.py`` (see
:mod:`containerize.runtime`), with the venv's Python.
"""

from __future__ import annotations

from packaging.utils import NormalizedName, canonicalize_name

from containerize.servers.base import ENTRY_DIR, Preload, Recycling, Runtime


class Cheroot:
    name = "cheroot"
    distribution: NormalizedName = canonicalize_name("cheroot")
    # cheroot_serve.py serves with cheroot.wsgi's Server.
    entry_module = "cheroot.wsgi"
    serves_static = False
    # The launcher's handler stops the server gracefully.
    stop_signal = "SIGTERM"
    # One process serves every request, so its pool holds workers x threads threads:
    # the concurrency the pre-fork servers get from their processes.
    default_threads = 4
    # Memory, as the test matrix's "limits" check reports it (a container of the image
    # under --cpus 1 --memory 256m: 3 workers, RSS and PSS from /proc after a burst of
    # 100 requests 8 at a time; amd64, fixtures/hello-wsgi and fixtures/django-app,
    # Django 5.2, measured 2026-12-07):
    # cheroot 11: one process, so the app is loaded once: 23.2 MiB RSS (17.1 PSS) for
    # hello-wsgi, 43.2 MiB RSS (34.3 PSS) for Django, with 12 threads (3 workers x 4);
    # by hand, 44 MiB with 1 thread and 49 MiB with 36: a "worker" of 4 threads costs
    # well under 1 MiB. The process is the reserve (64 MiB: the Django figure and
    # room), a worker 2 MiB: under a memory limit its thread count is bounded by the
    # CPUs, not by memory.
    # One process serves everything: there is no worker to replace.
    recycling: Recycling = "none"
    preload = Preload(cannot="cheroot serves from one process, which loads the app once")
    worker_memory = 2
    memory_reserve = 64
    workers_are_threads = True
    unblocks_stop_signals = False

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def command(self, runtime: Runtime) -> tuple[str, ...]:
        return (
            f"{runtime.venv}/bin/python", f"{ENTRY_DIR}/cheroot_serve.py",
            str(runtime.port), "{concurrency}", "{keepalive}", "{grace_period}",
        )  # fmt: skip

    def host_check(self, runtime: Runtime) -> tuple[str, ...]:
        # Every request reaches containerize_wsgi, which checks Host before WhiteNoise.
        return ()

    def files(self, runtime: Runtime) -> dict[str, str]:
        return {}


CHEROOT = Cheroot()
