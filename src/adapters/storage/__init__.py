"""Object storage adapters: S3 and the local filesystem."""
