"""uWSGI, from the ``pyuwsgi`` distribution (the ``uwsgi`` one is sdist-only)."""

from __future__ import annotations

from packaging.utils import NormalizedName, canonicalize_name

from containerize.servers.base import App, Runtime, toolchain


class UWSGIServer:
    name = "uwsgi"
    distribution: NormalizedName = canonicalize_name("pyuwsgi")
    serves_static = True
    # With --die-on-term, SIGTERM shuts down instead of uWSGI 2.0's default reload.
    stop_signal = "SIGTERM"

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return toolchain(runtime)

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def command(self, app: App, runtime: Runtime) -> tuple[str, ...]:
        return (
            f"{runtime.venv}/bin/uwsgi",
            "--http-socket", f"0.0.0.0:{runtime.port}",
            "--master",
            "--processes", str(runtime.workers),
            "--chdir", runtime.app_dir,
            "--module", f"{app.module}:{app.callable}",
            "--need-app",
            "--die-on-term",
            "--strict",
            "--vacuum",
        )  # fmt: skip


UWSGI = UWSGIServer()
