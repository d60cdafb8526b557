"""Per-namespace match tables: the kubelet's keyring over the credentials in scope (pure).

A table parses every registry key once and remembers each image it has answered, so a review on
the hot path costs a dict lookup per container once the table is warm.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from app.core.credentials.scope import Scoped
from app.core.images.keyring import Keyring, parse_key
from app.core.images.reference import ImageName, parse_image

_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Match:
    credential: Scoped
    key: str


@dataclass(frozen=True, slots=True)
class ImageMatch:
    image: ImageName | None
    matches: tuple[Match, ...]
    secrets: frozenset[str] = frozenset()


class MatchTable:
    """One keyring, as the kubelet would build it from the pod's pull secrets."""

    __slots__ = ("_cache", "_keyring", "_owners", "credentials")

    def __init__(self, credentials: Sequence[Scoped]) -> None:
        self.credentials = tuple(credentials)
        keys = []
        self._owners: list[Scoped] = []
        for credential in self.credentials:
            for raw in credential.source.keys:
                key = parse_key(raw)
                if key is not None:
                    keys.append(key)
                    self._owners.append(credential)
        self._keyring = Keyring(keys)
        self._cache: dict[str, ImageMatch] = {}

    def match(self, image: str) -> ImageMatch:
        found = self._cache.get(image)
        if found is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[image] = self._lookup(image)
        return found

    def _lookup(self, image: str) -> ImageMatch:
        name = parse_image(image)
        if name is None or not self._owners:
            return ImageMatch(name, ())
        keys = self._keyring.keys
        matches = tuple(Match(self._owners[p], keys[p].raw) for p in self._keyring.positions(name))
        return ImageMatch(name, matches, frozenset(m.credential.secret for m in matches))
