"""Snapshot references: the one reading of what a user typed to name a snapshot.

A snapshot's name is unique within its project only (every project has its ``s1``), so a
reference is read in this order:

- ``PROJECT:NAME`` (or ``PROJECT:ID``) names the project outright;
- a bare number is the snapshot's id, unique across projects (it is what ``loupe snapshot``
  prints); names are never all digits, so a number cannot also be a name;
- a bare name is looked up in the given project, or, without one, across projects, where
  more than one match is an :class:`~store.errors.AmbiguousError` listing the projects.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import AmbiguousError, NotFoundError, ValidationError
from store.models import Project, Snapshot
from store.projects import get_project

SEPARATOR = ":"


def check_snapshot_name(name: str) -> str:
    """``name`` if it can be told apart from an id and from a project prefix.

    Raises
    ------
    ValidationError
        The name is empty, all digits, or holds the separator.
    """
    if not name or name.isdigit() or SEPARATOR in name:
        raise ValidationError(
            f"cannot name a snapshot {name!r}: a name needs a letter and no {SEPARATOR!r} "
            "(a bare number means a snapshot id)"
        )
    return name


def snapshot_ref(project_name: str, snapshot_name: str) -> str:
    """The reference that names this snapshot and no other: ``PROJECT:NAME``."""
    return f"{project_name}{SEPARATOR}{snapshot_name}"


def resolve_snapshot(session: Session, ref: str | int, project: str | None = None) -> Snapshot:
    """The snapshot ``ref`` names, within ``project`` when one is given.

    Raises
    ------
    NotFoundError
        No such project or snapshot, or the snapshot belongs to another project.
    AmbiguousError
        A bare name that more than one project uses, and no project given.
    ValidationError
        ``PROJECT:NAME`` and a different ``project``.
    """
    ref = str(ref).strip()
    if SEPARATOR in ref:
        named, _, ref = ref.rpartition(SEPARATOR)
        if project is not None and project != named:
            raise ValidationError(
                f"the reference names project {named!r} but --project says {project!r}"
            )
        project = named
    project_id = None if project is None else get_project(session, project).id
    if ref.isdigit():
        return _by_id(session, int(ref), project)
    query = select(Snapshot, Project.name).join(Project, Project.id == Snapshot.project_id)
    query = query.where(Snapshot.name == ref)
    if project_id is not None:
        query = query.where(Snapshot.project_id == project_id)
    found = session.execute(query.order_by(Project.name)).all()
    if len(found) == 1:
        return found[0][0]
    if not found:
        where = "" if project is None else f" in project {project!r}"
        raise NotFoundError(f"no snapshot {ref!r}{where}")
    projects = [name for _, name in found]
    raise AmbiguousError(
        f"snapshot {ref!r} exists in more than one project ({', '.join(projects)}): name one, "
        f"as {snapshot_ref(projects[0], ref)} or {ref} --project {projects[0]}",
        ref=ref,
        projects=projects,
    )


def _by_id(session: Session, snapshot_id: int, project: str | None) -> Snapshot:
    row = session.execute(
        select(Snapshot, Project.name)
        .join(Project, Project.id == Snapshot.project_id)
        .where(Snapshot.id == snapshot_id)
    ).first()
    if row is None:
        raise NotFoundError(f"no snapshot with id {snapshot_id}")
    snapshot, owner = row
    if project is not None and owner != project:
        raise NotFoundError(
            f"snapshot id {snapshot_id} is {snapshot_ref(owner, snapshot.name)}, "
            f"not a snapshot of project {project!r}"
        )
    return snapshot
