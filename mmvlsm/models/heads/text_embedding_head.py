# Copyright (c) OpenMMLab. All rights reserved.
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import DefaultScope
from mmpretrain.models.heads import ClsHead
from torch import Tensor

from mmvlsm.registry.classification import MODELS
from ..text_encoders import CLIPTextTransformer
from ..utils import (CLIP_TEXT_KEYS, hf_from_pretrained,
                     load_openai_clip_state_dict, load_weights_exactly,
                     openai_clip_tokenizer)

BERT_KEYS = ('pooler_output', 'last_hidden_state', 'mean')


@torch.no_grad()
def bert_text_embeddings(texts: Sequence[str],
                         model: str,
                         key: str = 'pooler_output') -> Tensor:
    """Embed each text separately with a frozen BERT-family model.

    Args:
        texts (Sequence[str]): The texts, tokenized one by one (no padding),
            as CITE does.
        model (str): Hugging Face Hub name or ``save_pretrained`` directory.
        key (str): ``'pooler_output'`` (BERT's tanh(W h_CLS + b), CITE's
            choice for BioLinkBERT), ``'last_hidden_state'`` (the raw [CLS]
            hidden state) or ``'mean'`` (the mean of all token states, how
            sentence-transformers models such as all-MiniLM-L6-v2 embed).

    Returns:
        Tensor: (len(texts), hidden size), fp32.
    """
    from transformers import AutoModel, AutoTokenizer
    if key not in BERT_KEYS:
        raise ValueError(f'Unknown key "{key}", choose from {BERT_KEYS}.')
    tokenizer = hf_from_pretrained(AutoTokenizer, model)
    encoder, info = hf_from_pretrained(
        AutoModel, model, output_loading_info=True)
    if key == 'pooler_output':
        # A pooler missing from the checkpoint would be randomly
        # initialised and make the class embeddings arbitrary (CITE's Q4).
        missing = [k for k in info['missing_keys'] if 'pooler' in k]
        if missing or getattr(encoder, 'pooler', None) is None:
            raise ValueError(
                f'"{model}" has no trained pooler (missing: {missing}); use '
                "key='last_hidden_state' or a model with a pooler.")
    encoder.eval().float()
    embeddings = []
    for text in texts:
        output = encoder(**tokenizer(text, return_tensors='pt'))
        if key == 'pooler_output':
            embeddings.append(output.pooler_output[0])
        elif key == 'last_hidden_state':
            embeddings.append(output.last_hidden_state[0, 0])
        else:
            embeddings.append(output.last_hidden_state[0].mean(dim=0))
    return torch.stack(embeddings).float()


@torch.no_grad()
def openai_clip_text_embeddings(texts: Sequence[str],
                                checkpoint: str) -> Tensor:
    """Embed texts with the text tower of an OpenAI CLIP checkpoint.

    This is zero-shot CLIP's classifier: the projected end-token feature of
    each text. The transformer's sizes are read from the weights (CLIP's
    heads are ``width // 64``).

    Args:
        texts (Sequence[str]): The texts.
        checkpoint (str): An OpenAI CLIP checkpoint (``ViT-B-16.pt``), see
            :func:`~mmvlsm.models.utils.load_openai_clip_state_dict`.

    Returns:
        Tensor: (len(texts), CLIP's embedding size), fp32.
    """
    state_dict = load_openai_clip_state_dict(checkpoint)
    weights = {
        key: value
        for key, value in state_dict.items() if key.startswith(CLIP_TEXT_KEYS)
    }
    context_length, width = weights['positional_embedding'].shape
    layers = 1 + max(
        int(key.split('.')[2])
        for key in weights if key.startswith('transformer.resblocks.'))
    encoder = CLIPTextTransformer(
        context_length=context_length,
        vocab_size=weights['token_embedding.weight'].shape[0],
        width=width,
        heads=width // 64,
        layers=layers,
        output_dim=weights['text_projection'].shape[1])
    load_weights_exactly(encoder, weights, f'"{checkpoint}" (text)')
    tokenizer = openai_clip_tokenizer(model_max_length=context_length)
    tokens = tokenizer(
        list(texts), padding=True, truncation=True, return_tensors='pt')
    _, sentences = encoder.eval()(tokens['input_ids'],
                                  tokens['attention_mask'])
    return sentences.float()


# text_encoder['type'] -> the function computing the embeddings.
TEXT_ENCODERS = {
    'bert': bert_text_embeddings,
    'openai_clip': openai_clip_text_embeddings
}


def encode_texts(texts: Sequence[str], text_encoder: dict) -> Tensor:
    """Embed ``texts`` with the encoder a ``text_encoder`` config names.

    Args:
        texts (Sequence[str]): The texts.
        text_encoder (dict): ``type`` (a key of :data:`TEXT_ENCODERS`,
            default ``'bert'``) and that function's arguments.

    Returns:
        Tensor: (len(texts), D), fp32.
    """
    kwargs = dict(text_encoder)
    kind = kwargs.pop('type', 'bert')
    if kind not in TEXT_ENCODERS:
        raise ValueError(f'Unknown text_encoder type "{kind}", choose from '
                         f'{list(TEXT_ENCODERS)}.')
    return TEXT_ENCODERS[kind](texts, **kwargs)


