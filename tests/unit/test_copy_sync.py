"""Is a copy in sync with its source? Type, data, managed label and annotations, by digest."""

import dataclasses

from app.core.credentials.copies import Written, actual, copy_metadata, in_sync, wanted
from app.core.credentials.credential import Credential, credential_from_secret
from app.core.credentials.digest import secret_data

CONFIG = "eyJhdXRocyI6IHt9fQ=="  # base64 of {"auths": {}}
OTHER_CONFIG = "eyJhdXRocyI6e319"  # base64 of {"auths":{}}: same meaning, other bytes


def secret(namespace: str, data: str, version: str, **meta: dict[str, str]) -> Credential:
    found = credential_from_secret(
        {
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"namespace": namespace, "name": "reg", "resourceVersion": version, **meta},
            "data": {".dockerconfigjson": data},
        }
    )
    assert found is not None
    return found


SOURCE = secret("home", CONFIG, "7", labels={"pullpass.io/project": "p"})


def copy_of(source: Credential, data: str = CONFIG, version: str = "40") -> Credential:
    copy_labels, annotations = copy_metadata(source.ref, source.version)
    return secret("a", data, version, labels=copy_labels, annotations=annotations)


def test_a_copy_equal_to_its_source_is_in_sync() -> None:
    assert in_sync(SOURCE, copy_of(SOURCE), None)


def test_other_labels_and_annotations_do_not_matter() -> None:
    copy = copy_of(SOURCE)
    noisy = dataclasses.replace(
        copy,
        labels={**copy.labels, "team": "x"},
        annotations={**copy.annotations, "pullpass.io/note": "hi"},
    )
    assert in_sync(SOURCE, noisy, None)


def test_different_data_type_label_or_annotation_is_out_of_sync() -> None:
    copy = copy_of(SOURCE)
    assert not in_sync(SOURCE, copy_of(SOURCE, OTHER_CONFIG), None)
    assert not in_sync(SOURCE, None, None)
    legacy = dataclasses.replace(copy, digest=secret_data("kubernetes.io/dockercfg", {}))
    assert not in_sync(SOURCE, legacy, None)
    unlabelled = dataclasses.replace(copy, labels={})
    assert not in_sync(SOURCE, unlabelled, None)
    for name in ("pullpass.io/source", "pullpass.io/source-version"):
        edited = dataclasses.replace(copy, annotations={**copy.annotations, name: "other"})
        assert not in_sync(SOURCE, edited, None), name
        missing = {k: v for k, v in copy.annotations.items() if k != name}
        assert not in_sync(SOURCE, dataclasses.replace(copy, annotations=missing), None), name


def test_a_rotated_source_puts_its_copies_out_of_sync() -> None:
    copy = copy_of(SOURCE)
    rotated = secret("home", OTHER_CONFIG, "8", labels={"pullpass.io/project": "p"})
    assert not in_sync(rotated, copy, None)
    # metadata only (a new resourceVersion, same data): the source-version annotation is stale
    touched = dataclasses.replace(SOURCE, version="9")
    assert not in_sync(touched, copy, None)


def test_a_copy_just_written_counts_while_the_index_shows_the_version_it_replaced() -> None:
    stale = copy_of(SOURCE, OTHER_CONFIG, version="40")
    written = Written("40", wanted(SOURCE))
    assert in_sync(SOURCE, stale, written)
    assert in_sync(SOURCE, None, Written("", wanted(SOURCE)))
    # edited by hand since: another version, so the digest decides again
    assert not in_sync(SOURCE, dataclasses.replace(stale, version="41"), written)
    # the source changed again after the write
    assert not in_sync(dataclasses.replace(SOURCE, version="8"), stale, written)


def test_digests_hold_no_data_and_differ_per_content() -> None:
    assert CONFIG.encode() not in SOURCE.digest
    assert len(SOURCE.digest) == 16
    assert actual(copy_of(SOURCE)) == wanted(SOURCE)
    assert SOURCE.digest != copy_of(SOURCE, OTHER_CONFIG).digest
