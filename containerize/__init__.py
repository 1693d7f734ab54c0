"""containerize: container images for Python WSGI apps, built with BuildKit, driven by Nox."""

from __future__ import annotations

__version__ = "0.1.0"
