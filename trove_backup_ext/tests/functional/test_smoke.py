"""The API answers on every backend: create, show, list, delete."""

from trove_backup_ext.tests import base


class _SmokeTests:

    def test_create_show_list_delete(self):
        instance = self.add_instance()
        created = self.create_backup(instance.id, name='nightly')
        self.assertEqual('NEW', created['status'])
        self.assertTrue(self.worker.received.wait(5))
        self.assertEqual([('create_backup', created['id'])],
                         self.worker.calls)

        shown = self.request('GET', '/backups/%s' % created['id'])
        self.assertEqual(200, shown.status_code)
        self.assertEqual(created, shown.json()['backup'])

        listed = self.request('GET', '/backups').json()
        self.assertEqual([created], listed['backups'])
        self.assertNotIn('links', listed)


(TestSmoke_sqlite, TestSmoke_mysql,
 TestSmoke_postgresql) = base.for_each_backend(_SmokeTests, __name__)
