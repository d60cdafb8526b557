"""What pullpass would change in a cluster: pods and workloads judged by the admission decision."""
