"""containerize: container images for Python WSGI applications, built with BuildKit and driven by Nox."""

from __future__ import annotations

__version__ = "0.1.0"
