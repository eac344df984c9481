"""Base of the storage drivers (namespace trove_backup_ext.storage).

A driver keeps named objects in containers. Objects are small (a few MiB
of packed chunks, or a manifest): the pipeline splits backups, so a driver
never sees a whole backup and never a database.
"""

import abc


class StorageError(Exception):
    """Storage could not be reached or refused an operation."""


class ObjectNotFound(StorageError):
    pass


class CredentialRefused(StorageError):
    """The credential itself was refused: the identity service would not
    authenticate it (401, 403, or 404: a trust or application credential
    deleted, expired, or whose owner lost the role), or the store refused
    its token (401, 403). Trying again with the same credential does not
    help until someone restores it."""


class Storage(abc.ABC):
    """One storage back end, configured from the plugin's ConfigOpts.

    Methods may be called from several threads at once.
    """

    name = None

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def ensure_container(self, container):
        """Create the container if it does not exist."""

    @abc.abstractmethod
    def put_object(self, container, name, data):
        """Store bytes as an object, replacing any of the same name.

        A reader never sees a partly written object.
        """

    @abc.abstractmethod
    def get_object(self, container, name):
        """The object's bytes; raise ObjectNotFound if it does not exist."""

    def get_object_range(self, container, name, offset, length):
        """length bytes of the object from offset (fewer if it ends
        first); raise ObjectNotFound if it does not exist."""
        return self.get_object(container, name)[offset:offset + length]

    def flush(self, container):
        """Make the objects put so far durable.

        Called before a manifest is put, which must never be stored
        while the chunks it names could still be lost: a driver whose
        put_object is durable at once has nothing to do.
        """

    @abc.abstractmethod
    def delete_object(self, container, name):
        """Delete the object; an absent object is not an error."""

    @abc.abstractmethod
    def list_objects(self, container, prefix=''):
        """Sorted names of the container's objects starting with prefix."""

    def list_containers(self):
        """Sorted names of the containers of the service's own store
        (trove-backup-manage storage audit); NotImplementedError if the
        driver cannot list them."""
        raise NotImplementedError()

    @abc.abstractmethod
    def object_url(self, container, name):
        """Where the object is, as shown to users (locationRef)."""

    def delete_prefix(self, container, prefix):
        """Delete every object whose name starts with prefix.

        Nothing else of the container is touched, and the cost depends
        on the prefix's objects only: other backups are written into
        the same container meanwhile, and a put never fails because of
        a deletion under another prefix.
        """
        for name in self.list_objects(container, prefix):
            self.delete_object(container, name)
