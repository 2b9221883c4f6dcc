"""Read YAML and JSON files into plain data that remembers where every value came from.

yadage reads specs with PyYAML's ``safe_load``, that is YAML 1.1 (``yes``/``on`` are booleans,
``010`` is octal). We read them with ruamel.yaml's C parser set to YAML 1.1, so that values are
the ones yadage sees, and build the data ourselves from the node tree so that each mapping and
sequence keeps the line and column of its entries. JSON files go through the same parser (JSON
is YAML), so positions work for them too.

The data are `Map` (a dict) and `Seq` (a list) with position side tables, and plain scalars.
`position(tree, path)` finds the position of any value by its path from a container.
"""
from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from ..errors import Pos, Problem, SpecError

# A document deeper than this is refused: it is not a workflow, and recursion would overflow.
MAX_DEPTH = 200
# Aliases may make a small file expand into an enormous tree (billion laughs); we build each
# aliased node once and share it, and refuse documents whose expanded size passes this bound.
MAX_EXPANDED_NODES = 5_000_000

_TAG = "tag:yaml.org,2002:"


class Map(dict):
    """A mapping that remembers its file and the positions of its keys and values."""

    __slots__ = ("pos", "keypos", "valpos")

    def __init__(self, pos: Pos):
        super().__init__()
        self.pos = pos
        self.keypos: dict = {}
        self.valpos: dict = {}


class Seq(list):
    """A sequence that remembers its file and the position of each item."""

    __slots__ = ("pos", "itempos")

    def __init__(self, pos: Pos):
        super().__init__()
        self.pos = pos
        self.itempos: list[Pos] = []


def value_pos(container, key) -> Pos:
    """Position of ``container[key]``; falls back to the container's own position.

    Works for Map/Seq and for the IR's frozen copies of them, which keep the same tables."""
    own = getattr(container, "pos", None) or Pos("<unknown>")
    if isinstance(container, dict):
        return getattr(container, "valpos", {}).get(key) or own
    itempos = getattr(container, "itempos", ())
    if isinstance(key, int) and 0 <= key < len(itempos):
        return itempos[key]
    return own


def key_pos(container, key) -> Pos:
    if isinstance(container, Map):
        return container.keypos.get(key, container.pos)
    return value_pos(container, key)


def position(root, path) -> Pos:
    """The position of the value at ``path`` (keys and indices) below ``root``.

    Walks as far as the path exists and returns the deepest position known, so an error about a
    missing key points at the mapping that should have held it.
    """
    node, pos = root, getattr(root, "pos", Pos("<unknown>"))
    for part in path:
        try:
            child = node[part]
        except (KeyError, IndexError, TypeError):
            break
        pos = value_pos(node, part)
        node = child
    return pos


def _mark(file: str, mark) -> Pos:
    return Pos(file, mark.line + 1, mark.column + 1)


