"""The rule engine: rule files in, Findings out.

A rule is one YAML file (schemas/rule.schema.json). Its condition `when` is a JSON Schema
checked against the facts document, once, or once per item of the list `for_each` names.
"""

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, NamedTuple

import yaml

from peftlint.engine import templates
from peftlint.engine.cache import RuleCache
from peftlint.engine.edits import render_edit, spec_strings
from peftlint.finding import Finding, Severity
from peftlint.normalize import PeftConfig
from peftlint.resources import rules_dir, schemas_dir

if TYPE_CHECKING:
    from typing import TypedDict

    import jsonschema_rs

    class _Documentation(TypedDict):
        """A rule file's documentation parts (DOCUMENTATION), as rule.schema.json types them."""

        rationale: str
        severity_reason: str
        examples: dict[str, Any]


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class RuleFileError(Exception):
    """A malformed rule file: names the file and the field, one line per problem.

    Every problem of the file is reported at once (`problems`), so that a rule author fixes them
    in one pass rather than one per run; `field` is the first one's.
    """

    def __init__(self, path: Path | str, field: str, message: str, more: Iterable[tuple[str, str]] = ()):
        self.path = str(path)
        self.field = field
        self.problems = ((field, message), *more)
        super().__init__("\n".join(f"{path}: invalid rule: field `{f}`: {m}" for f, m in self.problems))


class Rule(NamedTuple):
    code: str
    name: str
    severity: Severity  # rule.schema.json allows these three only
    summary: str
    message: str
    source: str
    path: str
    when: Any = None
    emitted_by: str | None = None
    for_each: str | None = None
    at: str | None = None
    fix_title: str | None = None
    fix_applicability: str | None = None
    fix_edit: dict[str, Any] | list[dict[str, Any]] | None = None  # how `check --fix` applies the fix (peftlint.engine.edits)
    applies_to: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    # conditions that raise the severity of a finding (docs/severity.md): the first that holds wins
    escalate: tuple[dict[str, Any], ...] = ()

    def applies(self, peft_type: str) -> bool:
        return not self.applies_to or peft_type in self.applies_to

    @property
    def identifiers(self) -> tuple[str, ...]:
        return (self.code, self.name, *self.aliases)

    @property
    def training_only(self) -> bool:
        """The condition requires `source.saved_adapter: false`: advice on how to train, moot for
        an adapter that has trained (docs/saved-adapters.md)."""
        when = self.when if isinstance(self.when, dict) else {}
        source = when.get("properties", {}).get("source", {})
        return isinstance(source, dict) and source.get("properties", {}).get("saved_adapter") == {"const": False}

    # The documentation parts, most of a rule file's text: read from the file when asked for
    # (explain, SARIF, tests), so that the rule cache `check` reads holds only what runs.
    @property
    def rationale(self) -> str:
        return _documentation(self.path)["rationale"]

    @property
    def severity_reason(self) -> str:
        return _documentation(self.path)["severity_reason"]

    @property
    def examples(self) -> dict[str, Any]:
        import copy  # here: only tests and docs read examples

        # a copy of the cached parse: callers may change it (peft extends a SEQ_CLS config's
        # modules_to_save list in place, for one)
        return copy.deepcopy(_documentation(self.path)["examples"])


DOCUMENTATION = ("rationale", "severity_reason", "examples")  # the keys of _Documentation


@lru_cache(maxsize=None)
def _documentation(path: str) -> "_Documentation":
    data = read_rule_data(Path(path), validate=False)  # validated when its rule was loaded
    return {"rationale": data["rationale"], "severity_reason": data["severity_reason"], "examples": data["examples"]}


@lru_cache(maxsize=1)
def _rule_file_validator() -> "jsonschema_rs.Validator":
    import jsonschema_rs

    schema = json.loads((schemas_dir() / "rule.schema.json").read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema)


_COMPILED: dict[tuple[Any, ...], "jsonschema_rs.Validator"] = {}


def _compiled(rule: Rule) -> "jsonschema_rs.Validator":
    """The rule's condition, compiled once per rule file (evaluate runs it for every config)."""
    return _compiled_schema((rule.path, rule.code), rule.when)


def _compiled_schema(key: tuple[Any, ...], schema: Any) -> "jsonschema_rs.Validator":
    if key not in _COMPILED:
        import jsonschema_rs

        _COMPILED[key] = jsonschema_rs.validator_for(schema)
    return _COMPILED[key]


def _severity(rule: Rule, context: dict[str, Any]) -> tuple[Severity, str | None]:
    """The finding's severity and, when an escalation raised it, the reason to add to its message."""
    for n, step in enumerate(rule.escalate):
        if _compiled_schema((rule.path, rule.code, n), step["when"]).is_valid(context):
            return step["severity"], templates.render(step["because"], context)
    return rule.severity, None


