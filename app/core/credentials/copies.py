"""Is a copy in sync with its source? Decided from keyed digests, never from the data itself.

A copy is what the replicator writes: the source's type and data, pullpass's managed-by label,
and the source and source-version annotations. Its digest covers exactly those, so a restarted
replica or a new leader can tell, from the index alone, which copies already equal their source
and must not be written again, and a copy edited by hand still differs from what is wanted.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from app.core import labels
from app.core.credentials.credential import Credential
from app.core.credentials.digest import keyed

MANAGED_ANNOTATIONS = (labels.SOURCE, labels.SOURCE_VERSION)


@dataclass(frozen=True, slots=True)
class Written:
    """A copy this replica wrote whose watch event has not reached the index yet.

    `over` is the resourceVersion the index showed when it was written ("" for a create): while
    the index still shows that version, the copy counts as in sync with `digest`.
    """

    over: str
    digest: bytes


def copy_metadata(source_ref: str, source_version: str) -> tuple[dict[str, str], dict[str, str]]:
    """The labels and annotations a copy of that source version carries."""
    return (
        {labels.MANAGED_BY: labels.PULLPASS},
        {labels.SOURCE: source_ref, labels.SOURCE_VERSION: source_version},
    )


def copy_digest(
    data: bytes, secret_labels: Mapping[str, str], annotations: Mapping[str, str]
) -> bytes:
    """`data` (a `digest.secret_data`) with the managed label and annotations; other metadata is not
    pullpass's and never makes a copy out of sync."""
    managed = [
        secret_labels.get(labels.MANAGED_BY, "\0"),
        *(annotations.get(name, "\0") for name in MANAGED_ANNOTATIONS),
    ]
    return keyed(data, *(value.encode("utf-8", "surrogatepass") for value in managed))


def wanted(source: Credential) -> bytes:
    """The digest a copy of `source`, as it stands in the index, must have."""
    return copy_digest(source.digest, *copy_metadata(source.ref, source.version))


def actual(copy: Credential) -> bytes:
    return copy_digest(copy.digest, copy.labels, copy.annotations)


def in_sync(source: Credential, copy: Credential | None, written: Written | None) -> bool:
    """True when no write is needed: the copy equals its source, or this replica has just
    written what is wanted over the very version the index still shows."""
    want = wanted(source)
    if copy is not None and actual(copy) == want:
        return True
    shown = "" if copy is None else copy.version
    return written is not None and written == Written(shown, want)
