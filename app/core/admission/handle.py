"""The admission decision: which in-scope credentials a new Pod needs (pure).

Reads only the review and a `View` of the index, and returns the response plus an outcome
label for metrics and logs; the server does all I/O.

The rule above all: a pod the API server would admit without pullpass is admitted with it. So a
ServiceAccount that enforces mountable secrets gets only the pull secrets it lists, a mirror pod
(which may reference no Secret) is left alone, and the record annotation is dropped rather than
pushed past the size limit. What pullpass cannot add becomes a warning.
"""

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from app.core import labels
from app.core.admission import patch, respond
from app.core.admission.pod import PodView, oversize, read_pod
from app.core.admission.review import Request, Response
from app.core.credentials.match import MatchTable
from app.core.credentials.serviceaccount import ServiceAccountInfo
from app.core.images.reference import ImageName

WARNING_LIMIT = 119
EPHEMERAL = "ephemeralcontainers"
# The kubelet's mark on a static pod's mirror; the API server refuses one that names a Secret.
MIRROR = "kubernetes.io/config.mirror"


class View(Protocol):
    """What handling needs from the index."""

    def table(self, namespace: str) -> MatchTable | None:
        """None when the namespace is not enabled."""

    def serves_anywhere(self, image: ImageName) -> bool:
        """Whether any credential in the cluster serves the image, to warn about images served
        only elsewhere."""

    def service_account(self, namespace: str, name: str) -> ServiceAccountInfo | None:
        """None when the index does not know it (yet): then nothing may be added."""


@dataclass(slots=True)
class Verdict:
    response: Response
    outcome: str
    reason: str
    added: tuple[str, ...] = ()


def handle(request: Request, view: View) -> Verdict:
    uid = request["uid"]
    kind = request["kind"]
    if (kind["group"], kind["kind"]) != ("", "Pod"):
        return Verdict(respond.allowed(uid), "skipped", "not a Pod")
    operation, subresource = request["operation"], request.get("subResource") or ""
    if (operation, subresource) == ("UPDATE", EPHEMERAL):
        return _ephemeral(request, view)
    if (operation, subresource) != ("CREATE", ""):
        return Verdict(respond.allowed(uid), "skipped", "not a Pod CREATE")
    target = _target(request, view)
    if isinstance(target, Verdict):
        return target
    pod, table = target
    needed, warnings = _needed(pod, table, view)
    present = set(pod.pull_secrets)
    missing = [c for c in needed if c not in present]
    account = view.service_account(pod.namespace, pod.service_account) if missing else None
    added = tuple(c for c in missing if _may_add(account, c))
    warnings.extend(_refused(pod.service_account, account, c) for c in missing if c not in added)
    if not added:
        response = respond.allowed_with_warnings(uid, warnings)
        return Verdict(response, "unchanged", "nothing to add")
    operations = patch.append_pull_secrets(pod, added)
    record = patch.record_injected(pod, added)
    if record is None:
        warnings.append(
            _short(f"pullpass: {labels.INJECTED} left out: annotations would pass 256 KiB")
        )
    else:
        operations.append(record)
    audit = {"injected": ",".join(added)}
    response = respond.patched(uid, operations, warnings=warnings, audit=audit)
    return Verdict(response, "patched", "credentials added", added)


def _target(request: Request, view: View) -> tuple[PodView, MatchTable] | Verdict:
    """The pod and its namespace's table, or the verdict that leaves the pod alone."""
    too_large = oversize(request.get("object"))
    if too_large is not None:
        warning = _short(f"pullpass: pod left unchanged: {too_large}")
        response = respond.allowed_with_warnings(request["uid"], [warning])
        return Verdict(response, "too_large", too_large)
    pod = read_pod(request.get("object"), request.get("namespace") or "")
    table = view.table(pod.namespace)
    if table is None:
        return Verdict(respond.allowed(request["uid"]), "skipped", "namespace not enabled")
    reason = _left_alone(pod)
    if reason is not None:
        return Verdict(respond.allowed(request["uid"]), "skipped", reason)
    return pod, table


def _left_alone(pod: PodView) -> str | None:
    if labels.opted_out(pod.labels):
        return "pod opted out"
    if pod.annotations is not None and MIRROR in pod.annotations:
        return "mirror pod"
    return None


def _may_add(account: ServiceAccountInfo | None, secret: str) -> bool:
    return account is not None and (not account.strict or secret in account.pull_secrets)


def _refused(name: str, account: ServiceAccountInfo | None, secret: str) -> str:
    if account is None:
        return _short(f"pullpass: ServiceAccount {name} not indexed yet; {secret} not added")
    return _short(f"pullpass: ServiceAccount {name} does not list {secret}, so it is not added")


def _ephemeral(request: Request, view: View) -> Verdict:
    """A pod's pull secrets cannot change any more: say which one a debug image lacks."""
    uid = request["uid"]
    target = _target(request, view)
    if isinstance(target, Verdict):
        return target
    pod, table = target
    old = request.get("oldObject")
    earlier = {c.name for c in read_pod(old).ephemeral} if old is not None else set()
    present = set(pod.pull_secrets)
    warnings = [
        _short(
            f"pullpass: ephemeral container {c.name} needs {secret}, which this pod does not list"
        )
        for c in pod.ephemeral
        if c.name not in earlier
        for secret in _in_table_order(table, table.match(c.image).secrets - present)
    ]
    return Verdict(respond.allowed_with_warnings(uid, warnings), "unchanged", "ephemeral container")


def _in_table_order(table: MatchTable, secrets: Collection[str]) -> list[str]:
    return [c.secret for c in table.credentials if c.secret in secrets]


def _needed(pod: PodView, table: MatchTable, view: View) -> tuple[list[str], list[str]]:
    """Credential names in table order, and one warning per registry served only elsewhere."""
    used: set[str] = set()
    warned: dict[str, str] = {}
    for container in pod.containers:
        found = table.match(container.image)
        if found.secrets:
            used |= found.secrets
            continue
        if found.image is None:
            continue
        registry = found.image.domain
        if registry not in warned and view.serves_anywhere(found.image):
            warned[registry] = _short(
                f"pullpass: {registry} has a registry credential in the cluster, none in scope here"
            )
    # Names in a table are unique (scope.resolve), so table order needs no de-duplication.
    return _in_table_order(table, used), list(warned.values())


def _short(text: str) -> str:
    return text if len(text) <= WARNING_LIMIT else text[: WARNING_LIMIT - 3] + "..."
