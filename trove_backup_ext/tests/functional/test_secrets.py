"""No secret in logs, command lines, messages on the bus or API answers.

The whole service in this process (service_flow: API, worker, one agent
per instance of a real MariaDB or PostgreSQL server) backs up, verifies
and restores while SecretAudit records everything that could carry a
secret out: every log record of every logger at DEBUG, every message on
the bus (casts, calls, their replies and contexts, notifications), every
API answer (headers and body), every process our code starts (its
arguments and environment), and the files left in the drivers' temporary
directories. The secrets are the database password of the agents' backup
user, the backup encryption key, each agent's key and the workers' master
key of agent keys. The one place a secret may be is the environment of
the PostgreSQL client programs (PGPASSWORD, as libpq reads it); MariaDB's
tools read theirs from a 0600 option file removed after the run.

The Keystone secrets (tokens, application credentials, trusts) are
audited the same way against a real Keystone and Swift in
test_storage_credentials, test_schedule_credentials and test_swift_trusts.
"""

import base64
import os


from trove_backup_ext import agent_auth
from trove_backup_ext import context as backup_context
from trove_backup_ext.tests.functional import test_service_mariadb
from trove_backup_ext.tests.functional import test_service_postgresql
from trove_backup_ext.tests import secret_audit
from trove_backup_ext.tests import service_flow

SOURCE, TARGET = service_flow.SOURCE, service_flow.TARGET


def _forms(secret):
    """The ways a secret may be written: as configured, and a key's
    bytes in hexadecimal and base64."""
    forms = {secret}
    try:
        raw = bytes.fromhex(secret)
    except ValueError:
        return forms
    return forms | {base64.b64encode(raw).decode(),
                    base64.urlsafe_b64encode(raw).decode().rstrip('=')}


class _SecretsTests:
    """Mixed into a service_flow test of a datastore; password_option
    names its agents' password option."""

    password_option = None
    # Environment variables a secret may be handed to a tool in.
    env_allowed = ()

    def setUp(self):
        self.audit = self.useFixture(secret_audit.SecretAudit())
        super().setUp()
        self.temp_dirs = [options[name] for options in
                          self.agent_options.values()
                          for name in ('mariadb.tmp_dir',
                                       'agent.scratch_dir')
                          if name in options]

    def start_servers(self):
        super().start_servers()
        self.encryption_key = os.urandom(32).hex()
        for options in self.agent_options.values():
            options['backup_encryption.key'] = self.encryption_key
            # Notifications too go on the bus, where they are recorded.
            options['oslo_messaging_notifications.driver'] = ['messaging']

    def secrets(self):
        context = backup_context.get_admin_context()
        store = agent_auth.KeyStore(self.conf)
        found = {self.agent_options[SOURCE][self.password_option],
                 self.encryption_key,
                 agent_auth.read_key_file(
                     self.conf.worker.agent_keys_master_key_file,
                     'master').hex()}
        for instance_id in (SOURCE, TARGET):
            found.add(store.current_key(context, instance_id).hex())
        return set().union(*map(_forms, found))

    def assertNoSecretSeen(self):
        secrets = self.secrets()
        password = self.agent_options[SOURCE][self.password_option]
        audit = self.audit
        # Not vacuous: each record holds what it should.
        self.assertIn('update_backup', ''.join(audit.messages))
        self.assertIn('dbaas.backup_create.end', ''.join(audit.messages))
        self.assertIn('"status": "COMPLETED"', ''.join(audit.answers))
        self.assertIn(self.tool, repr(audit.spawned))
        for name in self.env_allowed:
            self.assertIn(password, [(env or {}).get(name)
                                     for _, env in audit.spawned])
        self.assertIn(SOURCE, audit.logs.output)
        for secret in secrets:
            self.assertEqual([], audit.holding(secret))
            for args, env in audit.spawned:
                self.assertNotIn(secret, repr(args))
                for name, value in (env or {}).items():
                    if secret in value or secret in name:
                        self.assertIn(name, self.env_allowed, args)
        # Nor where the server keeps the backups (locationRef names the
        # store and the object).
        self.assertEqual([], audit.holding(self.store, logs=False,
                                           messages=False))
        self.assertIn('"locationRef": "local://', ''.join(audit.answers))
        # Nothing holding the password is left on disk.
        for directory in self.temp_dirs:
            for root, _, files in os.walk(directory):
                for name in files:
                    path = os.path.join(root, name)
                    try:
                        with open(path, 'rb') as data:
                            content = data.read()
                    except OSError:
                        continue
                    self.assertNotIn(password.encode(), content, path)

    def test_backup_verify_restore_show_no_secret(self):
        backup = self.backup()
        self.assertEqual('PASSED', self.verify(backup['id'])['status'])
        self.assertCompleted(self.restore(backup['id'], TARGET))
        self.assertNoSecretSeen()


class _MariaDBServers(service_flow.ServiceFlow):
    """The servers of test_service_mariadb, without its tests."""

    # Not a module attribute: the test loader would run its tests here.
    _servers = test_service_mariadb.MariaDBServiceTest
    datastore = _servers.datastore
    version = _servers.version
    start_servers = _servers.start_servers
    _directory = _servers._directory
    del _servers


class MariaDBSecretsTest(_SecretsTests, _MariaDBServers):

    password_option = 'mariadb.password'
    # The tools read the password from an option file.
    tool = '--defaults-extra-file='


class _PostgreSQLServers(service_flow.ServiceFlow):
    """The clusters of test_service_postgresql, without its tests."""

    _servers = test_service_postgresql.PostgreSQLServiceTest
    datastore = _servers.datastore
    version = _servers.version
    start_servers = _servers.start_servers
    del _servers


class PostgreSQLSecretsTest(_SecretsTests, _PostgreSQLServers):

    password_option = 'postgresql.password'
    tool = 'pg_basebackup'
    env_allowed = ('PGPASSWORD',)
