"""Option groups: no state shared between ConfigOpts."""

from oslo_config import cfg

from trove_backup_ext import conf as backup_conf
from trove_backup_ext.tests import base


class OptGroupsTest(base.TestCase):

    def _conf(self):
        conf = cfg.ConfigOpts()
        backup_conf.register_opts(conf)
        conf([], default_config_files=[])
        return conf

    def test_override_of_one_conf_does_not_show_on_another(self):
        first, second = self._conf(), self._conf()
        first.set_override('swift_url', 'http://elsewhere/v1/AUTH_x',
                           group='swift')
        first.set_override('backup_timeout', 42, group='worker')
        self.assertIsNone(second.swift.swift_url)
        self.assertEqual(600, second.worker.backup_timeout)
        self.assertIsNone(self._conf().swift.swift_url)
