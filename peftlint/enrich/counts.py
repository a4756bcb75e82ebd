"""Exact parameter counts and adapter file size of a PEFT config on a model, without torch.

Every tensor `get_peft_model` adds or unfreezes is listed with its shape, the way peft 0.21.2
builds it (`tuners/<method>/layer.py` `update_layer`, `peft_model.py` `_setup_prompt_encoder`,
`utils/other.py` `ModulesToSaveWrapper`, `_mark_only_adapters_as_trainable` for `bias`, LoRA's
`ParamWrapper` for `target_parameters` and fused-MoE experts). The
sums equal `PeftModel.get_nb_trainable_parameters()`; the tensors `save_pretrained` writes give
the exact size of adapter_model.safetensors.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from peftlint.enrich.architecture import language_model_config
from peftlint.enrich.modules import Module, ModuleTree
from peftlint.enrich.targets import (
    PROMPT_LEARNING_TYPES,
    ModelView,
    ParameterTarget,
    TargetResolution,
    conv_groups,
    model_view,
    pattern_key,
    regex_fullmatch,
    resolve_targets,
)
from peftlint.normalize.dialects import LinearNames
from peftlint.validate import effective_config

# dtype name -> (safetensors dtype, bytes per element)
DTYPES = {"float32": ("F32", 4), "bfloat16": ("BF16", 2), "float16": ("F16", 2)}
# safetensors writes tensors by dtype, larger Dtype enum values first (F32 > BF16 > F16), then
# by name; the order decides the data offsets written into the header.
_DTYPE_RANK = {"F32": 3, "BF16": 2, "F16": 1}
_BYTES = {"F32": 4, "BF16": 2, "F16": 2}
EMBEDDING_LAYER_NAMES = ("embed_tokens", "lm_head")  # peft's, for save_embedding_layers="auto"
MODEL_PREFIX = "base_model.model."  # state-dict prefix of the base model inside a tuner-based PeftModel

# Options that change parameter shapes in ways a ModuleTree cannot tell (data-driven ranks,
# replicated layers, parameters of modules the tree does not describe).
UNMODELLED_OPTIONS = (
    "layer_replication",
    "trainable_token_indices",
    "use_bdlora",
    "kasa_config",
    "velora_config",
    "monteclora_config",
    "arrow_config",
)


class CountError(ValueError):
    """No exact counts for this config on this model."""


class PeftRejects(CountError):
    """`get_peft_model` raises for this config on this model; the message says what peft objects to."""


class NotModelled(CountError):
    """peft accepts the config, but it uses an option whose parameters the module tree cannot describe."""


class Tensor(NamedTuple):
    """One tensor of the PEFT model that is not a frozen base weight."""

    module: str  # the base-model module it belongs to ("" for model-level tensors)
    key: str  # its key in adapter_model.safetensors
    shape: tuple[int, ...]
    dtype: str = "F32"  # safetensors dtype; peft upcasts adapter weights to float32
    trainable: bool = True
    added: bool = True  # a new parameter (counts towards the total); False for unfrozen base weights
    parameter: bool = True  # False for buffers: saved, but never counted
    saved: bool = True

    @property
    def numel(self) -> int:
        count = 1
        for dim in self.shape:
            count *= dim
        return count


class Counts(NamedTuple):
    trainable: int
    total: int
    adapter_params: int  # elements written to adapter_model.safetensors
    adapter_bytes: int  # size of adapter_model.safetensors, header included
    tensors: tuple[Tensor, ...]
    resolution: TargetResolution

    @property
    def trainable_percent(self) -> float:
        return 100 * self.trainable / self.total if self.total else 0.0

    @property
    def per_module(self) -> dict[str, int]:
        """Trainable parameters by base-model module ("" for model-level ones such as a prompt encoder)."""
        result: dict[str, int] = {}
        for tensor in self.tensors:
            if tensor.parameter and tensor.trainable:
                result[tensor.module] = result.get(tensor.module, 0) + tensor.numel
        return result


def count_parameters(
    tree: ModuleTree,
    config: Mapping[str, Any],
    peft_type: str,
    task_type: str | None = None,
    *,
    model_config: Mapping[str, Any] | None = None,
    base_dtype: str = "float32",
    linear_names: LinearNames | None = None,
) -> Counts:
    """What `get_peft_model(model, config)` reports and what `save_pretrained` writes.

    `model_config` is the model's config.json (prompt learning reads its dimensions from it);
    `base_dtype` is the dtype the base model is loaded in (copies in `modules_to_save`, unfrozen
    biases and saved embedding layers keep it; adapter weights are float32); `linear_names`: a
    training framework's own list of linear layers stands for `target_modules` (resolve_targets).
    """
    peft_type = peft_type.upper()
    cfg = effective_config(config, peft_type)
    unmodelled = [key for key in UNMODELLED_OPTIONS if cfg.get(key)]
    if unmodelled:
        raise NotModelled(f"`{unmodelled[0]}` is not modelled: counts would not be exact")
    if cfg.get("init_lora_weights") == "eva":
        raise NotModelled("`init_lora_weights='eva'` redistributes ranks from data: counts would not be exact")
    if cfg.get("target_parameters") and peft_type != "LORA":
        raise NotModelled(f"`target_parameters` is modelled for LoRA only, not for `{peft_type}`")
    resolution = resolve_targets(tree, cfg, peft_type, task_type, linear_names)
    if resolution.error is not None:
        raise PeftRejects(resolution.error)
    if resolution.not_modelled is not None:
        raise NotModelled(resolution.not_modelled)
    embeddings = {tree.input_embedding, tree.output_embedding}
    tied = tree.output_embedding in tree.tied and any(m.name in embeddings for m in resolution.targeted)
    if cfg.get("ensure_weight_tying") and tied:
        # peft then adapts the partner embedding too, with adapter weights tied to the first one's
        raise NotModelled("`ensure_weight_tying` with an adapted tied embedding is not modelled")
    view = model_view(tree)
    base = DTYPES[base_dtype][0]

    tensors: list[Tensor] = []
    if peft_type in PROMPT_LEARNING_TYPES:
        tensors += prompt_encoder_tensors(cfg, peft_type, task_type, model_config or {}, tree)
        prefix = "base_model."  # no tuner between PeftModel and the base model
    else:
        builder = ADAPTER_BUILDERS.get(peft_type)
        if builder is None:
            raise NotModelled(f"counting `{peft_type}` parameters is not supported")
        for module in resolution.targeted:
            tensors += builder(module, cfg, resolution)
        for parameter in resolution.parameters:
            tensors += param_wrapper_tensors(parameter, cfg, resolution)
        tensors += shared_tensors(peft_type, cfg, resolution)
        tensors += bias_tensors(view, resolution, cfg.get("bias", "none"), base)
        tensors += embedding_layer_tensors(view, resolution, cfg, base)
        prefix = MODEL_PREFIX
    for name in resolution.saved:
        tensors += modules_to_save_tensors(view, name, prefix, base)

    trainable = sum(t.numel for t in tensors if t.parameter and t.trainable)
    added = sum(t.numel for t in tensors if t.parameter and t.added)
    saved = [t for t in tensors if t.saved]
    return Counts(
        trainable=trainable,
        total=tree.total_params + added,
        adapter_params=sum(t.numel for t in saved),
        adapter_bytes=safetensors_size(saved),
        tensors=tuple(tensors),
        resolution=resolution,
    )


def safetensors_size(tensors: Sequence[Tensor]) -> int:
    """Bytes of the file `safetensors.torch.save_file(..., metadata={"format": "pt"})` writes.

    Layout: an 8-byte little-endian header length, a compact JSON header padded with spaces to
    a multiple of 8, then the raw data in the order described at _DTYPE_RANK.
    """
    entries = []
    offset = 0
    for tensor in sorted(tensors, key=lambda t: (-_DTYPE_RANK[t.dtype], t.key)):
        end = offset + tensor.numel * _BYTES[tensor.dtype]
        shape = ",".join(str(d) for d in tensor.shape)
        entries.append(f'"{tensor.key}":{{"dtype":"{tensor.dtype}","shape":[{shape}],"data_offsets":[{offset},{end}]}}')
        offset = end
    header = len('{"__metadata__":{"format":"pt"}' + "".join("," + e for e in entries) + "}")
    return 8 + header + (-header) % 8 + offset


# --- per-method adapter tensors -------------------------------------------------------------------


def module_rank(name: str, cfg: Mapping[str, Any], resolution: TargetResolution) -> int:
    """The rank of module (or parameter) `name`: `rank_pattern` as peft applies it, else `r`."""
    patterns = resolution.rank_pattern
    key = pattern_key(patterns, name)
    rank = int(patterns[key]) if key is not None else int(cfg["r"])
    if rank <= 0:
        raise PeftRejects(f"`r` should be a positive integer, got {rank} for `{name}`")
    return rank


CONV_KINDS = ("conv2d", "conv3d", "torch_conv1d")


def _in_out(module: Module, conv: bool = False) -> tuple[int, int]:
    """A layer's (in, out) features; a convolution's channels only where the caller sizes its kernel
    (`conv`): the lycoris and orthogonal methods' convolution layers are not modelled."""
    if module.in_features is None or module.out_features is None:
        raise NotModelled(f"`{module.name}` has no recorded shape")
    if module.kind in CONV_KINDS and not conv:
        raise NotModelled(f"`{module.name}` is a convolution: counted for LoRA and IA3 only")
    return module.in_features, module.out_features


