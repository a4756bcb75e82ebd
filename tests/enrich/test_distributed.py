"""The distributed layer's arithmetic on a small model whose every number is worked out by hand."""

from __future__ import annotations

import pytest

from peftlint.enrich.distributed import (
    CPU_PROCESS_BYTES,
    NCCL_BYTES,
    SHARDED_ALLOCATOR_SLACK,
    STATE_SHARDING,
    Plan,
    check_plan,
    distribute,
    plan_from,
    versus_ddp,
)
from peftlint.enrich.memory import MemoryEstimate, ModelDims

# hidden 4, 2 layers, 1 head of 4, MLP 8 (plain): per layer 2*4*4 + 2*4*4 attention + 2*4*8 MLP
# = 128 weights + 2 norms of 4 = 136 parameters; 2 layers = 272, the rest (embeddings, final
# norm) 68 of the 340 frozen parameters.
TINY = ModelDims(
    model_type="tiny", hidden_size=4, num_layers=2, num_attention_heads=1, num_key_value_heads=1, head_dim=4,
    intermediate_size=8, vocab_size=10, max_position_embeddings=None, gated_mlp=False,
)  # fmt: skip
FROZEN, TRAINABLE = 340, 20
# bf16 base (2 bytes), fp32 adapters (peft's upcast), AdamW: 2 states of 4 bytes
SINGLE = MemoryEstimate(
    total_bytes=2500,
    breakdown={
        "base_weights": 680, "trainable_weights": 80, "gradients": 80, "optimizer_states": 160,
        "activations": 1000, "framework_overhead": 500,
    },
    assumptions={},
)  # fmt: skip
PER_BATCH = 1000 + 500  # activations and CUDA context: the same on every GPU
LAYER, ROOT = 680 * 136 // 340, 680 - 2 * 272  # 272 and 136 bytes


def run(strategy: str, gpus: int = 4, **plan: object) -> object:
    return distribute(SINGLE, TINY, Plan(strategy, gpus, **plan), total_params=FROZEN + TRAINABLE, trainable_params=TRAINABLE)


def test_without_the_cuda_context_there_is_no_device_reserve() -> None:
    allocated_only = SINGLE._replace(breakdown={k: v for k, v in SINGLE.breakdown.items() if k != "framework_overhead"})
    result = distribute(allocated_only, TINY, Plan("fsdp", 4), total_params=FROZEN + TRAINABLE, trainable_params=TRAINABLE)
    assert "allocator_slack" not in result.breakdown  # what max_memory_allocated counts


def test_one_gpu_is_the_one_gpu_estimate() -> None:
    result = run("single", 1)
    assert result.breakdown == SINGLE.breakdown
    assert result.total_bytes == SINGLE.total_bytes
    assert result.to_dict()["distributed"] == {"strategy": "single", "num_gpus": 1, "num_nodes": 1, "offload": "none"}


def test_ddp_replicates_everything_and_adds_gradient_buckets() -> None:
    result = run("ddp")
    assert result.breakdown["base_weights"] == 680
    assert result.breakdown["optimizer_states"] == 160
    assert result.breakdown["communication_buffers"] == NCCL_BYTES + 80  # a second copy of the gradients
    assert "gathered_layers" not in result.breakdown
    assert result.total_bytes == 680 + 80 + 80 + 160 + PER_BATCH + NCCL_BYTES + 80


def test_fsdp_full_shard_divides_weights_gradients_and_states_and_gathers_two_units() -> None:
    result = run("fsdp")
    assert result.breakdown["base_weights"] == 170
    assert result.breakdown["trainable_weights"] == 20
    assert result.breakdown["gradients"] == 20
    assert result.breakdown["optimizer_states"] == 40
    assert result.breakdown["gathered_layers"] == max(LAYER, ROOT) + LAYER == 544
    # gathering and freeing a unit per layer leaves the caching allocator holding more than is allocated
    allocated = 170 + 20 + 20 + 40 + 544 + 1000
    assert result.breakdown["allocator_slack"] == round(SHARDED_ALLOCATOR_SLACK * allocated)
    assert result.total_bytes == allocated + round(SHARDED_ALLOCATOR_SLACK * allocated) + 500 + NCCL_BYTES


