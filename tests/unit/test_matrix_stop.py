"""The stop-signal check's second try: only on an emulated platform, only for a
request that got no answer at all, and said in the check's message."""

from __future__ import annotations

import pytest

from containerize.engine import containers
from containerize.matrix import containerchecks
from containerize.matrix.checks import Failed, Subject
from containerize.matrix.containerchecks import _StopTry
from containerize.matrix.plan import Cell
from containerize.platforms import Platform
from containerize.testsettings import TestSettings as Settings

LOST = "RemoteDisconnected: Remote end closed connection without response\nGET /slow sent at 0.0s"


def _subject(*, emulated: bool) -> Subject:
    platform = Platform.parse("linux/arm64" if emulated else "linux/amd64")
    cell = Cell(
        server="mod_wsgi", platform=platform, image="app:mod_wsgi", built=True,
        emulated=emulated, port=8000, stop_signal="SIGWINCH", uid=10001, labels=(),
        healthcheck_path="/health", grace_period=8, allowed_hosts=("*",), static_url=None,
        static_dir=None, settings=Settings(probes=(), slow_path="/slow?seconds=3"),
    )  # fmt: skip
    container = containers.Container(
        id="first", image=cell.image, platform=platform, host="127.0.0.1", port=1
    )
    return Subject(cell=cell, container=container, started=0.0)


def _tries(monkeypatch: pytest.MonkeyPatch, *results: _StopTry) -> list[containers.Container]:
    """Each call of the check's one try returns the next of *results*; the containers
    it was given, in order. The second container is a stand-in started by name."""
    given: list[containers.Container] = []
    answers = iter(results)

    def one_try(subject: Subject, container: containers.Container) -> _StopTry:
        given.append(container)
        return next(answers)

    second = containers.Container(
        id="second", image="app:mod_wsgi", platform=Platform.parse("linux/arm64"),
        host="127.0.0.1", port=2,
    )  # fmt: skip
    monkeypatch.setattr(containerchecks, "_stop_with_request", one_try)
    monkeypatch.setattr(containerchecks, "_second", lambda subject, run_id: second)
    monkeypatch.setattr(containerchecks, "_await_second", lambda subject, second: None)
    monkeypatch.setattr(containers, "remove", lambda container: None)
    return given


STOPPED = containers.Stopped(exit_code=0, seconds=4.0, killed=False)
LOST_TRY = _StopTry(
    stopped=STOPPED, problems=["the in-flight GET /slow?seconds=3 did not finish"],
    detail=LOST, lost=True,
)  # fmt: skip
GOOD_TRY = _StopTry(stopped=STOPPED, problems=[], during=" with a request in flight")


def test_an_emulated_lost_answer_is_tried_once_more_and_said(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    given = _tries(monkeypatch, LOST_TRY, GOOD_TRY)
    message = containerchecks.sigterm(_subject(emulated=True), run_id="r")
    assert [c.id for c in given] == ["first", "second"]
    assert message.startswith("SIGWINCH with a request in flight: exit 0 after 4.0s")
    assert "in a second container: in the first, the in-flight GET" in message
    assert "RemoteDisconnected" in message
    assert "\n" not in message


def test_natively_a_lost_answer_fails_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    given = _tries(monkeypatch, LOST_TRY, GOOD_TRY)
    with pytest.raises(Failed, match="did not finish") as raised:
        containerchecks.sigterm(_subject(emulated=False), run_id="r")
    assert [c.id for c in given] == ["first"]
    assert "RemoteDisconnected" in raised.value.detail


def test_a_second_loss_fails_with_both_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    _tries(monkeypatch, LOST_TRY, LOST_TRY)
    with pytest.raises(Failed, match="did not finish") as raised:
        containerchecks.sigterm(_subject(emulated=True), run_id="r")
    assert raised.value.detail.count("RemoteDisconnected") == 2
    assert "again, in a second container:" in raised.value.detail


def test_a_late_stop_is_not_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    late = _StopTry(
        stopped=containers.Stopped(exit_code=137, seconds=18.0, killed=True),
        problems=["SIGWINCH did not stop it"], detail="", lost=False,
    )  # fmt: skip
    given = _tries(monkeypatch, late, GOOD_TRY)
    with pytest.raises(Failed, match="did not stop it"):
        containerchecks.sigterm(_subject(emulated=True), run_id="r")
    assert len(given) == 1
