"""Loupe's settings: one typed object, read once at the edges and passed down."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from store.accounts import SCRYPT_N, set_work_factor
from store.errors import ValidationError
from store.jobs import DEFAULT_STALE_AFTER_S
from store.throttle import ThrottlePolicy

DEFAULT_LOOP_AFTER_ANNOTATIONS = 200


def default_database_url() -> str:
    """A SQLite file ``loupe.db`` in the current working directory."""
    return f"sqlite:///{Path.cwd() / 'loupe.db'}"


class Settings(BaseSettings):
    """Every setting Loupe reads from its environment (prefix ``LOUPE_``)."""

    model_config = SettingsConfigDict(env_prefix="LOUPE_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    """SQLAlchemy URL of the store. ``postgresql://`` URLs use psycopg 3."""

    app_db_password: SecretStr | None = None
    """Password ``loupe db upgrade --app-role`` gives the application's PostgreSQL role (read
    only by that owner-side command; the app itself connects with ``database_url``)."""

    media_root: Path | None = None
    """Where relative source paths are resolved; the working directory when unset."""

    media_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    """Folders outside the ingested one that files named by an index or labels CSV, or linked
    from an ingested folder, may lie in (``LOUPE_MEDIA_ROOTS``: a JSON list, or paths joined by
    ``:``). Anything else outside the ingested folder is refused. Empty by default."""

    @field_validator("media_roots", mode="before")
    @classmethod
    def _split_media_roots(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(os.pathsep) if part.strip()]
        return value

    derived_dir: Path = Path("loupe-derived")
    """Where media derived from sources (crops extracted from videos) is written."""

    models_dir: Path = Path("loupe-models")
    """Where checkpoints and evaluation reports are written."""

    batch_size: int = 5000
    """Rows written per transaction by bulk jobs (ingest, prelabel)."""

    lease_minutes: float = 15.0
    """How long an item shown to one annotator is kept from the others."""

    grid_rows: int = 6
    grid_columns: int = 8
    """Shape of a page of the crop review grid."""

    auth_provider: str | None = None
    """OpenID Connect provider for ``st.login``, configured under ``[auth]`` in Streamlit's
    ``secrets.toml`` (``default`` for a single provider, else the name of its section). Unset:
    local accounts only."""

    oidc_new_accounts: Literal["create", "refuse"] = "create"
    """What a first OpenID Connect sign-in (an issuer and subject no account is linked to) does:
    ``create`` a new annotator account under a name no one else has, or ``refuse`` it until an
    admin links the identity with ``loupe user link``."""

    sign_in_max_failures: int = Field(default=5, ge=1)
    """Failed sign-ins in a row that lock an account name, or a client, out."""

    sign_in_backoff_s: float = Field(default=1.0, gt=0.0)
    """Wait after the second failed sign-in in a row (the first is free: most are typos); it
    doubles with each further failure."""

    sign_in_lockout_minutes: float = Field(default=15.0, gt=0.0)
    """How long a lockout lasts unless an admin ends it (``loupe user unlock``)."""

    password_work_factor: int = Field(default=SCRYPT_N, ge=2)
    """scrypt's N for new password hashes (a power of two). Keep the default, which follows
    current guidance; tests lower it to stay fast."""

    timing_log: Path | None = None
    """If set, the annotator appends the server time of every action to this file (CSV)."""

    loop_after_annotations: int = Field(default=DEFAULT_LOOP_AFTER_ANNOTATIONS, ge=0)
    """``loupe run-scheduled`` runs the loop for a project once this many human annotations
    (accept, edit, add, reject; not imports) arrived since the start of its last loop; 0 never.
    A project's own ``loop.after_annotations`` setting takes precedence."""

    loop_pseudo_labels: bool = False
    """Whether the loop's snapshot adds pseudo-labels, for projects that do not say."""

    pseudo_target_error: float = Field(default=0.02, gt=0.0, lt=1.0)
    """Estimated error that accepted pseudo-labels must stay under, for projects that do not
    say."""

    job_stale_after_s: float = Field(default=DEFAULT_STALE_AFTER_S, gt=0.0)
    """A running job without a heartbeat for this long was killed: it is shown as
    ``interrupted`` and the next job of its kind takes it over. Jobs beat several times within
    it, so every process that runs or reads jobs should see the same value."""

    @field_validator("password_work_factor")
    @classmethod
    def _power_of_two(cls, n: int) -> int:
        if n & (n - 1):
            raise ValueError("scrypt's N must be a power of two")
        return n

    def throttle_policy(self) -> ThrottlePolicy:
        return ThrottlePolicy(
            max_failures=self.sign_in_max_failures,
            backoff_s=self.sign_in_backoff_s,
            lockout_s=self.sign_in_lockout_minutes * 60.0,
        )


class LoopSettings(BaseModel):
    """A project's own loop options, kept under ``settings["loop"]`` of the project; an unset
    one falls back to :class:`Settings` (or the command's flag, which beats both)."""

    model_config = ConfigDict(extra="forbid")

    after_annotations: int | None = Field(default=None, ge=0)
    """Human annotations that make a scheduled pass run the loop; 0 never."""
    pseudo_labels: bool | None = None
    target_error: float | None = Field(default=None, gt=0.0, lt=1.0)
    cap_per_class: int | None = Field(default=None, ge=0)
    label_review: bool | None = None
    """Review human labels after training; unset: when every class has enough labels."""
    min_macro_f1: float | None = Field(default=None, ge=0.0, le=1.0)
    """The gate on the test macro-F1 a new version must reach to become active."""


def loop_settings(project_settings: dict) -> LoopSettings:
    """The loop options stored with a project.

    Raises
    ------
    ValidationError
        An unknown option or a value out of range.
    """
    try:
        return LoopSettings.model_validate(project_settings.get("loop") or {})
    except PydanticValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
        )
        raise ValidationError(f"bad loop settings: {problems}") from None


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with explicit values taking precedence."""
    values = {key: value for key, value in overrides.items() if value is not None}
    settings = Settings(**values)
    # Every process reads its settings here first, so this is where hashing learns its cost.
    set_work_factor(settings.password_work_factor)
    return settings
