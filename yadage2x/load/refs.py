"""JSON-reference (`$ref`) resolution, with yadage's rules.

- The top document's references resolve against the toplevel folder (yadage passes toplevel as
  jsonref's base URI), every other document's against its own folder.
- ``file.yml#/a/b``, ``file.yml#a/b`` and ``file.yml#//a/b`` are the same pointer (jsonref strips
  leading slashes); ``#/x`` points into the same document; no fragment means the whole file.
- Sibling keys beside ``$ref`` are dropped, as yadage drops them, with a warning.
- Resolution is lazy: only what the workflow reaches is read, so a steps library may hold
  unrelated or broken entries, as it may for yadage.
- A reference that leads back to itself is an error naming the chain.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import Pos, Problem, Problems, SpecError
from .source import Map, Seq, absolute, display_name, key_pos, read_file, value_pos

REMOTE_PREFIXES = ("http://", "https://", "github:", "gitlab-cern:", "from-github/", "from-cap/")


class Documents:
    """Reads each file once and resolves references between them."""

    def __init__(self, toplevel: Path):
        self.toplevel = toplevel
        self.files: dict[Path, object] = {}
        self.resolved: set[int] = set()
        self.active: dict[int, int] = {}
        self.ref_targets: set[int] = set()
        self.with_refs: set[int] = set()  # containers with a $ref below them (the rest is skipped)
        self.paths: dict[tuple, Path] = {}
        self.names: dict[Path, str] = {}  # values that stood behind a $ref (yadage fills no defaults in them)
        self.warnings: list[Problem] = []
        self.problems = Problems()

    def read(self, path: Path):
        if path in self.files:  # paths from path_of are already resolved
            return self.files[path]
        path = absolute(path)
        if path not in self.files:
            self.files[path] = read_file(path, self.with_refs)
        return self.files[path]

    def load_top(self, path: Path):
        """Read the top document and resolve every reference it reaches."""
        data = self.read(path)
        data = self.resolve(data, path, self.toplevel, [])
        self.problems.raise_if_any()
        return data

    # real workflows repeat the same few references thousands of times: paths and names are
    # worked out once (Path.resolve and os.path.relpath are slow)
    def path_of(self, base: Path, file_part: str) -> Path:
        key = (base, file_part)
        if key not in self.paths:
            self.paths[key] = absolute(base / file_part)
        return self.paths[key]

    def name_of(self, path: Path) -> str:
        if path not in self.names:
            self.names[path] = display_name(path)
        return self.names[path]

    # -- resolution ---------------------------------------------------------------------------

    def resolve(self, value, doc: Path, base: Path, chain: list[str]):
        """Return ``value`` with references replaced (in place for containers)."""
        if isinstance(value, Map) and "$ref" in value:
            return self.follow(value, doc, base, chain)
        if not isinstance(value, (Map, Seq)) or id(value) in self.resolved or id(value) not in self.with_refs:
            return value
        # `active` holds the containers being resolved: meeting one again through a $ref is a cycle
        self.active[id(value)] = len(chain)
        items = value.items() if isinstance(value, Map) else enumerate(value)
        for key, child in list(items):
            if id(child) in self.active:
                # a $ref below `child` led back up to it (e.g. `$ref: '#'` inside the document):
                # resolving on would make the tree contain itself
                self.problems.add(child.pos, f"$ref cycle: {' -> '.join(chain)} leads back into this part of the document")
            elif isinstance(child, (Map, Seq)):
                value[key] = self.resolve(child, doc, base, chain)
        del self.active[id(value)]
        self.resolved.add(id(value))
        return value

    def follow(self, ref: Map, doc: Path, base: Path, chain: list[str]):
        target = ref["$ref"]
        pos = value_pos(ref, "$ref")
        if not isinstance(target, str):
            self.problems.add(pos, "$ref must be a string")
            return ref
        extra = sorted(str(k) for k in ref if k != "$ref")
        if extra:
            self.warnings.append(Problem(key_pos(ref, extra[0]), f"keys beside $ref are ignored (as yadage does): {', '.join(extra)}"))
        try:
            value, target_doc = self.lookup(target, doc, base, pos)
        except SpecError as exc:
            self.problems.extend(exc)
            return ref
        label = f"{self.name_of(target_doc)}#{target.partition('#')[2]}"
        if id(value) in self.active or (isinstance(value, Map) and value is ref):
            start = self.active.get(id(value), len(chain))
            cycle = " -> ".join(chain[start:] + [label])
            self.problems.add(pos, f"$ref cycle: {cycle}")
            return ref
        if isinstance(value, Map) and "$ref" in value and label in chain:
            self.problems.add(pos, f"$ref cycle: {' -> '.join(chain[chain.index(label):] + [label])}")
            return ref
        # the target's own references resolve against the folder of the file that holds them
        resolved = self.resolve(value, target_doc, target_doc.parent, chain + [label])
        self.ref_targets.add(id(resolved))
        return resolved

    def lookup(self, target: str, doc: Path, base: Path, pos: Pos):
        if target.startswith(REMOTE_PREFIXES):
            raise SpecError(Problem(pos, f"remote reference '{target}' is not fetched: yadage2x reads local files only"))
        file_part, _, fragment = target.partition("#")
        target_doc = self.path_of(base, file_part) if file_part else doc
        if target_doc.exists() and not target_doc.is_file() and not target_doc.is_dir():  # /dev/zero: read forever
            raise SpecError(Problem(pos, f"$ref '{target}': {display_name(target_doc)} is not a regular file (a device, FIFO or socket)"))
        try:
            data = self.read(target_doc)
        except SpecError as exc:
            if not target_doc.exists():
                hint = _toplevel_hint(base, file_part)
                raise SpecError(Problem(pos, f"$ref '{target}': no such file {display_name(target_doc)}{hint}")) from None
            raise exc
        return walk_pointer(data, fragment, target, pos), target_doc


def _toplevel_hint(base: Path, file_part: str) -> str:
    """Repositories often write references from their root: suggest the -t that makes it work."""
    for folder in list(base.parents)[:4]:
        if (folder / file_part).is_file():
            return f" (it exists below {display_name(folder)}: pass -t {display_name(folder)})"
    return ""


def walk_pointer(data, fragment: str, target: str, pos: Pos):
    """Follow a JSON pointer the way jsonref does (leading slashes stripped, ~0/~1 escapes)."""
    fragment = fragment.lstrip("/")
    if not fragment:
        return data
    node = data
    for raw in fragment.split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            try:
                node = node[int(part)]
                continue
            except (ValueError, IndexError):
                pass
        elif isinstance(node, dict) and part in node:
            node = node[part]
            continue
        raise SpecError(Problem(pos, f"$ref '{target}': nothing at '{part}' in the target document"))
    return node
