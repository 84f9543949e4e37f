"""How a run spreads over processes: DDP's `find_unused_parameters`, FSDP on CPU, and DeepSpeed as an extra.

- DDP: transformers' Trainer sets `find_unused_parameters=True` for any model that is not a `PreTrainedModel`
  (`Trainer._build_accelerator_args`), an extra traversal of the autograd graph every step. The objective says
  whether its step leaves a trainable parameter without a gradient (`Objective.has_unused_parameters`); an explicit
  `--ddp_find_unused_parameters` wins.
- FSDP on CPU: accelerate turns a run to FSDP only on an accelerator (`AcceleratorState.__init__` promotes
  MULTI_GPU, MULTI_XPU... to FSDP, never MULTI_CPU), so a CPU run with an FSDP config was wrapped in DDP, and
  without `use_cpu` the launched processes never formed one group (`PartialState._prepare_backend` picks gloo only
  for CPU runs). Here such a run joins one gloo group (`prepare_arguments`) and its Accelerator is turned to FSDP2
  (`enable_cpu_fsdp`): torch's `fully_shard` shards over gloo on CPU. FSDP1 and an accelerate without FSDP2 are
  refused there; on any device FSDP2 refuses methods that run the model at substituted weights
  (`Objective.interpolates_weights`, `has_custom_training_step`: `torch.func.functional_call`), and holds 0-d
  parameters as (1,) (`hold_scalars_as_vectors`).
- DeepSpeed is the optional extra `hfvideoclip[deepspeed]`; a run asking for it without it is refused.
"""

from __future__ import annotations

import importlib.util
import os

import torch
from torch import nn

DEEPSPEED_INSTALL = 'pip install "hfvideoclip[deepspeed]"'


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "false").strip().lower() in ("1", "true", "yes")


def deepspeed_requested(args) -> bool:
    """`--deepspeed <config>` or an `accelerate launch` DeepSpeed config (ACCELERATE_USE_DEEPSPEED)."""
    return bool(getattr(args, "deepspeed", None)) or _env_flag("ACCELERATE_USE_DEEPSPEED")


def fsdp_requested(args) -> bool:
    """`--fsdp` or an `accelerate launch` FSDP config (ACCELERATE_USE_FSDP)."""
    return bool(getattr(args, "fsdp", None)) or _env_flag("ACCELERATE_USE_FSDP")


def has_accelerator() -> bool:
    accelerator = getattr(torch, "accelerator", None)  # torch >= 2.6
    if accelerator is not None and hasattr(accelerator, "is_available"):
        return bool(accelerator.is_available())
    return torch.cuda.is_available()


def runs_on_cpu(args) -> bool:
    return bool(args.use_cpu) or _env_flag("ACCELERATE_USE_CPU") or not has_accelerator()


def prepare_arguments(args) -> None:
    """Before `TrainingArguments.__post_init__` builds the process group: refuse DeepSpeed without its package, and
    make an FSDP run on CPU one gloo group (`use_cpu`) so that `enable_cpu_fsdp` can shard it."""
    if deepspeed_requested(args) and importlib.util.find_spec("deepspeed") is None:
        raise ValueError(f"This run asks for DeepSpeed (--deepspeed or an accelerate DeepSpeed config such as "
                         f"recipes/accelerate/deepspeed_zero2.yaml) but deepspeed is not installed: "
                         f"{DEEPSPEED_INSTALL}.")
    if fsdp_requested(args) and runs_on_cpu(args):
        args.use_cpu = True


def fsdp_plugin(args):
    """The FSDP plugin the Trainer's Accelerator would get: from `--fsdp` / `--fsdp_config`, else from the
    environment `accelerate launch` sets (FSDP_VERSION, FSDP_AUTO_WRAP_POLICY...)."""
    from accelerate.utils import FullyShardedDataParallelPlugin

    plugin_args = getattr(args, "fsdp_plugin_args", None)
    return FullyShardedDataParallelPlugin(**plugin_args) if plugin_args else FullyShardedDataParallelPlugin()


