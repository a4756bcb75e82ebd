"""Training and inference GPU-memory estimates from model dimensions, without torch.

The estimate is a sum of physical terms, each in bytes, each reported separately:

- base weights at their load dtype, or bitsandbytes 4/8-bit with the quantization constants;
- trainable weights, their gradients and the optimizer states (peft keeps adapters in fp32);
- activations kept for the backward pass, for `batch x seq` tokens, with or without gradient
  checkpointing;
- the logits and the loss's fp32 copies, `batch x seq x vocab`;
- framework overhead (CUDA context), only when the metric being predicted includes it.

A handful of constants are fitted to published peak-memory measurements
(tests/enrich/calibration_models/memory-measurements.csv); each one says which rows it comes from.
`tests/enrich/test_memory.py` prints the per-row error and holds the median error to <= 15%.
"""

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from peftlint.enrich.architecture import ArchitectureError, language_model_config, module_tree_from_config
from peftlint.enrich.quantization import BaseQuantization

# --- spellings -------------------------------------------------------------------------------

DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
_DTYPE_ALIASES = {
    "fp32": "fp32", "float32": "fp32", "float": "fp32", "32": "fp32", "32-true": "fp32",
    "bf16": "bf16", "bfloat16": "bf16", "bf16-true": "bf16",
    "fp16": "fp16", "float16": "fp16", "half": "fp16", "16": "fp16", "16-true": "fp16",
}  # fmt: skip

OPTIMIZERS = ("adamw", "adamw-8bit", "paged-adamw", "paged-adamw-8bit", "sgd", "adafactor")
# transformers' `TrainingArguments.optim` names and bitsandbytes class names, by family.
_OPTIMIZER_ALIASES = {
    "adamw": "adamw", "adam": "adamw", "adamw_torch": "adamw", "adamw_torch_fused": "adamw",
    "adamw_hf": "adamw", "adamw_apex_fused": "adamw", "adamw_torch_xla": "adamw", "adamw_torch_npu_fused": "adamw",
    "adamw_8bit": "adamw-8bit", "adamw_bnb_8bit": "adamw-8bit", "adam8bit": "adamw-8bit", "adamw8bit": "adamw-8bit",
    "paged_adamw": "paged-adamw", "paged_adamw_32bit": "paged-adamw", "pagedadamw": "paged-adamw",
    "paged_adamw_8bit": "paged-adamw-8bit", "pagedadamw8bit": "paged-adamw-8bit",
    "sgd": "sgd", "adafactor": "adafactor",
}  # fmt: skip


def normalize_dtype(value: str) -> str:
    """`bfloat16` -> `bf16`, `float32` -> `fp32`, ...; ValueError naming the allowed values."""
    key = str(value).strip().lower().removeprefix("torch.")
    if key not in _DTYPE_ALIASES:
        raise ValueError(f"unknown dtype `{value}`: use one of bf16, fp16, fp32 (or bfloat16, float16, float32)")
    return _DTYPE_ALIASES[key]


def normalize_optimizer(value: str) -> str:
    """`adamw_torch` -> `adamw`, `paged_adamw_8bit` -> `paged-adamw-8bit`, ...; ValueError otherwise."""
    key = str(value).strip().lower().replace("-", "_")
    if key not in _OPTIMIZER_ALIASES:
        raise ValueError(
            f"unknown optimizer `{value}`: use one of {', '.join(OPTIMIZERS)} "
            "(or a transformers `optim` name such as adamw_torch, adamw_bnb_8bit, paged_adamw_8bit)"
        )
    return _OPTIMIZER_ALIASES[key]


def normalize_quantization(value: str | None) -> str | None:
    """None, `4bit` / `load_in_4bit` / `nf4` / `fp4`, `8bit` / `load_in_8bit` / `int8`."""
    if value is None:
        return None
    key = str(value).strip().lower().replace("-", "_").removeprefix("load_in_").removeprefix("bnb.")
    if key in ("4bit", "4", "nf4", "fp4", "nf4_dq", "fp4_dq"):
        return "4bit"
    if key in ("8bit", "8", "int8", "llm.int8"):
        return "8bit"
    raise ValueError(f"unknown quantization `{value}`: use 4bit or 8bit (or load_in_4bit, nf4, load_in_8bit, int8)")


# --- model dimensions ------------------------------------------------------------------------

# model_types whose MLP is gated (down(act(gate(x)) * up(x))): three weight matrices instead of
# two, and RMSNorm instead of LayerNorm. test_memory.py checks the list against transformers.
_GATED_MLP_TYPES = frozenset({
    "llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3_text",
    "phi3", "olmo", "olmo2", "cohere", "granite", "stablelm", "smollm3", "gpt_oss",
    # multimodal models' language models (their text_config's model_type)
    "qwen2_vl_text", "qwen2_5_vl_text", "qwen3_vl_text", "llama4_text", "qwen3_5_text", "qwen3_5_moe_text", "qwen3_next",
})  # fmt: skip

# Upper bounds that no published model comes near; they turn a typo (1e12) into a clear error
# instead of an overflowing estimate.
_LIMITS = {"size": 1 << 20, "layers": 1 << 12, "count": 1 << 12, "vocab": 1 << 24, "positions": 1 << 26}


def _optional_field(cfg: Mapping[str, Any], names: tuple[str, ...], kind: str) -> int | None:
    """The first of `names` the config sets, checked to be an integer in range; None if it sets none."""
    for name in names:
        value = cfg.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"config field `{name}` must be an integer, got {value!r}")
        if not 0 < value <= _LIMITS[kind]:
            raise ValueError(f"config field `{name}` = {value} is out of range (1..{_LIMITS[kind]})")
        return value
    return None


def _field(cfg: Mapping[str, Any], names: tuple[str, ...], kind: str) -> int:
    """As _optional_field, for a field every config of this kind sets."""
    value = _optional_field(cfg, names, kind)
    if value is None:
        raise ValueError(f"config has no `{names[0]}` (nor {', '.join(f'`{n}`' for n in names[1:])})")
    return value


