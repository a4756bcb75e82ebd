"""Per-GPU training memory on several GPUs: DDP, DeepSpeed ZeRO-1/2/3, FSDP; pure arithmetic.

Takes the one-GPU estimate of `memory.estimate_training_memory` (what one unsharded device
holds) and says, term by term, what each rank keeps under a strategy:

| term                       | replicated              | divided by the shard group             |
|----------------------------|-------------------------|----------------------------------------|
| frozen base weights        | single, ddp, zero1/2,   | zero3, fsdp (all GPUs), fsdp-hybrid    |
|                            | fsdp-no-shard, shard-   | (the GPUs of one node)                 |
|                            | grad-op (whole between  |                                        |
|                            | forward and backward)   |                                        |
| trainable weights          | as the base weights     | as the base weights                    |
| gradients                  | single, ddp, zero1,     | zero2, zero3, fsdp, shard-grad-op,     |
|                            | fsdp-no-shard           | fsdp-hybrid (node)                     |
| optimizer states           | single, ddp,            | zero1/2/3, fsdp, shard-grad-op,        |
|                            | fsdp-no-shard           | fsdp-hybrid (node)                     |
| activations, logits, ...   | per micro-batch on every GPU, never divided                     |

Sharded parameters come back whole one wrapped unit at a time: `gathered_layers` is the
largest unit (a decoder layer, or the root unit of embeddings and head that FSDP1 keeps
gathered through the forward pass) plus the next one being prefetched, and their unsharded
gradients under full fine-tuning. `communication_buffers` are NCCL's per-communicator buffers
and DDP's gradient buckets. Offloading moves weights, gradients and optimizer states to host
RAM: `cpu_bytes` per node is the processes' own RAM plus the larger of what loading the
checkpoint needs and what is offloaded (loading is over before training starts). The busiest rank is the
one whose shard is rounded up.

Sources: DeepSpeed `estimate_zero2/3_model_states_mem_needs` (deepspeed/runtime/zero/
stage_1_and_2.py, stage3.py at edaa7221) for what each stage partitions and the fp32 master
copy; PyTorch FSDP `ShardingStrategy` docs for what each strategy reshards; accelerate
`concept_guides/fsdp_and_deepspeed.md` for DeepSpeed's fp32 flat parameters (docs/sources.md:
[deepspeed], [accelerate]). benchmarks/multigpu_calibration.py compares the result with published
per-GPU peaks row by row (docs/estimate.md).
"""

from typing import TYPE_CHECKING, Any, Mapping, NamedTuple

from peftlint.settings.profile import OFFLOADS, STRATEGIES

if TYPE_CHECKING:  # the memory model loads only when an estimate is made (`check` validates plans without it)
    from peftlint.enrich.memory import MemoryEstimate, ModelDims
DEEPSPEED = frozenset({"zero1", "zero2", "zero3"})
FSDP = frozenset({"fsdp", "fsdp-shard-grad-op", "fsdp-hybrid", "fsdp-no-shard"})
TITLES = {
    "single": "one GPU", "ddp": "DDP", "zero1": "DeepSpeed ZeRO-1", "zero2": "DeepSpeed ZeRO-2",
    "zero3": "DeepSpeed ZeRO-3", "fsdp": "FSDP", "fsdp-shard-grad-op": "FSDP SHARD_GRAD_OP",
    "fsdp-hybrid": "FSDP HYBRID_SHARD", "fsdp-no-shard": "FSDP NO_SHARD",
}  # fmt: skip

# Which states each strategy divides: (parameters, gradients, optimizer states). "node" divides
# by the GPUs of one node (hybrid sharding replicates across nodes).
_SHARDING: dict[str, tuple[str, str, str]] = {
    "single": ("one", "one", "one"),
    "ddp": ("one", "one", "one"),
    "fsdp-no-shard": ("one", "one", "one"),
    "zero1": ("one", "one", "all"),
    "zero2": ("one", "all", "all"),
    # SHARD_GRAD_OP keeps each unit's parameters gathered from its forward to its backward: at the
    # peak (the start of backward) every unit is whole
    "fsdp-shard-grad-op": ("one", "all", "all"),
    "zero3": ("all", "all", "all"),
    "fsdp": ("all", "all", "all"),
    "fsdp-hybrid": ("node", "node", "node"),
}

