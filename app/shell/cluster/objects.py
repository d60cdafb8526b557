"""Namespaces, Secrets and ServiceAccounts read from files, as `kubectl get -o yaml` prints them.

Used by `explain`, `audit` and `serve --objects`, so all answer from the same fixed set of objects
that a cluster would otherwise provide.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from app.core.credentials.credential import (
    Credential,
    NamespaceInfo,
    credential_from_secret,
    namespace_from_object,
)
from app.core.credentials.dockercfg import BadDockerConfig
from app.core.credentials.serviceaccount import ServiceAccountInfo, service_account_from_object
from app.shell.cluster.index import Index


class BadInput(ValueError):
    """A file that cannot be used; the message names the file and the problem."""


def read_documents(path: str) -> list[dict[str, Any]]:
    """Every object in a YAML or JSON file: multi-document streams and `List`s are flattened."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise BadInput(
            f"{path}: cannot read: {getattr(error, 'strerror', None) or error}"
        ) from None
    if text.lstrip()[:1] in ("{", "["):
        # JSON is YAML, but a YAML parser takes a minute over a 17 MB `kubectl get -o json`.
        try:
            return list(_flatten(path, [orjson.loads(text)]))
        except orjson.JSONDecodeError:
            pass  # not JSON after all (a YAML flow mapping): YAML says what is wrong
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or "invalid syntax"
        raise BadInput(f"{path}: not valid YAML or JSON{line}: {problem}") from None
    return list(_flatten(path, documents))


def _flatten(path: str, documents: list[Any]) -> Iterator[dict[str, Any]]:
    for i, document in enumerate(documents):
        if not isinstance(document, dict):
            raise BadInput(f"{path}: document {i + 1} is not an object")
        if str(document.get("kind", "")).endswith("List") and "items" in document:
            items = document["items"] or []
            if not isinstance(items, list):
                raise BadInput(f"{path}: document {i + 1}: items must be a list")
            yield from _flatten(path, items)
        else:
            yield document


@dataclass(slots=True)
class Snapshot:
    """What a cluster holds, from files or from lists: `others` pairs each object with its origin.

    `others` may be a generator, so a big cluster's Pods stream through once, never all in memory.
    """

    namespaces: list[NamespaceInfo] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    service_accounts: list[ServiceAccountInfo] = field(default_factory=list)
    others: Iterable[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def fill(self, index: Index) -> None:
        """Load an index that no watch feeds (made with `fixed=True`)."""
        index.replace_namespaces(self.namespaces)
        for credential in self.credentials:
            index.put_credential(credential)
        index.replace_service_accounts(self.service_accounts)


def load_snapshot(paths: list[str]) -> Snapshot:
    """Namespaces, registry credentials and ServiceAccounts from files, and every other object
    with its file."""
    snapshot = Snapshot()
    others: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        for obj in read_documents(path):
            kind = obj.get("kind")
            name = _name(path, obj)
            if kind == "Namespace":
                snapshot.namespaces.append(namespace_from_object(obj))
            elif kind == "ServiceAccount":
                obj["metadata"].setdefault("namespace", "default")
                snapshot.service_accounts.append(service_account_from_object(obj))
            elif kind == "Secret":
                obj.setdefault("metadata", {}).setdefault("namespace", "default")
                try:
                    credential = credential_from_secret(obj)
                except BadDockerConfig as error:
                    raise BadInput(f"{path}: Secret {name}: {error}") from None
                if credential is not None:
                    snapshot.credentials.append(credential)
            else:
                others.append((path, obj))
    snapshot.others = others
    return snapshot


def _name(path: str, obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
        raise BadInput(f"{path}: a {obj.get('kind', 'object')} without metadata.name")
    name: str = metadata["name"]
    return name
