from __future__ import annotations

import codecs
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from peftlint.load import Document, LoadError
from peftlint.load.files import MAX_BYTES, load_bytes, load_path
from tests.strategies import config_files

CONFIG = "peft_type: LORA\nr: 8\ntarget_modules:\n  - q_proj\n  - v_proj\n"


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def error(path: Path, **kwargs: object) -> LoadError:
    with pytest.raises(LoadError) as caught:
        load_path(path, **kwargs)
    assert caught.value.path == str(path)
    return caught.value


@pytest.mark.parametrize(
    ("name", "content", "expected_format"),
    [
        ("c.yaml", CONFIG, "yaml"),
        ("c.yml", CONFIG, "yaml"),
        ("c.yaml", '{"r": 8}', "json"),  # JSON in a .yaml file: read as JSON
        ("c.yaml", "{r: 8}", "yaml"),  # a YAML flow mapping that is not JSON
        ("c.json", '{"r": 8}', "json"),
        ("c.py", "from peft import LoraConfig\nLoraConfig(r=8)\n", "python"),
        ("config", CONFIG, "yaml"),
        ("config", '\n  {"r": 8}', "json"),
        ("config", "from peft import LoraConfig\nLoraConfig(r=8)\n", "python"),
        ("config.txt", "import peft\nconfig = peft.LoraConfig(r=8)\n", "python"),
        ("config", "r: 8\n", "yaml"),  # valid Python too (an annotation), but calls no config class
    ],
)
def test_format_is_detected_from_extension_and_content(tmp_path: Path, name: str, content: str, expected_format: str) -> None:
    [doc] = load_path(write(tmp_path, name, content))
    assert doc.format == expected_format
    assert doc.data == {"r": 8} or doc.data["r"] == 8


def test_broken_json_in_a_json_file_reports_the_json_error(tmp_path: Path) -> None:
    err = error(write(tmp_path, "adapter_config.json", '{"r": 8,\n "a": }'))
    assert (err.message, err.line, err.column) == ("invalid JSON: Expecting value", 2, 7)


def test_json_extension_does_not_fall_back_to_yaml(tmp_path: Path) -> None:
    assert error(write(tmp_path, "c.json", "r: 8\n")).message.startswith("invalid JSON")


def test_python_extension_is_never_read_as_yaml(tmp_path: Path) -> None:
    assert load_path(write(tmp_path, "c.py", "r: 8\n")) == []


@pytest.mark.parametrize("content", [b"", b"   \n\t\n", codecs.BOM_UTF8, b"# only a comment\n", b"---\n...\n"])
def test_empty_files_hold_no_documents(tmp_path: Path, content: bytes) -> None:
    assert load_path(write(tmp_path, "c.yaml", content)) == []


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
def test_unicode_encodings_with_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    text = "# modèle\nr: 8\ntarget_modules: [q_proj, v_proj]\n"
    raw = text.encode(encoding)
    if encoding.endswith(("-le", "-be")):  # these codecs write no BOM: add the right one
        bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE, "utf-32-be": codecs.BOM_UTF32_BE}
        raw = bom[encoding] + raw
    [doc] = load_path(write(tmp_path, "c.yaml", raw))
    assert doc.data == {"r": 8, "target_modules": ["q_proj", "v_proj"]}
    assert doc.positions[("target_modules", 1)] == (3, 26)


def test_utf8_bom_json(tmp_path: Path) -> None:
    [doc] = load_path(write(tmp_path, "adapter_config.json", codecs.BOM_UTF8 + b'{\n  "r": 8\n}'))
    assert doc.positions[("r",)] == (2, 3)


def test_non_utf8_text_names_the_byte_and_where_it_is(tmp_path: Path) -> None:
    err = error(write(tmp_path, "c.yaml", "r: 8\nbase_model: modèle\n".encode("latin-1")))
    assert err.message == "not UTF-8 text (byte 0xe8 at offset 20)"
    assert (err.line, err.column) == (2, 16)


def test_invalid_utf16_is_reported(tmp_path: Path) -> None:
    err = error(write(tmp_path, "c.yaml", codecs.BOM_UTF16_LE + "r: 8\n".encode("utf-16-le") + b"\x00\xd8"))
    assert err.message.startswith("not UTF-16 text (byte 0x00 at offset 12)")
    assert (err.line, err.column) == (2, 1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file, not text (NUL byte at offset 8)"),
        ("r: 8\n".encode("utf-16-le"), "binary file, not text (NUL byte at offset 1)"),  # UTF-16 without BOM
        (codecs.BOM_UTF16_LE + "r: \0".encode("utf-16-le"), "binary file, not text (NUL character in UTF-16)"),
    ],
)
def test_binary_files(tmp_path: Path, content: bytes, message: str) -> None:
    assert error(write(tmp_path, "model.safetensors", content)).message == message


def test_size_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", CONFIG)
    assert load_path(path, max_bytes=len(CONFIG))[0].data["r"] == 8
    err = error(path, max_bytes=len(CONFIG) - 1)
    assert err.message == f"file too large: {len(CONFIG)} bytes (limit {len(CONFIG) - 1} bytes)"
    assert MAX_BYTES == 10_000_000


def test_size_limit_holds_for_files_without_a_size(tmp_path: Path) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("needs /dev/zero")
    err = error(Path("/dev/zero"), max_bytes=1000)
    assert err.message == "file too large: more than 1,000 bytes (limit 1,000 bytes)"


def test_default_size_limit_is_ten_megabytes(tmp_path: Path) -> None:
    with (tmp_path / "big.yaml").open("wb") as file:
        file.truncate(MAX_BYTES + 1)  # sparse: no 10 MB written
    assert error(tmp_path / "big.yaml").message == "file too large: 10,000,001 bytes (limit 10,000,000 bytes)"


def test_unreadable_paths(tmp_path: Path) -> None:
    assert error(tmp_path / "missing.yaml").message == "cannot read file: No such file or directory"
    assert error(tmp_path).message == "cannot read file: Is a directory"


def test_path_may_be_a_string(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", CONFIG)
    [doc] = load_path(str(path))
    assert doc.path == str(path)


_TEXT = st.text(alphabet="{}[]:,-?&*!|>'\"#%@`\\ \t\n\r.=()_abLoraConfigr0189éeEnul\x00\x07\u2028", max_size=120)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    content=st.one_of(
        st.binary(max_size=200),
        _TEXT.map(str.encode),
        _TEXT.map(lambda text: text.encode("utf-16")),
    ),
    name=st.sampled_from(["c.yaml", "c.json", "c.py", "config"]),
)
def test_any_bytes_give_documents_or_a_load_error(content: bytes, name: str) -> None:
    try:
        documents = load_bytes(content, name)
    except LoadError as err:
        assert err.message and "\n" not in str(err)
        assert err.line is None or (err.line >= 1 and err.column >= 1)
    else:
        for document in documents:
            assert isinstance(document, Document)
            for path in document.positions:  # every position names a value, or a computed keyword
                if len(path) == 1 and path[0] in document.computed:
                    continue
                value = document.data
                for step in path:
                    value = value[step]


@settings(derandomize=True, max_examples=200, deadline=None)
@given(config_files())
def test_a_written_config_loads_back_with_a_position_for_every_key(case: tuple[str, bytes, dict[str, Any]]) -> None:
    """Most real files are well-formed: they load to the config that was written, every key placed."""
    suffix, content, config = case
    [document] = load_bytes(content, f"adapter{suffix}")
    assert document.data == config
    for key in config:
        line, column = document.positions[(key,)]
        assert line >= 1 and column >= 1