def _kernel(module: Module) -> tuple[int, ...]:
    """A convolution's kernel size, read off its weight (out, in / groups, *kernel)."""
    weight = dict(module.tensors).get("weight")
    if weight is None or len(weight) < 3:
        raise NotModelled(f"`{module.name}` is a convolution without a recorded kernel")
    return weight[2:]


def _tensor(module: Module, suffix: str, *shape: int, trainable: bool = True, saved: bool = True) -> Tensor:
    return Tensor(module.name, f"{MODEL_PREFIX}{module.name}.{suffix}", tuple(shape), trainable=trainable, saved=saved)


def lora_tensors(module: Module, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    r = module_rank(module.name, cfg, resolution)
    n_in, n_out = _in_out(module, conv=True)
    if module.kind == "embedding":
        if cfg.get("lora_bias"):
            raise PeftRejects(f"`lora_bias=True` is not supported for embedding `{module.name}`")
        tensors = [_tensor(module, "lora_embedding_A", r, n_in), _tensor(module, "lora_embedding_B", n_out, r)]
    elif module.kind in CONV_KINDS:
        # peft's _ConvNd: lora_A has the base layer's kernel, lora_B a 1 x ... x 1 one and its groups
        kernel = _kernel(module)
        lora_b = _tensor(module, "lora_B.weight", n_out, r // conv_groups(module), *(1 for _ in kernel))
        tensors = [_tensor(module, "lora_A.weight", r, n_in, *kernel), lora_b]
        if cfg.get("lora_bias"):
            tensors.append(_tensor(module, "lora_B.bias", n_out))
    else:
        tensors = [_tensor(module, "lora_A.weight", r, n_in), _tensor(module, "lora_B.weight", n_out, r)]
        if cfg.get("lora_bias"):
            tensors.append(_tensor(module, "lora_B.bias", n_out))
    if cfg.get("use_dora"):
        tensors.append(_tensor(module, "lora_magnitude_vector", n_out))  # one magnitude per output feature
    return tensors


def param_wrapper_tensors(parameter: ParameterTarget, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    """LoRA on a parameter (peft's ParamWrapper): one rank-r pair per expert, stacked along the rank;
    a 2-d parameter (out, in) is a single expert, a 3-d one is (experts, out, in) unless transposed."""
    r = module_rank(parameter.key, cfg, resolution)
    if len(parameter.shape) == 3:
        experts, first, second = parameter.shape
        n_in, n_out = (first, second) if parameter.module.transposed else (second, first)
    else:
        experts, (n_out, n_in) = 1, parameter.shape
    prefix = f"{MODEL_PREFIX}{parameter.module.name}.{'base_layer.' * parameter.nesting}"
    return [
        Tensor(parameter.module.name, f"{prefix}lora_A.weight", (r * experts, n_in)),
        Tensor(parameter.module.name, f"{prefix}lora_B.weight", (n_out, r * experts)),
    ]


def adalora_tensors(module: Module, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    r = int(cfg["init_r"])
    n_in, n_out = _in_out(module)
    return [
        _tensor(module, "lora_A", r, n_in),
        _tensor(module, "lora_B", n_out, r),
        _tensor(module, "lora_E", r, 1),
        # the current rank: a frozen parameter (so in the total) that is never saved
        _tensor(module, "ranknum", 1, trainable=False, saved=False),
    ]


def ia3_tensors(module: Module, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    n_in, n_out = _in_out(module, conv=True)
    if module.kind in CONV_KINDS:  # peft's _ConvNd: (1, channels, 1, ...), one per kernel dimension
        ones = tuple(1 for _ in _kernel(module))
        return [_tensor(module, "ia3_l", 1, n_in if module.name in resolution.feedforward else n_out, *ones)]
    if module.name in resolution.feedforward:
        return [_tensor(module, "ia3_l", 1, n_in)]  # scales the input of feedforward layers
    return [_tensor(module, "ia3_l", n_out, 1)]


def loha_tensors(module: Module, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    r = module_rank(module.name, cfg, resolution)
    n_in, n_out = _in_out(module)
    return [
        _tensor(module, "hada_w1_a", n_out, r),
        _tensor(module, "hada_w1_b", r, n_in),
        _tensor(module, "hada_w2_a", n_out, r),
        _tensor(module, "hada_w2_b", r, n_in),
    ]


def factorization(dimension: int, factor: int = -1) -> tuple[int, int]:
    """peft.tuners.lokr.layer.factorization: two factors of `dimension`, the smaller first."""
    if factor > 0 and dimension % factor == 0:
        return factor, dimension // factor
    if factor == -1:
        factor = dimension
    m, n = 1, dimension
    length = m + n
    while m < n:
        new_m = m + 1
        while dimension % new_m != 0:
            new_m += 1
        new_n = dimension // new_m
        if new_m + new_n > length or new_m > factor:
            break
        m, n = new_m, new_n
    return (n, m) if m > n else (m, n)


def lokr_tensors(module: Module, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    r = module_rank(module.name, cfg, resolution)
    n_in, n_out = _in_out(module)
    factor = int(cfg.get("decompose_factor", -1))
    out_l, out_k = factorization(n_out, factor)
    in_m, in_n = factorization(n_in, factor)
    # the Kronecker factors are (out_l x in_m) and (out_k x in_n); each is a full matrix unless
    # the rank is small enough for a low-rank product to be cheaper
    use_w1 = not (cfg.get("decompose_both") and r < max(out_l, in_m) / 2)
    use_w2 = not (r < max(out_k, in_n) / 2)
    tensors = (
        [_tensor(module, "lokr_w1", out_l, in_m)]
        if use_w1
        else [_tensor(module, "lokr_w1_a", out_l, r), _tensor(module, "lokr_w1_b", r, in_m)]
    )
    tensors += (
        [_tensor(module, "lokr_w2", out_k, in_n)]
        if use_w2
        else [_tensor(module, "lokr_w2_a", out_k, r), _tensor(module, "lokr_w2_b", r, in_n)]
    )
    return tensors


def vera_tensors(module: Module, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    n_in, n_out = _in_out(module)
    return [_tensor(module, "vera_lambda_b", n_out), _tensor(module, "vera_lambda_d", int(cfg["r"]))]


def _adjust_oft(in_features: int, value: int) -> int:
    """peft's OFTLayer.adjust_oft_parameters: the nearest divisor of in_features (ties go down)."""
    if value >= in_features:
        return in_features
    higher = value
    while higher <= in_features and in_features % higher != 0:
        higher += 1
    lower = value
    while lower > 1 and in_features % lower != 0:
        lower -= 1
    return lower if value - lower <= higher - value else higher


def oft_tensors(module: Module, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    n_in, n_out = _in_out(module)
    if module.kind == "embedding":
        n_in = n_out  # OFT rotates the embedding dimension
    r, block = int(cfg.get("r", 0)), int(cfg.get("oft_block_size", 0))
    if (r == 0) == (block == 0):
        raise PeftRejects("OFT needs exactly one of `r` and `oft_block_size` to be non-zero")
    if r == 0:
        block = block if n_in % block == 0 and block <= n_in else _adjust_oft(n_in, block)
        r = n_in // block
    else:
        r = r if n_in % r == 0 and r <= n_in else _adjust_oft(n_in, r)
        block = n_in // r
    rotations = 1 if cfg.get("block_share") else r
    name = "oft_embedding_R.weight" if module.kind == "embedding" else "oft_R.weight"
    return [_tensor(module, name, rotations, block * (block - 1) // 2)]  # skew-symmetric blocks


def boft_tensors(module: Module, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    """Butterfly factor as configured; peft only honours a factor above 1 where its CUDA kernel builds."""
    n_in, n_out = _in_out(module)
    size, number = int(cfg.get("boft_block_size", 0)), int(cfg.get("boft_block_num", 0))
    butterfly = int(cfg.get("boft_n_butterfly_factor", 1))
    if (size == 0) == (number == 0):
        raise PeftRejects("BOFT needs exactly one of `boft_block_size` and `boft_block_num` to be non-zero")
    divisor = number or size
    if n_in % divisor != 0:
        raise PeftRejects(f"in_features ({n_in}) of `{module.name}` must be divisible by {divisor}")
    size, number = (n_in // number, number) if number else (size, n_in // size)
    return [_tensor(module, "boft_R", butterfly, number, size, size), _tensor(module, "boft_s", n_out, 1)]


AdapterBuilder = Callable[[Module, Mapping[str, Any], TargetResolution], list[Tensor]]
ADAPTER_BUILDERS: dict[str, AdapterBuilder] = {
    "LORA": lora_tensors,
    "ADALORA": adalora_tensors,
    "IA3": ia3_tensors,
    "LOHA": loha_tensors,
    "LOKR": lokr_tensors,
    "VERA": vera_tensors,
    "OFT": oft_tensors,
    "BOFT": boft_tensors,
}


def shared_tensors(peft_type: str, cfg: Mapping[str, Any], resolution: TargetResolution) -> list[Tensor]:
    """VeRA's frozen random projections: buffers sized for the largest targeted layer, shared by all."""
    if peft_type != "VERA":
        return []
    r, save = int(cfg["r"]), bool(cfg.get("save_projection", True))
    max_in = max(_in_out(m)[0] for m in resolution.targeted)
    max_out = max(_in_out(m)[1] for m in resolution.targeted)
    return [
        Tensor("", "base_model.vera_A", (r, max_in), trainable=False, added=False, parameter=False, saved=save),
        Tensor("", "base_model.vera_B", (max_out, r), trainable=False, added=False, parameter=False, saved=save),
    ]


# --- base weights the adapter unfreezes or saves ---------------------------------------------------


def bias_elements(module: Module) -> int:
    if module.bias_params is not None:
        return module.bias_params
    if not module.bias:
        return 0
    if module.kind in ("linear", "conv1d", *CONV_KINDS) and module.out_features is not None:
        return module.out_features
    return module.params // 2  # norm layers: a weight and a bias of the same size


def _inside(name: str, outer: Sequence[str]) -> bool:
    return any(name == o or name.startswith(o + ".") for o in outer)


def bias_tensors(view: ModelView, resolution: TargetResolution, bias: str, dtype: str) -> list[Tensor]:
    """`bias="all"` unfreezes every `*.bias` of the model, `"<method>_only"` those of adapted layers."""
    if bias == "none":
        return []
    # adapter layers around each module: one for a module target, one per wrapped parameter
    wrappers = dict.fromkeys(resolution.targeted_names, 1)
    for parameter in resolution.parameters:
        wrappers[parameter.module.name] = wrappers.get(parameter.module.name, 0) + 1
    tensors = []
    for module in view.tree.modules:
        elements = bias_elements(module)
        wrapped = wrappers.get(module.name, 0)
        if elements == 0 or (bias != "all" and not wrapped):
            continue
        if _inside(module.name, resolution.saved):
            continue  # ModulesToSaveWrapper freezes the original; its copy is counted with the copy
        key = f"{MODEL_PREFIX}{module.name}.{'base_layer.' * wrapped}bias"
        tensors.append(Tensor(module.name, key, (elements,), dtype=dtype, added=False))
    return tensors


def embedding_layer_tensors(view: ModelView, resolution: TargetResolution, cfg: Mapping[str, Any], dtype: str) -> list[Tensor]:
    """With `embed_tokens`/`lm_head` among the targets, `save_pretrained` also writes the adapted
    embedding layers' base weights (save_embedding_layers="auto")."""
    targets = resolution.target_modules  # `all-linear` already expanded to names, as peft saves it
    if isinstance(targets, str):
        named = [n for n in view.names if n.rsplit(".", 1)[-1] in EMBEDDING_LAYER_NAMES]
        embedding_targeted = any(regex_fullmatch(targets, n) for n in named)
    else:
        embedding_targeted = any(t in EMBEDDING_LAYER_NAMES for t in targets or ())
    if not embedding_targeted:
        return []
    tensors = []
    targeted = {m.name: m for m in resolution.targeted}
    for name in dict.fromkeys([view.tree.input_embedding, view.tree.output_embedding]):
        module = targeted.get(name or "")
        if module is not None and module.kind in ("linear", "embedding"):
            n_in, n_out = _in_out(module)
            shape = (n_in, n_out) if module.kind == "embedding" else (n_out, n_in)
            key = f"{MODEL_PREFIX}{module.name}.base_layer.weight"
            tensors.append(Tensor(module.name, key, shape, dtype=dtype, trainable=False, added=False))
    return tensors


def _weights(module: Module) -> list[tuple[str, tuple[int, ...]]]:
    """The parameters a module holds, by name and shape (norm-like modules: assumed 1-d)."""
    bias = bias_elements(module)
    if module.kind == "linear" and module.in_features and module.out_features:
        weight: tuple[int, ...] = (module.out_features, module.in_features)
    elif module.kind in ("conv1d", "embedding") and module.in_features and module.out_features:
        weight = (module.in_features, module.out_features)
    else:
        weight = (module.params - bias,) if module.params > bias else ()
    return ([("weight", weight)] if weight else []) + ([("bias", (bias,))] if bias else [])


def modules_to_save_tensors(view: ModelView, name: str, prefix: str, dtype: str) -> list[Tensor]:
    """A ModulesToSaveWrapper holds a trainable deep copy of the module, saved under the module's own names."""
    tensors = []
    copied_owners: set[str] = set()
    for member, module in view.modules.items():
        if not _inside(member, [name]):
            continue
        owner = view.tree.tied.get(member)
        if owner is not None and (_inside(owner, [name]) or owner in copied_owners):
            continue  # sharing inside the copy is preserved, so the weight exists once
        if owner is not None:
            copied_owners.add(owner)
        for param, shape in _weights(module):
            tensors.append(Tensor(member, f"{prefix}{member}.{param}", shape, dtype=dtype))
    return tensors


# --- prompt learning ------------------------------------------------------------------------------


class PromptDimensions(NamedTuple):
    num_layers: int
    token_dim: int
    num_attention_heads: int
    num_transformer_submodules: int
    encoder_hidden_size: int


def _first(model_config: Mapping[str, Any], keys: Sequence[str], what: str) -> int:
    for key in keys:
        if model_config.get(key) is not None:
            return int(model_config[key])
    raise PeftRejects(f"Please specify `{what}` in `peft_config` (the model config has none of {list(keys)})")


# transformers 5.23 config classes that store `head_dim = qk_rope_head_dim` (default 64) whatever
# config.json says (multi-head latent attention): peft sizes a grouped-query prefix from the loaded
# config's dict, which then holds it (GLM-4.7-Flash's `head_dim` is only an alias, not in the dict;
# Kimi-Linear's dict keeps the `head_dim` its config.json gives)
_ROPE_HEAD_DIM_TYPES = frozenset({
    "axk1", "axk2", "bailing_hybrid", "deepseek_v2", "deepseek_v3", "deepseek_v32", "glm5_next", "glm_moe_dsa",
    "hy_v4", "minicpm3", "mistral_large4", "youtu",
})  # fmt: skip


def prompt_dimensions(cfg: Mapping[str, Any], peft_type: str, task_type: str | None, model_config: Mapping[str, Any]) -> PromptDimensions:
    """peft's `_prepare_prompt_learning_config`, reading config.json as written (peft reads the
    loaded config object, whose attribute aliases these key lists spell out); a multimodal model's
    language model with the fields its config class fills in, as peft reads it from `text_config`."""
    text = language_model_config(model_config)
    num_layers = cfg.get("num_layers") or _first(
        text, ("num_hidden_layers", "num_layers", "n_layer", "encoder_layers", "n_layers"), "num_layers"
    )
    token_dim = cfg.get("token_dim") or _first(text, ("hidden_size", "n_embd", "d_model", "n_embed"), "token_dim")
    heads = cfg.get("num_attention_heads") or _first(
        text, ("num_attention_heads", "n_head", "num_heads", "encoder_attention_heads"), "num_attention_heads"
    )
    if peft_type == "PREFIX_TUNING" and text.get("num_key_value_heads") is not None:
        # grouped-query attention: the prefix holds keys/values for the KV heads only (peft #1901)
        if text.get("model_type") in _ROPE_HEAD_DIM_TYPES:
            head_dim = text.get("qk_rope_head_dim") or 64
        else:
            head_dim = text.get("head_dim") or token_dim // heads
        heads = int(text["num_key_value_heads"])
        token_dim = int(head_dim) * heads
    submodules = cfg.get("num_transformer_submodules") or (2 if task_type == "SEQ_2_SEQ_LM" else 1)
    return PromptDimensions(int(num_layers), int(token_dim), int(heads), int(submodules), int(cfg.get("encoder_hidden_size") or token_dim))


def _linear(name: str, n_in: int, n_out: int) -> list[Tensor]:
    return [
        Tensor("", f"prompt_encoder.{name}.weight", (n_out, n_in), saved=False),
        Tensor("", f"prompt_encoder.{name}.bias", (n_out,), saved=False),
    ]


def _lstm(hidden: int, n_in: int, layers: int) -> list[Tensor]:
    """A bidirectional torch LSTM: per layer and direction 4 gates over input and hidden state, two biases."""
    tensors = []
    for layer in range(layers):
        layer_in = n_in if layer == 0 else 2 * hidden
        for direction in ("", "_reverse"):
            suffix = f"l{layer}{direction}"
            tensors += [
                Tensor("", f"prompt_encoder.lstm_head.weight_ih_{suffix}", (4 * hidden, layer_in), saved=False),
                Tensor("", f"prompt_encoder.lstm_head.weight_hh_{suffix}", (4 * hidden, hidden), saved=False),
                Tensor("", f"prompt_encoder.lstm_head.bias_ih_{suffix}", (4 * hidden,), saved=False),
                Tensor("", f"prompt_encoder.lstm_head.bias_hh_{suffix}", (4 * hidden,), saved=False),
            ]
    return tensors


def prompt_encoder_tensors(
    cfg: Mapping[str, Any], peft_type: str, task_type: str | None, model_config: Mapping[str, Any], tree: ModuleTree
) -> list[Tensor]:
    """The prompt encoder's parameters (trainable, unsaved) and the `prompt_embeddings` it saves instead."""
    if peft_type not in ("PROMPT_TUNING", "P_TUNING", "PREFIX_TUNING"):
        raise NotModelled(f"counting `{peft_type}` parameters is not supported")
    if not cfg.get("num_virtual_tokens"):
        raise PeftRejects("`num_virtual_tokens` must be set")
    dims = prompt_dimensions(cfg, peft_type, task_type, model_config)
    tokens = int(cfg["num_virtual_tokens"])
    training = not cfg.get("inference_mode")
    hidden = dims.encoder_hidden_size
    if peft_type == "PREFIX_TUNING":
        kv_width = dims.num_layers * 2 * dims.token_dim  # a key and a value prefix per layer
        saved = (tokens, kv_width)
        if cfg.get("prefix_projection") and training:
            encoder = [Tensor("", "prompt_encoder.embedding.weight", (tokens, dims.token_dim), saved=False)]
            encoder += _linear("transform.0", dims.token_dim, hidden) + _linear("transform.2", hidden, kv_width)
        else:
            encoder = [Tensor("", "prompt_encoder.embedding.weight", (tokens, kv_width), saved=False)]
    else:
        total_tokens = tokens * dims.num_transformer_submodules
        saved = (total_tokens, dims.token_dim)
        encoder = [Tensor("", "prompt_encoder.embedding.weight", saved, saved=False)]
        if peft_type == "P_TUNING" and training:
            if str(cfg.get("encoder_reparameterization_type", "MLP")).upper() == "LSTM":
                encoder += _lstm(hidden, dims.token_dim, int(cfg.get("encoder_num_layers", 2)))
                encoder += _linear("mlp_head.0", 2 * hidden, 2 * hidden) + _linear("mlp_head.2", 2 * hidden, dims.token_dim)
            else:
                encoder += _linear("mlp_head.0", dims.token_dim, hidden) + _linear("mlp_head.2", hidden, hidden)
                encoder += _linear("mlp_head.4", hidden, dims.token_dim)
    return encoder + [Tensor("", "prompt_embeddings", saved, trainable=False, added=False, parameter=False)]
