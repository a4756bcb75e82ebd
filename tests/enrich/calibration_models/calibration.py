"""Turn the published measurements (memory-measurements.csv) into estimate inputs, row by row.

Every CSV row ends in exactly one group, so none is dropped silently:

- `training`: a training peak with enough published settings; the estimate must come close;
- `oom`: a published out-of-memory run on one GPU; the estimate must exceed the card;
- `inference`: `generate` peaks, checked against the inference view;
- `excluded`: with the reason the estimate cannot represent the run (`EXCLUDED`).

The CSV's prose columns are read by the rules below. Where a source leaves a setting out, the
value used is its framework's documented default (`SOURCE_STACKS`). Dev/test only: parameter
counts come from transformers on the meta device.
"""

from __future__ import annotations

import csv
import functools
import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peftlint.enrich.memory import PAGED_MIN_ELEMENTS, ModelDims, estimate_inference_memory, estimate_training_memory, memory_figures

HERE = Path(__file__).resolve().parent
CSV_PATH = HERE / "memory-measurements.csv"  # copy of the team's published-measurements table (README.md)
# The error each row's estimate reached, pinned: tests/enrich/test_memory.py holds every row to it.
PINNED_PATH = HERE / "pinned-errors.csv"

# The CSV's model names -> the directory holding that model's published config.json.
MODEL_DIRS = {
    "phi-1.5": "phi-1_5",
    "StableLM Alpha 3B": "stablelm-base-alpha-3b",
    "stablelm-base-alpha-3b": "stablelm-base-alpha-3b",
    "Llama 2 7B": "llama-2-7b",
    "llama-2-7b": "llama-2-7b",
    "LLaMA2-7B": "llama-2-7b",
    "Llama 2 13B": "llama-2-13b",
    "CodeLlama 34B": "codellama-34b",
    "Falcon 40B": "falcon-40b",
    "Falcon 7B": "falcon-7b",
    "falcon-7b": "falcon-7b",
    "gemma-2b": "gemma-2b",
    "gemma-7b": "gemma-7b",
    "gemma-2-2b": "gemma-2-2b",
    "gemma-2-9b": "gemma-2-9b",
    "llama-3-8b": "llama-3-8b",
    "llama-3.1-8b": "llama-3.1-8b",
    "Llama 3.1 8B Instruct": "llama-3.1-8b",  # same shapes as the base model (see its SOURCE.md)
    "llama-3.2-1b": "llama-3.2-1b",
    "llama-3.2-3b": "llama-3.2-3b",
    "Llama 3.3 70B Instruct": "llama-3.3-70b-instruct",
    "mistral-7b": "mistral-7b-v0.1",
    "mistral-7b-v0.2": "mistral-7b-v0.2",
    "phi-2": "phi-2",
    "Phi-3-mini-4k-instruct": "phi-3-mini-4k-instruct",
    "tiny-llama 1.1B": "tinyllama-1.1b",
    "google-bert/bert-large-uncased (seq classification, 336M)": "bert-large-uncased",
}

_FSDP = (
    "FSDP over several GPUs: the estimate is for one unsharded device; lit-gpt's per-GPU peaks here even exceed "
    "the single-GPU ones (Llama 2 7B: 22.18 GB on 2 GPUs vs 21.30 GB on 1), so they are set by checkpoint "
    "loading, not by sharded training state"
)
_ADAPTER_V2 = (
    "lit-gpt's LLaMA-Adapter v2 is not a peft method: it puts a trainable scale and bias on every Linear "
    "(lm_head included), whose outputs are then kept for backward; not modelled"
)
_UNSLOTH = "Unsloth's fused Triton kernels and offloaded gradient checkpointing are not what transformers + peft do"
# Checked by test_memory.py::test_inconsistent_rows_are_below_their_own_training_state.
BELOW_STATE = (
    "unsharded full fine-tuning must hold bf16 weights, gradients and both AdamW states (8 bytes per parameter), "
    "and the published peak is below even that: the run was not what the table says (sharded or offloaded)"
)
EXCLUDED: dict[int, str] = {
    **{row_id: _ADAPTER_V2 for row_id in range(153, 159)},
    **{row_id: _FSDP for row_id in range(159, 169)},
    217: BELOW_STATE,
    218: BELOW_STATE,
    219: BELOW_STATE,
    **{row_id: _FSDP for row_id in range(221, 226)},
    236: "multi-GPU run whose strategy, batch size, sequence length and optimizer are not published",
    248: _UNSLOTH,
    250: _UNSLOTH,
}

