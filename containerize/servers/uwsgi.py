"""uWSGI, from the ``pyuwsgi`` distribution (the ``uwsgi`` one is sdist-only).

uWSGI 2.0 treats SIGTERM as a brutal reload, and ``--die-on-term`` makes it a brutal
stop (workers get SIGINT). The master-start hook maps SIGTERM to
``gracefully_kill_them_all`` instead: each worker gets SIGHUP and finishes its
request, for up to ``--worker-reload-mercy`` seconds, then the master exits.

A stop right after start must not be lost either (it was, on emulated arm64, in 2 of 3
tries: the engine killed the container after its timeout):

- uWSGI ignores SIGHUP until a worker has loaded the app, and with ``--lazy-apps``
  (``preload`` off) each worker loads it after the fork, seconds under emulation. The master waits
  for every worker it signalled, with no limit, so one worker that dropped its
  SIGHUP kept the container up until the engine's SIGKILL. ``--hook-asap`` maps
  SIGHUP to ``end_me`` before the first fork (workers inherit it), and
  ``--hook-post-fork`` again in every worker respawned later: a worker still loading
  the app, which has nothing to finish, then ends at once. With ``--skip-atexit``,
  ``end_me`` ends a worker with ``_exit``, the one exit that is safe in a signal
  handler that may have interrupted the app's import anywhere (in malloc, holding a
  lock). Once the app is loaded, uWSGI maps SIGHUP to its graceful stop again.
- Until the master-start hook, the master ignores SIGTERM (uWSGI's own start-up),
  then reloads on it: ``--hook-asap`` maps it to ``end_me`` (nothing is served yet),
  and ``--die-on-term`` makes it a stop until the master-start hook.
- Before uWSGI runs at all, start.py execs the launcher ``uwsgi_serve.py`` with the
  stop signals blocked, and the launcher stops at once when one came meanwhile.

Preloaded (``preload``, uWSGI's own default), the master imports the app before the
first fork, with ``--hook-asap``'s SIGTERM mapping already in place, and every worker
starts with it loaded; ``--py-call-uwsgi-fork-hooks`` runs Python's fork hooks around
uWSGI's fork (uWSGI pull request 2388; the older ``--py-call-osafterfork`` runs only
the child's half, and breaks on Python 3.13, uWSGI issue 2710).

uWSGI's ``--http-socket`` answers one request per connection (no keep-alive, so
``WSGI_KEEPALIVE`` does not apply); keep-alive to clients is the job of the proxy or
load balancer in front. Static files come from its static map, with Python's media
types (slim images have no /etc/mime.types).

The Host allow-list is an internal route: the request chain runs before the static
map and the application, so an allowed Host goes on (``continue``) and any other gets
400 (``break``). A request without Host has nothing to match, so it gets 400 too.
"""

from __future__ import annotations

import mimetypes

from packaging.utils import NormalizedName, canonicalize_name

from containerize.servers.base import (
    A_YEAR,
    ENTRY,
    ENTRY_DIR,
    HASHED_NAME_RE,
    HOSTS_RE,
    Preload,
    Recycling,
    Runtime,
    toolchain,
)

MIME_TYPES = "mime.types"


