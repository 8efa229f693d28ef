"""Every table of the store; importing this module registers them all on ``Base.metadata``."""

from store.models.access import AccessRefusal
from store.models.annotation import ACTIONS, Annotation, LabelIssue, Lease
from store.models.deletion import REMOVABLE, AnnotationDeletePermit, Deletion
from store.models.job import Job
from store.models.model_version import ModelVersion, Suggestion
from store.models.project import MODALITIES, Project, User
from store.models.signin import SignInThrottle, UserIdentity
from store.models.snapshot import Snapshot, SnapshotEntry
from store.models.source import IngestError, Item, Source

__all__ = [
    "ACTIONS",
    "AccessRefusal",
    "MODALITIES",
    "REMOVABLE",
    "Annotation",
    "AnnotationDeletePermit",
    "Deletion",
    "IngestError",
    "Item",
    "Job",
    "LabelIssue",
    "Lease",
    "ModelVersion",
    "Project",
    "SignInThrottle",
    "Snapshot",
    "SnapshotEntry",
    "Source",
    "Suggestion",
    "User",
    "UserIdentity",
]
