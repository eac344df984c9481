"""How a backup strategy is shown to API callers: Trove's four fields."""


def backup_strategy_view(strategy):
    return {
        'project_id': strategy.project_id,
        # '' for the project-wide strategy, as Trove shows it.
        'instance_id': strategy.instance_id,
        'backend': strategy.backend,
        'swift_container': strategy.swift_container,
    }
