"""Loupe's settings: one typed object, read once at the edges and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_database_url() -> str:
    """A SQLite file ``loupe.db`` in the current working directory."""
    return f"sqlite:///{Path.cwd() / 'loupe.db'}"


class Settings(BaseSettings):
    """Every setting Loupe reads from its environment (prefix ``LOUPE_``)."""

    model_config = SettingsConfigDict(env_prefix="LOUPE_", extra="ignore")

    database_url: str = Field(default_factory=default_database_url)
    """SQLAlchemy URL of the store. ``postgresql://`` URLs use psycopg 3."""

    media_root: Path | None = None
    """Where relative source paths are resolved; the working directory when unset."""

    derived_dir: Path = Path("loupe-derived")
    """Where media derived from sources (crops extracted from videos) is written."""

    models_dir: Path = Path("loupe-models")
    """Where checkpoints and evaluation reports are written."""

    batch_size: int = 5000
    """Rows written per transaction by bulk jobs (ingest, prelabel)."""


def load_settings(**overrides: object) -> Settings:
    """Read the settings from the environment, with explicit values taking precedence."""
    values = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**values)
