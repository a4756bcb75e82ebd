"""The launch files for the strategy `recommend` chose: a DeepSpeed JSON, an accelerate config, and
the keys axolotl, LLaMA-Factory and TRL files name them with.

Key names are the ones `peftlint.normalize.distributed` reads (DeepSpeed edaa7221 `runtime/zero/config.py`;
accelerate 16cb6eb8 `utils/dataclasses.py`, `commands/config`; axolotl 067b021c; LLaMA-Factory
ff6d4d12), so `peftlint estimate --deepspeed FILE` / `--accelerate-config FILE` read back the
same strategy and offload. Batch sizes, gradient accumulation, clipping and the learning rate are
`"auto"`: the HF Trainer fills them from its own arguments (transformers `integrations/deepspeed.py`).
"""

from __future__ import annotations

from typing import Any

from peftlint.enrich.analysis import Training
from peftlint.enrich.distributed import Plan
from peftlint.normalize.dialects import AXOLOTL, LLAMA_FACTORY, TRL
from peftlint.normalize.distributed import SHIPPED_DEEPSPEED

ZERO_STAGES = {"ddp": 0, "zero1": 1, "zero2": 2, "zero3": 3}
# accelerate's fsdp_sharding_strategy names (FSDP1 ShardingStrategy)
FSDP_SHARDING = {"fsdp": "FULL_SHARD", "fsdp-shard-grad-op": "SHARD_GRAD_OP", "fsdp-no-shard": "NO_SHARD", "fsdp-hybrid": "HYBRID_SHARD"}
_CPU = {"device": "cpu", "pin_memory": True}
# the configs each framework ships, best first (bf16 before the dtype-less ones), in SHIPPED_DEEPSPEED
SHIPPED_BY_DIALECT = {
    AXOLOTL: ("deepspeed_configs/", ("zero1.json", "zero2.json", "zero3_bf16.json", "zero3.json", "zero3_bf16_cpuoffload_params.json")),
    LLAMA_FACTORY: (
        "examples/deepspeed/",
        ("ds_z0_config.json", "ds_z2_config.json", "ds_z2_offload_config.json", "ds_z3_config.json", "ds_z3_offload_config.json"),
    ),
}


def mixed_precision(training: Training) -> str:
    return training.dtype if training.dtype in ("bf16", "fp16") else "no"


def deepspeed_config(plan: Plan, training: Training) -> dict[str, Any]:
    """A DeepSpeed JSON for a ZeRO plan (DDP is stage 0); ValueError for an FSDP plan."""
    if plan.strategy not in ZERO_STAGES:
        raise ValueError(f"the strategy is {plan.describe()}, not DeepSpeed: use --format accelerate")
    zero: dict[str, Any] = {"stage": ZERO_STAGES[plan.strategy]}
    if plan.offload in ("optimizer", "params"):
        zero["offload_optimizer"] = dict(_CPU)
    if plan.offload == "params":
        zero["offload_param"] = dict(_CPU)
    if plan.strategy == "zero3":
        # peft's DeepSpeed guide: gather the sharded weights when saving, else the adapter is saved empty
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    if plan.hpz_partition_size > 1:
        # ZeRO++ hierarchical partitioning (DeepSpeed runtime/zero/config.py `zero_hpz_partition_size`)
        zero["zero_hpz_partition_size"] = plan.hpz_partition_size
    config: dict[str, Any] = {}
    precision = mixed_precision(training)
    if precision != "no":
        config[precision] = {"enabled": True}
    # DeepSpeed's own optimizer: ZeRO-Offload steps it on the CPU (DeepSpeedCPUAdam)
    config["optimizer"] = {"type": "AdamW", "params": {"lr": "auto", "betas": "auto", "eps": "auto", "weight_decay": "auto"}}
    config["zero_optimization"] = zero
    config.update(
        gradient_accumulation_steps="auto", gradient_clipping="auto", train_batch_size="auto", train_micro_batch_size_per_gpu="auto"
    )
    return config


