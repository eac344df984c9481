"""An agent's verifications: one at a time, in the order they arrived.

A verification that arrives while another runs waits for its turn rather
than fail: a FAILED verification must say something about the backup,
never that its agent was busy. The queue is bounded ([agent]
max_waiting_verifications), and stopping the agent sends the waiting ones
away unrun (the worker's reaper ends them, as those of a killed agent).
"""

import collections
import threading


class VerifyQueue:

    def __init__(self, max_waiting):
        self.max_waiting = max_waiting
        self._changed = threading.Condition()
        # Tickets in arrival order; the first one runs.
        self._tickets = collections.deque()
        self._stopped = False

    def join(self):
        """A ticket at the end of the queue, or None if max_waiting
        already wait behind the running one."""
        with self._changed:
            if len(self._tickets) > self.max_waiting:
                return None
            ticket = object()
            self._tickets.append(ticket)
            return ticket

    def waiting_before(self, ticket):
        """How many are ahead of ticket (0: its turn)."""
        with self._changed:
            return self._tickets.index(ticket)

    def wait_turn(self, ticket, timeout):
        """True once ticket is first; False after timeout seconds, or at
        once when the queue is stopped."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._stopped or self._tickets[0] is ticket,
                timeout)
            return not self._stopped and self._tickets[0] is ticket

    def leave(self, ticket):
        """ticket is done (ran or given up): the next one's turn."""
        with self._changed:
            self._tickets.remove(ticket)
            self._changed.notify_all()

    def stop(self):
        """No waiting ticket gets its turn from now on."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    @property
    def stopped(self):
        return self._stopped
