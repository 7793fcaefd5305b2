"""What the service and the reference analysis server both need, and nothing else (docs/architecture.md).

The analysis protocol's schemas, Standard Webhooks signing, Retry-After parsing and the settings
mechanism. Imports neither side; pyproject.toml's import contracts keep it so.
"""
