"""Readiness, judged as Kubernetes judges an httpGet probe: the matrix's verdicts on
observations, and the image's health check against a real server on loopback."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from containerize.matrix import checks, readiness, report
from containerize.matrix.readiness import Attempt, judge
from containerize.runtime import FOLDER, containerize_health


def verdict(
    *answers: tuple[float, int | None],
    exit_code: int | None = None,
    log: str = "",
    now: float | None = None,
    timeout: float = 60.0,
    slowdown: float = 1.0,
) -> readiness.Verdict:
    attempts = [
        Attempt(at=at, status=status, error="" if status else "ConnectionRefusedError: refused")
        for at, status in answers
    ]
    return judge(
        attempts,
        path="/health",
        exit_code=exit_code,
        log=log,
        now=now if now is not None else (attempts[-1].at if attempts else 0.0),
        timeout=timeout,
        slowdown=slowdown,
    )


@pytest.mark.parametrize("status", [200, 204, 301, 302, 303, 307, 308, 399])
def test_200_to_399_is_ready_and_a_redirect_is_not_followed(status: int) -> None:
    result = verdict((0.5, None), (1.0, status))
    assert result.kind == "ready"
    assert not result.failed
    assert result.message == f"GET /health answered {status} at 1.0s"


@pytest.mark.parametrize("status", [199, 400, 401, 404, 500, 503])
def test_other_statuses_are_not_ready(status: int) -> None:
    assert verdict((1.0, status)).kind == "waiting"
    assert not containerize_health.healthy(status)


def test_no_answer_yet_is_waiting_until_the_timeout() -> None:
    assert verdict((1.0, None), (30.0, None)).kind == "waiting"
    late = verdict((1.0, None), (59.0, None), now=60.0)
    assert late.kind == "timeout"
    assert late.failed
    assert late.message == (
        "GET /health did not answer 200-399 within 60s "
        "(last answer: no answer (ConnectionRefusedError: refused))"
    )


def test_an_exited_container_fails_at_once_whatever_the_code() -> None:
    for code in (1, 3, 4, 137):
        result = verdict((0.5, None), exit_code=code)
        assert result.kind == "exited"
        assert result.message.startswith(f"the container exited (exit code {code}) before GET")


def test_a_traceback_in_the_start_up_log_fails_at_once() -> None:
    log = (
        "[INFO] Booting worker with pid: 7\n"
        "Traceback (most recent call last):\n"
        '  File "/app/app.py", line 3, in <module>\n'
        "KeyError: 'SECRET_KEY'\n"
    )
    result = verdict((0.5, None), log=log)
    assert result.kind == "traceback"
    assert "traceback" in result.message
    assert readiness.traceback_excerpt(log).splitlines() == log.splitlines()[1:]


def test_a_traceback_does_not_outweigh_a_ready_answer() -> None:
    # An app that logged an error at start and then serves is ready.
    assert verdict((2.0, 200), log="Traceback (most recent call last):\n").kind == "ready"


def test_5xx_for_a_few_seconds_running_fails_before_the_timeout() -> None:
    assert verdict((1.0, 500), (2.0, 502), (3.9, 500)).kind == "waiting"
    result = verdict((1.0, 500), (2.0, 503), (4.0, 500))
    assert result.kind == "server-error"
    assert result.message == (
        "GET /health answered server errors for 3.0s running (last: 500); "
        "failed after 3s of them, not the 60s timeout"
    )


def test_a_5xx_run_is_broken_by_anything_else() -> None:
    # A server that restarts (no answer between errors) has not been failing 3s running.
    assert verdict((0.0, 500), (1.0, None), (2.0, 500), (3.5, 500)).kind == "waiting"
    assert verdict((0.0, 500), (1.0, 404), (2.0, 500), (3.5, 500)).kind == "waiting"


def test_emulation_stretches_the_error_windows() -> None:
    answers = [(float(t), 500) for t in range(8)]
    assert verdict(*answers, slowdown=5).kind == "waiting"
    assert verdict(*answers, (15.0, 500), slowdown=5).kind == "server-error"


def test_the_same_4xx_for_seconds_fails_and_names_the_setting() -> None:
    assert verdict((1.0, 404), (5.9, 404)).kind == "waiting"
    result = verdict((1.0, 404), (3.0, 404), (6.0, 404))
    assert result.kind == "client-error"
    assert result.message.startswith("GET /health kept answering 404 for 5.0s")
    assert "tool.containerize.healthcheck-path" in result.message


def test_changing_4xx_are_not_the_same_4xx() -> None:
    assert verdict((1.0, 401), (3.0, 403), (7.0, 404)).kind == "waiting"


def test_the_order_of_reasons() -> None:
    # An exit explains the traceback and the errors before it: it is named first.
    log = "Traceback (most recent call last):\n"
    assert verdict((1.0, 500), (5.0, 500), exit_code=1, log=log).kind == "exited"
    assert verdict((1.0, 500), (5.0, 500), log=log).kind == "traceback"


# --------------------------------------------------------------------------- the image's


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = int(self.path.strip("/").split("/")[0] or 200)
        self.send_response(status)
        if 300 <= status < 400:
            # A redirect to a path that errors: following it would judge 500.
            self.send_header("Location", "/500")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "code"),
    [("/200", 0), ("/302", 0), ("/301", 0), ("/399", 0), ("/404", 1), ("/500", 1), ("/503", 1)],
)
def test_the_image_health_check_judges_as_the_matrix(
    server_port: int, path: str, code: int
) -> None:
    ran = subprocess.run(
        [sys.executable, str(FOLDER / "containerize_health.py"), str(server_port), path],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert ran.returncode == code, ran.stdout + ran.stderr
    assert ran.stdout == f"GET {path}: {path.strip('/')}\n"
    status = int(path.strip("/"))
    assert containerize_health.healthy(status) == (code == 0)
    assert (verdict((1.0, status)).kind == "ready") == (code == 0)


def test_the_image_health_check_without_an_answer_is_unhealthy() -> None:
    # A port bound but never listened on refuses connections.
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        ran = subprocess.run(
            [sys.executable, str(FOLDER / "containerize_health.py"), str(port), "/"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert ran.returncode == 1
    assert ran.stdout.startswith("GET /: no answer (ConnectionRefusedError")


def test_the_image_health_check_refuses_bad_arguments() -> None:
    for argv in ([], ["80"], ["port", "/"], ["80", "health"]):
        assert containerize_health.main(argv) == 2


def test_a_failed_start_names_the_known_cause_as_a_build_would() -> None:
    # The container's log, as a migration hook that imported WeasyPrint left it.
    log = (
        "containerize: WSGI_PRESTART: python manage.py migrate --noinput\n"
        "Traceback (most recent call last):\n"
        '  File "/app/invoices/pdf.py", line 3, in <module>\n'
        "OSError: cannot load library 'libgobject-2.0-0': libgobject-2.0-0: cannot open "
        "shared object file: No such file or directory\n"
    )
    verdict = readiness.Verdict(kind="traceback", message="its log shows a traceback")
    detail = checks.ready_detail(verdict, None, log)
    assert "its log's traceback:\nTraceback (most recent call last):" in detail
    assert "cause: the shared library libgobject-2.0-0 is not installed" in detail
    assert "hint: declare the Debian package that ships it as a run package" in detail
    # A log without a known cause gets no guess.
    plain = checks.ready_detail(
        verdict, None, "Traceback (most recent call last):\nKeyError: 'x'\n"
    )
    assert "cause:" not in plain
    assert "hint:" not in plain


def test_a_failed_start_shows_its_traceback_once_then_what_followed() -> None:
    # A migration hook whose URLconf import fails, as Django's own checks run it.
    frames = "".join(f'  File "/app/site/m{i}.py", line {i}, in <module>\n' for i in range(8))
    log = (
        "containerize: WSGI_PRESTART: python -m django migrate --noinput\n"
        "Traceback (most recent call last):\n"
        + frames
        + "ImportError: cannot import name 'Invite' from 'api.serializers'\n"
        "containerize: python -m django migrate --noinput failed with exit code 1\n"
    )
    verdict = readiness.Verdict(kind="exited", message="the container exited (exit code 1)")
    detail = checks.ready_detail(verdict, None, log)
    assert detail.count("ImportError: cannot import name 'Invite'") == 1
    assert detail.count('File "/app/site/m7.py"') == 1
    assert detail.endswith(
        "its log after the traceback (last lines):\n"
        "containerize: python -m django migrate --noinput failed with exit code 1"
    )

    failed = checks.Outcome(check="ready", status="failed", message=verdict.message, detail=detail)
    result = report.CellResult(
        server="gunicorn", platform="linux/amd64", image="site:gunicorn", image_id=None,
        outcomes=(failed,), seconds=7.0, log_tail=log,
    )  # fmt: skip
    text = report.failures([result])
    assert text.count("ImportError: cannot import name 'Invite'") == 1
    assert "container log (last lines):" not in text
    # The Markdown report keeps the container's log whole.
    assert report.markdown([result]).count("ImportError: cannot import name 'Invite'") == 2

    # A log that does not end where the evidence does is still shown.
    other = report.CellResult(
        server="gunicorn", platform="linux/amd64", image="site:gunicorn", image_id=None,
        outcomes=(checks.Outcome(check="not root", status="failed", message="root"),),
        seconds=7.0, log_tail="[INFO] Listening at: http://0.0.0.0:8000",
    )  # fmt: skip
    assert "container log (last lines):\n    [INFO] Listening at" in report.failures([other])
