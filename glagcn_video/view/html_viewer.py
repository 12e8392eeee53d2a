"""An interactive 3D viewer of the result: one self-contained HTML file (``--html``).

It is a plotly figure (plotly.js embedded, so it opens offline in any
browser): every person's skeleton in the Y-up world frame of ``world/frame.py``,
with the video's IDs and colours, on a 1 m ground grid; rotate, zoom and pan
with the mouse, Play/Pause, and a timeline slider that shows the frame
number and time. When the result video is in the same folder as the page,
the page shows it and a small script keeps the two in step: the video's own
controls play, pause and seek, and the 3D view follows its ``currentTime``;
dragging the slider seeks the video. ``page.html#frame=N`` opens at frame N;
the plot's ``data-frame`` attribute names the frame drawn last.

Size: the poses are stored as float32 (base64 in the page), one animation
frame per video frame up to :data:`MAX_FPS` (higher frame rates are
subsampled); plotly.js itself adds about 4.6 MB. docs/demo.md gives the
measured size per minute of video.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from ..files import atomic_write
from ..skeleton import H36M, Layout
from ..world.contacts import ankle_indices
from ..world.tracks import WorldTrack
from .layouts import AZIMUTH_DEG, ELEVATION_DEG
from .render import BGR, person_shades, skeleton_bones, view_rotation

HTML_SUFFIXES = (".html", ".htm")
MAX_FPS = 30.0  # animation frames per second of video at most
_LABEL_RISE = 0.15  # metres between the head joint and the person's ID
_GRID_COLOUR = "rgb(110, 110, 110)"


def _rgb(bgr: BGR) -> str:
    return f"rgb({bgr[2]}, {bgr[1]}, {bgr[0]})"


def _chains(layout: Layout) -> list[list[list[int]]]:
    """Per side (left, right, centre), the layout's bones as chains of joints, so each
    side is one polyline (fewer points than separate bones)."""
    bones = skeleton_bones(layout)
    chains: list[list[list[int]]] = [[], [], []]
    for child, parent, side in zip(bones.child.tolist(), bones.parent.tolist(), bones.bone_side):
        for chain in chains[side]:
            if chain[-1] == parent:
                chain.append(child)
                break
        else:
            chains[side].append([parent, child])
    return chains


def _polyline(joints: np.ndarray, chains: list[list[int]]) -> np.ndarray:
    """(P, 3) points of the chains, NaN rows between them (plotly breaks the line there)."""
    parts = []
    for chain in chains:
        parts += [joints[chain], np.full((1, 3), np.nan)]
    return np.concatenate(parts[:-1]).astype(np.float32)


def _typed(values: np.ndarray) -> dict:
    """A float32 array in plotly's typed-array JSON form (base64; NaN breaks a line)."""
    return {"dtype": "f4", "bdata": base64.b64encode(np.ascontiguousarray(values, np.float32)).decode()}


def _xyz(points: np.ndarray) -> dict:
    """(P, 3) points as a scatter3d trace update."""
    return {axis: _typed(points[:, k]) for k, axis in enumerate("xyz")}


def _ground(low: np.ndarray, high: np.ndarray) -> go.Scatter3d:
    """1 m grid lines on the ground (world y = 0) between the (x, z) corners ``low`` and ``high``."""
    points = []
    for x in np.arange(low[0], high[0] + 0.5):
        points += [(x, 0, low[1]), (x, 0, high[1]), (np.nan,) * 3]
    for z in np.arange(low[1], high[1] + 0.5):
        points += [(low[0], 0, z), (high[0], 0, z), (np.nan,) * 3]
    grid = np.array(points, np.float32)
    return go.Scatter3d(x=grid[:, 0], y=grid[:, 1], z=grid[:, 2], mode="lines", name="ground (1 m grid)",
                        line=dict(color=_GRID_COLOUR, width=1), hoverinfo="skip")


def _kept_frames(num_frames: int, fps: float) -> np.ndarray:
    """The video frames that get an animation frame: all up to :data:`MAX_FPS`, else evenly subsampled."""
    step = max(1, int(np.ceil(fps / MAX_FPS - 1e-9)))
    return np.arange(0, num_frames, step)


