# Copyright (c) OpenMMLab. All rights reserved.
"""Hugging Face ViT-family checkpoints in mmpretrain's ``VisionTransformer``
names.

Three transformers families are read, by the names their checkpoint files
hold (those ``save_pretrained`` writes and the Hub serves; transformers 5
renames its modules when loading, not in the files):

* ``'hf_vit'``: ``ViTModel`` / ``ViTForImageClassification``
  (``google/vit-base-patch16-224-in21k``, ``owkin/phikon``).
* ``'hf_vit_mae'``: ``ViTMAEModel`` / ``ViTMAEForPreTraining``
  (``facebook/vit-mae-base``, ``facebook/vit-mae-large``).
* ``'hf_dinov2'``: ``Dinov2Model`` / ``Dinov2ForImageClassification``
  (``facebook/dinov2-small``, ``facebook/dinov2-base``).

Where the weights go (``N`` is the block index; a ``vit.`` or ``dinov2.``
prefix of a task model is stripped first):

============================================  ===============================
transformers                                  mmpretrain
============================================  ===============================
embeddings.patch_embeddings.projection        patch_embed.projection
embeddings.cls_token                          cls_token
embeddings.position_embeddings                pos_embed (unchanged, any grid)
encoder.layer.N.layernorm_before / norm1      layers.N.ln1
encoder.layer.N.attention.attention.query,    layers.N.attn.qkv (stacked
key, value                                    in that order)
encoder.layer.N.attention.output.dense        layers.N.attn.proj
encoder.layer.N.layer_scale1.lambda1          layers.N.attn.gamma1.weight
encoder.layer.N.layernorm_after / norm2       layers.N.ln2
encoder.layer.N.intermediate.dense / mlp.fc1  layers.N.ffn.layers.0.0
encoder.layer.N.output.dense / mlp.fc2        layers.N.ffn.layers.1
encoder.layer.N.mlp.weights_in, weights_out   layers.N.ffn.w12, ffn.w3
(DINOv2 SwiGLU)
encoder.layer.N.layer_scale2.lambda1          layers.N.ffn.gamma2.weight
layernorm                                     ln1 (the final norm)
============================================  ===============================

ViTMAE's position embedding is a fixed 2-D sin-cos table, but transformers
keeps it as a (frozen) parameter, so it is in every checkpoint and is
copied like the learned ones. Weights of no use to the encoder (ViT's
pooler, classifier heads, mask tokens, MAE's decoder) are dropped and
logged; any other name is an error.
"""
import json
import os.path as osp
import re
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import torch
from mmengine.logging import MMLogger
from safetensors.torch import load_file
from transformers import AutoConfig, PretrainedConfig
from transformers.utils import cached_file

from .hf_loading import hf_loading_errors
from .openai_clip_loading import StateDict

# fmt -> the config's model_type.
HF_VIT_MODEL_TYPES = {
    'hf_vit': 'vit',
    'hf_vit_mae': 'vit_mae',
    'hf_dinov2': 'dinov2',
}
# Tried in this order; an index names the shards of a sharded checkpoint.
_WEIGHT_FILES = ('model.safetensors', 'model.safetensors.index.json',
                 'pytorch_model.bin', 'pytorch_model.bin.index.json')

_TOP = {
    'embeddings.cls_token': 'cls_token',
    'embeddings.position_embeddings': 'pos_embed',
    'embeddings.patch_embeddings.projection.weight':
    'patch_embed.projection.weight',
    'embeddings.patch_embeddings.projection.bias':
    'patch_embed.projection.bias',
    'layernorm.weight': 'ln1.weight',
    'layernorm.bias': 'ln1.bias',
}
_QKV = re.compile(r'attention\.attention\.(query|key|value)\.(weight|bias)')
_BLOCK_KEY = re.compile(r'encoder\.layer\.(\d+)\.(.+)')


def _linear_renames(modules: Mapping[str, str]) -> Dict[str, str]:
    """Weight and bias renames of whole modules."""
    return {
        f'{old}.{param}': f'{new}.{param}'
        for old, new in modules.items()
        for param in ('weight', 'bias')
    }


