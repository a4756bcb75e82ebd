"""YAML -> Documents, with the line/column of every mapping key and sequence item.

Safe by construction: only the YAML core types are built (PyYAML's SafeConstructor for
scalars), any other tag is an error. The node graph is composed here from the parser's event
stream instead of by PyYAML's composer, because that composer recurses once per nesting level
(libyaml's C composer segfaults on a 100,000-deep `[[[...`); the event parser is iterative, so
a depth limit can stop a deep file at the first level too many. Aliases are expanded under a
work budget, so an alias bomb ("billion laughs") is refused after a bounded amount of work.

Semantics otherwise follow `yaml.safe_load` (YAML 1.1 resolution, `<<` merge keys, duplicate
anchors refused), plus: duplicate mapping keys are errors, non-string scalar keys become their
source text (`1:` -> "1", `on:` -> "on"), timestamps and `!!binary` stay as their text.
"""

from typing import Any, NamedTuple

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from peftlint.load import Document, JsonPath, LoadError, shown

# libyaml is ~15x faster than the pure-Python parser (0.07 vs 1.3 ms for a 25-line config).
SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Extra node visits (beyond one per node written in the file) that aliases may cause. Real
# configs reuse a few small anchors; a billion-laughs file hits this after ~0.15 s of work.
MAX_ALIAS_EXPANSION = 50_000

_TAG = "tag:yaml.org,2002:"
_MERGE = _TAG + "merge"
_MAPPING_TAGS = frozenset({_TAG + "map", _TAG + "set"})
_SEQUENCE_TAGS = frozenset({_TAG + "seq", _TAG + "omap", _TAG + "pairs"})
# JSON-compatible scalars are built by SafeConstructor; these keep their source text.
_CONSTRUCTED_SCALAR_TAGS = frozenset(_TAG + name for name in ("null", "bool", "int", "float", "str"))
_TEXT_SCALAR_TAGS = frozenset(_TAG + name for name in ("timestamp", "binary", "value"))


# The nodes _compose builds: PyYAML's classes, which carry their kind only as their class
_Node = ScalarNode | SequenceNode | MappingNode
_Collection = SequenceNode | MappingNode


class _Alias(NamedTuple):
    """An alias in the composed graph: the anchored node, and where `*name` was written."""

    target: _Node
    mark: Any


# a mapping's (key, value) pair as _compose stores it in MappingNode.value
_Pair = tuple["_Node | _Alias", "_Node | _Alias"]


LIBYAML_DEPTH_PROBLEM = "exceeded maximum nesting depth"


def load_yaml(text: str, path: str, *, max_depth: int) -> list[Document]:
    """All non-empty documents of a YAML stream; `ordinal` counts every document in the stream."""
    try:
        roots = _compose(text, path, max_depth)
        documents = []
        for ordinal, root in enumerate(roots):
            builder = _Builder(path, max_depth, root_nodes=root.node_count)
            builder.positions[()] = _mark_of(root.node)
            data = builder.value(root.node, (), 0)
            if data is not None:
                documents.append(Document(path, "yaml", data, builder.positions, ordinal=ordinal))
        return documents
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.problem and exc.problem.startswith(LIBYAML_DEPTH_PROBLEM):
            # Newer libyaml (in recent PyYAML wheels) stops at 1,000 levels while it scans
            # ahead, before our own, lower limit can see the events: the same finding either way.
            raise LoadError(path, f"nesting deeper than {max_depth} levels", *_line_col(mark)) from None
        raise LoadError(path, f"invalid YAML: {_describe(exc)}", *_line_col(mark)) from None
    except yaml.reader.ReaderError as exc:
        raise _reader_error(text, path, exc) from None
    except yaml.YAMLError as exc:  # the remaining parser errors carry no position
        raise LoadError(path, f"invalid YAML: {exc}") from None
    except RecursionError:  # only reachable when a caller sets max_depth near the recursion limit
        raise LoadError(path, "invalid YAML: nesting too deep") from None


class _Root(NamedTuple):
    node: _Node | _Alias  # a document may be just `*name` (which then names no anchor)
    node_count: int


