"""The admission decision: which in-scope credentials a new Pod needs (pure).

Reads only the review and a `View` of the index, and returns the response plus an outcome
label for metrics and logs; the server does all I/O.
"""

from dataclasses import dataclass
from typing import Protocol

from app.core import labels
from app.core.admission import patch, respond
from app.core.admission.pod import PodView, read_pod
from app.core.admission.review import Request, Response
from app.core.credentials.match import MatchTable

WARNING_LIMIT = 119


class View(Protocol):
    """What handling needs from the index."""

    def table(self, namespace: str) -> MatchTable | None:
        """None when the namespace is not enabled."""

    def anywhere(self) -> MatchTable:
        """Every credential in the cluster, to warn about images served only elsewhere."""


@dataclass(slots=True)
class Verdict:
    response: Response
    outcome: str
    reason: str
    added: tuple[str, ...] = ()


def handle(request: Request, view: View) -> Verdict:
    uid = request["uid"]
    kind = request["kind"]
    if (kind["group"], kind["kind"]) != ("", "Pod") or request["operation"] != "CREATE":
        return Verdict(respond.allowed(uid), "skipped", "not a Pod CREATE")
    pod = read_pod(request.get("object"), request.get("namespace") or "")
    if pod.labels.get(labels.INJECT) == labels.DISABLED:
        return Verdict(respond.allowed(uid), "skipped", "pod opted out")
    table = view.table(pod.namespace)
    if table is None:
        return Verdict(respond.allowed(uid), "skipped", "namespace not enabled")
    needed, warnings = _needed(pod, table, view)
    present = set(pod.pull_secrets)
    added = tuple(c for c in needed if c not in present)
    if not added:
        response = respond.allowed_with_warnings(uid, warnings)
        return Verdict(response, "unchanged", "nothing to add")
    operations = [*patch.append_pull_secrets(pod, added), patch.record_injected(pod, added)]
    audit = {"injected": ",".join(added)}
    response = respond.patched(uid, operations, warnings=warnings, audit=audit)
    return Verdict(response, "patched", "credentials added", added)


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
        if registry not in warned and view.anywhere().match(container.image).matches:
            warned[registry] = _warning(registry)
    # Names in a table are unique (scope.resolve), so table order needs no de-duplication.
    return [c.secret for c in table.credentials if c.secret in used], list(warned.values())


def _warning(registry: str) -> str:
    text = f"pullpass: {registry} has a registry credential in the cluster, none in scope here"
    return text if len(text) <= WARNING_LIMIT else text[: WARNING_LIMIT - 3] + "..."
