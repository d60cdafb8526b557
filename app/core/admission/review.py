"""AdmissionReview wire types (admission.k8s.io/v1).

Typed dicts rather than models: the hot path decodes with orjson and reads plain dicts, so these
types cost nothing at run time and still let mypy check every field access.
"""

from typing import Any, Literal, NotRequired, TypedDict

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"


class GroupVersionKind(TypedDict):
    group: str
    version: str
    kind: str


class Request(TypedDict):
    uid: str
    kind: GroupVersionKind
    operation: str
    subResource: NotRequired[str]
    namespace: NotRequired[str]
    name: NotRequired[str]
    dryRun: NotRequired[bool]
    object: NotRequired[dict[str, Any] | None]
    oldObject: NotRequired[dict[str, Any] | None]


class PatchOperation(TypedDict):
    op: Literal["add"]
    path: str
    value: Any


class Response(TypedDict):
    uid: str
    allowed: bool
    patchType: NotRequired[Literal["JSONPatch"]]
    patch: NotRequired[str]
    warnings: NotRequired[list[str]]
    auditAnnotations: NotRequired[dict[str, str]]


class AdmissionReview(TypedDict):
    apiVersion: str
    kind: str
    response: Response
