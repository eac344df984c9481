"""Code of trove-backup-ext that runs inside OpenStack Swift's proxy server.

It imports nothing of trove_backup_ext (nor of oslo), so a deployer installs
the distribution into Swift's environment with ``pip install --no-deps``.
"""
