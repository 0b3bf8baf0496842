"""Running an embedding network on the CPU through ONNX Runtime: same vectors, several times faster.

PyTorch's CPU kernels for depthwise convolutions (most of EfficientNet-Lite's layers) are
slow; ONNX Runtime's are several times faster on the same cores (benchmarks/bench_embed.py
measures both in one run). The network is exported once per input size (the batch
dimension stays dynamic) and the session is kept for the process. Its outputs equal
PyTorch's to float32 rounding (tests/embed/test_runtime.py), so the runtime is not part of
the model fingerprint. PyTorch stays the runtime on GPUs and for training.
"""
from __future__ import annotations

import importlib.util
import io
import logging
import threading
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn as nn

__all__ = ["OnnxEmbedder", "export_onnx", "onnxruntime_available", "RUNTIMES"]

log = logging.getLogger(__name__)

RUNTIMES = ("auto", "torch", "onnx")
_SESSIONS: dict[tuple[str, int, int], Any] = {}
_LOCK = threading.Lock()


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def export_onnx(module: nn.Module, size: int) -> bytes:
    """``module`` (B, 3, size, size) -> (B, ...) as ONNX bytes, the batch dimension dynamic."""
    buf = io.BytesIO()
    example = torch.zeros(2, 3, size, size)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the TF "same" padding is computed from the (fixed) input size, which the tracer warns about
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: what onnxruntime reads here
            torch.onnx.export(module, (example,), buf, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17, dynamo=False)
    finally:
        module.train(was_training)
    return buf.getvalue()


class OnnxEmbedder:
    """Float batches (B, 3, s, s) -> (B, D) float32 through ONNX Runtime, one session per input size.

    ``key`` identifies the network's weights (the model fingerprint key): sessions are shared
    by every embedder of the same model in the process.
    """

    def __init__(self, module: nn.Module, key: str, threads: int | None = None):
        self.module, self.key = module, key
        self.threads = int(threads or torch.get_num_threads())

    def session(self, size: int):
        import onnxruntime as ort

        skey = (self.key, size, self.threads)
        with _LOCK:
            if skey not in _SESSIONS:
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = self.threads
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                _SESSIONS[skey] = ort.InferenceSession(export_onnx(self.module, size), opts, providers=["CPUExecutionProvider"])
            return _SESSIONS[skey]

    def __call__(self, x: torch.Tensor) -> np.ndarray:
        if x.ndim != 4 or x.shape[-1] != x.shape[-2]:
            raise ValueError(f"expected a square batch (B, 3, s, s); got shape {tuple(x.shape)}.")
        arr = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        return self.session(int(x.shape[-1])).run(None, {"x": arr})[0]