LITGPT = "lit-gpt"
TRANSFORMERS = "transformers Trainer"
LLAMA_FACTORY = "LLaMA-Factory"
TRL = "transformers + peft + TRL (Unsloth's baseline)"
# What each source's training stack does where the estimate has a switch for it.
SOURCE_STACKS: dict[str, dict[str, Any]] = {
    # bf16-true puts the adapters, their gradients and AdamW states in bf16; chunked cross-entropy
    # does not upcast the logits; BitsandbytesPrecision replaces every Linear, lm_head included
    # (finetune/lora.py, tutorials/resource-tables.md).
    LITGPT: {"stack": "litgpt", "upcast_unquantized": False},
    # transformers v4.2x's BERT: eager attention with attention dropout 0.1.
    TRANSFORMERS: {"attention": "eager", "attention_dropout": True},
    # LLaMA-Factory: gradient checkpointing on unless disabled; its own patcher instead of
    # prepare_model_for_kbit_training keeps the load dtype.
    LLAMA_FACTORY: {"gradient_checkpointing": True, "upcast_unquantized": False},
    # TRL's SFTTrainer calls prepare_model_for_kbit_training on a 4-bit model (fp32 embeddings and
    # lm_head, gradient checkpointing on). Without checkpointing 28k tokens of Llama 3.1 8B could
    # not fit in 80 GB (about 6 MB of activations per token).
    TRL: {"gradient_checkpointing": True},
}
# 4-bit double quantization: LLaMA-Factory's default and the QLoRA recipe TRL examples use;
# lit-gpt names the one it used (`bnb.nf4` vs `bnb.nf4-dq`).
DOUBLE_QUANT_BY_DEFAULT = {LLAMA_FACTORY, TRL}
# lit-gpt's LoRA defaults to dropout 0.05 on every adapted input; LLaMA-Factory and Unsloth's
# benchmark use lora_dropout=0.
LORA_DROPOUT = {LITGPT}

# OOM rows: the card's total as nvidia-smi reports it (a "24 GB" A10G shows 23028 MiB).
MIB = 1 << 20
CARD_BYTES = {"A100 40GB": 40960 * MIB, "A10G 24GB": 23028 * MIB}


@dataclass(frozen=True)
class Case:
    id: int
    group: str  # training | oom | inference | excluded
    model: str
    measured_gb: float | None
    reason: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    card_bytes: int | None = None


def load_rows(path: Path = CSV_PATH) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def dims_of(model: str) -> ModelDims:
    return ModelDims.from_config(json.loads((HERE / MODEL_DIRS[model] / "config.json").read_text()))


@functools.cache
def parameter_counts(model_dir: str, task_type: str = "CAUSAL_LM") -> tuple[int, int]:
    """(total params, params of an lm_head tied to the input embedding) as transformers builds them."""
    import torch
    import transformers

    config = transformers.AutoConfig.from_pretrained(HERE / model_dir)
    auto = {"SEQ_CLS": transformers.AutoModelForSequenceClassification}.get(task_type, transformers.AutoModelForCausalLM)
    with torch.device("meta"):
        model = auto.from_config(config)
    head = model.get_output_embeddings()
    tied = head.weight.numel() if head is not None and head.weight is model.get_input_embeddings().weight else 0
    return model.num_parameters(), tied


def longest_sequence(text: str) -> int:
    """The peak is set by the longest padded sequence: the largest number the column gives."""
    numbers = [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]
    if not numbers:
        raise ValueError(f"no sequence length in {text!r}")
    return max(numbers)


def lora_rank(peft_config: str) -> int:
    match = re.search(r"\br(?:ank)?\s*=?\s*(\d+)", peft_config)
    return int(match.group(1)) if match else 8  # "lit-gpt LoRA defaults": lora_r=8


