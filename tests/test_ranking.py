"""The queue's order under the project's strategy: re-ranking, the diverse block, cold start."""

from __future__ import annotations

from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest
from sqlalchemy import Engine, select, update

from learner.embeddings import encode_embedding
from learner.synthetic.spectra import pseudo_voigt
from prelabel import ranking
from prelabel.ingest import ingest
from prelabel.prelabel import run_prelabel
from store import leases, queue
from store.accounts import add_user
from store.annotations import Action, record
from store.catalog import ItemRow, add_source, insert_items, item_ids
from store.engine import transaction
from store.errors import ValidationError
from store.models import IngestError, Item, ModelVersion, Project, Source, Suggestion, User
from store.suggestions import SuggestionRow, insert_suggestions

CLASSES = ["a", "b", "c"]


def plant(  # type: ignore[no-untyped-def]
    engine: Engine,
    make_project,
    columns: list[dict],
    *,
    embeddings: list[np.ndarray] | None = None,
    settings: dict | None = None,
) -> tuple[int, list[int], int]:
    """A crop project whose active version suggests one item per entry of ``columns``
    (confidence, margin, entropy, bald, and the item's random key)."""
    project_id = make_project("planted", "crop", CLASSES, settings)
    with transaction(engine) as session:
        source = add_source(session, project_id, "/data/planted.h5", "hdf5", "0" * 64, 1)
        rows = [ItemRow(f"crops[{i}]", "crops", i) for i in range(len(columns))]
        insert_items(session, source, rows)
        by_locator = item_ids(session, source.id)
        ids = [by_locator[row.locator] for row in rows]
        version = ModelVersion(
            project_id=project_id,
            arch="lenet5",
            checkpoint_uri="/m.pt",
            checkpoint_sha256="0" * 64,
            classes=CLASSES,
            status="active",
        )
        session.add(version)
        session.flush()
        insert_suggestions(
            session,
            version.id,
            [
                SuggestionRow(
                    item,
                    CLASSES[0],
                    [c["confidence"], 1 - c["confidence"], 0.0],
                    c["confidence"],
                    c["margin"],
                    c["entropy"],
                    bald=c.get("bald"),
                    embedding=None if embeddings is None else encode_embedding(embeddings[i]),
                )
                for i, (item, c) in enumerate(zip(ids, columns, strict=True))
            ],
        )
        for item, c in zip(ids, columns, strict=True):
            session.execute(update(Item).where(Item.id == item).values(random_key=c["key"]))
        user, _ = add_user(session, "alice", "annotator", None)
    return project_id, ids, user.id


# each strategy has its own planted winner
WINNERS = {"least-confidence": 0, "margin": 1, "entropy": 2, "bald": 3, "random": 4}
COLUMNS = [
    {"confidence": 0.50, "margin": 0.30, "entropy": 0.60, "bald": 0.05, "key": 0.90},
    {"confidence": 0.60, "margin": 0.01, "entropy": 0.65, "bald": 0.02, "key": 0.80},
    {"confidence": 0.70, "margin": 0.40, "entropy": 0.95, "bald": 0.01, "key": 0.70},
    {"confidence": 0.80, "margin": 0.60, "entropy": 0.40, "bald": 0.90, "key": 0.60},
    {"confidence": 0.90, "margin": 0.80, "entropy": 0.20, "bald": 0.00, "key": 0.05},
]


def first(engine: Engine, project_id: int, user_id: int, k: int = 1) -> list[int]:
    with transaction(engine) as session:
        items = [i.item_id for i in queue.next_items(session, project_id, user_id, k=k)]
        leases.release(session, user_id, items)
    return items


