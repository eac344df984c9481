"""The registry instance source's derived values."""

from trove_backup_ext.instance_sources import base as source_base
from trove_backup_ext.instance_sources import registry
from trove_backup_ext.tests import base


class RegistryTest(base.TestCase):

    def test_version_id_stable_and_distinct(self):
        first = registry.datastore_version_id('mysql', '8.0')
        self.assertEqual(first, registry.datastore_version_id('mysql', '8.0'))
        self.assertNotEqual(first,
                            registry.datastore_version_id('mysql', '8.1'))
        self.assertNotEqual(first,
                            registry.datastore_version_id('mariadb', '8.0'))

    def test_backup_ready_statuses(self):
        def instance(status):
            return source_base.Instance('i', 'n', 'p', 'mysql', '8', 'v',
                                        status)
        self.assertTrue(instance('ACTIVE').can_back_up)
        self.assertTrue(instance('HEALTHY').can_back_up)
        for status in ('BUILD', 'ERROR', 'BACKUP', 'SHUTDOWN'):
            self.assertFalse(instance(status).can_back_up)
