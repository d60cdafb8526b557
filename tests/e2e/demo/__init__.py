"""`make demo` itself, run before the node suite starts its own node (one node per machine)."""
