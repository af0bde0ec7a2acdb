"""`pix2pix-color colorize-dataset`: a dataset (or folder tree) colorized into a Hub-layout dataset by
one process or two (torchrun, what `accelerate launch` runs), killed and resumed, every input written
exactly once and the same bytes as one process makes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest
from PIL import Image

from pix2pix_color.jobs.archive import RECORDS_DIR

from .conftest import ROOT, jpeg_bytes, landscape, tiny_generator, write_hub_dataset

pytest.importorskip("datasets")
COMMAND = [sys.executable, "-m", "pix2pix_color.cli", "colorize-dataset"]


def _env() -> dict[str, str]:
    # One thread per process, in every run: the bytes a network computes may depend on the thread count.
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "ACCELERATE_USE_CPU": "true"}


def _rows(out) -> dict[str, dict]:
    from datasets import Image as ImageFeature
    from datasets import load_dataset

    ds = load_dataset(str(out), split="train", streaming=True)  # streamed: no cache of an earlier run
    rows = {}
    for row in ds.cast_column("image", ImageFeature(decode=False)):
        assert row["source"] not in rows, f"{row['source']} written twice"
        rows[row["source"]] = row
    return rows


@pytest.fixture
def model(tmp_path):
    folder = tmp_path / "model"
    tiny_generator().save_pretrained(folder)
    return folder


def test_one_process_writes_every_row_once_and_says_why_a_row_failed(tmp_path, model):
    photos = [jpeg_bytes(landscape(40 + i, 32, seed=i)) for i in range(9)]
    photos[4] = b"\xff\xd8\xff\xe0 not really a JPEG"
    source = write_hub_dataset(tmp_path / "in", {"train": photos}, shards=2)
    out = tmp_path / "out"
    done = subprocess.run(
        [*COMMAND, str(source), "-o", str(out), "--model", str(model), "--rows-per-shard", "2", "-q"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = _rows(out)
    assert sorted(rows) == sorted(f"train-{i}.jpg" for i in range(9))  # every input, once
    assert "cannot be read" in rows["train-4.jpg"]["error"] or "corrupt" in rows["train-4.jpg"]["error"]
    assert rows["train-4.jpg"]["image"] is None
    for i in (0, 8):
        row = rows[f"train-{i}.jpg"]
        assert row["error"] is None and row["model"] == str(model) and '"color_strength": 1.0' in row["settings"]
        image = Image.open(io.BytesIO(row["image"]["bytes"]))
        assert image.format == "PNG" and image.size == (40 + i, 32) and image.mode == "RGB"
    card = (out / "README.md").read_text()
    assert "9 rows in 5 shards, 1 not colorized" in card and "data/shard-*.parquet" in card
    assert "9 rows in 5 shards" in done.stderr
    # A second run finds everything done and writes nothing.
    again = subprocess.run(
        [*COMMAND, str(source), "-o", str(out), "--model", str(model), "--rows-per-shard", "2", "-q"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0 and "0 shards written" in again.stderr and "5 already done" in again.stderr


def test_a_folder_tree_and_a_missing_dataset(tmp_path, model):
    tree = tmp_path / "tree"
    for i, place in enumerate(["a/one.jpg", "a/b/two.png", "three.jpg"]):
        (tree / place).parent.mkdir(parents=True, exist_ok=True)
        landscape(30, 20, seed=i).save(tree / place)
    out = tmp_path / "out"
    done = subprocess.run(
        [*COMMAND, str(tree), "-o", str(out), "--model", str(model), "-q"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(_rows(out)) == ["a/b/two.png", "a/one.jpg", "three.jpg"]
    missing = subprocess.run(
        [*COMMAND, str(tmp_path / "nowhere"), "-o", str(out), "--model", str(model), "-q"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert missing.returncode == 2 and missing.stderr == f"error: {tmp_path / 'nowhere'}: no such folder\n"
    assert "Traceback" not in missing.stderr


def test_a_folder_tree_mirrored_into_pngs_with_an_index_and_resumed(tmp_path, model):
    tree = tmp_path / "tree"
    places = ["a/one.jpg", "a/b/two.png", "three.jpg", "a/barn.jpg", "a/barn.png"]
    for i, place in enumerate(places):
        (tree / place).parent.mkdir(parents=True, exist_ok=True)
        landscape(30 + i, 20, seed=i).save(tree / place)
    (tree / "a" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    out = tmp_path / "out"
    command = [*COMMAND, str(tree), "-o", str(out), "--model", str(model), "--layout", "folder", "-q"]
    done = subprocess.run([*command, "--rows-per-shard", "2"], env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    expected = {  # barn.jpg and barn.png share a folder and a stem: each keeps its whole name
        "a/one.jpg": "a/one.png", "a/b/two.png": "a/b/two.png", "three.jpg": "three.png",
        "a/barn.jpg": "a/barn.jpg.png", "a/barn.png": "a/barn.png.png",
    }  # fmt: skip
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert written == sorted(expected.values())
    for i, place in enumerate(places):
        image = Image.open(out / expected[place])
        assert image.size == (30 + i, 20) and image.mode == "RGB" and "pix2pix-color" in image.info["Software"]
    index = {row["source"]: row for row in csv.DictReader(open(out / "index.csv"))}
    assert set(index) == {*places, "a/broken.jpg"}
    assert all(index[p]["output"] == expected[p] and not index[p]["error"] for p in places)
    assert index["a/broken.jpg"]["output"] == "" and "not an image" in index["a/broken.jpg"]["error"]
    assert "6 inputs, 1 not colorized" in (out / "README.md").read_text()
    assert not list(out.rglob("*.tmp"))

    # A lost shard (its record and one of its files gone) is redone, and nothing else.
    record = sorted(_records(out))[0]
    lost = [f["output"] for f in json.loads(record.read_text())["files"] if f["output"]][0]
    before = (out / lost).read_bytes()
    record.unlink()
    (out / lost).unlink()
    again = subprocess.run([*command, "--rows-per-shard", "2"], env=_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "1 shard written" in again.stderr and "(see index.csv)" in again.stderr
    assert (out / lost).read_bytes() == before

    # A dataset's rows go to <split>/<input file>/<row>-<name>.png.
    source = write_hub_dataset(tmp_path / "in", {"train": [jpeg_bytes(landscape(24, 16, seed=i)) for i in range(3)]})
    rows = subprocess.run(
        [*COMMAND, str(source), "-o", str(tmp_path / "rows"), "--model", str(model), "--layout", "folder", "-q"],
        env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rows.returncode == 0, rows.stderr[-3000:]
    names = sorted(p.relative_to(tmp_path / "rows").as_posix() for p in (tmp_path / "rows").rglob("*.png"))
    assert len(names) == 3 and all(re.fullmatch(r"train/\d{5}/\d{6}-train-\d\.png", n) for n in names), names


def _records(out) -> list:
    """The shards' completion records (not the job's manifest)."""
    return [p for p in (out / RECORDS_DIR).glob("*.json") if p.name != "job.json"]


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="needs torchrun (part of torch)")
def test_two_processes_killed_and_resumed_write_each_row_once_as_one_process_does(tmp_path, model):
    photos = [jpeg_bytes(landscape(48, 32, seed=i)) for i in range(240)]
    source = write_hub_dataset(tmp_path / "in", {"train": photos}, shards=3)
    flags = ["--model", str(model), "--rows-per-shard", "8", "-q"]
    two = tmp_path / "two"
    launch = [
        "torchrun", "--standalone", "--nproc_per_node", "2", "-m", "pix2pix_color.cli", "colorize-dataset",
        str(source), "-o", str(two), *flags,
    ]  # fmt: skip
    job = subprocess.Popen(
        launch, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(_records(two)) < 4:
        time.sleep(0.05)
    workers = [
        p for p in psutil.Process(job.pid).children(recursive=True) if "colorize-dataset" in " ".join(p.cmdline())
    ]
    assert len(workers) == 2, "two worker processes"
    workers[1].send_signal(signal.SIGKILL)  # one worker dies mid-run; torchrun then stops the job
    job.wait(timeout=120)
    assert job.returncode != 0
    finished_before = len(_records(two))
    assert 4 <= finished_before < 30, finished_before  # killed mid-run: some shards done, not all

    resumed = subprocess.run(launch, env=_env(), capture_output=True, text=True, timeout=600, start_new_session=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "already done" in resumed.stderr and "240 rows in 30 shards" in resumed.stderr
    # Each process did its own share (by input file: 3 files of 80 rows, 10 shards each).
    shares = sorted(int(n) for n in re.findall(r"process \d of 2: (\d+) shards? written", resumed.stderr))
    assert len(shares) == 2 and sum(shares) == 30 - finished_before, (shares, finished_before)
    assert not list(two.rglob("*.tmp"))

    one = tmp_path / "one"
    single = subprocess.run(
        [*COMMAND, str(source), "-o", str(one), *flags], env=_env(), capture_output=True, text=True, timeout=600
    )
    assert single.returncode == 0, single.stderr[-3000:]
    rows_two, rows_one = _rows(two), _rows(one)
    assert sorted(rows_two) == sorted(rows_one) == sorted(f"train-{i}.jpg" for i in range(240))
    different = [s for s in rows_one if rows_one[s]["image"]["bytes"] != rows_two[s]["image"]["bytes"]]
    assert different == [], different[:5]  # bit for bit
    first = np.asarray(Image.open(io.BytesIO(rows_one["train-0.jpg"]["image"]["bytes"])))
    assert first.shape == (32, 48, 3)


def test_a_rerun_continues_only_the_same_job_and_names_what_changed(tmp_path, model):
    """N1: shards are numbered by position, so a rerun over other inputs or settings would lose and
    duplicate rows; the job's manifest makes it continue exactly or refuse in one line."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(4):
        landscape(30, 20, seed=i).save(tree / f"p{i}.png")
    out = tmp_path / "out"
    base = [*COMMAND, str(tree), "-o", str(out), "--model", str(model), "--rows-per-shard", "2", "-q"]

    def run(*extra):
        return subprocess.run([*base, *extra], env=_env(), capture_output=True, text=True, timeout=300)

    assert run().returncode == 0
    manifest = json.loads((out / RECORDS_DIR / "job.json").read_text())
    assert manifest["inputs"]["files"] == 4 and manifest["settings"]["rows_per_shard"] == 2
    landscape(30, 20, seed=9).save(tree / "a0.png")  # sorts first: every shard would move by one
    added = run()
    assert added.returncode == 2 and "the inputs changed: 5 files, was 4" in added.stderr
    assert "give a new -o folder or delete" in added.stderr and len(added.stderr.strip().splitlines()) == 1
    (tree / "a0.png").unlink()
    resized = subprocess.run([*base[:-3], "--rows-per-shard", "3", "-q"], env=_env(), capture_output=True,
                             text=True, timeout=300)  # fmt: skip
    assert resized.returncode == 2 and "rows-per-shard 2, now 3" in resized.stderr
    relaid = run("--layout", "folder")
    assert relaid.returncode == 2 and "layout 'parquet', now 'folder'" in relaid.stderr
    assert "Traceback" not in relaid.stderr + resized.stderr + added.stderr
    same = run()  # the same job again: nothing to do, nothing lost or doubled
    assert same.returncode == 0 and "2 already done" in same.stderr
    assert sorted(_rows(out)) == [f"p{i}.png" for i in range(4)]


