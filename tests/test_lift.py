"""Lifting: input normalisation and scale, windows around every frame, flip test-time augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glagcn_video.files import DemoError
from conftest import shared_path
from glagcn_video.camera import normalize_screen_coordinates, project_to_2d, world_to_camera
from glagcn_video.datasets.load import camera_for, dataset_info, load_cameras, load_positions_3d
from glagcn_video.lifter.inference import Lifter, resolve_device, windows
from glagcn_video.pipeline.lift import H36M_TORSO, match_training_scale
from glagcn_video.lifter.model import GLAGCN
from glagcn_video.skeleton import H36M


def test_normalisation_follows_the_spec():
    width, height = 1280, 720
    points = np.array([[0, 0], [width, height], [width / 2, height / 2], [320, 90]], dtype=np.float32)
    out = normalize_screen_coordinates(points, width, height)
    assert out.dtype == np.float32
    expected = [[-1, -height / width], [1, height / width], [0, 0],
                [320 / width * 2 - 1, 90 / width * 2 - height / width]]
    np.testing.assert_allclose(out, expected, atol=1e-6)


@pytest.fixture(scope="module")
def random_lifter_model() -> GLAGCN:
    torch.manual_seed(0)
    return GLAGCN(H36M, (3, 3), 16).eval()


def torso(keypoints: np.ndarray) -> np.ndarray:
    return np.linalg.norm(keypoints[:, 8] - keypoints[:, 0], axis=-1)


def test_training_scale_fixes_the_median_torso_and_keeps_the_pelvis():
    rng = np.random.default_rng(3)
    track = rng.uniform(-0.5, 0.5, size=(30, 17, 2)).astype(np.float32)
    track[:, 8] = track[:, 0] + [0.0, -0.1]  # torso 0.1 long, so the factor is 2.08
    track[5, 8] = track[5, 0] + [0.0, -0.3]  # one outlier frame does not move the median
    scaled, factor = match_training_scale(track)
    assert factor == pytest.approx(H36M_TORSO / 0.1, rel=1e-5) and scaled.dtype == np.float32
    assert np.median(torso(scaled)) == pytest.approx(H36M_TORSO, rel=1e-5)
    np.testing.assert_allclose(scaled[:, 0], track[:, 0])  # the pelvis stays where it is
    np.testing.assert_allclose(scaled - scaled[:, :1], (track - track[:, :1]) * factor, atol=1e-6)


def test_training_scale_leaves_a_degenerate_track_alone():
    track = np.zeros((4, 17, 2), np.float32)  # every joint on the pelvis: no size to measure
    scaled, factor = match_training_scale(track)
    assert factor == 1.0 and (scaled == track).all()


def test_lifted_pose_does_not_depend_on_the_size_on_screen(random_lifter_model):
    """The same motion seen at half the size gives the same 3D once scaled."""
    track = np.random.default_rng(4).uniform(-0.4, 0.4, size=(12, 17, 2)).astype(np.float32)
    small = track[:, :1] + (track - track[:, :1]) * 0.5
    lifter = Lifter(random_lifter_model, random_lifter_model.receptive_field)
    np.testing.assert_allclose(lifter(match_training_scale(small)[0]),
                               lifter(match_training_scale(track)[0]), atol=1e-5)
    assert np.abs(lifter(small) - lifter(track)).max() > 1e-3  # unscaled, the size does matter


def test_training_torso_is_the_human36m_median():
    """H36M_TORSO recomputed: pelvis-thorax in normalised units, training subjects,
    all four cameras, every 10th frame, projected with the dataset's cameras."""
    positions = load_positions_3d(shared_path("h36m/data_3d_h36m.npz"), "h36m")
    cameras = load_cameras(shared_path("h36m/cameras.json"))
    lengths = []
    for subject in dataset_info("h36m").train_subjects:
        for cam in camera_for(cameras, subject):
            for world in positions[subject].values():
                points = world_to_camera(world[::10, [0, 8]], cam.orientation, cam.translation)
                pixels = project_to_2d(points, cam.focal, cam.center, cam.radial, cam.tangential)
                pelvis, thorax = np.moveaxis(normalize_screen_coordinates(pixels, cam.res_w, cam.res_h), 1, 0)
                lengths.append(np.linalg.norm(thorax - pelvis, axis=-1))
    assert np.median(np.concatenate(lengths)) == pytest.approx(H36M_TORSO, abs=5e-4)


def test_windows_centre_each_frame_and_repeat_the_edges():
    sequence = torch.arange(4, dtype=torch.float32)[:, None, None].expand(4, 17, 2)
    out = windows(sequence, 5)
    assert out.shape == (4, 5, 17, 2)
    assert out[:, :, 0, 0].tolist() == [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3], [0, 1, 2, 3, 3], [1, 2, 3, 3, 3]]
    single = windows(sequence[:1], 27)
    assert single.shape == (1, 27, 17, 2) and (single == 0).all()


