"""Signatures of agents' reports and key files (agent_auth.py)."""

import os
import stat

import fixtures

from trove_backup_ext import agent_auth
from trove_backup_ext import exception
from trove_backup_ext.tests import base

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
NOW = 1_800_000_000
REPORT = {'instance_id': 'i-1', 'backup_id': 'b-1', 'status': 'COMPLETED',
          'attempt_id': 'a-1', 'checksum': 'c' * 64,
          'location': 'file:///store/b-1/manifest', 'stored_size': 1024,
          'progress': {'bytes_done': 10, 'rate': 1.5}}


class SignatureTest(base.TestCase):

    def check(self, payload, signature, keys=None, method='update_backup',
              now=NOW):
        return agent_auth.check(
            keys or {agent_auth.key_id(KEY): KEY}, method, payload,
            signature, max_age=300, now=now)

    def test_a_report_signed_with_the_key_passes(self):
        signature = agent_auth.sign(KEY, 'update_backup', REPORT, now=NOW)
        self.assertEqual({'v', 'key_id', 'timestamp', 'hmac'},
                         set(signature))
        self.assertEqual(agent_auth.key_id(KEY), signature['key_id'])
        self.assertNotIn(KEY.hex(), repr(signature))
        self.assertIsNone(self.check(REPORT, signature))
        # As the bus delivers it: JSON types, keys in any order.
        shuffled = dict(reversed(list(REPORT.items())))
        self.assertIsNone(self.check(shuffled, signature))

    def test_none_and_absent_arguments_sign_the_same(self):
        signature = agent_auth.sign(KEY, 'update_backup', REPORT, now=NOW)
        self.assertIsNone(self.check(dict(REPORT, fail_reason=None),
                                     signature))

    def test_every_argument_is_covered(self):
        signature = agent_auth.sign(KEY, 'update_backup', REPORT, now=NOW)
        for name, value in (('instance_id', 'i-2'), ('backup_id', 'b-2'),
                            ('status', 'FAILED'), ('attempt_id', 'a-2'),
                            ('checksum', 'd' * 64),
                            ('location', 'file:///forged'),
                            ('stored_size', 1025),
                            ('progress', {'bytes_done': 11, 'rate': 1.5}),
                            ('fail_reason', 'added')):
            self.assertEqual('a signature that does not match the message',
                             self.check(dict(REPORT, **{name: value}),
                                        signature), name)
        self.assertIsNotNone(self.check(REPORT, signature,
                                        method='update_restore'))

    def test_a_key_the_instance_does_not_hold_is_refused(self):
        signature = agent_auth.sign(OTHER, 'update_backup', REPORT, now=NOW)
        reason = self.check(REPORT, signature)
        self.assertIn(agent_auth.key_id(OTHER), reason)
        self.assertNotIn(OTHER.hex(), reason)
        # A forged key id naming the instance's key: the HMAC fails.
        forged = dict(signature, key_id=agent_auth.key_id(KEY))
        self.assertEqual('a signature that does not match the message',
                         self.check(REPORT, forged))

    def test_old_and_future_signatures_are_refused(self):
        for skew, word in ((-301, 'ago'), (301, 'ahead')):
            signature = agent_auth.sign(KEY, 'update_backup', REPORT,
                                        now=NOW + skew)
            self.assertIn('301 seconds %s' % word,
                          self.check(REPORT, signature))
        signature = agent_auth.sign(KEY, 'update_backup', REPORT,
                                    now=NOW - 300)
        self.assertIsNone(self.check(REPORT, signature))

    def test_malformed_signatures_are_refused(self):
        good = agent_auth.sign(KEY, 'update_backup', REPORT, now=NOW)
        for bad in ('text', [], {}, dict(good, v=2), dict(good, v=None),
                    dict(good, timestamp=str(NOW)),
                    dict(good, timestamp=True), dict(good, hmac=None),
                    dict(good, key_id=None), dict(good, key_id=['k']),
                    dict(good, key_id={'k': 1}), dict(good, hmac='\xe9' * 64),
                    dict(good, hmac=[good['hmac']])):
            self.assertIsNotNone(self.check(REPORT, bad), repr(bad))


