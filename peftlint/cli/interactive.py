"""`peftlint recommend --interactive`: [peft-lesson]'s questions, one by one, with defaults.

A plain prompt loop over two text streams (the terminal's stdin and stdout), so tests can drive
it with a pseudo-terminal or with strings. An answer that is not allowed is explained and the
question asked again; an empty answer takes the default; end of input cancels.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, NamedTuple, TextIO

from peftlint.settings.profile import DEPLOYMENTS, PRIORITIES, TASKS, ProfileError, parse_value

NONE = "none"  # an optional field left unset


class Cancelled(Exception):
    """The input ended before every question was answered."""


class Question(NamedTuple):
    field: str  # a profile field, or "model"
    text: str
    default: Any
    choices: tuple[str, ...] = ()
    optional: bool = False  # NONE (or an empty answer without a default) leaves the field unset


def questions(defaults: Mapping[str, Any], model: str | None) -> list[Question]:
    """[peft-lesson] Concept 3's five questions, then the hardware the budget needs."""
    return [
        Question("model", "1. How strong is the base model already? Which model (Hub id, folder, or bundled name)", model),
        Question("task", "2. How deep is the task shift?", defaults.get("task", "instruction"), TASKS),
        Question("variants", "3. How many variants of this base model will you keep?", defaults.get("variants", 1)),
        Question("deployment", "4. How sensitive is serving?", defaults.get("deployment", "batch"), DEPLOYMENTS),
        Question(
            "priority",
            "5. What matters most (how much quality loss is acceptable)?",
            defaults.get("priority", NONE),
            (*PRIORITIES, NONE),
            optional=True,
        ),
        Question("gpu_memory", "GPU memory per GPU, e.g. 24GB (none: no budget)", _memory(defaults.get("gpu_memory")), optional=True),
        Question("seq_len", "Tokens per training sequence", defaults.get("seq_len", 512)),
        Question("batch_size", "Micro-batch size per GPU", defaults.get("batch_size", 1)),
        Question("dataset_size", "Training examples (none: unknown)", defaults.get("dataset_size", NONE), optional=True),
    ]


def _memory(gib: Any) -> str:
    return NONE if gib is None else f"{gib}GB"


def _parse(question: Question, answer: str, check_model: Callable[[str], str | None]) -> Any:
    """The answer's value; raises ValueError with the reason it is not allowed."""
    if question.optional and answer.lower() == NONE:
        return None
    if question.field == "model":
        problem = check_model(answer) if answer else "a model is needed"
        if problem:
            raise ValueError(problem)
        return answer
    try:
        return parse_value(question.field, answer)
    except ProfileError as exc:
        raise ValueError(str(exc)) from None


def _prompt(question: Question) -> str:
    choices = f" ({' / '.join(question.choices)})" if question.choices else ""
    default = "" if question.default is None else f" [{question.default}]"
    return f"{question.text}{choices}{default}: "


def ask(
    defaults: Mapping[str, Any],
    model: str | None,
    stdin: TextIO,
    stdout: TextIO,
    check_model: Callable[[str], str | None] = lambda spec: None,
) -> tuple[str, dict[str, Any]]:
    """(model, profile values) from the answers; `check_model` returns why a model cannot be used."""
    answers: dict[str, Any] = {}
    for question in questions(defaults, model):
        while True:
            stdout.write(_prompt(question))
            stdout.flush()
            line = stdin.readline()
            if not line:
                raise Cancelled("input ended: nothing recommended")
            answer = line.strip() or ("" if question.default is None else str(question.default))
            try:
                value = _parse(question, answer, check_model)
            except ValueError as exc:
                stdout.write(f"  {exc}\n")
                continue
            if value is not None:
                answers[question.field] = value
            break
    return answers.pop("model"), answers