def litgpt_lora(dims: ModelDims, rank: int, all_layers: bool) -> tuple[int, int]:
    """(trainable params, LoRA-dropout input features) of lit-gpt's LoRA.

    lit-gpt fuses q/k/v: one lora_A of `rank x enabled` rows reads the block input through one
    dropout, one lora_B writes the enabled outputs. "All layers" adds the attention projection,
    the MLP and the head (lora_projection / lora_mlp / lora_head). The CSV's published counts
    check both (rows 127, 137, 142 for q,v; row 232 for all layers).
    """
    h, i, kv = dims.hidden_size, dims.intermediate_size, dims.kv_dim
    if not all_layers:
        return dims.num_layers * (2 * rank * h + rank * (dims.q_dim + kv)), dims.num_layers * h
    mlp_matrices = 3 if dims.gated_mlp else 2
    per_layer = (
        3 * rank * h + rank * (dims.q_dim + 2 * kv)  # qkv
        + rank * (dims.q_dim + h)  # attention projection
        + rank * mlp_matrices * (h + i)
    )  # fmt: skip
    dropout_inputs = h + dims.q_dim + (mlp_matrices - 1) * h + i
    head = rank * (h + dims.vocab_size)
    return dims.num_layers * per_layer + head, dims.num_layers * dropout_inputs + h


def litgpt_paged(dims: ModelDims, rank: int, all_layers: bool) -> int:
    """lit-gpt's LoRA parameters in tensors of PAGED_MIN_ELEMENTS or more, whose states
    bitsandbytes' PagedAdamW (lit-gpt's optimizer when quantizing) pages. The fused qkv has one
    lora_A (`r x enabled` rows by in) and one lora_B (enabled outputs by r) (lit_gpt/lora.py
    LoRAQKVLinear); the other adapted Linears one r x in and one out x r each."""
    h, i, kv = dims.hidden_size, dims.intermediate_size, dims.kv_dim
    if all_layers:
        mlp_in = [(h, i)] * (2 if dims.gated_mlp else 1) + [(i, h)]
        tensors = [3 * rank * h, (dims.q_dim + 2 * kv) * rank, rank * dims.q_dim, h * rank]
        tensors += [size for n_in, n_out in mlp_in for size in (rank * n_in, n_out * rank)]
        head = [rank * h, dims.vocab_size * rank]
    else:
        tensors, head = [2 * rank * h, (dims.q_dim + kv) * rank], []
    paged = sum(t for t in tensors if t >= PAGED_MIN_ELEMENTS) * dims.num_layers
    return paged + sum(t for t in head if t >= PAGED_MIN_ELEMENTS)


def peft_lora(dims: ModelDims, rank: int, all_layers: bool) -> int:
    """peft LoRA on q_proj,v_proj or on every block Linear: rank x (in + out) per module."""
    h, i = dims.hidden_size, dims.intermediate_size
    if not all_layers:
        return dims.num_layers * rank * (2 * h + dims.q_dim + dims.kv_dim)
    per_layer = rank * (2 * (h + dims.q_dim) + 2 * (h + dims.kv_dim) + 3 * (h + i))
    return dims.num_layers * per_layer


def stack_of(row: dict[str, str]) -> str:
    source = row["source"].lower()
    if "lit-gpt" in source or "litgpt" in source or "raschka" in source:
        return LITGPT
    if "LLaMA-Factory" in row["source_ref"]:
        return LLAMA_FACTORY
    if "unsloth" in source:
        return TRL
    return TRANSFORMERS


def _precision(text: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "quantization": "4bit" if re.search(r"nf4|fp4|4-bit", text) else None,
        "double_quant": "-dq" in text,
        "dtype": "bf16",  # bf16-true, "16-bit base" on an A100, the 4-bit compute dtype
    }
    if "mixed" in text or "AMP" in text:
        kwargs.update(dtype="fp32", mixed_precision=True)
    elif text.startswith("fp32"):
        kwargs["dtype"] = "fp32"
    return kwargs


def _optimizer(text: str, quantized: bool, stack: str) -> str:
    if "SGD" in text:
        return "sgd"
    if "Adafactor" in text:
        return "adafactor"
    if "8bit" in text:
        return "adamw-8bit"
    if stack == LITGPT and quantized:
        return "paged-adamw"  # lit-gpt swaps in bitsandbytes' 32-bit PagedAdamW when quantizing
    return "adamw"  # the CSV's "AdamW", and every framework's default where it is blank


