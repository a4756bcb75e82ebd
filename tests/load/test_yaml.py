from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from peftlint.load import LoadError
from peftlint.load.files import MAX_DEPTH, load_path
from peftlint.load.yaml_ import MAX_ALIAS_EXPANSION, load_yaml

FIXTURES = Path(__file__).parent.parent / "fixtures" / "load"


def load(text: str) -> list:
    return load_yaml(text, "c.yaml", max_depth=MAX_DEPTH)


def error(text: str) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load(text)
    return caught.value


def test_block_style_positions_of_keys_and_items() -> None:
    [doc] = load_path(FIXTURES / "lora_block.yaml")
    assert doc.format == "yaml"
    assert doc.positions[("peft_type",)] == (2, 1)
    assert doc.positions[("target_modules",)] == (7, 1)
    assert doc.positions[("target_modules", 1)] == (9, 5)
    assert doc.positions[("rank_pattern", "q_proj")] == (11, 3)
    assert doc.positions[("rank_pattern", "model.layers.0.self_attn.v_proj")] == (12, 3)
    assert doc.positions[("layers_to_transform", 2)] == (13, 29)
    assert doc.positions[("modules_to_save", 0)] == (15, 3)
    assert doc.data["rank_pattern"] == {"q_proj": 8, "model.layers.0.self_attn.v_proj": 4}


def test_flow_style_positions_of_keys_and_items() -> None:
    [doc] = load_path(FIXTURES / "lora_flow.yaml")
    assert doc.positions[("r",)] == (1, 19)
    assert doc.positions[("target_modules", 0)] == (2, 19)
    assert doc.positions[("target_modules", 2)] == (3, 19)
    assert doc.positions[("rank_pattern", "q_proj")] == (4, 17)


@pytest.mark.parametrize("name", ["lora_block.yaml", "lora_flow.yaml", "anchors.yaml"])
def test_data_is_what_safe_load_reads(name: str) -> None:
    text = (FIXTURES / name).read_text()
    [doc] = load(text)
    assert doc.data == yaml.safe_load(text)


def test_multi_document_stream_skips_empty_documents_and_keeps_stream_index() -> None:
    docs = load_path(FIXTURES / "multi.yaml")
    assert [(doc.ordinal, doc.data["peft_type"]) for doc in docs] == [(0, "LORA"), (2, "IA3")]
    assert docs[1].positions[("feedforward_modules", 0)] == (10, 5)
    assert docs[1].positions[()] == (7, 1)


