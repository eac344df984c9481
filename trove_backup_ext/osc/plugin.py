"""OSC plugin hooks (entry point group ``openstack.cli.extension``).

OSC loads the commands of group ``openstack.database_backup.v1`` and makes
``client_manager.database_backup``, our client on OSC's keystoneauth1
session: Keystone or ``auth_type none`` + ``endpoint``, as for troveclient.
"""

from osc_lib import utils

from trove_backup_ext.client import v1 as client_v1

API_NAME = 'database_backup'
API_VERSION_OPTION = 'os_database_backup_api_version'
DEFAULT_API_VERSION = '1'
API_VERSIONS = ('1',)


def make_client(instance):
    """Our client on the ClientManager's session, its interface and
    region as chosen on the command line (``--os-interface`` ...)."""
    return client_v1.Client(instance.session, interface=instance.interface,
                            region_name=instance.region_name)


def build_option_parser(parser):
    parser.add_argument(
        '--os-database-backup-api-version',
        metavar='<database-backup-api-version>',
        default=utils.env('OS_DATABASE_BACKUP_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help='trove-backup-ext API version, default=%s '
             '(Env: OS_DATABASE_BACKUP_API_VERSION)' % DEFAULT_API_VERSION)
    return parser
