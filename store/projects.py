"""Repository functions for projects and users. They flush, never commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from store.errors import DuplicateError, NotFoundError, ValidationError
from store.models import MODALITIES, Project, User

IMPORT_USER = "import"
"""The user that owns labels which came in with the data."""

DEFAULT_LABEL_PREFIXES = {"sta-": "stable", "wea-": "weathered"}


def create_project(
    session: Session,
    name: str,
    modality: str,
    classes: list[str],
    settings: dict | None = None,
) -> Project:
    """Create a project.

    Raises
    ------
    ValidationError
        Unknown modality, no classes, or repeated class names.
    DuplicateError
        A project of that name exists.
    """
    name = name.strip()
    if not name:
        raise ValidationError("a project needs a name")
    if modality not in MODALITIES:
        raise ValidationError(
            f"unknown modality {modality!r}: choose one of {', '.join(MODALITIES)}"
        )
    classes = [c.strip() for c in classes if c.strip()]
    if not classes:
        raise ValidationError("a project needs at least one class (--classes a,b,...)")
    repeated = sorted({c for c in classes if classes.count(c) > 1})
    if repeated:
        raise ValidationError(f"classes named more than once: {', '.join(repeated)}")
    settings = dict(settings or {})
    if modality == "spectrum" and "label_prefixes" not in settings:
        settings["label_prefixes"] = {
            prefix: label for prefix, label in DEFAULT_LABEL_PREFIXES.items() if label in classes
        }
    project = Project(name=name, modality=modality, classes=classes, settings=settings)
    session.add(project)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as e:
        raise DuplicateError(f"a project named {name!r} already exists") from e
    return project


def get_project(session: Session, name: str) -> Project:
    """The project called ``name``.

    Raises
    ------
    NotFoundError
        With the names that do exist.
    """
    project = session.scalar(select(Project).where(Project.name == name))
    if project is None:
        known = ", ".join(p.name for p in list_projects(session)) or "none yet"
        raise NotFoundError(f"no project named {name!r} (projects: {known})")
    return project


def list_projects(session: Session) -> list[Project]:
    return list(session.scalars(select(Project).order_by(Project.name)))


def ensure_user(session: Session, name: str, role: str = "annotator") -> User:
    """The user called ``name``, created with ``role`` if new.

    For accounts Loupe itself names (``import``); never for sign-in, where a name chosen by the
    person could be someone else's (``store.identities`` finds those accounts)."""
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        user = User(name=name, role=role)
        session.add(user)
        session.flush()
    return user


def set_watched_folders(session: Session, project: Project, folders: list[str]) -> None:
    """Replace the folders a scheduled pass ingests new files from."""
    project.settings = dict(project.settings) | {"watch": sorted(set(folders))}
    session.flush()