def _adapter_kwargs(row: dict[str, str], dims: ModelDims, stack: str, total: int) -> dict[str, Any]:
    method = row["method"]
    if method.startswith("full FT"):
        return {"peft_type": None, "trainable_params": total}
    if method.startswith("LLaMA-Adapter"):
        # lit-gpt's LLaMA-Adapter is peft's ADAPTION_PROMPT: 10 learned prompt tokens per layer
        trainable = int(row["trainable_params"])
        return {"peft_type": "ADAPTION_PROMPT", "trainable_params": trainable, "num_virtual_tokens": 10}
    rank = lora_rank(row["peft_config"])
    all_layers = bool(re.search(r"all|mlp|gate", row["peft_config"]))
    paged = None
    if stack == LITGPT:
        computed, dropout_inputs = litgpt_lora(dims, rank, all_layers)
        paged = litgpt_paged(dims, rank, all_layers)
    else:
        computed, dropout_inputs = peft_lora(dims, rank, all_layers), 0
    return {
        "peft_type": "LORA",
        "trainable_params": int(row["trainable_params"]) if row["trainable_params"] else computed,
        "lora_dropout_inputs": dropout_inputs if stack in LORA_DROPOUT else 0,
        "paged_state_params": paged,
    }


def training_kwargs(row: dict[str, str], dims: ModelDims) -> dict[str, Any]:
    stack = stack_of(row)
    model_dir = MODEL_DIRS[row["model"]]
    task_type = "SEQ_CLS" if dims.model_type == "bert" else "CAUSAL_LM"
    total, tied_head = parameter_counts(model_dir, task_type)
    if stack == LITGPT:
        total += tied_head  # lit-gpt converts tied checkpoints (Gemma, Falcon, Llama 3.2) with lm_head copied
    kwargs = _precision(row["precision_quant"])
    kwargs.update(
        total_params=total,
        task_type=task_type,
        batch_size=int(row["batch_size"]),
        seq_len=longest_sequence(row["seq_len"]),
        optimizer=_optimizer(row["optimizer"], bool(kwargs["quantization"]), stack),
        gradient_checkpointing=row["grad_ckpt"].startswith("yes"),
        include_framework_overhead="allocated" not in row["memory_metric"],
    )
    kwargs.update(SOURCE_STACKS[stack])
    if kwargs["quantization"] and stack in DOUBLE_QUANT_BY_DEFAULT:
        kwargs["double_quant"] = True
    if not kwargs["quantization"]:
        kwargs.pop("quantize_lm_head", None)
    adapter = _adapter_kwargs(row, dims, stack, total)
    if adapter["peft_type"] is not None:
        # `total_params` is what peft's get_nb_trainable_parameters() reports and `estimate` passes:
        # the base model's parameters plus the adapter's
        adapter["total_params"] = total + adapter["trainable_params"]
    kwargs.update(adapter)
    return kwargs


def inference_kwargs(row: dict[str, str]) -> dict[str, Any]:
    precision = _precision(row["precision_quant"])
    return {
        "total_params": parameter_counts(MODEL_DIRS[row["model"]])[0],
        "dtype": precision["dtype"],
        "quantization": precision["quantization"],
        "double_quant": precision["double_quant"],
        "quantize_lm_head": True,  # lit-gpt quantizes every Linear
        "seq_len": 128,  # lit-gpt's generate: a short prompt and 100-ish new tokens, one sequence
    }


def classify(row: dict[str, str]) -> Case:
    row_id, model = int(row["id"]), row["model"]
    measured = float(row["peak_memory_gb"]) if row["peak_memory_gb"] else None
    if row_id in EXCLUDED:
        return Case(row_id, "excluded", model, measured, reason=EXCLUDED[row_id])
    if row["method"].startswith("inference"):
        return Case(row_id, "inference", model, measured, kwargs=inference_kwargs(row))
    kwargs = training_kwargs(row, dims_of(model))
    if measured is None:
        card = next(size for name, size in CARD_BYTES.items() if name.split()[0] in row["gpu"])
        kwargs["include_framework_overhead"] = True  # what ran out is the whole card
        return Case(row_id, "oom", model, None, kwargs=kwargs, card_bytes=card)
    return Case(row_id, "training", model, measured, kwargs=kwargs)


