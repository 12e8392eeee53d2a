"""Human3.6M and HumanEva-I: preparing the files and reading them back.

``load.py`` holds the table of datasets and turns the VideoPose3D-format
npz files and camera parameters into checked sequences of normalised 2D
inputs and camera-space 3D targets; ``windows.py`` cuts those sequences into
the windows the lifter trains on. ``prepare_h36m.py`` and
``prepare_humaneva.py`` write the files (behind ``data/prepare_data_*.py``),
the former with Human3.6M's published calibration (``h36m_cameras.json``),
the latter with cameras fitted by ``calibrate.py``.

Only training reads datasets: this package imports neither the lifter nor
the demo pipeline, so data code can be tested without either.
"""
