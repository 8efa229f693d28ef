"""The app's long-lived objects and memoised media, shared by every session of the server.

The engine is one cached resource (a pool per process); media views and figures are cached per
item, so a rerun that changes only an edit box costs no file reads and no figure building.
"""

from __future__ import annotations

import functools
import os

import streamlit as st
from sqlalchemy import Engine

from annotator import figures, media
from store.settings import Settings, load_settings


def settings() -> Settings:
    """The settings of the current environment (read again only when a LOUPE_ variable changes)."""
    return _settings(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("LOUPE_"))))


@functools.lru_cache(maxsize=8)
def _settings(_environment: tuple[tuple[str, str], ...]) -> Settings:
    return load_settings()


def engine(url: str | None = None) -> Engine:
    """One engine (and connection pool) per database URL for the whole server."""
    return _engine(url or settings().database_url)


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    from store import schema
    from store.engine import make_engine

    engine = make_engine(url)
    schema.require_current(engine)
    return engine


def stamp(path: str) -> tuple[int, int]:
    """Size and modification time of a media file: part of every cache key, so a file that
    changed is read again and one that is gone fails now, not from a stale cache.

    Raises
    ------
    MediaError
        The file does not exist (any more).
    """
    try:
        status = os.stat(path)
    except OSError as e:
        raise media.MediaError(f"{path}: the file is gone ({e.strerror.lower()})") from e
    return status.st_size, status.st_mtime_ns


def audio_figure(path: str, start_s: float, end_s: float, audio_settings: dict) -> dict:
    """The item's waveform + spectrogram figure as a dict, without span shapes."""
    return _audio_figure(path, stamp(path), start_s, end_s, audio_settings)


@st.cache_data(max_entries=256, show_spinner=False)
def _audio_figure(
    path: str, version: tuple[int, int], start_s: float, end_s: float, audio_settings: dict
) -> dict:
    from learner.preprocess.audio import AudioConfig

    config = AudioConfig.from_dict(audio_settings)
    view = media.audio_view(
        path,
        start_s,
        end_s,
        sample_rate=config.sample_rate,
        n_mels=config.n_mels,
        n_fft=config.n_fft,
        hop_length=config.hop_length,
    )
    return figures.audio_figure(view)


def segment_wav(path: str, start_s: float, end_s: float) -> bytes:
    return _segment_wav(path, stamp(path), start_s, end_s)


@st.cache_data(max_entries=128, show_spinner=False)
def _segment_wav(path: str, version: tuple[int, int], start_s: float, end_s: float) -> bytes:
    return media.segment_wav(path, start_s, end_s)


def spectrum_figure(
    path: str, position: int | None, spectrum_settings: dict
) -> tuple[dict, float, float]:
    return _spectrum_figure(path, stamp(path), position, spectrum_settings)


@st.cache_data(max_entries=256, show_spinner=False)
def _spectrum_figure(
    path: str, version: tuple[int, int], position: int | None, spectrum_settings: dict
) -> tuple[dict, float, float]:
    view = media.spectrum_view(path, position, spectrum_settings)
    return figures.spectrum_figure(view), float(view.raw_axis[0]), float(view.raw_axis[-1])


def crop_image(path: str, kind: str, member: str | None, position: int | None, size: int) -> bytes:
    """One crop as a PNG ``size`` pixels wide, pixels kept sharp."""
    return _crop_image(path, stamp(path), kind, member, position, size)


@st.cache_data(max_entries=256, show_spinner=False)
def _crop_image(
    path: str,
    version: tuple[int, int],
    kind: str,
    member: str | None,
    position: int | None,
    size: int,
) -> bytes:
    return media.thumbnail(media.crop_bytes(path, kind, member, position), size)


def crop_page(refs: tuple[tuple[str, str, str | None, int | None], ...], size: int) -> list:
    """Thumbnails (PNG bytes) of a page of crops; a crop that cannot be read gives its error."""
    stamps = []
    for path in sorted({ref[0] for ref in refs}):
        try:
            stamps.append((path, stamp(path)))
        except media.MediaError:
            stamps.append((path, (-1, -1)))
    return _crop_page(refs, tuple(stamps), size)


@st.cache_data(max_entries=64, show_spinner=False)
def _crop_page(
    refs: tuple[tuple[str, str, str | None, int | None], ...],
    versions: tuple,
    size: int,
) -> list:
    return [
        blob if isinstance(blob, media.MediaError) else media.thumbnail(blob, size)
        for blob in media.crop_page(list(refs))
    ]
