"""Reliability suite: crashes, concurrency, hostile input, Event Hubs faults and secrets
(`pytest -m reliability`; see RELIABILITY.md)."""
