"""An in-memory message bus that delivers as RabbitMQ may: at least once,
in any order.

ChaosBus wraps the driver of every transport a test makes: each cast is
delivered twice, each after its own random delay (so casts overtake each
other), and each call is answered at once but its request is delivered a
second time later, as a cast (a late duplicate: BUILDING after COMPLETED).
"""

import copy
import random
import threading

import fixtures

from trove_backup_ext import rpc
from trove_backup_ext.tests import execution_fixtures as ef


class _ChaosDriver:

    def __init__(self, bus, driver):
        self._bus = bus
        self._driver = driver

    def send(self, target, ctxt, message, wait_for_reply=None, timeout=None,
             call_monitor_timeout=None, retry=None, transport_options=None):
        self._bus.record(message.get('method'))
        for _ in range(1 if wait_for_reply else 2):
            self._bus.later(self._driver, target, ctxt, message)
        if wait_for_reply:
            return self._driver.send(target, ctxt, message,
                                     wait_for_reply=True, timeout=timeout)
        return None

    def __getattr__(self, name):
        return getattr(self._driver, name)


class ChaosBus(fixtures.Fixture):
    """Makes rpc.get_transport return transports whose messages are
    duplicated and reordered, for the fixture's lifetime."""

    def __init__(self, seed=0, max_delay=0.05):
        super().__init__()
        self.random = random.Random(seed)
        self.max_delay = max_delay
        self.sent = {}
        self._lock = threading.Lock()
        self._pending = 0
        self._transports = []

    def _setUp(self):
        real = rpc.get_transport

        def chaotic(conf):
            transport = real(conf)
            transport._driver = _ChaosDriver(self, transport._driver)
            self._transports.append(transport)
            return transport
        self.useFixture(fixtures.MonkeyPatch(
            'trove_backup_ext.rpc.get_transport', chaotic))
        # Late copies still travelling are delivered before the services
        # of the test stop (cleanups run last in, first out).
        self.addCleanup(self.settle)

    def record(self, method):
        with self._lock:
            self.sent[method] = self.sent.get(method, 0) + 1

    def later(self, driver, target, ctxt, message):
        with self._lock:
            self._pending += 1
            delay = self.random.uniform(0, self.max_delay)
        timer = threading.Timer(delay, self._deliver, (
            driver, target, copy.deepcopy(ctxt), copy.deepcopy(message)))
        timer.daemon = True
        timer.start()

    def _deliver(self, driver, target, ctxt, message):
        try:
            driver.send(target, ctxt, message, wait_for_reply=False)
        finally:
            with self._lock:
                self._pending -= 1

    def settle(self, timeout=30):
        """Wait until every delayed copy has been handed to the bus."""
        ef.wait_for(lambda: self._pending == 0, timeout=timeout)
