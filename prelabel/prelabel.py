"""``loupe prelabel``: a model version's calibrated suggestions for every item that lacks one.

A bounded pipeline: a reader thread pages through pending items and builds their features
(decode, log-mel, spectrum preprocessing: numpy, OpenCV and libsndfile release the GIL), while the
main thread runs the forward pass and writes each batch in one transaction. A killed run loses
at most the batches in flight; the next run starts from what is still pending.

The same forward pass gives each item its penultimate embedding (stored as float16 for the
``diverse`` strategy) and, through Monte-Carlo dropout on the head (``learner.embeddings``), its
BALD score; the suggestion's queue priority follows the project's strategy
(``prelabel.ranking``). A project without any active model gets a cold-start ranking instead.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tqdm import tqdm

from learner import calibration, scores, strategies
from learner.embeddings import HeadDropout, compact, encode_embeddings, forward_with_embeddings
from learner.featurise import ItemRef, featurise
from learner.formats.crops import OpenStores
from prelabel import ranking
from prelabel.jobs import JobRecorder
from store import catalog
from store.engine import transaction
from store.errors import NotFoundError
from store.jobs import DEFAULT_STALE_AFTER_S
from store.models import ModelVersion
from store.projects import get_project
from store.queue import close_done, draw_missing_random_keys
from store.suggestions import (
    PendingItem,
    SuggestionRow,
    count_pending,
    count_suggested,
    insert_suggestions,
    iter_pending,
    model_version_for,
)

FORWARD_CHUNK = 256
"""Items per forward call; the batch (and its transaction) may be larger."""

QUEUE_DEPTH = 3
"""Batches featurised ahead of the model: enough to hide decode time, bounded in memory."""


@dataclass
class _Batch:
    items: list[PendingItem]
    x: np.ndarray
    kept: np.ndarray
    failures: list[tuple[int, str]]


def run_prelabel(
    engine: Engine,
    project_name: str,
    *,
    version_id: int | None = None,
    batch_size: int = 1024,
    limit: int | None = None,
    device: str = "auto",
    progress: bool = True,
    threads: int | None = None,
    stale_after_s: float = DEFAULT_STALE_AFTER_S,
) -> dict:
    """Suggest labels for every pending item of the project; returns counts and throughput.

    A rerun after a killed run takes over the killed job (``stale_after_s`` is the stale
    threshold of job heartbeats) and reports, under ``"done_before"``, the items that already
    had the version's suggestion, and under ``"took_over"`` the ids of the jobs it replaced.

    Without ``version_id`` and without an active model version, nothing is suggested: audio
    projects get their segments proposed, and every project gets a cold-start ranking
    (:func:`prelabel.ranking.rank_cold_start`), reported under ``"cold_start"`` with
    ``"model_version": None``.

    Raises
    ------
    store.errors.NotFoundError
        Unknown project, or a ``version_id`` that is not one of the project's versions.
    """
    from learner.checkpoint import load_model
    from learner.networks import pick_device

    with transaction(engine) as session:
        project = get_project(session, project_name)
    proposals = None
    if project.modality == "audio":
        from prelabel.proposals import propose_segments

        proposals = propose_segments(engine, project, progress=progress)
    version: ModelVersion | None
    with transaction(engine) as session:
        try:
            version = model_version_for(session, project.id, version_id)
        except NotFoundError:
            if version_id is not None:
                raise
            version = None
        if version is not None:
            draw_missing_random_keys(session, project.id)  # the random strategy's priorities
            total = count_pending(session, project.id, version.id)
            done_before = count_suggested(session, project.id, version.id)
    if version is None:  # no model yet: proposals and a cold-start order are the whole run
        cold = ranking.rank_cold_start(engine, project.name, progress=progress)
        return {
            "model_version": None,
            "items": 0,
            "suggestions": 0,
            "failures": cold["failures"],
            "seconds": cold["seconds"],
            "items_per_s": 0.0,
            "proposals": proposals,
            "cold_start": cold,
        }
    total = min(total, limit) if limit is not None else total
    model, meta = load_model(Path(version.checkpoint_uri), version.checkpoint_sha256)
    target = pick_device(device)
    model = model.to(target).eval()
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    classes = meta["classes"]
    temperature = version.temperature or 1.0
    strategy = ranking.project_strategy(project.settings)
    ranking.check_strategy(strategy)
    head_dropout = HeadDropout.of(model)
    job = JobRecorder.start(
        engine,
        project.id,
        "prelabel",
        {
            "model_version": version.id,
            "batch_size": batch_size,
            "limit": limit,
            "device": str(target),
        },
        stale_after_s=stale_after_s,
    )
    job.total(total)
    batches: queue.Queue[_Batch | BaseException | None] = queue.Queue(maxsize=QUEUE_DEPTH)
    stop = threading.Event()
    reader = threading.Thread(
        target=_read_batches,
        args=(
            engine,
            project.id,
            project.modality,
            project.settings,
            version.id,
            batch_size,
            total,
            batches,
            stop,
        ),
        daemon=True,
    )
    written = failed = 0
    started = time.perf_counter()
    bar = tqdm(total=total, unit="item", desc=f"prelabel {project.name}", disable=not progress)
    reader.start()
    try:
        while (batch := batches.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            rows = _suggestions(model, target, batch, classes, temperature, strategy, head_dropout)
            with transaction(engine) as session:
                written += insert_suggestions(session, version.id, rows)
                for index, reason in batch.failures:
                    item = batch.items[index]
                    catalog.record_ingest_error(
                        session,
                        project.id,
                        item.source_uri,
                        reason,
                        member=ranking.item_locator(item),
                        item_id=item.item_id,
                    )
            failed += len(batch.failures)
            bar.update(len(batch.items))
            job.advance(len(batch.items))
        seconds = time.perf_counter() - started
        with transaction(engine) as session:  # items already labelled leave the review queue
            closed = close_done(session, version.id)
        block = ranking.diverse_block(engine, project.name) if strategy == "diverse" else 0
    except BaseException as e:
        stop.set()
        job.fail(e)
        raise
    finally:
        stop.set()
        bar.close()
    result = {
        "model_version": version.id,
        "items": written + failed,
        "suggestions": written,
        "failures": failed,
        "seconds": seconds,
        "items_per_s": (written + failed) / seconds if seconds > 0 else 0.0,
        "done_before": done_before,
        "job_id": job.id,
        "took_over": job.taken_over,
        "proposals": proposals,
        "closed_as_done": closed,
        "strategy": strategy,
        "diverse_block": block,
    }
    job.finish(result)
    return result


def _read_batches(
    engine: Engine,
    project_id: int,
    modality: str,
    settings: dict,
    version_id: int,
    batch_size: int,
    total: int,
    out: queue.Queue,
    stop: threading.Event,
) -> None:
    """Producer: stream the pending items by id and featurise them a batch at a time."""
    stores = OpenStores()  # each HDF5 file is opened once by this reader
    try:
        with Session(engine) as session, session.begin():
            for items in iter_pending(
                session, project_id, version_id, batch_size=batch_size, limit=total
            ):
                if stop.is_set():
                    break
                refs = [
                    ItemRef(i.source_uri, i.source_kind, i.member, i.position, i.start_s, i.end_s)
                    for i in items
                ]
                features = featurise(modality, refs, settings, stores)
                _put(out, _Batch(items, features.x, features.kept, features.failures), stop)
        _put(out, None, stop)
    except BaseException as e:  # handed to the main thread, which owns the job row
        _put(out, e, stop)
    finally:
        stores.close()


def _put(out: queue.Queue, value: object, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            out.put(value, timeout=0.2)
            return
        except queue.Full:
            continue


def _suggestions(
    model,
    device,
    batch: _Batch,
    classes: list[str],
    temperature: float,
    strategy: str = strategies.DEFAULT_STRATEGY,
    head_dropout: HeadDropout | None = None,
) -> list[SuggestionRow]:  # type: ignore[no-untyped-def]
    """Suggestion rows of a batch: calibrated probabilities and scores, BALD from Monte-Carlo
    dropout on the head, the float16 embedding, and the priority under ``strategy``."""
    import torch

    if len(batch.kept) == 0:
        return []
    head_dropout = head_dropout or HeadDropout.of(model)
    logits, embeddings, passes = [], [], []
    with torch.inference_mode():
        # forward in chunks: a 1024-item conv buffer is re-mapped and page-faulted by glibc on
        # every call, a 256-item one is reused (lenet5 on 2 cores: ~15k/s -> ~32k/s alone)
        for start in range(0, len(batch.x), FORWARD_CHUNK):
            x = torch.as_tensor(batch.x[start : start + FORWARD_CHUNK, None], device=device)
            chunk_logits, chunk_embeddings = forward_with_embeddings(model, x)
            logits.append(chunk_logits.double().cpu().numpy())
            passes.append(head_dropout.probabilities(chunk_embeddings, temperature))
            embeddings.append(chunk_embeddings.float().cpu().numpy())
    probabilities = calibration.softmax(np.concatenate(logits), temperature)
    confidence = scores.confidence(probabilities)
    margin = scores.margin(probabilities)
    entropy = scores.entropy(probabilities)
    bald = strategies.bald(np.concatenate(passes, axis=1))
    items = [batch.items[index] for index in batch.kept.tolist()]
    priority = ranking.priorities(
        strategy,
        confidence=confidence,
        margin=margin,
        entropy=entropy,
        bald=bald,
        random_key=[np.nan if i.random_key is None else i.random_key for i in items],
    )
    labels = [classes[i] for i in probabilities.argmax(axis=1).tolist()]
    columns = zip(
        items,
        labels,
        np.round(probabilities, 6).tolist(),
        confidence.tolist(),
        margin.tolist(),
        entropy.tolist(),
        bald.tolist(),
        priority.tolist(),
        encode_embeddings(compact(np.concatenate(embeddings))),
        strict=True,
    )
    return [
        SuggestionRow(
            item.item_id,
            label,
            row,
            confidence,
            margin,
            entropy,
            item.start_s,
            item.end_s,
            bald=bald,
            priority=priority,
            embedding=embedding,
        )
        for item, label, row, confidence, margin, entropy, bald, priority, embedding in columns
    ]
