"""Registers option groups so that no two ConfigOpts share option state.

oslo.config keeps a group's options (with their overrides and defaults) in
the OptGroup object, and register_group() copies that object shallowly:
two ConfigOpts given the same module-level OptGroup share one table, and an
override set on one shows on the other. Tests make many ConfigOpts in one
process (and a host may keep its own beside ours), so each registration
gets a group object of its own.
"""

from oslo_config import cfg


def register(conf, group, opts):
    """Register group (a template OptGroup) and its opts on conf."""
    conf.register_group(cfg.OptGroup(group.name, title=group.title,
                                     help=group.help))
    conf.register_opts(opts, group=group.name)
