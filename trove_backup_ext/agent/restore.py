"""Restores a backup from storage into a target, verifying everything."""

from trove_backup_ext.agent import encryption
from trove_backup_ext.datastores import base as datastore_base
from trove_backup_ext.pipeline import reader as backup_reader
from trove_backup_ext import storage


def restore_backup(conf, datastore, storage_driver, container, backup_id,
                   target, checksum=None, trust_id=None, progress=None):
    """Restore backup_id (and, for native incrementals, its chain) into
    target; return where the data is (a file or the target directory).
    checksum, the manifest's sha256 the worker recorded, is checked when
    given. trust_id: the owner's trust, for a backup in its account.
    progress, an agent.progress.Progress, counts the plain bytes
    restored, out of the chain's total.
    Each backup of the chain is read with the key its manifest names,
    among the current and previous keys, or in clear."""
    pieces = restore_pieces(conf, datastore, storage_driver, container,
                            backup_id, checksum, trust_id, progress)
    return datastore.restore(pieces, target) or target


def restore_pieces(conf, datastore, storage_driver, container, backup_id,
                   checksum=None, trust_id=None, progress=None):
    """The RestorePieces a datastore restores backup_id from (see
    restore_backup); the last one's metadata is the backup's own."""
    reader = backup_reader.BackupReader(
        storage.load(conf, storage_driver, trust_id=trust_id),
        encryption.make_keyring(conf),
        parallel=conf.agent.parallel_uploads)
    # Read as streams: a manifest of millions of chunks is never held.
    chain = reader.stored_chain(container, backup_id, checksum)
    for stored in chain:
        if stored.fields.get('datastore') not in (None, datastore.name):
            raise datastore_base.DatastoreError(
                reason='Backup %s is a %s backup; this agent restores %s.'
                       % (stored.fields['backup_id'],
                          stored.fields['datastore'], datastore.name))
    if datastore.incremental == 'dedup':
        chain = chain[-1:]    # Each backup is complete by itself.
    members = [stored.members for stored in chain]
    if progress is not None:
        progress.total = sum(stored.fields.get('size') or 0
                             for stored in chain) or None
        members = [_counted(m, progress) for m in members]
    return [datastore_base.RestorePiece(stored.fields['backup_id'],
                                        stored.fields['metadata'], m)
            for stored, m in zip(chain, members)]


def _counted(members, progress):
    """members (a StoredBackup's), with each chunk counted in progress."""
    def counted_members():
        for name, chunks in members():
            yield name, _count(chunks, progress)
    return counted_members


def _count(chunks, progress):
    for chunk in chunks:
        progress.add(len(chunk))
        yield chunk
