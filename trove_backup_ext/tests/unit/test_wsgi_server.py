"""The API server's options and its refusal to expose noauth."""

from unittest import mock

from oslo_config import cfg

from trove_backup_ext import conf as backup_conf
from trove_backup_ext.tests import base
from trove_backup_ext.wsgi import server as wsgi_server


def _conf(**api):
    conf = cfg.ConfigOpts()
    backup_conf.register_opts(conf)
    conf([], project='trove-backup-ext', default_config_files=[])
    for name, value in api.items():
        conf.set_override(name, value, group='api')
    return conf


class OptionsTest(base.TestCase):

    def test_defaults(self):
        conf = _conf()
        self.assertEqual('127.0.0.1', conf.api.host)
        self.assertEqual(8779, conf.api.port)
        self.assertIsNone(conf.api.workers)
        self.assertEqual(10, conf.api.threads)
        self.assertEqual(128, conf.api.backlog)
        self.assertEqual(60, conf.api.client_socket_timeout)
        self.assertFalse(conf.api.allow_noauth_on_non_loopback)
        self.assertEqual(60, conf.graceful_shutdown_timeout)

    def test_workers_default_to_the_usable_cpus(self):
        with mock.patch('os.sched_getaffinity', return_value={0, 1, 5}):
            self.assertEqual(3, wsgi_server.workers(_conf()))
        self.assertEqual(4, wsgi_server.workers(_conf(workers=4)))

    def test_workers_and_threads_are_at_least_one(self):
        conf = _conf()
        for name in ('workers', 'threads', 'backlog'):
            self.assertRaises(ValueError, conf.set_override, name, 0,
                              group='api')

    def test_listed_for_the_sample_config(self):
        from trove_backup_ext.conf import opts
        names = {opt.name for group, group_opts in opts.list_opts()
                 if getattr(group, 'name', group) == 'api'
                 for opt in group_opts}
        self.assertLessEqual({'workers', 'threads', 'backlog',
                              'client_socket_timeout',
                              'allow_noauth_on_non_loopback'}, names)


class LoopbackTest(base.TestCase):

    def test_loopback_addresses(self):
        for host in ('127.0.0.1', '127.1.2.3', '::1', 'localhost'):
            self.assertTrue(wsgi_server.is_loopback(host), host)

    def test_other_addresses(self):
        for host in ('0.0.0.0', '::', '192.0.2.10', '2001:db8::1',
                     'no-such-host.invalid'):
            self.assertFalse(wsgi_server.is_loopback(host), host)


class CheckBindTest(base.TestCase):

    def test_noauth_on_any_address_is_refused_and_says_why(self):
        conf = _conf(auth_strategy='noauth')
        error = self.assertRaises(wsgi_server.InsecureBind,
                                  wsgi_server.check_bind, conf, '0.0.0.0')
        message = str(error)
        self.assertIn("'0.0.0.0'", message)
        self.assertIn('auth_strategy = noauth', message)
        self.assertIn('allow_noauth_on_non_loopback', message)

    def test_noauth_on_loopback_is_served(self):
        conf = _conf(auth_strategy='noauth')
        for host in ('127.0.0.1', '::1', 'localhost'):
            wsgi_server.check_bind(conf, host)

    def test_noauth_forced_with_a_warning(self):
        conf = _conf(auth_strategy='noauth',
                     allow_noauth_on_non_loopback=True)
        with mock.patch.object(wsgi_server.LOG, 'warning') as warning:
            wsgi_server.check_bind(conf, '0.0.0.0')
        self.assertIn('allow_noauth_on_non_loopback = true',
                      warning.call_args[0][0])

    def test_keystone_anywhere(self):
        conf = _conf(auth_strategy='keystone')
        wsgi_server.check_bind(conf, '0.0.0.0')
        wsgi_server.check_bind(conf, '192.0.2.10')

    def test_listen_refuses_before_binding(self):
        conf = _conf(auth_strategy='noauth')
        with mock.patch('socket.create_server') as create:
            self.assertRaises(wsgi_server.InsecureBind, wsgi_server.listen,
                              conf, host='0.0.0.0', port=0)
        create.assert_not_called()

    def test_listen_names_the_address_it_cannot_bind(self):
        conf = _conf(auth_strategy='noauth')
        taken = wsgi_server.listen(conf, host='127.0.0.1', port=0)
        self.addCleanup(taken.close)
        port = taken.getsockname()[1]
        error = self.assertRaises(wsgi_server.ListenError,
                                  wsgi_server.listen, conf,
                                  host='127.0.0.1', port=port)
        self.assertIn('127.0.0.1 port %d' % port, str(error))
