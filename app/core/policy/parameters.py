"""The parameter objects' specs, from the index's resolutions (pure).

One spec per enabled namespace that the shared rules alone would get wrong (its whole
resolution, webhook order), and one shared spec (the project rules keyed by project, the cluster
rules, and those namespaces as `covered`). The leader writes them; `manifests` explains how the
two policies use them.
"""

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
from app.core.policy.compile import Entry, compile_entries
from app.core.policy.manifests import NAMESPACE_OBJECT, SHARED_OBJECT

Spec = dict[str, Any]


def covered(resolution: Resolution) -> bool:
    """Whether the shared rules alone would miss a namespace credential or a name conflict."""
    return bool(resolution.conflicts) or any(c.scope == NAMESPACE for c in resolution.credentials)


def namespace_spec(resolution: Resolution) -> Spec:
    return {
        "credentials": compile_entries(resolution.credentials),
        "projects": {},
        "cluster": [],
        "covered": {},
    }


def shared_spec(
    sources: Iterable[Credential], settings: ScopeSettings, resolutions: Mapping[str, Resolution]
) -> Spec:
    """`resolutions`: every enabled namespace's, to find those the shared rules would get wrong."""
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
    compiled: dict[str, list[Entry]] = {p: compile_entries(s) for p, s in sorted(projects.items())}
    return {
        "credentials": [],
        "projects": compiled,
        "cluster": compile_entries(cluster),
        "covered": {name: True for name, r in sorted(resolutions.items()) if covered(r)},
    }


def desired(
    resolutions: Mapping[str, Resolution], sources: Iterable[Credential], settings: ScopeSettings
) -> dict[tuple[str, str], Spec]:
    """Every parameter object's spec by (namespace, name), from the enabled namespaces'
    resolutions.

    A namespace that the shared rules serve alone gets no object of its own: a change of a
    project or cluster source is then one write, not one per namespace.
    """
    wanted = {
        (settings.credentials_namespace, SHARED_OBJECT): shared_spec(sources, settings, resolutions)
    }
    for name, resolution in sorted(resolutions.items()):
        if covered(resolution):
            wanted[(name, NAMESPACE_OBJECT)] = namespace_spec(resolution)
    return wanted
