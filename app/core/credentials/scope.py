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
    """`rancher`: a namespace's project is the one in Rancher's guarded annotation."""

    credentials_namespace: str
    project_label: str = labels.PROJECT
    rancher: bool = False


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


def project_of(namespace: NamespaceInfo, settings: ScopeSettings) -> str | None:
    """The project whose sources serve the namespace, or None.

    Under `rancher` it is the project part of the annotation `field.cattle.io/projectId`
    (`<cluster>:<project>`), which Rancher's webhook lets only users with manage-namespaces on
    that project set. The label of the same name is editable by any member who may edit the
    namespace, so it counts only when it agrees: a label alone, or one that disagrees, gives no
    project credential.
    """
    label = namespace.labels.get(settings.project_label) or None
    if not settings.rancher:
        return label
    guarded = rancher_project(namespace)
    return guarded if label in (None, guarded) else None


def rancher_project(namespace: NamespaceInfo) -> str | None:
    """The project part of Rancher's annotation, None when it is absent or malformed."""
    cluster, colon, project = namespace.annotations.get(labels.RANCHER_PROJECT, "").partition(":")
    return project if cluster and colon and project and ":" not in project else None


def distrusted_project(namespace: NamespaceInfo, settings: ScopeSettings) -> str | None:
    """Why the namespace's project label gives no project credential under `rancher`; None when
    it does, or when there is no label."""
    label = namespace.labels.get(settings.project_label)
    if not settings.rancher or not label:
        return None
    guarded = rancher_project(namespace)
    if guarded == label:
        return None
    annotation = f"Rancher's annotation {labels.RANCHER_PROJECT}"
    agree = f"without {annotation}" if guarded is None else f"disagreeing with {annotation}"
    return (
        f"namespace {namespace.name}: label {settings.project_label}={label} {agree}"
        f"{'' if guarded is None else f' (project {guarded})'}: no project credentials"
    )


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
    project = project_of(namespace, settings)
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
