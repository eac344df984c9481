"""API tests: the backups resource over HTTP, with real credentials."""
