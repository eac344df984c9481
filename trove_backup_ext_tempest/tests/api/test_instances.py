"""The instances the service reads: list, show, and who sees which."""

from urllib import parse

from tempest import config
from tempest.lib import decorators
from tempest.lib import exceptions as lib_exc

from trove_backup_ext_tempest.tests.api import base

CONF = config.CONF


class InstancesTest(base.BaseBackupsTest):
    """A member lists and shows its project's instances; another
    project's instance is not found, all_projects is refused."""

    def list_all(self, client, **params):
        """Every instance of every page, following the next links."""
        found, params = [], dict(params, limit=1)
        while True:
            body = client.list_instances(**params)
            found.extend(body['instances'])
            if 'links' not in body:
                return found
            query = parse.urlparse(body['links'][0]['href']).query
            params = dict(parse.parse_qsl(query))

    @decorators.idempotent_id('4d6f8a0c-2e4b-4d6f-8a0c-2e4b6d8f0a1c')
    def test_list_and_show_the_configured_instance(self):
        listed = {i['id']: i for i in self.list_all(self.client)}
        self.assertIn(self.instance_id, listed)
        instance = listed[self.instance_id]
        self.assertTrue({'id', 'name', 'status', 'datastore', 'flavor',
                         'links'} <= set(instance))
        self.assertTrue(instance['datastore']['type'])
        self.assertEqual(
            {'instance': instance},
            dict(self.client.show_instance(self.instance_id)))
        admin_instance = CONF.database_backup.admin_instance_id
        if admin_instance:
            self.assertNotIn(admin_instance, listed)

    @decorators.idempotent_id('7b9d1f3a-5c7e-4b9d-8f1a-3c5e7b9d1f2a')
    def test_another_projects_instance_and_all_projects(self):
        admin_instance = CONF.database_backup.admin_instance_id
        if not admin_instance:
            raise self.skipException('[database_backup] admin_instance_id '
                                     'is not set.')
        self.assertRaises(lib_exc.NotFound, self.client.show_instance,
                          admin_instance)
        self.assertRaises(lib_exc.Forbidden, self.client.list_instances,
                          all_projects='true')
        everything = self.list_all(self.admin_client, all_projects='true')
        self.assertTrue({self.instance_id, admin_instance} <=
                        {i['id'] for i in everything})
