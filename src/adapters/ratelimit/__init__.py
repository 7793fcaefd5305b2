"""Rate limiting shared by every instance of the service."""
