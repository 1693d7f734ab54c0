"""Release tools a Debian bookworm host lacks, taken from Debian's trixie packages.

cosign (signing releases) is packaged from trixie on; bookworm has none. As with the
engine (:mod:`containerize.host.provision`), the package is downloaded with a private
apt configuration (the host's own mirror, suite ``trixie``) and unpacked into a prefix
of our own under the engine's state folder, never installed: the host's apt state and
libc stay as they are. trixie's cosign is a Go binary that runs on bookworm's glibc;
:func:`ensure_cosign` checks that it runs before handing it out.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from containerize import process
from containerize.errors import ProvisionError
from containerize.host.provision import ENGINE_SUITE, Layout, debian_mirror, default_layout

COSIGN_PACKAGE = "cosign"


def ensure_cosign(layout: Layout | None = None) -> Path:
    """The path of a cosign that runs here: on PATH, else unpacked from trixie."""
    found = shutil.which("cosign")
    if found:
        return Path(found)
    root = (layout or default_layout()).root / "tools"
    binary = root / "prefix" / "usr" / "bin" / "cosign"
    if not binary.exists():
        _unpack(COSIGN_PACKAGE, root)
    result = process.run([str(binary), "version"], check=False, timeout=60)
    if result.returncode != 0:
        raise ProvisionError(
            f"{binary} from Debian {ENGINE_SUITE} does not run on this host",
            hint="install cosign by other means and put it on PATH\n"
            + process.tail(result.stderr, 5),
        )
    return binary


def _unpack(package: str, root: Path) -> None:
    """Download *package* from trixie and unpack it into ``root/prefix``."""
    lists, archives, download = root / "apt" / "lists", root / "apt" / "archives", root / "debs"
    for folder in (lists / "partial", archives / "partial", download):
        folder.mkdir(parents=True, exist_ok=True)
    sources = root / "apt" / "sources.list"
    sources.write_text(f"deb {debian_mirror()} {ENGINE_SUITE} main\n")
    options = [
        "-o", f"Dir::Etc::sourcelist={sources}",
        "-o", "Dir::Etc::sourceparts=-",
        "-o", f"Dir::State::Lists={lists}",
        "-o", f"Dir::Cache::Archives={archives}",
        "-o", "APT::Get::List-Cleanup=0",
    ]  # fmt: skip
    process.run(["apt-get", *options, "update", "-q"], timeout=600)
    for old in download.glob(f"{package}_*.deb"):
        old.unlink()
    process.run(["apt-get", *options, "download", package], cwd=download, timeout=900)
    staging = root / "prefix.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for deb in sorted(download.glob(f"{package}_*.deb")):
        process.run(["dpkg-deb", "-x", str(deb), str(staging)])
    prefix = root / "prefix"
    if prefix.exists():
        for item in staging.iterdir():
            shutil.copytree(item, prefix / item.name, dirs_exist_ok=True)
        shutil.rmtree(staging)
    else:
        staging.rename(prefix)
