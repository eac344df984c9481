"""The OSC plugin is registered as OSC loads plugins, without a name of
python-troveclient's."""

import argparse
from importlib import metadata

from cliff import command

from trove_backup_ext.osc import plugin
from trove_backup_ext.tests import base

OURS = 'openstack.database_backup.v1'
TROVECLIENT = 'openstack.database.v1'


def commands(group):
    return {ep.name.replace('_', ' '): ep
            for ep in metadata.entry_points(group=group)}


class TestPlugin(base.TestCase):

    def test_registered_as_an_extension_of_our_api_name(self):
        extensions = {ep.name: ep.value for ep in metadata.entry_points(
            group='openstack.cli.extension')}
        self.assertEqual('trove_backup_ext.osc.plugin',
                         extensions[plugin.API_NAME])
        # OSC builds the command group from API_NAME and the version.
        self.assertEqual(OURS, 'openstack.%s.v%s' % (
            plugin.API_NAME, plugin.DEFAULT_API_VERSION))
        self.assertIn(plugin.DEFAULT_API_VERSION, plugin.API_VERSIONS)
        self.assertEqual('os_%s_api_version' % plugin.API_NAME,
                         plugin.API_VERSION_OPTION)

    def test_every_command_loads(self):
        ours = commands(OURS)
        self.assertEqual(['database backup restore',
                          'database backup schedule create',
                          'database backup schedule delete',
                          'database backup schedule health',
                          'database backup schedule list',
                          'database backup schedule set',
                          'database backup schedule show',
                          'database backup verify',
                          'database restore list', 'database restore show'],
                         sorted(ours))
        for entry_point in ours.values():
            self.assertTrue(issubclass(entry_point.load(), command.Command))

    def test_no_name_of_troveclient(self):
        theirs = commands(TROVECLIENT)
        self.assertIn('database backup create', theirs)   # it is installed
        self.assertEqual(set(), set(commands(OURS)) & set(theirs))
        # Nor one of theirs with more words after ours (cliff matches the
        # longest name, so ours would shadow nothing, but keep it clear).
        self.assertEqual([], [name for name in theirs for mine in
                              commands(OURS) if name.startswith(mine + ' ')])

    def test_api_version_option(self):
        parser = argparse.ArgumentParser()
        parsed = plugin.build_option_parser(parser).parse_args([])
        self.assertEqual('1', parsed.os_database_backup_api_version)
