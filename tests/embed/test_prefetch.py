"""Decoding in a background thread (few-core machines): the batches arrive complete, in order,
errors surface in the caller, and a caller that stops early does not leave the thread behind."""
from __future__ import annotations

import threading
import time

import pytest

from labelscout.embed import embedder as embedder_mod
from labelscout.embed.embedder import Embedder, _prefetched


@pytest.mark.parametrize("n", [0, 1, 2, 3, 17])
@pytest.mark.parametrize("depth", [1, 2, 5])
def test_every_item_arrives_once_in_order(n, depth):
    assert list(_prefetched(iter(range(n)), depth=depth)) == list(range(n))


def test_the_producers_error_is_raised_after_the_items_before_it():
    def batches():
        yield 1
        yield 2
        raise OSError("disk went away")

    got = []
    with pytest.raises(OSError, match="disk went away"):
        for item in _prefetched(batches(), depth=1):
            got.append(item)
    assert got == [1, 2]


def test_a_consumer_that_stops_early_stops_the_thread():
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = {t.ident for t in threading.enumerate()}
    gen = _prefetched(endless(), depth=2)
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()  # what a `break` or an exception in the caller's loop does
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(t.name == "labelscout-decode" and t.ident not in before for t in threading.enumerate()):
        time.sleep(0.05)
    assert not any(t.name == "labelscout-decode" and t.ident not in before for t in threading.enumerate())
    assert len(produced) <= 3 + 2 + 1  # at most `depth` items (and the one being put) decoded ahead


@pytest.mark.parametrize("cores, n, expected", [(2, 10_000, 0), (1, 10_000, 0), (2, 100, 0), (8, 100, 0), (8, 10_000, 4), (4, 10_000, 2), (64, 10_000, 4)])
def test_decode_processes_only_where_there_are_cores_to_spare(monkeypatch, cores, n, expected):
    monkeypatch.setattr(embedder_mod.os, "cpu_count", lambda: cores)
    assert Embedder(device="cpu", progress=False)._workers_for(n) == expected


def test_an_explicit_worker_count_is_kept(monkeypatch):
    monkeypatch.setattr(embedder_mod.os, "cpu_count", lambda: 2)
    assert Embedder(device="cpu", workers=3, progress=False)._workers_for(10_000) == 3


def test_no_thread_but_the_main_one_touches_the_warning_filters(cifar_sample, small_model_dir, monkeypatch):
    """Images decode in the embedder's thread and in count_frames' pool while the main thread
    may be inside ``warnings.catch_warnings()`` (the ONNX export). catch_warnings is not
    thread-safe: a decode that used it too restored the filters out of order, which let the
    exporter's silenced TracerWarnings through and could leave "ignore everything" behind."""
    import warnings

    real = warnings.catch_warnings
    callers = []

    def recording(*args, **kwargs):
        callers.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(warnings, "catch_warnings", recording)
    before = list(warnings.filters)
    Embedder(str(small_model_dir), device="cpu", batch_size=4, workers=0, cache_dir=None, progress=False).embed(cifar_sample)
    assert [c for c in callers if c != threading.main_thread().name] == []
    assert warnings.filters == before
