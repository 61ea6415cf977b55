"""Make assets/screenshot-style.png: the Style view beside the window, a digit drawn on the
pad with the real mouse (xdotool), its style shown as all ten digits.

    Xvfb :96 -screen 0 1600x1000x24 &
    DISPLAY=:96 python assets/make_style_screenshot.py --data ../shared/mnist
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_screenshots import draw, pump  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data")
    args = parser.parse_args()

    from vaedesk.core.api import Model
    from vaedesk.core.session import Session
    from vaedesk.ui.app import configure
    from vaedesk.ui.main_window import MainWindow

    configure()
    app = QApplication([sys.argv[0]])
    window = MainWindow(Session(Model.load(None), args.data))
    window.setGeometry(0, 0, 1600, 1000)
    window.show()

    def script() -> None:
        pump(1000)
        window.activateWindow()
        pump(200)
        view = window.action("view.style").trigger() or window.style_view
        view.setGeometry(640, 30, 950, 950)
        pump(800)
        window.activateWindow()
        pump(200)
        # a slanted, open 4 with a long stem, drawn in two strokes
        draw(window.drawing.pad, [(95, 50), (70, 160), (200, 160)])
        draw(window.drawing.pad, [(185, 60), (170, 140), (150, 250)])
        while window.typicality.result is None:
            pump(200)
        pump(500)
        subprocess.run(["import", "-window", "root", str(HERE / "screenshot-style.png")], check=True)
        print(f"wrote {HERE / 'screenshot-style.png'}")
        print(view.caption.text())
        print(window.typicality.text())
        view.close()
        window.close()
        app.quit()

    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, script)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
