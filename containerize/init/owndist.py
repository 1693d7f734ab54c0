"""Whether the app reads its own distribution's metadata.

``importlib.metadata.version("shop")`` or ``pkg_resources.get_distribution("shop")``
for the project's own name finds nothing when the app's folder is merely on the
path: only an installed distribution has metadata. Such a project must be installed
in the image (see :func:`containerize.init.detect.detect`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from packaging.utils import NormalizedName, canonicalize_name

from containerize.init.model import Evidence
from containerize.init.sources import SourceFile

#: The modules that read installed distributions' metadata.
_MODULES = frozenset({"importlib.metadata", "importlib_metadata", "pkg_resources"})
#: Their functions whose first argument names a distribution.
_BY_NAME = frozenset(
    {
        "version",
        "distribution",
        "metadata",
        "files",
        "requires",
        "get_distribution",
        "require",
        "load_entry_point",
        "get_entry_info",
        "get_entry_map",
    }
)


def reads_own_metadata(files: Iterable[SourceFile], own: NormalizedName) -> Evidence | None:
    """The first call in *files* that reads the metadata of the distribution *own*."""
    for source in sorted(files, key=lambda s: s.path):
        if not _imports_a_metadata_module(source.tree):
            continue
        for node in ast.walk(source.tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else None
            )
            first = node.args[0]
            if (
                name in _BY_NAME
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and canonicalize_name(first.value) == own
            ):
                text = ast.get_source_segment(source.text, node) or f"{name}({first.value!r})"
                return Evidence(
                    what=f"{text} reads the installed distribution's metadata",
                    file=source.path.as_posix(),
                    line=node.lineno,
                )
    return None


def _imports_a_metadata_module(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name in _MODULES for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            if node.module in _MODULES:
                return True
            if node.module == "importlib" and any(a.name == "metadata" for a in node.names):
                return True
    return False
