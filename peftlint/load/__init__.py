"""Load config files into Documents: parsed data plus the line/column of every key.

One loader module per input format; they share `Document` and `LoadError`.
"""

from typing import Any, NamedTuple

JsonPath = tuple[str | int, ...]  # keys and list indices from the document root


class LoadError(Exception):
    """A file that cannot be read or parsed; always one line, always with a position if known."""

    def __init__(self, path: str, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.path = path
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}:{self.column or 1}"
        return f"{where}: {self.message}"


class Document(NamedTuple):
    """One config found in a file (a YAML document, a JSON file, a `LoraConfig(...)` call)."""

    path: str
    format: str  # "yaml" | "json" | "python"
    data: Any  # plain Python value tree (dict/list/str/int/float/bool/None)
    # 1-based (line, column) of each mapping key (or list item), by JSON path; () is the document start
    positions: dict[JsonPath, tuple[int, int]] = {}  # never changed once the document is built
    # position of this document within its file (not `index`: that would hide tuple.index)
    ordinal: int = 0
    class_name: str | None = None  # python: the config class called, e.g. "LoraConfig"
    # python: keyword arguments whose value is not a literal, with their position
    computed: dict[str, tuple[int, int]] = {}
    # python: the base model the script loads (`AutoModelForCausalLM.from_pretrained("org/name")`),
    # when it loads exactly one by a literal id; get_peft_model records it as base_model_name_or_path
    loaded_model: str | None = None
    # python: the transformers class it loads it with (`AutoModelForImageClassification`): which
    # head the model has when the config names no task_type
    loaded_class: str | None = None

    def position(self, path: JsonPath) -> tuple[int | None, int | None]:
        """Position of `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self.positions:
                return self.positions[path]
            if not path:
                return (None, None)
            path = path[:-1]


def shown(text: str, limit: int = 40) -> str:
    """`text` from a file, fit for a one-line message: control characters escaped, long text cut."""
    text = "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
