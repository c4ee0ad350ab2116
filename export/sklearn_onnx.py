"""KNN / SVM baselines → ONNX with their feature step in the same graph, so they obey the CNN contract.

The graph is ``input`` (preprocessed NCHW) → features (pixel AveragePool + Flatten, or a CNN
embedding graph) → the skl2onnx classifier → a 0/1 matrix that places the estimator's ``classes_``
columns into the bundle's class order → ``probabilities`` (N × C).
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from auroral.edge.errors import UserError
from auroral.export.source import label_index
from auroral.export.torch_onnx import INPUT_NAME, OPSET, OUTPUT_NAME, check_self_contained

log = logging.getLogger(__name__)

FEATURES = "features"
ML_OPSET = 3
_PREFIX = "clf_"


def pixel_feature_graph(size: int, pool: int) -> onnx.ModelProto:
    """AveragePool kernel = stride = size/pool, then Flatten: the same (3·P·P, channel-major) vector as training."""
    if size % pool:
        raise UserError(f"pixel features need the image size ({size}) to be a multiple of the pool size ({pool})")
    step = size // pool
    graph = helper.make_graph(
        [helper.make_node("AveragePool", [INPUT_NAME], ["pooled"], kernel_shape=[step, step], strides=[step, step]),
         helper.make_node("Flatten", ["pooled"], [FEATURES], axis=1)],
        "pixel_features",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info(FEATURES, TensorProto.FLOAT, ["batch", 3 * pool * pool])],
    )
    return _finish(graph)


def _finish(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 9
    return model


def final_estimator(estimator: Any) -> Any:
    """The classifier itself, whether fitted alone or as the last step of a Pipeline."""
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def classifier_graph(estimator: Any, n_features: int, kind: str) -> onnx.ModelProto:
    """skl2onnx conversion: probabilities as a plain tensor (zipmap off), KNN with the fast cdist distance."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    final = final_estimator(estimator)
    if not hasattr(final, "predict_proba") or (kind == "svm" and not getattr(final, "probability", True)):
        raise UserError(f"the {kind} model was trained without probability estimates; retrain it with probability=True")
    options: dict[str, Any] = {"zipmap": False}
    if kind == "knn":
        options["optim"] = "cdist"
    with warnings.catch_warnings():
        # scikit-learn 1.9 deprecates SVC's probA_/probB_, which skl2onnx reads to build the Platt scaling
        warnings.filterwarnings("ignore", message="Attribute `prob[AB]_` was deprecated", category=FutureWarning)
        model = convert_sklearn(
            estimator, initial_types=[(FEATURES, FloatTensorType([None, n_features]))],
            options={id(final): options}, target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
        )
    model.ir_version = 9
    if kind == "knn" and getattr(final, "weights", "uniform") == "distance":
        fix_knn_distance_sign(model)
    return model


def fix_knn_distance_sign(model: onnx.ModelProto) -> None:
    """Undo skl2onnx's sign flip of the TopK distances (opset ≥ 11).

    Left in, the flip turns ``weights='distance'`` into uniform votes: skl2onnx (≤ 1.20) negates the
    distances that ``TopK(largest=0)`` already returns positive, so ``1 / max(d, 1e-6)`` becomes 1e6 for
    every neighbour. We set that constant back to +1.
    """
    topk_values = {node.output[0] for node in model.graph.node if node.op_type == "TopK"}
    initializers = {t.name: t for t in model.graph.initializer}
    flipped = 0
    for node in model.graph.node:
        if node.op_type != "Mul" or node.input[0] not in topk_values or node.input[1] not in initializers:
            continue
        constant = initializers[node.input[1]]
        if np.array_equal(numpy_helper.to_array(constant), [-1]):
            constant.CopyFrom(numpy_helper.from_array(np.ones_like(numpy_helper.to_array(constant)), constant.name))
            flipped += 1
    if flipped != 1:
        raise UserError("cannot export this distance-weighted KNN: expected one negated TopK distance in the "
                        f"skl2onnx graph, found {flipped}")
    log.info("event=knn_distance_sign_fixed")


def class_map(estimator_classes: np.ndarray, classes: list[str]) -> np.ndarray:
    """(len(classes_), C) 0/1 matrix.

    Column j of the estimator's output goes to bundle class ``label_index(classes_[j])``.
    """
    mapping = np.zeros((len(estimator_classes), len(classes)), np.float32)
    for row, label in enumerate(estimator_classes):
        mapping[row, label_index(label, classes)] = 1.0
    return mapping


def baseline_model(estimator: Any, features: onnx.ModelProto, classes: list[str], kind: str) -> onnx.ModelProto:
    """Merge feature graph + classifier + class placement into one model with the bundle's input/output names."""
    n_features = features.graph.output[0].type.tensor_type.shape.dim[1].dim_value
    classifier = compose.add_prefix(classifier_graph(estimator, n_features, kind), _PREFIX)
    probabilities = next(o.name for o in classifier.graph.output if "probab" in o.name)
    _unify_opsets(features, classifier)
    merged = compose.merge_models(features, classifier, io_map=[(features.graph.output[0].name, _PREFIX + FEATURES)],
                                  outputs=[probabilities])
    mapping = class_map(final_estimator(estimator).classes_, classes)
    merged.graph.initializer.append(numpy_helper.from_array(mapping, "class_map"))
    merged.graph.node.append(helper.make_node("MatMul", [probabilities, "class_map"], [OUTPUT_NAME]))
    del merged.graph.output[:]
    merged.graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", len(classes)]))
    return merged


def _unify_opsets(*models: onnx.ModelProto) -> None:
    """merge_models needs identical opset imports and IR versions: raise both sides to the highest of each."""
    versions: dict[str, int] = {}
    for model in models:
        for op in model.opset_import:
            versions[op.domain] = max(versions.get(op.domain, 0), op.version)
    ir_version = max(model.ir_version for model in models)
    for model in models:
        del model.opset_import[:]
        model.opset_import.extend(helper.make_opsetid(d, v) for d, v in versions.items())
        model.ir_version = ir_version


def save_baseline(model: onnx.ModelProto, out_path: Path) -> Path:
    onnx.save(model, str(out_path))
    check_self_contained(out_path)
    log.info("event=baseline_exported path=%s bytes=%d", out_path, out_path.stat().st_size)
    return out_path
