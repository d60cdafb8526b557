"""The cluster side: the API client, watches feeding the index, replication, leader election
and self-managed certificates.
"""
