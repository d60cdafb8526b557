"""The in-memory index of Namespaces, registry credentials and ServiceAccounts, and the match
tables built on it.

Watch threads write; the event loop reads. Writers take a lock and drop the derived tables;
readers find a ready table without locking on the hot path.
"""

import threading
from collections.abc import Iterable

from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.match import MatchTable
from app.core.credentials.scope import Resolution, Scoped, ScopeSettings, resolve, source_scope
from app.core.credentials.serviceaccount import ServiceAccountInfo, ordinary


class Index:
    """`fixed`: fed once from files, not by watches, so a ServiceAccount it lacks is an ordinary
    one; a watched index instead answers None for one it has not seen yet."""

    def __init__(self, settings: ScopeSettings, *, fixed: bool = False) -> None:
        self.settings = settings
        self.fixed = fixed
        self._accounts: dict[tuple[str, str], ServiceAccountInfo] = {}
        self._lock = threading.Lock()
        self._namespaces: dict[str, NamespaceInfo] = {}
        self._secrets: dict[str, dict[str, Credential]] = {}
        self._held: dict[str, dict[str, set[str]]] = {}
        self._tables: dict[str, MatchTable | None] = {}
        self._anywhere: MatchTable | None = None
        self._listeners: list[threading.Event] = []

    # --- writes (watch threads) ---

    def put_namespace(self, namespace: NamespaceInfo) -> None:
        with self._lock:
            self._namespaces[namespace.name] = namespace
            self._changed()

    def delete_namespace(self, name: str) -> None:
        with self._lock:
            self._namespaces.pop(name, None)
            self._changed()

    def put_credential(self, credential: Credential) -> None:
        with self._lock:
            self._secrets.setdefault(credential.namespace, {})[credential.name] = credential
            self._changed()

    def delete_credential(self, namespace: str, name: str) -> None:
        with self._lock:
            secrets = self._secrets.get(namespace, {})
            if secrets.pop(name, None) is not None:
                if not secrets:
                    del self._secrets[namespace]
                self._changed()

    def replace_namespaces(self, namespaces: Iterable[NamespaceInfo]) -> None:
        """A full list replaces what a lost watch may have missed, deletions included."""
        fresh = {n.name: n for n in namespaces}
        with self._lock:
            self._namespaces = fresh
            self._changed()

    def replace_credentials(self, secret_type: str, credentials: Iterable[Credential]) -> None:
        fresh: dict[str, dict[str, Credential]] = {}
        for c in credentials:
            fresh.setdefault(c.namespace, {})[c.name] = c
        with self._lock:
            for namespace, secrets in self._secrets.items():
                for name, c in secrets.items():
                    if c.type != secret_type:
                        fresh.setdefault(namespace, {}).setdefault(name, c)
            self._secrets = fresh
            self._changed()

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
            self._changed()

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

    def _changed(self) -> None:
        self._tables = {}
        self._anywhere = None
        for event in self._listeners:
            event.set()

    # --- reads ---

    def table(self, namespace: str) -> MatchTable | None:
        tables = self._tables
        if namespace in tables:
            return tables[namespace]
        with self._lock:
            info = self._namespaces.get(namespace)
            table = None
            if info is not None and info.enabled:
                table = MatchTable(self._resolve(info).credentials)
            self._tables[namespace] = table
            return table

    def anywhere(self) -> MatchTable:
        table = self._anywhere
        if table is None:
            with self._lock:
                every = [
                    Scoped(c.name, "anywhere", c)
                    for secrets in self._secrets.values()
                    for c in secrets.values()
                ]
                table = self._anywhere = MatchTable(every)
        return table

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

    def sizes(self) -> tuple[int, int]:
        with self._lock:
            return len(self._namespaces), sum(len(s) for s in self._secrets.values())

    def _resolve(self, namespace: NamespaceInfo) -> Resolution:
        own = self._secrets.get(namespace.name, {}).values()
        home = self._secrets.get(self.settings.credentials_namespace, {}).values()
        sources = [c for c in home if source_scope(c, self.settings) is not None]
        held = set().union(*(group.get(namespace.name, ()) for group in self._held.values()))
        return resolve(namespace, own, sources, self.settings, held)