class ModelDims(NamedTuple):
    """The few numbers of a config.json that decide memory, under their canonical names.

    Encoder-decoder models count both stacks in `num_layers`, `cross_attention_layers` of them
    (the decoder's) with a second attention; models without a vocabulary (ViT) have `vocab_size` 0.
    """

    model_type: str
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int  # per expert for MoE models
    vocab_size: int
    max_position_embeddings: int | None  # None when the config gives none (relative positions)
    gated_mlp: bool
    num_experts: int = 1
    experts_per_token: int = 1
    # Gemma 2's tanh soft-capping of attention scores has no fused kernel: attention runs eager
    attention_softcapping: bool = False
    cross_attention_layers: int = 0
    # the blocks' weight matrices read off the module tree, when the per-layer formula below does
    # not give them (multi-head latent attention, shared experts, dense first layers, Mamba layers)
    block_matrices: int | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> "ModelDims":
        """Read a config.json dict, accepting the usual field aliases (n_embd, n_layer, d_model, ...)."""
        if not isinstance(cfg, Mapping):
            raise ValueError(f"a model config must be a JSON object, got {type(cfg).__name__}")
        whole = cfg  # a multimodal model's blocks: its language model's and its vision tower's
        text = language_model_config(cfg)
        if text is not cfg:  # multimodal wrappers: the language model decides
            cfg = {**text, "model_type": text.get("model_type") or cfg.get("model_type")}
        model_type = cfg.get("model_type")
        if not isinstance(model_type, str) or not model_type:
            raise ValueError("config has no `model_type`: is this a model config.json?")
        hidden = _field(cfg, ("hidden_size", "n_embd", "d_model", "n_embed", "dim"), "size")
        encoder_decoder = _encoder_decoder_layers(cfg)
        layers = (
            sum(encoder_decoder) if encoder_decoder else _field(cfg, ("num_hidden_layers", "n_layer", "num_layers", "n_layers"), "layers")
        )
        heads = _field(cfg, ("num_attention_heads", "n_head", "num_heads", "n_heads", "encoder_attention_heads"), "count")
        if cfg.get("multi_query") is True and not cfg.get("new_decoder_architecture"):
            kv_heads: int | None = 1
        else:
            kv_heads = _optional_field(cfg, ("num_key_value_heads", "num_kv_heads", "n_head_kv"), "count")
        head_dim = _optional_field(cfg, ("head_dim", "d_kv", "kv_channels"), "size")
        intermediate = _optional_field(
            cfg,
            ("moe_intermediate_size", "intermediate_size", "n_inner", "d_ff", "ffn_dim", "ffn_hidden_size",
             "encoder_ffn_dim", "hidden_dim"),  # DistilBERT's hidden_dim is its FFN width
            "size",
        )  # fmt: skip
        vocab = _optional_field(cfg, ("vocab_size", "padded_vocab_size", "n_vocab"), "vocab")
        positions = _optional_field(
            cfg, ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length", "seq_length"), "positions"
        )
        experts = _optional_field(cfg, ("num_local_experts", "num_experts", "n_routed_experts"), "count")
        per_token = _optional_field(cfg, ("num_experts_per_tok", "moe_top_k"), "count")
        feed_forward = str(cfg.get("feed_forward_proj", ""))
        dims = cls(
            model_type=model_type,
            hidden_size=hidden,
            num_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=kv_heads or heads,
            head_dim=head_dim or hidden // heads,
            intermediate_size=intermediate or 4 * hidden,  # GPT-2 / Falcon leave it out: 4 x hidden
            vocab_size=vocab or 0,
            max_position_embeddings=positions,
            gated_mlp=model_type in _GATED_MLP_TYPES or feed_forward.startswith("gated"),
            num_experts=experts or 1,
            experts_per_token=min(per_token or 1, experts or 1),
            attention_softcapping=cfg.get("attn_logit_softcapping") is not None,
            cross_attention_layers=encoder_decoder[1] if encoder_decoder else 0,
        )
        exact = _block_matrices(whole)
        return dims if exact in (None, dims.block_linear_params) else dims._replace(block_matrices=exact)

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.head_dim

    @property
    def attention_params(self) -> int:
        return 2 * self.hidden_size * self.q_dim + 2 * self.hidden_size * self.kv_dim

    @property
    def linear_params_per_layer(self) -> int:
        """Weight matrices of one (self-attention) block: what bitsandbytes quantizes, biases aside
        (their mean over the blocks, when the blocks differ)."""
        if self.block_matrices is not None:
            return (self.block_matrices - self.cross_attention_layers * self.attention_params) // max(self.num_layers, 1)
        mlp = (3 if self.gated_mlp else 2) * self.hidden_size * self.intermediate_size
        router = self.hidden_size * self.num_experts if self.num_experts > 1 else 0
        return self.attention_params + self.num_experts * mlp + router

    @property
    def block_linear_params(self) -> int:
        """Weight matrices of every block, the decoder's cross-attention included."""
        if self.block_matrices is not None:
            return self.block_matrices
        return self.num_layers * self.linear_params_per_layer + self.cross_attention_layers * self.attention_params


# a module inside a repeated block (`model.layers.3.`, `transformer.h.0.`, `encoder.block.1.`)
_BLOCK = re.compile(r"\.(layers|layer|h|blocks|block)\.\d+\.")


def _block_matrices(cfg: Mapping[str, Any]) -> int | None:
    """The weight matrices (2-D and up, fused experts included, biases not) of the modules inside
    the blocks, from the module tree; None when peftlint has no template for the config."""
    try:
        tree = module_tree_from_config(cfg)
    except ArchitectureError:
        return None
    total = 0
    for module in tree.modules:
        if module.kind == "embedding" or not _BLOCK.search(f".{module.name}."):
            continue
        for name, shape in module.tensors:
            if len(shape) >= 2 and not name.endswith("bias"):
                elements = 1
                for size in shape:
                    elements *= size
                total += elements
    return total


def _encoder_decoder_layers(cfg: Mapping[str, Any]) -> tuple[int, int] | None:
    """(encoder layers, decoder layers). Both stacks hold activations: one deeper stack for memory."""
    if "encoder_layers" in cfg and "decoder_layers" in cfg:
        return _field(cfg, ("encoder_layers",), "layers"), _field(cfg, ("decoder_layers",), "layers")
    if cfg.get("is_encoder_decoder") and "num_layers" in cfg:
        encoder = _field(cfg, ("num_layers",), "layers")
        return encoder, _optional_field(cfg, ("num_decoder_layers",), "layers") or encoder
    return None


# --- fitted and physical constants -----------------------------------------------------------