def test_each_strategy_serves_its_planted_item_first(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, alice = plant(engine, make_project, COLUMNS)
    for strategy, winner in WINNERS.items():
        result = ranking.set_strategy(engine, "planted", strategy)
        assert result["reranked"] == len(COLUMNS) and result["strategy"] == strategy
        assert first(engine, project_id, alice) == [ids[winner]], strategy


def test_rerank_writes_what_prelabel_would_write(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, ids, _ = plant(engine, make_project, COLUMNS)
    for strategy in ("least-confidence", "margin", "entropy", "bald", "random"):
        ranking.set_strategy(engine, "planted", strategy)
        with transaction(engine) as session:
            stored = dict(session.execute(select(Suggestion.item_id, Suggestion.priority)).all())
        expected = ranking.priorities(
            strategy,
            confidence=[c["confidence"] for c in COLUMNS],
            margin=[c["margin"] for c in COLUMNS],
            entropy=[c["entropy"] for c in COLUMNS],
            bald=[c["bald"] for c in COLUMNS],
            random_key=[c["key"] for c in COLUMNS],
        )
        assert [stored[i] for i in ids] == pytest.approx(expected.tolist()), strategy


def test_set_strategy_stores_the_strategy_and_the_audit_share(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    project_id, _, _ = plant(engine, make_project, COLUMNS)
    assert ranking.set_strategy(engine, "planted", "margin")["audit_share"] == 0.10
    ranking.set_strategy(engine, "planted", "bald", audit_share=0.25)
    ranking.set_strategy(engine, "planted", "entropy")  # the share stays as it was
    with transaction(engine) as session:
        settings = session.get(Project, project_id).settings
    assert (settings["strategy"], settings["audit_share"]) == ("entropy", 0.25)


def test_an_unknown_strategy_is_rejected_with_the_choices(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    plant(engine, make_project, COLUMNS)
    with pytest.raises(ValidationError, match="choose one of least-confidence, margin, entropy"):
        ranking.set_strategy(engine, "planted", "uncertainty")


@pytest.mark.parametrize("share", [-0.1, 1.5])
def test_an_audit_share_outside_zero_to_one_is_rejected(
    engine: Engine, make_project, share: float
) -> None:  # type: ignore[no-untyped-def]
    plant(engine, make_project, COLUMNS)
    with pytest.raises(ValidationError, match="audit share"):
        ranking.set_strategy(engine, "planted", "entropy", audit_share=share)


def test_rerank_without_a_model_changes_nothing(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    make_project("bare", "crop", CLASSES)
    result = ranking.set_strategy(engine, "bare", "bald")
    assert (result["model_version"], result["reranked"]) == (None, 0)


def clusters(n_per_cluster: list[int], seed: int = 0) -> tuple[list[np.ndarray], list[int]]:
    """Tight clusters of 8-d points around far-apart centres; cluster 0 listed first."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[: len(n_per_cluster)] * 20.0
    points, membership = [], []
    for cluster, n in enumerate(n_per_cluster):
        points += list(centres[cluster] + rng.normal(0, 0.3, size=(n, 8)))
        membership += [cluster] * n
    return points, membership


def test_the_diverse_block_is_spread_over_the_clusters(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    points, membership = clusters([150, 60, 60, 60])
    rng = np.random.default_rng(1)
    # cluster 0 is the most uncertain: plain entropy would fill the first page with it
    entropy = [0.9 + 0.1 * rng.random() if c == 0 else 0.5 * rng.random() for c in membership]
    columns = [
        {"confidence": 0.5, "margin": 0.1, "entropy": e, "bald": 0.0, "key": 0.5} for e in entropy
    ]
    project_id, ids, alice = plant(engine, make_project, columns, embeddings=points)
    cluster_of = dict(zip(ids, membership, strict=True))
    ranking.set_strategy(engine, "planted", "entropy")
    assert {cluster_of[i] for i in first(engine, project_id, alice, k=4)} == {0}
    result = ranking.set_strategy(engine, "planted", "diverse")
    assert result["diverse_block"] == ranking.DIVERSE_BLOCK
    page = first(engine, project_id, alice, k=4)
    assert sorted(cluster_of[i] for i in page) == [0, 1, 2, 3]
    assert cluster_of[page[0]] == 0 and entropy[ids.index(page[0])] > 0.9  # most uncertain first
    # after the block, the rest keep the entropy order
    with transaction(engine) as session:
        order = list(
            session.scalars(select(Suggestion.item_id).order_by(Suggestion.priority).offset(100))
        )
    rest = [entropy[ids.index(i)] for i in order]
    assert rest == sorted(rest, reverse=True)


def test_labelled_items_count_as_covered_by_the_diverse_block(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    points, membership = clusters([100, 50, 50, 50])
    columns = [
        {"confidence": 0.5, "margin": 0.1, "entropy": 1.0 if c == 0 else 0.5, "key": 0.5}
        for c in membership
    ]
    project_id, ids, alice = plant(engine, make_project, columns, embeddings=points)
    with transaction(engine) as session:  # one item of cluster 0 is labelled already
        project, user = session.get(Project, project_id), session.get(User, alice)
        record(session, project, user, [Action(ids[0], "accept", CLASSES[0])])
    ranking.set_strategy(engine, "planted", "diverse")
    cluster_of = dict(zip(ids, membership, strict=True))
    assert sorted(cluster_of[i] for i in first(engine, project_id, alice, k=3)) == [1, 2, 3]


def test_a_renewed_diverse_block_replaces_the_old_one(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    points, _ = clusters([100, 50, 50])
    columns = [
        {"confidence": 0.5, "margin": 0.1, "entropy": 1.0 - 0.001 * i, "key": 0.5}
        for i in range(len(points))
    ]
    project_id, ids, alice = plant(engine, make_project, columns, embeddings=points)
    ranking.set_strategy(engine, "planted", "diverse")
    before = first(engine, project_id, alice, k=5)
    assert ranking.diverse_block(engine, "planted") == ranking.DIVERSE_BLOCK
    floor = -np.log(len(CLASSES)) - 1
    with transaction(engine) as session:
        below = session.scalars(select(Suggestion.priority).where(Suggestion.priority < floor))
        assert len(list(below)) == ranking.DIVERSE_BLOCK  # the old block went back, not piled up
    assert first(engine, project_id, alice, k=5) == before  # the same input, the same block


# --- cold start ----------------------------------------------------------------------------


def planted_crops(folder: Path, sizes: list[int], seed: int = 0) -> list[int]:
    """An HDF5 store of 32 × 32 PNG crops in clusters: a small dot, a large disc, a horizontal
    bar, each anywhere in the crop (what it is matters, not where); returns each crop's
    cluster."""
    rng = np.random.default_rng(seed)
    images, membership = [], []
    for cluster, n in enumerate(sizes):
        for _ in range(n):
            image = rng.normal(20, 4, (32, 32))
            if cluster == 0:
                centre = rng.integers(4, 28, 2)
                cv2.circle(image, (int(centre[0]), int(centre[1])), 3, 230, -1)
            elif cluster == 1:
                centre = rng.integers(10, 22, 2)
                cv2.circle(image, (int(centre[0]), int(centre[1])), 9, 230, -1)
            else:
                row = int(rng.integers(2, 26))
                cv2.rectangle(image, (2, row), (29, row + 3), 230, -1)
            images.append(cv2.imencode(".png", np.clip(image, 0, 255).astype(np.uint8))[1])
            membership.append(cluster)
    order = rng.permutation(len(images))  # clusters interleaved in ingest order
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / "planted.h5", "w") as store:
        data = store.create_dataset("crops", (len(images),), dtype=h5py.vlen_dtype(np.uint8))
        for position, index in enumerate(order):
            data[position] = images[index]
    return [membership[i] for i in order]


def planted_spectra(folder: Path, sizes: list[int], seed: int = 0) -> dict[str, int]:
    """Two-column spectra, one band per cluster (600, 1450, 2900 cm⁻¹) on a sloping baseline;
    returns each file's cluster by name."""
    rng = np.random.default_rng(seed)
    axis = np.linspace(200.0, 3200.0, 800)
    folder.mkdir(parents=True, exist_ok=True)
    membership, number = {}, 0
    for cluster, n in enumerate(sizes):
        for _ in range(n):
            centre = (600.0, 1450.0, 2900.0)[cluster] + rng.normal(0, 5)
            intensity = 1000 * (
                pseudo_voigt(axis, centre, 15.0, 1.0, 0.5)
                + 0.0001 * (axis - 200)
                + rng.normal(0, 0.01, axis.size)
            )
            name = f"particle-{rng.integers(1_000_000):07d}-{number}.txt"
            np.savetxt(folder / name, np.column_stack([axis, intensity]), fmt="%.4f")
            membership[name] = cluster
            number += 1
    return membership


def ranked_clusters(engine: Engine, project: str, cluster_of) -> list[int]:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        rows = session.execute(
            select(Item.member, Item.position, Item.cold_rank)
            .join(Project, Project.id == Item.project_id)
            .where(Project.name == project, Item.cold_rank.is_not(None))
            .order_by(Item.cold_rank)
        ).all()
    return [cluster_of(member, position) for member, position, _ in rows]


def test_cold_start_ranks_one_crop_per_planted_cluster_first(
    engine: Engine, make_project, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    project_id = make_project("cold", "crop", ["x", "y"])
    membership = planted_crops(tmp_path / "crops", [30, 20, 12])
    ingest(engine, "cold", [tmp_path / "crops"], progress=False)
    result = ranking.rank_cold_start(engine, "cold", k=3)
    assert (result["pool"], result["ranked"], result["failures"]) == (62, 3, 0)
    clusters_first = ranked_clusters(engine, "cold", lambda _, position: membership[position])
    assert sorted(clusters_first) == [0, 1, 2]
    with transaction(engine) as session:  # the queue serves them first, without a model
        alice, _ = add_user(session, "alice", "annotator", None)
        positions = [i.position for i in queue.next_items(session, project_id, alice.id, k=3)]
    assert sorted(membership[p] for p in positions) == [0, 1, 2]


def test_cold_start_of_spectra_and_a_rerun_replaces_the_ranks(
    engine: Engine, make_project, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    make_project("cold", "spectrum", ["x", "y"])
    membership = planted_spectra(tmp_path / "spectra", [12, 8, 5])
    ingest(engine, "cold", [tmp_path / "spectra"], progress=False)
    ranking.rank_cold_start(engine, "cold", k=3)
    by_name = {}
    with transaction(engine) as session:
        for item_id, uri in session.execute(
            select(Item.id, Source.uri).join(Source, Source.id == Item.source_id)
        ):
            by_name[item_id] = membership[Path(uri).name]
        ranked = list(
            session.scalars(
                select(Item.id).where(Item.cold_rank.is_not(None)).order_by(Item.cold_rank)
            )
        )
    assert sorted(by_name[i] for i in ranked) == [0, 1, 2]
    again = ranking.rank_cold_start(engine, "cold")  # default: 10 per class
    assert again["ranked"] == 20
    with transaction(engine) as session:
        ranks = sorted(session.scalars(select(Item.cold_rank).where(Item.cold_rank.is_not(None))))
    assert ranks == list(range(20))


def test_cold_start_records_unreadable_crops_and_skips_them(
    engine: Engine, make_project, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    make_project("cold", "crop", ["x", "y"])
    planted_crops(tmp_path / "crops", [5, 5, 5])
    with h5py.File(tmp_path / "crops" / "bad.h5", "w") as store:
        data = store.create_dataset("bad", (1,), dtype=h5py.vlen_dtype(np.uint8))
        data[0] = np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)
    ingest(engine, "cold", [tmp_path / "crops"], progress=False)
    result = ranking.rank_cold_start(engine, "cold", k=3)
    assert (result["pool"], result["ranked"], result["failures"]) == (16, 3, 1)
    with transaction(engine) as session:
        [error] = session.scalars(select(IngestError)).all()
    assert error.member == "bad[0]" and error.item_id is not None
    assert ranking.rank_cold_start(engine, "cold", k=3)["pool"] == 15  # left out from now on


def test_prelabel_without_any_model_ranks_a_cold_start(
    engine: Engine, make_project, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    make_project("cold", "crop", ["x", "y"])
    planted_crops(tmp_path / "crops", [20, 20])
    ingest(engine, "cold", [tmp_path / "crops"], progress=False)
    result = run_prelabel(engine, "cold", progress=False)
    assert result["model_version"] is None and result["suggestions"] == 0
    assert result["cold_start"]["ranked"] == 20 and result["cold_start"]["pool"] == 40


@pytest.mark.parametrize("k", [0, -3])
def test_a_cold_start_of_fewer_than_one_item_is_rejected(
    engine: Engine, make_project, k: int
) -> None:  # type: ignore[no-untyped-def]
    make_project("cold", "crop", ["x", "y"])
    with pytest.raises(ValidationError, match="at least 1"):
        ranking.rank_cold_start(engine, "cold", k=k)


def test_cold_start_of_an_empty_project_ranks_nothing(engine: Engine, make_project) -> None:  # type: ignore[no-untyped-def]
    make_project("cold", "crop", ["x", "y"])
    assert ranking.rank_cold_start(engine, "cold")["ranked"] == 0


def test_cheap_features_have_the_documented_sizes() -> None:
    rng = np.random.default_rng(0)
    assert ranking.cheap_features("crop", rng.random((3, 32, 32))).shape == (3, 14)
    assert ranking.cheap_features("crop", rng.random((3, 30, 30))).shape == (3, 14)
    assert ranking.cheap_features("spectrum", rng.random((3, 500))).shape == (3, 50)
    assert ranking.cheap_features("audio", rng.random((3, 64, 40))).shape == (3, 64)


def test_crop_statistics_are_the_documented_ones() -> None:
    ramp = np.tile(np.arange(8, dtype=float), (8, 1))  # 0 … 7 left to right, every row
    (features,) = ranking.crop_statistics(ramp[None])
    assert features[:8] == pytest.approx(np.quantile(ramp, ranking.CROP_QUANTILES))
    assert features[8] == pytest.approx(3.5) and features[9] == pytest.approx(ramp.std())
    assert features[10] == pytest.approx(2 / 8)  # 6 and 7 lie over 3.5 + 2.29
    assert features[11] == 0.0
    assert features[12] == pytest.approx(1.0) and features[13] == 0.0  # steps across, none down


def test_crop_statistics_do_not_move_with_the_object() -> None:
    crop = np.zeros((2, 32, 32))
    crop[0, 2:6, 3:9] = 1.0
    crop[1, 20:24, 17:23] = 1.0  # the same blob elsewhere
    features = ranking.crop_statistics(crop)
    assert features[0] == pytest.approx(features[1])
