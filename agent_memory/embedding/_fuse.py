"""Rebuild the folded MiniLM graph with onnxruntime's fused BERT ops before it is quantized.

The shipped export computes each layer's attention in ~30 small ops (Reshape, Transpose, Slice, the
mask through Where, IsNaN after Softmax) and GELU in five; onnxruntime's transformer optimizer does
not recognise this export's mask pattern, so it fuses none of it. The architecture is plain BERT, so
the graph is rebuilt here from the folded graph's own weights: per layer one ``Attention`` (Q, K and
V in one product; ``QAttention`` once quantized, one int8 product instead of three), then
``SkipLayerNormalization`` with the output bias and ``BiasGelu``. Same weights, same maths: the
rebuilt fp32 graph is checked against the folded one on a probe batch before it is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["fuse_bert", "same_outputs"]

_EPSILON = 1e-12


def _linear(graph: Any, weights: dict[str, np.ndarray], bias: str) -> tuple[np.ndarray, np.ndarray]:
    """(weight, bias) of the ``Add(MatMul(x, W), bias)`` whose bias initializer is named ``bias``."""
    producers = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type == "Add" and bias in node.input and bias in weights:
            other = next(x for x in node.input if x != bias)
            matmul = producers.get(other)
            if matmul is not None and matmul.op_type == "MatMul" and matmul.input[1] in weights:
                return weights[matmul.input[1]], weights[bias]
    raise ValueError(f"no MatMul + Add with bias {bias!r} in the graph")


def fuse_bert(folded: Path, out: Path, *, num_heads: int = 12) -> None:
    """Write to ``out`` the fused form of the folded BERT encoder ``folded`` (fp32, same inputs and output).

    Raises ValueError when ``folded`` does not hold the expected BERT weights.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(folded))
    graph = model.graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    word = next((n for n in weights if n.endswith("embeddings.word_embeddings.weight")), None)
    if word is None:
        raise ValueError("no embeddings.word_embeddings.weight initializer")
    prefix = word[: -len("embeddings.word_embeddings.weight")]
    emb = prefix + "embeddings."
    layers = sorted({int(n[len(prefix) + 14:].split(".", 1)[0]) for n in weights
                     if n.startswith(prefix + "encoder.layer.")})
    inputs = [i.name for i in graph.input]
    if layers != list(range(len(layers))) or not layers or inputs != ["input_ids", "attention_mask", "token_type_ids"]:
        raise ValueError(f"unexpected BERT layout: layers {layers}, inputs {inputs}")
    hidden = weights[word].shape[1]
    if hidden % num_heads:
        raise ValueError(f"hidden size {hidden} is not a multiple of {num_heads} heads")
    inits: list[Any] = []

    def init(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    positions = weights.get(emb + "position_ids")
    if positions is None:
        positions = np.arange(weights[emb + "position_embeddings.weight"].shape[0], dtype=np.int64)[None, :]
    for key in ("word_embeddings.weight", "position_embeddings.weight", "token_type_embeddings.weight",
                "LayerNorm.weight", "LayerNorm.bias"):
        init(emb + key, weights[emb + key])
    init(emb + "position_ids", positions.astype(np.int64))
    init("fuse.zero", np.array([0], np.int64))
    init("fuse.one", np.array([1], np.int64))
    nodes = [
        helper.make_node("Shape", ["input_ids"], ["fuse.seq_len"], start=1, end=2),
        helper.make_node("Slice", [emb + "position_ids", "fuse.zero", "fuse.seq_len", "fuse.one"], ["fuse.pos_ids"]),
        helper.make_node("Gather", [emb + "word_embeddings.weight", "input_ids"], ["fuse.emb_word"]),
        helper.make_node("Gather", [emb + "token_type_embeddings.weight", "token_type_ids"], ["fuse.emb_type"]),
        helper.make_node("Gather", [emb + "position_embeddings.weight", "fuse.pos_ids"], ["fuse.emb_pos"]),
        helper.make_node("Add", ["fuse.emb_word", "fuse.emb_type"], ["fuse.emb_wt"]),
        helper.make_node("Add", ["fuse.emb_wt", "fuse.emb_pos"], ["fuse.emb_sum"]),
        helper.make_node("LayerNormalization", ["fuse.emb_sum", emb + "LayerNorm.weight", emb + "LayerNorm.bias"],
                         ["fuse.h"], axis=-1, epsilon=_EPSILON),
        helper.make_node("Cast", ["attention_mask"], ["fuse.mask"], to=TensorProto.INT32),
    ]
    x, ms = "fuse.h", "com.microsoft"
    for i in layers:
        lp, n = f"{prefix}encoder.layer.{i}.", f"l{i}."
        (wq, bq), (wk, bk), (wv, bv) = (_linear(graph, weights, f"{lp}attention.self.{p}.bias")
                                        for p in ("query", "key", "value"))
        wo, bo = _linear(graph, weights, f"{lp}attention.output.dense.bias")
        w1, b1 = _linear(graph, weights, f"{lp}intermediate.dense.bias")
        w2, b2 = _linear(graph, weights, f"{lp}output.dense.bias")
        last = "last_hidden_state" if i == layers[-1] else n + "out"
        ln1 = [init(n + "ln1.weight", weights[lp + "attention.output.LayerNorm.weight"]),
               init(n + "ln1.bias", weights[lp + "attention.output.LayerNorm.bias"]), init(n + "out.bias", bo)]
        ln2 = [init(n + "ln2.weight", weights[lp + "output.LayerNorm.weight"]),
               init(n + "ln2.bias", weights[lp + "output.LayerNorm.bias"]), init(n + "ffn2.bias", b2)]
        nodes += [
            helper.make_node("Attention", [x, init(n + "qkv.weight", np.concatenate([wq, wk, wv], axis=1)),
                                           init(n + "qkv.bias", np.concatenate([bq, bk, bv])), "fuse.mask"],
                             [n + "attention"], name=n + "attention", domain=ms, num_heads=num_heads),
            helper.make_node("MatMul", [n + "attention", init(n + "out.weight", wo)], [n + "attention.out"],
                             name=n + "attention.out"),
            helper.make_node("SkipLayerNormalization", [n + "attention.out", x, *ln1], [n + "h1"], name=n + "ln1",
                             domain=ms, epsilon=_EPSILON),
            helper.make_node("MatMul", [n + "h1", init(n + "ffn1.weight", w1)], [n + "ffn1"], name=n + "ffn1"),
            helper.make_node("BiasGelu", [n + "ffn1", init(n + "ffn1.bias", b1)], [n + "gelu"], name=n + "gelu",
                             domain=ms),
            helper.make_node("MatMul", [n + "gelu", init(n + "ffn2.weight", w2)], [n + "ffn2"], name=n + "ffn2"),
            helper.make_node("SkipLayerNormalization", [n + "ffn2", n + "h1", *ln2], [last], name=n + "ln2",
                             domain=ms, epsilon=_EPSILON),
        ]
        x = last
    ids = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in inputs]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    fused = helper.make_model(helper.make_graph(nodes, "minilm-fused", ids, [output], inits),
                              opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(ms, 1)])
    fused.ir_version = model.ir_version
    onnx.checker.check_model(fused)
    onnx.save(fused, str(out))


def same_outputs(first: Path, second: Path, *, min_cosine: float = 0.9999) -> bool:
    """Whether two fp32 encoders give the same mean-pooled vectors (cosine >= ``min_cosine``) on a probe
    batch of two rows, one padded."""
    import onnxruntime

    rng = np.random.default_rng(13)
    ids = rng.integers(1000, 20000, size=(2, 24), dtype=np.int64)
    mask = np.ones_like(ids)
    mask[1, 15:] = 0
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    pooled = []
    for path in (first, second):
        session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        (hidden,) = session.run(["last_hidden_state"], feeds)
        vectors = (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        pooled.append(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    return bool(((pooled[0] * pooled[1]).sum(axis=1) >= min_cosine).all())
