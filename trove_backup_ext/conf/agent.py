"""Options of trove-backup-agent in [agent] and [backup_encryption]."""

from oslo_config import cfg

from trove_backup_ext import opt_groups

agent_group = cfg.OptGroup('agent', title='Backup agent options')
agent_opts = [
    cfg.StrOpt('datastore',
               help='Datastore driver of the instance this agent serves '
                    '(an entry point name in trove_backup_ext.datastores: '
                    'sqlite, mariadb, mysql, postgresql).'),
    cfg.IntOpt('progress_interval', default=20, min=1,
               help='Seconds between two progress reports of a running '
                    'backup; keep it well under [worker] backup_timeout.'),
    cfg.IntOpt('chunk_size', default=256 * 1024, min=64 * 1024,
               max=64 * 1024 * 1024,
               help='Plain bytes of a chunk: the unit of checksum and of '
                    'reuse by incrementals, which store every chunk with a '
                    'changed byte (smaller chunks, smaller incrementals; '
                    'each costs a manifest entry). An incremental keeps '
                    'the chunk size of its parent.'),
    cfg.IntOpt('object_size', default=4 * 1024 * 1024, min=64 * 1024,
               max=1024 * 1024 * 1024,
               help='Stored bytes of a data object: chunks are packed into '
                    'objects of about this size, one storage request '
                    'each.'),
    cfg.IntOpt('parallel_uploads', default=4, min=1,
               help='Objects uploaded, and chunks encoded, at once. Memory '
                    'use is about parallel_uploads x (2 x chunk_size + '
                    'object_size).'),
    cfg.IntOpt('compression_level', default=1, min=1, max=19,
               help='zstd level of chunks.'),
    cfg.StrOpt('scratch_dir',
               help='Directory where verifications restore a backup and '
                    'run a throw-away database on it (a temporary '
                    'directory in it, removed after). Unset: the system\'s '
                    'temporary directory. It needs room for the largest '
                    'restored backup.'),
    cfg.IntOpt('max_runtime', default=86400, min=0,
               help='Seconds after which a running backup or restore is '
                    'given up (its tool stopped, the operation FAILED), '
                    'however it reports: the agent reports progress from '
                    'a heartbeat, so a tool that hangs would otherwise '
                    'hold the instance for ever. 0: no limit.'),
    cfg.IntOpt('max_waiting_verifications', default=20, min=0,
               help='Verifications that may wait for the one running on '
                    'this agent (they run one at a time, in the order they '
                    'arrive, each reporting RUNNING meanwhile). One more '
                    'is not run: it ends FAILED saying so, and the backup '
                    'is not judged. A verification that waited longer '
                    'than max_runtime is not run either.'),
    cfg.IntOpt('report_timeout', default=30, min=1,
               help='Seconds to wait for the worker to answer a progress '
                    'report.'),
]

encryption_group = cfg.OptGroup(
    'backup_encryption', title='Encryption of backup data',
    help='With a key, every chunk and manifest is sealed with '
         'AES-256-GCM. Keep every key: a backup cannot be restored '
         'without the key it was written with.')
encryption_opts = [
    cfg.StrOpt('key', secret=True,
               help='64 hexadecimal digits (32 bytes). Prefer key_file.'),
    cfg.StrOpt('key_file',
               help='File holding the key as 64 hexadecimal digits: the '
                    'key new backups are written with.'),
    cfg.ListOpt('previous_key_files', default=[],
                help='Files of keys kept only to read older backups (64 '
                     'hexadecimal digits each), after a key rotation. Each '
                     'backup is read with the key its manifest names, '
                     'among key_file (or key) and these; a backup stored '
                     'in clear is read as it is.'),
]


def register_opts(conf):
    opt_groups.register(conf, agent_group, agent_opts)
    opt_groups.register(conf, encryption_group, encryption_opts)


def list_opts():
    return {agent_group: agent_opts, encryption_group: encryption_opts}
