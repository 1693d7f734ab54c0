"""The build folder's layout: where each thing containerize writes lives, named once.

Everything a build writes goes under the project's build folder (``build-dir``,
``.containerize`` by default). :class:`BuildFolder` gives each part its path; every
module that reads or writes a part takes it from there, so the layout is spelled in
this module only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The file that marks a folder as containerize's own build folder.
MARKER = ".containerize-build-dir"
#: The file a run holds locked while it uses the folder.
LOCK = ".lock"

_PARTS = {
    "context": "context",
    "wheelhouse": "wheelhouse",
    "tools": "tools",
    "metadata": "metadata",
    "compile": "compile",
    "compiled": "compiled",
    "test_results": "test-results",
    "release": "release",
}

#: What containerize itself puts in a build folder: a folder that holds only these (an
#: older containerize wrote no marker) may be claimed; anything else is the user's.
#: ``build-requirements`` was written by older versions. A part is replaced through a
#: hidden sibling (``.<part>.*``) renamed into place.
OWN_ENTRIES = (
    *_PARTS.values(),
    "build-requirements",
    LOCK,
    ".wheelhouse.*",
    ".context.*",
    ".compile.*",
    ".compiled.*",
    ".tools.*",
    f"{MARKER}.*",
)


@dataclass(frozen=True, kw_only=True)
class BuildFolder:
    """The build folder *root* and the path of each of its parts."""

    root: Path
    #: The image build's context: the Dockerfile, containerize's files, the app's.
    context: Path
    #: The hash-checked wheels, one folder per platform, with the install manifests.
    wheelhouse: Path
    #: The wheels of the tools the build steps run.
    tools: Path
    #: buildx's metadata file of each server's build.
    metadata: Path
    #: The compile build's context: its Dockerfile and the build step scripts.
    compile: Path
    #: What the compile build exported: one folder of wheels per platform.
    compiled: Path
    #: The test matrix's reports.
    test_results: Path
    #: What a release exports before it pushes.
    release: Path
    #: Held locked by the run that uses the folder.
    lock: Path
    #: Says the folder is containerize's to write into.
    marker: Path

    @classmethod
    def at(cls, root: Path) -> BuildFolder:
        """The layout of the build folder *root*."""
        parts = {field: root / name for field, name in _PARTS.items()}
        return cls(root=root, lock=root / LOCK, marker=root / MARKER, **parts)

    @property
    def dockerfile(self) -> Path:
        """The image build's Dockerfile, in the context."""
        return self.context / "Dockerfile"
