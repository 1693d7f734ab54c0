"""Gunicorn: a pure-Python pre-fork server."""

from __future__ import annotations

from packaging.utils import NormalizedName, canonicalize_name

from containerize.servers.base import App, Runtime


class Gunicorn:
    name = "gunicorn"
    distribution: NormalizedName = canonicalize_name("gunicorn")
    serves_static = False
    # SIGTERM is Gunicorn's graceful shutdown: workers finish their requests.
    stop_signal = "SIGTERM"

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def command(self, app: App, runtime: Runtime) -> tuple[str, ...]:
        return (
            f"{runtime.venv}/bin/gunicorn",
            "--bind", f"0.0.0.0:{runtime.port}",
            "--workers", str(runtime.workers),
            "--chdir", runtime.app_dir,
            "--access-logfile", "-",
            # Heartbeat files on tmpfs-friendly /dev/shm, not the image's overlay /tmp.
            "--worker-tmp-dir", "/dev/shm",
            f"{app.module}:{app.callable}",
        )  # fmt: skip


GUNICORN = Gunicorn()
