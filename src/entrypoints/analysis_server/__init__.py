"""The reference analysis server: a process of its own speaking docs/analysis-protocol.md."""
