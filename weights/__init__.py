"""The bundled models and their cards. This folder is installed as the package
`vaedesk.weights` (setup.py maps it), so that `importlib.resources` finds the files in a
wheel, an editable install and the PyInstaller bundle alike; see vaedesk/core/paths.py."""
