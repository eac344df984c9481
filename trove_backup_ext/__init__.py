"""trove-backup-ext: the database-backup service of a Trove-like DBaaS."""

import warnings

from oslo_service import backend as _service_backend

# eventlet is installed as a dependency of oslo.service, and futurist
# imports it when present, which prints a deprecation banner on every
# command; this project never runs on eventlet.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')

# We run on threads, never eventlet. oslo.messaging imports oslo.service,
# whose backend defaults to eventlet; this hook only sets the default, so a
# host process (a Trove API) that already chose its backend keeps it.
_service_backend.register_backend_default_hook(
    lambda: _service_backend.BackendType.THREADING)
