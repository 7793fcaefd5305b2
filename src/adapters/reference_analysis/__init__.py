"""Adapters of the reference analysis server: HTTP downloads, PyAV decoding, a process pool, webhooks."""
