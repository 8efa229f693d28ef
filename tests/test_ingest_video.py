"""Videos in a crop project: spatter crops extracted by frame differencing, then registered."""

from __future__ import annotations

from sqlalchemy import func, select

from learner.synthetic.video import write_spatter_video
from prelabel.ingest import ingest
from store.catalog import list_ingest_errors
from store.engine import transaction
from store.models import Item, Source


def test_video_crops_become_items_once(engine, make_project, tmp_path) -> None:
    project_id = make_project("print", "crop", ["spatter", "no_spatter"])
    write_spatter_video(
        tmp_path / "in" / "layer_001.avi", seed=1, frames=40, blobs=3, blue_flash_frame=20
    )
    first = ingest(
        engine, "print", [tmp_path / "in"], progress=False, derived_dir=tmp_path / "derived"
    )
    again = ingest(
        engine, "print", [tmp_path / "in"], progress=False, derived_dir=tmp_path / "derived"
    )
    with transaction(engine) as session:
        items = session.scalar(select(func.count()).select_from(Item))
        source = session.scalar(select(Source))
    assert first.errors == [] and items == first.items_added > 3 * 20
    assert again.items_added == 0 and again.sources_already_ingested == 1
    assert source.kind == "hdf5" and "derived" in source.uri and project_id


def test_truncated_video_keeps_readable_frames_and_records_why(
    engine, make_project, tmp_path
) -> None:
    project_id = make_project("print", "crop", ["spatter", "no_spatter"])
    video = tmp_path / "whole.avi"
    write_spatter_video(video, seed=2, frames=60, blobs=2)
    data = video.read_bytes()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "cut.avi").write_bytes(data[: len(data) // 2])
    report = ingest(
        engine, "print", [tmp_path / "in"], progress=False, derived_dir=tmp_path / "derived"
    )
    with transaction(engine) as session:
        errors = list_ingest_errors(session, project_id)
    assert all(e.path.endswith("cut.avi") for e in errors)
    [cut_short] = [e for e in errors if e.reason.startswith("video ends after")]
    # what the decoder said about the cut is kept with the file, not printed
    assert {e.reason.split(":")[0] for e in errors if e is not cut_short} <= {
        "the video decoder warned"
    }
    assert report.items_added > 0


def test_random_bytes_video_fails(engine, make_project, tmp_path) -> None:
    project_id = make_project("print", "crop", ["spatter", "no_spatter"])
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "noise.mp4").write_bytes(bytes(range(256)) * 40)
    report = ingest(
        engine, "print", [tmp_path / "in"], progress=False, derived_dir=tmp_path / "derived"
    )
    with transaction(engine) as session:
        [error] = list_ingest_errors(session, project_id)
    assert error.path.endswith("noise.mp4") and "video" in error.reason
    assert not report.ingested_anything
