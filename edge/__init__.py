"""auroral.edge: the station runtime (preprocessing, bundles, inference backends, daemon).

Importing this package is cheap: it pulls in neither torch, scikit-learn nor matplotlib, so the
station (a Jetson with numpy, OpenCV, ONNX Runtime or TensorRT) can run it.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("auroral")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"
