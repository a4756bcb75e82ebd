"""The module tree PEFT sees: every module that directly holds parameters.

Two sources build it: `architecture` (from config.json as plain JSON, the light default)
and `torch_tree` (from a live or meta-device torch module: the `[exact]` fallback and the
oracle in tests). Everything downstream (target matching, counts, memory) reads only this.
"""

from typing import Literal, Mapping, NamedTuple

# "conv1d" is transformers' Conv1D (GPT-2's linear layers); "torch_conv1d" is torch's nn.Conv1d
ModuleKind = Literal["linear", "conv1d", "embedding", "conv2d", "conv3d", "torch_conv1d", "other"]


class Module(NamedTuple):
    name: str  # dotted name exactly as in `model.named_modules()`
    kind: ModuleKind  # "conv1d" is transformers' Conv1D (GPT-2 style, weight stored in x out)
    in_features: int | None  # embedding: num_embeddings; other: None
    out_features: int | None  # embedding: embedding_dim; other: None
    bias: bool
    params: int  # parameters held directly by this module (weight + bias, or e.g. LayerNorm's)
    # elements of its own `bias` parameter; None when the builder did not record it (counts then
    # assume out_features for linear-like layers and half of `params` for norm layers)
    bias_params: int | None = None
    # its own parameters by name and shape, in registration order: what LoRA's `target_parameters`
    # matches and wraps (e.g. a fused-MoE `experts` module's gate_up_proj (E, 2I, H), down_proj (E, H, I))
    tensors: tuple[tuple[str, tuple[int, ...]], ...] = ()
    shared: tuple[str, ...] = ()  # names of its parameters first registered by another module (tied)
    transposed: bool = False  # transformers' `is_transposed` experts: 3-d weights stored (experts, in, out)


class ModuleTree(NamedTuple):
    model_type: str
    modules: tuple[Module, ...]  # in `named_modules()` order; tied parameters listed once, at their owner
    total_params: int  # as `model.num_parameters()` counts it: tied weights once
    num_layers: int  # repeated blocks of the main stack (decoder's for encoder-decoder models)
    tied: Mapping[str, str]  # module name -> module whose weight it shares
    # the modules `model.get_input_embeddings()` / `get_output_embeddings()` return (None: none,
    # e.g. a classifier has no output embedding); `all-linear` leaves the output one out, a tied
    # output embedding is a Linear over its owner's weight, and `save_pretrained` writes both
    # when they are adapted
    input_embedding: str | None = None
    output_embedding: str | None = None

    def by_name(self) -> dict[str, Module]:
        return {m.name: m for m in self.modules}
