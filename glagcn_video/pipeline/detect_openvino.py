"""Running the YOLO pose detector with OpenVINO on the CPU, in float32.

Ultralytics exports a ``.pt`` model to OpenVINO IR and runs it through its
own predictor (same pre- and post-processing, same results objects); on the
development machine's 2 CPU cores that ran yolo11n-pose 1.25-1.58x faster than
PyTorch at the demo's settings, with the same keypoints (BENCHMARKS.md).
Two things this module adds:

* The export is made once per weights file and kept in a cache folder
  (``GLAGCN_VIDEO_CACHE``, else ``$XDG_CACHE_HOME/glagcn-video``, else
  ``~/.cache/glagcn-video``), keyed by the weights' hash and the OpenVINO and
  Ultralytics versions; it is written to a temporary folder and renamed into
  place, so an interrupted export never leaves a half-written model behind.
  The export has dynamic input shapes, so frames keep Ultralytics'
  rectangular letterbox (640 x 384 for 16:9 video) instead of a padded square.
* OpenVINO's CPU plugin computes in bfloat16 by default on CPUs that have it
  (AVX512-BF16, AMX), where some of yolo11n-pose's keypoints moved by 7-61 px;
  the model is compiled with ``INFERENCE_PRECISION_HINT=f32`` so that it
  gives PyTorch's detections (keypoints within 1e-3 px here).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import warnings
from functools import partial
from pathlib import Path

from ..files import DemoError, first_line

_LOG = logging.getLogger(__name__)
_CHUNK = 1 << 20


def available() -> bool:
    """Whether the ``openvino`` package can be imported."""
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def cache_root() -> Path:
    """The folder that holds exported detectors (see module docstring)."""
    if os.environ.get("GLAGCN_VIDEO_CACHE"):
        return Path(os.environ["GLAGCN_VIDEO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "glagcn-video"


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def exported_model(weights: str | os.PathLike) -> Path:
    """The OpenVINO export of the ``.pt`` pose model ``weights`` (a folder Ultralytics
    can load), made now if it is not in the cache yet."""
    import openvino
    import ultralytics
    from ultralytics import YOLO

    weights = Path(weights)
    if weights.suffix != ".pt" or not weights.is_file():
        raise DemoError(weights, "the OpenVINO runtime needs a .pt pose model file; "
                                 "use --runtime torch for other detectors")
    # openvino.__version__ is like "2026.4.1-22982-e213a147257-releases/2026"
    versions = f"ov{openvino.__version__.split('-')[0]}-ul{ultralytics.__version__}"
    key = f"{weights.stem}-{_file_hash(weights)}-{versions}"
    target = cache_root() / key
    model_dir = target / "model_openvino_model"
    if model_dir.is_dir():
        return model_dir
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=target.parent))
    except OSError as exc:
        raise DemoError(target.parent, f"cannot create the detector cache folder ({exc.strerror}); "
                                       "set GLAGCN_VIDEO_CACHE or use --runtime torch") from None
    _LOG.info("exporting %s to OpenVINO, once (a few seconds), into %s", weights.name, target)
    try:
        shutil.copyfile(weights, work / "model.pt")  # Ultralytics exports next to the weights
        with warnings.catch_warnings():  # the export traces with torch.jit, which warns it is deprecated
            warnings.simplefilter("ignore")
            YOLO(str(work / "model.pt")).export(format="openvino", dynamic=True, verbose=False)
        (work / "model.pt").unlink()
        try:
            os.replace(work, target)
        except OSError:  # another process finished the same export first: use that one
            if not model_dir.is_dir():
                raise
    except Exception as exc:  # Ultralytics and OpenVINO raise many types; the user needs one line
        raise DemoError(weights, f"cannot export the detector to OpenVINO ({first_line(exc)}); "
                                 "use --runtime torch") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return model_dir


def compile_for_cpu(yolo, source: str | os.PathLike, threads: int, precision: str = "f32") -> None:
    """Recompile the OpenVINO model behind a YOLO object whose predictor is set up
    (after its first call) in float32 (or another ``precision``: the benchmarks
    measure "bf16") on ``threads`` CPU threads, for every later call.

    Ultralytics compiles it with the plugin's default precision and threads and
    offers no option for either; this replaces its compiled model and the
    function it recompiles with (used when input shapes change).
    """
    backend = getattr(getattr(getattr(yolo, "predictor", None), "model", None), "backend", None)
    compile_model = getattr(backend, "compile_model", None)
    core = getattr(getattr(compile_model, "func", None), "__self__", None)  # the ov.Core it compiled with
    if (not isinstance(compile_model, partial) or not hasattr(backend, "ov_compiled_model")
            or not hasattr(core, "read_model")):
        raise DemoError(source, "this Ultralytics version runs OpenVINO models in a way this "
                                "program does not know; use --runtime torch")
    config = {**compile_model.keywords.get("config", {}), "INFERENCE_PRECISION_HINT": precision,
              "INFERENCE_NUM_THREADS": threads}
    backend.compile_model = partial(compile_model.func, *compile_model.args,
                                    **{**compile_model.keywords, "config": config})
    xml = next(Path(source).glob("*.xml"))
    backend.ov_compiled_model = backend.compile_model(core.read_model(str(xml)))


def compiled_precision(yolo) -> str:
    """The inference precision of a YOLO object's compiled OpenVINO model ("f32", "bf16", ...)."""
    return yolo.predictor.model.backend.ov_compiled_model.get_property("INFERENCE_PRECISION_HINT").to_string()