# Activations kept for backward in one block, per token, in units of hidden_size. The two norm
# inputs live in the residual stream's dtype (fp32 when the weights around it are fp32); the rest
# (q/k/v after rope, the attention output, the residual adds' operands) in the compute dtype.
NORM_INPUTS_PER_LAYER = 2
# Fitted to the slope of peak memory over batch size in lit-gpt's resource tables, rows
# 127/130/131 (phi-1.5), 132/135/136 (StableLM-3B) and 137/140 (Llama 2 7B), which differ only in
# batch size: the three models alone give 9.45, 8.74 and 8.68; this is their mean. Those runs keep
# no Linear inputs (frozen bf16 weights, see the Linear-inputs note below). It stays fitted: the
# tensors lit-gpt 8641822's forward saves (benchmarks/litgpt_saved_tensors.py) are 88-91% of that
# slope, and the rest was not found in the source (docs/estimate.md).
HIDDEN_ACTIVATIONS_PER_LAYER = 9.0
# RMSNorm as transformers and lit-gpt write it upcasts its input to fp32 and keeps that copy for
# backward (x * rsqrt(mean(x * x))): 4 bytes per element instead of the input counted above, i.e.
# 4 - residual bytes more per norm, two norms per block. A frozen norm weight keeps nothing else.
RMSNORM_NORMS_PER_LAYER = 2
# Intermediate-width tensors the MLP keeps with frozen weights: the activation's input (plain),
# or gate, act(gate) and up, the operands of the product (gated). The product itself, the down
# projection's input, is kept only by a Linear that keeps its inputs (next note).
MLP_TENSORS = {False: 1, True: 3}
# Linear inputs: a Linear keeps its input for backward only when it needs it, for its own weight
# gradient (full fine-tuning) or because bitsandbytes' MatMul4Bit / MatMul8bitLt save it
# unconditionally; a frozen bf16 nn.Linear keeps nothing (autograd saves an operand only when the
# other one needs a gradient). Per block the distinct inputs are attention-in (q, k, v share it),
# attention-out, MLP-in (gate and up share it) and MLP-down. Physical, not fitted: it is the
# QLoRA-over-LoRA excess beyond the weights in lit-gpt rows 127-144 (phi-1.5 0.85 GB, StableLM
# 1.58, Llama 2 7B 2.34, 13B 3.49 GB at ~1.1k tokens), which it reproduces within 3%.
# Eager attention keeps, per head and (query, key) pair: the fp32 softmax output (transformers and
# lit-gpt take the softmax in fp32), its compute-dtype copy that is multiplied into V (none in
# fp32), with attention dropout a 1-byte mask and the dropout's output (fp32 under autocast, which
# leaves dropout alone), and with soft-capping the tanh output. SDPA / flash kernels keep none.
EAGER_SOFTMAX_BYTES = 4
EAGER_DROPOUT_MASK_BYTES = 1
# The loss: transformers' ForCausalLMLoss upcasts logits to fp32 and log_softmax keeps its fp32
# output; the backward pass then holds that output, the incoming fp32 gradient and log_softmax's
# fp32 input gradient at once: 3 x 4 bytes per logit. Without the upcast (lit-gpt's chunked
# cross-entropy) the compute-dtype logits and log-probabilities remain: 2 x compute bytes.
LOGIT_BYTES_UPCAST = 12
# bitsandbytes 4-bit: 4 bits per weight plus one fp32 absmax per 64-weight block; double
# quantization stores the absmax as 8-bit with one fp32 constant per 256 blocks (QLoRA paper,
# §3, Double Quantization). Checked against lit-gpt rows 176/177, 179/180, 181/182 (nf4 ->
# nf4-dq saves 0.31, 0.60, 1.57 GB on 7B, 13B, 34B: 0.373 bit per quantized weight).
NF4_BLOCK = 64
NF4_DQ_BLOCKS = 256
# LLM.int8: one byte per weight; the per-row fp32 scales are negligible.
INT8_BYTES = 1
# bitsandbytes 8-bit optimizers: two uint8 states plus one fp32 absmax per 2048-value block each.
OPTIMIZER_8BIT_BYTES = 2 * (1 + 4 / 2048)
# CUDA context, kernels and the caching allocator's slack: what nvidia-smi or a card's capacity
# counts beyond torch.cuda.max_memory_allocated(). Fitted on the 19 rows measured that way
# (237-245 nvidia-smi, 246/247/249 LLaMA-Factory, 251-257 capacity points): on a 0.2 GB grid, the
# value whose median signed error is closest to zero (-0.4%); the transformers docs measure
# 1.34 GB of context alone (rows 237-245 notes).
FRAMEWORK_OVERHEAD_BYTES = 1_600_000_000
# Of that, the CUDA context and kernels alone: the transformers docs measure 1343 MB with nvidia-smi
# right after `torch.ones((1, 1)).to("cuda")` (docs/source/en/model_memory_anatomy.md; rows 237-245
# notes). nvidia-smi counts MiB. The rest is the caching allocator's reserve over the peak
# allocation (`max_memory_reserved - max_memory_allocated`), what `peak_reserved_bytes` adds.
CUDA_CONTEXT_BYTES = 1343 * 1024 * 1024
ALLOCATOR_SLACK_BYTES = FRAMEWORK_OVERHEAD_BYTES - CUDA_CONTEXT_BYTES
# torchtune's CEWithChunkedOutputLoss (torchtune/modules/loss/ce_chunked_output_loss.py): the model
# returns its logits in `num_output_chunks=8` bf16 chunks; the loss upcasts one chunk at a time
# (`logits.float()`) and cross_entropy keeps each chunk's fp32 log-probabilities for backward:
# 4 bytes per logit kept, plus one chunk's fp32 copy and gradient (2 x 4 / 8) at a time.
TORCHTUNE_OUTPUT_CHUNKS = 8
LOGIT_BYTES_CHUNKED_UPCAST = 4 + 2 * 4 / TORCHTUNE_OUTPUT_CHUNKS

# What each training stack does where the estimate has a switch for it (`--stack`, profile `stack`).
STACKS = ("transformers", "torchtune", "litgpt")
STACK_SETTINGS: dict[str, dict[str, Any]] = {
    # transformers + peft: adapters upcast to fp32 (peft `autocast_adapter_dtype=True`,
    # peft/tuners/tuners_utils.py `_cast_adapter_dtype`); ForCausalLMLoss upcasts the logits
    # (transformers/loss/loss_utils.py `logits = logits.float()`); bitsandbytes Linear4bit
    # everywhere but lm_head (transformers/quantizers/quantizer_bnb_4bit.py keeps lm_head);
    # DynamicCache built in training when use_cache (models/llama/modeling_llama.py
    # `if use_cache and past_key_values is None`). AdamW: the Trainer's default optim is
    # `adamw_torch_fused` with torch >= 2.8 (transformers/training_args.py `default_optim`).
    "transformers": {"adapter_dtype": "fp32", "logits": "upcast", "quantize_lm_head": False, "kv_cache": True, "adamw_step": "fused"},
    # torchtune: LoRALinear keeps lora_a/lora_b in the model's dtype (torchtune/modules/peft/lora.py,
    # the recipes' `dtype: bf16` sets every parameter), so training is pure bf16 (AdamW states in
    # bf16 too); chunked cross-entropy (above); QLoRA through torchao's NF4Tensor, blocks of 64
    # with 8-bit double-quantized scalers per 256 blocks (torchao/dtypes/nf4tensor.py), which is
    # the same storage as bitsandbytes' nf4 with double quantization; lm_head stays bf16
    # (torchtune/models/llama3/_component_builders.py builds output_proj as nn.Linear); no cache;
    # the recipes' configs build torch.optim.AdamW with `fused: True`.
    "torchtune": {
        "adapter_dtype": "bf16",
        "logits": "chunked-upcast",
        "quantize_lm_head": False,
        "kv_cache": False,
        "double_quant": True,
        "adamw_step": "fused",
    },
    # litgpt `--precision bf16-true`: adapters bf16; chunked cross-entropy without upcast
    # (litgpt/utils.py chunked_cross_entropy); BitsandbytesPrecision replaces every Linear,
    # lm_head included; no cache in training; torch.optim.AdamW with its defaults, which is the
    # foreach implementation on CUDA (torch/optim/optimizer.py `_default_to_fused_or_foreach`).
    "litgpt": {"adapter_dtype": "bf16", "logits": "chunked", "quantize_lm_head": True, "kv_cache": False, "adamw_step": "foreach"},
}


# torch's foreach AdamW (torch/optim/adam.py `_multi_tensor_adam`) computes the update's
# denominator for all of a device's parameters at once: `exp_avg_sq_sqrt =
# torch._foreach_sqrt(device_exp_avg_sqs)`, a copy of the second moment, alive until
# `_foreach_addcdiv_` (the fused kernel keeps none). The step runs after backward has freed the
# activations, logits and gathered layers, so it raises the peak only by what that copy exceeds them by.
FOREACH_STEP_NOTE = "torch's foreach AdamW: step() holds a copy of exp_avg_sq, after the activations are freed"
FREED_BEFORE_STEP = frozenset({
    "activations", "adapter_activations", "kv_cache", "logits", "recomputed_layer", "dequantized_weight", "prefix_kv",
    "gathered_layers",
})  # fmt: skip


def optimizer_step_bytes(states: float, terms: Mapping[str, float]) -> float:
    """What the foreach AdamW step adds to the peak: its copy of the second moment (half of the
    two states) beyond what backward held and has freed by then."""
    freed = sum(value for name, value in terms.items() if name in FREED_BEFORE_STEP)
    return max(0.0, states / 2 - freed)


def normalize_stack(value: str) -> str:
    """`transformers` (also `hf`, `trl`), `torchtune`, `litgpt` (also `lit-gpt`); ValueError otherwise."""
    key = str(value).strip().lower().replace("_", "-")
    key = {"hf": "transformers", "trl": "transformers", "peft": "transformers", "lit-gpt": "litgpt"}.get(key, key)
    if key not in STACKS:
        raise ValueError(f"unknown training stack `{value}`: use one of {', '.join(STACKS)}")
    return key