# Strategies that divide only gradients and optimizer states and keep every weight whole on every
# GPU (ZeRO-1/2, SHARD_GRAD_OP): what they save over DDP is the trainable parameters' states,
# which for an adapter are a sliver of the frozen weights (PL610)
STATE_SHARDING = frozenset(s for s, (params, grads, states) in _SHARDING.items() if params == "one" and "all" in (grads, states))

# NCCL's buffers per communicator (NCCL_BUFFSIZE 4 MiB x channels x peers, both directions) and
# the process group's own allocations; fitted, see benchmarks/multigpu_calibration.py.
NCCL_BYTES = 300_000_000
# Units gathered at once under FSDP / ZeRO-3: the one computing and the one prefetched
# (FSDP's backward_prefetch BACKWARD_PRE, DeepSpeed's stage3_prefetch_bucket_size).
PREFETCHED_UNITS = 2
# The caching allocator's reserve over what is allocated when whole units are gathered and freed
# every layer (FSDP, ZeRO-3, offloaded parameters): Answer.AI publishes both counters for the same
# FSDP runs (LoRA on Llama 2 7B: 8.28 -> 10.24 GiB at ctx 512, 9.16 -> 10.22 at ctx 2048;
# fsdp_qlora benchmarks_03_2024.md); this is their mean excess. nvidia-smi shows the reserve.
SHARDED_ALLOCATOR_SLACK = (10.24 / 8.28 + 10.22 / 9.16) / 2 - 1
# Host RAM of one training process besides the tensors (torch, CUDA runtime, the dataloader).
CPU_PROCESS_BYTES = 3_000_000_000


class Plan(NamedTuple):
    """How training is spread over GPUs. `num_gpus` counts every GPU of every node."""

    strategy: str = "single"
    num_gpus: int = 1
    num_nodes: int = 1
    offload: str = "none"  # none | optimizer | params (params: the optimizer too)
    fsdp_version: int = 1
    # FSDP1 with use_orig_params=True and frozen and trainable parameters in one wrapped unit:
    # the unit's FlatParameter gets a gradient for all of it (PyTorch warns "gradient memory usage
    # will be higher than expected"), sharded like the others
    mixed_flat_params: bool = False
    # FSDP2 under mixed precision (accelerate `mixed_precision: bf16`) casts the whole module to
    # fp32 before sharding, frozen weights included; FSDP1 upcasts only the trainable ones
    # (accelerate concept_guides/fsdp1_vs_fsdp2.md; accelerate#3844: FSDP2 + LoRA uses more memory)
    fp32_shards: bool = False
    # FSDP cpu_ram_efficient_loading / DeepSpeed zero3_init: rank 0 alone reads the checkpoint
    low_cpu_loading: bool = False
    # ZeRO++ hierarchical partitioning (DeepSpeed `zero_hpz_partition_size`): ZeRO-3 also keeps a
    # secondary copy of the 16-bit weights sharded over this many GPUs (one node's), from which the
    # backward all-gather reads, so it stays inside a node
    hpz_partition_size: int = 1

    @property
    def gpus_per_node(self) -> int:
        return self.num_gpus // self.num_nodes

    @property
    def engine(self) -> str:
        if self.strategy in DEEPSPEED:
            return "deepspeed"
        if self.strategy in FSDP:
            return "fsdp"
        return self.strategy

    def describe(self) -> str:
        """`FSDP over 4 GPUs`, `DeepSpeed ZeRO-3 over 16 GPUs on 2 nodes, optimizer offloaded to CPU`."""
        if self.strategy == "single":
            return "one GPU"
        text = f"{TITLES[self.strategy]} over {self.num_gpus} GPUs"
        if self.hpz_partition_size > 1:
            text = f"{TITLES[self.strategy]} with ZeRO++ hpZ over {self.num_gpus} GPUs"
        if self.num_nodes > 1:
            text += f" on {self.num_nodes} nodes"
        if self.offload != "none":
            text += ", " + ("optimizer" if self.offload == "optimizer" else "parameters and optimizer") + " offloaded to CPU"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "num_gpus": self.num_gpus, "num_nodes": self.num_nodes, "offload": self.offload}


