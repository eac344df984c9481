"""Python client of the plugin's own resources (restores, verification)."""