def _fsdp_config(plan: Plan, layer_classes: tuple[str, ...] = ()) -> dict[str, Any]:
    """`layer_classes`: the model's block classes (enrich.architecture.layer_classes). Named, FSDP
    wraps (and all-gathers) one block at a time, the unit the estimate's `gathered layers` assumes;
    unknown, the key is left out and accelerate falls back to the model's `_no_split_modules`
    itself (accelerate utils/dataclasses.py `set_auto_wrap_policy`)."""
    config: dict[str, Any] = {
        "fsdp_version": plan.fsdp_version,
        "fsdp_sharding_strategy": FSDP_SHARDING[plan.strategy],
        "fsdp_offload_params": plan.offload == "params",
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        # peft's FSDP guide: False keeps frozen and trainable parameters out of one FlatParameter
        "fsdp_use_orig_params": False,
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_sync_module_states": True,
        "fsdp_state_dict_type": "SHARDED_STATE_DICT",
    }
    if layer_classes:
        config["fsdp_transformer_layer_cls_to_wrap"] = ",".join(layer_classes)  # accelerate splits on ","
    return config


def accelerate_config(plan: Plan, training: Training, layer_classes: tuple[str, ...] = ()) -> dict[str, Any]:
    """An accelerate config (`accelerate launch --config_file`) for the plan; `layer_classes` name
    the blocks FSDP wraps (see `_fsdp_config`)."""
    kind = (
        "NO"
        if plan.strategy == "single"
        else "DEEPSPEED"
        if plan.engine == "deepspeed"
        else "FSDP"
        if plan.engine == "fsdp"
        else "MULTI_GPU"
    )
    config: dict[str, Any] = {
        "compute_environment": "LOCAL_MACHINE",
        "distributed_type": kind,
        "num_machines": plan.num_nodes,
        "num_processes": plan.num_gpus,
        "machine_rank": 0,
        "mixed_precision": mixed_precision(training),
    }
    if kind == "DEEPSPEED":
        config["deepspeed_config"] = {
            "zero_stage": ZERO_STAGES[plan.strategy],
            "offload_optimizer_device": "cpu" if plan.offload != "none" else "none",
            "offload_param_device": "cpu" if plan.offload == "params" else "none",
            "zero3_init_flag": plan.strategy == "zero3",
            "gradient_accumulation_steps": "auto",
        }
        if plan.strategy == "zero3":
            config["deepspeed_config"]["zero3_save_16bit_model"] = True
    elif kind == "FSDP":
        config["fsdp_config"] = _fsdp_config(plan, layer_classes)
    config.update(rdzv_backend="static", same_network=True, use_cpu=False)
    return config


def shipped_deepspeed(dialect: str, plan: Plan) -> str | None:
    """The framework's own config for the plan's ZeRO stage and offload, as its file names it."""
    folder, names = SHIPPED_BY_DIALECT.get(dialect, ("", ()))
    if plan.hpz_partition_size > 1:
        return None  # no shipped config sets ZeRO++: the file carries it inline
    wanted = {"stage": ZERO_STAGES.get(plan.strategy), "offload": plan.offload}
    return next((folder + name for name in names if SHIPPED_DEEPSPEED[name] == wanted), None)


def dialect_keys(dialect: str, plan: Plan, training: Training, layer_classes: tuple[str, ...] = ()) -> dict[str, Any]:
    """The training file's keys for the plan: `deepspeed:` (a shipped name, else the config inline),
    axolotl's and TRL's `fsdp` / `fsdp_config`; nothing for one GPU or DDP (the launcher's default)."""
    if plan.engine == "deepspeed":
        return {"deepspeed": shipped_deepspeed(dialect, plan) or deepspeed_config(plan, training)}
    if plan.engine != "fsdp" or dialect not in (AXOLOTL, TRL):
        return {}  # LLaMA-Factory runs FSDP from an accelerate config: --format accelerate writes it
    options = [FSDP_SHARDING[plan.strategy].lower(), "auto_wrap"] + (["offload"] if plan.offload == "params" else [])
    return {"fsdp": options if dialect == AXOLOTL else " ".join(options), "fsdp_config": _fsdp_config(plan, layer_classes)}
