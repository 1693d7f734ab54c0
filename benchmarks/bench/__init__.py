"""``nox -s bench``: containerize against the hand-written Dockerfiles users copy today."""
