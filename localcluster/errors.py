"""The one error every piece of the local cluster raises: what failed, and its log."""

from __future__ import annotations


class ClusterError(RuntimeError):
    """The control plane could not be built, started or reached."""