def _compose(text: str, path: str, max_depth: int) -> list[_Root]:
    """Build each document's node graph from the event stream, without recursion."""
    loader = SAFE_LOADER(text)
    roots: list[_Root] = []
    try:
        anchors: dict[str, _Node] = {}
        stack: list[_Collection] = []  # open collections
        pending_keys: list[_Node | _Alias | None] = []  # per open collection: a key awaiting its value
        node_count = 0
        while True:
            event = loader.get_event()
            kind = type(event)
            if kind is StreamEndEvent:
                return roots
            if kind is DocumentStartEvent:
                anchors, node_count = {}, 0
                continue
            if kind is MappingStartEvent or kind is SequenceStartEvent:
                if len(stack) >= max_depth:
                    raise LoadError(path, f"nesting deeper than {max_depth} levels", *_line_col(event.start_mark))
                node_class: type[_Collection] = MappingNode if kind is MappingStartEvent else SequenceNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(node_class, None, event.implicit)
                collection = node_class(tag, [], event.start_mark, None, flow_style=event.flow_style)
                _anchor(anchors, event, collection, path)  # before its content: `&a [*a]` is a cycle
                node_count += 1
                stack.append(collection)
                pending_keys.append(None)
                continue
            node: _Node | _Alias
            if kind is ScalarEvent:
                tag = event.tag
                if tag is None or tag == "!":
                    tag = loader.resolve(ScalarNode, event.value, event.implicit)
                node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                _anchor(anchors, event, node, path)
                node_count += 1
            elif kind is AliasEvent:
                if event.anchor not in anchors:
                    raise LoadError(path, f"undefined alias `*{event.anchor}`", *_line_col(event.start_mark))
                node = _Alias(anchors[event.anchor], event.start_mark)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                node = stack.pop()
                pending_keys.pop()
            else:  # stream start, document end
                continue
            if stack:
                _add(stack[-1], pending_keys, node)
            else:
                roots.append(_Root(node, node_count))
    finally:
        loader.dispose()


def _anchor(anchors: dict[str, _Node], event: Any, node: _Node, path: str) -> None:
    if event.anchor is None:
        return
    if event.anchor in anchors:  # as PyYAML's composer does
        first = anchors[event.anchor].start_mark.line + 1
        raise LoadError(path, f"duplicate anchor `&{event.anchor}` (first at line {first})", *_line_col(event.start_mark))
    anchors[event.anchor] = node


def _add(parent: _Collection, pending_keys: list[_Node | _Alias | None], node: _Node | _Alias) -> None:
    if isinstance(parent, SequenceNode):
        parent.value.append(node)
    elif pending_keys[-1] is None:
        pending_keys[-1] = node
    else:
        parent.value.append((pending_keys[-1], node))
        pending_keys[-1] = None


