"""The image's health check, run by its ``HEALTHCHECK``: GET the health-check path on
loopback and judge the answer as Kubernetes judges an ``httpGet`` probe.

A status from 200 to 399 is healthy; a redirect is not followed (a site whose ``/``
redirects to its login page is up). Anything else, or no answer within the timeout, is
unhealthy. The test matrix judges its readiness with the same :func:`healthy`, so the
image's health and the matrix agree.

Usage: ``python containerize_health.py PORT PATH``. Exit 0 when healthy, 1 when not.

This file runs in the image: standard library only, no containerize imports.
"""

from __future__ import annotations

import http.client
import sys

TIMEOUT = 4.0
LOWEST, HIGHEST = 200, 399


def healthy(status: int) -> bool:
    """True for the statuses an ``httpGet`` probe passes: 200 to 399."""
    return LOWEST <= status <= HIGHEST


def status(port: int, path: str, *, host: str = "127.0.0.1", timeout: float = TIMEOUT) -> int:
    """The status of one GET *path* on *host*:*port*; OSError or HTTPException without one.

    http.client follows no redirect: the first answer is the one judged.
    """
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[0].isdigit() or not argv[1].startswith("/"):
        print("usage: containerize_health.py PORT PATH", file=sys.stderr)
        return 2
    port, path = int(argv[0]), argv[1]
    try:
        found = status(port, path)
    except (OSError, http.client.HTTPException, ValueError) as exc:  # ValueError: a bad URL
        print(f"GET {path}: no answer ({type(exc).__name__}: {exc})")
        return 1
    print(f"GET {path}: {found}")
    return 0 if healthy(found) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