_VIT_BLOCK = _linear_renames({
    'layernorm_before': 'ln1',
    'attention.output.dense': 'attn.proj',
    'layernorm_after': 'ln2',
    'intermediate.dense': 'ffn.layers.0.0',
    'output.dense': 'ffn.layers.1',
})
_LAYER_SCALES = {
    'layer_scale1.lambda1': 'attn.gamma1.weight',
    'layer_scale2.lambda1': 'ffn.gamma2.weight',
}
_DINOV2_BLOCK = {
    **_linear_renames({
        'norm1': 'ln1',
        'attention.output.dense': 'attn.proj',
        'norm2': 'ln2',
        'mlp.fc1': 'ffn.layers.0.0',
        'mlp.fc2': 'ffn.layers.1',
        'mlp.weights_in': 'ffn.w12',
        'mlp.weights_out': 'ffn.w3',
    }),
    **_LAYER_SCALES
}
# Weights every checkpoint must hold; in every block, as well as those
# block 0 has (the qkv bias, the MLP in one of its two forms).
_REQUIRED_TOP = tuple(_TOP.values())
_REQUIRED_BLOCK = ('ln1.weight', 'ln1.bias', 'attn.qkv.weight',
                   'attn.proj.weight', 'attn.proj.bias', 'ln2.weight',
                   'ln2.bias')
_DINOV2_REQUIRED_BLOCK = _REQUIRED_BLOCK + ('attn.gamma1.weight',
                                            'ffn.gamma2.weight')
_MLP = ('ffn.layers.0.0.weight', 'ffn.layers.0.0.bias', 'ffn.layers.1.weight',
        'ffn.layers.1.bias')
_SWIGLU = ('ffn.w12.weight', 'ffn.w12.bias', 'ffn.w3.weight', 'ffn.w3.bias')


def _hf_names(keys: List[str], block_renames: Mapping[str, str]) -> List[str]:
    """The checkpoint names of mmpretrain ViT weights, for messages."""
    top = {new: old for old, new in _TOP.items()}
    block = {new: old for old, new in block_renames.items()}
    names = []
    for key in keys:
        if key in top:
            names.append(top[key])
            continue
        _, index, rest = key.split('.', 2)
        if rest.startswith('attn.qkv.'):
            rest = 'attention.attention.{query,key,value}.' + rest[9:]
        names.append(f'encoder.layer.{index}.{block.get(rest, rest)}')
    return names


