"""Packaging that pyproject.toml cannot declare: the repository's top-level weights/
folder is installed as the package `vaedesk.weights`, so that a wheel, an editable install
and the PyInstaller bundle all find the bundled models with importlib.resources
(vaedesk/core/paths.py). Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

setup(
    # Namespace packages too, so that the data folders (vaedesk/resources/...) count as
    # packages, as setuptools asks; their files are listed in pyproject's package-data.
    packages=[
        *find_namespace_packages(include=["vaedesk", "vaedesk.*"], exclude=["*.__pycache__"]),
        "vaedesk.weights",
    ],
    package_dir={"vaedesk.weights": "weights"},
)
