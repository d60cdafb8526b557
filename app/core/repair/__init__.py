"""Repair: which pods stuck after an outage to evict, and how fast (pure)."""
