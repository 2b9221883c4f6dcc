"""Pinning images in spec files by digest: `imagetag: "<tag>@sha256:<hex>"`.

packtivity, REANA and CAP all build the image as `image + ":" + imagetag`, so this gives a valid
`name:tag@digest` reference with no new field (research/portal-api.md §5.3). The pinned file is the
submitted text with only the imagetag values edited in place (or an `imagetag` added after `image`
where the spec left it to yadage's default, `latest`), so comments and layout survive and a reader
can diff the two.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from yadage2x.load.source import Map, Seq, parse_text

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Use:
    """One docker environment in one spec file."""

    file: str  # path below the toplevel, '/'-separated
    image: str
    imagetag: str | None  # None: not written (yadage's default, latest)
    line: int  # of the image value (1-based)
    env: Map

    @property
    def reference_tag(self) -> str:
        return self.imagetag if self.imagetag is not None else "latest"


def docker_environments(data) -> list[Map]:
    """Every docker-encapsulated environment in a file's data, each once (anchors share maps)."""
    found, seen = [], set()

    def walk(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, Map):
            if node.get("environment_type") == "docker-encapsulated" and isinstance(node.get("image"), str):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, Seq):
            for value in node:
                walk(value)

    walk(data)
    return found


def uses(file: str, text: str) -> list[Use]:
    data = parse_text(text, file)
    result = []
    for env in docker_environments(data):
        tag = env.get("imagetag")
        result.append(Use(file, env["image"], None if tag is None else str(tag), env.valpos["image"].line, env))
    return result


def _token_end(line: str, start: int) -> int:
    """End (exclusive) of the YAML scalar starting at ``start`` on this line."""
    quote = line[start] if start < len(line) else ""
    if quote in "'\"":
        i = start + 1
        while i < len(line):
            if line[i] == quote:
                if quote == "'" and line[i + 1:i + 2] == "'":
                    i += 2
                    continue
                return i + 1
            if quote == '"' and line[i] == "\\":
                i += 1
            i += 1
        return len(line)
    match = re.compile(r"\s#|[,}\]]|\s*$").search(line, start)
    end = match.start() if match else len(line)
    return len(line[:end].rstrip())


def pin_text(file: str, text: str, pins: dict[tuple[str, str], str]) -> str:
    """The text with each docker environment's imagetag set to ``pins[(image, imagetag)]``
    (imagetag as written, or latest where absent)."""
    return rewrite(file, text, lambda image, tag: (None, pins[(image, tag)]))


def rewrite(file: str, text: str, change) -> str:
    """The text with each docker environment changed in place: ``change(image, imagetag)`` gives
    (new image or None to keep it, new imagetag)."""
    lines = text.split("\n")
    edits: dict[tuple[int, int], tuple[int, str]] = {}  # (line0, start) -> (end, replacement)

    def replace_value(pos, replacement):
        row, col = pos.line - 1, pos.col - 1
        edits[(row, col)] = (_token_end(lines[row], col), replacement)

    for env in docker_environments(parse_text(text, file)):
        tag = env.get("imagetag")
        new_image, new_tag = change(env["image"], "latest" if tag is None else str(tag))
        quoted = f'"{new_tag}"'
        if new_image is not None:
            replace_value(env.valpos["image"], f'"{new_image}"')
        if tag is not None:
            replace_value(env.valpos["imagetag"], quoted)
            continue
        pos, key = env.valpos["image"], env.keypos["image"]
        row, col = pos.line - 1, pos.col - 1
        end = _token_end(lines[row], col)
        after = lines[row][end:].strip()
        block = pos.line == key.line and lines[row][:key.col - 1].strip(" -") == "" and (not after or after.startswith("#"))
        if block and not file.endswith(".json"):
            indent = " " * (key.col - 1)
            edits[(row, len(lines[row]))] = (len(lines[row]), f"\n{indent}imagetag: {quoted}")
        else:
            key_text = '"imagetag"' if file.endswith(".json") else "imagetag"
            edits[(row, end)] = (end, f", {key_text}: {quoted}")
    # from the end backwards, so that each edit leaves the positions of those before it alone
    for (row, start), (end, replacement) in sorted(edits.items(), reverse=True):
        lines[row] = lines[row][:start] + replacement + lines[row][end:]
    return "\n".join(lines)


def unpinned(data):
    """The data with every docker environment's imagetag as written before pinning: the digest
    taken off, the default made explicit (so an added `imagetag: latest@...` compares equal)."""
    if isinstance(data, dict):
        out = {k: unpinned(v) for k, v in data.items()}
        if out.get("environment_type") == "docker-encapsulated" and "image" in out:
            out["imagetag"] = DIGEST.sub("", str(out.get("imagetag", "latest")))
        return out
    if isinstance(data, list):
        return [unpinned(v) for v in data]
    return data
