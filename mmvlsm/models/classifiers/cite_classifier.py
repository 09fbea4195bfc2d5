# Copyright (c) OpenMMLab. All rights reserved.
import inspect
from typing import Optional, Union

import torch.nn as nn
from mmpretrain.models.classifiers import ImageClassifier

from mmvlsm.registry.classification import MODELS
from ..heads import TextEmbeddingHead
from ..necks import ProjectionNeck


class WidthMismatchError(ValueError):
    """A width set in the config disagrees with the models' own.

    Args:
        field (str): The config field, e.g. ``'model.neck.in_channels'``.
        given (int): Its value.
        width (int): The width of ``source``.
        source (str): Where that width comes from.
        hint (str, optional): How to fix it. Defaults to removing ``field``
            or setting it to ``width``.
    """

    def __init__(self,
                 field: str,
                 given: int,
                 width: int,
                 source: str,
                 hint: Optional[str] = None):
        hint = hint or (f'remove {field} from the config (CITEClassifier '
                        f'fills it in) or set it to {width}')
        super().__init__(
            f'{field} is {given} wide but {source} is {width}: {hint}.')
        self.field, self.given, self.width = field, given, width


def _module_type(cfg: Union[dict, nn.Module]) -> type:
    """The class a config builds (or a built module's class)."""
    if isinstance(cfg, nn.Module):
        return type(cfg)
    kind = cfg['type']
    return MODELS.get(kind) if isinstance(kind, str) else kind


def _fill(cfg: dict, key: str, width: Optional[int], field: str,
          source: str) -> None:
    """Set ``cfg[key]`` to ``width`` if unset, else check that they agree.

    Args:
        cfg (dict): A module's config, changed in place.
        key (str): The width argument, e.g. ``'in_channels'``.
        width (int, optional): The width; None where it is unknown, and
            ``cfg[key]`` must then be set.
        field (str): The config field, for messages.
        source (str): What ``width`` measures, for messages.
    """
    given = cfg.get(key)
    if width is None:
        if given is None:
            raise ValueError(f'{field} is not set and {source} is unknown: '
                             'set it in the config.')
    elif given is None:
        cfg[key] = width
    elif given != width:
        raise WidthMismatchError(field, given, width, source)


@MODELS.register_module()
class CITEClassifier(ImageClassifier):
    """mmpretrain's ``ImageClassifier`` that sizes its neck and head itself.

    CITE's widths follow from the models it combines: a
    :class:`~mmvlsm.models.necks.ProjectionNeck` maps the backbone's feature
    (its ``feature_channels``, e.g. CLIP ViT-B/16's projected 512) to the
    width of the :class:`~mmvlsm.models.heads.TextEmbeddingHead`'s
    embeddings (BioLinkBERT-large's 1024, MiniLM's 384, ...). So the head is
    built before the neck (the text model draws no random numbers from the
    global generator, so the neck's initialisation is unchanged), and the
    config leaves out:

    - the ``ProjectionNeck``'s ``in_channels``: the backbone's
      ``feature_channels``;
    - its ``out_channels`` and the ``TextEmbeddingHead``'s
      ``in_channels``: the text embeddings' width;
    - without a neck, the ``in_channels`` of any other head (a linear
      probe's ``LinearClsHead``): the backbone's ``feature_channels``. A
      ``TextEmbeddingHead`` without a neck needs the backbone's feature as
      wide as its embeddings (zero-shot CLIP).

    A width the config does set is checked instead: one that disagrees is a
    :class:`WidthMismatchError`. Other necks, and heads after them, are
    built as configured.

    Args:
        backbone (dict | nn.Module): The backbone, with a
            ``feature_channels`` attribute for widths to be filled in.
        neck (dict | nn.Module, optional): The neck. Defaults to None.
        head (dict | nn.Module, optional): The head. Defaults to None.
        **kwargs: Passed to ``ImageClassifier`` (``data_preprocessor``,
            ``train_cfg``, ``pretrained``, ``init_cfg``).
    """

    def __init__(self,
                 backbone: Union[dict, nn.Module],
                 neck: Union[dict, nn.Module, None] = None,
                 head: Union[dict, nn.Module, None] = None,
                 **kwargs):
        if not isinstance(backbone, nn.Module):
            backbone = MODELS.build(backbone)
        feature_width = getattr(backbone, 'feature_channels', None)
        feature = f"the backbone's ({type(backbone).__name__}) feature"

        text_width = None
        if head is not None and issubclass(
                _module_type(head), TextEmbeddingHead):
            given = None
            if isinstance(head, dict):
                head = dict(head)
                given = head.pop('in_channels', None)
                head = MODELS.build(head)
            text_width = head.text_channels
            if given is not None and given != text_width:
                raise WidthMismatchError('model.head.in_channels', given,
                                         text_width, 'the text embeddings')
            head.in_channels = text_width

        # The width of what reaches the head, where it is known.
        head_input = None
        if neck is None:
            head_input = feature_width
        elif isinstance(neck, dict) and issubclass(
                _module_type(neck), ProjectionNeck):
            neck = dict(neck)
            _fill(neck, 'in_channels', feature_width, 'model.neck.in_channels',
                  feature)
            if text_width is not None:
                _fill(neck, 'out_channels', text_width,
                      'model.neck.out_channels', 'the text embeddings')
            neck = MODELS.build(neck)
            head_input = neck.out_channels

        if text_width is not None:
            if neck is None and head_input not in (None, text_width):
                raise WidthMismatchError(
                    'the text embeddings', text_width, head_input, feature,
                    'add a ProjectionNeck to map one onto the other, or use '
                    'a text model of the image feature\'s width')
        elif (isinstance(head, dict) and head_input is not None
              and 'in_channels' in inspect.signature(
                  _module_type(head)).parameters):
            head = dict(head)
            _fill(head, 'in_channels', head_input, 'model.head.in_channels',
                  feature if neck is None else "the neck's output")
        super().__init__(backbone=backbone, neck=neck, head=head, **kwargs)
