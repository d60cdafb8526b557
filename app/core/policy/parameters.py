"""The parameter objects' specs, from the index's resolutions (pure).

One shared spec (the project rules keyed by project, the cluster rules, the enabled namespaces
that the shared rules alone would get wrong as `covered`, the whole resolution of as many of
those as fit a byte budget as `held`, the namespaces where no warning can arise as `quiet`, and
the project of each other namespace as `projectOf`), and one spec for each covered namespace
past the budget (its whole resolution, webhook order).
The leader writes them; `manifests` explains how the policies use them.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

from app.core.credentials.credential import Credential
from app.core.credentials.scope import (
    CLUSTER,
    NAMESPACE,
    Resolution,
    Scoped,
    ScopeSettings,
    source_scope,
)
from app.core.policy.compile import (
    CompiledKey,
    Entry,
    KeyCache,
    KeysOf,
    compile_entries,
    compile_keys,
    distinct_keys,
    frozen,
    index_entries,
    index_keys,
    parameter_entries,
)
from app.core.policy.gaps import Gaps
from app.core.policy.manifests import (
    MAX_ANYWHERE,
    MAX_COVERED,
    MAX_HELD_BYTES,
    MAX_HELD_NAMESPACE_BYTES,
    MAX_SHARED_BYTES,
    NAMESPACE_OBJECT,
    SHARED_OBJECT,
)

Spec = dict[str, Any]


def covered(resolution: Resolution) -> bool:
    """Whether the shared rules alone would miss a namespace credential or a name conflict."""
    return bool(resolution.conflicts) or any(c.scope == NAMESPACE for c in resolution.credentials)


def anywhere(credentials: Iterable[Credential], keys: KeysOf = compile_keys) -> list[CompiledKey]:
    """The distinct keys of every registry credential in the cluster, for the warnings, in a
    stable order; past the schema's bound the rest is left out (fewer warnings, same pulls)."""
    distinct = distinct_keys(k for c in credentials for k in keys(c.keys))
    ordered = sorted(distinct, key=lambda k: (k["host"], k["port"], k["path"], k["dockerHub"]))
    return ordered[:MAX_ANYWHERE]


def quiet(
    resolutions: Mapping[str, Resolution],
    everywhere: list[CompiledKey],
    keys: KeysOf = compile_keys,
) -> list[str]:
    """The enabled namespaces with every key of `everywhere` in scope, where no image can get a
    warning (a key that serves it somewhere serves it here), so the warnings policy is skipped;
    past the schema's bound the rest are evaluated as before."""
    wanted = {frozen(k) for k in everywhere}
    compiled: dict[tuple[str, ...], set[tuple[object, ...]]] = {}
    out = []
    for name, resolution in sorted(resolutions.items()):
        scope: set[tuple[object, ...]] = set()
        for credential in resolution.credentials:
            raw = credential.source.keys
            if raw not in compiled:
                compiled[raw] = {frozen(k) for k in keys(raw)}
            scope |= compiled[raw]
        if wanted <= scope:
            out.append(name)
    return out[:MAX_COVERED]


def in_scope(resolution: Resolution, keys: KeysOf = compile_keys) -> list[CompiledKey]:
    """The distinct keys the namespace's pods are served by in policy mode (its entries, within
    their bounds), for the warnings."""
    return distinct_keys(_keys_of(compile_entries(resolution.credentials, keys)))


def _keys_of(entries: list[Entry]) -> list[CompiledKey]:
    return [k for entry in entries for k in entry["keys"]]


def project(resolution: Resolution) -> str:
    """The project whose sources serve a namespace that the shared rules serve ("" for none,
    or a project without sources): the shared policy reads it from `namespaceObject`, which the
    warnings policy's match condition cannot read."""
    scopes = (c.scope for c in resolution.credentials)
    return next((s.removeprefix("project:") for s in scopes if s.startswith("project:")), "")


