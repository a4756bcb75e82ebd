"""The one value every stage reports: an immutable, sortable Finding."""

from typing import Any, Literal, NamedTuple

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3}
EditOp = Literal["rename-key", "set", "replace-item", "remove-key"]


class Edit(NamedTuple):
    """A fix a machine can apply (`check --fix`): one change at one key of one document of the file.

    `path` is in the file's own keys (a dialect's `lora_r`, not `r`), from the document's root.
    rename-key: `value` is the new key; set: the new value (the key is added when missing);
    replace-item: `old` is the list item to replace, `value` the list of items it becomes;
    remove-key: the key and its value go (`value` is None).
    """

    op: EditOp
    path: tuple[str | int, ...]
    value: Any
    old: Any = None
    document: int = 0  # which document of the file: a YAML `---` document, a Python config call
    safe: bool = True  # the rule's fix applicability; unsafe edits are applied only when asked for
    # the config is a saved adapter and the edit would change what its trained weights mean (any
    # edit but removing a key peft drops when it loads): `--fix` refuses it
    changes_adapter: bool = False


class Finding(NamedTuple):
    """One problem at one place. Field names and order follow the JSON contract."""

    code: str
    name: str
    severity: Severity
    file: str | None
    line: int | None
    column: int | None
    key: str | None  # dotted path of the config key concerned, e.g. "target_modules"
    message: str
    fix: str | None = None
    # not part of the JSON contract: how `--fix` applies `fix`, when it can
    edit: Edit | None = None

    def sort_key(self) -> tuple[Any, ...]:
        return (self.file or "", self.line or 0, self.column or 0, self.code, self.key or "", self.message)

    def to_dict(self) -> dict[str, Any]:
        return {name: value for name, value in zip(self._fields, self) if name != "edit"}
