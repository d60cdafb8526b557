"""Every registry key in the cluster, kept current one Secret at a time, and the caps on them
(pure).

Admission warns when an image has a registry credential somewhere in the cluster but none in
scope. Rebuilding a keyring of every key after each Namespace or Secret event cost seconds with a
few large Secrets, on the event loop and under the index lock; this counted set costs only the
keys of the Secret that changed. The caps bound what any tenant's Secrets can make pullpass hold
and scan, whatever they create.
"""

from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

from app.core.images.keyring import (
    Bucket,
    RegistryKey,
    bucket,
    buckets,
    is_default_registry_match,
    matches,
    parse_key,
    target_of,
)
from app.core.images.reference import ImageName

PER_SECRET = 100
TOTAL = 10_000
LENGTH = 512


@dataclass(frozen=True, slots=True)
class KeyCaps:
    """At most `per_secret` keys of one Secret, `total` distinct keys in all, each key at most
    `length` characters; the credentials namespace (the admins') is exempt."""

    per_secret: int = PER_SECRET
    total: int = TOTAL
    length: int = LENGTH


def admit(keys: Iterable[str], caps: KeyCaps, present: Collection[str]) -> tuple[str, ...]:
    """The keys of one Secret that the caps let in, in their order.

    `present` holds the distinct keys already indexed: those cost nothing more, so a Secret that
    repeats known keys (a copy, say) is never cut short by the total.
    """
    fitting = [key for key in keys if len(key) <= caps.length][: caps.per_secret]
    room = caps.total - len(present)
    kept = []
    for key in fitting:
        if key in present:
            kept.append(key)
        elif room > 0:
            kept.append(key)
            room -= 1
    return tuple(kept)


class KeySet:
    """Registry keys with a count of the Secrets holding each, bucketed as `Keyring` buckets them,
    so `serves` reads only the keys that could match."""

    __slots__ = ("_buckets", "_counts", "_hub")

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._buckets: dict[Bucket, dict[str, RegistryKey]] = {}
        self._hub = 0

    def __len__(self) -> int:
        return len(self._counts)

    def __contains__(self, key: object) -> bool:
        return key in self._counts

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts)

    def add(self, keys: Iterable[str]) -> None:
        for raw in keys:
            count = self._counts.get(raw, 0)
            self._counts[raw] = count + 1
            key = parse_key(raw) if count == 0 else None
            if key is not None:
                self._buckets.setdefault(bucket(key), {})[raw] = key
                self._hub += key.docker_hub

    def remove(self, keys: Iterable[str]) -> None:
        for raw in keys:
            count = self._counts.pop(raw, 0)
            if count > 1:
                self._counts[raw] = count - 1
                continue
            key = parse_key(raw) if count == 1 else None
            if key is not None:
                filed = self._buckets[bucket(key)]
                del filed[raw]
                if not filed:
                    del self._buckets[bucket(key)]
                self._hub -= key.docker_hub

    def serves(self, image: ImageName) -> bool:
        """Whether the kubelet's keyring over every key here would find one for `image`."""
        target = target_of(image)
        if target is not None:
            for filed in buckets(target):
                if any(matches(key, target) for key in self._buckets.get(filed, {}).values()):
                    return True
        return self._hub > 0 and is_default_registry_match(image.name)
