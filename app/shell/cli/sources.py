"""Where `explain` and `audit` get the cluster from: `--objects` files or the live cluster.

Both build the same index the webhook serves from, so their answers are the webhook's. The
Kubernetes client is imported only to read a cluster: over `--objects` files it would be a fifth
of a second of each run (tests/unit/test_command_imports.py checks that it stays out).
"""

import argparse
import contextlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from app.core import labels
from app.core.credentials.credential import NamespaceInfo
from app.shell.cli.settings import scope_settings
from app.shell.cli.usage import UsageError
from app.shell.cluster.index import Index
from app.shell.cluster.objects import BadInput, Snapshot, load_snapshot

if TYPE_CHECKING:
    from kubernetes import client


def load(args: argparse.Namespace, command: str) -> Snapshot:
    """The `--objects` files, else the cluster's Namespaces, credentials and ServiceAccounts."""
    if args.objects:
        try:
            return load_snapshot(args.objects)
        except BadInput as error:
            raise UsageError(f"pullpass {command}: {error}") from None
    from app.shell.cluster.listing import read_scope

    with reading_cluster(command):
        return read_scope(cluster(args))


def cluster(args: argparse.Namespace) -> "client.ApiClient":
    from app.shell.cluster.client import api_client

    return api_client(args.kubeconfig, getattr(args, "context", None))


@contextlib.contextmanager
def reading_cluster(command: str) -> Iterator[None]:
    """A cluster that cannot be read is a one-line error, whenever a lazy list fails."""
    try:
        yield
    except Exception as error:
        if not isinstance(error, _cluster_errors()):
            raise
        reason = getattr(error, "reason", None) or type(error).__name__
        raise UsageError(f"pullpass {command}: cannot read the cluster: {reason}") from None


def _cluster_errors() -> tuple[type[Exception], ...]:
    """What a failed cluster read raises; imported once something has failed, not before."""
    import urllib3
    from kubernetes import client

    return (client.ApiException, OSError, urllib3.exceptions.HTTPError)


def build_index(args: argparse.Namespace, snapshot: Snapshot, enable: Iterable[str]) -> Index:
    """The webhook's index over the snapshot, with the namespaces in `enable` counted as enabled.

    Only the enabled label changes: a namespace keeps its project, so it is judged as it would
    be once labelled.
    """
    # A preview: a ServiceAccount that is not there yet counts as an ordinary one.
    index = Index(scope_settings(args), fixed=True)
    snapshot.fill(index)
    known = {n.name: n for n in snapshot.namespaces}
    for name in enable:
        old = known.get(name)
        new_labels = {**(old.labels if old else {}), labels.INJECT: labels.ENABLED}
        index.put_namespace(NamespaceInfo(name, new_labels, old.annotations if old else {}))
    return index
