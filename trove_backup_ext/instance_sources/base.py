"""What the API and the worker need to know about database instances."""

import abc
import dataclasses
import datetime

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
    # When it was created (naive UTC): the instances list's order and
    # paging key, with id. None where a source does not know it.
    created: datetime.datetime = None
    # The status the host's own instances API shows, where it is not
    # status (Trove shows BACKUP, REBOOT...; status says whether a
    # backup can start).
    shown_status: str = None
    # The cluster it is a member of (Trove's clusters), or None. Trove
    # backs up and restores clusters as a whole, never one member.
    cluster_id: str = None

    @property
    def can_back_up(self):
        return (self.status in BACKUP_READY_STATUSES and
                self.cluster_id is None)


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

    def datastore_name(self, context, datastore):
        """The name of the datastore type that datastore names (a name,
        or an id where the source has ids, as Trove's Datastore.load
        takes either), or None if it knows none. Backups keep the name."""
        return datastore if self.datastore_exists(context, datastore) else None

    def list_instances(self, context, project_id, limit, after=None):
        """Up to limit Instances of project_id (every project if None),
        newest first by (created, id), strictly after the (created, id)
        given, and whether more follow. Not abstract, so that a source
        written before the instances list still loads; it then answers
        GET /instances with 501."""
        raise NotImplementedError()
