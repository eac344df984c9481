"""Restores a backup from storage into a target, verifying everything."""

from trove_backup_ext.agent import encryption
from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext import storage


def restore_backup(conf, datastore, storage_driver, container, backup_id,
                   target, checksum=None, trust_id=None):
    """Restore backup_id (and, for native incrementals, its chain) into
    target; return where the data is (a file or the target directory).
    checksum, the manifest's sha256 the worker recorded, is checked when
    given. trust_id: the owner's trust, for a backup in its account."""
    reader = backup_reader.BackupReader(
        storage.load(conf, storage_driver, trust_id=trust_id),
        encryption.make_codec(conf),
        parallel=conf.agent.parallel_uploads)
    manifests = reader.chain(container, backup_id, checksum)
    containers = [container]
    for manifest in reversed(manifests[1:]):
        containers.append(manifest.get('parent_container') or containers[-1])
    containers.reverse()
    for manifest in manifests:
        if manifest.get('datastore') not in (None, datastore.name):
            raise datastore_base.DatastoreError(
                reason='Backup %s is a %s backup; this agent restores %s.'
                       % (manifest['backup_id'], manifest['datastore'],
                          datastore.name))
    pieces = [_piece(reader, where, manifest)
              for where, manifest in zip(containers, manifests)]
    if datastore.incremental == 'dedup':
        pieces = pieces[-1:]    # Each backup is complete by itself.
    return datastore.restore(pieces, target) or target


def _piece(reader, container, manifest):
    def members():
        for member in manifest['members']:
            yield member['name'], reader.member_chunks(container, member)
    return datastore_base.RestorePiece(manifest['backup_id'],
                                       manifest['metadata'], members)
