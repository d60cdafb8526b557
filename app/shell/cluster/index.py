"""The in-memory index of Namespaces, registry credentials and ServiceAccounts, and the match
tables built on it.

Watch threads write; the event loop reads. Writers take a lock and drop the derived tables they
change (one namespace's, or all when the credentials namespace changes); readers find a ready
table without locking on the hot path. Only namespaces that exist get a table, so reviews naming
unknown namespaces leave nothing behind. Registry keys outside the credentials namespace are
capped (`keyset.KeyCaps`), and every key in the cluster is kept in a counted set updated one
Secret at a time, so no event costs more than the keys of the Secret it is about.
"""

import dataclasses
import threading
from collections.abc import Iterable

from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.keyset import KeyCaps, KeySet, admit
from app.core.credentials.match import MatchTable
from app.core.credentials.scope import Resolution, ScopeSettings, resolve, source_scope
from app.core.credentials.serviceaccount import ServiceAccountInfo, ordinary
from app.core.images.reference import ImageName

# A registry credential and how many of its keys the caps left out.
Capped = tuple[Credential, int]


_MISSING = MatchTable([])


def _left_out(read: Credential, kept: Credential) -> int:
    return read.left_out + len(read.keys) - len(kept.keys)


DEFAULT_CAPS = KeyCaps()


