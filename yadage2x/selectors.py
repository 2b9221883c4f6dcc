"""Stage selectors: the jsonpath (jsonpath_rw) expressions that pick stages and scopes.

yadage evaluates them with jsonpath_rw over its stage index (yadage-spec §2.4, §4.2). The
grammar used in practice is small, and we parse exactly that:

    selector := path (',' path)*                    union
    path     := ['$.'] step ( '.' step | '..' step | '[' index ']' | '.[' index ']' )*
    step     := name | "quoted name" | '*'
    index    := '*' | int | [int] ':' [int]

A name starting with a digit is a parse error in jsonpath_rw, so it is one here too.
A parsed path is a tuple of segments: ('name', str) | ('any',) | ('descend', str|None) |
('index', '*' | int | (start, stop)).
"""
from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<descend>\.\.)
    | (?P<dot>\.)
    | (?P<comma>,)
    | (?P<dollar>\$)
    | (?P<star>\*)
    | \[(?P<index>[^\]]*)\]
    | "(?P<dq>[^"]*)"
    | '(?P<sq>[^']*)'
    | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
    )""",
    re.VERBOSE,
)


class SelectorError(ValueError):
    pass


def _index(text: str):
    text = text.strip()
    if text == "*":
        return "*"
    if ":" in text:
        start, _, stop = text.partition(":")
        try:
            return (int(start) if start.strip() else None, int(stop) if stop.strip() else None)
        except ValueError:
            raise SelectorError(f"bad slice [{text}]") from None
    try:
        return int(text)
    except ValueError:
        raise SelectorError(f"bad index [{text}]") from None


@lru_cache(maxsize=4096)
def parse(selector: str) -> tuple[tuple, ...]:
    """Parse a selector into its union alternatives, each a tuple of segments."""
    if not isinstance(selector, str) or not selector.strip():
        raise SelectorError("empty selector")
    alternatives: list[tuple] = []
    path: list[tuple] = []
    expect_step = True  # at the start of a path, or after '.'/'..'
    pending_descend = False
    pos = 0
    text = selector.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            rest = text[pos:]
            hint = " (a name cannot start with a digit)" if rest[:1].isdigit() else ""
            raise SelectorError(f"cannot parse '{rest}'{hint}")
        pos = match.end()
        kind = match.lastgroup
        if kind == "dollar":
            if path or not expect_step:
                raise SelectorError("'$' only at the start")
            continue
        if kind in ("dot", "descend"):
            if expect_step and path:
                raise SelectorError("two separators in a row")
            if expect_step and not path and kind == "dot":
                continue  # '$.' prefix
            expect_step = True
            pending_descend = kind == "descend"
            continue
        if kind == "comma":
            if expect_step:
                raise SelectorError("a path is missing around ','")
            alternatives.append(tuple(path))
            path, expect_step, pending_descend = [], True, False
            continue
        if kind == "index":
            if not path:
                raise SelectorError("an index needs a stage before it")
            path.append(("index", _index(match.group("index"))))
            expect_step = False
            pending_descend = False
            continue
        # a step: name, quoted name or '*'
        if not expect_step:
            raise SelectorError(f"missing '.' before '{match.group(0).strip()}'")
        name = None if kind == "star" else match.group(kind)
        if pending_descend:
            path.append(("descend", name))
        else:
            path.append(("any",) if name is None else ("name", name))
        expect_step = False
        pending_descend = False
    if expect_step:
        raise SelectorError("selector ends with a separator" if path or alternatives else "empty selector")
    alternatives.append(tuple(path))
    return tuple(alternatives)


def first_names(selector: str) -> set[str]:
    """The stage names a selector starts from (for dependency edges and messages)."""
    names = set()
    for path in parse(selector):
        if path and path[0][0] == "name":
            names.add(path[0][1])
    return names
