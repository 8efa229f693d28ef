"""Audio event proposals: recordings have no items until something finds their events.

The detector runs once per recording and detector configuration (remembered in the source's
metadata); its segments become items of origin ``proposal``, except where a segment overlaps one
a person (or an imported label) already marked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import Engine, select, update
from tqdm import tqdm

from learner.events import DetectorConfig, detect_events_in_file
from store import catalog
from store.catalog import ItemRow
from store.engine import transaction
from store.models import Item, Project, Source


def detector_config(project: Project) -> DetectorConfig:
    return DetectorConfig.from_dict(project.settings.get("detector"))


def _fingerprint(config: DetectorConfig) -> str:
    text = json.dumps(config.as_dict(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def propose_segments(engine: Engine, project: Project, *, progress: bool = False) -> dict:
    """Detect events in every recording not yet scanned with this configuration.

    Returns counts: recordings scanned, proposals added, proposals dropped for overlapping an
    existing segment, recordings that failed (recorded as ingest errors).
    """
    config = detector_config(project)
    fingerprint = _fingerprint(config)
    with transaction(engine) as session:
        sources = [
            (s.id, s.uri)
            for s in session.scalars(
                select(Source).where(Source.project_id == project.id, Source.kind == "recording")
            )
            if s.meta.get("proposals") != fingerprint
        ]
    counts = {"recordings_scanned": 0, "proposals": 0, "overlapping_dropped": 0, "failures": 0}
    for source_id, uri in tqdm(sources, unit="recording", desc="proposals", disable=not progress):
        try:
            spans = detect_events_in_file(Path(uri), config)
        except (OSError, ValueError, RuntimeError) as e:
            with transaction(engine) as session:
                catalog.record_ingest_error(
                    session, project.id, uri, f"event detection failed: {e}"
                )
            counts["failures"] += 1
            continue
        with transaction(engine) as session:
            source = session.get(Source, source_id)
            marked = session.execute(
                select(Item.start_s, Item.end_s).where(
                    Item.source_id == source_id,
                    Item.origin != "proposal",
                    Item.start_s.is_not(None),
                )
            ).all()
            fresh = [(a, b) for a, b in spans if not any(a < e and s < b for s, e in marked)]
            counts["overlapping_dropped"] += len(spans) - len(fresh)
            rows = [ItemRow(f"proposal:{a:.6f}-{b:.6f}", None, None, a, b) for a, b in fresh]
            counts["proposals"] += catalog.insert_items(session, source, rows, origin="proposal")
            session.execute(
                update(Source)
                .where(Source.id == source_id)
                .values(meta=dict(source.meta) | {"proposals": fingerprint})
            )
        counts["recordings_scanned"] += 1
    return counts