class _Builder:
    """Turns one document's node graph into plain data and a positions table."""

    def __init__(self, path: str, max_depth: int, root_nodes: int):
        self.path = path
        self.max_depth = max_depth
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        # Each node written in the file is visited once, and each merged (`<<`) pair looked at
        # once; whatever aliases add on top of that is bounded by MAX_ALIAS_EXPANSION.
        self.budget = 2 * root_nodes + MAX_ALIAS_EXPANSION
        self.open: set[int] = set()  # collections being built: an alias back to one is a cycle
        self.alias_mark: Any = None  # the outermost alias being expanded, to blame for a bomb
        self.constructor = SafeConstructor()

    def value(self, node: _Node | _Alias, path: JsonPath, depth: int) -> Any:
        if isinstance(node, _Alias):
            if self.alias_mark is not None:
                return self.value(node.target, path, depth)
            self.alias_mark = node.mark
            try:
                return self.value(node.target, path, depth)
            finally:
                self.alias_mark = None
        self._spend(1, node)
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if depth >= self.max_depth:
            raise self._error(f"nesting deeper than {self.max_depth} levels", node)
        if id(node) in self.open:
            raise self._error("recursive alias (a collection that contains itself)", node)
        self.open.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node, path, depth)
            return self._mapping(node, path, depth)
        finally:
            self.open.discard(id(node))

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag in _TEXT_SCALAR_TAGS:
            return node.value
        if node.tag not in _CONSTRUCTED_SCALAR_TAGS:
            raise self._unsupported_tag(node)
        try:
            return SafeConstructor.yaml_constructors[node.tag](self.constructor, node)
        # what PyYAML's scalar constructors raise on values an explicit tag forces on them:
        # `0x_`, `!!int ''`, `!!bool maybe`, a 5,000-digit int, `!!float 1:...:1` past float range
        except (ValueError, IndexError, KeyError, OverflowError):
            kind = node.tag.removeprefix(_TAG)
            raise self._error(f"invalid {kind} `{shown(node.value)}`", node) from None

    def _sequence(self, node: SequenceNode, path: JsonPath, depth: int) -> list[Any]:
        if node.tag not in _SEQUENCE_TAGS:
            raise self._unsupported_tag(node)
        items = []
        for index, item in enumerate(node.value):
            self.positions[path + (index,)] = _mark_of(item)
            items.append(self.value(item, path + (index,), depth + 1))
        return items

    def _mapping(self, node: MappingNode, path: JsonPath, depth: int) -> dict[str, Any]:
        if node.tag not in _MAPPING_TAGS:
            raise self._unsupported_tag(node)
        explicit, merged = self._split_merges(node, depth)
        result: dict[str, Any] = {}
        for key_node, value_node in explicit:
            key = self._key(key_node)
            if key in result:
                first = self.positions[path + (key,)][0]
                # at the key as written: `*name` (an _Alias, which has no start_mark) is blamed where it stands
                raise LoadError(self.path, f"duplicate key `{shown(key)}` (first at line {first})", *_mark_of(key_node))
            self.positions[path + (key,)] = _mark_of(key_node)
            result[key] = self.value(value_node, path + (key,), depth + 1)
        # PyYAML applies merged pairs in order and lets later ones win; explicit keys win over all.
        for key_node, value_node in reversed(merged):
            key = self._key(key_node)
            if key not in result:
                self.positions[path + (key,)] = _mark_of(key_node)
                result[key] = self.value(value_node, path + (key,), depth + 1)
        return result

    def _split_merges(self, node: MappingNode, depth: int) -> tuple[list[_Pair], list[_Pair]]:
        """The mapping's own pairs, and the pairs its `<<` keys merge in (PyYAML's order)."""
        explicit: list[_Pair] = []
        merged: list[_Pair] = []
        for key_node, value_node in node.value:
            if _target(key_node).tag != _MERGE:
                explicit.append((key_node, value_node))
                continue
            source = _target(value_node)
            if isinstance(source, MappingNode):
                merged.extend(self._flattened(source, depth + 1))
            elif isinstance(source, SequenceNode):
                for item in reversed(source.value):
                    target = _target(item)
                    if not isinstance(target, MappingNode):
                        raise self._error("`<<` merges mappings only", target)
                    merged.extend(self._flattened(target, depth + 1))
            else:
                raise self._error("`<<` merges a mapping or a list of mappings only", source)
        return explicit, merged

    def _flattened(self, node: MappingNode, depth: int) -> list[_Pair]:
        if depth >= self.max_depth:
            raise self._error(f"`<<` merges nested deeper than {self.max_depth} levels", node)
        if id(node) in self.open:
            raise self._error("recursive alias (a mapping that merges itself)", node)
        self.open.add(id(node))
        try:
            explicit, merged = self._split_merges(node, depth)
        finally:
            self.open.discard(id(node))
        self._spend(len(explicit) + len(merged), node)
        return merged + explicit

    def _key(self, node: _Node | _Alias) -> str:
        node = _target(node)
        if not isinstance(node, ScalarNode):
            raise self._error("mapping keys must be scalars", node)
        key = self._scalar(node)
        return key if isinstance(key, str) else node.value

    def _spend(self, amount: int, node: Node) -> None:
        self.budget -= amount
        if self.budget < 0:
            mark = self.alias_mark or node.start_mark
            message = f"aliases expand to more than {MAX_ALIAS_EXPANSION:,} extra nodes (alias bomb?)"
            raise LoadError(self.path, message, *_line_col(mark))

    def _unsupported_tag(self, node: Node) -> LoadError:
        tag = "!!" + node.tag.removeprefix(_TAG) if node.tag.startswith(_TAG) else node.tag
        return self._error(f"unsupported YAML tag `{shown(tag)}`", node)

    def _error(self, message: str, node: Node) -> LoadError:
        return LoadError(self.path, message, *_line_col(node.start_mark))


def _target(node: _Node | _Alias) -> _Node:
    return node.target if isinstance(node, _Alias) else node


def _mark_of(node: _Node | _Alias) -> tuple[int, int]:
    """Where a key or item is written: at the alias for `*name`, else at the node itself."""
    mark = node.mark if isinstance(node, _Alias) else node.start_mark
    return (mark.line + 1, mark.column + 1)


def _line_col(mark: Any) -> tuple[int | None, int | None]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (None, None)


def _describe(exc: yaml.MarkedYAMLError) -> str:
    if exc.context and exc.problem:
        return f"{exc.problem} ({exc.context})"
    return exc.problem or exc.context or "syntax error"


def _reader_error(text: str, path: str, exc: yaml.reader.ReaderError) -> LoadError:
    # libyaml reports a byte offset and PyYAML a character offset; the character itself is the
    # same in both, and the reader stops at its first occurrence.
    if not isinstance(exc.character, int):
        return LoadError(path, f"invalid YAML: {exc.reason}")
    offset = text.find(chr(exc.character))
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)
    return LoadError(path, f"invalid YAML: {exc.reason} (U+{exc.character:04X})", line, column)
