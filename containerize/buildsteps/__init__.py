"""The files containerize runs inside build steps, never copied into an image.

They run in the base image's own Python, bind-mounted from the build context, so they
use the standard library only (and pypa's ``installer``, imported from its
hash-checked wheel), and they never import containerize. Each reads one JSON manifest
that the wheelhouse writes (:mod:`containerize.resolve.wheelhouse`).

``wheels.py install`` checks each listed wheel's sha256 and installs it into a virtual
environment with ``installer``; it runs on the build platform, whatever the target
platform is, since placing a wheel's files runs none of its code. ``wheels.py build``
checks each listed sdist's sha256, unpacks it under a fixed path and builds its wheel
with pip, offline and without build isolation, on the target platform.
"""

from __future__ import annotations

from pathlib import Path

FOLDER = Path(__file__).parent
FILES = ("wheels.py",)

#: Where build steps mount the folder (from the build context; never in a layer).
MOUNT_DIR = "/containerize-steps"


def sources() -> dict[str, bytes]:
    """The files to put in the build context, by name."""
    return {name: (FOLDER / name).read_bytes() for name in FILES}
