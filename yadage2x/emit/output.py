"""Writing what an emitter made: every file under a temporary name first, then renamed, so a
failed or interrupted emit never leaves a half-written file; and the loss report."""
from __future__ import annotations

import json
from pathlib import Path

from .resources import Loss


def loss_report(target: str, losses: list[Loss]) -> str:
    """loss-report.json: what the emitted workflow cannot carry over, each at its source position."""
    return json.dumps({"target": target, "losses": [loss.to_json() for loss in losses]}, indent=2) + "\n"


def write_files(outdir: Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` (relative name -> text) below ``outdir``; return the paths written."""
    written = []
    for name, text in files.items():
        path = outdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written
