"""oslo.messaging's options, registered on the plugin's own ConfigOpts."""

import importlib

from oslo_messaging import opts as messaging_opts


def register_opts(conf):
    # transport_url and the drivers' groups, so a config file or a test
    # can set them before the first transport is made.
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(opts, group=group)
    # The RPC client reads [oslo_messaging_metrics] and
    # [oslo_messaging_tracing] from the conf it is given, but oslo.messaging
    # registers them on the global cfg.CONF only.
    for module, group in (('oslo_messaging._metrics.client',
                           'oslo_messaging_metrics'),
                          ('oslo_messaging._tracing.client',
                           'oslo_messaging_tracing')):
        try:
            opts = getattr(importlib.import_module(module), group)
        except (ImportError, AttributeError):
            continue    # Not in this oslo.messaging release.
        conf.register_opts(opts, group=group)
