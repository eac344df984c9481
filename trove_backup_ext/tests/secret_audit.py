"""A fixture that records what could carry a secret out of the service:
log records (every logger, at the levels of a deployment with debug =
true), messages on the in-memory bus, this API's answers (to
requests made with the requests library), processes started by the
package's code."""

import json
import logging
import os
import subprocess
import sys

import fixtures
from oslo_log import log as oslo_log
from oslo_messaging._drivers import impl_fake
import requests

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TESTS = os.path.join(_PACKAGE, 'tests')


def _spawned_by_us():
    """Whether the process being started is started by the package's
    code, not by a test fixture (which starts the servers)."""
    frame = sys._getframe(2)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if path.startswith(_TESTS):
            return False
        if path.startswith(_PACKAGE):
            return True
        frame = frame.f_back
    return False


class SecretAudit(fixtures.Fixture):
    """Records what could carry a secret out of the service."""

    def _setUp(self):
        self.logs = self.useFixture(fixtures.FakeLogger(
            level=logging.DEBUG, format='%(name)s %(message)s'))
        # As a deployment with debug = true logs: oslo.log's
        # default_log_levels keep the libraries that log whole requests
        # (keystoneauth, urllib3...) at WARN.
        for pair in oslo_log.get_default_log_levels():
            name, _, level = pair.partition('=')
            logger = logging.getLogger(name)
            self.addCleanup(logger.setLevel, logger.level)
            logger.setLevel(level)
        self.messages = []
        self.answers = []
        self.spawned = []
        self._bus()
        self._api()
        self._processes()

    def _bus(self):
        send = impl_fake.FakeDriver._send
        reply = impl_fake.FakeIncomingMessage.reply
        messages = self.messages

        def recording_send(driver, target, ctxt, message, *args, **kwargs):
            messages.append(json.dumps([str(target), ctxt, message]))
            answer = send(driver, target, ctxt, message, *args, **kwargs)
            messages.append(json.dumps(answer, default=repr))
            return answer

        def recording_reply(incoming, reply_value=None, failure=None):
            messages.append(json.dumps([reply_value, repr(failure)],
                                       default=repr))
            return reply(incoming, reply_value, failure)
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_messaging._drivers.impl_fake.FakeDriver._send',
            recording_send))
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_messaging._drivers.impl_fake.FakeIncomingMessage.reply',
            recording_reply))

    def _api(self):
        send = requests.Session.send
        answers = self.answers

        def recording_send(session, request, **kwargs):
            response = send(session, request, **kwargs)
            if '/v1.0/' not in request.url:
                return response     # Keystone's or Swift's, not ours.
            answers.append('%s %s\n%s\n%s' % (
                request.method, request.url, response.headers,
                response.text))
            return response
        self.useFixture(fixtures.MonkeyPatch(
            'requests.Session.send', recording_send))

    def _processes(self):
        spawned = self.spawned

        class RecordingPopen(subprocess.Popen):
            def __init__(self, args, *more, **kwargs):
                if _spawned_by_us():
                    spawned.append((args, kwargs.get('env')))
                super().__init__(args, *more, **kwargs)
        self.useFixture(fixtures.MonkeyPatch('subprocess.Popen',
                                             RecordingPopen))

    def holding(self, secret, logs=True, messages=True, answers=True):
        """The log lines, messages and answers that hold secret."""
        places = []
        if logs:
            places += [line for line in self.logs.output.splitlines()
                       if secret in line]
        if messages:
            places += [message for message in self.messages
                       if secret in message]
        if answers:
            places += [answer for answer in self.answers if secret in answer]
        return places