def _convert(state_dict: StateDict, family: str, base_prefix: str,
             block_renames: Mapping[str, str], unused: Tuple[str, ...],
             required_block: Tuple[str, ...]) -> StateDict:
    """Rename a transformers ViT-family encoder, see the module docstring.

    Args:
        state_dict (dict[str, Tensor]): The checkpoint's tensors.
        family (str): The model family, for messages.
        base_prefix (str): The encoder's prefix in the task models
            (``'vit.'``), stripped where present.
        block_renames (Mapping[str, str]): Block weight names, without the
            ``encoder.layer.N.`` prefix, to mmpretrain's.
        unused (tuple[str]): Prefixes of weights of no use to the encoder.
        required_block (tuple[str]): mmpretrain names every block must have.

    Returns:
        dict[str, Tensor]: fp32 weights in mmpretrain's names.

    Raises:
        ValueError: For an unknown weight or a missing one.
    """
    converted, qkv, dropped, unknown = {}, {}, {}, []
    for key, value in state_dict.items():
        name = key[len(base_prefix):] if key.startswith(base_prefix) else key
        value = value.float() if value.is_floating_point() else value
        block = _BLOCK_KEY.fullmatch(name)
        if name in _TOP:
            converted[_TOP[name]] = value
        elif block is not None:
            index, rest = block.groups()
            fused = _QKV.fullmatch(rest)
            if fused is not None:
                qkv.setdefault((index, fused[2]), {})[fused[1]] = value
            elif rest in block_renames:
                converted[f'layers.{index}.{block_renames[rest]}'] = value
            else:
                unknown.append(key)
        elif name.startswith(unused):
            prefix = next(p for p in unused if name.startswith(p))
            dropped[prefix] = dropped.get(prefix, 0) + 1
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f'Unknown {family} weights: {unknown}.')
    for (index, param), parts in qkv.items():
        missing = [
            f'encoder.layer.{index}.attention.attention.{part}.{param}'
            for part in ('query', 'key', 'value') if part not in parts
        ]
        if missing:
            raise ValueError(f'Missing {family} weights: {missing}.')
        converted[f'layers.{index}.attn.qkv.{param}'] = torch.cat(
            [parts['query'], parts['key'], parts['value']])

    num_layers = 1 + max((int(key.split('.')[1])
                          for key in converted if key.startswith('layers.')),
                         default=-1)
    block_0 = {
        key[len('layers.0.'):]
        for key in converted if key.startswith('layers.0.')
    }
    ffn = _SWIGLU if 'ffn.w12.weight' in block_0 else _MLP
    block = sorted(block_0.union(required_block, ffn))
    expected = list(_REQUIRED_TOP) + [
        f'layers.{index}.{name}' for index in range(max(num_layers, 1))
        for name in block
    ]
    missing = [key for key in expected if key not in converted]
    if missing:
        raise ValueError(f'Missing {family} weights: '
                         f'{_hf_names(missing, block_renames)} '
                         f'(mmpretrain\'s {missing}).')
    if dropped:
        MMLogger.get_current_instance().info(
            f'Dropped the {family} weights no ViT encoder uses: unused=' +
            ', '.join(f'{prefix}{"*" if prefix.endswith(".") else ""} '
                      f'({count})'
                      for prefix, count in sorted(dropped.items())))
    return converted


def hf_vit_to_mmpretrain(state_dict: StateDict) -> StateDict:
    """Rename a transformers ``ViTModel`` (or ``ViTForImageClassification``).

    ``pooler.*`` (ViT's dense + tanh on the CLS token), ``classifier.*`` and
    ``embeddings.mask_token`` are dropped.

    Args:
        state_dict (dict[str, Tensor]): The checkpoint's tensors, as
            ``save_pretrained`` names them.

    Returns:
        dict[str, Tensor]: fp32 weights named as in mmpretrain's
        ``VisionTransformer``.

    Raises:
        ValueError: For an unknown weight or a missing one.
    """
    return _convert(state_dict, 'ViT', 'vit.', _VIT_BLOCK,
                    ('pooler.', 'classifier.', 'embeddings.mask_token'),
                    _REQUIRED_BLOCK)


def hf_vit_mae_to_mmpretrain(state_dict: StateDict) -> StateDict:
    """Rename a transformers ``ViTMAEModel`` (or ``ViTMAEForPreTraining``).

    The decoder (``decoder.*``, with its mask token and position table) is
    dropped. The encoder's fixed sin-cos position embedding is copied as it
    is stored.

    Args:
        state_dict (dict[str, Tensor]): The checkpoint's tensors, as
            ``save_pretrained`` names them.

    Returns:
        dict[str, Tensor]: fp32 weights named as in mmpretrain's
        ``VisionTransformer``.

    Raises:
        ValueError: For an unknown weight or a missing one.
    """
    return _convert(state_dict, 'ViTMAE', 'vit.', _VIT_BLOCK, ('decoder.', ),
                    _REQUIRED_BLOCK)


def hf_dinov2_to_mmpretrain(state_dict: StateDict) -> StateDict:
    """Rename a transformers ``Dinov2Model`` (register-free).

    Both LayerScales (``layer_scale1.lambda1``, ``layer_scale2.lambda1``)
    become mmpretrain's ``attn.gamma1`` and ``ffn.gamma2``; the SwiGLU MLP of
    the giant model becomes ``ffn.w12`` / ``ffn.w3``
    (``layer_cfgs=dict(ffn_type='swiglu_fused')``). ``embeddings.mask_token``
    and ``classifier.*`` are dropped. The position embedding keeps its grid
    (37 x 37 for the 518-px checkpoints): mmpretrain resizes it (bicubic)
    to the model's grid when it is loaded.

    Args:
        state_dict (dict[str, Tensor]): The checkpoint's tensors, as
            ``save_pretrained`` names them.

    Returns:
        dict[str, Tensor]: fp32 weights named as in mmpretrain's
        ``VisionTransformer``.

    Raises:
        ValueError: For an unknown weight or a missing one.
    """
    return _convert(state_dict, 'DINOv2', 'dinov2.', _DINOV2_BLOCK,
                    ('embeddings.mask_token', 'classifier.'),
                    _DINOV2_REQUIRED_BLOCK)


