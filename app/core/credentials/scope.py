"""Which credentials serve a namespace, and under which name (pure).

The webhook and the replicator both ask this one module, so a pod is only ever told to use a
copy that the replicator is due to write, and never a name held by a Secret pullpass does not
manage.
"""

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from app.core import labels
from app.core.credentials.credential import Credential, NamespaceInfo

NAMESPACE = "namespace"
CLUSTER = "cluster"


@dataclass(frozen=True, slots=True)
class ScopeSettings:
    credentials_namespace: str
    project_label: str = labels.PROJECT


@dataclass(frozen=True, slots=True)
class Scoped:
    """A credential as one namespace sees it: `secret` is the name a pod there refers to."""

    secret: str
    scope: str
    source: Credential

    @property
    def copied(self) -> bool:
        return self.scope != NAMESPACE


@dataclass(frozen=True, slots=True)
class Resolution:
    credentials: list[Scoped]
    conflicts: list[Credential] = field(default_factory=list)


def source_scope(credential: Credential, settings: ScopeSettings) -> str | None:
    """`project:<p>`, `cluster`, or None: only the credentials namespace holds sources."""
    if credential.namespace != settings.credentials_namespace or credential.managed:
        return None
    if credential.labels.get(labels.SCOPE) == labels.CLUSTER:
        return CLUSTER
    project = credential.labels.get(labels.PROJECT)
    return f"project:{project}" if project else None


def claims_scope(credential: Credential) -> bool:
    """A Secret carrying source labels; outside the credentials namespace it is ignored."""
    return labels.SCOPE in credential.labels or labels.PROJECT in credential.labels


def resolve(
    namespace: NamespaceInfo,
    own: Iterable[Credential],
    sources: Iterable[Credential],
    settings: ScopeSettings,
    held: Collection[str] = (),
) -> Resolution:
    """Namespace credentials by name, then project, then cluster sources by name.

    `held` names the namespace's Secrets of any type that pullpass does not manage: a copy can
    never take such a name, even when the Secret there is no registry credential.
    """
    own_by_name = {c.name: c for c in own}
    scoped = [
        Scoped(c.name, NAMESPACE, c)
        for name, c in sorted(own_by_name.items())
        if not c.managed and c.annotations.get(labels.INJECT) != "false"
    ]
    if namespace.name == settings.credentials_namespace:
        return Resolution(scoped)
    project = namespace.labels.get(settings.project_label)
    wanted = {f"project:{project}"} if project else set()
    wanted.add(CLUSTER)
    ranked = sorted(
        (scope == CLUSTER, c.name, scope, c)
        for c in sources
        if (scope := source_scope(c, settings)) in wanted
    )
    taken = {s.secret for s in scoped}
    conflicts = []
    for _, name, scope, source in ranked:
        holder = own_by_name.get(name)
        if name in held or (holder is not None and not holder.managed):
            conflicts.append(source)
        elif name not in taken:
            taken.add(name)
            scoped.append(Scoped(name, scope, source))
    return Resolution(scoped, conflicts)
