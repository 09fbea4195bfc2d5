# Copyright (c) OpenMMLab. All rights reserved.
"""Key mapping between upstream PUNet (marcdcfischer/PUNet) checkpoints and
mmvlsm's :class:`~mmvlsm.models.segmentors.PUNet`.

Upstream's Lightning module keeps the student network under
``architecture.network_student.`` and the EMA teacher under
``architecture.network_teacher.``; below those prefixes the names are those
of upstream's network (``DeepSIAUNetr``). Per network, upstream -> mmvlsm
(``{i}`` level, ``{j}`` W-MSA 0 / SW-MSA 1, ``{c}`` class, ``{p}`` a
parameter or buffer name)::

    encoding_res_blocks.0.conv{n}.conv.{p}  backbone.stem.conv{n}.{p}
    encoding_res_blocks.0.norm{n}.{p}       backbone.stem.norm{n}.{p}
    sia_res_blocks.{i}.norm.{p}             backbone.levels.{i}.norm.{p}
    sia_res_blocks.{i}.conv.conv.{p}        backbone.levels.{i}.conv.{p}
    sia_res_blocks.{i}.norm_res.{p}
        -> backbone.levels.{i}.residual_norm.{p}
    sia_res_blocks.{i}.conv_res.conv.{p}
        -> backbone.levels.{i}.residual_conv.{p}
    sia_res_blocks.{i}.sia.<PSWin>          backbone.levels.{i}.pswin.<PSWin>
    sia_res_instruction_blocks_v2.{2i+j}.<pool>
        -> backbone.levels.{i}.pswin.pools.{j}.<pool>
    sia_up_blocks.{i}.norm_concat.{p}       decoder.levels.{i}.norm.{p}
    sia_up_blocks.{i}.conv_concat.conv.{p}  decoder.levels.{i}.conv.{p}
    sia_up_blocks.{i}.sia.<PSWin>           decoder.levels.{i}.pswin.<PSWin>
    sia_up_instruction_blocks_v2.{2i+j}.<pool>
        -> decoder.levels.{i}.pswin.pools.{j}.<pool>
    instruction_pool.<pool>                 head.pool.<pool>

with ``<pool>``: ``instruction_tokens.instructions.{c}`` -> ``prompts.{c}``,
and ``<PSWin>`` (``{a}`` h, w, d -> axis 0, 1, 2)::

    msa_blocks.{j}.attention_norm.{p}       attentions.{j}.norm1.{p}
    msa_blocks.{j}.attention.to_q.weight    attentions.{j}.q.weight (k, v too)
    msa_blocks.{j}.attention.to_out.{p}     attentions.{j}.proj.{p}
    msa_blocks.{j}.mlp_norm.{p}             attentions.{j}.norm2.{p}
    msa_blocks.{j}.mlp.{p}                  attentions.{j}.mlp.{p}
    msa_blocks.{j}.linear_down.{p}          attentions.{j}.adapter.0.{p}
    msa_blocks.{j}.linear_up.{p}            attentions.{j}.adapter.2.{p}
    attention_scores.{j}.encoding_content_{a}
                                            biases.{j}.content_tables.{a}
                                            (rows reversed)
    attention_scores.{j}.weights_content_{a}
                                            biases.{j}.content_weights.{a}
    attention_scores.{j}.encoding_cross_inst_content.{c}
                                            biases.{j}.prompt_embeddings.{c}
    attention_scores.{j}.weights_cross_inst_content
                                            biases.{j}.prompt_weights
    attention_scores.{j}.relative_distances_{a}
                                            (dropped: a function of the window)

Upstream indexes a relative-position table by ``key - query`` and mmvlsm
by ``query - key``, hence the reversed rows. Upstream's network is 3D
(kernels ``(k, k, k_d)``); mmvlsm's 2D PUNet needs
:func:`drop_depth_axis` on top of :func:`punet_to_mmvlsm`, which keeps the
tensors' dimensionality.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

StateDict = Dict[str, torch.Tensor]

# Where upstream's Lightning module keeps its two networks.
PUNET_STUDENT_PREFIX = 'architecture.network_student.'
PUNET_TEACHER_PREFIX = 'architecture.network_teacher.'
AXES = 'hwd'


def _rules() -> List[Tuple[str, str]]:
    """(upstream, mmvlsm) key templates; ``{pool}`` is ``2 * i + j``."""
    pswin = [
        ('msa_blocks.{j}.attention_norm.{p}', 'attentions.{j}.norm1.{p}'),
        ('msa_blocks.{j}.attention.to_out.{p}', 'attentions.{j}.proj.{p}'),
        ('msa_blocks.{j}.mlp_norm.{p}', 'attentions.{j}.norm2.{p}'),
        ('msa_blocks.{j}.mlp.{p}', 'attentions.{j}.mlp.{p}'),
        ('msa_blocks.{j}.linear_down.{p}', 'attentions.{j}.adapter.0.{p}'),
        ('msa_blocks.{j}.linear_up.{p}', 'attentions.{j}.adapter.2.{p}'),
        ('attention_scores.{j}.encoding_cross_inst_content.{c}',
         'biases.{j}.prompt_embeddings.{c}'),
        ('attention_scores.{j}.weights_cross_inst_content',
         'biases.{j}.prompt_weights')
    ]
    pswin += [(f'msa_blocks.{{j}}.attention.to_{name}.weight',
               f'attentions.{{j}}.{name}.weight') for name in 'qkv']
    for axis, name in enumerate(AXES):
        pswin += [(f'attention_scores.{{j}}.encoding_content_{name}',
                   f'biases.{{j}}.content_tables.{axis}'),
                  (f'attention_scores.{{j}}.weights_content_{name}',
                   f'biases.{{j}}.content_weights.{axis}')]
    pool = 'instruction_tokens.instructions.{c}'
    rules = [
        ('encoding_res_blocks.0.conv{n}.conv.{p}',
         'backbone.stem.conv{n}.{p}'),
        ('encoding_res_blocks.0.norm{n}.{p}', 'backbone.stem.norm{n}.{p}'),
        ('sia_res_blocks.{i}.norm.{p}', 'backbone.levels.{i}.norm.{p}'),
        ('sia_res_blocks.{i}.conv.conv.{p}', 'backbone.levels.{i}.conv.{p}'),
        ('sia_res_blocks.{i}.norm_res.{p}',
         'backbone.levels.{i}.residual_norm.{p}'),
        ('sia_res_blocks.{i}.conv_res.conv.{p}',
         'backbone.levels.{i}.residual_conv.{p}'),
        ('sia_up_blocks.{i}.norm_concat.{p}', 'decoder.levels.{i}.norm.{p}'),
        ('sia_up_blocks.{i}.conv_concat.conv.{p}',
         'decoder.levels.{i}.conv.{p}'),
        (f'sia_res_instruction_blocks_v2.{{pool}}.{pool}',
         'backbone.levels.{i}.pswin.pools.{j}.prompts.{c}'),
        (f'sia_up_instruction_blocks_v2.{{pool}}.{pool}',
         'decoder.levels.{i}.pswin.pools.{j}.prompts.{c}'),
        (f'instruction_pool.{pool}', 'head.pool.prompts.{c}'),
    ]
    for ours, theirs in (('backbone', 'sia_res_blocks'), ('decoder',
                                                          'sia_up_blocks')):
        rules += [(f'{theirs}.{{i}}.sia.{up}',
                   f'{ours}.levels.{{i}}.pswin.{mm}') for up, mm in pswin]
    return rules


def _pattern(template: str) -> 're.Pattern':
    fields = re.split(r'\{(\w+)\}', template)
    parts = [
        re.escape(part) if index % 2 == 0 else f'(?P<{part}>[^.]+)'
        for index, part in enumerate(fields)
    ]
    return re.compile(''.join(parts) + '$')


PUNET_KEY_RULES = tuple(
    (_pattern(up), up, _pattern(mm), mm) for up, mm in _rules())


def _translate(key: str, forward: bool) -> Optional[str]:
    for up_re, up, mm_re, mm in PUNET_KEY_RULES:
        match = (up_re if forward else mm_re).match(key)
        if match is None:
            continue
        fields = match.groupdict()
        if forward and 'pool' in fields:
            i, j = divmod(int(fields.pop('pool')), 2)
            fields.update(i=i, j=j)
        elif not forward and '{pool}' in up:
            fields['pool'] = 2 * int(fields.pop('i')) + int(fields.pop('j'))
        return (mm if forward else up).format(**fields)
    return None


def _is_content_table(key: str) -> bool:
    return '.content_tables.' in key or '.encoding_content_' in key


def punet_to_mmvlsm(state_dict: StateDict) -> Tuple[StateDict, List[str]]:
    """Rename an upstream PUNet network's state dict to mmvlsm's PUNet.

    Args:
        state_dict (dict[str, Tensor]): One upstream network
            (``DeepSIAUNetr``), without the Lightning prefixes.

    Returns:
        tuple[dict[str, Tensor], list[str]]: The tensors under mmvlsm's
        names (relative-position tables reversed, depth axes kept), and the
        upstream keys dropped because mmvlsm derives them (the
        ``relative_distances`` buffers).

    Raises:
        ValueError: Naming the keys that are not upstream PUNet weights.
    """
    converted: StateDict = {}
    derived: List[str] = []
    unknown: List[str] = []
    for key, value in state_dict.items():
        if re.search(r'\.relative_distances_[hwd]$', key):
            derived.append(key)
            continue
        new_key = _translate(key, forward=True)
        if new_key is None:
            unknown.append(key)
        else:
            converted[new_key] = (
                value.flip(0) if _is_content_table(key) else value)
    if unknown:
        raise ValueError(f'{len(unknown)} keys are not weights of upstream '
                         f'PUNet (marcdcfischer/PUNet): {unknown[:10]}. Is '
                         'this a PUNet checkpoint?')
    return converted, derived


def mmvlsm_to_punet(state_dict: StateDict) -> StateDict:
    """Rename mmvlsm's PUNet state dict to one upstream network's layout.

    The inverse of :func:`punet_to_mmvlsm` (add :func:`add_depth_axis` for
    a 2D model first); the ``relative_distances`` buffers are rebuilt from
    the tables' sizes, so upstream loads the result with ``strict=True``.

    Args:
        state_dict (dict[str, Tensor]): mmvlsm's ``backbone``, ``decoder``
            and ``head`` weights (no ``teacher``).

    Returns:
        dict[str, Tensor]: Upstream's ``DeepSIAUNetr`` state dict.
    """
    converted: StateDict = {}
    for key, value in state_dict.items():
        new_key = _translate(key, forward=False)
        if new_key is None:
            raise ValueError(f'"{key}" is not a weight of mmvlsm\'s PUNet.')
        if _is_content_table(key):
            value = value.flip(0)
            window = (value.shape[0] + 1) // 2
            positions = torch.arange(window)
            converted[re.sub(
                r'encoding_content_', 'relative_distances_', new_key)] = (
                    positions[None] - positions[:, None] + window - 1)
        converted[new_key] = value
    return converted


def drop_depth_axis(state_dict: StateDict) -> StateDict:
    """2D only: drop the depth axis of upstream's 3D conv kernels.

    Upstream's ``2d`` setting runs 3D convs with kernels ``(k, k, 1)``; the
    2D model's are ``(k, k)``. Norms, linears, prompts and biases are the
    same in 2D and 3D (a 2D window's depth table has its one row).

    Args:
        state_dict (dict[str, Tensor]): Converted by :func:`punet_to_mmvlsm`.

    Returns:
        dict[str, Tensor]: The same with every 5D kernel made 4D.

    Raises:
        ValueError: Naming the kernels that span depth (a 3D checkpoint).
    """
    deep = [
        f'{key}: {tuple(value.shape)}' for key, value in state_dict.items()
        if value.dim() == 5 and value.shape[-1] != 1
    ]
    if deep:
        raise ValueError(f'{len(deep)} conv kernels span depth, so this is '
                         f'a 3D PUNet, not a 2D one: {deep[:5]}')
    return {
        key: value[..., 0] if value.dim() == 5 else value
        for key, value in state_dict.items()
    }


def add_depth_axis(state_dict: StateDict) -> StateDict:
    """The inverse of :func:`drop_depth_axis`: 4D kernels get depth 1."""
    return {
        key: value[..., None] if value.dim() == 4 else value
        for key, value in state_dict.items()
    }


def split_punet_lightning(
        state_dict: StateDict) -> Tuple[StateDict, StateDict, List[str]]:
    """Split upstream's Lightning state dict into its networks.

    A bare network state dict (no ``architecture.`` prefix) is the student.

    Args:
        state_dict (dict[str, Tensor]): ``state_dict`` of upstream's
            ``.ckpt`` or a bare network.

    Returns:
        tuple: The student network, the teacher network (empty if none)
        and the keys under neither prefix.
    """
    if not any(key.startswith('architecture.') for key in state_dict):
        return dict(state_dict), {}, []
    networks: Tuple[StateDict, StateDict] = ({}, {})
    others = []
    for key, value in state_dict.items():
        for network, prefix in zip(
                networks, (PUNET_STUDENT_PREFIX, PUNET_TEACHER_PREFIX)):
            if key.startswith(prefix):
                network[key[len(prefix):]] = value
                break
        else:
            others.append(key)
    return networks[0], networks[1], others


def upstream_punet_architecture(hparams: dict) -> dict:
    """The architecture an upstream run's ``hyper_parameters`` describe,
    in the terms of :func:`mmvlsm_punet_architecture`."""
    channels = tuple(hparams['hidden_channels'])
    variant = str(hparams.get('prompting_variant', 'full')).lower()
    noninstructed = hparams.get(
        'noninstructed_attention_downstream'
        if hparams.get('downstream') else 'noninstructed_attention', False)
    encoder = [
        not noninstructed
        and (variant in ('encoder', 'full') or (i == 0 and variant == 'start'))
        for i in range(len(channels))
    ]
    decoder = [
        not noninstructed and variant in ('decoder', 'full')
        for _ in channels[1:]
    ]
    return dict(
        in_channels=hparams.get('in_channels', 1),
        channels=channels,
        heads=hparams['attention_heads'],
        window=tuple(hparams['attn_window_size']),
        num_classes=hparams['instruction_pool_size'],
        num_tokens=hparams['tokens_per_instruction'],
        head_channels=hparams.get('instruction_channels', channels[0]),
        prompted=tuple(encoder + decoder),
        content_bias=not hparams.get('no_bias_content', False),
        prompt_bias=not hparams.get('no_bias_instructions', False),
        adapter=str(hparams.get('adaptation_variant',
                                '')).lower() == 'adapter',
        # Upstream options mmvlsm's PUNet does not have.
        fixed_output=bool(hparams.get('fixed_output', False)),
        bias_vit=bool(hparams.get('bias_vit', False)),
        instructions_use_norm=bool(
            hparams.get('instructions_use_norm', False)))


def mmvlsm_punet_architecture(model: nn.Module) -> dict:
    """The architecture of a built mmvlsm PUNet (2D or 3D), read from its
    modules."""
    levels = [*model.backbone.levels, *model.decoder.levels]
    pswin = levels[0].pswin
    window = tuple(pswin.biases[0].window)
    return dict(
        in_channels=model.backbone.stem.conv1.in_channels,
        channels=tuple(model.backbone.channels),
        heads=pswin.attentions[0].heads,
        window=window + (1, ) * (3 - len(window)),
        num_classes=len(pswin.pools[0].prompts),
        num_tokens=pswin.pools[0].prompts[0].shape[0],
        head_channels=model.head.pool.prompts[0].shape[1],
        prompted=tuple(level.pswin.prompted for level in levels),
        content_bias=pswin.biases[0].use_content,
        prompt_bias=pswin.biases[0].use_prompt,
        adapter=pswin.attentions[0].adapter is not None,
        fixed_output=False,
        bias_vit=False,
        instructions_use_norm=False)


def architecture_differences(upstream: dict, ours: dict) -> List[str]:
    """``'name: upstream X, mmvlsm Y'`` for every setting that differs."""
    return [
        f'{name}: upstream {upstream[name]}, mmvlsm {ours[name]}'
        for name in upstream if upstream[name] != ours[name]
    ]
