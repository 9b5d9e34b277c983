"""The README's tour runs, as written, against a real node process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.server import running_node

README = Path(__file__).parent.parent / "README.md"


def _tour() -> str:
    text = README.read_text()
    match = re.search(r"<!-- tour -->\n```sh\n(.*?)```", text, re.S)
    assert match, "README lost its tour block"
    return match.group(1)


@pytest.mark.server
def test_readme_tour_runs(tmp_path: Path) -> None:
    with running_node(tmp_path) as (url, env):
        bin_dir = str(Path(sys.executable).parent)
        env = {**env, "ACCORD_URL": url, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        script = "set -euo pipefail\n" + _tour()
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    replies = [line for line in done.stdout.splitlines() if line.startswith("{")]
    stored, my_view, th_view, refused = (orjson.loads(r) for r in replies[:4])
    assert stored["stored"] == 1
    assert [i["object"]["name"] for i in my_view["items"]] == [
        "C2 server of the Monsoon Heron campaign"
    ]
    assert th_view["items"] == []
    assert refused["status"] == 422 and "TLP:AMBER does not allow scope 'community'" in str(refused)
    assert "indicator--0d1c7c1e" in done.stdout  # the CLI listing
    exported = orjson.loads((tmp_path / "myc-export.json").read_bytes())
    assert [o["type"] for o in exported["objects"]] == [
        "indicator",
        "identity",
        "marking-definition",
    ]


def test_every_setting_is_documented() -> None:
    from accord.settings import Settings

    text = README.read_text()
    missing = [
        f"ACCORD_{name.upper()}"
        for name in Settings.model_fields
        if f"`ACCORD_{name.upper()}`" not in text
    ]
    assert missing == []
