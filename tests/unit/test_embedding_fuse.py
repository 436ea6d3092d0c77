"""The default embedder's graph is rebuilt with fused BERT ops before quantizing, computing the same thing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent_memory.embedding import _fuse, _quantize
from agent_memory.embedding.minilm import MINILM_SHA256, MiniLMEmbedder, model_paths

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")


def _fold(source: Path, out: Path) -> Path:
    """The shipped graph with its constant Cast/Mul folded (what the build quantizes)."""
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(out)
    options.log_severity_level = 3
    onnxruntime.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
    return out


def _ops(path: Path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


@pytest.mark.slow
def test_the_fused_graph_computes_what_the_shipped_graph_computes(tmp_path: Path) -> None:
    folded = _fold(model_paths()[0], tmp_path / "folded.onnx")
    fused = tmp_path / "fused.onnx"
    _fuse.fuse_bert(folded, fused)
    assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= _ops(fused)
    assert not {"Softmax", "Transpose", "Erf", "Where"} & _ops(fused)  # the export's small ops are gone
    assert _fuse.same_outputs(folded, fused, min_cosine=0.99999)


@pytest.mark.slow
def test_the_default_model_runs_fused_int8_attention_and_keeps_its_neighbours(tmp_path: Path) -> None:
    source, _ = model_paths()
    built = _quantize.quantized_model(source, MINILM_SHA256, tmp_path)
    assert "QAttention" in _ops(built) and "Attention" not in _ops(built)  # Q, K and V in one int8 product
    texts = ["I moved to Denver last spring", "Last spring I relocated to Denver",
             "My sister adopted a grey kitten", "She got a small cat from the shelter", "The quarterly tax form is due"]
    fused = MiniLMEmbedder()
    fused.load()
    plain = MiniLMEmbedder(quantized=False)
    got, reference = fused.embed_batch(texts), plain.embed_batch(texts)
    assert ((got * reference).sum(axis=1) > 0.97).all()  # the fp32 graph's vectors, within int8 rounding
    similarity = got @ got.T
    np.fill_diagonal(similarity, -1)
    assert similarity.argmax(axis=1).tolist()[:4] == [1, 0, 3, 2]  # each sentence's paraphrase is its nearest


@pytest.mark.slow
def test_a_graph_that_is_not_bert_is_quantized_unfused_with_a_warning(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    from onnx import TensorProto, helper, numpy_helper

    weight = np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "plain",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8])],
                              [numpy_helper.from_array(weight, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    source = tmp_path / "plain.onnx"
    onnx.save(model, str(source))
    out = tmp_path / "built"
    out.mkdir()
    with caplog.at_level("WARNING", logger="agent_memory.embedding._quantize"):
        built = _quantize.build_quantized(source, out)
    assert "could not fuse" in caplog.text
    assert "MatMulInteger" in _ops(built)
    assert sorted(p.name for p in out.iterdir()) == ["model.onnx", "model.onnx.sha256"]  # no intermediate files
    x = np.random.default_rng(1).standard_normal((3, 16)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(built), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": x})
    # int8 products (u8 x s8 pairs may saturate on AVX2 without VNNI): close, not equal
    assert np.corrcoef(y.ravel(), (x @ weight).ravel())[0, 1] > 0.95
