# Copyright (c) OpenMMLab. All rights reserved.
r"""Parameter-efficient fine-tuning: freeze a host segmentor, add adapters.

A segmentor's ``adapt_cfg`` (see
:class:`~mmvlsm.models.segmentors.TextPromptedSegmentor`) is applied by
:func:`adapt_model` once the host is built and its weights loaded::

    adapt_cfg = dict(
        # optional: host weights from a checkpoint (e.g. a converted CRIS)
        host_checkpoint=None,
        # optional: modules of the model that the host checkpoint does not
        # have (a new head, adapters built into blocks); they keep their
        # init, and the checkpoint's weights under them are not used.
        # Entries as in `trainable`.
        new_modules=[],
        # host modules (name prefixes) that still train, e.g. ['decoder'],
        # or parameters by regular expression ('re:' + pattern, matched
        # against whole parameter names, e.g. r're:.*\.prompts\.4')
        trainable=[],
        # adapter configs, see mmvlsm.models.adapters.inserters
        adapters=[dict(type='ResidualAdapters', modules=..., hidden_dims=64)],
        # optional: regular expression of host layers whose activations are
        # recomputed in the backward pass instead of kept (less memory,
        # about one more forward pass of those layers)
        checkpoint=None)

Everything of the host but ``trainable`` is frozen. Checkpoints of an
adapted model then hold only what trains (adapters and ``trainable``
modules, with their buffers): the config names the host weights, and
loading such a checkpoint onto the model built from the config gives the
trained model back exactly.
"""
import re
from functools import partial
from typing import Dict, Iterable, List, Set

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint

from mmvlsm.registry import MODELS

ADAPT_CFG_KEYS = ('host_checkpoint', 'new_modules', 'trainable', 'adapters',
                  'checkpoint')


def adapt_model(model: nn.Module, adapt_cfg: dict) -> nn.ModuleList:
    """Freeze ``model`` and attach the adapters of ``adapt_cfg``.

    Args:
        model (nn.Module): The host segmentor, built and with its weights.
        adapt_cfg (dict): ``host_checkpoint``, ``new_modules``,
            ``trainable``, ``adapters`` and ``checkpoint``, see the module
            docstring.

    Returns:
        nn.ModuleList: The built adapter configs, in order; the segmentor
        keeps them and calls their ``adapt_features``.
    """
    unknown = set(adapt_cfg) - set(ADAPT_CFG_KEYS)
    if unknown:
        raise ValueError(f'Unknown adapt_cfg keys {sorted(unknown)}; '
                         f'expected {ADAPT_CFG_KEYS}.')
    if adapt_cfg.get('host_checkpoint'):
        _load_host(model, adapt_cfg['host_checkpoint'],
                   adapt_cfg.get('new_modules', []))
    elif adapt_cfg.get('new_modules'):
        raise ValueError('adapt_cfg.new_modules needs a host_checkpoint.')
    model.requires_grad_(False)
    inserters = nn.ModuleList(
        MODELS.build(cfg) for cfg in adapt_cfg.get('adapters', []))
    for inserter in inserters:
        # peft marks everything but its own layers frozen: keep what the
        # adapters attached before it made trainable.
        trained = [p for p in model.parameters() if p.requires_grad]
        inserter.attach(model)
        for param in trained:
            param.requires_grad_(True)
    if adapt_cfg.get('checkpoint'):
        checkpoint_activations(model, adapt_cfg['checkpoint'])
    for entry in adapt_cfg.get('trainable', []):
        _make_trainable(model, entry)
    return inserters


def _make_trainable(model: nn.Module, entry: str) -> None:
    """Unfreeze the module ``entry`` names, or the parameters its
    ``'re:'`` pattern matches in full; an entry matching nothing is an
    error."""
    if entry.startswith('re:'):
        matched = [
            param for name, param in model.named_parameters()
            if _matches(entry, name)
        ]
        if not matched:
            raise ValueError(
                f'adapt_cfg.trainable pattern "{entry}" matches no parameter '
                f'of {type(model).__name__}.')
        for param in matched:
            param.requires_grad_(True)
        return
    try:
        model.get_submodule(entry).requires_grad_(True)
    except AttributeError as error:
        raise ValueError(f'adapt_cfg.trainable names "{entry}", which '
                         f'{type(model).__name__} does not have.') from error


def checkpoint_activations(model: nn.Module, pattern: str) -> None:
    """Recompute the activations of the modules matching ``pattern`` in the
    backward pass (``torch.utils.checkpoint``, non-reentrant) instead of
    keeping them.

    Adapters inside a frozen encoder make autograd keep every layer's
    activations, most of what full fine-tuning keeps; checkpointing the
    layers keeps only their inputs. Forward hooks inside a module (its
    adapters) run again in the recomputation, so their gradients are
    exact.

    Args:
        model (nn.Module): The segmentor.
        pattern (str): Regular expression of full module names, e.g.
            ``r'(vision|text)_model\\.encoder\\.layers\\.\\d+'``.
    """
    from .inserters import _matching_modules

    for _, module in _matching_modules(model, pattern):
        module.forward = partial(_checkpointed, module, module.forward)


