"""Where a warning can arise in a scope, as image prefixes (pure).

A warning needs an image that some key in the cluster serves and no key in scope does. A key
of the cluster that a key in scope subsumes (same host pattern and port, a path that starts
with the scope key's) can never be the reason, nor can a Docker Hub key where one is in scope
(every Docker Hub image is served there). Any image that one of the other keys serves directly
starts with that key's host, port and path, as the image is written: a pod none of whose images
starts with one of those prefixes gets no warning, and the warnings policy's condition can say
so without parsing an image. Keys whose images need not start with their host (Docker Hub's:
`nginx`), or whose host is a glob or an IP literal, have no such prefix: then the scope has
none (`None`), and every pod is looked at in full, as before.
"""

from collections.abc import Sequence

from app.core.policy.compile import CompiledKey
from app.core.policy.manifests import GAP_LENGTH, MAX_GAPS

_HUB_HOSTS = ("docker.io", "index.docker.io")


def _prefix(key: CompiledKey) -> str | None:
    host = key["exact"]
    if not host or host in _HUB_HOSTS or ":" in host or "[" in host:
        return None
    return (host + (":" + key["port"] if key["port"] else "") + key["path"])[:GAP_LENGTH]


class Gaps:
    """The gaps of any scope against the cluster's keys (`everywhere`), each key's prefix worked
    out once: the leader asks for every covered namespace's, every project's and the cluster's
    on each pass."""

    def __init__(self, everywhere: Sequence[CompiledKey]) -> None:
        self._hub = any(k["dockerHub"] for k in everywhere)
        self._keys = [
            (k["host"], k["port"], k["path"], k["exact"] in _HUB_HOSTS, _prefix(k))
            for k in everywhere
        ]

    def __call__(self, scope: Sequence[CompiledKey]) -> list[str] | None:
        """The prefixes, each at most GAP_LENGTH characters (a shorter prefix still holds), none
        starting with another, sorted; [] when no image can warn in `scope`; None past MAX_GAPS
        or when some key out of scope has no prefix."""
        hub_in_scope = any(k["dockerHub"] for k in scope)
        if self._hub and not hub_in_scope:
            return None
        paths: dict[tuple[str, str], list[str]] = {}
        for key in scope:
            paths.setdefault((key["host"], key["port"]), []).append(key["path"])
        prefixes: set[str] = set()
        for host, port, path, hub_host, prefix in self._keys:
            known = paths.get((host, port))
            if (hub_in_scope and hub_host) or (known and any(map(path.startswith, known))):
                continue
            if prefix is None:
                return None
            prefixes.add(prefix)
        kept: list[str] = []
        for prefix in sorted(prefixes):
            if not (kept and prefix.startswith(kept[-1])):
                kept.append(prefix)
        return kept if len(kept) <= MAX_GAPS else None