HF_VIT_CONVERTERS: Dict[str, Callable[[StateDict], StateDict]] = {
    'hf_vit': hf_vit_to_mmpretrain,
    'hf_vit_mae': hf_vit_mae_to_mmpretrain,
    'hf_dinov2': hf_dinov2_to_mmpretrain,
}


def _find_file(name_or_dir: str, filename: str) -> Optional[str]:
    """The local path of ``filename`` in a directory or a cached (or
    downloadable) Hub repository; None where it has no such file."""
    return cached_file(
        name_or_dir,
        filename,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False)


def _read_json(path: str) -> dict:
    """Read a JSON file, naming it when it is not valid JSON."""
    with open(path, encoding='utf-8') as file:
        try:
            return json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f'"{path}" is not valid JSON: {error}') from error


def _read_config(name_or_dir: str) -> dict:
    """Read ``config.json`` of a directory or Hub name, with clear errors."""
    with hf_loading_errors(name_or_dir, 'ViT config'):
        path = _find_file(name_or_dir, 'config.json')
        if path is None:
            raise OSError(f'No config.json for "{name_or_dir}".')
    return _read_json(path)


def _weight_files(name_or_dir: str) -> List[str]:
    """The local paths of a model's weight files (every shard of a sharded
    checkpoint), fetched through the HF cache for a Hub name."""
    with hf_loading_errors(name_or_dir, 'ViT weights'):
        for filename in _WEIGHT_FILES:
            path = _find_file(name_or_dir, filename)
            if path is None:
                continue
            if not filename.endswith('.index.json'):
                return [path]
            shards = sorted(set(_read_json(path)['weight_map'].values()))
            paths = [_find_file(name_or_dir, shard) for shard in shards]
            missing = [s for s, p in zip(shards, paths) if p is None]
            if missing:
                raise OSError(f'The shards {missing} named by "{path}" are '
                              'missing.')
            return paths
        raise OSError(f'None of {list(_WEIGHT_FILES)} found for '
                      f'"{name_or_dir}".')


def _read_weights(path: str) -> StateDict:
    """Read a safetensors or ``torch.save`` file on the CPU."""
    try:
        if path.endswith('.safetensors'):
            return load_file(path)
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:
        raise OSError(f'Could not read the weights file "{path}" (corrupt or '
                      f'incomplete? download it again): {error}') from error


def load_hf_vit_state_dict(name_or_dir: str, fmt: str) -> StateDict:
    """Read a Hugging Face ViT-family model as mmpretrain ViT weights.

    Args:
        name_or_dir (str): A ``save_pretrained`` directory, or a Hub name
            such as ``'facebook/dinov2-small'`` (read through the HF cache;
            with ``HF_HUB_OFFLINE=1`` only from it). ``model.safetensors``,
            ``pytorch_model.bin`` and their sharded ``*.index.json`` forms
            are read.
        fmt (str): ``'hf_vit'``, ``'hf_vit_mae'`` or ``'hf_dinov2'``; the
            config's ``model_type`` must be that family's.

    Returns:
        dict[str, Tensor]: fp32 weights named as in mmpretrain's
        ``VisionTransformer`` (see :func:`hf_vit_arch` for its kwargs).

    Raises:
        FileNotFoundError: For a Hub name neither cached nor downloadable
            (the message names the cache directory).
        OSError: For a directory without the files, or a file that cannot
            be read (named).
        ValueError: For an unknown ``fmt``, a config of another family, or
            weights that do not fit (see :func:`hf_vit_to_mmpretrain`).
    """
    if fmt not in HF_VIT_MODEL_TYPES:
        raise ValueError(f'Unknown Hugging Face ViT format "{fmt}", choose '
                         f'from {tuple(HF_VIT_MODEL_TYPES)}.')
    model_type = _read_config(name_or_dir).get('model_type')
    if model_type != HF_VIT_MODEL_TYPES[fmt]:
        raise ValueError(
            f'"{name_or_dir}" holds a "{model_type}" model, not the '
            f'"{HF_VIT_MODEL_TYPES[fmt]}" that fmt="{fmt}" reads.')
    state_dict = {}
    for path in _weight_files(name_or_dir):
        state_dict.update(_read_weights(path))
    return HF_VIT_CONVERTERS[fmt](state_dict)