def build_figure(tracks: list[WorldTrack], num_frames: int, fps: float,
                 layout: Layout = H36M) -> tuple[go.Figure, list[dict], np.ndarray]:
    """The figure (without its animation), its animation frames as plotly JSON dicts,
    and the video frames they show."""
    chains = _chains(layout)
    head = layout.joint_names.index("head")
    ids = sorted({t.person_id for t in tracks})
    kept = _kept_frames(max(num_frames, 1), fps)
    all_joints = np.concatenate([t.joints.reshape(-1, 3) for t in tracks]) if tracks else np.zeros((1, 3))
    all_joints = all_joints[np.isfinite(all_joints).all(axis=1)]
    if not len(all_joints):
        all_joints = np.zeros((1, 3))
    low = np.floor(np.percentile(all_joints, 1, axis=0) - 0.5)
    high = np.ceil(np.percentile(all_joints, 99, axis=0) + 0.5)
    # Vertically from the ground (or the lowest joints, if below it) to above the heads.
    low[1] = min(0.0, np.floor(np.percentile(all_joints[:, 1], 1)))
    high[1] = max(2.0, np.ceil(np.percentile(all_joints[:, 1], 99) + 0.3))

    empty = np.zeros(0, np.float32)
    traces = [_ground(low[[0, 2]], high[[0, 2]])]
    for person_id in ids:
        left, right, centre = person_shades(person_id)
        for side, (colour, name) in enumerate(((left, "left"), (right, "right"), (centre, "centre"))):
            traces.append(go.Scatter3d(
                x=empty, y=empty, z=empty, mode="lines", line=dict(color=_rgb(colour), width=6),
                name=f"person {person_id}", legendgroup=str(person_id), showlegend=side == 2,
                hovertemplate=f"person {person_id} ({name})<extra></extra>"))
        traces.append(go.Scatter3d(x=empty, y=empty, z=empty, mode="text", text=[str(person_id)],
                                   textfont=dict(color=_rgb(centre), size=16), legendgroup=str(person_id),
                                   showlegend=False, hoverinfo="skip"))
        # Planted feet: a white dot on the ground under each (world/contacts.py).
        traces.append(go.Scatter3d(x=empty, y=empty, z=empty, mode="markers",
                                   marker=dict(color="white", size=5, line=dict(color=_rgb(centre), width=2)),
                                   legendgroup=str(person_id), showlegend=False,
                                   hovertemplate=f"person {person_id}: foot planted<extra></extra>"))
    per_person = 5
    ankles = ankle_indices(layout)
    first_trace = {person_id: 1 + per_person * k for k, person_id in enumerate(ids)}

    # Frames as plain dicts with the arrays already in plotly's base64 form:
    # validating thousands of go.Frame objects would take longer than the video.
    blank: dict = {"x": [], "y": [], "z": []}  # a person not in this frame
    rows = [{int(f): r for r, f in enumerate(t.frames)} for t in tracks]
    frames = []
    for frame in kept.tolist():
        data = [blank] * (per_person * len(ids))
        for track, track_rows in zip(tracks, rows):
            row = track_rows.get(frame)
            if row is None:
                continue
            joints = track.joints[row]
            base = first_trace[track.person_id] - 1
            for side in range(3):
                data[base + side] = _xyz(_polyline(joints, chains[side]))
            data[base + 3] = _xyz(joints[head:head + 1] + [0.0, _LABEL_RISE, 0.0])
            planted = track.contacts[row] if track.contacts is not None else np.zeros(len(ankles), bool)
            feet = joints[[a for a, on in zip(ankles, planted) if on]] * [1.0, 0.0, 1.0]
            data[base + 4] = _xyz(feet) if len(feet) else blank
        frames.append({"data": data, "traces": list(range(1, 1 + len(data))), "name": str(frame)})

    figure = go.Figure(data=traces)
    steps = [dict(method="animate", label=f"{f}  {f / fps:.2f} s", value=str(f),
                  args=[[str(f)], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                       transition=dict(duration=0))]) for f in kept.tolist()]
    play = dict(frame=dict(duration=1000 * (kept[1] - kept[0] if len(kept) > 1 else 1) / fps, redraw=True),
                transition=dict(duration=0), fromcurrent=True, mode="immediate")
    pause = dict(frame=dict(duration=0, redraw=False), transition=dict(duration=0), mode="immediate")
    back = view_rotation(AZIMUTH_DEG, ELEVATION_DEG)[2] * -1.5
    size = high - low
    figure.update_layout(
        template="plotly_dark", margin=dict(l=0, r=0, t=30, b=0),
        title=dict(text="3D skeletons (world axes: Y up, ground at Y = 0, grid 1 m)", font=dict(size=14)),
        scene=dict(
            xaxis=dict(title="X (m)", range=[low[0], high[0]], dtick=1),
            yaxis=dict(title="Y up (m)", range=[low[1], high[1]], dtick=1),
            zaxis=dict(title="Z (m)", range=[low[2], high[2]], dtick=1),
            aspectmode="manual", aspectratio=dict(zip("xyz", (size / size.max()).tolist())),
            camera=dict(up=dict(x=0, y=1, z=0), eye=dict(zip("xyz", back.tolist()))),
            dragmode="orbit"),
        updatemenus=[dict(type="buttons", direction="left", x=0.0, y=0.0, xanchor="left", yanchor="top",
                          pad=dict(t=40), showactive=False,
                          buttons=[dict(label="Play", method="animate", args=[None, play]),
                                   dict(label="Pause", method="animate", args=[[None], pause])])],
        sliders=[dict(active=0, steps=steps, x=0.12, len=0.88, y=0.0, yanchor="top", pad=dict(t=30),
                      currentvalue=dict(prefix="frame ", font=dict(size=14)))],
        legend=dict(itemsizing="constant"),
    )
    return figure, frames, kept