def test_a_dataset_row_is_read_from_the_dataset_only(tmp_path, model):
    """N3: a row whose image has no bytes but a path is not opened from this machine's disk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    secret = tmp_path / "private" / "secret.png"
    secret.parent.mkdir()
    landscape(40, 30).save(secret)
    source = tmp_path / "hostile"
    (source / "data").mkdir(parents=True)
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    table = pa.table(
        {
            "image": pa.array(
                [
                    {"bytes": None, "path": str(secret)},
                    {"bytes": jpeg_bytes(landscape(40, 30, seed=1)), "path": "ok.jpg"},
                ],
                image,
            )
        }
    )
    schema = table.schema.with_metadata({b"huggingface": json.dumps({"info": {"features": {
        "image": {"_type": "Image"}}}}).encode()})  # fmt: skip
    pq.write_table(table.cast(schema), source / "data" / "train-00000-of-00001.parquet")
    out = tmp_path / "out"
    done = subprocess.run([*COMMAND, str(source), "-o", str(out), "--model", str(model), "-q"], env=_env(),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(out)
    assert rows[str(secret)]["image"] is None and "only the dataset's own data is read" in rows[str(secret)]["error"]
    assert rows["ok.jpg"]["error"] is None


def test_a_photo_folder_with_a_sidecar_file_is_still_photos(tmp_path, model):
    tree = tmp_path / "album"
    tree.mkdir()
    for i in range(2):
        landscape(30, 20, seed=i).save(tree / f"p{i}.jpg")
    (tree / "notes.csv").write_text("file,year\np0.jpg,1931\n")
    out = tmp_path / "out"
    done = subprocess.run([*COMMAND, str(tree), "-o", str(out), "--model", str(model), "-q"], env=_env(),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(_rows(out)) == ["p0.jpg", "p1.jpg"]


def test_mirrored_names_never_meet_on_a_case_insensitive_disk():
    from pathlib import Path

    from pix2pix_color.jobs.archive import _mirrored_names

    names = _mirrored_names([Path(p) for p in ["Barn.jpg", "barn.jpg", "barn.tif", "A/x.jpg", "a/x.jpg", "c.jpg"]])
    assert names == ["Barn.jpg.png", "barn.jpg-2.png", "barn.tif.png", "A/x.jpg.png", "a/x.jpg-2.png", "c.png"]
    assert len({n.lower() for n in names}) == len(names)
