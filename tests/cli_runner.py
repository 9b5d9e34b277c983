"""Run the CLI in process, as a person would from a shell: exit code, stdout, stderr."""

from __future__ import annotations

import pytest

from accord.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err
