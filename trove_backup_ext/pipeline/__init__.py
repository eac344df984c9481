"""The streaming pipeline between datastore drivers and storage drivers."""
