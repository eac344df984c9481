"""What the API and the worker need to know about database instances."""

import abc
import dataclasses

ACTIVE = 'ACTIVE'
# Statuses in which a backup can be taken, as in Trove.
BACKUP_READY_STATUSES = frozenset((ACTIVE, 'HEALTHY'))


@dataclasses.dataclass(frozen=True)
class Instance:
    id: str
    name: str
    project_id: str
    datastore: str
    datastore_version: str
    datastore_version_id: str
    status: str

    @property
    def can_back_up(self):
        return self.status in BACKUP_READY_STATUSES


class InstanceSource(abc.ABC):
    """Base of the plugins in the trove_backup_ext.instance_sources
    namespace. Sources are read-only."""

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def get_instance(self, context, instance_id):
        """The Instance, whatever its project, or raise InstanceNotFound.

        Deleted instances are not found.
        """

    @abc.abstractmethod
    def datastore_exists(self, context, datastore):
        """Whether datastore names a datastore type this source knows."""
