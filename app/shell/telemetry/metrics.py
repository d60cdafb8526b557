"""Prometheus metrics: what an admin graphs and alerts on."""

from prometheus_client import Counter, Gauge, Histogram

ADMISSIONS = Counter(
    "pullpass_admissions_total",
    "Admission reviews answered, by outcome (patched, unchanged, skipped, rejected, error; "
    "too_large: a pod past the container or image-length limit, admitted unchanged; late: a "
    "patch decided after the webhook's timeout, so the API server admitted the pod without it).",
    ["outcome"],
)
ADMISSION_SECONDS = Histogram(
    "pullpass_admission_duration_seconds",
    "Time spent deciding one admission review, body read to response encoded.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
INDEX_NAMESPACES = Gauge("pullpass_index_namespaces", "Namespaces in the index.")
INDEX_CREDENTIALS = Gauge("pullpass_index_credentials", "Registry credentials in the index.")
INDEX_KEYS = Gauge(
    "pullpass_index_registry_keys", "Distinct registry keys in the index, all namespaces."
)
KEYS_CAPPED = Counter(
    "pullpass_credential_keys_capped_total",
    "Registry keys left out of the index by the caps (--max-keys-per-secret, --max-keys-total, "
    "the key length), counted once per Secret version.",
)
WATCH_RESTARTS = Counter(
    "pullpass_watch_restarts_total", "Watches started again after they ended.", ["resource"]
)
RELISTS = Counter(
    "pullpass_relists_total", "Full lists after a lost watch or 410 Gone.", ["resource"]
)
WATCH_IN_SYNC = Gauge(
    "pullpass_watch_in_sync",
    "1 while the watch is current; 0 before its first list and while it is lost (the last good "
    "index is served meanwhile).",
    ["resource"],
)
WATCH_LAST_SYNC = Gauge(
    "pullpass_watch_last_sync_timestamp_seconds",
    "When the watch last saw the API server: a list, a watch (re)started, or an event.",
    ["resource"],
)
CERT_RELOADS = Counter(
    "pullpass_certificate_reloads_total", "Serving certificate reloads, by result.", ["result"]
)
LEADER = Gauge("pullpass_leader", "1 while this replica holds the replication Lease.")
COPIES = Gauge("pullpass_copies", "Project and cluster credential copies, by state.", ["state"])
CONFLICTS = Counter(
    "pullpass_copy_conflicts_total",
    "Copies not written because a Secret pullpass does not manage holds the name.",
)
REPLICATION_SECONDS = Histogram(
    "pullpass_replication_duration_seconds",
    "Time from a change seen in the index to every copy written.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PARAMETER_WRITES = Counter(
    "pullpass_parameter_writes_total",
    "Policy mode: writes of parameter objects, by action (created, updated, deleted, failed, "
    "refused: the namespace is gone or being deleted).",
    ["action"],
)
REPLICATION_ERRORS = Counter(
    "pullpass_replication_errors_total", "Failed writes of copies, by action.", ["action"]
)
READY = Gauge("pullpass_ready", "1 while /readyz answers 200 (the first full list is in).")
CERT_EXPIRY = Gauge(
    "pullpass_certificate_expiry_timestamp_seconds",
    "When the serving certificate in use expires (Unix time), for alerting before it does.",
)
REPAIR_EVICTIONS = Counter(
    "pullpass_repair_evictions_total",
    "Repair's evictions of pods stuck pulling without a credential pullpass now adds, by outcome "
    "(evicted; blocked by a PodDisruptionBudget, retried later; gone before eviction; error).",
    ["outcome"],
)
CREDENTIAL_ANSWERS = Counter(
    "pullpass_credential_answers_total",
    "Secretless mode: answers to the kubelet's credential provider, by outcome (granted, none: "
    "no credential in scope matches or the pod opted out, refused, bad, error) and reason.",
    ["outcome", "reason"],
)
CREDENTIAL_SECONDS = Histogram(
    "pullpass_credential_duration_seconds",
    "Secretless mode: time to answer one credential request, TokenReview and Secret reads "
    "included.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CONNECTIONS_CLOSED = Counter(
    "pullpass_connections_closed_total",
    "Connections pullpass closed to protect its ports, by reason (idle_evicted: the longest idle "
    "one, at the connection limit; read_deadline: a request unfinished in time; "
    "handshake_evicted: the oldest of too many TLS handshakes; handshake_failed: failed or timed "
    "out).",
    ["reason"],
)
LOG_LINES_SUPPRESSED = Counter(
    "pullpass_log_lines_suppressed_total",
    "Log lines dropped by the rate limit on loggers that bad input can flood, by logger.",
    ["logger"],
)
PODS_MISSING_CREDENTIALS = Counter(
    "pullpass_pods_missing_credentials_total",
    "New pods in enabled namespaces admitted without credentials pullpass would have added "
    "(the webhook failed open, was bypassed, or its index was behind); each has an Event.",
)