def test_zero_stages_divide_states_then_gradients_then_weights() -> None:
    # DeepSpeed casts the adapters to bf16 (2 bytes) and keeps an fp32 master copy (4 bytes) with the states
    zero1, zero2, zero3 = run("zero1"), run("zero2"), run("zero3")
    assert zero1.breakdown["trainable_weights"] == zero2.breakdown["trainable_weights"] == 40
    assert zero1.breakdown["gradients"] == 40 and zero2.breakdown["gradients"] == 10
    assert zero1.breakdown["optimizer_states"] == zero2.breakdown["optimizer_states"] == (160 + 80) // 4
    assert zero1.breakdown["base_weights"] == zero2.breakdown["base_weights"] == 680
    assert zero3.breakdown["base_weights"] == 170 and zero3.breakdown["trainable_weights"] == 10
    assert zero3.breakdown["gathered_layers"] == 544


def test_shard_grad_op_keeps_weights_whole_and_hybrid_shards_within_a_node() -> None:
    sgo = run("fsdp-shard-grad-op")
    assert sgo.breakdown["base_weights"] == 680 and sgo.breakdown["gradients"] == 20
    assert "gathered_layers" not in sgo.breakdown
    hybrid = run("fsdp-hybrid", 8, num_nodes=2)
    assert hybrid.breakdown["base_weights"] == 170  # 4 GPUs per node
    assert hybrid.breakdown["optimizer_states"] == 40
    no_shard = run("fsdp-no-shard")
    assert no_shard.breakdown["base_weights"] == 680 and no_shard.breakdown["gradients"] == 80


def test_state_sharding_strategies_keep_the_weights_whole_and_divide_gradients_or_states() -> None:
    assert STATE_SHARDING == {"zero1", "zero2", "fsdp-shard-grad-op"}


def test_versus_ddp_is_what_zero2_saves_over_ddp_and_what_zero3_would_hold() -> None:
    ddp, zero2, zero3 = run("ddp"), run("zero2"), run("zero3")
    facts = versus_ddp(zero2, ddp, zero3)
    # DDP's gradient buckets (80), gradients 80 -> 10, states and master copy 160 -> 60, adapters
    # cast to bf16 80 -> 40: all an adapter's, the frozen 680 stay whole
    assert facts["ddp_bytes"] - zero2.total_bytes == 80 + 70 + 100 + 40 == 290
    assert facts["saving_fraction"] == round(290 / ddp.total_bytes, 4) and facts["saving_percent"] == int(290000 / ddp.total_bytes) / 10
    assert facts["title"] == "DeepSpeed ZeRO-2" and facts["sharded_plan"] == "DeepSpeed ZeRO-3 over 4 GPUs"
    assert facts["sharded_bytes"] == zero3.total_bytes
    assert facts["sharded_saving_bytes"] == zero2.total_bytes - zero3.total_bytes


def test_the_busiest_rank_holds_the_rounded_up_shard() -> None:
    odd = SINGLE._replace(breakdown={**SINGLE.breakdown, "base_weights": 681})
    result = distribute(odd, TINY, Plan("fsdp", 4), total_params=FROZEN + TRAINABLE, trainable_params=TRAINABLE)
    assert result.breakdown["base_weights"] == 171


