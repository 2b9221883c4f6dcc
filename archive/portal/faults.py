"""Test-only fault injection for the portal server. Off unless RECAST_PORTAL_FAULTS is set.

RECAST_PORTAL_FAULTS is a comma-separated list of faults, each ``NAME[:COUNT][@SKIP]``: the fault
fires COUNT times (default 1) after letting SKIP matching requests through (default 0). Given as
``@/path/to/file``, the list is read from that file, re-read on every request, and the counters start
again whenever its text changes, so one running server can serve a whole series of fault tests.

Faults (see docs/portal.md):
  upload-500, upload-429     answer an object PUT with 500 / 429 (Retry-After: 0) before reading it
  upload-drop                read half the body, then close the connection without an answer
  upload-bad-checksum        store the upload but report a wrong md5 checksum
  download-500               answer an object GET with 500
  download-truncate          send the headers and half the body, then close the connection
  api-500                    answer any other API request with 500
"""
from __future__ import annotations

import os
from pathlib import Path

NAMES = {"upload-500", "upload-429", "upload-drop", "upload-bad-checksum", "download-500", "download-truncate", "api-500"}


class Faults:
    def __init__(self, spec: str | None):
        self._source = spec or ""
        self._text: str | None = None
        self._left: dict[str, list[int]] = {}  # name -> [skip, count]

    @property
    def enabled(self) -> bool:
        return bool(self._source)

    def take(self, name: str) -> bool:
        """Whether fault `name` fires for this request (each call counts as one matching request)."""
        if not self._source:
            return False
        self._reload()
        state = self._left.get(name)
        if not state:
            return False
        if state[0] > 0:
            state[0] -= 1
            return False
        if state[1] > 0:
            state[1] -= 1
            return True
        return False

    def _reload(self) -> None:
        text = self._source
        if text.startswith("@"):
            try:
                text = Path(text[1:]).read_text()
            except OSError:
                text = ""
        if text == self._text:
            return
        self._text, self._left = text, parse(text)


def parse(text: str) -> dict[str, list[int]]:
    faults: dict[str, list[int]] = {}
    for item in text.split("#", 1)[0].replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        head, _, skip = item.partition("@")
        name, _, count = head.partition(":")
        if name not in NAMES:
            raise ValueError(f"RECAST_PORTAL_FAULTS: unknown fault {name!r} (known: {', '.join(sorted(NAMES))})")
        faults[name] = [int(skip or 0), int(count or 1)]
    return faults


def from_environment() -> Faults:
    spec = os.environ.get("RECAST_PORTAL_FAULTS", "")
    if spec and not spec.startswith("@"):
        parse(spec)  # a typo fails at start-up, not silently
    return Faults(spec)
