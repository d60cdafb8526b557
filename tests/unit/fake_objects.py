"""A stand-in for the custom-objects API calls the policy parameter writer makes, over a dict, so
a pass (or the leader's loop on its thread) runs without a cluster.

In the manner of `fake_call`: a list is answered with a `Page`, each call is recorded in
`calls` as (verb, namespace), and the API server's refusals are scripted: `refuse[namespace]`
is raised by every create in that namespace until the test removes it, as the API server refuses
new content in a namespace being deleted and answers its other calls as usual. The errors are
built as the client raises them, with the API server's Status JSON as body, so the writer reads
them as it would a real one.
"""

import threading
from dataclasses import dataclass
from typing import Any

import orjson
from kubernetes.client.exceptions import ApiException

from tests.unit.fake_call import Page

Key = tuple[str, str]
REASONS = {403: "Forbidden", 404: "NotFound", 409: "Conflict", 500: "InternalError"}


@dataclass
class Answer:
    """One object, as the client returns it unread (`_preload_content=False`)."""

    body: dict[str, Any]

    @property
    def data(self) -> bytes:
        return orjson.dumps(self.body)


def refusal(status: int, message: str, **details: Any) -> ApiException:
    """An ApiException with the API server's Status as its body."""
    reason = REASONS.get(status, "Failure")
    error = ApiException(status=status, reason=reason)
    body = {"kind": "Status", "status": "Failure", "message": message, "reason": reason}
    error.body = orjson.dumps({**body, "details": details, "code": status})
    return error


def terminating(namespace: str) -> ApiException:
    """What the NamespaceLifecycle admission plugin answers a create in a namespace being
    deleted (the Status the API server sends)."""
    return refusal(
        403,
        f'pullpassrules.pullpass.io "pullpass" is forbidden: unable to create new content in '
        f"namespace {namespace} because it is being terminated",
        name="pullpass",
        group="pullpass.io",
        kind="pullpassrules",
        causes=[
            {
                "reason": "NamespaceTerminating",
                "message": f"namespace {namespace} is being terminated",
                "field": "metadata.namespace",
            }
        ],
    )


def namespace_gone(namespace: str) -> ApiException:
    """What the API server answers any write in a namespace that no longer exists."""
    return refusal(404, f'namespaces "{namespace}" not found', name=namespace, kind="namespaces")


def forbidden(namespace: str) -> ApiException:
    """An RBAC refusal: a fault an admin must see, not a namespace going away."""
    return refusal(
        403,
        'pullpassrules.pullpass.io is forbidden: User "system:serviceaccount:home:pullpass" '
        f'cannot create resource "pullpassrules" in the namespace "{namespace}"',
        group="pullpass.io",
        kind="pullpassrules",
    )


class FakeObjects:
    """The custom-objects API, over `objects` by (namespace, name)."""

    def __init__(self) -> None:
        self.objects: dict[Key, dict[str, Any]] = {}
        self.refuse: dict[str, ApiException] = {}
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._version = 0

    def _call(self, verb: str, namespace: str) -> None:
        with self._lock:
            self.calls.append((verb, namespace))
            error = self.refuse.get(namespace) if verb == "create" else None
        if error is not None:
            raise error

    def _store(self, key: Key, body: dict[str, Any]) -> Answer:
        with self._lock:
            self._version += 1
            stored = {
                **body,
                "metadata": {**body["metadata"], "resourceVersion": str(self._version)},
            }
            self.objects[key] = stored
        return Answer(stored)

    def _missing(self, key: Key) -> ApiException:
        return refusal(404, f'pullpassrules.pullpass.io "{key[1]}" not found', name=key[1])

    def list_cluster_custom_object(self, *args: Any, **params: Any) -> Page:
        self._call("list", "")
        with self._lock:
            return Page(list(self.objects.values()))

    def list_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, field_selector: str, **p: Any
    ) -> Page:
        self._call("list", namespace)
        name = field_selector.removeprefix("metadata.name=")
        with self._lock:
            found = self.objects.get((namespace, name))
        return Page([found] if found is not None else [])

    def create_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, body: Any, **params: Any
    ) -> Answer:
        self._call("create", namespace)
        key = (namespace, body["metadata"]["name"])
        if key in self.objects:
            raise refusal(409, f'pullpassrules.pullpass.io "{key[1]}" already exists')
        return self._store(key, body)

    def replace_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: Any, **p: Any
    ) -> Answer:
        self._call("replace", namespace)
        current = self.objects.get((namespace, name))
        if current is None:
            raise self._missing((namespace, name))
        if current["metadata"]["resourceVersion"] != body["metadata"]["resourceVersion"]:
            raise refusal(409, "the object has been modified; please apply your changes")
        return self._store((namespace, name), body)

    def delete_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, **params: Any
    ) -> None:
        self._call("delete", namespace)
        if self.objects.pop((namespace, name), None) is None:
            raise self._missing((namespace, name))

    def verbs(self, namespace: str) -> list[str]:
        return [verb for verb, where in self.calls if where == namespace]
