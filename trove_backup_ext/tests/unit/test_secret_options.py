"""Every option that holds a secret is declared secret, so that a dump of
the configuration (oslo.config's log_opt_values, at start-up or by an
operator) shows "****" instead."""

import logging
import re

import fixtures
from oslo_config import cfg

from trove_backup_ext import conf as backup_conf
from trove_backup_ext.conf import opts

# A name that says it holds a secret.
SECRET_NAME = re.compile(r'password|secret|(^|_)key$|(^|_)keys$|token$|'
                         r'connection$|transport_url$')

# Names that match and hold none, each with why: none so far.
NOT_SECRETS = set()

# Library options of our configuration that hold secrets.
LIBRARY_SECRETS = [('database', 'connection'), (None, 'transport_url'),
                   ('oslo_messaging_notifications', 'transport_url')]


class SecretOptionsTest(fixtures.TestWithFixtures):

    def setUp(self):
        super().setUp()
        self.conf = cfg.ConfigOpts()
        backup_conf.register_opts(self.conf)
        self.conf([], project='trove-backup-ext', default_config_files=[])
        self.addCleanup(self.conf.reset)

    @staticmethod
    def our_options():
        for group, options in opts.list_opts():
            name = getattr(group, 'name', group)
            for opt in options:
                yield (None if name == 'DEFAULT' else name), opt

    def test_options_named_as_secrets_are_secret(self):
        named = {(group, opt.name): opt for group, opt in self.our_options()
                 if SECRET_NAME.search(opt.name)}
        # Not vacuous: the ones we know of.
        for known in (('swift', 'key'), ('mariadb', 'password'),
                      ('postgresql', 'password'),
                      ('backup_encryption', 'key'),
                      ('swift', 'credential_secret_key'),
                      ('trove_database', 'connection')):
            self.assertIn(known, named)
        self.assertEqual(
            [], sorted(key for key, opt in named.items()
                       if not opt.secret and key not in NOT_SECRETS))
        self.assertEqual(set(), NOT_SECRETS - set(named))

    def test_a_dump_of_the_configuration_shows_no_secret(self):
        secrets = {}
        for group, opt in list(self.our_options()) + [
                (group, self.conf._get_opt_info(name, group)['opt'])
                for group, name in LIBRARY_SECRETS]:
            if not opt.secret:
                continue
            value = 'secret-%s-%s' % (group, opt.name)
            secrets[(group, opt.name)] = value
            if isinstance(opt, cfg.ListOpt):
                value = [value]
            self.conf.set_override(opt.name, value, group=group)
        self.assertIn(('database', 'connection'), secrets)
        log = self.useFixture(fixtures.FakeLogger(level=logging.DEBUG))
        self.conf.log_opt_values(logging.getLogger('dump'), logging.INFO)
        self.assertIn('swift.key', log.output)
        for value in secrets.values():
            self.assertNotIn(value, log.output)
