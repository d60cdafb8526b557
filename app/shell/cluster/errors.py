"""Errors of the cluster side, importable without loading the Kubernetes client."""


class ClusterConfigError(Exception):
    """No usable kubeconfig or in-cluster account: the command line reports it as a usage error."""
