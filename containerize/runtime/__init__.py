"""The files containerize puts into every image, to run there.

They are run by the image's own Python, so they use the standard library only (and
WhiteNoise or cheroot where the image installs them), and they never import
containerize. Each takes its settings from one JSON file that the build writes next to
them, ``/opt/containerize/server.json``, and from environment variables at run time:

``start.py``
    the entrypoint: a stub that runs ``containerize_start.py`` from its bytecode;
``containerize_start.py``
    what the entrypoint does: sizes the server to the CPUs and memory the container may use,
    runs the start-up hooks, decides whether the app is preloaded, then becomes the
    server (in its own process, or by exec), which is PID 1;
``containerize_wsgi.py``
    the WSGI application every server loads: the user's application, whatever its
    type, behind the trusted proxies' rule, the Host allow-list and, where the server
    has no static file handler of its own, WhiteNoise; ``--check`` imports it at build time;
``containerize_hosts.py``
    the Host allow-list's rules and the regular expression the servers' own checks
    and the WSGI entry point's share;
``containerize_proxies.py``
    which proxies' ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed, the
    rule the WSGI entry point applies on every server;
``containerize_preload.py``
    whether the app is loaded once before the workers fork: what the import check saw
    the import leave running, and the entrypoint's decision;
``containerize_workers.py``
    how many workers: the CPUs, the memory limit and the app's measured memory;
``containerize_accesslog.py``
    the access log's line, the same on every server, which the WSGI entry point writes;
``cheroot_serve.py``
    the cheroot launcher: cheroot's own command cannot serve a container;
``uwsgi_serve.py``
    the uWSGI launcher: a stop signal that comes while uWSGI starts is not lost;
``containerize_health.py``
    the image's ``HEALTHCHECK``: the health-check path answers 200 to 399, redirects
    not followed, as Kubernetes judges an ``httpGet`` probe (the test matrix judges
    its readiness with the same rule).
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent
FILES = (
    "start.py",
    "containerize_start.py",
    "containerize_wsgi.py",
    "containerize_hosts.py",
    "containerize_proxies.py",
    "containerize_accesslog.py",
    "containerize_preload.py",
    "containerize_workers.py",
    "cheroot_serve.py",
    "containerize_health.py",
    "uwsgi_serve.py",
)

# Where they live in the image.
IMAGE_DIR = "/opt/containerize"
SPEC = f"{IMAGE_DIR}/server.json"
#: What the build's import check saw the app's import leave running (threads, sockets,
#: child processes): start.py preloads the app under preload = "auto" only when nothing.
IMPORT_VERDICT = f"{IMAGE_DIR}/import-check.json"
HEALTH = f"{IMAGE_DIR}/containerize_health.py"


def sources() -> dict[str, bytes]:
    """The files to copy into the image, by name."""
    return {name: (FOLDER / name).read_bytes() for name in FILES}