def cases(path: Path = CSV_PATH) -> list[Case]:
    return [classify(row) for row in load_rows(path)]


def estimate_bytes(case: Case) -> int:
    """The figure of the row's own kind: the device total where the row counts the framework's
    overhead, else what torch.cuda.max_memory_allocated() counts (memory_figures)."""
    if case.group == "inference":
        return estimate_inference_memory(dims_of(case.model), **case.kwargs).total_bytes
    estimate = estimate_training_memory(dims_of(case.model), **case.kwargs)
    if case.kwargs.get("include_framework_overhead"):
        return estimate.total_bytes
    return memory_figures(estimate.total_bytes, estimate.breakdown)["peak_allocated_bytes"]


def seed_formula_bytes(case: Case) -> int:
    """The method guides' 2·P_frozen + 12·P_trainable bytes (seed 001), the baseline to beat."""
    total, trainable = case.kwargs["total_params"], case.kwargs["trainable_params"]
    return 2 * (total - trainable) + 12 * trainable


@dataclass(frozen=True)
class Result:
    case: Case
    estimate_gb: float
    seed_gb: float | None  # training rows only

    @property
    def error(self) -> float:
        return (self.estimate_gb - self.case.measured_gb) / self.case.measured_gb

    @property
    def seed_error(self) -> float:
        return (self.seed_gb - self.case.measured_gb) / self.case.measured_gb

    @property
    def oom_predicted(self) -> bool:
        return self.estimate_gb * 1e9 > self.case.card_bytes


def evaluate(path: Path = CSV_PATH) -> list[Result]:
    return [
        Result(case, estimate_bytes(case) / 1e9, seed_formula_bytes(case) / 1e9 if case.group != "inference" else None)
        for case in cases(path)
        if case.group != "excluded"
    ]


def median_abs_error(results: list[Result], *, seed: bool = False) -> float:
    return statistics.median(abs(r.seed_error if seed else r.error) for r in results)


def table(results: list[Result]) -> str:
    lines = [f"{'id':>4} {'group':9} {'model':24} {'measured':>9} {'estimate':>9} {'error':>8} {'seed err':>8}"]
    for r in results:
        if r.case.group == "oom":
            measured = f"OOM>{r.case.card_bytes / 1e9:.1f}"
            error = "OOM ok" if r.oom_predicted else "MISSED"
        else:
            measured, error = f"{r.case.measured_gb:.2f}", f"{r.error:+.1%}"
        seed = f"{r.seed_error:+.1%}" if r.seed_gb is not None and r.case.measured_gb is not None else ""
        row = f"{r.case.id:>4} {r.case.group:9} {r.case.model[:24]:24} {measured:>9} {r.estimate_gb:9.2f}"
        lines.append(f"{row} {error:>8} {seed:>8}")
    return "\n".join(lines)


def pinned_errors(path: Path = PINNED_PATH) -> dict[int, float]:
    """Row id -> the relative error the estimate reached when the pins were last written."""
    with path.open(encoding="utf-8", newline="") as fh:
        return {int(row["id"]): float(row["error"]) for row in csv.DictReader(fh)}


def write_pins(results: list[Result], path: Path = PINNED_PATH) -> None:
    """Pin the current error of every training and inference row (`memory_calibration.py --pin`)."""
    rows = sorted((r for r in results if r.case.group in ("training", "inference")), key=lambda r: r.case.id)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "group", "model", "error"])
        writer.writerows([r.case.id, r.case.group, r.case.model, f"{r.error:+.4f}"] for r in rows)


# --- peft's method comparison: several methods on one model and batch ------------------------