# Keeps the 3D view on the video's current frame when the result video is beside
# the page; without the video, plotly's own Play button and slider work alone.
_SYNC_SCRIPT = """
const plot = document.getElementById('{plot_id}');
const fps = %(fps)s, kept = %(kept)s, videoName = %(video)s;
let shown = null;
function keptAt(frame) {
  let lo = 0, hi = kept.length - 1;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (kept[mid] <= frame) lo = mid; else hi = mid - 1; }
  return kept[lo];
}
function show(frame) {
  const name = String(keptAt(frame));
  if (name === shown) return;
  shown = name;
  Plotly.animate(plot, [name], {mode: 'immediate', frame: {duration: 0, redraw: true}, transition: {duration: 0}})
    // Drawn: scripts and tests can read it. Rejected when a newer frame interrupts: nothing to do.
    .then(() => { plot.dataset.frame = name; }, () => {});
}
document.body.style.cssText = 'margin:0;background:#111;';
const start = Number((location.hash.match(/frame=(\\d+)/) || [0, 0])[1]);
show(start);
if (videoName) {
  const video = document.createElement('video');
  Object.assign(video, {src: videoName, controls: true, muted: true, preload: 'auto'});
  video.style.cssText = 'display:block;max-width:100%%;max-height:40vh;margin:0 auto;';
  video.addEventListener('loadedmetadata', () => {
    plot.parentNode.insertBefore(video, plot);
    plot.style.height = '58vh';
    Plotly.relayout(plot, {updatemenus: []});
    Plotly.Plots.resize(plot);
    video.currentTime = (start + 0.5) / fps;
  });
  const follow = () => { show(Math.floor(video.currentTime * fps + 1e-3)); if (!video.paused) requestAnimationFrame(follow); };
  video.addEventListener('play', follow);
  video.addEventListener('seeked', follow);
  plot.on('plotly_sliderchange', (event) => {
    const frame = Number(event.step.value);
    if (Math.abs(video.currentTime * fps - frame) > 1) video.currentTime = (frame + 0.5) / fps;
  });
}
"""


def write_html(path: str | os.PathLike, tracks: list[WorldTrack], num_frames: int, fps: float,
               video: str | os.PathLike | None = None, layout: Layout = H36M) -> None:
    """Writes the viewer to ``path`` atomically, once. ``video``: the result video;
    when it is in the same folder as ``path`` the page plays it in sync."""
    path = Path(path)
    figure, frames, kept = build_figure(tracks, num_frames, fps, layout)
    beside = video is not None and Path(video).resolve().parent == path.resolve().parent
    script = _SYNC_SCRIPT % dict(fps=json.dumps(float(fps)), kept=json.dumps(kept.tolist()),
                                 video=json.dumps(Path(video).name if beside else None))
    content = figure.to_plotly_json()
    content["frames"] = frames
    html = pio.to_html(content, include_plotlyjs=True, full_html=True, auto_play=False, validate=False,
                       post_script=script, default_height="85vh",
                       config=dict(displaylogo=False, scrollZoom=True))
    atomic_write(path, lambda f: f.write(html), binary=False)
