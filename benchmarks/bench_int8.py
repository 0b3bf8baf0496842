"""int8 EfficientNet-Lite on ONNX Runtime: speed against float32 in the same run, and what kNN loses.

    python benchmarks/bench_int8.py --variant efficientnet-lite0 --sizes 128,160,224 \
        --features /work/exchange/lite-features --out benchmarks/results/int8-lite0.json

For each input size the backbone (pooled 1280-d features) is exported to ONNX and quantised
statically with ONNX Runtime (QDQ format, per-channel int8 weights, uint8 activations,
calibrated on ``--calib`` CIFAR-10 train JPEGs outside the kNN bank). Timing: the same uint8 images
(decoded and resized beforehand, so only the network is timed) through the float32 and the
int8 session, alternating, best of ``--repeats``. kNN: the quick protocol of knn_lite.py
(bank = 1,000 train JPEGs per class, queries = 200 test JPEGs per class) on the shipped
reduction's recipe (sqrt, L2, PCA whitening to 128-d fitted on the bank), float32 features
from knn_lite's cache (``--features``) against int8 features extracted here.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _machine import cpu_flags  # noqa: E402
import knn_lite  # noqa: E402

from labelscout.embed.runtime import export_onnx  # noqa: E402
from labelscout.models.efficientnet_lite import EfficientNetLite, load_reference_state  # noqa: E402
from labelscout.runs.atomic import atomic_write_json  # noqa: E402
from labelscout.ssl.knn_probe import knn_accuracy  # noqa: E402


def _normalise(images: torch.Tensor) -> np.ndarray:
    return ((images.float() / 255 - 0.5) / 0.5).numpy()


def _session(path_or_bytes, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.log_severity_level = 3
    return ort.InferenceSession(path_or_bytes, opts, providers=["CPUExecutionProvider"])


def quantise(model_bytes: bytes, calib: np.ndarray, dest: Path) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": calib[i : i + 50]} for i in range(0, len(calib), 50)])

        def get_next(self):
            return next(self.batches, None)

    src = dest.with_suffix(".fp32.onnx")
    src.write_bytes(model_bytes)
    quantize_static(str(src), str(dest), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return dest


def run_features(sess, images: torch.Tensor, batch: int = 100) -> np.ndarray:
    return np.concatenate([sess.run(None, {"x": _normalise(images[s : s + batch])})[0] for s in range(0, len(images), batch)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.environ.get("LABELSCOUT_CIFAR_DIR", "/work/exchange/cifar10"))
    ap.add_argument("--variant", default="efficientnet-lite0")
    ap.add_argument("--sizes", default="128,160")
    ap.add_argument("--calib", type=int, default=500, help="calibration images (from beyond the bank's rows)")
    ap.add_argument("--timing-images", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--features", default="/tmp/lite-features", help="knn_lite.py's feature cache (float32 features)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = Path(args.data)
    train_files, train_y, _ = knn_lite.split_files(data, "train", 1000)
    test_files, test_y, _ = knn_lite.split_files(data, "test", 200)
    all_train, _, _ = knn_lite.split_files(data, "train", None)
    bank = set(train_files)
    calib_files = [f for f in all_train if f not in bank][:: max(1, (len(all_train) - len(bank)) // args.calib)][: args.calib]
    flags = cpu_flags()
    result = {"command": "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])]),
              "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
              "cpu_flags_simd": [f for f in flags if f.startswith(("avx", "sse", "fma", "amx"))],
              "onnxruntime": __import__("onnxruntime").__version__, "threads": args.threads,
              "load_average_before": os.getloadavg(), "runs": []}
    model = EfficientNetLite(args.variant).eval()
    model.load_state_dict(load_reference_state(args.variant)[0])
    for size in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            fp32 = export_onnx(knn_lite._Pooled(model), size)
            calib = _normalise(knn_lite.decode(calib_files, size, knn_lite.FILTERS["bicubic"]))
            q_path = quantise(fp32, calib, Path(tmp) / "int8.onnx")
            s32, s8 = _session(fp32, args.threads), _session(str(q_path), args.threads)
            timing = knn_lite.decode(test_files[:: max(1, len(test_files) // args.timing_images)][: args.timing_images], size,
                                     knn_lite.FILTERS["bicubic"])
            best = {"float32": float("inf"), "int8": float("inf")}
            for _ in range(args.repeats):  # alternate so both see the same machine state
                for name, sess in (("float32", s32), ("int8", s8)):
                    t0 = time.perf_counter()
                    run_features(sess, timing)
                    best[name] = min(best[name], time.perf_counter() - t0)
            bp, _, _ = knn_lite.cached_features(model, args.variant, size, "bicubic", "train", train_files, Path(args.features))
            qp, _, _ = knn_lite.cached_features(model, args.variant, size, "bicubic", "test", test_files, Path(args.features))
            b8 = run_features(s8, knn_lite.decode(train_files, size, knn_lite.FILTERS["bicubic"]))
            q8 = run_features(s8, knn_lite.decode(test_files, size, knn_lite.FILTERS["bicubic"]))
            knn = {}
            for name, (b, q) in {"float32": (bp, qp), "int8": (b8, q8)}.items():
                red = knn_lite._sqrtw(b, 128)
                knn[name] = {f"k{k}": round(knn_accuracy(red(b), train_y, red(q), test_y, k=k, temperature=0.1), 4) for k in (20, 200)}
            run = {"input_size": size, "images_timed": len(timing),
                   "images_per_s": {k: round(len(timing) / v, 1) for k, v in best.items()},
                   "int8_speedup": round(best["float32"] / best["int8"], 2), "knn_sqrtw128": knn,
                   "max_abs_feature_diff": float(np.abs(b8 - bp).max()), "load_average": os.getloadavg()}
            print(run, flush=True)
            result["runs"].append(run)
            if args.out:
                atomic_write_json(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
