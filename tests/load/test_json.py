from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from peftlint.load import LoadError
from peftlint.load.files import MAX_DEPTH, load_path
from peftlint.load.json_ import load_json

FIXTURES = Path(__file__).parent.parent / "fixtures" / "load"


def load(text: str) -> list:
    return load_json(text, "adapter_config.json", max_depth=MAX_DEPTH)


def error(text: str) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load(text)
    return caught.value


def test_adapter_config_written_by_peft() -> None:
    path = FIXTURES / "adapter_config.json"
    [doc] = load_path(path)
    assert doc.format == "json"
    assert doc.data == json.loads(path.read_text())
    lines = path.read_text().splitlines()
    # every top-level key sits at its quote, two spaces in, on the line that names it
    for key in doc.data:
        line, column = doc.positions[(key,)]
        assert lines[line - 1][column - 1 :].startswith(f'"{key}":'), key
    assert doc.positions[("rank_pattern", "q_proj")] == (33, 5)
    assert doc.positions[("target_modules", 1)] == (38, 5)


def test_positions_in_compact_json() -> None:
    [doc] = load('{"a": [1, {"b": [true, null]}], "c": {"d": {}}}')
    assert doc.positions == {
        (): (1, 1),
        ("a",): (1, 2),
        ("a", 0): (1, 8),
        ("a", 1): (1, 11),
        ("a", 1, "b"): (1, 12),
        ("a", 1, "b", 0): (1, 18),
        ("a", 1, "b", 1): (1, 24),
        ("c",): (1, 33),
        ("c", "d"): (1, 39),
    }


def test_keys_with_escapes_and_structural_characters_in_strings() -> None:
    [doc] = load('{"x": "a,b:{[", "q\\"uo\\u0074e": 1,\n "k": ["]", "}"]}')
    assert doc.data == {"x": "a,b:{[", 'q"uote': 1, "k": ["]", "}"]}
    assert doc.positions[('q"uote',)] == (1, 17)
    assert doc.positions[("k", 1)] == (2, 13)


def test_columns_count_characters() -> None:
    [doc] = load('{"modèle": "ü", "r": 8}')
    assert doc.positions[("r",)] == (1, 17)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings(newline: str) -> None:
    [doc] = load(newline.join(["{", '  "r": 8,', '  "target_modules": [', '    "q_proj"', "  ]", "}"]))
    assert doc.positions[("target_modules", 0)] == (4, 5)


def test_duplicate_key_is_reported_at_the_second_key() -> None:
    err = error('{\n  "r": 8,\n  "rank_pattern": {"q": 1},\n  "r": 16\n}')
    assert err.message == "duplicate key `r` (first at line 2)"
    assert (err.line, err.column) == (4, 3)


def test_messages_stay_on_one_line() -> None:
    err = error('{"a\\nb": 1, "a\\nb": 2}')
    assert err.message == "duplicate key `a\\nb` (first at line 1)"


def test_nested_duplicate_and_equal_keys_in_sibling_objects() -> None:
    [doc] = load('{"a": {"r": 1}, "b": {"r": 2}}')
    assert doc.data == {"a": {"r": 1}, "b": {"r": 2}}
    assert error('{"a": {"r": 1,\n "r": 2}}').message == "duplicate key `r` (first at line 1)"


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ('{"r": 8,}', "invalid JSON: Expecting property name enclosed in double quotes", 1, 9),
        ('{\n  "r": 8\n  "a": 1\n}', "invalid JSON: Expecting ',' delimiter", 3, 3),
        ('{"r": 08}', "invalid JSON: Expecting ',' delimiter", 1, 8),
        ('{"bias": "no\nne"}', "invalid JSON: Invalid control character", 1, 13),
        ("{'r': 8}", "invalid JSON: Expecting property name enclosed in double quotes", 1, 2),
        ('{"r": 8} {"r": 9}', "invalid JSON: Extra data", 1, 10),
        ('{"a": "\\x"}', "invalid JSON: Invalid \\escape", 1, 8),
    ],
)
def test_syntax_errors_carry_json_position(text: str, message: str, line: int, column: int) -> None:
    err = error(text)
    assert (err.message, err.line, err.column) == (message, line, column)


@pytest.mark.parametrize(
    "text",
    ["[" * 10_000 + "]" * 10_000, '{"a": ' * 10_000 + "1" + "}" * 10_000, "[" * 2_000_000],
    ids=["arrays", "objects", "unclosed-2M"],
)
def test_deep_nesting_is_a_clean_load_error(text: str) -> None:
    err = error(text)
    assert err.message == f"nesting deeper than {MAX_DEPTH} levels"
    assert err.line == 1


def test_nesting_up_to_the_limit_loads() -> None:
    [doc] = load("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert doc.positions[(0,) * (MAX_DEPTH - 1)] == (1, MAX_DEPTH)


def test_nan_and_infinity_load_as_peft_json_would() -> None:
    [doc] = load('{"lora_dropout": NaN, "a": Infinity, "b": -Infinity}')
    assert math.isnan(doc.data["lora_dropout"])
    assert doc.data["a"] == math.inf and doc.data["b"] == -math.inf


def test_huge_integers() -> None:
    [doc] = load('{"r": 123456789012345678901234567890}')
    assert doc.data["r"] == 123456789012345678901234567890
    err = error('{"r": ' + "9" * 5000 + "}")
    assert err.message == "invalid JSON: Exceeds the limit (4300 digits) for integer string conversion"


def test_null_document_holds_no_config() -> None:
    assert load(" null ") == []


def test_top_level_scalar_and_array_are_documents() -> None:
    assert load("[1, 2]")[0].positions[(1,)] == (1, 5)
    assert load('"LORA"')[0].data == "LORA"
