"""Embedding a collection: content cache, incremental updates, bad files, resume after kill -9."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelscout.embed.embedder import Embedder
from labelscout.embed.store import EmbeddingSet

from _image_corpus import build_corpus


def _embedder(model_dir, **kw):
    return Embedder(str(model_dir), device="cpu", batch_size=16, workers=0, progress=False, **kw)


def test_embeds_every_image_in_sorted_id_order(cifar_sample, small_model_dir):
    res = _embedder(small_model_dir).embed(cifar_sample)
    emb = res.embeddings
    assert emb.vectors.shape == (60, 16) and emb.vectors.dtype == np.float32
    assert emb.ids == sorted(emb.ids) and emb.ids[0] == "airplane/0000.jpg"
    assert np.isfinite(emb.vectors).all()
    assert res.stats["embedded_new"] == 60 and res.skipped == []
    assert emb.fingerprint["weights_sha256"] and emb.fingerprint["input_size"] == 32


def test_second_run_embeds_nothing_and_ten_new_files_embed_ten(cifar_sample, small_model_dir, sample_images):
    first = _embedder(small_model_dir).embed(cifar_sample)
    again = _embedder(small_model_dir).embed(cifar_sample)
    assert again.stats["embedded_new"] == 0 and again.stats["from_cache"] == 60
    assert np.array_equal(first.embeddings.vectors, again.embeddings.vectors)
    new = sorted((sample_images / "dog").glob("*.jpg"))[:10]
    (cifar_sample / "dog").mkdir()
    for f in new:
        shutil.copy2(f, cifar_sample / "dog" / f.name)
    more = _embedder(small_model_dir).embed(cifar_sample)
    assert more.stats["embedded_new"] == 10 and more.stats["from_cache"] == 60
    assert len(more.embeddings) == 70


def test_cache_is_by_content_not_path(cifar_sample, small_model_dir, tmp_path):
    first = _embedder(small_model_dir).embed(cifar_sample)
    moved = tmp_path / "renamed"
    shutil.copytree(cifar_sample, moved)
    (moved / "cat").rename(moved / "kitten")
    again = _embedder(small_model_dir).embed(moved)
    assert again.stats["embedded_new"] == 0
    # changing a file's content re-embeds exactly that file
    victim = moved / "airplane" / "0000.jpg"
    Image.open(victim).transpose(Image.FLIP_LEFT_RIGHT).save(victim, quality=90)
    changed = _embedder(small_model_dir).embed(moved)
    assert changed.stats["embedded_new"] == 1
    i = changed.embeddings.ids.index("airplane/0000.jpg")
    j = first.embeddings.ids.index("airplane/0000.jpg")
    assert not np.array_equal(changed.embeddings.vectors[i], first.embeddings.vectors[j])


def test_no_cache_mode_writes_nothing(cifar_sample, small_model_dir, tmp_path, monkeypatch):
    cache_root = tmp_path / "c"
    monkeypatch.setenv("LABELSCOUT_CACHE_DIR", str(cache_root))
    _embedder(small_model_dir, cache_dir=None).embed(cifar_sample)
    assert not cache_root.exists()


def test_bad_files_are_skipped_with_reasons_and_inputs_untouched(tmp_path, small_model_dir):
    folder = tmp_path / "corpus"
    expected = build_corpus(folder)
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    res = _embedder(small_model_dir).embed(folder)
    got = {s["id"]: s["reason"] for s in res.skipped}
    for rel, outcome in expected.items():
        if outcome == "ok":
            assert rel in res.embeddings.ids
        else:
            assert got[rel] in outcome.split("|"), rel
    assert res.collection.scan.ignored_extensions[".txt"] == 1
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert before == after


@pytest.mark.parametrize("workers", [0, 2])
def test_workers_do_not_change_vectors(cifar_sample, small_model_dir, workers):
    ref = Embedder(str(small_model_dir), device="cpu", batch_size=16, workers=0, cache_dir=None, progress=False).embed(cifar_sample)
    got = Embedder(str(small_model_dir), device="cpu", batch_size=16, workers=workers, cache_dir=None, progress=False).embed(cifar_sample)
    assert ref.embeddings.ids == got.embeddings.ids
    assert np.array_equal(ref.embeddings.vectors, got.embeddings.vectors)


def test_in_memory_pictures_match_files(cifar_sample, small_model_dir):
    e = _embedder(small_model_dir, cache_dir=None)
    res = e.embed(cifar_sample)
    pics = [Image.open(cifar_sample / i).convert("RGB") for i in res.embeddings.ids[:5]]
    assert np.allclose(e.embed_pictures(pics), res.embeddings.vectors[:5], atol=1e-6)


def test_store_round_trip_is_bit_identical(tmp_path, rng):
    vec = rng.normal(size=(50, 7)).astype(np.float32)
    emb = EmbeddingSet(vec, [f"a/{i}.jpg" for i in range(50)], "m", {"k": 1}, [f"h{i}" for i in range(50)],
                       {"timestamp": [float(i) for i in range(50)]})
    emb.save(tmp_path / "e")
    back = EmbeddingSet.load(tmp_path / "e")
    assert back.vectors.tobytes() == vec.tobytes() and back.ids == emb.ids
    assert back.fingerprint == {"k": 1} and back.sample_meta == emb.sample_meta and back.content_hashes == emb.content_hashes


_RESUME_SCRIPT = textwrap.dedent(
    """
    import sys
    from labelscout.embed.embedder import Embedder
    e = Embedder(sys.argv[2], device="cpu", batch_size=32, workers=0, flush_seconds=0.0, progress=False)
    e.embed(sys.argv[1]).embeddings.save(sys.argv[3])
    """
)


def test_resume_after_kill_gives_identical_embeddings(cifar_root, small_model_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for cls in ("cat", "dog", "frog", "ship"):
        shutil.copytree(cifar_root / "test" / cls, data / cls)  # 4,000 real JPEGs
    cache = tmp_path / "cache"
    env = {**os.environ, "LABELSCOUT_CACHE_DIR": str(cache), "PYTHONPATH": os.pathsep.join(sys.path)}
    script = tmp_path / "run.py"
    script.write_text(_RESUME_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(data), str(small_model_dir), str(tmp_path / "out1")], env=env)
    shard_dir = None
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        shards = list(cache.glob("embeddings/*/shard-*.npz"))
        if len(shards) >= 5:
            shard_dir = shards[0].parent
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the embedding run finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    n_done_shards = len(list(shard_dir.glob("shard-*.npz")))
    assert n_done_shards >= 5
    # resume: finished batches come from the cache
    resumed = Embedder(str(small_model_dir), device="cpu", batch_size=32, workers=0, flush_seconds=0.0,
                       cache_dir=cache, progress=False).embed(data)
    assert resumed.stats["from_cache"] >= 5 * 32
    assert resumed.stats["embedded_new"] < 4000
    # an uninterrupted run with a fresh cache gives bit-identical vectors
    clean = Embedder(str(small_model_dir), device="cpu", batch_size=32, workers=0, cache_dir=tmp_path / "fresh",
                     progress=False).embed(data)
    assert resumed.embeddings.ids == clean.embeddings.ids
    assert resumed.embeddings.vectors.tobytes() == clean.embeddings.vectors.tobytes()
