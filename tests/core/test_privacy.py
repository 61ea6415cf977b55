"""Nothing leaves the machine unasked: vaedesk writes nothing of its runtime's telemetry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "TF_BUILD")  # onnxruntime keeps quiet under these


def fresh_home_env(home: Path) -> dict[str, str]:
    """A new user's environment: an empty home folder, no CI variables, no opt-out given."""
    env = {
        k: v for k, v in os.environ.items() if k not in CI_VARIABLES and not k.startswith(("XDG_", "ORT_"))
    }
    env["HOME"] = str(home)
    return env


def test_running_the_bundled_model_leaves_no_telemetry_identifier(tmp_path):
    """onnxruntime 1.32 writes ~/.cache/Microsoft/DeveloperTools/.onnxruntime/deviceid on
    import unless ORT_DISABLE_TELEMETRY is set before it loads; vaedesk sets it."""
    code = (
        "import vaedesk, numpy as np\n"
        "model = vaedesk.load_model()\n"  # the bundled model, in InferenceSessions
        "assert model.runtime == 'onnxruntime', model.runtime\n"
        "print(model.decode(np.zeros((1, 2), np.float32)).shape)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=fresh_home_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    written = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / ".cache").rglob("*"))
    assert not (tmp_path / ".cache" / "Microsoft").exists(), written
