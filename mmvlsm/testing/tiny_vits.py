# Copyright (c) OpenMMLab. All rights reserved.
"""Tiny random ViTs (timm's ``VisionTransformer``), saved as timm, MAE,
DINO (HIPT) and DINOv2 publish theirs.

Each file has the keys, wrappers and file type of the real checkpoint
(``model.safetensors`` of a timm Hub repo, ``{'model': ...}`` with MAE's
decoder, DINO's training checkpoint with its teacher and student, DINOv2's
bare hub state dict with its mask token), so that loading them exercises
the same paths as the full-size ones.
"""
from typing import Dict

import torch
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor

# The tiny ViT of each family: timm's arguments. DINOv2 keeps its
# LayerScale and trains, like the real one, at a larger grid (6 x 6
# patches) than the tiny configs use (4 x 4 at 32 px), so loading it
# resizes the position embedding.
TINY_TIMM_VITS = dict(
    timm=dict(img_size=32, patch_size=8, num_classes=10),
    mae=dict(img_size=32, patch_size=8, num_classes=0),
    mae_finetuned=dict(
        img_size=32,
        patch_size=8,
        num_classes=10,
        global_pool='avg',
        fc_norm=True),
    dino=dict(img_size=32, patch_size=8, num_classes=0),
    dinov2=dict(img_size=48, patch_size=8, num_classes=0, init_values=1e-5),
)
TINY_WIDTH = dict(embed_dim=32, depth=2, num_heads=2, mlp_ratio=4.)
# The same ViTs as PromptedViT arguments (without img_size, which is the
# config's choice).
TINY_PROMPTED_VITS = {
    name:
    dict(
        arch=dict(
            embed_dims=32, num_layers=2, num_heads=2,
            feedforward_channels=128),
        patch_size=8,
        norm_cfg=dict(type='LN', eps=1e-6),
        layer_scale_init_value=1e-5 if name == 'dinov2' else 0.)
    for name in TINY_TIMM_VITS
}
# The checkpoint format of each family.
TINY_VIT_FORMATS = dict(
    timm='timm', mae='mae', mae_finetuned='mae', dino='dino', dinov2='dinov2')
# The files of the tiny configs (configs/cite/tiny), named as the real ones,
# under tools/misc/generate_tiny_vits.py's output directory.
TINY_VIT_FILES = dict(
    timm='vit_tiny_patch8_32.augreg_in21k/model.safetensors',
    mae='mae_pretrain_vit_tiny.pth',
    mae_finetuned='mae_finetuned_vit_tiny.pth',
    dino='vit32_tiny_dino.pth',
    dinov2='dinov2_vitt8_pretrain.pth')


def build_tiny_timm_vit(family: str, seed: int = 0) -> VisionTransformer:
    """A tiny random timm ViT of ``family`` (a key of
    :data:`TINY_TIMM_VITS`), in eval mode.

    Beyond timm's initialisation, the norms and LayerScales are drawn at
    random too, so that a weight landing in the wrong place shows.
    """
    torch.manual_seed(seed)
    model = VisionTransformer(**TINY_TIMM_VITS[family], **TINY_WIDTH)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith('gamma'):
                param.uniform_(0.5, 1.5)
            elif 'norm' in name:
                param.normal_(1. if name.endswith('weight') else 0., 0.1)
            elif name in ('cls_token', 'pos_embed'):
                param.normal_(0., 0.5)
    return model.eval()


def tiny_vit_checkpoint(model: VisionTransformer, family: str) -> Dict:
    """What the real checkpoint file of ``family`` holds, for ``model``.

    Args:
        model (VisionTransformer): From :func:`build_tiny_timm_vit`.
        family (str): A key of :data:`TINY_TIMM_VITS`.

    Returns:
        dict: timm's state dict (classifier included); MAE's ``{'model':
        ...}`` (a pre-trained one with the decoder and mask token, as
        RETFound's; a fine-tuned one with ``fc_norm`` and its head); DINO's
        training checkpoint (HIPT's ``vit256_small_dino.pth``:
        ``teacher`` with ``backbone.`` and ``head.`` prefixes, ``student``
        with DDP's ``module.`` too, the epoch); DINOv2's state dict with
        the mask token.
    """
    state = {k: v.clone() for k, v in model.state_dict().items()}
    width = model.embed_dim
    if family == 'mae':
        decoder = dict(
            mask_token=torch.randn(1, 1, width),
            decoder_pos_embed=torch.randn(1, model.pos_embed.shape[1], 16),
            **{
                'decoder_embed.weight': torch.randn(16, width),
                'decoder_blocks.0.norm1.weight': torch.ones(16),
                'decoder_norm.weight': torch.ones(16),
                'decoder_pred.weight': torch.randn(3 * 8 * 8, 16),
            })
        return dict(model={**state, **decoder})
    if family == 'mae_finetuned':
        return dict(model=state)
    if family == 'dino':
        head = {
            'head.mlp.0.weight': torch.randn(64, width),
            'head.last_layer.weight_g': torch.ones(128, 1),
        }
        teacher = {f'backbone.{k}': v for k, v in state.items()}
        teacher.update(head)
        student = {f'module.{k}': v + 1 for k, v in teacher.items()}
        return dict(teacher=teacher, student=student, epoch=100)
    if family == 'dinov2':
        return dict(state, mask_token=torch.zeros(1, width))
    return state


def save_tiny_vit(path: str, family: str, seed: int = 0) -> VisionTransformer:
    """Write a tiny random ViT of ``family`` as its real checkpoint.

    Args:
        path (str): The file; a ``.safetensors`` name is written with
            safetensors (as timm's Hub repos), anything else with
            ``torch.save``.
        family (str): A key of :data:`TINY_TIMM_VITS`.
        seed (int): Random seed of the weights.

    Returns:
        VisionTransformer: The source model, in eval mode.
    """
    model = build_tiny_timm_vit(family, seed)
    checkpoint = tiny_vit_checkpoint(model, family)
    if path.endswith('.safetensors'):
        from safetensors.torch import save_file
        save_file(checkpoint, path)
    else:
        torch.save(checkpoint, path)
    return model


def timm_vit_features(model: VisionTransformer, images: Tensor,
                      feature: str) -> Tensor:
    """A timm ViT's own feature of ``images``, the reference for
    PromptedViT's ``feature``.

    Args:
        model (VisionTransformer): The source model.
        images (Tensor): (B, 3, H, W).
        feature (str): ``'cls'`` (the normed class token), ``'mean'``
            (timm's average pool: after ``norm``, or normed by ``fc_norm``)
            or ``'cls_mean'`` (both, as DINOv2's linear probe).

    Returns:
        Tensor: (B, C), or (B, 2C) for ``'cls_mean'``.
    """
    tokens = model.forward_features(images)
    if feature == 'cls':
        return tokens[:, 0]
    mean = model.fc_norm(model.pool(tokens, pool_type='avg'))
    return mean if feature == 'mean' else torch.cat([tokens[:, 0], mean], 1)
