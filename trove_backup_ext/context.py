"""The request context: who calls, in which project, with which roles."""

from oslo_context import context
from oslo_db.sqlalchemy import enginefacade


@enginefacade.transaction_context_provider
class RequestContext(context.RequestContext):
    """oslo.context's context, able to carry an oslo.db transaction."""

    def to_policy_values(self):
        values = super().to_policy_values()
        # Trove's rules test is_admin:True; oslo.context leaves it out.
        values['is_admin'] = self.is_admin
        return values


def get_admin_context():
    """A context for the service's own work (manage commands, tests)."""
    return RequestContext(is_admin=True, roles=['admin'],
                          overwrite=False)
