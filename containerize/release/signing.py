"""Signing the pushed digests with cosign, and verifying the signatures.

Signing is optional: ``containerize release --sign-key KEY`` signs each server's index
and, recursively, its per-platform manifests, before any tag moves, then verifies the
signatures against the key's public half; a signature that does not verify stops the
release. *KEY* is what ``cosign sign --key`` takes: a key file from ``cosign
generate-key-pair`` (its password in ``COSIGN_PASSWORD``, which cosign reads from the
environment) or a KMS URI. Signatures are made with the key alone, without the public
transparency log, so a release needs no network beyond its registry; they are stored
the way cosign stores them in the registry (``sha256-<hex>.sig`` tags where the
registry has no referrers API).

cosign reads the registry credentials from the docker configuration itself; nothing
here passes a credential or a password on a command line.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from containerize import process
from containerize.errors import CommandError, ReleaseError
from containerize.fsutil import write_atomic

BINARY = "cosign"
_TIMEOUT = 300
INSTALL_HINT = (
    "install cosign (Debian trixie and later: 'apt-get install cosign'; elsewhere a "
    "release binary of sigstore/cosign) and put it on PATH, or release without --sign-key"
)


@dataclass(kw_only=True)
class Signer:
    """Signs and verifies with one cosign key."""

    key: str  # a key file, or a KMS URI cosign understands
    public_key: Path  # where the public half is written, for verifying
    _public_text: str = field(default="", init=False, repr=False)  # from check()

    def check(self) -> None:
        """Refuse early, before anything is built, when signing cannot work here."""
        if shutil.which(BINARY) is None:
            raise ReleaseError(
                f"--sign-key was given, but {BINARY!r} is not on PATH: containerize signs "
                "with cosign",
                hint=INSTALL_HINT,
            )
        if "://" not in self.key and not Path(self.key).is_file():
            raise ReleaseError(
                f"--sign-key: {self.key} does not exist",
                hint="pass a key file made by 'cosign generate-key-pair', or a KMS URI "
                "such as 'awskms://...'",
            )
        # The key opens (its password is right) before anything is built.
        self._public_text = self._run(public_key_argv(self.key), what="reading").stdout

    def sign(self, reference: str, *, plain_http: bool) -> None:
        """Sign the index *reference* (``repo@sha256:...``) and each of its manifests."""
        self._run(sign_argv(reference, key=self.key, plain_http=plain_http), what="signing")
        if not self._public_text:
            self.check()
        write_atomic(self.public_key, self._public_text)

    def verify(self, reference: str, *, plain_http: bool) -> None:
        """Verify *reference*'s signature against the public key; raise if it fails."""
        argv = verify_argv(reference, public_key=self.public_key, plain_http=plain_http)
        self._run(argv, what="verifying the signature of")

    def _run(self, argv: list[str], *, what: str) -> process.Completed:
        try:
            # No standard input: an encrypted key without COSIGN_PASSWORD fails at once
            # instead of waiting for a password nobody types.
            return process.run(argv, input="", timeout=_TIMEOUT)
        except CommandError as exc:
            raise ReleaseError(
                f"cosign failed {what} {argv[-1]}:\n{process.tail(exc.output_tail, 10)}",
                hint="for a key file, set COSIGN_PASSWORD to its password; check the key "
                "with 'cosign public-key --key KEY'",
            ) from None


def sign_argv(reference: str, *, key: str, plain_http: bool) -> list[str]:
    """``cosign sign``: with the key only, every manifest of the index, no prompt."""
    argv = [BINARY, "sign", "--yes", "--recursive", "--key", key, "--tlog-upload=false"]
    if plain_http:
        argv.append("--allow-http-registry")
    return [*argv, reference]


def verify_argv(reference: str, *, public_key: Path, plain_http: bool) -> list[str]:
    """``cosign verify`` against the public key, without the transparency log."""
    argv = [BINARY, "verify", "--key", str(public_key), "--insecure-ignore-tlog"]
    if plain_http:
        argv.append("--allow-http-registry")
    return [*argv, reference]


def public_key_argv(key: str) -> list[str]:
    return [BINARY, "public-key", "--key", key]