_PROMPT_TYPES = frozenset({"PROMPT_TUNING", "P_TUNING", "MULTITASK_PROMPT_TUNING", "CPT"})
_PREFIX_TYPES = frozenset({"PREFIX_TUNING", "ADAPTION_PROMPT"})
TASK_TYPES_WITH_LM_HEAD = frozenset({"CAUSAL_LM", "SEQ_2_SEQ_LM"})
ATTENTION_KINDS = ("sdpa", "flash", "eager")


def _eager_score_bytes(model: ModelDims, compute_bytes: int, dropout: bool, mixed_precision: bool) -> int:
    cast_copy = compute_bytes if compute_bytes != EAGER_SOFTMAX_BYTES else 0
    dropout_output = EAGER_SOFTMAX_BYTES if mixed_precision else compute_bytes
    return (
        EAGER_SOFTMAX_BYTES
        + cast_copy
        + (EAGER_DROPOUT_MASK_BYTES + dropout_output if dropout else 0)
        + (compute_bytes if model.attention_softcapping else 0)
    )


class MemoryEstimate(NamedTuple):
    total_bytes: int
    breakdown: dict[str, int]
    assumptions: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_bytes": self.total_bytes,
            "breakdown": dict(self.breakdown),
            "assumptions": dict(self.assumptions),
        }


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {value!r}")
    return value