class PickFrame(torch.nn.Module):
    """A stand-in lifter: 'lifts' window frame ``offset`` from the centre to (x, y, 0).
    It commutes with mirroring, so flip TTA must return exactly its own output."""

    def __init__(self, offset: int = 0):
        super().__init__()
        self.offset = offset
        self.calls: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(len(x))
        frame = x[:, x.shape[1] // 2 + self.offset]
        return torch.cat([frame, torch.zeros_like(frame[..., :1])], dim=-1)[:, None]


@pytest.mark.parametrize("frames", [1, 3, 40])
@pytest.mark.parametrize("tta", [False, True])
def test_every_frame_gets_its_own_window(frames, tta):
    keypoints = np.random.default_rng(0).normal(size=(frames, 17, 2)).astype(np.float32)
    out = Lifter(PickFrame(), receptive_field=27, batch_size=8, tta=tta)(keypoints)
    assert out.shape == (frames, 17, 3)
    np.testing.assert_allclose(out[..., :2], keypoints, atol=1e-6)
    np.testing.assert_array_equal(out[..., 2], 0)


def test_frames_past_the_ends_repeat_the_edge_frame():
    keypoints = np.arange(6, dtype=np.float32)[:, None, None] * np.ones((6, 17, 2), np.float32)
    early = Lifter(PickFrame(offset=-2), receptive_field=5, tta=False)(keypoints)
    late = Lifter(PickFrame(offset=2), receptive_field=5, tta=False)(keypoints)
    assert early[:, 0, 0].tolist() == [0, 0, 0, 1, 2, 3]
    assert late[:, 0, 0].tolist() == [2, 3, 4, 5, 5, 5]


def test_batches_hold_at_most_batch_size_windows_and_tta_doubles_them():
    model = PickFrame()
    Lifter(model, receptive_field=9, batch_size=4, tta=True)(np.zeros((10, 17, 2), np.float32))
    assert model.calls == [8, 8, 4]


class LinearLifter(torch.nn.Module):
    """A random linear map from the whole window to 3D: sensitive to every
    input value and to which joint is where, with no symmetry of its own."""

    def __init__(self, frames: int):
        super().__init__()
        torch.manual_seed(0)
        self.linear = torch.nn.Linear(frames * 17 * 2, 17 * 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1)).view(len(x), 1, 17, 3)


def mirror(points: np.ndarray) -> np.ndarray:
    """x -> -x and left/right joints swapped, in 2D or 3D."""
    out = points[:, H36M.flip_permutation()].copy()
    out[..., 0] *= -1
    return out


def test_flip_tta_output_is_mirror_symmetric():
    """With TTA, lifting the mirrored video gives exactly the mirrored poses,
    even from a model that knows nothing about symmetry."""
    keypoints = np.random.default_rng(1).uniform(-0.8, 0.8, size=(12, 17, 2)).astype(np.float32)
    model = LinearLifter(frames=9)
    lifter = Lifter(model, receptive_field=9, tta=True)
    poses = lifter(keypoints)
    np.testing.assert_allclose(lifter(mirror(keypoints)), mirror(poses), atol=1e-5)
    plain = Lifter(model, receptive_field=9, tta=False)
    assert np.abs(plain(mirror(keypoints)) - mirror(plain(keypoints))).max() > 0.1  # not symmetric alone
    assert np.abs(plain(keypoints) - poses).max() > 0.1  # TTA really averages in a second prediction


def test_predict_gives_both_results_for_every_strided_frame(random_lifter_model):
    """Evaluation's path: plain and flip-averaged from one pass, windows still
    at the full frame rate when only every k-th frame is scored."""
    keypoints = np.random.default_rng(5).uniform(-1, 1, size=(23, 17, 2)).astype(np.float32)
    lifter = Lifter(random_lifter_model, random_lifter_model.receptive_field, batch_size=4)
    plain, averaged = lifter.predict(keypoints)
    np.testing.assert_array_equal(averaged, lifter(keypoints))
    no_tta = Lifter(random_lifter_model, random_lifter_model.receptive_field, batch_size=4, tta=False)
    np.testing.assert_allclose(plain, no_tta(keypoints), atol=1e-6)
    assert no_tta.predict(keypoints)[1] is None
    strided_plain, strided_averaged = lifter.predict(keypoints, stride=5)
    assert len(strided_plain) == 5  # frames 0, 5, 10, 15, 20
    np.testing.assert_allclose(strided_plain, plain[::5], atol=1e-6)
    np.testing.assert_allclose(strided_averaged, averaged[::5], atol=1e-6)


def test_chosen_frames_are_lifted_alone_and_match_the_whole_sequence(random_lifter_model):
    keypoints = np.random.default_rng(6).uniform(-1, 1, size=(23, 17, 2)).astype(np.float32)
    lifter = Lifter(random_lifter_model, random_lifter_model.receptive_field, batch_size=4)
    chosen = np.array([0, 3, 4, 22])
    np.testing.assert_allclose(lifter(keypoints, frames=chosen), lifter(keypoints)[chosen], atol=1e-6)
    model = PickFrame()
    out = Lifter(model, receptive_field=9, batch_size=4, tta=False)(keypoints, frames=chosen)
    assert model.calls == [4]  # one window per chosen frame, no more
    np.testing.assert_allclose(out[..., :2], keypoints[chosen], atol=1e-6)


def test_batch_size_does_not_change_results(random_lifter_model):
    keypoints = np.random.default_rng(2).uniform(-1, 1, size=(20, 17, 2)).astype(np.float32)
    small = Lifter(random_lifter_model, random_lifter_model.receptive_field, batch_size=3)(keypoints)
    large = Lifter(random_lifter_model, random_lifter_model.receptive_field, batch_size=100)(keypoints)
    np.testing.assert_allclose(small, large, atol=1e-5)


def test_device_choice():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None).type in {"cpu", "cuda", "mps"}
    with pytest.raises(DemoError, match="--device toaster: not a device name"):
        resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(DemoError, match="--device cuda: not available"):
            resolve_device("cuda")