def check_plan(plan: Plan) -> Plan:
    """The plan, or ValueError saying which setting contradicts which."""
    if plan.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy `{plan.strategy}`: use one of {', '.join(STRATEGIES)}")
    if plan.offload not in OFFLOADS:
        raise ValueError(f"unknown offload `{plan.offload}`: use one of {', '.join(OFFLOADS)}")
    for name in ("num_gpus", "num_nodes"):
        value = getattr(plan, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a whole number of at least 1, got {value!r}")
    if plan.num_gpus % plan.num_nodes:
        raise ValueError(f"{plan.num_gpus} GPUs cannot be spread evenly over {plan.num_nodes} nodes")
    if plan.strategy == "single" and plan.num_gpus > 1:
        raise ValueError(f"strategy `single` runs on one GPU, not {plan.num_gpus}: choose ddp, zero1-3 or an fsdp strategy")
    if plan.offload != "none" and plan.strategy not in DEEPSPEED | FSDP:
        raise ValueError(f"offloading to CPU needs DeepSpeed ZeRO or FSDP, not `{plan.strategy}`")
    if plan.offload == "params" and plan.strategy in ("zero1", "zero2"):
        raise ValueError(f"DeepSpeed offloads parameters (`offload_param`) only at ZeRO stage 3, not with `{plan.strategy}`")
    if plan.offload == "optimizer" and plan.strategy in FSDP:
        raise ValueError(
            "FSDP offloads parameters, gradients and optimizer together (CPUOffload(offload_params=True)): use offload `params`"
        )
    hpz = plan.hpz_partition_size
    if isinstance(hpz, bool) or not isinstance(hpz, int) or hpz < 1:
        raise ValueError(f"`zero_hpz_partition_size` must be a whole number of at least 1, got {hpz!r}")
    if hpz > 1 and plan.strategy != "zero3":
        raise ValueError(f"ZeRO++ hpZ (`zero_hpz_partition_size`) partitions ZeRO-3's weights: it needs stage 3, not `{plan.strategy}`")
    if hpz > 1 and plan.num_gpus % hpz:
        raise ValueError(f"`zero_hpz_partition_size` {hpz} does not divide the {plan.num_gpus} GPUs")
    if plan.strategy == "fsdp-hybrid" and plan.num_nodes == 1:
        raise ValueError("HYBRID_SHARD shards within a node and replicates across nodes: with one node it is FULL_SHARD (`fsdp`)")
    return plan


def default_strategy(num_gpus: int) -> str:
    """What a plain launch does on `num_gpus`: the Trainer (and accelerate) wrap the model in DDP."""
    return "ddp" if num_gpus > 1 else "single"


class DistributedEstimate(NamedTuple):
    """The busiest GPU's estimate, host RAM per node, and the plan; `to_dict` is estimate's JSON."""

    total_bytes: int
    breakdown: dict[str, int]
    assumptions: dict[str, Any]
    cpu_bytes: int
    cpu_breakdown: dict[str, int]
    plan: Plan

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_bytes": self.total_bytes,
            "breakdown": dict(self.breakdown),
            "assumptions": dict(self.assumptions),
            "cpu_bytes": self.cpu_bytes,
            "cpu_breakdown": dict(self.cpu_breakdown),
            "distributed": self.plan.to_dict(),
        }


