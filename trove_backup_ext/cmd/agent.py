"""trove-backup-agent: backs up and restores one database instance.

    trove-backup-agent --config-file F --instance-id ID
    trove-backup-agent --config-file F restore BACKUP_ID --target DIR \
        [--container C] [--storage-driver D] [--checksum SHA256] \
        [--trust-id-file FILE]

The agent holds no control-plane database credentials: it learns what to
do over RPC and reports back over RPC only.
"""

import argparse
import json
import os
import sys

from oslo_config import cfg
from oslo_log import log as logging

from trove_backup_ext.agent import restore
from trove_backup_ext.agent import service as agent_service
from trove_backup_ext.cmd import worker as worker_cmd
from trove_backup_ext import conf as backup_conf
from trove_backup_ext import datastores
from trove_backup_ext import exception
from trove_backup_ext import rpc
from trove_backup_ext import service
from trove_backup_ext.storage import base as storage_base

LOG = logging.getLogger(__name__)

cli_opts = [
    cfg.StrOpt('instance-id',
               help='Id of the instance whose agent this is (serve mode).'),
]


def _restore_parser():
    parser = argparse.ArgumentParser(prog='trove-backup-agent restore')
    parser.add_argument('command', choices=['restore'])
    parser.add_argument('backup_id')
    parser.add_argument('--target', required=True,
                        help='Directory to restore into (must not exist '
                             'or be empty).')
    parser.add_argument('--container',
                        help='Container of the backup (default: [DEFAULT] '
                             'backup_swift_container).')
    parser.add_argument('--storage-driver',
                        help='Default: [DEFAULT] storage_strategy.')
    parser.add_argument('--checksum',
                        help='sha256 of the manifest, as the worker '
                             'recorded it, to check the manifest against.')
    # A trust id lets whoever holds the service user's password act in
    # the owner's project, and a command line is visible to every user of
    # the host (ps): it comes from a file, standard input or the
    # environment instead.
    parser.add_argument('--trust-id-file', metavar='FILE',
                        help='File holding the Keystone trust of a backup '
                             'kept in its owner\'s Swift account ([swift] '
                             'store_in_owner_account); "-" reads standard '
                             'input. Default: the %s environment variable.'
                             % TRUST_ID_ENV)
    parser.add_argument('--trust-id', help=argparse.SUPPRESS)
    return parser


TRUST_ID_ENV = 'TROVE_BACKUP_TRUST_ID'


def _trust_id(args):
    if args.trust_id is not None:
        raise exception.ConfigurationError(
            '--trust-id is refused: a command line is visible to every user '
            'of this host. Give the trust id with --trust-id-file FILE, '
            '--trust-id-file - (standard input) or the %s environment '
            'variable.' % TRUST_ID_ENV)
    if args.trust_id_file == '-':
        return sys.stdin.readline().strip() or None
    if args.trust_id_file:
        try:
            with open(args.trust_id_file) as source:
                return source.read().strip() or None
        except OSError as exc:
            raise exception.ConfigurationError(
                'Cannot read the trust id file: %s' % exc)
    return os.environ.get(TRUST_ID_ENV) or None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    restore_args = None
    if 'restore' in argv:
        # Options before "restore" are oslo.config's; after it, the
        # restore's own, with any oslo.config ones passed through.
        split = argv.index('restore')
        restore_args, rest = _restore_parser().parse_known_args(
            argv[split:])
        argv = argv[:split] + rest
    backup_conf.CONF.register_cli_opts(cli_opts)
    conf = service.setup(service.parse_args(argv))
    if restore_args is not None:
        return _restore(conf, restore_args)
    if not conf.instance_id:
        print('ERROR: --instance-id is required.', file=sys.stderr)
        return 2
    agent = agent_service.AgentService(conf, rpc.get_transport(conf),
                                       conf.instance_id)
    agent.start()
    LOG.info('trove-backup-agent of instance %s (%s) serving topic %s',
             conf.instance_id, conf.agent.datastore,
             rpc.agent_topic(conf.instance_id))
    worker_cmd.wait_for_signal()
    agent.stop()
    return 0


def _restore(conf, args):
    try:
        trust_id = _trust_id(args)
        datastore = datastores.load(conf, conf.agent.datastore)
        result = restore.restore_backup(
            conf, datastore, args.storage_driver or conf.storage_strategy,
            args.container or conf.backup_swift_container, args.backup_id,
            args.target, args.checksum, trust_id)
    except (exception.BackupExtError, exception.ConfigurationError,
            storage_base.StorageError) as exc:
        print('ERROR: %s' % exc, file=sys.stderr)
        return 1
    print(json.dumps({'backup_id': args.backup_id, 'restored': result}))
    return 0