# PyYAML's YAML 1.1 implicit resolvers (yaml/resolver.py), which decide what yadage reads a
# plain scalar as; ruamel's differ in corners (`1e3`, `y`), so plain scalars are resolved here.
# One alternation of named groups, tried in PyYAML's order, so each scalar costs one match.
_PYYAML_IMPLICIT = re.compile(
    r"(?P<bool>yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"
    r"|(?P<float>[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    r"|(?P<int>[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
    r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
    r"|(?P<merge><<)$"
    r"|(?P<null>~|null|Null|NULL|)$"
    r"|(?P<timestamp>[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
    r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9]"
    r"(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$"
    r"|(?P<value>=)$"
)
# PyYAML only tries a resolver when the scalar starts with one of its characters
_IMPLICIT_FIRST = set("yYnNtTfFoO-+0123456789.<~=") | {""}


def pyyaml_tag(text: str) -> str:
    if text[:1] in _IMPLICIT_FIRST:
        match = _PYYAML_IMPLICIT.match(text)
        if match:
            return _TAG + match.lastgroup
    return _TAG + "str"


def _base60(value: str, number):
    """YAML 1.1 sexagesimal ('1:30' is 90): the parts as ``number``, most significant first."""
    result = number(0)
    for part in value.split(":"):
        result = result * 60 + number(part)
    return result


def _int11(text: str) -> int:
    """YAML 1.1 int, as PyYAML reads it (octal 0..., binary 0b, hex 0x, sexagesimal a:b)."""
    value = text.replace("_", "")
    sign = -1 if value.startswith("-") else 1
    value = value.lstrip("+-")
    if value == "0":
        return 0
    if value.startswith("0b"):
        return sign * int(value[2:], 2)
    if value.startswith("0x"):
        return sign * int(value[2:], 16)
    if value.startswith("0"):
        return sign * int(value, 8)
    if ":" in value:
        return sign * _base60(value, int)
    return sign * int(value)


def _float11(text: str) -> float:
    value = text.replace("_", "").lower()
    sign = -1.0 if value.startswith("-") else 1.0
    value = value.lstrip("+-")
    if value == ".inf":
        return sign * math.inf
    if value == ".nan":
        return math.nan
    if ":" in value:
        return sign * _base60(value, float)
    return sign * float(value)


class _Builder:
    """Turns a ruamel node tree into Map/Seq/scalars, sharing aliased nodes (built once)."""

    def __init__(self, file: str):
        self.file = file
        self.built: dict[int, object] = {}
        self.sizes: dict[int, int] = {}  # expanded size of each built container, aliases counted in full
        self.with_refs: set[int] = set()  # containers that hold a $ref somewhere below them

    def scalar(self, node: ScalarNode):
        tag, text = node.tag, node.value
        if node.style in (None, "") and tag.startswith(_TAG):
            tag = pyyaml_tag(text)  # a plain scalar: resolve it exactly as PyYAML (yadage) does
        if not tag.startswith(_TAG):
            if tag == "!":  # a quoted-but-tagged plain string
                return text
            raise self.error(node, f"unsupported YAML tag {tag}")
        kind = tag[len(_TAG):]
        if kind == "str":
            return text
        if kind == "null":
            return None
        if kind == "bool":
            return text.lower() in ("yes", "true", "on")
        if kind == "int":
            return _int11(text)
        if kind == "float":
            return _float11(text)
        if kind == "timestamp":
            raise self.error(node, f"'{text}' reads as a YAML timestamp, which JSON cannot hold; quote it")
        raise self.error(node, f"unsupported YAML tag {tag}")

    def error(self, node, message: str) -> SpecError:
        return SpecError(Problem(_mark(self.file, node.start_mark), message))

    def size(self, value) -> int:
        return self.sizes.get(id(value), 1)

    def check_size(self, node, value) -> None:
        children = value.values() if isinstance(value, dict) else value
        if (isinstance(value, dict) and "$ref" in value) or any(id(c) in self.with_refs for c in children if isinstance(c, (dict, list))):
            self.with_refs.add(id(value))
        total = 1 + sum(self.size(child) for child in children)
        if total > MAX_EXPANDED_NODES:
            raise self.error(node, f"document expands to more than {MAX_EXPANDED_NODES:,} values through aliases")
        self.sizes[id(value)] = total

    def build(self, node, depth: int = 0):
        if depth > MAX_DEPTH:
            raise self.error(node, f"document nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        known = self.built.get(id(node))
        if known is not None:
            return known
        if isinstance(node, SequenceNode):
            seq = Seq(_mark(self.file, node.start_mark))
            self.built[id(node)] = seq
            for item in node.value:
                seq.itempos.append(_mark(self.file, item.start_mark))
                seq.append(self.build(item, depth + 1))
            self.check_size(node, seq)
            return seq
        if isinstance(node, MappingNode):
            mapping = Map(_mark(self.file, node.start_mark))
            self.built[id(node)] = mapping
            # PyYAML 6's order (yadage keeps dict order, e.g. for parameters): the pairs of the
            # merged maps first, in the order listed, a key taken from the first map that has it
            # (YAML's rule: earlier maps win), then the explicit pairs, which override a merged
            # value but keep its place
            merged: list[tuple] = []
            explicit: list[tuple] = []
            seen: set = set()
            for knode, vnode in node.value:
                if knode.tag == _TAG + "merge":
                    sources = vnode.value if isinstance(vnode, SequenceNode) else [vnode]
                    for source_node in sources:
                        source = self.build(source_node, depth + 1)
                        if not isinstance(source, Map):
                            raise self.error(source_node, "a merge key (<<) needs a mapping")
                        taken = {pair[0] for pair in merged}
                        merged.extend(
                            (k, v, source.keypos.get(k, source.pos), source.valpos.get(k, source.pos))
                            for k, v in source.items() if k not in taken
                        )
                    continue
                key = self.build(knode, depth + 1)
                if isinstance(key, (dict, list)):
                    raise self.error(knode, "a mapping key must be a scalar")
                if not isinstance(key, str):
                    # yadage round-trips specs through JSON, which turns 1, true, null keys into text
                    key = json.dumps(key)
                if key in seen:
                    raise self.error(knode, f"duplicate key '{key}'")
                seen.add(key)
                explicit.append((key, self.build(vnode, depth + 1), _mark(self.file, knode.start_mark), _mark(self.file, vnode.start_mark)))
            for key, value, kpos, vpos in merged + explicit:
                mapping[key] = value
                mapping.keypos[key] = kpos
                mapping.valpos[key] = vpos
            self.check_size(node, mapping)
            return mapping
        raise self.error(node, f"unsupported YAML node {type(node).__name__}")


def absolute(path: Path) -> Path:
    """An absolute, normalised path that keeps the user's symlinks, so messages name the files
    the way the user reached them."""
    return Path(os.path.abspath(path))


def display_name(path: Path) -> str:
    """How a file is named in messages: relative to the current directory when below it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    # a name that climbs out of the current directory is clearer as an absolute path
    return str(path) if relative.startswith(os.pardir) else relative


def read_file(path: Path, with_refs: set[int] | None = None):
    """Parse one YAML or JSON file; return its data with positions. Raises SpecError.

    ``with_refs``, when given, receives the ids of the containers that hold a $ref."""
    name = display_name(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(Problem(Pos(name), "no such file")) from None
    except IsADirectoryError:
        raise SpecError(Problem(Pos(name), "is a directory, not a spec file")) from None
    except UnicodeDecodeError as exc:
        raise SpecError(Problem(Pos(name), f"not UTF-8 text ({exc.reason} at byte {exc.start})")) from None
    except OSError as exc:
        raise SpecError(Problem(Pos(name), f"cannot read: {exc.strerror}")) from None
    except ValueError:  # found by tests/fuzz_loader.py: a $ref whose file name holds a NUL
        raise SpecError(Problem(Pos(name), "not a usable file name: it holds a NUL character")) from None
    return parse_text(text, name, with_refs)


class _PlainResolver(VersionedResolver):
    """Tags only what the builder needs from the parser: containers, and the merge key.

    Plain scalars are typed by `pyyaml_tag` (PyYAML's rules), so ruamel's own implicit
    resolution, which looks the YAML version up for every node, would be work thrown away."""

    def resolve(self, kind, value, implicit):
        if kind is ScalarNode:
            return self.merge_tag if implicit[0] and value == "<<" else self.DEFAULT_SCALAR_TAG
        return self.DEFAULT_SEQUENCE_TAG if kind is SequenceNode else self.DEFAULT_MAPPING_TAG

    merge_tag = Tag(suffix=_TAG + "merge")


def parse_text(text: str, name: str, with_refs: set[int] | None = None):
    yaml = YAML(typ="safe", pure=False)
    yaml.Resolver = _PlainResolver
    if "\t" in text and name.endswith(".json"):
        # JSON allows tabs as indentation, YAML does not: replacing them keeps line/col exact
        text = text.replace("\t", " ")
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = _mark(name, mark) if mark else Pos(name)
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
            problem = "a tab character: YAML indents with spaces only"
        raise SpecError(Problem(pos, f"YAML syntax error: {problem}")) from None
    except YAMLError as exc:
        raise SpecError(Problem(Pos(name), f"YAML error: {exc}")) from None
    except RecursionError:
        raise SpecError(Problem(Pos(name), "YAML nested too deeply")) from None
    if node is None:
        return None
    builder = _Builder(name)
    try:
        data = builder.build(node)
    except RecursionError:
        raise SpecError(Problem(Pos(name), f"document nested deeper than {MAX_DEPTH} levels")) from None
    if with_refs is not None:
        with_refs |= builder.with_refs
    return data
