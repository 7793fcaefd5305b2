"""The reference analysis server's use cases: accept analysis orders, analyse them, report by webhook."""