def _ceil_div(value: float, parts: int) -> int:
    return -(-round(value) // parts)


def _unit_bytes(model: "ModelDims", base_weights: float, frozen_params: int, quantized_fraction: float) -> tuple[int, int]:
    """(one decoder layer, the root unit) of the frozen weights, in bytes as stored.

    A layer's share of the base weights is its share of the quantized (block) bytes when the
    base is quantized, else its share of the parameters; the root unit is everything outside
    the layers (embeddings, final norm, an untied head)."""
    layer_params = model.linear_params_per_layer + 2 * model.hidden_size
    if quantized_fraction:
        quantized_bytes = base_weights * quantized_fraction
        layer = quantized_bytes * model.linear_params_per_layer / max(model.block_linear_params, 1)
    else:
        layer = base_weights * layer_params / max(frozen_params, 1)
    root = max(base_weights - model.num_layers * layer, 0)
    return round(layer), round(root)


def distribute(
    single: "MemoryEstimate",
    model: "ModelDims",
    plan: Plan,
    *,
    total_params: int,
    trainable_params: int,
    compute_dtype: str = "bf16",
    quantized_fraction: float = 0.0,
    deepspeed_fp32_states: bool = True,
) -> DistributedEstimate:
    """What the busiest of `plan.num_gpus` GPUs holds, from the one-GPU estimate `single`.

    `quantized_fraction`: the share of `single`'s base-weight bytes that are quantized block
    weights (0 for a 16-bit base). `compute_dtype`: the autocast / weight dtype DeepSpeed casts
    the model to (its `bf16` / `fp16` section).
    """
    from peftlint.enrich.memory import DTYPE_BYTES, optimizer_step_bytes

    plan = check_plan(plan)
    terms = dict(single.breakdown)
    assumptions = dict(single.assumptions)
    n_all, n_node = plan.num_gpus, plan.gpus_per_node
    shards = {"one": 1, "all": n_all, "node": n_node}
    param_shards, grad_shards, optim_shards = (shards[kind] for kind in _SHARDING[plan.strategy])
    frozen_params = total_params - trainable_params
    per_rank_cpu: dict[str, float] = {}

    # bytes; fractional once scaled (fp32 shards, DeepSpeed's fp32 states)
    base: float = terms.get("base_weights", 0)
    trainable = terms.get("trainable_weights", 0)
    grads = terms.get("gradients", 0)
    states: float = terms.get("optimizer_states", 0)
    # bitsandbytes' paged states (memory.PAGED_MIN_ELEMENTS) divide like the others; DeepSpeed
    # steps its own partitioned optimizer, so there they are ordinary states
    paged = terms.pop("paged_optimizer_states", 0)
    if plan.engine == "deepspeed":
        states, paged = states + paged, 0
    trainable_bytes = trainable / trainable_params if trainable_params else 4
    compute_bytes = DTYPE_BYTES[compute_dtype]
    if plan.engine == "deepspeed" and trainable_params:
        # DeepSpeed casts the whole module to its bf16/fp16 dtype and keeps the trainable
        # parameters' fp32 master copy (and fp32 optimizer states) in the optimizer partition
        trainable = trainable_params * compute_bytes
        grads = trainable_params * compute_bytes
        master = trainable_params * 4 if compute_bytes < 4 else 0
        if deepspeed_fp32_states and trainable_bytes < 4:
            states = states * 4 / trainable_bytes
        states += master
        assumptions["deepspeed"] = "module cast to the compute dtype; fp32 master weights and optimizer states partitioned"

    layer, root = _unit_bytes(model, base, frozen_params, quantized_fraction)
    gpu: dict[str, float] = {}
    offload_params = plan.offload == "params"
    offload_optimizer = plan.offload in ("optimizer", "params")
    if plan.fp32_shards and plan.engine == "fsdp" and plan.fsdp_version == 2 and not quantized_fraction and frozen_params:
        upcast = frozen_params * 4 / base if base else 1.0
        if upcast > 1:  # the stored shards only: units are still gathered in the compute dtype
            base = base * upcast
            assumptions["fsdp2_mixed_precision"] = "FSDP2 keeps every sharded weight in fp32 under mixed precision"
    gpu["base_weights"] = 0 if offload_params else _ceil_div(base, param_shards)
    gpu["trainable_weights"] = 0 if offload_params else _ceil_div(trainable, param_shards)
    for name in ("autocast_weight_copies",):
        if name in terms:
            gpu[name] = _ceil_div(terms[name], param_shards)
    # FSDP's CPU offload keeps the sharded gradients on the host as well
    grads_on_cpu = offload_params and plan.engine == "fsdp"
    gpu["gradients"] = 0 if grads_on_cpu else _ceil_div(grads, grad_shards)
    if plan.mixed_flat_params and plan.engine == "fsdp" and plan.fsdp_version == 1 and trainable_params < total_params:
        # the frozen part of every FlatParameter gets a gradient too, in the weights' dtype
        frozen_grads = base if not quantized_fraction else 0
        gpu["gradients"] += 0 if grads_on_cpu else _ceil_div(frozen_grads, grad_shards)
        assumptions["flat_parameters"] = (
            "FSDP1 use_orig_params with frozen and trainable parameters in one unit: gradients for the whole unit"
        )
    gpu["optimizer_states"] = 0 if offload_optimizer else _ceil_div(states, optim_shards)
    if paged and not offload_optimizer:
        gpu["paged_optimizer_states"] = _ceil_div(paged, optim_shards)
    if param_shards > 1 or offload_params:
        # the unit being computed and the one prefetched come back whole, with their gradients
        # before reduce-scatter when the unit trains (full fine-tuning)
        trainable_layer = grads * (model.linear_params_per_layer / max(trainable_params, 1)) if trainable_params == total_params else 0
        gathered = max(layer, root) + (PREFETCHED_UNITS - 1) * layer + min(trainable_layer, grads)
        gpu["gathered_layers"] = gathered
    for name, value in terms.items():
        if name not in gpu and name not in ("base_weights", "trainable_weights", "gradients", "optimizer_states", "optimizer_step"):
            gpu[name] = value  # activations, logits, dequantized weights, prefix cache, CUDA context
    if "optimizer_step" in assumptions and plan.engine != "deepspeed" and not offload_optimizer:
        # each rank steps its own shard of the states (DeepSpeed steps with its own fused optimizer)
        step = optimizer_step_bytes(gpu["optimizer_states"], gpu)
        if step:
            gpu["optimizer_step"] = step
    if (param_shards > 1 or offload_params) and "framework_overhead" in terms:
        # the device total (what the fit checks use) includes the allocator's reserve, which
        # gathering and freeing a unit per layer inflates
        gpu["allocator_slack"] = SHARDED_ALLOCATOR_SLACK * sum(
            v for k, v in gpu.items() if k not in ("framework_overhead", "paged_optimizer_states")
        )
    if plan.hpz_partition_size > 1 and not offload_params:
        gpu["secondary_weights"] = _ceil_div(base + trainable, plan.hpz_partition_size)
        assumptions["zero++"] = (
            f"hpZ: a second copy of the weights sharded over {plan.hpz_partition_size} GPUs, for the backward all-gather"
        )
    if n_all > 1:
        comm = NCCL_BYTES
        if plan.strategy == "ddp":
            comm += grads  # the Reducer's flat buckets hold a second copy of every gradient
        gpu["communication_buffers"] = comm

    if offload_optimizer:
        per_rank_cpu["optimizer_states"] = (states + paged) / optim_shards
    if offload_params:
        stored = n_all if plan.strategy == "fsdp-shard-grad-op" else param_shards  # SHARD_GRAD_OP stores shards
        per_rank_cpu["base_weights"] = base / stored
        per_rank_cpu["trainable_weights"] = trainable / stored
        if grads_on_cpu:
            per_rank_cpu["gradients"] = grads / grad_shards
    cpu = {name: round(value * n_node) for name, value in per_rank_cpu.items()}
    # Loading: every rank reads the whole checkpoint into host RAM unless only rank 0 does
    # (FSDP cpu_ram_efficient_loading, ZeRO-3 zero3_init). It is over before anything is
    # offloaded: the host's peak is the processes plus the larger of the two phases.
    loaders = 1 if plan.low_cpu_loading or plan.num_gpus == 1 else n_node
    cpu["checkpoint_loading"] = loaders * total_params * compute_bytes
    cpu["process"] = n_node * CPU_PROCESS_BYTES
    offloaded = sum(cpu[name] for name in per_rank_cpu)
    cpu_bytes = cpu["process"] + max(cpu["checkpoint_loading"], offloaded)

    rounded = {name: round(value) for name, value in gpu.items()}
    assumptions["devices"] = plan.describe() + (f", {n_node} per node" if plan.num_nodes > 1 else "")
    if plan.strategy != "single":
        assumptions["sharding"] = _sharding_text(param_shards, grad_shards, optim_shards, plan)
    assumptions["busiest_gpu"] = "a shard rounded up; activations are per micro-batch on every GPU"
    return DistributedEstimate(
        total_bytes=sum(rounded.values()),
        breakdown=rounded,
        assumptions=assumptions,
        cpu_bytes=cpu_bytes,
        cpu_breakdown=cpu,
        plan=plan,
    )


def versus_ddp(current: DistributedEstimate, ddp: DistributedEstimate, sharded: DistributedEstimate) -> dict[str, Any]:
    """How much a state-sharding plan (ZeRO-1/2, SHARD_GRAD_OP) saves per GPU over DDP on the same
    GPUs, and what sharding the weights too (`sharded`: ZeRO-3 or FSDP FULL_SHARD) would hold;
    the facts document's `model.memory.versus_ddp`."""
    saving = (ddp.total_bytes - current.total_bytes) / ddp.total_bytes
    return {
        "title": TITLES[current.plan.strategy],
        "ddp_bytes": ddp.total_bytes,
        # of DDP's per-GPU peak; negative when the strategy holds more (DeepSpeed's fp32 master copy)
        "saving_fraction": round(saving, 4),
        # truncated, not rounded: a 4.98% saving under PL610's 5% reads 4.9%, not 5.0%
        "saving_percent": int(1000 * saving) / 10,
        "sharded_plan": sharded.plan.describe(),
        "sharded_bytes": sharded.total_bytes,
        "sharded_saving_bytes": current.total_bytes - sharded.total_bytes,
    }


def _sharding_text(params: int, grads: int, states: int, plan: Plan) -> str:
    def part(name: str, shards: int) -> str:
        return f"{name} /{shards}" if shards > 1 else f"{name} replicated"

    text = ", ".join((part("weights", params), part("gradients", grads), part("optimizer states", states)))
    if plan.offload != "none":
        text += "; " + ("optimizer states" if plan.offload == "optimizer" else "weights, optimizer states") + " on the CPU"
    return text


def plan_from(settings: Mapping[str, Any]) -> Plan:
    """A Plan from flat settings (profile fields, flags): strategy defaults to what a plain
    launch on that many GPUs does."""
    num_gpus = int(settings.get("num_gpus") or 1)
    strategy = settings.get("strategy") or default_strategy(num_gpus)
    return check_plan(
        Plan(
            strategy=strategy,
            num_gpus=num_gpus,
            num_nodes=int(settings.get("num_nodes") or 1),
            offload=settings.get("offload") or "none",
            fsdp_version=int(settings.get("fsdp_version") or 1),
            mixed_flat_params=bool(settings.get("mixed_flat_params")),
            fp32_shards=bool(settings.get("fp32_shards")),
            low_cpu_loading=bool(settings.get("low_cpu_loading")),
            hpz_partition_size=int(settings.get("hpz_partition_size") or 1),
        )
    )
