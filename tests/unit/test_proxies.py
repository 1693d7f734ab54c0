"""The trusted proxies' rule: which X-Forwarded-For and X-Forwarded-Proto count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from containerize import config
from containerize.errors import ConfigError
from containerize.runtime import containerize_proxies as proxies
from containerize.runtime import containerize_start as start
from containerize.runtime import containerize_workers, containerize_wsgi

TRUSTED = proxies.TrustedProxies(proxies.check(["10.0.0.0/8", "192.0.2.7", "fd00::/8"], where="t"))


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # From a trusted proxy: the rightmost address that is not a proxy.
        ("10.1.2.3", "203.0.113.9", "203.0.113.9"),
        ("10.1.2.3", "198.51.100.1, 203.0.113.9", "203.0.113.9"),
        ("10.1.2.3", "203.0.113.9, 10.4.4.4, 192.0.2.7", "203.0.113.9"),
        # A client that writes its own X-Forwarded-For cannot hide behind it.
        ("10.1.2.3", "1.1.1.1, 203.0.113.9", "203.0.113.9"),
        # Every hop a proxy: the leftmost.
        ("10.1.2.3", "10.9.9.9, 192.0.2.7", "10.9.9.9"),
        # Ports and brackets are dropped; IPv6 and IPv4-mapped IPv6.
        ("10.1.2.3", "203.0.113.9:4711", "203.0.113.9"),
        ("10.1.2.3", "[2001:db8::1]:4711", "2001:db8::1"),
        ("fd00::5", "2001:db8::1", "2001:db8::1"),
        ("::ffff:10.1.2.3", "203.0.113.9", "203.0.113.9"),
        # An entry that is not an address ends the walk: the address to its right stays.
        ("10.1.2.3", "unknown", "10.1.2.3"),
        ("10.1.2.3", "203.0.113.9, garbage, 10.4.4.4", "10.4.4.4"),
        # From anyone else: the header is ignored.
        ("203.0.113.50", "198.51.100.1", "203.0.113.50"),
        ("192.0.2.8", "198.51.100.1", "192.0.2.8"),
        ("10.1.2.3", None, "10.1.2.3"),
        ("10.1.2.3", "", "10.1.2.3"),
    ],
)
def test_the_client_is_the_rightmost_untrusted_address(
    peer: str, forwarded_for: str | None, client: str
) -> None:
    assert TRUSTED.client(peer, forwarded_for) == client


@pytest.mark.parametrize(
    ("peer", "proto", "scheme"),
    [
        ("10.1.2.3", "https", "https"),
        ("10.1.2.3", "HTTPS", "https"),
        ("10.1.2.3", "http", "http"),
        ("10.1.2.3", "http, https", "https"),  # the nearest proxy's
        ("10.1.2.3", "https, http", "http"),
        ("10.1.2.3", "ftp", "http"),
        ("10.1.2.3", None, "http"),
        ("203.0.113.50", "https", "http"),  # not a proxy: ignored
    ],
)
def test_the_scheme_comes_from_a_trusted_proxy_only(
    peer: str, proto: str | None, scheme: str
) -> None:
    assert TRUSTED.scheme(peer, proto) == scheme


def test_apply_sets_the_environ_and_leaves_the_headers_for_the_app() -> None:
    environ: dict[str, Any] = {
        "REMOTE_ADDR": "10.1.2.3",
        "HTTP_X_FORWARDED_FOR": "203.0.113.9",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.url_scheme": "http",
    }
    TRUSTED.apply(environ)
    assert (environ["REMOTE_ADDR"], environ["wsgi.url_scheme"], environ["HTTPS"]) == (
        "203.0.113.9",
        "https",
        "on",
    )
    assert environ["HTTP_X_FORWARDED_FOR"] == "203.0.113.9"
    # A server that guessed https on its own is overruled: the rule is the same everywhere.
    untrusted: dict[str, Any] = {
        "REMOTE_ADDR": "203.0.113.50",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.url_scheme": "https",
        "HTTPS": "on",
    }
    TRUSTED.apply(untrusted)
    assert (untrusted["REMOTE_ADDR"], untrusted["wsgi.url_scheme"]) == ("203.0.113.50", "http")
    assert "HTTPS" not in untrusted


def test_the_run_time_list_replaces_the_images() -> None:
    assert proxies.configured(["10.0.0.0/8"], {}) == proxies.check(["10.0.0.0/8"], where="t")
    assert [str(n) for n in proxies.configured(["10.0.0.0/8"], {
        "WSGI_TRUSTED_PROXIES": "172.17.0.1, 127.0.0.1 ::1",
    })] == ["172.17.0.1/32", "127.0.0.1/32", "::1/128"]  # fmt: skip
    assert proxies.configured(["10.0.0.0/8"], {"WSGI_TRUSTED_PROXIES": "none"}) == ()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("proxy.internal", "'proxy.internal' is not an IP address or network"),
        ("10.0.0.1/8", "did you mean 10.0.0.0/8?"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not an IP address or network"),
    ],
)
def test_a_bad_run_time_entry_stops_the_start_by_name(entry: str, message: str) -> None:
    with pytest.raises(containerize_workers.StartError, match=f"WSGI_TRUSTED_PROXIES: .*{message}"):
        start.trusted_proxies({}, {"WSGI_TRUSTED_PROXIES": entry})


def _echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [f"{environ['REMOTE_ADDR']} {environ['wsgi.url_scheme']}".encode()]


def _call(app: Any, environ: dict[str, Any]) -> bytes:
    return b"".join(app(environ, lambda status, headers, exc_info=None: None))


def test_the_entry_point_puts_the_rule_in_front_of_the_host_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(containerize_wsgi, "load_app", lambda app, app_dir: _echo)
    spec = {"app": {}, "app_dir": "/app", "allowed_hosts": ["*"], "trusted_proxies": []}
    plain = containerize_wsgi.build(spec, {})
    # No proxy trusted: the headers change nothing, whatever the server guessed.
    assert _call(plain, {
        "REMOTE_ADDR": "172.17.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9",
        "HTTP_X_FORWARDED_PROTO": "https", "wsgi.url_scheme": "https",
    }) == b"172.17.0.1 http"  # fmt: skip
    app = containerize_wsgi.build({**spec, "trusted_proxies": ["172.17.0.1/32"]}, {})
    forwarded = {
        "REMOTE_ADDR": "172.17.0.1",
        "HTTP_X_FORWARDED_FOR": "203.0.113.9",
        "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.url_scheme": "http",
        "HTTP_HOST": "x",
    }
    assert _call(app, dict(forwarded)) == b"203.0.113.9 https"
    assert _call(app, {**forwarded, "REMOTE_ADDR": "172.17.0.2"}) == b"172.17.0.2 http"
    # WSGI_TRUSTED_PROXIES replaces the image's list.
    app = containerize_wsgi.build(spec, {"WSGI_TRUSTED_PROXIES": "172.17.0.0/16"})
    assert _call(app, {**forwarded, "REMOTE_ADDR": "172.17.0.2"}) == b"203.0.113.9 https"


def _project(tmp_path: Path, line: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "p"\nversion = "1"\n[tool.containerize]\napp = "a:b"\n{line}\n'
    )
    (tmp_path / "a.py").write_text("b = None\n")
    return tmp_path


def test_trusted_proxies_are_checked_at_build_time(tmp_path: Path) -> None:
    cfg = config.load(_project(tmp_path, 'trusted-proxies = ["10.0.0.0/8", "192.0.2.7"]'))
    assert cfg.trusted_proxies == ("10.0.0.0/8", "192.0.2.7/32")
    with pytest.raises(ConfigError) as info:
        config.load(_project(tmp_path, 'trusted-proxies = ["10.0.0.0/8", "10.0.0.1/8"]'))
    assert str(info.value).startswith(
        "pyproject.toml: tool.containerize.trusted-proxies[1]: '10.0.0.1/8' is not an IP "
        "address or network (did you mean 10.0.0.0/8?)"
    )