class Index:
    """`fixed`: fed once from files, not by watches, so a ServiceAccount it lacks is an ordinary
    one; a watched index instead answers None for one it has not seen yet."""

    def __init__(
        self, settings: ScopeSettings, *, fixed: bool = False, caps: KeyCaps = DEFAULT_CAPS
    ) -> None:
        self.settings = settings
        self.fixed = fixed
        self.caps = caps
        self._keys = KeySet()
        self._accounts: dict[tuple[str, str], ServiceAccountInfo] = {}
        self._lock = threading.Lock()
        self._namespaces: dict[str, NamespaceInfo] = {}
        self._secrets: dict[str, dict[str, Credential]] = {}
        self._held: dict[str, dict[str, set[str]]] = {}
        self._tables: dict[str, MatchTable | None] = {}
        self._listeners: list[threading.Event] = []

    # --- writes (watch threads) ---

    def put_namespace(self, namespace: NamespaceInfo) -> None:
        with self._lock:
            self._namespaces[namespace.name] = namespace
            self._changed(namespace.name)

    def delete_namespace(self, name: str) -> None:
        with self._lock:
            self._namespaces.pop(name, None)
            self._changed(name)

    def put_credential(self, credential: Credential) -> int:
        """How many of its registry keys the caps left out, on reading it or here."""
        with self._lock:
            secrets = self._secrets.setdefault(credential.namespace, {})
            old = secrets.get(credential.name)
            if old is not None:
                self._keys.remove(old.keys)
            kept = secrets[credential.name] = self._admit(credential)
            self._changed(credential.namespace)
        return _left_out(credential, kept)

    def delete_credential(self, namespace: str, name: str) -> None:
        with self._lock:
            secrets = self._secrets.get(namespace, {})
            old = secrets.pop(name, None)
            if old is not None:
                self._keys.remove(old.keys)
                if not secrets:
                    del self._secrets[namespace]
                self._changed(namespace)

    def replace_namespaces(self, namespaces: Iterable[NamespaceInfo]) -> None:
        """A full list replaces what a lost watch may have missed, deletions included."""
        fresh = {n.name: n for n in namespaces}
        with self._lock:
            self._namespaces = fresh
            self._changed()

    def replace_credentials(
        self, secret_type: str, credentials: Iterable[Credential]
    ) -> list[Capped]:
        """The credentials of one type, all at once; those the caps cut short, with how many
        keys each lost."""
        capped = []
        with self._lock:
            fresh: dict[str, dict[str, Credential]] = {}
            for namespace, secrets in self._secrets.items():
                for name, c in secrets.items():
                    if c.type == secret_type:
                        self._keys.remove(c.keys)
                    else:
                        fresh.setdefault(namespace, {})[name] = c
            for c in credentials:
                kept = fresh.setdefault(c.namespace, {})[c.name] = self._admit(c)
                if _left_out(c, kept):
                    capped.append((c, _left_out(c, kept)))
            self._secrets = fresh
            self._changed()
        return capped

    def hold(self, group: str, namespace: str, name: str, held: bool) -> None:
        """Record whether a Secret that pullpass does not manage holds this name.

        Each watcher reports the Secret types it sees as its own `group`; a Secret's type never
        changes, so the groups never overlap.
        """
        with self._lock:
            by_namespace = self._held.setdefault(group, {})
            names = by_namespace.get(namespace, set())
            if held == (name in names):
                return
            if held:
                by_namespace.setdefault(namespace, names).add(name)
            elif len(names) > 1:
                names.discard(name)
            else:
                del by_namespace[namespace]
            self._changed(namespace)

    def replace_held(self, group: str, names: Iterable[tuple[str, str]]) -> None:
        fresh: dict[str, set[str]] = {}
        for namespace, name in names:
            fresh.setdefault(namespace, set()).add(name)
        with self._lock:
            self._held[group] = fresh
            self._changed()

    def put_service_account(self, account: ServiceAccountInfo) -> None:
        # ServiceAccounts change no match table: no table is dropped, no listener woken.
        with self._lock:
            self._accounts[account.namespace, account.name] = account

    def delete_service_account(self, namespace: str, name: str) -> None:
        with self._lock:
            self._accounts.pop((namespace, name), None)

    def replace_service_accounts(self, accounts: Iterable[ServiceAccountInfo]) -> None:
        fresh = {(a.namespace, a.name): a for a in accounts}
        with self._lock:
            self._accounts = fresh

    def subscribe(self) -> threading.Event:
        """An event set on every change, for the replicator to wake up on."""
        event = threading.Event()
        with self._lock:
            self._listeners.append(event)
        return event

    def _admit(self, credential: Credential) -> Credential:
        """The credential with only the keys the caps let in, now counted in the key set."""
        keys = credential.keys
        if credential.namespace != self.settings.credentials_namespace:
            keys = admit(keys, self.caps, self._keys)
        self._keys.add(keys)
        if len(keys) == len(credential.keys):
            return credential
        return dataclasses.replace(credential, keys=keys)

    def _changed(self, namespace: str | None = None) -> None:
        """Drop the tables a change in `namespace` can alter: all of them for the credentials
        namespace, whose sources serve every namespace, or when `namespace` is None."""
        if namespace is None or namespace == self.settings.credentials_namespace:
            self._tables = {}
        else:
            self._tables.pop(namespace, None)
        for event in self._listeners:
            event.set()

    # --- reads ---

    def table(self, namespace: str) -> MatchTable | None:
        """None when the namespace is not enabled; kept only for namespaces that exist."""
        table = self._tables.get(namespace, _MISSING)
        if table is not _MISSING:
            return table
        with self._lock:
            info = self._namespaces.get(namespace)
            if info is None:
                return None
            table = MatchTable(self._resolve(info).credentials) if info.enabled else None
            self._tables[namespace] = table
            return table

    def serves_anywhere(self, image: ImageName) -> bool:
        with self._lock:
            return self._keys.serves(image)

    def service_account(self, namespace: str, name: str) -> ServiceAccountInfo | None:
        account = self._accounts.get((namespace, name))
        if account is None and self.fixed:
            return ordinary(namespace, name)
        return account

    def resolution(self, namespace: NamespaceInfo) -> Resolution:
        with self._lock:
            return self._resolve(namespace)

    def namespace(self, name: str) -> NamespaceInfo | None:
        return self._namespaces.get(name)

    def namespaces(self) -> list[NamespaceInfo]:
        with self._lock:
            return list(self._namespaces.values())

    def credentials(self) -> list[Credential]:
        with self._lock:
            return [c for secrets in self._secrets.values() for c in secrets.values()]

    def sizes(self) -> tuple[int, int, int]:
        """Namespaces, registry credentials, and distinct registry keys."""
        with self._lock:
            credentials = sum(len(s) for s in self._secrets.values())
            return len(self._namespaces), credentials, len(self._keys)

    def _resolve(self, namespace: NamespaceInfo) -> Resolution:
        own = self._secrets.get(namespace.name, {}).values()
        home = self._secrets.get(self.settings.credentials_namespace, {}).values()
        sources = [c for c in home if source_scope(c, self.settings) is not None]
        held = set().union(*(group.get(namespace.name, ()) for group in self._held.values()))
        return resolve(namespace, own, sources, self.settings, held)