def test_offloading_moves_states_and_weights_to_the_host_of_each_node() -> None:
    optimizer = run("zero2", offload="optimizer")
    assert optimizer.breakdown["optimizer_states"] == 0
    assert optimizer.cpu_breakdown["optimizer_states"] == 4 * (240 // 4)  # 4 ranks on the node
    params = run("zero3", offload="params")
    assert params.breakdown["base_weights"] == params.breakdown["trainable_weights"] == 0
    assert params.breakdown["optimizer_states"] == 0
    assert params.breakdown["gathered_layers"] == 544  # the unit computing still comes to the GPU
    assert params.cpu_breakdown["base_weights"] == 680 and params.cpu_breakdown["trainable_weights"] == 40
    fsdp = run("fsdp", offload="params")
    assert fsdp.breakdown["gradients"] == 0 and fsdp.cpu_breakdown["gradients"] == 80


def test_host_ram_is_the_processes_and_the_larger_of_loading_and_offloading() -> None:
    # every rank reads the whole checkpoint (360 params x 2 bytes) unless rank 0 alone does
    assert run("fsdp").cpu_breakdown == {"checkpoint_loading": 4 * 360 * 2, "process": 4 * CPU_PROCESS_BYTES}
    assert run("fsdp").cpu_bytes == 4 * 360 * 2 + 4 * CPU_PROCESS_BYTES
    assert run("fsdp", low_cpu_loading=True).cpu_breakdown["checkpoint_loading"] == 360 * 2
    offloaded = run("zero3", offload="params", low_cpu_loading=True)
    assert offloaded.cpu_bytes == 4 * CPU_PROCESS_BYTES + 240 + 680 + 40  # states, weights, adapters


def test_fsdp1_flat_parameters_mixing_frozen_and_trainable_get_gradients_for_all_of_it() -> None:
    assert run("fsdp", mixed_flat_params=True).breakdown["gradients"] == 20 + 680 // 4
    assert run("fsdp", mixed_flat_params=True, fsdp_version=2).breakdown["gradients"] == 20


def test_full_fine_tuning_gathers_the_unsharded_gradients_of_a_unit() -> None:
    full = MemoryEstimate(
        total_bytes=0,
        breakdown={"base_weights": 0, "trainable_weights": 720, "gradients": 720, "optimizer_states": 1440},
        assumptions={},
    )
    result = distribute(full, TINY, Plan("fsdp", 4), total_params=360, trainable_params=360)
    # a layer's 128 weights' gradients at 2 bytes each, before reduce-scatter
    assert result.breakdown["gathered_layers"] == 720 * 128 // 360
    assert result.breakdown["optimizer_states"] == 360


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (Plan("zero4", 2), "unknown strategy `zero4`"),
        (Plan("single", 2), "runs on one GPU"),
        (Plan("ddp", 2, offload="optimizer"), "needs DeepSpeed ZeRO or FSDP"),
        (Plan("zero2", 2, offload="params"), "only at ZeRO stage 3"),
        (Plan("fsdp", 2, offload="optimizer"), "use offload `params`"),
        (Plan("fsdp", 6, num_nodes=4), "cannot be spread evenly"),
        (Plan("fsdp-hybrid", 4), "with one node it is FULL_SHARD"),
        (Plan("ddp", 0), "at least 1"),
        (Plan("zero2", 8, num_nodes=2, hpz_partition_size=4), "it needs stage 3, not `zero2`"),
        (Plan("zero3", 6, hpz_partition_size=4), "does not divide the 6 GPUs"),
    ],
)
def test_contradictory_plans_are_refused_with_the_reason(plan: Plan, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_plan(plan)


def test_several_gpus_without_a_strategy_are_ddp() -> None:
    assert plan_from({"num_gpus": 4}).strategy == "ddp"
    assert plan_from({}).strategy == "single"
    assert plan_from({"num_gpus": 8, "num_nodes": 2, "strategy": "zero3", "offload": "params"}).describe() == (
        "DeepSpeed ZeRO-3 over 8 GPUs on 2 nodes, parameters and optimizer offloaded to CPU"
    )


def test_fsdp2_under_mixed_precision_keeps_fp32_shards_of_the_frozen_weights() -> None:
    # 340 frozen parameters in fp32 instead of bf16: 1360 bytes, a quarter per GPU; FSDP1 leaves them
    assert run("fsdp", fsdp_version=2, fp32_shards=True).breakdown["base_weights"] == 1360 // 4
    assert run("fsdp", fsdp_version=1, fp32_shards=True).breakdown["base_weights"] == 170
    assert run("fsdp", fsdp_version=2).breakdown["base_weights"] == 170


def test_zero_plus_plus_hpz_keeps_a_second_copy_of_the_weights_sharded_within_a_node() -> None:
    plain = run("zero3", 8, num_nodes=2)
    hpz = run("zero3", 8, num_nodes=2, hpz_partition_size=4)
    # DeepSpeed casts the adapters to bf16 (20 x 2 bytes); the secondary copy is 1/4 of weights and adapters
    assert hpz.breakdown["secondary_weights"] == -(-(680 + 40) // 4)
    assert {k: v for k, v in hpz.breakdown.items() if k != "secondary_weights"} == plain.breakdown
    assert "hpZ" in hpz.assumptions["zero++"] and hpz.plan.describe() == "DeepSpeed ZeRO-3 with ZeRO++ hpZ over 8 GPUs on 2 nodes"
    assert plan_from({"strategy": "zero3", "num_gpus": 8, "num_nodes": 2, "hpz_partition_size": 4}).hpz_partition_size == 4
