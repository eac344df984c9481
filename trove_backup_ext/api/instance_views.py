"""How an instance is shown: Trove's instance, as far as a source knows.

python-troveclient reads flavor['id'] and datastore['type'|'version'] of
every instance it prints; a source knows no flavor, so its id is null.
"""

from trove_backup_ext.api import views


def instance_view(instance, request):
    href = '%s/v1.0/%s/instances/%s' % (request.host_url,
                                        instance.project_id, instance.id)
    return {
        'id': instance.id,
        'name': instance.name,
        'status': instance.shown_status or instance.status,
        'datastore': {
            'type': instance.datastore,
            'version': instance.datastore_version,
            'version_id': instance.datastore_version_id,
        },
        'flavor': {'id': None, 'links': []},
        'created': views.api_time(instance.created),
        # Trove's name for the project, as in its administrators' view.
        'tenant_id': instance.project_id,
        'links': [{'rel': 'self', 'href': href},
                  {'rel': 'bookmark', 'href': href}],
    }