def _checkpointed(module: nn.Module, forward, *args, **kwargs):
    if module.training and torch.is_grad_enabled():
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)
    return forward(*args, **kwargs)


def _load_host(model: nn.Module, path: str,
               new_modules: Iterable[str] = ()) -> None:
    """Load a full checkpoint of the host: every key must fit, but those of
    ``new_modules`` (module prefixes or ``'re:'`` parameter patterns)."""
    from mmvlsm.models.utils import load_weights_exactly
    from mmvlsm.utils import load_from_local
    checkpoint = load_from_local(path, 'cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    new_keys = set()
    for entry in new_modules:
        matched = {key for key in model.state_dict() if _matches(entry, key)}
        if not matched:
            raise ValueError(f'adapt_cfg.new_modules entry "{entry}" names '
                             f'nothing of {type(model).__name__}.')
        new_keys |= matched
    state_dict = {
        key: value
        for key, value in state_dict.items()
        if not any(_matches(entry, key) for entry in new_modules)
    }
    load_weights_exactly(model, state_dict, path, allow_missing=new_keys)


def _matches(entry: str, key: str) -> bool:
    """Whether a state-dict key falls under a ``trainable``/``new_modules``
    entry: a module prefix, or ``'re:'`` and a full-match pattern."""
    if entry.startswith('re:'):
        return re.fullmatch(entry[3:], key) is not None
    return key == entry or key.startswith(entry + '.')


def trained_state_keys(model: nn.Module) -> Set[str]:
    """The state-dict keys of what trains in an adapted model: trainable
    parameters, and the buffers of modules that hold one."""
    keys = {name for name, p in model.named_parameters() if p.requires_grad}
    for module_name, module in model.named_modules():
        if any(p.requires_grad for p in module.parameters(recurse=False)):
            prefix = f'{module_name}.' if module_name else ''
            keys.update(prefix + name
                        for name, _ in module.named_buffers(recurse=False))
    return keys


def keep_trained_state(model: nn.Module, keys: Set[str]) -> None:
    """Make ``model``'s state dicts (and so its checkpoints) hold ``keys``
    only, and let it load such a state dict onto its frozen host.

    Saving drops the frozen host's entries. Loading fills them in from the
    model's current (host) weights, so nothing is reported missing, and
    fails, naming them, if any of ``keys`` is absent: an adapter
    checkpoint must hold every adapter.
    """

    # While True, state dicts are whole (fill_host reads the host from one).
    whole = [False]

    def drop_host(module, state_dict, prefix, local_metadata):
        if not whole[0]:
            for key in list(state_dict):
                if key.startswith(prefix) and key[len(prefix):] not in keys:
                    del state_dict[key]
        return state_dict

    def fill_host(module, state_dict, prefix, local_metadata, strict,
                  missing_keys, unexpected_keys, error_msgs):
        whole[0] = True
        try:
            own = module.state_dict()
        finally:
            whole[0] = False
        present = {k[len(prefix):] for k in state_dict if k.startswith(prefix)}
        if present & (set(own) - keys):
            return  # a whole checkpoint: nothing to fill in
        absent = sorted(keys - present)
        if absent:
            raise ValueError(
                f'The checkpoint lacks {len(absent)} trained weights of this '
                f'adapted model, e.g. {absent[:5]}: was it saved from the '
                'same adapt_cfg?')
        for key, value in own.items():
            if key not in keys:
                state_dict[prefix + key] = value

    model._register_state_dict_hook(drop_host)
    model._register_load_state_dict_pre_hook(fill_host, with_module=True)


def freeze_norm_statistics(model: nn.Module) -> None:
    """Put the batch norms of ``model`` with nothing to train in eval mode,
    so an adapted host keeps the statistics it was loaded with; call it
    from ``train()`` after the modes are set."""
    for module in model.modules():
        if isinstance(module,
                      _BatchNorm) and not any(p.requires_grad
                                              for p in module.parameters()):
            module.eval()


def parameter_table(model: nn.Module) -> List[Dict[str, object]]:
    """Trainable and total parameters per top-level module, then in all.

    Returns:
        list[dict]: Rows with ``module``, ``trainable`` and ``total``.
    """
    rows = []
    for name, child in model.named_children():
        total = sum(p.numel() for p in child.parameters())
        if total:
            rows.append(
                dict(
                    module=name,
                    trainable=_count(p for p in child.parameters()
                                     if p.requires_grad),
                    total=total))
    rows.append(
        dict(
            module='all',
            trainable=_count(p for p in model.parameters() if p.requires_grad),
            total=_count(model.parameters())))
    return rows


def _count(params: Iterable[nn.Parameter]) -> int:
    return sum(p.numel() for p in params)