def namespace_spec(resolution: Resolution, keys: KeysOf = compile_keys) -> Spec:
    credentials = compile_entries(resolution.credentials, keys)
    return {
        "credentials": parameter_entries(credentials),
        "credentialsIndex": index_entries(credentials),
        "projects": {},
        "projectsIndex": {},
        "cluster": [],
        "clusterIndex": index_entries([]),
        "covered": {},
        "held": {},
        "anywhere": index_keys([]),
        "scopes": {},
        "quiet": {},
        "projectOf": {},
    }


def _size(value: object) -> int:
    """Bytes of `value` as JSON, as the API server stores it, near enough."""
    return len(json.dumps(value, separators=(",", ":")))


def held(specs: Mapping[str, Spec], budget: int = MAX_HELD_BYTES) -> dict[str, Spec]:
    """The covered namespaces' resolutions (`namespace_spec`'s entries and index) that the shared
    object holds, the smallest first (then by name) while they fit in `budget` bytes of JSON,
    each within one namespace's share: there the shared policy serves the namespace alone, one
    policy run per pod. A namespace past them gets an object of its own, and the shared object
    stays well under what etcd stores in one object, whatever one tenant's Secrets hold. Smallest
    first holds as many namespaces as the budget allows, and a tenant's large credential sets are
    the ones pushed to objects of their own, not other tenants' namespaces. Listed by name."""
    parts = {
        name: {"credentials": spec["credentials"], "credentialsIndex": spec["credentialsIndex"]}
        for name, spec in specs.items()
    }
    sized = sorted((_size({name: part}), name) for name, part in parts.items())
    kept: list[str] = []
    for size, name in sized:
        if size > min(budget, MAX_HELD_NAMESPACE_BYTES) or len(kept) >= MAX_COVERED:
            break
        kept.append(name)
        budget -= size
    return {name: parts[name] for name in sorted(kept)}


def shared_spec(
    sources: Iterable[Credential],
    settings: ScopeSettings,
    resolutions: Mapping[str, Resolution],
    everywhere: list[CompiledKey] | None = None,
    keys: KeysOf = compile_keys,
) -> Spec:
    """`resolutions`: every enabled namespace's, to find those the shared rules would get wrong
    (`covered`) and those where no warning can arise, or whose keys in scope are too many to
    list (`quiet`); the covered ones that are not
    quiet have their keys in scope as `scopes`, and the others that are not quiet their
    project as `projectOf`, for the warnings, and each of those scopes its `gaps` when it has
    them (covered namespaces', projects', the cluster's). `everywhere`: `anywhere` of
    every credential in the cluster; `keys`, how credentials' keys are compiled (a pass's
    `KeyCache`). `held` is left empty: `desired` fills it with what room
    the rest leaves."""
    everywhere = everywhere or []
    projects: dict[str, list[Scoped]] = {}
    cluster: list[Scoped] = []
    for source in sorted(sources, key=lambda c: c.name):
        scope = source_scope(source, settings)
        if scope == CLUSTER:
            cluster.append(Scoped(source.name, scope, source))
        elif scope is not None:
            projects.setdefault(scope.removeprefix("project:"), []).append(
                Scoped(source.name, scope, source)
            )
    compiled: dict[str, list[Entry]] = {
        p: compile_entries(s, keys) for p, s in sorted(projects.items())
    }
    own = {
        name: r
        for name, r in sorted(resolutions.items())
        if covered(r) or name == settings.credentials_namespace
    }
    cluster_entries = compile_entries(cluster, keys)
    scoped = {name: in_scope(r, keys) for name, r in own.items()}
    # A covered namespace with more keys in scope than `scopes` holds is skipped too: a key left
    # out would make the warnings policy take an image served here for one served only elsewhere
    # (fewer warnings there, never a false one), and the shared object stays small.
    crowded = [name for name, scope in scoped.items() if len(scope) > MAX_ANYWHERE]
    silent = sorted({*quiet(resolutions, everywhere, keys), *crowded})[:MAX_COVERED]
    skipped = set(silent)
    projects_of = dict(
        [
            (name, project(r))
            for name, r in sorted(resolutions.items())
            if name not in own and name not in skipped
        ][:MAX_COVERED]
    )
    cluster_keys = _keys_of(cluster_entries)
    gaps = Gaps(everywhere)
    listed = {name: gaps(scope) for name, scope in scoped.items() if name not in skipped}
    by_project = {
        p: gaps(_keys_of(compiled[p]) + cluster_keys)
        for p in sorted(set(projects_of.values()) - {""})
        if p in compiled
    }
    cluster_gaps = gaps(cluster_keys)
    return {
        "credentials": [],
        "credentialsIndex": index_entries([]),
        "projects": {p: parameter_entries(e) for p, e in compiled.items()},
        "projectsIndex": {p: index_entries(e) for p, e in compiled.items()},
        "cluster": parameter_entries(cluster_entries),
        "clusterIndex": index_entries(cluster_entries),
        "covered": dict.fromkeys(own, True),
        "held": {},
        "anywhere": index_keys(everywhere),
        "scopes": {
            name: index_keys(scope[:MAX_ANYWHERE])
            for name, scope in scoped.items()
            if name not in skipped
        },
        "quiet": dict.fromkeys(silent, True),
        "projectOf": projects_of,
        "gaps": {name: g for name, g in listed.items() if g is not None},
        "projectGaps": {p: g for p, g in by_project.items() if g is not None},
        **({} if cluster_gaps is None else {"clusterGaps": cluster_gaps}),
    }