class _Quantized(NamedTuple):
    """Which weights are stored quantized, and what they cost: the ones bitsandbytes quantizes at
    load time (4bit | 8bit), or the packed buffers of a pre-quantized GPTQ / AWQ / AQLM checkpoint."""

    kind: str  # 4bit | 8bit | gptq | awq | aqlm
    double_quant: bool
    params: int
    largest: int  # the biggest quantized matrix: backward dequantizes it whole (bitsandbytes)
    bits: int = 4
    group_size: int | None = None  # GPTQ/AWQ; None: one group per output channel
    shapes: tuple[tuple[int, int, int], ...] = ()  # GPTQ/AWQ/AQLM: (in, out, how many) of the packed matrices
    codebooks: tuple[int, int, int, int] = (0, 0, 0, 0)  # AQLM: in_group_size, out_group_size, num_codebooks, nbits

    @classmethod
    def of(cls, model: ModelDims, kind: str, double_quant: bool, quantize_lm_head: bool) -> "_Quantized":
        h = model.hidden_size
        params = model.block_linear_params
        largest = max(h * model.q_dim, h * model.intermediate_size)
        if quantize_lm_head:
            params += model.vocab_size * h
            largest = max(largest, model.vocab_size * h)
        return cls(kind, double_quant and kind == "4bit", params, largest)

    @classmethod
    def prequantized(cls, model: ModelDims, base: BaseQuantization) -> "_Quantized":
        """The packed matrices of a GPTQ/AWQ/AQLM checkpoint: every block Linear (and lm_head when
        the checkpoint says so); embeddings, norms and lm_head otherwise stay 16-bit, as AutoGPTQ,
        gptqmodel, AutoAWQ and AQLM leave them."""
        if not base.modelled or base.method not in PACKED_METHODS:
            raise ValueError(f"the base model is {base.describe()}: {base.reason or 'not a packed GPTQ/AWQ/AQLM checkpoint'}")
        if model.num_experts > 1:
            # which of a MoE block's Linears (router, shared experts) a checkpoint packs varies
            raise ValueError(f"the base model is a {base.describe()} mixture of experts, whose packed layers peftlint does not model")
        shapes = _linear_shapes(model, base.quantize_lm_head)
        codebooks = base.codebooks or (0, 0, 0, 0)
        if base.method == "aqlm" and any(i % codebooks[0] or o % codebooks[1] for i, o, _ in shapes):
            raise ValueError(f"the base model is {base.describe()}, which does not divide its Linear layers' features")
        params = sum(i * o * n for i, o, n in shapes)
        return cls(base.method, False, params, max(i * o for i, o, _ in shapes), base.bits or 0, base.group_size, shapes, codebooks)

    def packed_bytes(self) -> int:
        """Bytes of the buffers a GPTQ/AWQ/AQLM checkpoint stores for its quantized matrices.

        GPTQ, AutoGPTQ's QuantLinear (auto_gptq/nn_modules/qlinear/qlinear_exllama.py, the same
        buffers in qlinear_cuda_old.py / qlinear_triton.py, and gptqmodel's): int32 `qweight`
        (in // 32 * bits, out), int32 `qzeros` (ceil(in / g), out // 32 * bits), fp16 `scales`
        (ceil(in / g), out) and int32 `g_idx` (in), with g = in for group_size -1.
        AWQ, AutoAWQ's WQLinear_GEMM (awq/modules/linear/gemm.py): int32 `qweight`
        (in, out // (32 // bits)), int32 `qzeros` (in // g, out // (32 // bits)), fp16 `scales`
        (in // g, out); no g_idx. Biases stay fp16 in both: counted with the unquantized weights.
        AQLM, its QuantizedLinear (Vahe1994/AQLM inference_lib/src/aqlm/inference.py): fp16
        `codebooks` (num_codebooks, 2 ** nbits, out_group, in_group), `codes` (out // out_group,
        in // in_group, num_codebooks) in the smallest int of nbits (int8/16/32/64,
        aqlm/utils.py `get_int_dtype`), fp16 `scales` (out // out_group, 1, 1, 1).
        """
        if self.kind == "aqlm":
            in_group, out_group, count, nbits = self.codebooks
            code_bytes = next(size for size in (1, 2, 4, 8) if nbits <= 8 * size)
            return sum(
                n
                * (
                    count * 2**nbits * out_group * in_group * 2
                    + (o // out_group) * (i // in_group) * count * code_bytes
                    + (o // out_group) * 2
                )
                for i, o, n in self.shapes
            )
        total = 0
        for i, o, n in self.shapes:
            g = self.group_size or i
            groups = -(-i // g)
            if self.kind == "gptq":
                per = (i // 32 * self.bits) * o * 4 + groups * (o // 32 * self.bits) * 4 + groups * o * 2 + i * 4
            else:
                pack = 32 // self.bits
                per = i * (o // pack) * 4 + (i // g) * (o // pack) * 4 + (i // g) * o * 2
            total += n * per
        return total

    def bytes(self, params: int) -> int:
        if self.kind in PACKED_METHODS:
            return round(self.packed_bytes() * params / self.params) if self.params else 0
        if self.kind == "8bit":
            return params * INT8_BYTES
        blocks = params / NF4_BLOCK
        absmax = blocks * 1 + blocks / NF4_DQ_BLOCKS * 4 if self.double_quant else blocks * 4
        return round(params / 2 + absmax)

    def describe(self) -> str:
        if self.kind == "aqlm":
            in_group, out_group, count, nbits = self.codebooks
            return f"pre-quantized AQLM {count}x{nbits}, groups of {out_group}x{in_group}: int codes, fp16 codebooks and scales"
        if self.kind in PACKED_METHODS:
            groups = f"groups of {self.group_size}" if self.group_size else "per-channel scales"
            extra = ", g_idx" if self.kind == "gptq" else ""
            return f"pre-quantized {self.kind.upper()} {self.bits}-bit, {groups}: packed int32 weights and zeros, fp16 scales{extra}"
        if self.kind == "8bit":
            return "bitsandbytes LLM.int8 (1 byte per weight)"
        absmax = "8-bit absmax, double-quantized" if self.double_quant else "fp32 absmax"
        return f"bitsandbytes 4-bit nf4/fp4, blocks of {NF4_BLOCK}, {absmax}"


PACKED_METHODS = ("gptq", "awq", "aqlm")


def _linear_shapes(model: ModelDims, with_lm_head: bool) -> tuple[tuple[int, int, int], ...]:
    """(in_features, out_features, count) of every block Linear (a dense model's: no router)."""
    h, q, kv, inter = model.hidden_size, model.q_dim, model.kv_dim, model.intermediate_size
    attention_blocks = model.num_layers + model.cross_attention_layers
    shapes = [(h, q, attention_blocks), (h, kv, 2 * attention_blocks), (q, h, attention_blocks)]
    shapes += [(h, inter, (2 if model.gated_mlp else 1) * model.num_layers), (inter, h, model.num_layers)]
    if with_lm_head and model.vocab_size:
        shapes.append((h, model.vocab_size, 1))
    return tuple(shapes)


def _quantized(
    model: ModelDims,
    quantization: str | None,
    double_quant: bool,
    quantize_lm_head: bool,
    prequantized: BaseQuantization | None,
    peft_type: str | None,
) -> _Quantized | None:
    """What is stored quantized: a pre-quantized checkpoint's packed weights, or what bitsandbytes
    quantizes at load time; ValueError for a storage the estimate does not model."""
    if prequantized is None:
        return _Quantized.of(model, quantization, double_quant, quantize_lm_head) if quantization else None
    if quantization:
        raise ValueError(f"the base model is stored {prequantized.describe()} already: it is not quantized again at load time")
    if peft_type is None:
        raise ValueError(f"a {prequantized.describe()} base model cannot be fully fine-tuned: its packed weights take no gradients")
    return _Quantized.prequantized(model, prequantized)


def _base_weight_bytes(frozen: int, dtype: str, quantized: _Quantized | None, unquantized_dtype: str) -> int:
    if quantized is None:
        return frozen * DTYPE_BYTES[dtype]
    params = min(quantized.params, frozen)
    return quantized.bytes(params) + (frozen - params) * DTYPE_BYTES[unquantized_dtype]


# bitsandbytes' paged optimizers allocate a parameter's states with `F.get_paged` (cudaMallocManaged
# wrapped by torch.frombuffer, a CPU tensor to torch) when it has at least this many elements, else
# as ordinary CUDA tensors (bitsandbytes/optim/optimizer.py `get_state_buffer`). Managed memory sits
# on the GPU until the driver pages it out, so nvidia-smi shows it, but torch.cuda's
# max_memory_allocated / max_memory_reserved never count it.
PAGED_MIN_ELEMENTS = 100_000


def _paged_params(peft_type: str | None, adapted: tuple["Adapted", ...], rank: int, trainable: int) -> int:
    """The trainable parameters in tensors a paged optimizer pages (PAGED_MIN_ELEMENTS)."""
    if peft_type is None:
        return trainable  # full fine-tuning: the weight matrices, all but norms and biases
    if peft_type not in ("LORA", "ADALORA"):
        return 0  # vectors and small factors; counted as resident (the larger figure)
    tensors = [size for m in adapted for size in (rank * m.in_features, m.out_features * rank)]
    return sum(size for size in tensors if size >= PAGED_MIN_ELEMENTS)


def _optimizer_bytes(optimizer: str, params: int, param_bytes: int) -> int:
    if optimizer == "adamw":
        return 2 * params * param_bytes  # torch keeps exp_avg / exp_avg_sq in the parameter's dtype
    if optimizer == "paged-adamw":
        return 2 * params * 4  # bitsandbytes' 32-bit optimizers keep fp32 states
    if optimizer in ("adamw-8bit", "paged-adamw-8bit"):
        return round(params * OPTIMIZER_8BIT_BYTES)
    return 0  # sgd without momentum (torch's default); adafactor's factored state is O(rows + cols)


_OPTIMIZER_NOTES = {
    "paged-adamw": "states counted as resident; paging moves them to CPU only under memory pressure",
    "paged-adamw-8bit": "states counted as resident; paging moves them to CPU only under memory pressure",
    "adafactor": "factored second moment (rows + cols per matrix) counted as zero",
    "sgd": "no momentum buffer (torch's default momentum=0)",
}


def _layer_activation_bytes(model: ModelDims, compute_bytes: int, residual_bytes: int, keeps_linear_inputs: bool) -> float:
    """lit-gpt's block: bytes kept for backward per token (SDPA attention, no adapters), with the
    fitted HIDDEN_ACTIVATIONS_PER_LAYER (lit-gpt's forward is not traced tensor by tensor yet)."""
    h = model.hidden_size
    layer = (
        NORM_INPUTS_PER_LAYER * h * residual_bytes
        + HIDDEN_ACTIVATIONS_PER_LAYER * h * compute_bytes
        + MLP_TENSORS[model.gated_mlp] * model.intermediate_size * model.experts_per_token * compute_bytes
    )
    if _rms_norm(model):
        layer += RMSNORM_NORMS_PER_LAYER * h * (4 - residual_bytes)
    if keeps_linear_inputs:
        layer += _linear_inputs(model) * compute_bytes
    return layer


def _linear_inputs(model: ModelDims) -> int:
    # distinct Linear inputs per block: attention-in (q, k, v share it), attention-out, MLP-in
    # (gate and up share it), MLP-down
    return 2 * model.hidden_size + model.q_dim + model.intermediate_size * model.experts_per_token


def _traced_layer_bytes(model: ModelDims, compute_bytes: int, residual_bytes: int, keeps_linear_inputs: bool, attention: str) -> float:
    """Bytes one decoder block keeps for backward per token, tensor by tensor, as transformers'
    llama/mistral/qwen2 forward (and torchtune's) saves them with frozen weights. autograd saves an
    operand only when the other operand needs a gradient, so a frozen Linear keeps nothing.

    - norms: LlamaRMSNorm upcasts its input (`hidden_states.to(torch.float32)`,
      transformers/models/llama/modeling_llama.py LlamaRMSNorm.forward) and pow/mul keep that fp32
      copy: 4 bytes x hidden, twice per block. LayerNorm keeps its input in the residual dtype.
    - attention: rotary embedding multiplies by cos/sin, which keeps only cos/sin (per position);
      `repeat_kv` (modeling_llama.py, integrations/sdpa_attention.py when a padding mask is
      given) copies k and v to the query width; SDPA's memory-efficient / flash backward keeps q,
      k, v, the output and a per-row logsumexp: 4 x q_dim. Eager attention keeps q, k, v (the
      matmul operands) and the score tensors (EAGER_* above) instead of the output.
    - MLP: gated (LlamaMLP `down_proj(act_fn(gate_proj(x)) * up_proj(x))`): SiLU keeps its input,
      the product keeps both operands: 3 x intermediate. Plain: GELU keeps its input.
    - Linear inputs: only when the weights train (full fine-tuning) or bitsandbytes' MatMul4Bit /
      MatMul8bitLt keep them (bitsandbytes/autograd/_functions.py `ctx.tensors = (A, B)`).
    """
    h, q = model.hidden_size, model.q_dim
    norms = 2 * h * (4 if _rms_norm(model) else residual_bytes)
    attention_tensors = 3 if attention == "eager" else 4
    mlp = MLP_TENSORS[model.gated_mlp] * model.intermediate_size * model.experts_per_token
    layer = norms + (attention_tensors * q + mlp) * compute_bytes
    if keeps_linear_inputs:
        layer += _linear_inputs(model) * compute_bytes
    return layer


class Adapted(NamedTuple):
    """One module an adapter wraps: its Linear's sizes, and IA3's feedforward flag."""

    in_features: int
    out_features: int
    feedforward: bool = False


def _adapter_saved_bytes(
    peft_type: str | None,
    adapted: tuple[Adapted, ...],
    *,
    adapter_bytes: int,
    compute_bytes: int,
    dropout: bool,
    use_dora: bool,
    rank: int,
) -> tuple[float, float, str]:
    """(bytes per token over every adapted module, bytes independent of tokens, description):
    what each method's forward keeps for backward beyond the frozen model's own tensors.

    Read off peft 0.21 (the venv's peft/tuners/...):
    - LoRA (lora/layer.py:1100-1102): `x = self._cast_input_dtype(x, lora_A.weight.dtype)` makes
      an fp32 copy of the input when the adapters are fp32; lora_A keeps it (or, with
      lora_dropout > 0, dropout keeps a 1-byte mask and lora_A keeps its output); lora_B keeps
      lora_A's r-wide output.
    - DoRA (lora/dora.py:132-165): also `(mag_norm_scale - 1) * base_result` keeps the base
      output and `mag_norm_scale * lora_result` the LoRA output (out_features each); with dropout
      the base output is recomputed by `F.linear(x, weight.to(x.dtype))`, which keeps an fp32 copy
      of the weight (out x in) until backward.
    - IA3 (ia3/layer.py:188-197): feedforward modules scale an fp32 copy of their input (kept by
      the product); the others scale their output, which the product keeps in the compute dtype.
    - VeRA (vera/layer.py:281-282): `lambda_d * F.linear(x, A)` keeps the r-wide product and
      `lambda_b * F.linear(., B)` the out-wide one, in fp32; A and B are buffers, so x is not kept.
    - LoHa, LoKr (loha/layer.py:266-273, lokr/layer.py:336-343): the delta weight (out x in,
      fp32) is built whole and `F.linear(input, delta_weight)` keeps it and the fp32 input copy.
    - other weight adapters: the input copy, as LoRA.
    """
    if not adapted or peft_type is None:
        return 0.0, 0.0, ""
    per_token = fixed = 0.0
    mask = 1 if dropout else 0
    if peft_type in ("LORA", "ADALORA"):
        for m in adapted:
            per_token += m.in_features * (adapter_bytes + mask) + rank * adapter_bytes
            if use_dora:
                per_token += m.out_features * (adapter_bytes if dropout else compute_bytes) + m.out_features * adapter_bytes
                if dropout:
                    fixed += m.in_features * m.out_features * adapter_bytes
        what = "DoRA: LoRA's terms, plus base and LoRA outputs" if use_dora else "LoRA: input copy in the adapter dtype"
        return per_token, fixed, what + (" and dropout mask" if dropout else "") + " per adapted module"
    if peft_type == "IA3":
        for m in adapted:
            per_token += m.in_features * adapter_bytes if m.feedforward else m.out_features * compute_bytes
        return per_token, 0.0, "IA3: fp32 input of feedforward modules, output of the others"
    if peft_type == "VERA":
        for m in adapted:
            per_token += (rank + m.out_features) * adapter_bytes + m.in_features * mask
        return per_token, 0.0, "VeRA: r-wide and out-wide scaled products"
    if peft_type in ("LOHA", "LOKR"):
        for m in adapted:
            per_token += m.in_features * (adapter_bytes + mask)
            fixed += m.in_features * m.out_features * adapter_bytes
        return per_token, fixed, f"{peft_type}: input copy and the whole delta weight per adapted module"
    for m in adapted:
        per_token += m.in_features * (adapter_bytes + mask)
    return per_token, 0.0, f"{peft_type}: input copy per adapted module (as LoRA)"


def estimate_training_memory(
    model: ModelDims,
    *,
    total_params: int,
    trainable_params: int,
    dtype: str = "bf16",
    quantization: str | None = None,
    double_quant: bool = False,
    optimizer: str = "adamw",
    batch_size: int = 1,
    seq_len: int = 512,
    gradient_checkpointing: bool = False,
    peft_type: str | None = "LORA",
    num_virtual_tokens: int = 0,
    task_type: str = "CAUSAL_LM",
    num_labels: int = 2,
    adapter_dtype: str | None = None,
    mixed_precision: bool = False,
    upcast_logits: bool | None = None,
    upcast_unquantized: bool | None = None,
    quantize_lm_head: bool | None = None,
    lora_dropout_inputs: int = 0,
    attention: str | None = None,
    attention_dropout: bool = False,
    include_framework_overhead: bool = False,
    stack: str = "transformers",
    adapted_modules: tuple[Adapted, ...] = (),
    adapter_dropout: bool = False,
    use_dora: bool = False,
    adapter_rank: int = 8,
    paged_state_params: int | None = None,
    prequantized: BaseQuantization | None = None,
) -> MemoryEstimate:
    """Peak GPU memory of one training step on one device, as a sum of named terms.

    `total_params` / `trainable_params` are what `PeftModel.get_nb_trainable_parameters()` reports
    (for full fine-tuning pass `peft_type=None` and trainable == total). `dtype` is the dtype the
    base weights are loaded in; `mixed_precision` means fp32 weights under bf16/fp16 autocast
    (Trainer `bf16=True` / `fp16=True` on an fp32 model). `adapter_dtype` is the adapters' dtype:
    peft upcasts them to fp32 (`autocast_adapter_dtype=True`). `upcast_unquantized` is what
    `prepare_model_for_kbit_training` does (the weights left unquantized go to fp32, and with them
    the residual stream); by default on when quantized. bitsandbytes quantizes every block Linear,
    and lm_head too with `quantize_lm_head` (transformers skips it, lit-gpt does not).
    `lora_dropout_inputs` is the sum of `in_features` over the modules whose input goes through
    a LoRA dropout (0 when lora_dropout is 0). `attention="eager"` materializes the attention scores;
    the default is SDPA, or eager for models whose score soft-capping needs it (Gemma 2).
    `stack` (STACK_SETTINGS) decides `adapter_dtype`, the loss's logits and `quantize_lm_head`
    when they are not given, and which forward the activations follow. `adapted_modules` are the
    modules the adapter wraps (every layer's), for the per-method terms (`_adapter_saved_bytes`);
    `adapter_dropout`, `use_dora` and `adapter_rank` are the config's. `paged_state_params`: of
    the trainable parameters, those whose states a paged bitsandbytes optimizer pages (by default
    worked out from `adapted_modules` for LoRA, all of them for full fine-tuning, none otherwise).
    `prequantized`: the base checkpoint is stored GPTQ/AWQ/AQLM-packed (its config.json's
    `quantization_config`), not quantized at load time; ValueError for a storage not modelled.
    """
    stack = normalize_stack(stack)
    defaults = STACK_SETTINGS[stack]
    dtype = normalize_dtype(dtype)
    adapter_dtype = normalize_dtype(adapter_dtype or defaults["adapter_dtype"])
    logits_kind = defaults["logits"] if upcast_logits is None else ("upcast" if upcast_logits else "chunked")
    if quantize_lm_head is None:
        quantize_lm_head = defaults["quantize_lm_head"]
    optimizer = normalize_optimizer(optimizer)
    quantization = normalize_quantization(quantization)
    # torchao's NF4Tensor always stores its scalers double-quantized (torchtune's QLoRA)
    double_quant = double_quant or (quantization == "4bit" and bool(defaults.get("double_quant")))
    batch_size = _positive("batch_size", batch_size)
    seq_len = _positive("seq_len", seq_len)
    total_params = _positive("total_params", total_params)
    is_count = isinstance(trainable_params, int) and not isinstance(trainable_params, bool)
    if not (is_count and 0 <= trainable_params <= total_params):
        raise ValueError(f"`trainable_params` must be an integer in 0..total_params, got {trainable_params!r}")
    if attention is None:
        attention = "eager" if model.attention_softcapping else "sdpa"
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"unknown attention `{attention}`: use one of {', '.join(ATTENTION_KINDS)}")
    if (quantization or prequantized) and mixed_precision:
        raise ValueError("quantized base weights cannot also be fp32 master weights (`mixed_precision`)")
    peft_type = peft_type.upper() if peft_type else None
    upcast_unquantized = bool(quantization) if upcast_unquantized is None else upcast_unquantized
    quantized = _quantized(model, quantization, double_quant, quantize_lm_head, prequantized, peft_type)
    # bitsandbytes' MatMul4Bit/MatMul8bitLt keep their inputs and dequantize whole weights (below);
    # the GPTQ/AWQ/AQLM kernels' own saved tensors and buffers are not modelled: counted as a frozen
    # 16-bit Linear's (none), which keeps the estimate from overstating
    bitsandbytes = quantized is not None and quantized.kind not in PACKED_METHODS

    weight_dtype = "fp32" if mixed_precision else dtype
    compute_bytes = 2 if mixed_precision else DTYPE_BYTES[dtype]
    # The residual stream takes the dtype of the weights it passes through (embeddings, norms).
    residual_bytes = 4 if (mixed_precision or upcast_unquantized) else DTYPE_BYTES[dtype]
    trainable_dtype = weight_dtype if peft_type is None else adapter_dtype
    unquantized_dtype = "fp32" if upcast_unquantized else weight_dtype

    assumptions: dict[str, Any] = {
        "devices": "one GPU, no sharding or offloading",
        "stack": stack,
        "weights": quantized.describe() if quantized else weight_dtype,
        "compute_dtype": "bf16/fp16 autocast over fp32 weights" if mixed_precision else dtype,
        "peft_type": peft_type or "full fine-tuning",
        "trainable_dtype": trainable_dtype + (" (peft's upcast)" if peft_type and trainable_dtype == "fp32" else ""),
        "optimizer": optimizer + (f": {_OPTIMIZER_NOTES[optimizer]}" if optimizer in _OPTIMIZER_NOTES else ""),
        "tokens": f"batch {batch_size} x seq {seq_len}, every sequence padded to the longest",
        "gradient_checkpointing": gradient_checkpointing,
        "attention": _describe_attention(model, attention),
    }
    breakdown: dict[str, float] = {
        "base_weights": _base_weight_bytes(total_params - trainable_params, weight_dtype, quantized, unquantized_dtype)
    }
    if quantized:
        assumptions["quantized_params"] = quantized.params
        assumptions["unquantized_weights"] = unquantized_dtype + (
            " (prepare_model_for_kbit_training)" if upcast_unquantized else " (as loaded)"
        )
        if not bitsandbytes:
            assumptions["quantized_kernels"] = f"the {quantized.kind.upper()} kernels' saved tensors and working buffers are not counted"
    if mixed_precision:
        # autocast's compute-dtype copies of the matmul weights stay referenced until backward
        breakdown["autocast_weight_copies"] = model.block_linear_params * compute_bytes

    trainable_bytes = DTYPE_BYTES[trainable_dtype]
    breakdown["trainable_weights"] = trainable_params * trainable_bytes
    breakdown["gradients"] = trainable_params * trainable_bytes  # in the parameter's dtype
    breakdown["optimizer_states"] = _optimizer_bytes(optimizer, trainable_params, trainable_bytes)
    if optimizer.startswith("paged") and trainable_params:
        if paged_state_params is None:
            paged_state_params = _paged_params(peft_type, tuple(adapted_modules), adapter_rank, trainable_params)
        paged = breakdown["optimizer_states"] * min(paged_state_params, trainable_params) / trainable_params
        if paged:
            breakdown["optimizer_states"] -= paged
            breakdown["paged_optimizer_states"] = paged
            assumptions["paged_optimizer_states"] = (
                "bitsandbytes pages the states of tensors of 100,000 elements or more into CUDA managed memory: "
                "on the GPU, outside torch.cuda's counters"
            )

    prompt_tokens = num_virtual_tokens if peft_type in _PROMPT_TYPES else 0
    prefix_tokens = num_virtual_tokens if peft_type in _PREFIX_TYPES else 0
    sequence = seq_len + prompt_tokens
    tokens = batch_size * sequence
    keeps_inputs = peft_type is None or bitsandbytes
    if stack == "litgpt":
        block = tokens * _layer_activation_bytes(model, compute_bytes, residual_bytes, keeps_inputs)
    else:
        block = tokens * _traced_layer_bytes(model, compute_bytes, residual_bytes, keeps_inputs, attention)
    if attention == "eager":
        per_score = _eager_score_bytes(model, compute_bytes, attention_dropout, mixed_precision)
        block += batch_size * model.num_attention_heads * sequence * (sequence + prefix_tokens) * per_score
    if prefix_tokens:
        # prefix tuning: every layer's keys and values run at length s + p; SDPA keeps the p extra
        # positions of k and v (repeated to the query width), the cache the concatenated ones
        gqa_copy = 2 * model.kv_dim if model.kv_dim < model.q_dim else 0
        block += batch_size * prefix_tokens * (2 * model.q_dim + gqa_copy) * compute_bytes
    # per-method terms over every adapted module (legacy: lit-gpt's dropout inputs)
    per_token, fixed, adapter_text = _adapter_saved_bytes(
        peft_type, tuple(adapted_modules), adapter_bytes=DTYPE_BYTES[trainable_dtype], compute_bytes=compute_bytes,
        dropout=adapter_dropout, use_dora=use_dora, rank=adapter_rank,
    )  # fmt: skip
    adapter = tokens * per_token + fixed + tokens * lora_dropout_inputs * (compute_bytes + 1)
    if adapter_text:
        assumptions["adapter_activations"] = adapter_text
    # the KV cache transformers builds in training (use_cache, no checkpointing): separate tensors
    # only when k/v are repeated for GQA; otherwise they are the ones SDPA keeps
    cache = 0
    if defaults["kv_cache"] and not gradient_checkpointing and model.kv_dim < model.q_dim:
        cache = model.num_layers * tokens * 2 * model.kv_dim * compute_bytes
        assumptions["kv_cache"] = "built in training (use_cache=True): the un-repeated keys and values of every layer"

    has_lm_head = task_type.upper() in TASK_TYPES_WITH_LM_HEAD
    width = model.vocab_size if has_lm_head else num_labels
    per_logit = {"upcast": LOGIT_BYTES_UPCAST, "chunked-upcast": LOGIT_BYTES_CHUNKED_UPCAST}.get(logits_kind, 2 * compute_bytes)
    logits = tokens * width * per_logit
    assumptions["logits"] = f"{tokens} tokens x {width} {'vocab' if has_lm_head else 'labels'} x {per_logit:g} bytes" + {
        "upcast": " (fp32 upcast for the loss)",
        "chunked-upcast": f" (cross-entropy over {TORCHTUNE_OUTPUT_CHUNKS} chunks, each upcast)",
    }.get(logits_kind, " (no upcast)")
    if gradient_checkpointing:
        # Each block's input is kept; during backward one block at a time is recomputed. The
        # recomputation starts after the loss's backward has freed the logits, so the tensors alive
        # at once are the larger of the two; but the published checkpointed peaks (reserved and
        # device counters) match their sum: with the larger only, the 13 checkpointed one-GPU rows
        # fall 5-10 points lower (rows 249, 253-256 to -8%..-13%) and the held-out multi-GPU median
        # goes from 7.8% to 17.6% (docs/estimate.md). The allocator keeps the logits' blocks cached
        # (the loop also keeps the bf16 logits in `outputs`), so the sum is what a card must hold.
        breakdown["activations"] = model.num_layers * tokens * model.hidden_size * residual_bytes
        breakdown["logits"] = logits
        breakdown["recomputed_layer"] = block + adapter / model.num_layers
        assumptions["checkpointing_peak"] = "layer inputs + logits + one recomputed layer"
    else:
        breakdown["activations"] = model.num_layers * block
        if adapter:
            breakdown["adapter_activations"] = adapter
        if cache:
            breakdown["kv_cache"] = cache
        breakdown["logits"] = logits
    if bitsandbytes and quantized is not None:
        # backward dequantizes each weight whole while every activation is still alive
        breakdown["dequantized_weight"] = quantized.largest * compute_bytes
    if prefix_tokens:
        breakdown["prefix_kv"] = batch_size * prefix_tokens * model.num_layers * 2 * model.kv_dim * compute_bytes
    if optimizer == "adamw" and defaults["adamw_step"] == "foreach" and trainable_params:
        assumptions["optimizer_step"] = FOREACH_STEP_NOTE
        step = optimizer_step_bytes(breakdown["optimizer_states"], breakdown)
        if step:
            breakdown["optimizer_step"] = step

    if include_framework_overhead:
        breakdown["framework_overhead"] = FRAMEWORK_OVERHEAD_BYTES
        assumptions["framework_overhead"] = "CUDA context and allocator slack (what nvidia-smi shows)"
    else:
        assumptions["framework_overhead"] = "not counted (what torch.cuda.max_memory_allocated() shows)"
    return _estimate(breakdown, assumptions)


def memory_figures(total_bytes: int, breakdown: Mapping[str, int]) -> dict[str, int]:
    """The three peaks of an estimate whose total is the device total (with `framework_overhead`):

    - `peak_allocated_bytes`: what `torch.cuda.max_memory_allocated()` reports, the tensors alone;
    - `peak_reserved_bytes`: plus the caching allocator's reserve, `torch.cuda.max_memory_reserved()`
      (ALLOCATOR_SLACK_BYTES, and the distributed layer's `allocator_slack` when it adds one);
    - `total_bytes`: plus the CUDA context and NCCL's buffers, what nvidia-smi shows; the fit
      checks use it.
    """
    overhead = breakdown.get("framework_overhead", 0)
    sharded_slack = breakdown.get("allocator_slack", 0)
    # NCCL's buffers and bitsandbytes' paged optimizer states are allocated outside PyTorch's
    # caching allocator: nvidia-smi sees them, the torch.cuda counters do not
    outside = breakdown.get("communication_buffers", 0) + breakdown.get("paged_optimizer_states", 0)
    allocated = total_bytes - overhead - sharded_slack - outside
    slack = ALLOCATOR_SLACK_BYTES if overhead else 0
    return {
        "peak_allocated_bytes": allocated,
        "peak_reserved_bytes": allocated + sharded_slack + slack,
        "total_bytes": total_bytes,
    }


def _describe_attention(model: ModelDims, attention: str) -> str:
    if attention != "eager":
        return f"{attention}: no seq x seq tensors kept"
    reason = " (soft-capped scores need it)" if model.attention_softcapping else ""
    return f"eager: attention scores kept for backward{reason}"


def _estimate(breakdown: Mapping[str, float], assumptions: dict[str, Any]) -> MemoryEstimate:
    rounded = {name: round(value) for name, value in breakdown.items()}
    return MemoryEstimate(total_bytes=sum(rounded.values()), breakdown=rounded, assumptions=assumptions)


def _rms_norm(model: ModelDims) -> bool:
    # Every gated-MLP family in _GATED_MLP_TYPES normalizes with RMSNorm; T5 too.
    return model.gated_mlp or model.model_type in ("t5", "mt5")


def estimate_inference_memory(
    model: ModelDims,
    *,
    total_params: int,
    adapter_params: int = 0,
    merged: bool = False,
    peft_type: str | None = None,
    num_virtual_tokens: int = 0,
    dtype: str = "bf16",
    adapter_dtype: str = "fp32",
    quantization: str | None = None,
    double_quant: bool = False,
    quantize_lm_head: bool = False,
    batch_size: int = 1,
    seq_len: int = 512,
    include_framework_overhead: bool = False,
    prequantized: BaseQuantization | None = None,
) -> MemoryEstimate:
    """Serving one batch: weights, the adapters unless merged, the KV cache, one layer's working set.

    `total_params` counts the base model only. Prompt-like methods lengthen every sequence by
    `num_virtual_tokens`; prefix tuning adds that many cached key/value positions per layer.
    """
    dtype = normalize_dtype(dtype)
    adapter_dtype = normalize_dtype(adapter_dtype)
    quantization = normalize_quantization(quantization)
    total_params = _positive("total_params", total_params)
    batch_size = _positive("batch_size", batch_size)
    seq_len = _positive("seq_len", seq_len)
    peft_type = peft_type.upper() if peft_type else None
    compute_bytes = DTYPE_BYTES[dtype]
    quantized = _quantized(model, quantization, double_quant, quantize_lm_head, prequantized, peft_type or "LORA")
    assumptions: dict[str, Any] = {
        "weights": quantized.describe() if quantized else dtype,
        "tokens": f"batch {batch_size} x seq {seq_len}",
    }
    breakdown: dict[str, float] = {"base_weights": _base_weight_bytes(total_params, dtype, quantized, dtype)}

    if merged and quantized and adapter_params:
        assumptions["merge"] = "merging into quantized weights re-rounds them: adapters counted unmerged"
        merged = False
    breakdown["adapter_weights"] = 0 if merged else adapter_params * DTYPE_BYTES[adapter_dtype]
    if adapter_params:
        assumptions["adapters"] = "merged into the base weights" if merged else f"unmerged, {adapter_dtype}"
        assumptions["latency"] = (
            "none added: the adapters are part of the weights"
            if merged
            else "an extra low-rank product per adapted module and token (unmerged adapters)"
        )

    prompt_tokens = num_virtual_tokens if peft_type in _PROMPT_TYPES else 0
    prefix_tokens = num_virtual_tokens if peft_type in _PREFIX_TYPES else 0
    cached = seq_len + prompt_tokens + prefix_tokens
    breakdown["kv_cache"] = batch_size * cached * model.num_layers * 2 * model.kv_dim * compute_bytes
    if prompt_tokens:
        assumptions["latency"] = f"every request is {prompt_tokens} virtual tokens longer (prefill and cache)"
    if prefix_tokens:
        assumptions["latency"] = f"every token attends to {prefix_tokens} more cached positions in each layer"
    tokens = batch_size * (seq_len + prompt_tokens)
    # Prefill runs one block at a time: its widest tensors (hidden-wide ones and the MLP's gate/up
    # or fc outputs), plus the last position's fp32 logits.
    mlp_outputs = (2 if model.gated_mlp else 1) * model.intermediate_size * model.experts_per_token
    breakdown["activations"] = tokens * (4 * model.hidden_size + mlp_outputs) * compute_bytes + batch_size * model.vocab_size * 4
    if quantized and quantized.kind not in PACKED_METHODS:
        breakdown["dequantized_weight"] = quantized.largest * compute_bytes
    if include_framework_overhead:
        breakdown["framework_overhead"] = FRAMEWORK_OVERHEAD_BYTES
    return _estimate(breakdown, assumptions)
