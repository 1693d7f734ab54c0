"""Releases: the tags a release pushes (:mod:`containerize.release.tags`), computed as a
plan before anything touches a registry."""
