"""The policy enforcer and the one helper handlers call."""

from oslo_policy import policy

from trove_backup_ext import conf as backup_conf
from trove_backup_ext import exception
from trove_backup_ext import policies

_ENFORCER = None


def init(conf=None):
    """Create the enforcer on the plugin's own config, once."""
    global _ENFORCER
    if _ENFORCER is None:
        _ENFORCER = policy.Enforcer(conf or backup_conf.CONF)
        _ENFORCER.register_defaults(policies.list_rules())
    return _ENFORCER


def reset():
    global _ENFORCER
    if _ENFORCER is not None:
        _ENFORCER.clear()
    _ENFORCER = None


def get_enforcer():
    """Entry point for oslo.policy's command line tools."""
    backup_conf.CONF([], project='trove-backup-ext')
    return init()


def project_target(project_id):
    # Trove's rules say %(tenant)s; newer ones say %(project_id)s.
    return {'tenant': project_id, 'project_id': project_id}


def authorize(context, action, target):
    """Raise PolicyNotAuthorized unless context may do action on target."""
    init().authorize(action, target, context.to_policy_values(),
                     do_raise=True, exc=exception.PolicyNotAuthorized,
                     action=action)


def check_is_admin(context):
    return init().authorize('context_is_admin', {},
                            context.to_policy_values())
