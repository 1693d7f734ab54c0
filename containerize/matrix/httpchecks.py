"""The HTTP checks of a cell: its probes, a static file, the Host allow-list, a burst.

Each asks the running container over the port the engine published on 127.0.0.1, with
a bounded wait, and fails with the request and the answer as its detail (see
:mod:`containerize.matrix.checks`).
"""

from __future__ import annotations

import http.client
import mimetypes
import statistics
import threading
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from containerize import process
from containerize.config import Probe
from containerize.engine import containers
from containerize.image import plan as image_plan
from containerize.matrix import readiness
from containerize.matrix.checks import Failed, Outcome, Subject
from containerize.runtime.containerize_health import healthy

_FOREIGN_HOST = "foreign-host.containerize.invalid"


def probe(subject: Subject, spec: Probe) -> str:
    """One configured probe: status, body text and header texts."""
    answer = _request(subject, spec.path, host=spec.host)
    problems = []
    # The probe a test table without probes gets (the health-check path, every field
    # at its default) asks what readiness asks, and is judged the same way.
    if spec == Probe(path=subject.cell.healthcheck_path):
        if not healthy(answer.status):
            problems.append(f"status {answer.status}, expected {readiness.READY_RANGE}")
    elif answer.status != spec.status:
        problems.append(f"status {answer.status}, expected {spec.status}")
    if spec.contains is not None and spec.contains.encode() not in answer.body:
        problems.append(f"the body does not contain {spec.contains!r}")
    for name, text in spec.headers:
        value = answer.header(name)
        if value is None or text.lower() not in value.lower():
            problems.append(f"header {name} is {value!r}, expected it to contain {text!r}")
    if problems:
        raise Failed("; ".join(problems), detail=answer.describe())
    return f"{answer.status} in {answer.seconds * 1000:.0f} ms"


def _request(subject: Subject, path: str, *, host: str = "localhost") -> containers.Response:
    try:
        return containers.request(
            subject.container, path, host=host, timeout=10.0 * subject.cell.slowdown
        )
    except (OSError, http.client.HTTPException) as exc:
        raise Failed(
            f"GET {path} (Host: {host}) got no answer: {type(exc).__name__}: {exc}"
        ) from None


_FIRST_FILE = """
import mimetypes, os, sys
found = []
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    found += [os.path.relpath(os.path.join(folder, f), sys.argv[1]) for f in sorted(files)]
typed = [f for f in found if mimetypes.guess_type(f)[0]]
css = [f for f in typed if f.endswith(".css")]
print(len(found), (css or typed or [""])[0])
"""


def static_file(subject: Subject) -> Outcome | str:
    """A file of the static folder is served with its content type, and with 400 to a
    host not in ``allowed-hosts``."""
    cell = subject.cell
    if cell.static_url is None or cell.static_dir is None:
        return Outcome(check="static", status="skipped", message="no static files configured")
    listed = containers.execute(
        subject.container, [f"{image_plan.VENV}/bin/python", "-c", _FIRST_FILE, cell.static_dir]
    )
    count, _, name = listed.stdout.strip().partition(" ")
    if listed.returncode == 0 and count == "0":
        # The static command found nothing to copy (Django's collectstatic without an
        # app that ships static files): nothing to serve, and nothing wrong.
        return Outcome(
            check="static",
            status="skipped",
            message=f"the static folder {cell.static_dir} is empty: nothing to serve",
        )
    if listed.returncode != 0 or not name:
        raise Failed(
            f"the static folder {cell.static_dir} holds no file of a known type",
            detail=process.tail(listed.stdout + listed.stderr, 10),
        )
    path = cell.static_url + urllib.parse.quote(name)
    answer = _request(subject, path)
    expected = mimetypes.guess_type(name)[0] or ""
    content_type = answer.header("Content-Type") or ""
    if answer.status != 200 or not content_type.startswith(expected):
        raise Failed(
            f"GET {path}: {answer.status} {content_type or 'without a Content-Type'}, "
            f"expected 200 {expected}",
            detail=answer.describe(),
        )
    if "*" in cell.allowed_hosts:
        return f"{path}: 200 {content_type}"
    # The server may serve the file without the WSGI app: the allow-list still applies.
    foreign = _request(subject, path, host=_FOREIGN_HOST)
    if foreign.status != 400:
        raise Failed(
            f"GET {path} with Host {_FOREIGN_HOST}: {foreign.status}, expected 400",
            detail=foreign.describe(),
        )
    return f"{path}: 200 {content_type}; Host {_FOREIGN_HOST}: 400"


def foreign_host(subject: Subject) -> Outcome | str:
    """A request for a host not in ``allowed-hosts`` gets 400."""
    if "*" in subject.cell.allowed_hosts:
        return Outcome(
            check="hosts",
            status="skipped",
            message="allowed-hosts holds '*': every host is served",
        )
    answer = _request(subject, subject.cell.healthcheck_path, host=_FOREIGN_HOST)
    if answer.status != 400:
        raise Failed(
            f"Host {_FOREIGN_HOST} got {answer.status}, expected 400", detail=answer.describe()
        )
    return f"Host {_FOREIGN_HOST}: 400"


def burst(subject: Subject) -> str:
    """A bounded concurrent burst of requests completes with zero errors."""
    cell = subject.cell
    settings = cell.settings
    path = cell.healthcheck_path
    deadline = time.monotonic() + 60.0 * cell.slowdown
    errors: list[str] = []
    timings: list[float] = []
    lock = threading.Lock()

    def one(_: int) -> None:
        if time.monotonic() > deadline:
            return
        began = time.monotonic()
        try:
            answer = containers.request(subject.container, path, timeout=10.0 * cell.slowdown)
        except (OSError, http.client.HTTPException) as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        else:
            outcome = "" if healthy(answer.status) else f"status {answer.status}"
        with lock:
            (errors.append(outcome) if outcome else timings.append(time.monotonic() - began))

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=settings.burst_concurrency) as pool:
        list(pool.map(one, range(settings.burst_requests)))
    seconds = time.monotonic() - began
    done = len(errors) + len(timings)
    if timings:
        subject.latency_ms = (_percentile(timings, 50), _percentile(timings, 99))
    summary = f"{done} x GET {path}, {settings.burst_concurrency} at a time, in {seconds:.1f}s"
    if errors or done < settings.burst_requests:
        kinds = sorted(set(errors))
        raise Failed(
            f"{len(errors)} errors, {settings.burst_requests - done} not sent in time: " + summary,
            detail="\n".join(f"  {errors.count(k)} x {k}" for k in kinds[:10]),
        )
    p50, p99 = subject.latency_ms or (0.0, 0.0)
    return f"{summary}: p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def _percentile(seconds: Sequence[float], percent: int) -> float:
    if len(seconds) == 1:
        return seconds[0] * 1000
    cuts = statistics.quantiles(seconds, n=100, method="inclusive")
    return cuts[percent - 1] * 1000 if percent < 100 else max(seconds) * 1000