@MODELS.register_module()
class TextEmbeddingHead(ClsHead):
    """CITE's head: cosine similarity to frozen class-name text embeddings.

    The class embeddings are computed once at construction from a
    BERT-family model or CLIP's text tower (``text_encoder``), or loaded
    from a cached ``text_embeddings_file`` (a .pth tensor (num_classes, D),
    see ``tools/misc/cache_text_embeddings.py``). They are kept
    as a non-persistent fp32 buffer: not in checkpoints, so the cache file
    or the text model must be available when the model is built (CITE's
    Q4). Logits are ``exp(temperature) * cos(feature, embedding)``; CITE's
    4.6052 gives 100, CLIP's logit scale. The loss is ``ClsHead``'s
    (cross-entropy by default).

    Args:
        texts (Sequence[str], optional): Class names, in label order.
            Required with ``text_encoder``.
        text_encoder (dict, optional): ``dict(type='bert', model=NAME_OR_DIR,
            key='pooler_output')`` (``type`` defaults to ``'bert'``), see
            :func:`bert_text_embeddings`; or ``dict(type='openai_clip',
            checkpoint=PATH)`` for zero-shot CLIP, see
            :func:`openai_clip_text_embeddings`.
        text_embeddings_file (str, optional): Cached embeddings, used
            instead of ``text_encoder``.
        template (str): Applied to every class name, e.g.
            ``'a histopathology image of {}'``. Defaults to ``'{}'`` (CITE:
            raw class names).
        in_channels (int, optional): Width of the input feature, checked
            against the embeddings' width. Defaults to None (checked at the
            first forward).
        temperature (float): Log of the logit scale. Defaults to 4.6052.
        learnable_temperature (bool): Train the temperature.
            Defaults to False.
        **kwargs: Passed to ``ClsHead`` (``loss``, ``topk``, ``cal_acc``,
            ``init_cfg``).
    """

    def __init__(self,
                 texts: Optional[Sequence[str]] = None,
                 text_encoder: Optional[dict] = None,
                 text_embeddings_file: Optional[str] = None,
                 template: str = '{}',
                 in_channels: Optional[int] = None,
                 temperature: float = 4.6052,
                 learnable_temperature: bool = False,
                 **kwargs):
        # ClsHead builds its loss by name: resolve it in mmpretrain's scope,
        # not mmvlsm's, whose parent mmseg has another 'CrossEntropyLoss'.
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            super().__init__(**kwargs)
        if (text_encoder is None) == (text_embeddings_file is None):
            raise ValueError('Give exactly one of text_encoder and '
                             'text_embeddings_file.')
        if text_embeddings_file is not None:
            embeddings = torch.load(text_embeddings_file, map_location='cpu')
            if not isinstance(embeddings, Tensor) or embeddings.dim() != 2:
                raise ValueError(
                    f'{text_embeddings_file} must hold a (num_classes, D) '
                    'tensor.')
            if texts is not None and len(texts) != len(embeddings):
                raise ValueError(
                    f'{len(texts)} texts but {len(embeddings)} embeddings '
                    f'in {text_embeddings_file}.')
        else:
            if not texts:
                raise ValueError('text_encoder needs the class names (texts).')
            embeddings = encode_texts(
                [template.format(text) for text in texts], text_encoder)
        self.texts = list(texts) if texts is not None else None
        self.register_buffer(
            'text_embeddings', embeddings.float(), persistent=False)
        self.in_channels = in_channels
        if in_channels is not None:
            self._check_width(in_channels)
        temperature = torch.tensor(float(temperature))
        if learnable_temperature:
            self.temperature = nn.Parameter(temperature)
        else:
            self.register_buffer('temperature', temperature, persistent=False)

    @property
    def num_classes(self) -> int:
        return self.text_embeddings.shape[0]

    def _check_width(self, width: int) -> None:
        text_width = self.text_embeddings.shape[1]
        if width != text_width:
            raise ValueError(
                f'The image feature has {width} channels but the text '
                f'embeddings have {text_width}: set the neck\'s '
                'out_channels to the text model\'s hidden size.')

    def forward(self, feats: Union[Tuple[Tensor, ...], Tensor]) -> Tensor:
        """Class scores.

        Args:
            feats (tuple[Tensor] | Tensor): Image features (B, D); the last
                one of a tuple is used.

        Returns:
            Tensor: (B, num_classes), ``exp(temperature)`` x cosine.
        """
        x = self.pre_logits(feats) if isinstance(feats, tuple) else feats
        self._check_width(x.shape[-1])
        weights = self.text_embeddings.to(x.dtype)
        cosine = F.normalize(x, dim=-1) @ F.normalize(weights, dim=-1).t()
        return self.temperature.exp().to(x.dtype) * cosine
