"""A YAML data file that remembers where each value was written, for checks that name the line.

Why in core: every part keeps data as YAML (forms, rules, routing, word lists) and every check of
it must say "file:line: problem" so that the person who edits the file can find the place. The
values load as `yaml.safe_load` would load them; `line(path)` gives the line of the value at a
path of keys and indices ("slots", 2, "when"), from the node marks of `yaml.compose`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import yaml


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class DataFile:
    def __init__(self, shown: str, data: Any, lines: dict[tuple, int]):
        self.shown = shown  # how the file is named in problems
        self.data = data
        self._lines = lines

    @classmethod
    def read(cls, path: Path, shown: Optional[str] = None) -> "DataFile":
        """The file's data and lines; a file that is not YAML raises `BadFile` with its line."""
        shown = shown or str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadFile(Problem(shown, 1, f"cannot read the file: {exc}")) from None
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            lines: dict[tuple, int] = {}
            if node is not None:
                _index(node, (), lines, loader)
            data = loader.construct_document(node) if node is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise BadFile(Problem(shown, mark.line + 1 if mark else 1, f"not valid YAML: {exc.problem}")) from None
        finally:
            loader.dispose()
        return cls(shown, data, lines)

    def line(self, path: Sequence) -> int:
        """The line of the value at `path`, or of the nearest enclosing value that exists; parts
        of the path that are not keys of the file (a pydantic union's branch name) are skipped."""
        found, line = (), self._lines.get((), 1)
        for part in path:
            if found + (part,) in self._lines:
                found += (part,)
                line = self._lines[found]
        return line

    def problem(self, path: Sequence, message: str) -> Problem:
        return Problem(self.shown, self.line(path), message)

    def schema_problems(self, error: Any, prefix: Sequence = (),
                        where: Callable[[tuple], str] | None = None) -> list[Problem]:
        """A pydantic ValidationError of this file's data (or of the part at `prefix`), one
        problem per error, each at its line; `where` names a place (default: 'slots[2].when')."""
        out = []
        for e in error.errors():
            loc = tuple(prefix) + tuple(e["loc"])
            place = (where or dotted)(loc)
            message = e["msg"].removeprefix("Value error, ")
            out.append(self.problem(loc, f"{place}: {message}" if place else message))
        return out


class BadFile(Exception):
    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def _index(node: yaml.Node, path: tuple, lines: dict[tuple, int], loader: yaml.SafeLoader) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                here = path + (key,)
                hash(here)
            except TypeError:  # a mapping or list as a key: nothing to point at
                continue
            lines.setdefault(here, key_node.start_mark.line + 1)
            _index(value_node, here, lines, loader)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, path + (i,), lines, loader)


def describe(error: Any) -> str:
    """A pydantic ValidationError in one line per problem: 'slots[2].parser: unknown parser'."""
    return "; ".join(f"{dotted(e['loc']) or '(top)'}: {e['msg'].removeprefix('Value error, ')}"
                     for e in error.errors())


def dotted(loc: Iterable, inner: bool = False) -> str:
    """('slots', 2, 'when') → 'slots[2].when'; `inner`: the tail of a longer path ('.when')."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out or inner else str(part))
    return out
