"""jq programs in CWL, which has no jq: translated to JavaScript, for the small part of jq that
yadage workflows use where CWL has to evaluate them at run time.

- case conditions (`cases`: one step per case, run `when` its condition holds and no earlier
  one does; a step named after the stage merges what the chosen case published, `pickValue`):
  values of parameters and their keys, literals, comparisons, arithmetic, and/or/not,
  parentheses. Truth follows yadage: jq's own `and`/`or` treat only false and null as false,
  and yadage then takes the case when Python's bool() of the result is true (0, "" and [] are
  false);
- par_mounts scripts: a comma-separated stream of parameter paths, each optionally iterated
  (`.a, .b[]`), written one JSON text per output as packtivity writes them;
- fromparjq-pub scripts that build an object (`{a: .x, b: [.y, "z"]}`): each key a port.
Anything else is refused with its position rather than guessed at.
"""
from __future__ import annotations

import json
import re

_TOKEN = re.compile(r"""\s*(?:
    (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<path>\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|%|\(|\)|\||\[|\]|\{|\}|,|:)
  | (?P<word>and|or|not|true|false|null)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  )""", re.VERBOSE)

_BINARY = [("or",), ("and",), ("==", "!=", "<=", ">=", "<", ">"), ("+", "-"), ("*", "/", "%")]


class NotTranslated(ValueError):
    pass


def tokens(program: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = program.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise NotTranslated(f"cannot translate '{text[pos:]}'")
        out.append((match.lastgroup, match.group(match.lastgroup)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, program: str, value_of):
        self.toks = tokens(program)
        self.i = 0
        self.value_of = value_of  # parameter key -> JS expression of its value

    def peek(self):
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def pipeline(self) -> str:
        """An expression, then `| not` (jq's pipe binds loosest: `.a == 1 | not` negates it all)."""
        value = self.expression()
        while self.peek() == "|" and self.i + 1 < len(self.toks) and self.toks[self.i + 1][1] == "not":
            self.i += 2
            value = f"(!yadage.jqtrue({value}))"
        return value

    def expression(self, level=0) -> str:
        if level == len(_BINARY):
            return self.atom()
        left = self.expression(level + 1)
        while self.peek() in _BINARY[level]:
            op = self.take()[1]
            right = self.expression(level + 1)
            if op == "and":
                left = f"(yadage.jqtrue({left}) && yadage.jqtrue({right}))"
            elif op == "or":
                left = f"(yadage.jqtrue({left}) || yadage.jqtrue({right}))"
            elif op in ("==", "!="):
                left = f"({'' if op == '==' else '!'}yadage.eq({left}, {right}))"
            else:
                left = f"({left} {op} {right})"
        return left

    def atom(self) -> str:
        if self.i >= len(self.toks):
            raise NotTranslated("the condition ends too early")
        kind, text = self.take()
        if kind == "number":
            return text
        if kind == "string":
            return json.dumps(json.loads(text))
        if kind == "word" and text in ("true", "false", "null"):
            return text
        if kind == "path":
            keys = [k for k in text.split(".") if k]
            if not keys:
                raise NotTranslated("'.' (all parameters) is not translated")
            value = self.value_of(keys[0])
            for key in keys[1:]:
                value = f"yadage.key({value}, {json.dumps(key)})"
            return value
        if text == "(":
            inner = self.pipeline()
            self.expect(")")
            return f"({inner})"
        if text == "[":
            items = [] if self.peek() == "]" else self.items("]")
            self.expect("]")
            return "[" + ", ".join(items) + "]"
        raise NotTranslated(f"'{text}' is not translated")

    def items(self, end: str) -> list[str]:
        out = [self.pipeline()]
        while self.peek() == ",":
            self.take()
            out.append(self.pipeline())
        return out

    def expect(self, text: str) -> None:
        if self.i >= len(self.toks) or self.take()[1] != text:
            raise NotTranslated(f"'{text}' expected")

    def construction(self) -> list[tuple[str, str, str | None]]:
        """`{key: expr, ...}`: (key, JavaScript, the parameter when expr is just `.param`)."""
        self.expect("{")
        entries = []
        while self.peek() != "}":
            kind, text = self.take()
            if kind not in ("name", "string", "word"):
                raise NotTranslated(f"'{text}' is not a key")
            key = json.loads(text) if kind == "string" else text
            self.expect(":")
            start = self.i
            js = self.pipeline()
            toks = self.toks[start:self.i]
            param = toks[0][1][1:] if len(toks) == 1 and toks[0][0] == "path" and toks[0][1].count(".") == 1 and len(toks[0][1]) > 1 else None
            entries.append((key, js, param))
            if self.peek() == ",":
                self.take()
            elif self.peek() != "}":
                raise NotTranslated("',' or '}' expected")
        self.expect("}")
        return entries


def condition_js(program: str, value_of) -> str:
    """A case's jq condition as JavaScript over the step's inputs (Python-truthy, as yadage)."""
    parser = _Parser(program, value_of)
    js = parser.pipeline()
    if parser.i != len(parser.toks):
        raise NotTranslated(f"cannot translate '{' '.join(t for _, t in parser.toks[parser.i:])}'")
    return f"yadage.pytrue({js})"


def when(conditions: list[str], index: int) -> str:
    """Case ``index`` runs when its condition holds and no earlier case's does."""
    earlier = [f"!{c}" for c in conditions[:index]]
    return "$(" + " && ".join(earlier + [conditions[index]]) + ")"


_STREAM_TERM = re.compile(r"\s*\.([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)(\[\])?\s*")


def stream_js(program: str, value_of) -> str:
    """A par_mounts script (`.a, .b[]`) as JavaScript giving the list of jq's outputs."""
    terms = []
    for part in program.split(","):
        match = _STREAM_TERM.fullmatch(part)
        if not match:
            raise NotTranslated(f"cannot translate '{part.strip()}' (paths of parameters, optionally iterated with [], separated by commas)")
        keys = match[1].split(".")
        value = value_of(keys[0])
        for key in keys[1:]:
            value = f"yadage.key({value}, {json.dumps(key)})"
        terms.append(f"yadage.each({value})" if match[2] else f"[{value}]")
    return "[].concat(" + ", ".join(terms) + ")"


def construction_js(program: str, value_of) -> list[tuple[str, str, str | None]]:
    """A fromparjq-pub script that builds an object (`{a: .x, b: [.y, "z"]}`): each key with
    its JavaScript, and the parameter it is when it is one."""
    parser = _Parser(program, value_of)
    entries = parser.construction()
    if parser.i != len(parser.toks):
        raise NotTranslated(f"cannot translate '{' '.join(t for _, t in parser.toks[parser.i:])}'")
    return entries
