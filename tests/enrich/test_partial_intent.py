"""PL211 reports part of the layers covered by accident, not layers picked on purpose."""

from __future__ import annotations

from pathlib import Path

import pytest

from peftlint.pipeline import lint_paths

LLAMA = "meta-llama/Meta-Llama-3-8B"  # 32 layers, bundled


def partial(tmp_path: Path, targets: str) -> list[str]:
    path = tmp_path / "a.yaml"
    path.write_text(f"peft_type: LORA\nr: 8\nlora_alpha: 16\nbase_model_name_or_path: {LLAMA}\ntarget_modules: {targets}\n")
    return [f.message for f in lint_paths([str(path)]).findings if f.code == "PL211"]


@pytest.mark.parametrize(
    "targets",
    [
        "[model.layers.31.self_attn.q_proj, model.layers.31.self_attn.v_proj]",  # full paths, layer by layer
        "[q_proj, model.layers.0.mlp.down_proj]",  # every q_proj, one chosen MLP
        "'.*layers\\.(28|29|30|31)\\.self_attn\\.q_proj'",  # a regex that writes the numbers
        "'.*layers\\.[0-3]\\.mlp\\.(up|down)_proj'",
        "'.*\\.\\d+\\.self_attn\\.(q|v)_proj'",  # every layer: not partial at all
    ],
)
def test_layers_picked_on_purpose_are_not_reported(tmp_path: Path, targets: str) -> None:
    assert partial(tmp_path, targets) == []


@pytest.mark.parametrize(
    ("targets", "matched"),
    [
        ("'model\\.layers\\.\\d\\.self_attn\\.q_proj'", "10 of 32"),  # `\d` is one digit
        ("'model\\.layers\\.[0-9]\\.mlp\\.w?down_proj'", "10 of 32"),
    ],
)
def test_a_regex_meaning_every_layer_that_misses_some_is_reported(tmp_path: Path, targets: str, matched: str) -> None:
    [message] = partial(tmp_path, targets)
    assert matched in message
