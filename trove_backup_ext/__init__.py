"""trove-backup-ext: the database-backup service of a Trove-like DBaaS."""

from oslo_service import backend as _service_backend

# We run on threads, never eventlet. oslo.messaging imports oslo.service,
# whose backend defaults to eventlet; this hook only sets the default, so a
# host process (a Trove API) that already chose its backend keeps it.
_service_backend.register_backend_default_hook(
    lambda: _service_backend.BackendType.THREADING)
