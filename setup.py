"""Packaging that pyproject.toml cannot declare: the repository's top-level weights/
folder is installed as the package `vaedesk.weights`, so that a wheel, an editable install
and the PyInstaller bundle all find the bundled models with importlib.resources
(vaedesk/core/paths.py). Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["vaedesk", "vaedesk.*"]), "vaedesk.weights"],
    package_dir={"vaedesk.weights": "weights"},
)
