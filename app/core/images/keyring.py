"""The kubelet's keyring: which registry keys serve an image (pkg/credentialprovider/keyring.go).

`BasicDockerKeyring.Add` turns each key into `host + effectivePath`; `Lookup` re-parses that as a
schemeless URL and matches it with `URLsMatch`: equal ports, as many dot-separated host labels as
the image, each key label a Go `filepath.Match` glob of the image's label, the key path a plain
prefix of the image path. When nothing matched directly, keys that normalise to
`index.docker.io` serve images `isDefaultRegistryMatch` accepts.

Exactness depends on Go's `net/url` (Go 1.25 with the bracketed-host fix of CVE-2025-47912) and
`path/filepath.Match`, which differ from urllib and fnmatch; both are emulated in `go_url` and
`go_glob` on UTF-8 bytes, as Go sees strings. Keys are parsed once (`parse_key`) so lookups
only compare. Pure.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from app.core.images.go_glob import BadPattern, glob
from app.core.images.go_string import go_bytes
from app.core.images.go_url import parse_url, split_url
from app.core.images.reference import ImageName

DEFAULT_REGISTRY_HOST = b"index.docker.io"

_GLOB_META = frozenset(b"*?[\\")


@dataclass(frozen=True, slots=True)
class Target:
    labels: tuple[bytes, ...]
    port: bytes
    path: bytes


def _parse_schemeless(url: bytes) -> Target | None:
    """`ParseSchemelessURL` then `SplitURL`; None where `URLsMatchStr` would return an error."""
    parsed = parse_url(url)
    if parsed is None:
        return None
    labels, port = split_url(parsed[0])
    return Target(labels, port, parsed[1])


@dataclass(frozen=True, slots=True)
class RegistryKey:
    """A registry key as the kubelet's keyring holds it, parsed once for the hot path.

    `raw` is the key as written in the Secret, `normalized` the keyring index entry it becomes
    (`host + effectivePath`). `globs[i]` says whether `labels[i]` needs Go's glob at all.
    """

    raw: str
    normalized: str
    labels: tuple[bytes, ...]
    port: bytes
    path: bytes
    globs: tuple[bool, ...]
    order: bytes
    docker_hub: bool


@functools.lru_cache(maxsize=65536)
def parse_key(raw: str) -> RegistryKey | None:
    """The key as `BasicDockerKeyring.Add` stores it and `Lookup` re-reads it.

    None when the kubelet skips it (`url.Parse` fails in `Add`) or could never match it (the
    stored `host + path` fails to parse again in `Lookup`, so `URLsMatchStr` always errors).
    Cached: the same keys recur in every namespace, and tables are rebuilt after each change.
    """
    value = go_bytes(raw)
    if value.startswith(b"https://"):
        value = value[8:]
    elif value.startswith(b"http://"):
        value = value[7:]
    parsed = parse_url(value)
    if parsed is None:
        return None
    host, path = parsed
    if path.startswith((b"/v2/", b"/v1/")):
        path = path[3:]
    stored = host + path if path and path != b"/" else host
    target = _parse_schemeless(stored)
    if target is None:
        return None
    return RegistryKey(
        raw=raw,
        normalized=stored.decode("utf-8", "replace"),
        labels=target.labels,
        port=target.port,
        path=target.path,
        globs=tuple(not _GLOB_META.isdisjoint(label) for label in target.labels),
        order=stored,
        docker_hub=stored == DEFAULT_REGISTRY_HOST,
    )


def target_of(image: ImageName | str) -> Target | None:
    """The image as `Lookup` parses it; None when no key can match it directly."""
    name = image.name if isinstance(image, ImageName) else image
    return _parse_schemeless(go_bytes(name))


def matches(key: RegistryKey, target: Target) -> bool:
    """`URLsMatch`; a malformed glob label is an error there, so no match."""
    if key.port != target.port or len(key.labels) != len(target.labels):
        return False
    if not target.path.startswith(key.path):
        return False
    if not any(key.globs):
        return key.labels == target.labels
    try:
        for label, wanted, is_glob in zip(key.labels, target.labels, key.globs, strict=True):
            if not (glob(label, wanted) if is_glob else label == wanted):
                return False
    except BadPattern:
        return False
    return True


# Where a key is filed: glob keys by their shape, other keys by their exact host and port.
Bucket = tuple[bool, tuple[bytes, ...] | int, bytes]


def bucket(key: RegistryKey) -> Bucket:
    if any(key.globs):
        return True, len(key.labels), key.port
    return False, key.labels, key.port


def buckets(target: Target) -> tuple[Bucket, Bucket]:
    """The only buckets whose keys can match `target`."""
    return (False, target.labels, target.port), (True, len(target.labels), target.port)


def key_matches(key: RegistryKey, image: ImageName | str) -> bool:
    """Whether the key matches the image directly (`URLsMatchStr`), Docker Hub fallback aside.

    `image` is a parsed ImageName or the exact string the kubelet's `Lookup` receives.
    """
    target = target_of(image)
    return target is not None and matches(key, target)


def is_default_registry_match(name: str) -> bool:
    """`isDefaultRegistryMatch`: whether Docker Hub keys may serve the image `name`.

    Note the kubelet's rule, not Docker's: any first component without '.' or ':' counts, so
    `localhost/app` and an uppercase single-label domain such as `Foo/app` are included.
    """
    first, slash, _ = name.partition("/")
    if not first:
        return False
    if not slash or first in ("docker.io", "index.docker.io"):
        return True
    return "." not in first and ":" not in first


def lookup(keys: Sequence[RegistryKey], image: ImageName | str) -> list[RegistryKey]:
    """`BasicDockerKeyring.Lookup` over keys added in this order: the keys whose credentials apply.

    Direct matches come in the keyring's order (stored key descending, bytewise; equal stored
    keys in the order given). Only when none matched do keys stored as `index.docker.io` apply,
    to images `is_default_registry_match` accepts. `image` is as for `key_matches`.
    """
    return Keyring(keys).lookup(image)


class Keyring:
    """`lookup` over a fixed set of keys, with the keys bucketed so a lookup reads only the keys
    that could match: those with the image's exact host and port, and globs of the same shape.

    A cluster-wide keyring holds tens of thousands of keys; scanning them all per image would
    cost milliseconds, bucketing costs two dict reads.
    """

    __slots__ = ("_buckets", "_hub", "keys")

    def __init__(self, keys: Sequence[RegistryKey]) -> None:
        self.keys = tuple(keys)
        self._buckets: dict[Bucket, list[int]] = {}
        for position, key in enumerate(self.keys):
            self._buckets.setdefault(bucket(key), []).append(position)
        self._hub = [position for position, key in enumerate(self.keys) if key.docker_hub]

    def lookup(self, image: ImageName | str) -> list[RegistryKey]:
        """As the module's `lookup` over the keys in the order given."""
        return [self.keys[position] for position in self.positions(image)]

    def positions(self, image: ImageName | str) -> list[int]:
        """Where in `keys` the matching keys stand, in the keyring's order."""
        target = target_of(image)
        if target is not None:
            candidates = [p for b in buckets(target) for p in self._buckets.get(b, ())]
            candidates.sort()
            direct = [p for p in candidates if matches(self.keys[p], target)]
            if direct:
                direct.sort(key=lambda p: self.keys[p].order, reverse=True)
                return direct
        name = image.name if isinstance(image, ImageName) else image
        if not is_default_registry_match(name):
            return []
        return list(self._hub)