def hf_vit_arch(config_or_name: Union[str, dict, PretrainedConfig]) -> dict:
    """mmpretrain ``VisionTransformer`` (and ``PromptedViT``) kwargs of a
    Hugging Face ViT, ViTMAE or DINOv2 config.

    ``hidden_size``, ``num_hidden_layers``, ``num_attention_heads`` and
    ``intermediate_size`` (DINOv2: ``hidden_size * mlp_ratio``) give
    ``arch``; ``image_size``, ``patch_size``, ``num_channels`` and
    ``qkv_bias`` their namesakes; ``layer_norm_eps`` the LayerNorms' eps
    (``norm_cfg``; 1e-12 in ViT's and ViTMAE's configs, 1e-6 in DINOv2's);
    DINOv2's ``layerscale_value`` ``layer_scale_init_value`` (the LayerScale
    weights themselves come from the checkpoint) and ``use_swiglu_ffn``
    ``layer_cfgs=dict(ffn_type='swiglu_fused')``. The activation must be
    GELU (mmpretrain's default, exact erf as transformers' ``'gelu'``).

    Args:
        config_or_name (str | dict | PretrainedConfig): A config, the
            contents of a ``config.json``, its path, or a directory or Hub
            name holding it.

    Returns:
        dict: ``arch``, ``img_size``, ``patch_size``, ``in_channels``,
        ``qkv_bias``, ``norm_cfg``, plus ``layer_scale_init_value`` (and
        ``layer_cfgs`` with SwiGLU) for DINOv2.

    Raises:
        ValueError: For another model type or activation.
    """
    if isinstance(config_or_name, PretrainedConfig):
        config, model_type = config_or_name, config_or_name.model_type
    else:
        if isinstance(config_or_name, dict):
            config = config_or_name
        elif osp.isfile(config_or_name):
            config = _read_json(config_or_name)
        else:
            config = _read_config(config_or_name)
        model_type = config.get('model_type')
    if model_type not in HF_VIT_MODEL_TYPES.values():
        raise ValueError(f'Unsupported model_type "{model_type}": expected '
                         f'one of {tuple(HF_VIT_MODEL_TYPES.values())}.')
    if isinstance(config, dict):
        # transformers' own config class fills in its defaults.
        config = AutoConfig.for_model(**config)
    if config.hidden_act != 'gelu':
        raise ValueError(f'Unsupported activation "{config.hidden_act}"; '
                         'mmpretrain\'s ViT uses GELU.')
    dinov2 = config.model_type == 'dinov2'
    # DINOv2's configs give the MLP width as a ratio.
    feedforward_channels = (
        int(config.hidden_size *
            config.mlp_ratio) if dinov2 else config.intermediate_size)
    arch = dict(
        arch=dict(
            embed_dims=config.hidden_size,
            num_layers=config.num_hidden_layers,
            num_heads=config.num_attention_heads,
            feedforward_channels=feedforward_channels),
        img_size=config.image_size,
        patch_size=config.patch_size,
        in_channels=config.num_channels,
        qkv_bias=config.qkv_bias,
        norm_cfg=dict(type='LN', eps=config.layer_norm_eps))
    if dinov2:
        arch['layer_scale_init_value'] = config.layerscale_value
        if config.use_swiglu_ffn:
            arch['layer_cfgs'] = dict(ffn_type='swiglu_fused')
    return arch
