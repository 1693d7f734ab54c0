"""A client of one repository on a registry, over the OCI distribution API.

It pushes what buildx exported (blobs, then manifests, then the index, all by digest),
moves tags (a ``PUT`` of an index's exact bytes under a tag), reads documents back to
verify them, and attaches artifacts. Nothing else in containerize writes to a
registry, so what a release changes, and in which order, is all here and in
:mod:`containerize.release.publish`.

Credentials come from the docker CLI's configuration and its credential helpers
(:mod:`containerize.registry.credentials`), asked only when the registry answers 401,
and are sent with Basic auth or exchanged for a bearer token as the registry's
challenge says. A credential header is never sent to another host (a redirect to
blob storage does not carry it) and never logged.

Registries on a loopback address (``localhost``, ``127.0.0.0/8``, ``[::1]``) are
spoken to over plain HTTP, as the docker daemon does; every other registry over HTTPS.
Every request has a timeout; a registry that cannot be reached, refuses a request or
answers a document whose digest is not the one asked for raises
:class:`~containerize.errors.RegistryError` saying what was being done.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from containerize import __version__
from containerize.errors import RegistryError
from containerize.reference import ImageReference
from containerize.registry import credentials as credentials_mod
from containerize.registry import oci
from containerize.registry.credentials import Credentials

logger = logging.getLogger("containerize")

_USER_AGENT = f"containerize/{__version__}"
DOCKER_HUB_API = "registry-1.docker.io"
#: Seconds a request may wait on the registry before it is given up.
TIMEOUT = 120.0
_CHALLENGE_RE = re.compile(r'(\w+)=(?:"([^"]*)"|([^,\s]*))')


@dataclass(frozen=True, kw_only=True)
class Fetched:
    """A document read from the registry, its digest checked."""

    data: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        return oci.load(self.data, what=self.digest)


@dataclass(frozen=True, kw_only=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Registry:
    """One repository (``host/path``) on its registry."""

    def __init__(
        self,
        repository: ImageReference,
        *,
        credentials: Callable[[str], Credentials | None] = credentials_mod.lookup,
        timeout: float = TIMEOUT,
    ) -> None:
        self.repository = repository
        self.host, self.name = endpoint(repository)
        self.scheme = "http" if is_loopback(self.host) else "https"
        self.base = f"{self.scheme}://{self.host}"
        self._credentials = credentials
        self._timeout = timeout
        self._authorization: str | None = None
        # The environment's proxy is for the outside world; never for this machine.
        handlers = [urllib.request.ProxyHandler({})] if self.scheme == "http" else []
        self._opener = urllib.request.build_opener(*handlers)

    def __str__(self) -> str:
        return self.repository.repository

    # ------------------------------------------------------------------ manifests

    def manifest(self, reference: str, *, what: str) -> Fetched | None:
        """The manifest or index *reference* (a tag or digest) names, or None."""
        response = self._request(
            "GET", self._url("manifests", reference), headers={"Accept": oci.ACCEPT},
            what=what, missing_ok=True,
        )  # fmt: skip
        if response is None:
            return None
        digest = oci.digest_of(response.body)
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(
                f"{self}: asked for {reference} while {what}, got a document whose digest "
                f"is {digest}",
                hint="the registry, or something between it and you, altered the document",
            )
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        return Fetched(data=response.body, media_type=kind, digest=digest)

    def manifest_digest(self, reference: str, *, what: str) -> str | None:
        """The digest *reference* resolves to, or None when it does not exist."""
        found = self.manifest(reference, what=what)
        return None if found is None else found.digest

    def put_manifest(self, reference: str, data: bytes, media_type: str, *, what: str) -> bool:
        """Store *data* under *reference* (its digest, or a tag); True when the registry
        says it keeps track of the manifest's ``subject`` itself (OCI-Subject)."""
        response = self._request(
            "PUT", self._url("manifests", reference), data=data,
            headers={"Content-Type": media_type}, ok=(201,), what=what,
        )  # fmt: skip
        assert response is not None
        returned = response.headers.get("docker-content-digest")
        if returned and returned != oci.digest_of(data):
            raise RegistryError(
                f"{self}: stored {reference} while {what}, but the registry says its digest "
                f"is {returned}, not {oci.digest_of(data)}",
                hint="the registry rewrote the document; use a registry that stores them as sent",
            )
        return "oci-subject" in response.headers

    def referrers(self, digest: str, *, what: str) -> dict[str, Any] | None:
        """The referrers API's index for *digest*, or None when the registry has no
        referrers API (it answers 404, as distribution 2.x does)."""
        response = self._request(
            "GET", self._url("referrers", digest), headers={"Accept": oci.OCI_INDEX},
            what=what, missing_ok=True,
        )  # fmt: skip
        if response is None:
            return None
        kind = response.headers.get("content-type", "").split(";")[0].strip()
        if kind != oci.OCI_INDEX:
            return None
        return oci.load(response.body, what=f"{self}: the referrers of {digest}")

    # ----------------------------------------------------------------------- blobs

    def has_blob(self, digest: str, *, what: str) -> bool:
        return (
            self._request("HEAD", self._url("blobs", digest), what=what, missing_ok=True)
            is not None
        )

    def blob(self, digest: str, *, what: str) -> bytes | None:
        """The blob *digest*, checked against it; None when the registry lacks it."""
        response = self._request("GET", self._url("blobs", digest), what=what, missing_ok=True)
        if response is None:
            return None
        if oci.digest_of(response.body) != digest:
            raise RegistryError(
                f"{self}: asked for blob {digest} while {what}, got other bytes",
                hint="the registry, or something between it and you, altered the blob",
            )
        return response.body

    def labels(self, reference: str, *, what: str) -> tuple[str, dict[str, str]] | None:
        """The digest *reference* resolves to and its image's labels (an index's first
        image: every platform of one build carries the same labels); None when the
        registry has no such image."""
        found = self.manifest(reference, what=what)
        if found is None:
            return None
        document = found.json()
        if found.media_type in oci.INDEX_TYPES or "manifests" in document:
            images = [m for m in document.get("manifests", []) if isinstance(m, dict)]
            platform_images = [m for m in images if "platform" in m] or images
            if not platform_images:
                return found.digest, {}
            inner = self.manifest(str(platform_images[0].get("digest")), what=what)
            if inner is None:
                return found.digest, {}
            document = inner.json()
        config = document.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("digest"), str):
            return found.digest, {}
        data = self.blob(config["digest"], what=what)
        if data is None:
            return found.digest, {}
        labels = oci.load(data, what=config["digest"]).get("config", {}).get("Labels") or {}
        return found.digest, {str(k): str(v) for k, v in labels.items()}

    def push_blob(self, digest: str, size: int, source: Path | bytes, *, what: str) -> None:
        """Upload one blob (in one request), unless the registry already has it."""
        if self.has_blob(digest, what=what):
            return
        started = self._request(
            "POST", f"{self.base}/v2/{self.name}/blobs/uploads/", data=b"", ok=(202,), what=what
        )
        assert started is not None
        location = started.headers.get("location")
        if not location:
            raise RegistryError(f"{self}: the registry started an upload without a Location")
        url = urllib.parse.urljoin(self.base + "/", location)
        url += ("&" if "?" in url else "?") + urllib.parse.urlencode({"digest": digest})
        logger.info("push %s to %s (%s)", digest, self, _human(size))
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if isinstance(source, bytes):
            self._request("PUT", url, data=source, headers=headers, ok=(201,), what=what)
            return
        with source.open("rb") as body:
            self._request("PUT", url, data=body, headers=headers, ok=(201,), what=what)

    def pull_blob(self, digest: str, out: IO[bytes], *, what: str) -> int:
        """Stream the blob *digest* into *out*, checking its sha256 as it arrives;
        returns its size. Bytes that do not hash to *digest* raise
        :class:`~containerize.errors.RegistryError` (what was written to *out* must be
        thrown away by the caller)."""
        if not digest.startswith("sha256:"):
            raise RegistryError(f"{self}: {digest!r} is not a sha256 digest while {what}")
        request = self._prepare("GET", self._url("blobs", digest), None, {})
        for attempt in (1, 2):
            try:
                with self._opener.open(request, timeout=self._timeout) as answer:
                    hasher = hashlib.sha256()
                    size = 0
                    while chunk := answer.read(1 << 20):
                        hasher.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
                break
            except urllib.error.HTTPError as error:
                found = {k.lower(): v for k, v in error.headers.items()}
                body = _read_error(error)
                if error.code == 401 and attempt == 1 and self._authenticate(found, what=what):
                    request = self._prepare("GET", self._url("blobs", digest), None, {})
                    continue
                raise self._refused("GET", request.full_url, error.code, body, what=what) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                raise self._unreachable(error, what=what) from None
        actual = "sha256:" + hasher.hexdigest()
        if actual != digest:
            raise RegistryError(
                f"{self}: the blob {digest} hashes to {actual} ({size} bytes) while {what}: "
                "it was changed in the registry or on the way; it was not used",
                hint="push it again from a machine that holds the right file, and check "
                "who can write to this repository",
            )
        return size

    # -------------------------------------------------------------------- plumbing

    def ping(self, *, what: str) -> None:
        """``GET /v2/``: the registry answers, and accepts the credentials."""
        self._request("GET", f"{self.base}/v2/", what=what)

    def _url(self, kind: str, reference: str) -> str:
        return f"{self.base}/v2/{self.name}/{kind}/{urllib.parse.quote(reference, safe=':')}"

    def _request(
        self,
        method: str,
        url: str,
        *,
        data: bytes | IO[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        what: str,
        missing_ok: bool = False,
    ) -> Response | None:
        """One request; a 401 is answered once with credentials, then retried."""
        for attempt in (1, 2):
            request = self._prepare(method, url, data, headers or {})
            try:
                with self._opener.open(request, timeout=self._timeout) as answer:
                    body = answer.read() if method != "HEAD" else b""
                    status = answer.status
                    found = {k.lower(): v for k, v in answer.headers.items()}
            except urllib.error.HTTPError as error:
                status = error.code
                found = {k.lower(): v for k, v in error.headers.items()}
                body = _read_error(error)
                if status == 401 and attempt == 1 and self._authenticate(found, what=what):
                    if hasattr(data, "seek"):
                        data.seek(0)  # type: ignore[union-attr]
                    continue
                if status == 404 and missing_ok:
                    return None
                raise self._refused(method, url, status, body, what=what) from None
            except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
                raise self._unreachable(error, what=what) from None
            if status not in ok:
                raise self._refused(method, url, status, body, what=what)
            return Response(status=status, headers=found, body=body)
        raise AssertionError("unreachable")

    def _prepare(
        self,
        method: str,
        url: str,
        data: bytes | IO[bytes] | None,
        headers: Mapping[str, str],
    ) -> urllib.request.Request:
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http(s) only)
        request.add_header("User-Agent", _USER_AGENT)
        for key, value in headers.items():
            request.add_header(key, value)
        if self._authorization and urllib.parse.urlsplit(url).netloc == self.host:
            # Unredirected: a redirect to blob storage elsewhere does not carry it.
            request.add_unredirected_header("Authorization", self._authorization)
        return request

    def _authenticate(self, headers: Mapping[str, str], *, what: str) -> bool:
        """Answer a 401's challenge with the docker credentials; False when there is
        nothing more to try (the caller then reports the 401)."""
        if self._authorization is not None and not self._authorization.startswith("Bearer "):
            return False  # Basic credentials were sent and refused
        scheme, params = parse_challenge(headers.get("www-authenticate", ""))
        found = self._credentials(credentials_mod.key_for(self.host))
        if scheme == "basic":
            header = found.basic() if found is not None else None
            if header is None or header == self._authorization:
                return False
            self._authorization = header
            return True
        if scheme != "bearer" or "realm" not in params:
            return False
        token = self._token(params, found, what=what)
        if token is None or f"Bearer {token}" == self._authorization:
            return False
        self._authorization = f"Bearer {token}"
        return True

    def _token(
        self, params: Mapping[str, str], found: Credentials | None, *, what: str
    ) -> str | None:
        """A bearer token for pull and push on this repository, from the realm."""
        realm = params["realm"]
        if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryError(f"{self}: the registry's token realm {realm!r} is not a URL")
        scope = f"repository:{self.name}:pull,push"
        query = {"scope": scope, **({"service": params["service"]} if "service" in params else {})}
        if found is not None and found.identity_token:
            form = {
                **query,
                "grant_type": "refresh_token",
                "refresh_token": found.identity_token,
                "client_id": "containerize",
            }
            request = urllib.request.Request(  # noqa: S310 (the realm is http(s), checked above)
                realm, data=urllib.parse.urlencode(form).encode(), method="POST"
            )
        else:
            url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
            request = urllib.request.Request(url, method="GET")  # noqa: S310
            basic = found.basic() if found is not None else None
            if basic:
                request.add_unredirected_header("Authorization", basic)
        request.add_header("User-Agent", _USER_AGENT)
        try:
            with self._opener.open(request, timeout=self._timeout) as answer:
                data = json.loads(answer.read())
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                return None  # the caller reports the registry's own 401
            raise self._refused("GET", realm, error.code, _read_error(error), what=what) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise self._unreachable(error, what=f"{what} (asking {realm} for a token)") from None
        except ValueError:
            raise RegistryError(f"{self}: the token service {realm} answered no JSON") from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        return token if isinstance(token, str) and token else None

    def _unreachable(self, error: BaseException, *, what: str) -> RegistryError:
        reason = getattr(error, "reason", None) or error
        return RegistryError(
            f"cannot reach the registry {self.host} while {what}: {reason}",
            hint=f"check that {self.base}/v2/ answers (is the registry running? the network "
            "up?), then release again",
        )

    def _refused(
        self, method: str, url: str, status: int, body: bytes, *, what: str
    ) -> RegistryError:
        detail = _error_detail(body)
        path = urllib.parse.urlsplit(url).path
        text = f"{self}: the registry answered {status} to {method} {path} while {what}"
        if detail:
            text += f": {detail}"
        if status in (401, 403):
            key = credentials_mod.key_for(self.host)
            return RegistryError(
                text,
                hint=f"log in with 'docker login {key}' (containerize uses the docker "
                f"configuration's credentials and helpers, {credentials_mod.config_path()})",
            )
        return RegistryError(text)


def endpoint(repository: ImageReference) -> tuple[str, str]:
    """(API host, repository path) of *repository*: Docker Hub's when no registry is
    named, with ``library/`` for its official images."""
    domain = repository.domain
    if domain is None or domain in credentials_mod.DOCKER_HUB_HOSTS:
        path = repository.path if "/" in repository.path else f"library/{repository.path}"
        return DOCKER_HUB_API, path
    return domain, repository.path


def is_loopback(host: str) -> bool:
    """Whether *host* (with an optional port) is this machine: spoken to over HTTP."""
    name = host
    if name.startswith("["):
        name = name[1 : name.index("]")]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ("bearer", {"realm": ..., ...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {m[1].lower(): m[2] if m[2] else m[3] for m in _CHALLENGE_RE.finditer(rest)}
    return scheme.lower(), params


def _read_error(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()[:4096]
    except (OSError, http.client.HTTPException):
        return b""


def _error_detail(body: bytes) -> str:
    """The registry's own words: the OCI error codes and messages of *body*."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:200]
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for error in errors:
        if isinstance(error, dict):
            parts.append(f"{error.get('code', '?')} ({error.get('message', '')})")
    return "; ".join(parts)


def _human(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size} bytes"
