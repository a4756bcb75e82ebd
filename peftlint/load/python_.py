"""Python source -> one Document per peft config call (`LoraConfig(...)` and friends).

The file is parsed with `ast` and nothing else: it is never imported, compiled to bytecode or
run, so reading it cannot execute any of its code. A call counts when its callee names a peft
config class: `LoraConfig(...)` (bare, or star-imported), `peft.LoraConfig(...)`,
`p.tuners.lora.LoraConfig(...)` after `import peft as p`, or `LC(...)` after
`from peft import LoraConfig as LC`. Imports are read file-wide, whatever scope they sit in; a
class name imported from another module (`from mylib import LoraConfig`), or a bare name the file
defines itself (`class LoraConfig:`, a project's own settings class), does not count.

Keyword values are read like `ast.literal_eval`, limited to JSON-like values (tuples and sets
become lists), plus `TaskType.X` / `PeftType.X` members, read as the string "X". Anything else
(names, calls, f-strings, arithmetic, `**kwargs`, positional arguments) lands in
`Document.computed` with its position: peft would accept it, but its value is unknown here.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from peftlint.load import Document, JsonPath, LoadError, shown
from peftlint.resources import data_dir

# Used until scripts/ has generated peftlint/data/peft_types.json from the installed peft.
FALLBACK_CONFIG_CLASSES: Mapping[str, str] = {
    "LoraConfig": "LORA",
    "AdaLoraConfig": "ADALORA",
    "IA3Config": "IA3",
    "PrefixTuningConfig": "PREFIX_TUNING",
    "PromptTuningConfig": "PROMPT_TUNING",
    "PromptEncoderConfig": "P_TUNING",
    "LoHaConfig": "LOHA",
    "LoKrConfig": "LOKR",
    "VeraConfig": "VERA",
    "OFTConfig": "OFT",
    "BOFTConfig": "BOFT",
}
_ENUM_CLASSES = frozenset({"TaskType", "PeftType"})


@lru_cache(maxsize=1)
def default_config_classes() -> Mapping[str, str]:
    """peft config class name -> PEFT type, from the generated data file if present."""
    generated = data_dir() / "peft_types.json"
    if not generated.is_file():
        return FALLBACK_CONFIG_CLASSES
    with generated.open(encoding="utf-8") as file:
        classes: Mapping[str, str] = json.load(file)["classes"]  # scripts/ wrote it: class name -> PEFT type
    return classes


def load_python(text: str, path: str, *, config_classes: Mapping[str, str] | None = None) -> list[Document]:
    """One Document per config call, in source order; [] when the file has none."""
    if config_classes is None:
        config_classes = default_config_classes()
    # ast numbers lines after the tokenizer has turned CRLF and CR into LF; do the same so that
    # its line numbers index `lines`.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        with warnings.catch_warnings():  # e.g. "invalid escape sequence": the user's business, not ours
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        # CPython reports some errors (`@0`) at offset 0 although its offsets are 1-based
        column = max(exc.offset, 1) if exc.offset is not None else None
        raise LoadError(path, f"invalid Python: {exc.msg}", exc.lineno, column) from None
    except ValueError as exc:  # "source code string cannot contain null bytes"
        raise LoadError(path, f"invalid Python: {exc}") from None
    except (MemoryError, RecursionError):  # the parser's own limits on pathological nesting
        raise LoadError(path, "invalid Python: nested too deeply to parse") from None
    calls, imports, defined = [], [], set()
    for node in ast.walk(tree):  # one walk: it costs more than parsing
        if isinstance(node, ast.Call):
            calls.append(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(node)
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            defined.add(node.name)
    reader = _CallReader(path, text.split("\n"), _imported_names(imports), config_classes, defined)
    documents: list[Document] = []
    for call in sorted(calls, key=lambda node: (node.lineno, node.col_offset)):
        class_name = reader.config_class(call.func)
        if class_name is not None:
            documents.append(reader.document(call, class_name, ordinal=len(documents)))
    model, model_class = _loaded_model(calls, tree) if documents else (None, None)
    return [d._replace(loaded_model=model, loaded_class=model_class) for d in documents] if model else documents


# `AutoModelForCausalLM`, `WhisperForConditionalGeneration`, `BertModel`, `GPT2LMHeadModel`: the
# transformers model classes whose `from_pretrained` loads the base model (tokenizers, processors,
# configs and peft's own `PeftModel.from_pretrained(model, adapter)` do not count)
_MODEL_CLASS = re.compile(r"^(?!(Auto)?Peft)(Auto|TF|Flax)?[A-Z][A-Za-z0-9]*(Model|For[A-Z][A-Za-z0-9]*|LMHeadModel)$")


def _loaded_model(calls: list[ast.Call], tree: ast.Module) -> tuple[str | None, str | None]:
    """The one base model id the script loads with a literal (or a module-level constant), and the
    one class it loads it with (None when there are several); (None, None) when not known."""
    constants: dict[str, str | None] = {}
    for node in tree.body:  # `model_id = "openai/whisper-small"`, assigned once at module level
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    value = node.value
                    literal = value.value if isinstance(value, ast.Constant) and isinstance(value.value, str) else None
                    constants[target.id] = None if target.id in constants else literal
    found: set[str] = set()
    classes: set[str] = set()
    for call in calls:
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "from_pretrained"):
            continue
        owner = _dotted(func.value)
        if owner is None or not _MODEL_CLASS.match(owner[-1]):
            continue
        argument = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "pretrained_model_name_or_path"), None)
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            found.add(argument.value)
        elif isinstance(argument, ast.Name) and (constant := constants.get(argument.id)):
            found.add(constant)
        else:
            return None, None  # a model named at run time: which one is unknown
        classes.add(owner[-1])
    if len(found) != 1:
        return None, None
    return found.pop(), classes.pop() if len(classes) == 1 else None


def _imported_names(imports: list[ast.Import | ast.ImportFrom]) -> dict[str, str]:
    """Local name -> the dotted name it stands for, for every import in the file."""
    names: dict[str, str] = {}
    for node in imports:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:  # `import peft.tuners.lora` binds `peft`
                    root = alias.name.partition(".")[0]
                    names[root] = root
        else:
            module = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{module}.{alias.name}"
    return names


def _dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"]; None for anything that is not a plain dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


class _NotLiteral(Exception):
    """A value that cannot be known without running the code."""


class _CallReader:
    def __init__(self, path: str, lines: list[str], imports: dict[str, str], config_classes: Mapping[str, str], defined: set[str]):
        self.path = path
        self.lines = lines
        self.imports = imports
        self.config_classes = config_classes
        # classes and functions the file defines itself: a project's own `@dataclass class
        # LoraConfig` (alpha, dropout, epochs, lr) is no peft class, whatever its name
        self.defined = defined

    def _qualified(self, node: ast.expr) -> list[str] | None:
        """The dotted name `node` refers to, through the file's imports; unimported names as written."""
        parts = _dotted(node)
        if parts is None:
            return None
        root = self.imports.get(parts[0], parts[0])
        return root.split(".") + parts[1:]

    def config_class(self, func: ast.expr) -> str | None:
        """The peft config class `func` names, if it names one."""
        parts = self._qualified(func)
        if parts is None or parts[-1] not in self.config_classes:
            return None
        if len(parts) == 1:
            return None if parts[0] in self.defined else parts[0]
        return parts[-1] if parts[0] == "peft" else None

    def _enum_member(self, node: ast.expr) -> str | None:
        """The member's name for `TaskType.CAUSAL_LM`, `peft.TaskType.CAUSAL_LM`, `TT.CAUSAL_LM`, ..."""
        parts = self._qualified(node)
        if parts is None or len(parts) < 2 or parts[-2] not in _ENUM_CLASSES:
            return None
        return parts[-1] if len(parts) == 2 or parts[0] == "peft" else None

    def document(self, call: ast.Call, class_name: str, ordinal: int) -> Document:
        data: dict[str, Any] = {}
        positions: dict[JsonPath, tuple[int, int]] = {(): self._position(call)}
        computed: dict[str, tuple[int, int]] = {}
        for number, argument in enumerate(call.args, start=1):
            if isinstance(argument, ast.Starred):
                computed["*" + _source(argument.value)] = self._position(argument)
            else:
                computed[f"<positional {number}>"] = self._position(argument)
        for keyword in call.keywords:
            position = self._position(keyword)
            if keyword.arg is None:
                computed["**" + _source(keyword.value)] = position
                continue
            name = keyword.arg
            if (name,) in positions:  # Python refuses this at compile time
                first_line = positions[(name,)][0]
                raise LoadError(self.path, f"duplicate key `{name}` (first at line {first_line})", *position)
            positions[(name,)] = position  # computed or not: findings about the key point here
            value_positions: dict[JsonPath, tuple[int, int]] = {}
            try:
                data[name] = self._literal(keyword.value, (name,), value_positions)
            except _NotLiteral:
                computed[name] = position
            else:
                positions.update(value_positions)
        return Document(self.path, "python", data, positions, ordinal=ordinal, class_name=class_name, computed=computed)

    def _literal(self, node: ast.expr, path: JsonPath, positions: dict[JsonPath, tuple[int, int]]) -> Any:
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, (str, int, float)):
                return node.value
            raise _NotLiteral  # bytes, complex, Ellipsis
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = node.operand
            number = operand.value if isinstance(operand, ast.Constant) else None
            # exactly int or float (bool is an int too: `-True` is not a literal number)
            if isinstance(number, (int, float)) and not isinstance(number, bool):
                return -number if isinstance(node.op, ast.USub) else number
            raise _NotLiteral
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = []
            for index, item in enumerate(node.elts):
                positions[path + (index,)] = self._position(item)
                items.append(self._literal(item, path + (index,), positions))
            return items
        if isinstance(node, ast.Dict):
            result: dict[str, Any] = {}
            for key_node, value_node in zip(node.keys, node.values):
                if key_node is None:  # `{**other}`
                    raise _NotLiteral
                key = self._literal(key_node, path, {})
                if isinstance(key, (list, dict)):  # cannot happen in running code: unhashable
                    raise _NotLiteral
                key = key if isinstance(key, str) else str(key)
                positions[path + (key,)] = self._position(key_node)
                result[key] = self._literal(value_node, path + (key,), positions)
            return result
        member = self._enum_member(node)
        if member is not None:
            return member
        raise _NotLiteral

    def _position(self, node: ast.expr | ast.keyword) -> tuple[int, int]:
        # ast columns count UTF-8 bytes; positions count characters.
        line = self.lines[node.lineno - 1]
        column = node.col_offset if line.isascii() else len(line.encode()[: node.col_offset].decode())
        return (node.lineno, column + 1)


def _source(node: ast.expr) -> str:
    try:
        return shown(ast.unparse(node))
    except RecursionError:  # ast.unparse recurses deeper than the parser did
        return "..."