def _largest_first(entries: Mapping[str, object]) -> list[str]:
    """Names by their values' JSON size, largest first, then by name."""
    return sorted(entries, key=lambda name: (-_size(entries[name]), name))


def fit(shared: Spec) -> Spec:
    """The shared spec within MAX_SHARED_BYTES, whatever tenants' namespaces and Secrets hold:
    past it, etcd would refuse every write of the object, and every namespace it serves would
    keep stale rules. `gaps` entries go first, the largest first (those scopes' pods are looked
    at in full), then the largest `scopes` entries, each namespace listed `quiet`
    instead (no warnings there, never a false one), then `projectOf` entries from the end of the
    name order (those namespaces' pods are evaluated in full, as a new namespace's are)."""
    excess = _size(shared) - MAX_SHARED_BYTES
    for field in ("gaps", "projectGaps"):
        listed = shared.get(field, {})
        for name in _largest_first(listed):
            if excess <= 0:
                break
            excess -= _size({name: listed.pop(name)})
    scopes, silent, projects = shared["scopes"], shared["quiet"], shared["projectOf"]
    for name in _largest_first(scopes):
        if excess <= 0 or len(silent) >= MAX_COVERED:
            break
        excess -= _size({name: scopes.pop(name)}) - _size({name: True})
        silent[name] = True
    for name in sorted(projects, reverse=True):
        if excess <= 0:
            break
        excess -= _size({name: projects.pop(name)})
    return shared


def desired(
    resolutions: Mapping[str, Resolution],
    credentials: Iterable[Credential],
    settings: ScopeSettings,
    held_bytes: int = MAX_HELD_BYTES,
) -> dict[tuple[str, str], Spec]:
    """Every parameter object's spec by (namespace, name), from the enabled namespaces'
    resolutions and every registry credential in the cluster.

    A namespace that the shared rules serve alone, or whose resolution the shared object holds
    (`held`, within `held_bytes` and what the rest of the shared spec leaves of its budget), gets
    no object of its own: a change of a project or cluster source is then one write, not one per
    namespace. The credentials namespace, which the shared policies leave out, gets one whenever
    it is enabled.
    """
    credentials = list(credentials)
    keys = KeyCache()
    everywhere = anywhere(credentials, keys)
    sources = [c for c in credentials if source_scope(c, settings) is not None]
    shared = fit(shared_spec(sources, settings, resolutions, everywhere, keys))
    own = {name: namespace_spec(resolutions[name], keys) for name in shared["covered"]}
    room = min(held_bytes, MAX_SHARED_BYTES - _size(shared))
    kept = held({n: s for n, s in own.items() if n != settings.credentials_namespace}, room)
    shared["held"] = kept
    wanted = {(settings.credentials_namespace, SHARED_OBJECT): shared}
    for name, spec in own.items():
        if name not in kept:
            wanted[(name, NAMESPACE_OBJECT)] = spec
    return wanted