def read_rule_data(path: Path, *, validate: bool = True) -> dict[str, Any]:
    """Read one rule file; `validate` checks it against schemas/rule.schema.json and its parts.

    Shipped rules are validated by the test suite, so `check` skips that cost for them; user
    rule folders are always validated.
    """
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RuleFileError(path, "(file)", str(exc).replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise RuleFileError(path, "(file)", "a rule file must hold one mapping")
    if validate:
        _validate_rule_data(path, data)
    return data


def parse_rule(path: Path, *, validate: bool = True) -> Rule:
    return rule_from_data(path, read_rule_data(path, validate=validate))


def rule_from_data(path: Path, data: dict[str, Any]) -> Rule:
    fix = data.get("fix") or {}
    return Rule(
        code=data["code"],
        name=data["name"],
        severity=data["severity"],
        summary=data["summary"],
        message=data["message"],
        source=data["source"],
        path=str(path),
        when=data.get("when"),
        emitted_by=data.get("emitted_by"),
        for_each=data.get("for_each"),
        at=data.get("at"),
        fix_title=fix.get("title"),
        fix_applicability=fix.get("applicability"),
        fix_edit=fix.get("edit"),
        applies_to=tuple(data.get("applies_to", ())),
        inputs=tuple(data.get("inputs", ())),
        aliases=tuple(data.get("aliases", ())),
        escalate=tuple(data.get("escalate", ())),
    )


def _validate_rule_data(path: Path, data: dict[str, Any]) -> None:
    problems = [
        (".".join(str(p) for p in error.instance_path) or "(top level)", error.message)
        for error in _rule_file_validator().iter_errors(data)
    ]
    templates_ = [(field, data.get(field)) for field in ("message", "at")]
    fix: dict[str, Any] = given if isinstance(given := data.get("fix"), dict) else {}
    templates_.append(("fix.title", fix.get("title")))
    edit = fix.get("edit") or {}
    edits = [edit] if isinstance(edit, dict) else [e for e in edit if isinstance(e, dict)] if isinstance(edit, list) else []
    templates_ += [(f"fix.edit.{name}", template) for one in edits for name, template in spec_strings(one)]
    conditions = [("when", data["when"])] if "when" in data else []
    escalate = data.get("escalate", ())
    for n, step in enumerate(escalate if isinstance(escalate, list) else ()):
        if isinstance(step, dict):  # a malformed step is already a schema problem
            templates_.append((f"escalate.{n}.because", step.get("because")))
            conditions.append((f"escalate.{n}.when", step.get("when", True)))
    problems += [p for field, template in templates_ if (p := _template_problem(field, template))]
    problems += [p for field, condition in conditions if (p := _condition_problem(field, condition))]
    if problems:
        (field, message), *more = problems
        raise RuleFileError(path, field, message, more)


def _condition_problem(field: str, condition: Any) -> tuple[str, str] | None:
    import jsonschema_rs

    try:
        if isinstance(condition, dict):
            jsonschema_rs.meta.validate(condition)
        jsonschema_rs.validator_for(condition)
    except (jsonschema_rs.ValidationError, ValueError) as exc:
        return field, f"not a valid JSON Schema: {exc}".replace("\n", " ")
    return None


def _template_problem(field: str, template: Any) -> tuple[str, str] | None:
    if not isinstance(template, str):  # missing, or a wrong type the schema reports
        return None
    try:
        templates.fields(template)
    except templates.TemplateError as exc:
        return field, str(exc)
    return None


def load_rules(extra_dirs: Iterable[Path] = (), *, cache: RuleCache | None = None) -> list[Rule]:
    """The shipped rules plus the user's rule folders; codes and names must be unique."""
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    shipped = rules_dir()
    for directory in (shipped, *extra_dirs):
        directory = Path(directory)
        if not directory.is_dir():
            raise RuleFileError(directory, "(folder)", "rule folder not found")
        for path in sorted(directory.glob("*.yaml")):
            data = cache.get(path) if cache else None
            if data is None:
                data = read_rule_data(path, validate=directory != shipped)
                if cache:  # only data that parsed and validated is cached
                    cache.put(path, {key: value for key, value in data.items() if key not in DOCUMENTATION})
            rule = rule_from_data(path, data)
            for ident in (rule.code, rule.name):
                if ident in seen:
                    raise RuleFileError(path, "code" if ident == rule.code else "name", f"`{ident}` is already used by {seen[ident]}")
                seen[ident] = rule.path
            rules.append(rule)
    if cache:
        cache.save()
    return sorted(rules, key=lambda r: r.code)


def _key_path(rule: Rule, context: dict[str, Any]) -> tuple[str | None, tuple[Any, ...]]:
    item = context.get("item")
    if rule.at is not None:
        dotted = templates.render(rule.at, context)
        return dotted, tuple(int(p) if p.isdigit() else p for p in dotted.split("."))
    if isinstance(item, dict) and isinstance(item.get("path"), list):
        path = tuple(item["path"])
        return ".".join(str(p) for p in path) or None, path
    return None, ()


def evaluate(rules: Iterable[Rule], facts: dict[str, Any], config: PeftConfig) -> list[Finding]:
    findings = []
    for rule in rules:
        if rule.when is None or not rule.applies(facts["peft_type"]):
            continue
        condition = _compiled(rule)
        items = templates.lookup(facts, rule.for_each) if rule.for_each else [None]
        for item in items if isinstance(items, list) else []:
            context = facts if item is None else {**facts, "item": item}
            if not condition.is_valid(context):
                continue
            key, path = _key_path(rule, context)
            line, column = config.position(path)
            if key is not None:
                key = ".".join(str(p) for p in config.source_path(path)) or key
            severity, because = _severity(rule, context)
            message = templates.render(rule.message, context) + (f"; {because}" if because else "")
            findings.append(
                Finding(
                    code=rule.code,
                    name=rule.name,
                    severity=severity,
                    file=config.path,
                    line=line,
                    column=column,
                    key=key,
                    message=config.in_own_words(message),
                    fix=config.in_own_words(templates.render(rule.fix_title, context)) if rule.fix_title else None,
                    edit=render_edit(rule.fix_edit, context, config, safe=rule.fix_applicability == "safe") if rule.fix_edit else None,
                )
            )
    return findings
