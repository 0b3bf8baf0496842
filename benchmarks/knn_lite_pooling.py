"""Other poolings of EfficientNet-Lite on the kNN quick protocol: mean (the default), GeM (p = 3), max,
the last block's features, and mean + block concatenated; each through sqrt -> L2 -> PCA whitening
to 128-d at power 0.5 / 0.75 / 1 (fitted on the bank). Exploratory, prints its rows:

    python benchmarks/knn_lite_pooling.py efficientnet-lite2 160 [CIFAR_DIR]
"""
import io, sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import knn_lite
from labelscout.models.efficientnet_lite import EfficientNetLite, load_reference_state
from labelscout.ssl.knn_probe import knn_accuracy
import onnxruntime as ort
variant, size = sys.argv[1], int(sys.argv[2])
m = EfficientNetLite(variant).eval(); m.load_state_dict(load_reference_state(variant)[0])
class Multi(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, x):
        b = s.m.blocks(s.m.stem(x)); h = s.m.head(b)
        return h.mean((2, 3)), h.clamp_min(1e-6).pow(3).mean((2, 3)).pow(1/3), b.mean((2, 3)), h.amax((2, 3))
buf = io.BytesIO()
torch.onnx.export(Multi(m), (torch.zeros(2, 3, size, size),), buf, input_names=["x"], output_names=["mean", "gem", "block", "max"],
                  dynamic_axes={"x": {0: "b"}}, opset_version=17, dynamo=False)  # four outputs: not export_onnx's one
o = ort.SessionOptions(); o.intra_op_num_threads = 2
sess = ort.InferenceSession(buf.getvalue(), o, providers=["CPUExecutionProvider"])
data = Path(sys.argv[3] if len(sys.argv) > 3 else '/work/exchange/cifar10')
tr, ty, _ = knn_lite.split_files(data, "train", 1000); te, tey, _ = knn_lite.split_files(data, "test", 200)
def feats(files):
    imgs = knn_lite.decode(files, size, knn_lite.FILTERS["bicubic"]); outs = []
    for s in range(0, len(imgs), 100):
        outs.append(sess.run(None, {"x": ((imgs[s:s+100].float()/255-0.5)/0.5).numpy()}))
    return [np.concatenate([o[i] for o in outs]) for i in range(4)]
B, Q = feats(tr), feats(te)
names = ["mean", "gem", "block", "max"]
def score(tag, b, q):
    print(tag, {f"k{k}": round(knn_accuracy(b, ty, q, tey, k=k, temperature=0.1), 4) for k in (20, 200)}, flush=True)
for i, n in enumerate(names):
    for p in (0.5, 0.75, 1.0):
        red = knn_lite._sqrtw(B[i], 128, p); score(f"{n} sqrtw128 p{p}", red(B[i]), red(Q[i]))
for p in (0.5, 0.75, 1.0):
    cb = np.concatenate([np.sqrt(np.clip(B[0],0,None)) / np.linalg.norm(np.sqrt(np.clip(B[0],0,None)),axis=1,keepdims=True), np.sqrt(np.clip(B[2],0,None))/np.linalg.norm(np.sqrt(np.clip(B[2],0,None)),axis=1,keepdims=True)],1)
    cq = np.concatenate([np.sqrt(np.clip(Q[0],0,None)) / np.linalg.norm(np.sqrt(np.clip(Q[0],0,None)),axis=1,keepdims=True), np.sqrt(np.clip(Q[2],0,None))/np.linalg.norm(np.sqrt(np.clip(Q[2],0,None)),axis=1,keepdims=True)],1)
    red = knn_lite._sqrtw(cb**2, 128, p); score(f"mean+block sqrtw128 p{p}", red(cb**2), red(cq**2))
