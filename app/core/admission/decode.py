"""Turn request bytes into a checked AdmissionReview request.

Every way a body can be wrong ends in `BadReview` with a message that names the problem, so the
server can answer 400 instead of failing somewhere deeper with a 500.
"""

from typing import Any, cast

import orjson

from app.core.admission.review import API_VERSION, KIND, Request
from app.core.bad_object import BadObject


class BadReview(BadObject):
    """The body is not a well-formed AdmissionReview; the message says why."""

    def __init__(self, problem: str) -> None:
        super().__init__("AdmissionReview", problem)


def decode(body: bytes) -> Request:
    """Parse and check only what pullpass reads, so unknown extra fields stay harmless."""
    try:
        review = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BadReview(f"body is not valid JSON: {error}") from None
    if not isinstance(review, dict):
        raise BadReview("body must be a JSON object (an AdmissionReview)")
    if review.get("apiVersion") != API_VERSION:
        raise BadReview(f"apiVersion must be {API_VERSION!r}")
    if review.get("kind") != KIND:
        raise BadReview(f"kind must be {KIND!r}")
    request = review.get("request")
    if not isinstance(request, dict):
        raise BadReview("request must be an object")
    _require_str(request, "uid", nonempty=True)
    _require_str(request, "operation", nonempty=True)
    kind = request.get("kind")
    if not isinstance(kind, dict):
        raise BadReview("request.kind must be an object")
    for field in ("group", "version", "kind"):
        if not isinstance(kind.get(field, ""), str):
            raise BadReview(f"request.kind.{field} must be a string")
    kind.setdefault("group", "")
    kind.setdefault("version", "")
    kind.setdefault("kind", "")
    for field in ("namespace", "name", "subResource"):
        if field in request and request[field] is not None:
            _require_str(request, field)
    if not isinstance(request.get("dryRun", False), bool):
        raise BadReview("request.dryRun must be a boolean")
    _require_objects(request, "object", "oldObject")
    return cast(Request, request)


def _require_objects(request: dict[str, Any], *fields: str) -> None:
    for field in fields:
        obj = request.get(field)
        if obj is not None and not isinstance(obj, dict):
            raise BadReview(f"request.{field} must be an object")


def _require_str(request: dict[str, Any], field: str, *, nonempty: bool = False) -> None:
    value = request.get(field)
    if not isinstance(value, str) or (nonempty and not value):
        raise BadReview(f"request.{field} must be a {'non-empty ' if nonempty else ''}string")
