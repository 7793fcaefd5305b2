"""Shared caches (Redis)."""
