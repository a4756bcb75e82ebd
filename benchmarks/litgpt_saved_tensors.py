"""What lit-gpt's LoRA forward keeps for backward, per token, against the slope of its published peaks.

Usage: python benchmarks/litgpt_saved_tensors.py LIT_GPT_DIR

LIT_GPT_DIR holds the `lit_gpt` package at the commit of the resource tables the calibration uses
(rows 127-140 of tests/enrich/calibration_models/memory-measurements.csv):

    git clone https://github.com/Lightning-AI/litgpt && git -C litgpt archive 8641822 lit_gpt | tar -x -C LIT_GPT_DIR

For phi-1.5, StableLM Alpha 3B and Llama 2 7B at their real widths (two blocks; every block is the
same) it runs lit_gpt.lora's GPT in bf16 on the CPU with LoRA on query and value, the defaults of
finetune/lora.py, under torch.autograd.graph.saved_tensors_hooks, and counts each saved storage
once (a view keeps its whole storage alive), leaving out parameters and buffers. Dropout runs at
0: on the CPU it saves a bf16 noise tensor, on CUDA native_dropout saves a 1-byte mask, which is
added per adapted input instead (its output, kept by lora_A, is the tensor kept at 0 too). The
per-token bytes of one block times the layers, plus the head's, are set against the slope of the
published peaks over batch size (max_memory_allocated, same run at batch 1, 2, 4). This is why
memory.py's HIDDEN_ACTIVATIONS_PER_LAYER stays fitted: the traced tensors are 88-91% of the slope.
Dev-time only (torch; lit-gpt's own imports of lightning are stubbed, they do not run here).
"""

from __future__ import annotations

import csv
import re
import sys
import types
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
CSV_PATH = ROOT / "tests" / "enrich" / "calibration_models" / "memory-measurements.csv"
# lit-gpt config name -> the CSV's model name and the rows that differ only in batch size
MODELS = {
    "phi-1_5": ("phi-1.5", (127, 130, 131)),
    "stablelm-base-alpha-3b": ("StableLM Alpha 3B", (132, 135, 136)),
    "Llama-2-7b-hf": ("Llama 2 7B", (137, 140)),
}
TOKENS = 128


class _Stub(types.ModuleType):
    """lit_gpt imports lightning at module level for training helpers the forward never calls."""

    def __getattr__(self, name: str) -> type:
        return type(name, (), {})


def _import_lit_gpt(folder: Path) -> types.ModuleType:
    class RequirementCache:
        def __init__(self, requirement: str = "", *args: object) -> None:
            self.requirement = requirement

        def __bool__(self) -> bool:  # lightning "is installed"; flash-attn is not (torch's SDPA runs)
            return not self.requirement.startswith("flash")

    imports = types.ModuleType("lightning_utilities.core.imports")
    imports.RequirementCache = RequirementCache  # type: ignore[attr-defined]
    for name in ("lightning", "lightning.fabric", "lightning.fabric.strategies", "lightning.fabric.utilities", "lightning.fabric.utilities.load",
                 "lightning.fabric.plugins", "lightning.fabric.plugins.precision", "lightning.fabric.plugins.precision.utils", "lightning.fabric.accelerators",
                 "lightning_utilities", "lightning_utilities.core"):  # fmt: skip
        sys.modules.setdefault(name, _Stub(name))
    sys.modules["lightning_utilities.core.imports"] = imports
    sys.path.insert(0, str(folder))
    import lit_gpt.lora

    return lit_gpt.lora


def saved_bytes_per_token(lora: types.ModuleType, name: str) -> tuple[float, float, int, object]:
    """(bytes one block keeps per token, bytes the head keeps per token, layers, config)."""
    config = lora.Config.from_name(name, r=8, alpha=16, dropout=0.0, to_query=True, to_value=True)
    layers, config.n_layer = config.n_layer, 2
    torch.set_default_dtype(torch.bfloat16)
    model = lora.GPT(config)
    torch.set_default_dtype(torch.float32)
    lora.mark_only_lora_as_trainable(model)
    model.max_seq_length = TOKENS  # finetune/lora.py sets it to the longest sample: the rope cache is rebuilt in fp32
    skip = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers(), model.cos, model.sin]}
    where, saved = ["embedding"], {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skip:
            saved.setdefault(where[0], {})[storage.data_ptr()] = storage.nbytes()
        return tensor

    model.transformer.h[1].register_forward_pre_hook(lambda *_: where.__setitem__(0, "block"))
    model.transformer.ln_f.register_forward_pre_hook(lambda *_: where.__setitem__(0, "head"))
    idx = torch.randint(0, 100, (1, TOKENS))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits = model(idx, lm_head_chunk_size=128)
        loss = sum(torch.nn.functional.cross_entropy(chunk.reshape(-1, chunk.size(-1)), idx.reshape(-1)) for chunk in logits)
    assert isinstance(loss, torch.Tensor)
    adapted_inputs = 1  # the fused qkv reads the block's norm output once, through one dropout
    block = sum(saved["block"].values()) / TOKENS + adapted_inputs * config.n_embd  # CUDA's 1-byte dropout mask
    # the loop keeps the bf16 logits (`logits = model(...)`) beside what cross_entropy saves
    head = sum(saved["head"].values()) / TOKENS + 2 * config.padded_vocab_size
    return block, head, layers, config


def published_slope(model: str, rows: tuple[int, ...]) -> float:
    """Bytes per token of peak memory over batch size (max_memory_allocated, GB = 1e9)."""
    by_id = {int(r["id"]): r for r in csv.DictReader(CSV_PATH.open(newline=""))}
    points = [(int(by_id[i]["batch_size"]), float(by_id[i]["peak_memory_gb"])) for i in rows]
    assert all(by_id[i]["model"] == model for i in rows)
    tokens = max(int(n) for n in re.findall(r"\d+", by_id[rows[0]]["seq_len"]))
    (b0, m0), (b1, m1) = points[0], points[-1]
    return (m1 - m0) * 1e9 / ((b1 - b0) * tokens)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1])
        return 2
    lora = _import_lit_gpt(Path(argv[0]))
    print(f"{'model':<24}{'block B/token':>14}{'head B/token':>13}{'traced MB/token':>16}{'published MB/token':>19}{'traced share':>13}")
    for name, (model, rows) in MODELS.items():
        block, head, layers, _ = saved_bytes_per_token(lora, name)
        traced, published = layers * block + head, published_slope(model, rows)
        print(f"{model:<24}{block:>14.0f}{head:>13.0f}{traced / 1e6:>16.3f}{published / 1e6:>19.3f}{traced / published:>13.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
