"""Build a ModuleTree from a torch module (the `[exact]` fallback and the tests' oracle).

Imports torch only when called: never on the lint path.
"""

from __future__ import annotations

from typing import Any

from peftlint.enrich.modules import Module, ModuleKind, ModuleTree


def _kind(module: Any) -> ModuleKind:
    import torch.nn as nn

    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.Embedding):
        return "embedding"
    if isinstance(module, nn.Conv2d):
        return "conv2d"
    if isinstance(module, nn.Conv3d):  # Qwen-VL's patch embeddings
        return "conv3d"
    if isinstance(module, nn.Conv1d):  # Whisper's stem, Qwen3.5's Gated DeltaNet
        return "torch_conv1d"
    if type(module).__name__ == "Conv1D":  # transformers.pytorch_utils.Conv1D, without importing transformers
        return "conv1d"
    return "other"


def _shape(module: Any, kind: ModuleKind) -> tuple[int | None, int | None]:
    if kind == "linear":
        return module.in_features, module.out_features
    if kind == "embedding":
        return module.num_embeddings, module.embedding_dim
    if kind == "conv1d":  # weight is (in, out)
        return int(module.weight.shape[0]), int(module.weight.shape[1])
    if kind in ("conv2d", "conv3d", "torch_conv1d"):
        return module.in_channels, module.out_channels
    return None, None


def module_tree(model: Any, model_type: str | None = None) -> ModuleTree:
    """Read the modules that directly own parameters, counting shared (tied) tensors once."""
    seen: dict[int, str] = {}
    modules: list[Module] = []
    tied: dict[str, str] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        own = list(module.named_parameters(recurse=False))
        if not own:
            continue
        fresh = [p for _, p in own if id(p) not in seen]
        if not fresh:
            tied[name] = seen[id(own[0][1])]
            continue
        shared = tuple(n for n, p in own if id(p) in seen)
        for _, p in own:
            seen.setdefault(id(p), name)
        kind = _kind(module)
        in_f, out_f = _shape(module, kind)
        bias = module._parameters.get("bias")
        modules.append(
            Module(
                name=name,
                kind=kind,
                in_features=in_f,
                out_features=out_f,
                bias=getattr(module, "bias", None) is not None,
                params=sum(p.numel() for p in fresh),
                bias_params=0 if bias is None else bias.numel(),
                tensors=tuple((n, tuple(int(d) for d in p.shape)) for n, p in own if n not in shared),
                shared=shared,
                transposed=bool(getattr(module, "is_transposed", False)),
            )
        )
    names = {id(m): n for n, m in model.named_modules()}

    def name_of(getter: str) -> str | None:
        found = getattr(model, getter, lambda: None)()
        return None if found is None else names.get(id(found))

    config = getattr(model, "config", None)
    config_type = getattr(config, "model_type", "unknown")  # a str on every transformers config
    # a multimodal model's layers are its language model's (the vision tower's are counted apart)
    text = getattr(config, "text_config", None) or config
    num_layers = int(getattr(text, "num_hidden_layers", 0) or getattr(text, "num_layers", 0) or 0)
    return ModuleTree(
        model_type=model_type or (config_type if isinstance(config_type, str) else "unknown"),
        modules=tuple(modules),
        total_params=sum(m.params for m in modules),
        num_layers=num_layers,
        tied=tied,
        input_embedding=name_of("get_input_embeddings"),
        output_embedding=name_of("get_output_embeddings"),
    )
