"""The cluster-wide key set and the caps on registry keys (pure): the counted set answers as a
keyring rebuilt from every key would, and the caps bound what one Secret or all of them add."""

from hypothesis import given
from hypothesis import strategies as st

from app.core.credentials.keyset import KeyCaps, KeySet, admit
from app.core.images.keyring import Keyring, parse_key
from app.core.images.reference import parse_image
from tests.unit.test_keyring_buckets import IMAGES, KEYS


def rebuilt(secrets: list[list[str]], image: str) -> bool:
    """What the index did before: a keyring of every key, rebuilt, asked for any match."""
    keys = [k for raw in secrets for k in map(parse_key, raw) if k is not None]
    name = parse_image(image)
    assert name is not None
    return bool(Keyring(keys).lookup(name))


@given(secrets=st.lists(KEYS, max_size=5), removed=st.data(), image=st.sampled_from(IMAGES))
def test_the_counted_set_answers_as_a_rebuilt_keyring(
    secrets: list[list[str]], removed: st.DataObject, image: str
) -> None:
    keys = KeySet()
    for raw in secrets:
        keys.add(raw)
    gone = removed.draw(
        st.sets(st.sampled_from(range(len(secrets)))) if secrets else st.just(set())
    )
    for position in gone:
        keys.remove(secrets[position])
    left = [raw for position, raw in enumerate(secrets) if position not in gone]
    name = parse_image(image)
    assert name is not None
    assert keys.serves(name) == rebuilt(left, image)
    assert set(keys) == {key for raw in left for key in raw}


def test_a_key_held_by_two_secrets_stays_until_both_are_gone() -> None:
    keys = KeySet()
    keys.add(["quay.io", "index.docker.io"])
    keys.add(["quay.io"])
    name = parse_image("quay.io/team/app")
    hub = parse_image("nginx")
    assert name is not None
    assert hub is not None
    assert keys.serves(hub)
    keys.remove(["quay.io", "index.docker.io"])
    assert keys.serves(name)
    assert not keys.serves(hub)
    assert len(keys) == 1
    keys.remove(["quay.io"])
    assert not keys.serves(name)
    assert len(keys) == 0
    keys.remove(["quay.io"])  # a second removal changes nothing
    assert len(keys) == 0


def test_a_secret_keeps_at_most_per_secret_keys_of_at_most_length_characters() -> None:
    caps = KeyCaps(per_secret=3, total=100, length=10)
    keys = ["a.io", "b" * 11, "c.io", "d.io", "e.io"]
    assert admit(keys, caps, set()) == ("a.io", "c.io", "d.io")
    assert admit(["x" * 10], caps, set()) == ("x" * 10,)


def test_past_the_total_only_keys_already_indexed_are_kept() -> None:
    caps = KeyCaps(per_secret=10, total=3, length=100)
    present = {"a.io", "b.io"}
    assert admit(["c.io", "d.io", "a.io"], caps, present) == ("c.io", "a.io")
    full = {"a.io", "b.io", "c.io"}
    assert admit(["a.io", "z.io", "b.io"], caps, full) == ("a.io", "b.io")