class UWSGIServer:
    name = "uwsgi"
    distribution: NormalizedName = canonicalize_name("pyuwsgi")
    # uwsgi_serve.py runs pyuwsgi's run().
    entry_module = "pyuwsgi"
    serves_static = True
    stop_signal = "SIGTERM"
    default_threads = 1
    # Memory, as the test matrix's "limits" check reports it (a container of the image
    # under --cpus 1 --memory 256m: 3 workers, RSS and PSS from /proc after a burst of
    # 100 requests 8 at a time; amd64, fixtures/hello-wsgi and fixtures/django-app,
    # Django 5.2, measured 2026-12-07):
    # pyuwsgi 2.0.30: a worker (--lazy-apps: it imports the app itself) 13.8 MiB RSS
    # (6.7 PSS) for hello-wsgi, 41.0 MiB RSS (29.2 PSS) for Django; the master 11.8
    # MiB. A worker gets 64 MiB, as Gunicorn's do; the reserve, 16 MiB, is the master.
    # --max-requests-delta adds (worker id x delta) to each worker's limit: the jitter,
    # spread evenly over the workers rather than drawn at random.
    recycling: Recycling = "jitter"
    worker_memory = 64
    memory_reserve = 16
    workers_are_threads = False
    unblocks_stop_signals = True  # uwsgi_serve.py
    # Preloading is uWSGI's own default: the master imports the app, then forks. Its
    # fork is not Python's, so --py-call-uwsgi-fork-hooks runs what os.fork() would
    # around it (the os.register_at_fork hooks: random's new seed in each worker,
    # threading's and logging's locks made anew); not the older --py-call-osafterfork,
    # which runs only the child's half. --lazy-apps: each worker imports the app itself
    # after the fork, as Gunicorn's workers do without --preload.
    preload = Preload(on=("--py-call-uwsgi-fork-hooks",), off=("--lazy-apps",))

    def build_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return toolchain(runtime)

    def runtime_packages(self, runtime: Runtime) -> tuple[str, ...]:
        return ()

    def command(self, runtime: Runtime) -> tuple[str, ...]:
        argv = [
            f"{runtime.venv}/bin/python", f"{ENTRY_DIR}/uwsgi_serve.py",
            "--http-socket", f"0.0.0.0:{runtime.port}",
            "--master",
            "--processes", "{workers}",
            "--threads", "{threads}",
            "--enable-threads",
            "--single-interpreter",
            "--harakiri", "{timeout}",
            "--worker-reload-mercy", "{grace_period}",
            "--max-requests", "{max_requests}",
            "--max-requests-delta", "{max_requests_delta}",
            # uWSGI keeps a worker at least 10 s by default, whatever its requests:
            # recycling would then lag max-requests under load.
            "--min-worker-lifetime", "1",
            "--die-on-term",
            "--hook-asap", "unix_signal:15 end_me",
            "--hook-asap", "unix_signal:1 end_me",
            "--hook-post-fork", "unix_signal:1 end_me",
            "--skip-atexit",
            "--hook-master-start", "unix_signal:15 gracefully_kill_them_all",
            "--chdir", runtime.app_dir,
            "--pythonpath", ENTRY_DIR,
            "--module", ENTRY,
            "--need-app",
            "--strict",
            "--vacuum",
            "--buffer-size", "32768",
            # No request log: containerize_wsgi writes the access log, the same on
            # every server. uWSGI's own messages go to stderr.
            "--disable-logging",
        ]  # fmt: skip
        if runtime.static is not None:
            argv += [
                "--static-map", f"{runtime.static.url.rstrip('/')}={runtime.static.root}",
                "--static-expires", f"{runtime.static.root}/.*{HASHED_NAME_RE} {A_YEAR}",
                "--mimefile", f"{ENTRY_DIR}/{MIME_TYPES}",
            ]  # fmt: skip
        return tuple(argv)

    def host_check(self, runtime: Runtime) -> tuple[str, ...]:
        return (
            "--route-host", f"{HOSTS_RE} continue:",
            "--route-run", "break:400 Bad Request",
        )  # fmt: skip

    def files(self, runtime: Runtime) -> dict[str, str]:
        if runtime.static is None:
            return {}
        return {MIME_TYPES: mime_types()}


def mime_types() -> str:
    """Python's own table of media types in mime.types format, for uWSGI's static files.

    Slim base images have no /etc/mime.types; Python's built-in table (not the host's
    files) keeps the text the same on every machine.
    """
    table = mimetypes.MimeTypes(filenames=())
    by_type: dict[str, list[str]] = {}
    for extension, media_type in table.types_map[True].items():
        by_type.setdefault(media_type, []).append(extension.lstrip("."))
    lines = ["# Python's mimetypes table, written by containerize for uWSGI"]
    lines += [f"{t}\t{' '.join(sorted(exts))}" for t, exts in sorted(by_type.items())]
    return "\n".join(lines) + "\n"


UWSGI = UWSGIServer()