def requested_fsdp_version(args) -> int:
    """1 or 2, read as accelerate's `FullyShardedDataParallelPlugin.__post_init__` does (its FSDP1 plugin cannot
    even be built on CPU with `sync_module_states`): `--fsdp_config`'s version, else FSDP_VERSION, else 1."""
    plugin_args = getattr(args, "fsdp_plugin_args", None) or {}
    if plugin_args.get("fsdp_version") is not None:
        return int(plugin_args["fsdp_version"])
    return int(os.environ.get("FSDP_VERSION", "1"))


def check_fsdp(args, objective_class=None) -> None:
    """Refuse, in one line, an FSDP run that could not shard: on CPU, anything but FSDP2; anywhere, FSDP2 with a
    method that runs the model at substituted weights."""
    from accelerate.utils import FullyShardedDataParallelPlugin

    if not fsdp_requested(args):
        return
    if runs_on_cpu(args):
        if "fsdp_version" not in getattr(FullyShardedDataParallelPlugin, "__dataclass_fields__", {}):
            import accelerate

            raise ValueError(f"FSDP on CPU shards with FSDP2 (torch's fully_shard), which accelerate "
                             f"{accelerate.__version__} lacks: pip install -U accelerate, or launch with "
                             "recipes/accelerate/ddp.yaml.")
        if requested_fsdp_version(args) != 2:
            raise ValueError(f"FSDP on CPU runs as FSDP2 only, and this run asks for fsdp_version "
                             f"{requested_fsdp_version(args)}: set `fsdp_version: 2` under fsdp_config in the "
                             "accelerate config (as recipes/accelerate/fsdp.yaml does) or `--fsdp_config "
                             "'{\"version\": 2}'`.")
    if objective_class is not None and requested_fsdp_version(args) == 2:
        # Seen on CPU: open_mede's meta step stops with "aten.convolution.default: got mixed torch.Tensor and
        # DTensor"; the same holds on any device, FSDP2 parameters being DTensors everywhere.
        uses = [why for flag, why in ((objective_class.interpolates_weights, "runs the model at interpolated weights"),
                                      (objective_class.has_custom_training_step, "runs a meta step at fast weights"))
                if flag]
        if uses:
            raise ValueError(f"--method {args.method} {uses[0]} (torch.func.functional_call), which FSDP2's sharded "
                             "parameters do not support: launch it with recipes/accelerate/ddp.yaml (DDP) instead.")


def hold_scalars_as_vectors(module: nn.Module) -> list[str]:
    """Replace every 0-d parameter of `module` (CLIP's `logit_scale`) by a (1,) one in place, as FSDP2 requires
    (torch `fully_shard`: "doesn't support scalar parameters. Change logit_scale to a 1D tensor with numel equal to
    1"); the model's math broadcasts it the same, and `ModelExporter.full_student` restores the scalar at export.
    Returns the replaced names."""
    replaced, done = [], {}
    for module_name, sub in module.named_modules(remove_duplicate=False):
        for name, param in list(sub._parameters.items()):
            if param is None or param.dim() != 0:
                continue
            if id(param) not in done:  # a parameter shared by two modules stays shared
                done[id(param)] = nn.Parameter(param.detach().reshape(1), requires_grad=param.requires_grad)
            sub._parameters[name] = done[id(param)]
            replaced.append(f"{module_name}.{name}" if module_name else name)
    return replaced


def enable_cpu_fsdp(accelerator, args) -> bool:
    """Turn the Accelerator of an FSDP run on CPU (left MULTI_CPU, i.e. DDP, by accelerate) to FSDP2, as
    `AcceleratorState.__init__` does on an accelerator; True when it did."""
    from accelerate.state import PartialState
    from accelerate.utils import DistributedType

    state = accelerator.state
    if not fsdp_requested(args) or state.distributed_type != DistributedType.MULTI_CPU:
        return False
    plugin = fsdp_plugin(args)
    if state.mixed_precision != "no":
        plugin.set_mixed_precision(state.mixed_precision)
    state.fsdp_plugin = plugin
    state.distributed_type = DistributedType.FSDP
    PartialState._shared_state["distributed_type"] = DistributedType.FSDP
    return True


__all__ = ["DEEPSPEED_INSTALL", "check_fsdp", "deepspeed_requested", "enable_cpu_fsdp", "fsdp_plugin",
           "fsdp_requested", "has_accelerator", "hold_scalars_as_vectors", "prepare_arguments",
           "requested_fsdp_version", "runs_on_cpu"]
