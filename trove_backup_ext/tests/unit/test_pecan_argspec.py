"""The remembered getargspec answers what pecan's own does, for every
method of every controller class of the API (and the tests through the
API route with it installed)."""

import inspect

import pecan
from pecan import rest
import testtools

from trove_backup_ext.api import pecan_argspec
from trove_backup_ext.api.controllers import root
from trove_backup_ext.api.controllers.v1 import backup_schedules
from trove_backup_ext.api.controllers.v1 import backup_strategies
from trove_backup_ext.api.controllers.v1 import backups
from trove_backup_ext.api.controllers.v1 import instances
from trove_backup_ext.api.controllers.v1 import restores

MODULES = (root, backup_schedules, backup_strategies, backups, instances,
           restores)


def controller_classes():
    for module in MODULES:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__:
                yield cls


class PecanArgspecTest(testtools.TestCase):

    def test_same_answer_as_pecan_for_every_controller_method(self):
        checked = 0
        for cls in controller_classes():
            for name, function in inspect.getmembers(cls,
                                                     inspect.isfunction):
                try:
                    expected = pecan_argspec._pecan_getargspec(function)
                except Exception as exc:
                    # Not a controller pecan could route to: it fails
                    # the same way.
                    self.assertRaises(type(exc), pecan_argspec.getargspec,
                                      function)
                    continue
                self.assertEqual(expected,
                                 pecan_argspec.getargspec(function),
                                 (cls, name))
                # Bound, as pecan's routing asks: the function's entry.
                bound = function.__get__(object.__new__(cls), cls)
                self.assertEqual(pecan_argspec._pecan_getargspec(bound),
                                 pecan_argspec.getargspec(bound),
                                 (cls, name))
                checked += 1
        # Every resource's get_all/get_one/post... were among them.
        self.assertGreater(checked, 30)

    def test_exposed_and_decorated_functions_are_drilled_into(self):
        def decorator(f):
            def wrapper(*args, **kwargs):
                return f(*args, **kwargs)
            return wrapper

        class Controller(object):
            @pecan.expose('json')
            @decorator
            def get_one(self, item_id, detail=None):
                return {}

        spec = pecan_argspec.getargspec(Controller().get_one)
        self.assertEqual(['self', 'item_id', 'detail'], spec.args)
        self.assertEqual(pecan_argspec._pecan_getargspec(
            Controller().get_one), spec)

    def test_unhashable_callables_are_looked_up_each_time(self):
        class Unhashable(object):
            __hash__ = None

            def __call__(self, a):
                return a

        self.assertEqual(['self', 'a'],
                         pecan_argspec.getargspec(Unhashable()).args)

    def test_install_puts_it_where_pecan_routes(self):
        from pecan import core
        from pecan import routing
        pecan_argspec.install()
        for module in (core, rest, routing):
            self.assertIs(pecan_argspec.getargspec, module.getargspec)
