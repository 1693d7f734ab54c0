"""Talking to an OCI registry: the client, the documents it moves, the credentials.

Both the image build (reading a pushed image's sizes) and the release (pushing by
digest, tagging, attaching referrers) stand on this room; it knows nothing of either.
"""