def test_aliases_and_merge_keys_follow_pyyaml_and_point_into_the_file() -> None:
    [doc] = load_path(FIXTURES / "anchors.yaml")
    assert doc.data["small"] == {"r": 4, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"]}
    assert doc.positions[("small", "r")] == (7, 3)  # the explicit key beats the merged one
    assert doc.positions[("small", "lora_alpha")] == (3, 3)  # a merged key: where it is written
    assert doc.positions[("large", "lora_dropout")] == (9, 20)
    assert doc.positions[("large", "modules_to_save")] == (11, 3)


def test_alias_items_are_placed_where_the_alias_is_written() -> None:
    [doc] = load("a: &x 1\nb: [*x, 2]\n")
    assert doc.positions[("b", 0)] == (2, 5)


def test_aliased_values_are_copies() -> None:
    [doc] = load("a: &x [1]\nb: *x\n")
    doc.data["a"].append(2)
    assert doc.data["b"] == [1]


def test_crlf_line_endings_keep_positions() -> None:
    [doc] = load("r: 8\r\ntarget_modules:\r\n  - q_proj\r\n  - v_proj\r\n")
    assert doc.positions[("target_modules", 1)] == (4, 5)
    assert doc.data["target_modules"] == ["q_proj", "v_proj"]


def test_columns_count_characters_and_tabs_as_one() -> None:
    [doc] = load("modèle: {é: 1, r: 2}\nx:\t[a,\tb]\n")
    assert doc.positions[("modèle", "r")] == (1, 16)
    assert doc.positions[("x", 1)] == (2, 8)


def test_tab_indentation_is_a_syntax_error_with_position() -> None:
    err = error("a:\n\tb: 1\n")
    assert (err.line, err.column) == (2, 1)
    assert "invalid YAML" in err.message


def test_non_string_keys_keep_their_value_under_their_source_text() -> None:
    [doc] = load("rank_pattern: {1: 8, on: 4, ~: 2}\n")
    assert doc.data == {"rank_pattern": {"1": 8, "on": 4, "~": 2}}
    assert doc.positions[("rank_pattern", "on")] == (1, 22)


def test_scalars_resolve_as_yaml_1_1() -> None:
    [doc] = load("a: yes\nb: 0x10\nc: .inf\nd: null\ne: 1_000\nf: 2024-01-31\n")
    assert doc.data == {"a": True, "b": 16, "c": float("inf"), "d": None, "e": 1000, "f": "2024-01-31"}


def test_duplicate_key_is_reported_at_the_second_key() -> None:
    err = error("peft_type: LORA\nrank_pattern:\n  q: 1\n  r: 2\n  q: 3\n")
    assert err.message == "duplicate key `q` (first at line 3)"
    assert (err.line, err.column) == (5, 3)


def test_duplicate_key_written_as_an_alias_is_reported_at_the_alias() -> None:
    # was an AttributeError traceback: the error was placed at the node, and an alias is no node
    err = error("&k r: 1\n*k : 2\n")
    assert err.message == "duplicate key `r` (first at line 1)"
    assert (err.line, err.column) == (2, 1)


def test_messages_stay_on_one_line() -> None:
    assert error('"a\\nb": 1\n"a\\nb": 2\n').message == "duplicate key `a\\nb` (first at line 1)"
    assert error("r: " + "9" * 5000 + "\n").message == f"invalid int `{'9' * 37}...`"


def test_same_key_in_different_mappings_is_no_duplicate() -> None:
    [doc] = load("a: {r: 1}\nb: {r: 2}\n")
    assert doc.data == {"a": {"r": 1}, "b": {"r": 2}}


def test_syntax_error_carries_pyyaml_problem_and_mark() -> None:
    err = error("r: 8\ntarget_modules: [q_proj, v_proj\nlora_alpha: 16\n")
    assert err.message.startswith("invalid YAML: did not find expected ',' or ']'")
    assert (err.line, err.column) == (3, 11)


def test_control_character_is_reported_where_it_is() -> None:
    err = error("r: 8\nbias: no\x07ne\n")
    assert (err.line, err.column) == (2, 9)
    assert "U+0007" in err.message


def test_unsafe_tags_are_refused_not_constructed() -> None:
    err = error("r: !!python/object/apply:os.system ['true']\n")
    assert err.message == "unsupported YAML tag `!!python/object/apply:os.system`"
    assert (err.line, err.column) == (1, 4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: *nowhere\n", "undefined alias `*nowhere`"),
        ("a: &x 1\nb: &x 2\n", "duplicate anchor `&x` (first at line 1)"),
        ("? [a, b]\n: 1\n", "mapping keys must be scalars"),
        ("a: 0x_\n", "invalid int `0x_`"),
        ("a: &x [*x]\n", "recursive alias (a collection that contains itself)"),
        ("a: &x {<<: *x}\n", "recursive alias (a mapping that merges itself)"),
        ("a: {<<: 1}\n", "`<<` merges a mapping or a list of mappings only"),
    ],
)
def test_malformed_graphs_are_load_errors(text: str, message: str) -> None:
    err = error(text)
    assert err.message == message
    assert err.line is not None


def billion_laughs(levels: int) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text",
    [
        billion_laughs(9),  # 9**9 strings once expanded
        # the same through merge keys: every level merges the previous one ten times
        "a0: &a0 {k0: 1, k1: 2, k2: 3}\n" + "".join(f"a{i + 1}: &a{i + 1} {{<<: [{', '.join([f'*a{i}'] * 10)}]}}\n" for i in range(9)),
    ],
    ids=["aliases", "merge-keys"],
)
def test_alias_bomb_is_refused_within_a_second(text: str) -> None:
    started = time.perf_counter()
    err = error(text)
    assert time.perf_counter() - started < 1.0
    assert "alias bomb" in err.message
    assert err.line is not None


def test_moderate_alias_reuse_is_fine() -> None:
    [doc] = load(billion_laughs(4))  # 9**4 = 6,561 expanded strings
    assert len(doc.data["d"]) == 9
    assert 9**4 < MAX_ALIAS_EXPANSION


@pytest.mark.parametrize(
    "text",
    [
        "[" * 10_000 + "]" * 10_000,
        "".join("  " * level + "a:\n" for level in range(10_000)) + "  " * 10_000 + "b\n",
        "".join("  " * level + "-\n" for level in range(10_000)),
        "[" * 2_000_000,  # libyaml's own composer would overflow the C stack here
    ],
    ids=["flow", "block-mapping", "block-sequence", "unclosed-2M"],
)
def test_deep_nesting_is_a_clean_load_error(text: str) -> None:
    err = error(text)
    assert err.message == f"nesting deeper than {MAX_DEPTH} levels"
    assert err.line is not None


def nesting(value: object) -> int:
    levels = 0
    while isinstance(value, list):
        levels += 1
        value = value[0] if value else None
    return levels


def test_nesting_up_to_the_limit_loads() -> None:
    [doc] = load("[" * MAX_DEPTH + "]" * MAX_DEPTH)
    assert nesting(doc.data) == MAX_DEPTH
    assert error("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)).line == 1


def test_aliases_cannot_smuggle_nesting_past_the_limit() -> None:
    half = MAX_DEPTH // 2 + 1
    text = "a: &deep " + "[" * half + "]" * half + "\nb: " + "[" * half + "*deep" + "]" * half + "\n"
    assert error(text).message == f"nesting deeper than {MAX_DEPTH} levels"
