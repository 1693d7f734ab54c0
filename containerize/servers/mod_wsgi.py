"""Apache httpd with mod_wsgi, run by ``mod_wsgi-express``.

``mod-wsgi`` is sdist-only: it is compiled against the image's Apache (``apxs``) and
Python, so the builder needs Apache's development files and a compiler, and the
runtime needs Apache and, for a Debian-packaged Python, its shared ``libpython``.
"""

from __future__ import annotations

from packaging.utils import NormalizedName, canonicalize_name

from containerize.servers.base import App, Runtime, toolchain


class ModWSGI:
    name = "mod_wsgi"
    distribution: NormalizedName = canonicalize_name("mod-wsgi")
    serves_static = True
    # Apache's graceful stop; mod_wsgi-express passes it on to httpd.
    stop_signal = "SIGWINCH"

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ("apache2-dev", *toolchain(runtime))

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        major, minor = runtime.python_version
        packages = ("apache2",)
        return (*packages, f"libpython{major}.{minor}") if runtime.distro_python else packages

    def command(self, app: App, runtime: Runtime) -> tuple[str, ...]:
        return (
            f"{runtime.venv}/bin/mod_wsgi-express", "start-server",
            "--port", str(runtime.port),
            "--processes", str(runtime.workers),
            "--threads", "4",
            "--server-root", "/tmp/mod_wsgi-express",
            # Debian's minimal images have no en_US locale, mod_wsgi-express's default.
            "--locale", "C.UTF-8",
            "--log-to-terminal",
            "--access-log",
            "--startup-log",
            "--working-directory", runtime.app_dir,
            "--application-type", "module",
            "--callable-object", app.callable,
            app.module,
        )  # fmt: skip


MOD_WSGI = ModWSGI()
