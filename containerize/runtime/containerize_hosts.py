"""The Host allow-list: which ``Host`` headers an image serves, the same on every server.

Django's rules (``ALLOWED_HOSTS``): ``example.com`` is that name, ``.example.com`` the
domain and every subdomain, ``*`` any host; names are compared without case, the port
is ignored, and one trailing dot is dropped (``example.com.`` is ``example.com``). On
top of Django's rules, loopback names (``localhost``, ``127.0.0.1``, ``[::1]``) always
pass, so the image's health check and a shell inside the container reach the app.

A request without a Host header (HTTP/1.0) is refused unless the list holds ``*``.
Django would check ``SERVER_NAME`` instead, but that is each server's own idea of its
name (Gunicorn's bind address, Apache's ``localhost``, the container's host name), so
the same request would pass on one server and not on another.

The list becomes one regular expression, :func:`pattern`, that the whole Host header
must match. It is written in the part of the syntax that PCRE (uWSGI's routes, Apache's
expressions) and Python's ``re`` read the same way, so every server checks the same
thing: the servers that map static files themselves check it before they do, and the
WSGI entry point checks it before anything else sees the request.

Entries are checked against :data:`ENTRY` (the build does the same for
``allowed-hosts``); anything else, a port, a scheme, a wildcard inside a name, is
refused rather than turned into a pattern.

This file runs in the image: standard library only, no containerize imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

#: The run-time override, comma-separated.
VARIABLE = "WSGI_ALLOWED_HOSTS"
ANY = "*"
LOOPBACK = ("localhost", "127.0.0.1", "[::1]")

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
#: An entry: a DNS name (a leading '.' for a domain and its subdomains) or a bracketed
#: IPv6 address. '*' is checked apart.
ENTRY = re.compile(rf"\.?(?:{_LABEL}\.)*{_LABEL}|\[[0-9a-f:.]+\]", re.ASCII | re.IGNORECASE)

# What may come before a subdomain pattern's domain: Django takes any name that ends
# with '.example.com', and a Host must be made of these characters to be a name.
_SUBDOMAINS = r"(?:[a-z0-9.-]*\.)?"
# The port, ignored; then the end of the header. PCRE's '$' also matches before a final
# newline, so '(?!\n)' pins the very end (Python's re reads it the same way); and a
# '$(' would be read as a variable by uWSGI's option parser.
_TAIL = r"(?::[0-9]+)?(?!\n)$"


class HostsError(ValueError):
    """An allow-list entry that cannot be expressed safely."""


def configured(image: Sequence[str], environ: Mapping[str, str]) -> tuple[str, ...]:
    """``WSGI_ALLOWED_HOSTS`` (comma-separated) when set, else the image's *image* list."""
    text = environ.get(VARIABLE, "").strip()
    if text:
        return parse(text, where=VARIABLE)
    return check(image, where="allowed-hosts")


def parse(text: str, *, where: str) -> tuple[str, ...]:
    """The comma-separated entries of *text*, checked and lower-cased."""
    entries = tuple(item.strip() for item in text.split(","))
    return check([entry for entry in entries if entry], where=where)


def check(entries: Iterable[str], *, where: str) -> tuple[str, ...]:
    """*entries*, lower-cased; :class:`HostsError` names the first one that is not valid."""
    checked = []
    for entry in entries:
        if entry != ANY and not ENTRY.fullmatch(entry):
            raise HostsError(
                f"{where}: {entry!r} is not a host name; write 'example.com', "
                "'.example.com' (the domain and its subdomains) or '*', without a port"
            )
        checked.append(entry.lower())
    if not checked:
        raise HostsError(f"{where} names no host; every request would get 400")
    return tuple(checked)


def pattern(entries: Sequence[str]) -> str | None:
    """The regular expression a whole allowed Host header matches; None for any host."""
    if ANY in entries:
        return None
    names, addresses = [], []
    for entry in (*LOOPBACK, *entries):
        if entry.startswith("["):
            addresses.append(re.escape(entry))
        elif entry.startswith("."):
            names.append(_SUBDOMAINS + re.escape(entry[1:]))
        else:
            names.append(re.escape(entry))
    unique = list(dict.fromkeys(names))
    choices = [f"(?:{'|'.join(unique)})\\.?", *dict.fromkeys(addresses)]
    return f"(?i)^(?:{'|'.join(choices)}){_TAIL}"


def allowed(host: str | None, regex: re.Pattern[str] | None) -> bool:
    """True when a request whose Host header is *host* (None: none) is served.

    *regex* is :func:`pattern`'s, compiled (None: any host).
    """
    return regex is None or (host is not None and regex.match(host) is not None)