class KeyFileTest(base.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'agent.key')

    def test_written_private_and_read_back(self):
        agent_auth.write_key_file(self.path, KEY)
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.path).st_mode))
        self.assertEqual(KEY, agent_auth.read_key_file(self.path, 'k'))
        agent_auth.write_key_file(self.path, OTHER)
        self.assertEqual(OTHER, agent_auth.read_key_file(self.path, 'k'))
        self.assertEqual(['agent.key'], os.listdir(self.dir))

    def test_a_key_others_can_read_is_refused(self):
        agent_auth.write_key_file(self.path, KEY)
        for mode in (0o640, 0o604, 0o660):
            os.chmod(self.path, mode)
            error = self.assertRaises(exception.ConfigurationError,
                                      agent_auth.read_key_file, self.path,
                                      '[agent] key_file')
            self.assertIn(oct(mode), str(error))
            self.assertNotIn(KEY.hex(), str(error))

    def test_a_symlink_or_a_bad_key_is_refused(self):
        agent_auth.write_key_file(self.path, KEY)
        link = os.path.join(self.dir, 'link.key')
        os.symlink(self.path, link)
        self.assertRaises(exception.ConfigurationError,
                          agent_auth.read_key_file, link, 'k')
        for text in ('', 'zz' * 32, KEY.hex()[:-2]):
            with open(self.path, 'w') as out:
                out.write(text)
            self.assertRaises(exception.ConfigurationError,
                              agent_auth.read_key_file, self.path, 'k')

    def test_file_signer_reads_the_file_at_each_report(self):
        signer = agent_auth.FileSigner(self.path)
        self.assertIsNone(signer('update_backup', REPORT))   # no file yet
        agent_auth.write_key_file(self.path, KEY)
        self.assertEqual(agent_auth.key_id(KEY),
                         signer('update_backup', REPORT)['key_id'])
        agent_auth.write_key_file(self.path, OTHER)
        self.assertEqual(agent_auth.key_id(OTHER),
                         signer('update_backup', REPORT)['key_id'])


class _Judge:
    def __init__(self, verdict):
        self.verdict = verdict
        self.seen = []

    def accept(self, context, method, payload, signature):
        self.seen.append((method, payload, signature))
        return self.verdict


class _Handler:
    def __init__(self, verdict):
        self.agent_auth = _Judge(verdict)
        self.calls = []

    @agent_auth.signed_report
    def update_backup(self, context, instance_id, backup_id, status,
                      checksum=None, attempt_id=None):
        self.calls.append((instance_id, backup_id, status, checksum))
        return True


class SignedReportTest(base.TestCase):

    def test_the_judge_sees_every_argument_by_name(self):
        handler = _Handler(True)
        self.assertTrue(handler.update_backup(
            'ctx', 'i-1', 'b-1', status='COMPLETED', checksum='c',
            signature={'v': 1}))
        self.assertEqual([('update_backup', {
            'instance_id': 'i-1', 'backup_id': 'b-1', 'status': 'COMPLETED',
            'checksum': 'c'}, {'v': 1})], handler.agent_auth.seen)
        self.assertEqual([('i-1', 'b-1', 'COMPLETED', 'c')], handler.calls)

    def test_a_refused_report_never_reaches_the_handler(self):
        handler = _Handler(False)
        self.assertFalse(handler.update_backup('ctx', 'i-1', 'b-1',
                                               'FAILED'))
        self.assertEqual([], handler.calls)


class _Conf:
    class worker:
        require_signed_agent_messages = True


class _NoKeys:
    def keys(self, context, instance_id):
        return {}


class ClaimedSenderTest(base.TestCase):

    def test_a_hostile_claimed_instance_is_logged_quoted_and_short(self):
        logs = self.useFixture(fixtures.FakeLogger(
            name='trove_backup_ext.agent_auth'))
        authenticator = agent_auth.Authenticator.__new__(
            agent_auth.Authenticator)
        authenticator.store = _NoKeys()
        authenticator.conf = _Conf()
        claim = 'i-1\nFAKE LOG LINE ' + 'x' * 10000
        self.assertFalse(authenticator.accept(
            'ctx', 'update_backup', dict(REPORT, instance_id=claim), None))
        self.assertNotIn('\nFAKE LOG LINE', logs.output)
        self.assertIn(repr(claim)[:64], logs.output)
        self.assertLess(len(logs.output), 300)
        # A plain id is logged as it is.
        self.assertFalse(authenticator.accept(
            'ctx', 'update_backup', dict(REPORT, instance_id='i-2'), None))
        self.assertIn('agent of instance i-2:', logs.output)
