# Copyright (c) OpenMMLab. All rights reserved.
"""Augmentations that keep the text prompt consistent with the pixels."""
import re
from typing import Dict, Optional, Sequence, Tuple, Union

from mmseg.datasets.transforms import RandomFlip

from mmvlsm.registry import TRANSFORMS

# Word pairs that trade places under each flip direction.
FLIP_WORD_PAIRS: Dict[str, Tuple[Tuple[str, str], ...]] = dict(
    horizontal=(('left', 'right'), ),
    vertical=(('top', 'bottom'), ),
    diagonal=(('left', 'right'), ('top', 'bottom')))


def _word_pattern(pairs: Sequence[Tuple[str, str]]) -> re.Pattern:
    words = [word for pair in pairs for word in pair]
    return re.compile(r'\b(' + '|'.join(words) + r')\b', re.IGNORECASE)


def _match_case(word: str, like: str) -> str:
    """Spell ``word`` in the case of ``like`` ('LEFT', 'Left', 'left')."""
    if like.isupper():
        return word.upper()
    if like[0].isupper():
        return word.capitalize()
    return word


def swap_position_words(text: str, direction: str) -> str:
    """Swap the position words a flip in ``direction`` mirrors.

    Whole words only, case preserving: a horizontal flip turns
    ``'Polyp at the top left'`` into ``'Polyp at the top right'``,
    ``'top-LEFT'`` into ``'top-RIGHT'`` and leaves ``'leftmost'`` alone.

    Args:
        text (str): The prompt.
        direction (str): ``'horizontal'``, ``'vertical'`` or ``'diagonal'``.

    Returns:
        str: The prompt describing the flipped image.
    """
    pairs = FLIP_WORD_PAIRS[direction]
    partner = {}
    for first, second in pairs:
        partner[first], partner[second] = second, first
    return _word_pattern(pairs).sub(
        lambda m: _match_case(partner[m.group(0).lower()], m.group(0)), text)


@TRANSFORMS.register_module()
class TextAwareRandomFlip(RandomFlip):
    """``RandomFlip`` that keeps position words of ``results['text']`` true.

    A horizontal flip swaps "left" and "right", a vertical one "top" and
    "bottom", a diagonal one both. Images, ``seg_fields`` and boxes flip
    as in :class:`mmseg.datasets.transforms.RandomFlip`; ``flip`` and
    ``flip_direction`` are recorded the same way.

    Word swapping is purely lexical: anatomical names flip too, so "left
    atrium" becomes "right atrium" even though the structure keeps its
    name. For such prompts (e.g. CAMUS) use ``lateral_words='skip'``,
    which leaves a sample unflipped when its text holds a word the drawn
    direction would mirror.

    Required Keys:

    - img
    - text (optional): str
    - gt_seg_map and the other ``seg_fields`` (optional)

    Modified Keys:

    - img, text, ``seg_fields`` (optional)

    Added Keys:

    - flip (bool), flip_direction (str | None)

    Args:
        prob (float | list[float]): Flip probability, or one per direction.
        direction (str | list[str]): ``'horizontal'``, ``'vertical'``,
            ``'diagonal'`` or a list of them. Defaults to ``'horizontal'``.
        lateral_words (str): ``'swap'`` to rewrite the text, ``'skip'`` to
            not flip a sample whose text the flip would contradict.
            Defaults to ``'swap'``.
        swap_seg_labels (list, optional): Label pairs to exchange in the
            flipped segmentation map. Defaults to None.
    """

    def __init__(self,
                 prob: Union[float, Sequence[float]],
                 direction: Union[str, Sequence[str]] = 'horizontal',
                 lateral_words: str = 'swap',
                 swap_seg_labels: Optional[Sequence] = None) -> None:
        super().__init__(
            prob=prob, direction=direction, swap_seg_labels=swap_seg_labels)
        if lateral_words not in ('swap', 'skip'):
            raise ValueError("lateral_words must be 'swap' or 'skip', got "
                             f'{lateral_words!r}')
        self.lateral_words = lateral_words
        self._patterns = {
            name: _word_pattern(pairs)
            for name, pairs in FLIP_WORD_PAIRS.items()
        }

    def _flip(self, results: dict) -> None:
        """Flip the pixels, then the position words of the text."""
        super()._flip(results)
        if isinstance(results.get('text'), str):
            results['text'] = swap_position_words(results['text'],
                                                  results['flip_direction'])

    def _flip_on_direction(self, results: dict) -> None:
        """Draw a direction; in 'skip' mode drop it if the text objects."""
        direction = self._choose_direction()
        text = results.get('text')
        if (direction is not None and self.lateral_words == 'skip'
                and isinstance(text, str)
                and self._patterns[direction].search(text)):
            direction = None
        results['flip'] = direction is not None
        results['flip_direction'] = direction
        if direction is not None:
            self._flip(results)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction!r}, '
                f'lateral_words={self.lateral_words!r}, '
                f'swap_seg_labels={self.swap_seg_labels})')
