#!/usr/bin/env python3
"""Build the tiny ONNX models the `Onnx` stage's tests run, and onnxruntime's outputs for them.

Run with the project venv (pinned onnx / onnxruntime / skl2onnx / scikit-learn,
python/requirements.txt):

    PY=$(bash scripts/venv.sh | tail -1)
    $PY scripts/bci/onnx_models.py

Writes into crates/neuropipe-stages/tests/data/:
    epoch_linear.onnx   input "epoch" float32 [1, 4, 50] (channels x times, as MNE's arrays):
                        Flatten -> Gemm (200 -> 3) -> Softmax; output "probabilities" [1, 3]
                        (a linear decoder of a whole epoch, built with onnx.helper)
    logreg.onnx         scikit-learn LogisticRegression on 6 features, 2 classes, exported by
                        skl2onnx (zipmap off): input "X" float32 [N, 6], outputs "label" int64
                        [N] and "probabilities" float32 [N, 2]
    onnx_reference.json per model: inputs (flattened, row-major as the model takes them) and
                        onnxruntime's outputs for them
Deterministic: fixed seeds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import skl2onnx
import sklearn
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.linear_model import LogisticRegression

OUT = Path(__file__).resolve().parents[2] / "crates/neuropipe-stages/tests/data"


def epoch_linear(rng) -> onnx.ModelProto:
    c, t, k = 4, 50, 3
    w = (rng.standard_normal((c * t, k)) * 0.05).astype(np.float32)
    b = rng.standard_normal(k).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["epoch"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "W", "b"], ["scores"]),
            helper.make_node("Softmax", ["scores"], ["probabilities"], axis=1),
        ],
        "epoch_linear",
        [helper.make_tensor_value_info("epoch", TensorProto.FLOAT, [1, c, t])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, k])],
        [helper.make_tensor("W", TensorProto.FLOAT, w.shape, w.flatten()),
         helper.make_tensor("b", TensorProto.FLOAT, b.shape, b)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main() -> None:
    rng = np.random.default_rng(12)
    ref = {}

    m = epoch_linear(rng)
    (OUT / "epoch_linear.onnx").write_bytes(m.SerializeToString())
    sess = onnxruntime.InferenceSession(str(OUT / "epoch_linear.onnx"))
    cases = []
    for _ in range(5):
        x = (rng.standard_normal((1, 4, 50)) * 10.0).astype(np.float32)
        (p,) = sess.run(["probabilities"], {"epoch": x})
        cases.append({"input": x.flatten().tolist(), "probabilities": p.flatten().tolist()})
    ref["epoch_linear"] = cases

    x = rng.standard_normal((200, 6))
    y = (x @ rng.standard_normal(6) + 0.3 * rng.standard_normal(200) > 0).astype(np.int64)
    clf = LogisticRegression().fit(x, y)
    m = to_onnx(clf, x[:1].astype(np.float32), options={id(clf): {"zipmap": False}},
                target_opset=15)
    (OUT / "logreg.onnx").write_bytes(m.SerializeToString())
    sess = onnxruntime.InferenceSession(str(OUT / "logreg.onnx"))
    cases = []
    for _ in range(5):
        xt = rng.standard_normal((1, 6)).astype(np.float32)
        label, p = sess.run(["label", "probabilities"], {"X": xt})
        cases.append({"input": xt.flatten().tolist(), "label": int(label[0]),
                      "probabilities": p.flatten().tolist()})
    ref["logreg"] = cases
    ref["versions"] = {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
                       "skl2onnx": skl2onnx.__version__, "scikit-learn": sklearn.__version__}
    (OUT / "onnx_reference.json").write_text(json.dumps(ref, indent=1) + "\n")
    print(f"wrote {OUT}: epoch_linear.onnx, logreg.onnx, onnx_reference.json ({ref['versions']})")


if __name__ == "__main__":
    main()
