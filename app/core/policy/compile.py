"""Scoped credentials compiled to what CEL can evaluate: the parameter objects' entries (pure).

Each registry key becomes the keyring's view of it (`parse_key`): an anchored RE2 regex of its
host (one glob per label, `glob_regex`); when no label has a glob character, the host itself
(`exact`: CEL then compares strings instead of compiling the parameter's regex on every call);
for a glob of leading `*` labels (`*.corp.example`), its literal `suffix` and label count
(`labels`, else 0: string operations again instead of the regex); its port, its path prefix, and
whether it is a Docker Hub key that serves Docker Hub images when no key matched directly. Keys
the kubelet could never match (unparsable, or a label that is a bad pattern) are left out, as the
kubelet skips them. Only key structure is kept: no credential data can reach a parameter object.
"""

from collections.abc import Callable, Iterable
from typing import TypedDict

from app.core.credentials.scope import Scoped
from app.core.images.keyring import RegistryKey, parse_key
from app.core.policy.glob_regex import NeverMatches, host_regex
from app.core.policy.manifests import (
    HOST_LENGTH,
    MAX_ENTRIES,
    MAX_KEYS,
    PATH_LENGTH,
    PORT_LENGTH,
)


class CompiledKey(TypedDict):
    host: str
    exact: str
    suffix: str
    labels: int
    port: str
    path: str
    dockerHub: bool


class Entry(TypedDict):
    name: str
    scope: str
    keys: list[CompiledKey]


class ParameterEntry(TypedDict):
    """An entry as the parameters hold it: its keys are in the index (`EntryIndex`), and all the
    CEL needs of them here is whether one is a Docker Hub key (`hub`)."""

    name: str
    scope: str
    hub: bool


class IndexedKey(TypedDict):
    name: str
    host: str
    suffix: str
    labels: int
    port: str
    path: str


class EntryIndex(TypedDict):
    """A list of entries' keys by exact host (`exact`), the glob hosts' apart (`globs`): the CEL
    then looks a target's host up instead of looping over entries and keys."""

    exact: dict[str, list[IndexedKey]]
    globs: list[IndexedKey]
    hub: bool


_GLOB = set(b"*?[\\")


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def compile_key(key: RegistryKey) -> CompiledKey | None:
    """None when no image the kubelet could look up would match the key, or when the key is
    beyond the schema's bounds (a port past 16 characters, a path past 512, a host regex past
    1,024: hosts of hundreds of characters), which a write of the parameters would fail on."""
    try:
        host = host_regex(key.labels)
    except NeverMatches:
        return None
    port, path = _text(key.port), _text(key.path)
    if len(host) > HOST_LENGTH or len(port) > PORT_LENGTH or len(path) > PATH_LENGTH:
        return None
    globs = [bool(set(label) & _GLOB) for label in key.labels]
    exact = "" if any(globs) else _text(b".".join(key.labels))
    stars = len(key.labels) - globs[::-1].index(True) if any(globs) else 0
    leading = stars > 0 and all(label == b"*" for label in key.labels[:stars])
    return {
        "host": host,
        "exact": exact,
        "suffix": _text(b"".join(b"." + label for label in key.labels[stars:])) if leading else "",
        "labels": len(key.labels) if leading else 0,
        "port": port,
        "path": path,
        "dockerHub": key.docker_hub,
    }


def frozen(key: CompiledKey) -> tuple[object, ...]:
    """A compiled key as a value to compare and count: keys are equal when all fields are."""
    return tuple(key.values())


def distinct_keys(keys: Iterable[CompiledKey]) -> list[CompiledKey]:
    """The keys once each, in first-seen order."""
    seen: set[tuple[object, ...]] = set()
    out: list[CompiledKey] = []
    for key in keys:
        if frozen(key) not in seen:
            seen.add(frozen(key))
            out.append(key)
    return out


def _compiled(raw: str) -> CompiledKey | None:
    key = parse_key(raw)
    return compile_key(key) if key is not None else None


def compile_keys(raw_keys: Iterable[str]) -> list[CompiledKey]:
    """The distinct compiled keys, in first-seen order."""
    return distinct_keys(k for k in map(_compiled, raw_keys) if k is not None)


# How a caller has a credential's keys compiled: `compile_keys`, or a pass's `KeyCache`.
KeysOf = Callable[[tuple[str, ...]], list[CompiledKey]]


class KeyCache:
    """Each credential's keys compiled once in a leader's pass, dropped with it: a project's
    sources are in scope of every covered namespace of the project, and each view of the pass
    (scopes, entries, the cluster's keys) reads them again. The lists are shared: not to be
    changed."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[str, ...], list[CompiledKey]] = {}

    def __call__(self, raw_keys: tuple[str, ...]) -> list[CompiledKey]:
        found = self._compiled.get(raw_keys)
        if found is None:
            found = self._compiled[raw_keys] = compile_keys(raw_keys)
        return found


def compile_entries(credentials: Iterable[Scoped], keys: KeysOf = compile_keys) -> list[Entry]:
    """One entry per credential, in the order given (webhook order, from `scope.resolve`).

    Past the schema's bounds (128 credentials in one list, 32 distinct keys in one credential)
    the rest is left out, so the parameters can still be written: see the differences in
    docs/policy-mode.md.
    """
    entries: list[Entry] = [
        {"name": c.secret, "scope": c.scope, "keys": keys(c.source.keys)[:MAX_KEYS]}
        for c in credentials
    ]
    return entries[:MAX_ENTRIES]


def parameter_entries(entries: list[Entry]) -> list[ParameterEntry]:
    return [
        {"name": e["name"], "scope": e["scope"], "hub": any(k["dockerHub"] for k in e["keys"])}
        for e in entries
    ]


def index_entries(entries: list[Entry]) -> EntryIndex:
    """Every key of the entries with its entry's name, in entry order, keyed by exact host, and
    whether any of them is a Docker Hub key (`hub`)."""
    exact: dict[str, list[IndexedKey]] = {}
    globs: list[IndexedKey] = []
    hub = False
    for entry in entries:
        for key in entry["keys"]:
            item: IndexedKey = {
                "name": entry["name"],
                "host": key["host"],
                "suffix": key["suffix"],
                "labels": key["labels"],
                "port": key["port"],
                "path": key["path"],
            }
            if key["exact"]:
                exact.setdefault(key["exact"], []).append(item)
            else:
                globs.append(item)
            hub = hub or key["dockerHub"]
    return {"exact": exact, "globs": globs, "hub": hub}


def index_keys(keys: list[CompiledKey]) -> EntryIndex:
    """`index_entries` of keys that belong to no entry (their names are empty)."""
    return index_entries([{"name": "", "scope": "", "keys": keys}])
