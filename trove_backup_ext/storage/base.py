"""Base of the storage drivers (namespace trove_backup_ext.storage).

A driver stores named objects in containers. It never sees a database: the
pipeline hands it bytes.
"""

import abc


class Storage(abc.ABC):

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def put_object(self, container, name, chunks):
        """Store the iterable of bytes chunks as one object; return its
        location (what the API shows as locationRef for a manifest)."""

    @abc.abstractmethod
    def get_object(self, container, name):
        """Yield the object's bytes in chunks; raise KeyError if absent."""

    @abc.abstractmethod
    def delete_object(self, container, name):
        """Delete the object; deleting an absent object is not an error."""

    @abc.abstractmethod
    def list_objects(self, container, prefix=''):
        """The names of the container's objects that start with prefix."""