METHODS_PATH = HERE / "method-comparison.csv"
# The configs of peft's method_comparison/MetaMathQA experiments (their results' `peft_config`).
METHOD_CONFIGS: dict[str, dict[str, Any]] = {
    "prompt_tuning--llama-3.2-3B-default": {"peft_type": "PROMPT_TUNING", "num_virtual_tokens": 200},
    "lora--llama-3.2-3B-rank32-dora": {
        "peft_type": "LORA",
        "r": 32,
        "lora_alpha": 64,
        "target_modules": ["q_proj", "v_proj"],
        "use_dora": True,
    },
    "loha--llama-3.2-3B-rank32": {"peft_type": "LOHA", "r": 32, "alpha": 64, "target_modules": ["q_proj", "v_proj"]},
    "ia3--llama-3.2-3B-default": {
        "peft_type": "IA3",
        "target_modules": ["k_proj", "v_proj", "down_proj"],
        "feedforward_modules": ["down_proj"],
    },
    "lora--llama-3.2-3B-rank64": {"peft_type": "LORA", "r": 64, "lora_alpha": 128, "target_modules": ["q_proj", "v_proj"]},
    "lora--llama-3.2-3B-rank32": {"peft_type": "LORA", "r": 32, "lora_alpha": 64, "target_modules": ["q_proj", "v_proj"]},
    "vera--llama-3.2-3B-default": {"peft_type": "VERA", "r": 256, "target_modules": ["q_proj", "v_proj"]},
    "ptuning--llama-3.2-3B-default": {
        "peft_type": "P_TUNING",
        "num_virtual_tokens": 20,
        "encoder_hidden_size": 3072,
        "encoder_reparameterization_type": "MLP",
    },
    "prefixtuning--llama-3.2-3B-lr_0.001": {"peft_type": "PREFIX_TUNING", "num_virtual_tokens": 200},
}
# rows kept in the CSV (they show the frozen model's own peak) that the estimate cannot make
METHOD_EXCLUDED = {"ln_tuning--llama-3.2-3B-default": "peftlint does not count LN_TUNING parameters"}
# batch 4 (train_config.batch_size); sequences are at most 768 tokens (max_seq_length) and the
# 99th-percentile padded batch length is not published: 512, the same for every method.
METHOD_BATCH, METHOD_SEQ_LEN = 4, 512


@dataclass(frozen=True)
class MethodResult:
    experiment: str
    peft_type: str
    measured_gb: float  # reserved_99th_bytes / 1e9: torch.cuda.memory_reserved() after each step
    estimate_gb: float  # peftlint's peak_reserved_bytes / 1e9
    trainable_params: int
    published_trainable: int

    @property
    def error(self) -> float:
        return (self.estimate_gb - self.measured_gb) / self.measured_gb


def evaluate_methods(path: Path = METHODS_PATH) -> list[MethodResult]:
    """Every method-comparison row through `peftlint estimate`'s own path (counts, then memory)."""
    from peftlint.enrich.analysis import Training, analyze
    from peftlint.enrich.memory import memory_figures
    from peftlint.enrich.model import resolve_model

    model = resolve_model(str(HERE / "llama-3.2-3b"))
    training = Training(dtype="bf16", batch_size=METHOD_BATCH, seq_len=METHOD_SEQ_LEN)
    results = []
    for row in load_rows(path):
        if row["experiment"] in METHOD_EXCLUDED:
            continue
        config = {"task_type": "CAUSAL_LM", **METHOD_CONFIGS[row["experiment"]]}
        analysis = analyze(model, config, config["peft_type"], training, exact=True)
        if analysis.memory is None or analysis.counts is None:
            raise ValueError(f"{row['experiment']}: no estimate ({analysis.memory_error or analysis.counts_error})")
        figures = memory_figures(analysis.memory.total_bytes, analysis.memory.breakdown)
        results.append(MethodResult(
            row["experiment"], row["peft_type"], int(row["reserved_99th_bytes"]) / 1e9,
            figures["peak_reserved_bytes"] / 1e9, analysis.counts.trainable, int(row["trainable_params"]),
        ))  # fmt: skip
    return results


def method_table(results: list[MethodResult]) -> str:
    lines = [f"{'experiment':44} {'trainable':>10} {'measured':>9} {'estimate':>9} {'error':>7}"]
    for r in results:
        lines.append(f"{r.experiment:44} {r.trainable_params:>10} {r.measured_gb:9.2f} {r.estimate_gb:9.2f} {r.error:+7.1%}")
    return "\n".join(lines)
