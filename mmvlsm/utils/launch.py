# Copyright (c) OpenMMLab. All rights reserved.
"""Config handling shared by ``tools/train.py`` and ``tools/test.py``."""
import difflib
import inspect
import logging
import os
import os.path as osp
from argparse import Action, ArgumentParser, ArgumentTypeError, Namespace
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Union)

import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.registry import DefaultScope, Registry
from mmengine.runner import Runner
from torch.utils.data import DataLoader

import mmvlsm.registry as registries
from .config import bind_prompt_tokenizer, static_token_shapes_for_compile

# Config keys the Runner builds a torch DataLoader from (without a `type`).
DATALOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# Top-level keys mmengine's Runner reads from the config itself rather than
# taking them as arguments.
RUNNER_CONFIG_KEYS = ('compile', 'model_wrapper_cfg', 'runner_type')


def _split_items(text: str) -> List[str]:
    """Split ``text`` at the commas outside brackets and quotes."""
    items, depth, quote, start = [], 0, None, 0
    for i, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in '\'"':
            quote = char
        elif char in '([':
            depth += 1
        elif char in ')]':
            depth -= 1
        elif char == ',' and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth or quote:
        raise ValueError(f'unbalanced brackets or quotes in {text!r}')
    return items + [text[start:]]


def parse_option_value(text: str) -> Any:
    """Parse the value of one ``--cfg-options key=value``.

    As mmengine's ``DictAction``: ``1`` -> int, ``0.5`` -> float,
    ``true``/``false`` -> bool, ``None``, ``a,b`` and ``[a,b]`` -> list,
    ``(a,b)`` -> tuple, nested (``[(1,2),(3,4)]``), and a trailing comma
    makes a one-element list (``a,``). Unlike it, spaces inside a value are
    kept (mmengine deletes them: ``a photo of {}`` became ``aphotoof{}``),
    only those around items are dropped; and a value in quotes is a string,
    as is (``"a, b"`` -> ``'a, b'``, ``'1'`` -> ``'1'``).

    Args:
        text (str): The text after the first ``=``.

    Returns:
        Any: The value.

    Raises:
        ValueError: If brackets or quotes are unbalanced.
    """
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in '\'"':
        return text[1:-1]
    if len(text) >= 2 and text[0] + text[-1] in ('()', '[]'):
        inner = text[1:-1]
        items = [parse_option_value(item)
                 for item in _split_items(inner)] if inner.strip() else []
        return tuple(items) if text[0] == '(' else items
    items = _split_items(text)
    if len(items) > 1:
        if not items[-1].strip():  # `a,` or `a,b,`
            items.pop()
        return [parse_option_value(item) for item in items]
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ('true', 'false'):
        return text.lower() == 'true'
    return None if text == 'None' else text


class ConfigOptionsAction(Action):
    """Collect ``key=value`` pairs parsed by :func:`parse_option_value`."""

    def __call__(self,
                 parser: ArgumentParser,
                 namespace: Namespace,
                 values: Sequence[str],
                 option_string: Optional[str] = None) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        for pair in values:
            key, sep, value = pair.partition('=')
            if not sep or not key:
                parser.error(f'{option_string} takes key=value pairs, got '
                             f'{pair!r}')
            try:
                options[key] = parse_option_value(value)
            except ValueError as err:
                parser.error(f'{option_string} {pair!r}: {err}')
        setattr(namespace, self.dest, options)


def _dotted_keys(node: Any, prefix: str = '') -> Iterator[str]:
    """Every key path of a config, list indices included."""
    if isinstance(node, dict):
        children = node.items()
    elif isinstance(node, (list, tuple)):
        children = enumerate(node)
    else:
        return
    for key, child in children:
        path = f'{prefix}{key}'
        yield path
        yield from _dotted_keys(child, path + '.')


def _builder_arguments(node: dict, path: str,
                       scope: str) -> Optional[List[str]]:
    """Arguments of what the config dict ``node`` at ``path`` builds.

    ``type`` names are looked up in the registries of ``scope``, the
    config's ``default_scope``.

    Returns:
        list[str] | None: The names, or None if it takes any keyword
        (``**kwargs``), so that no key can be called unknown.
    """
    if not path:
        builder = Runner
    elif path in DATALOADER_KEYS:
        builder = DataLoader
    else:
        builder = node.get('type')
        if isinstance(builder, str):
            nodes = vars(registries.task_registries(scope)).values()
            with DefaultScope.overwrite_default_scope(scope):
                found = (
                    registry.get(builder) for registry in nodes
                    if isinstance(registry, Registry))
                builder = next((obj for obj in found if obj is not None), None)
    if not callable(builder):
        return []
    parameters = inspect.signature(builder).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in parameters):
        return None
    names = [p.name for p in parameters]
    return names + list(RUNNER_CONFIG_KEYS) if builder is Runner else names


def config_scope(cfg: Config) -> str:
    """The registry scope of a config, which names its task.

    Args:
        cfg (Config): A config.

    Returns:
        str: ``'mmvlsm'`` (segmentation) or ``'mmvlsm_cls'``
        (classification), see :mod:`mmvlsm.registry`.

    Raises:
        ValueError: If the config sets another ``default_scope`` or none.
    """
    scope = cfg.get('default_scope')
    if scope not in registries.TASKS:
        raise ValueError(
            f'{cfg.filename or "the config"} has default_scope={scope!r}; '
            f'mmvlsm configs set one of {list(registries.TASKS)} '
            '(segmentation or classification), usually through their '
            'default_runtime _base_.')
    return scope


def config_task(cfg: Config) -> str:
    """``'segmentation'`` or ``'classification'``, from the config's
    ``default_scope`` (see :func:`config_scope`)."""
    return registries.TASKS[config_scope(cfg)]


def check_cfg_options(cfg: Config, options: Dict[str, Any]) -> None:
    """Refuse ``--cfg-options`` keys that the config does not have.

    mmengine merges an unknown key silently, so a typo
    (``model.test_cfg.treshold``) is ignored. A key is accepted if every
    part of it exists (list indices included:
    ``train_dataloader.dataset.pipeline.0.type``), or if its first missing
    part is an argument of what the dict above it builds: of its ``type``
    (``test_dataloader.dataset.override_prompt`` is an argument of
    ``MedVLSMDataset``), of ``DataLoader`` for the ``*_dataloader`` dicts and
    of ``Runner`` at the top level, where the keys the Runner reads from the
    config itself (:data:`RUNNER_CONFIG_KEYS`, e.g. ``compile``) count too.
    A type taking ``**kwargs`` accepts any key.

    Args:
        cfg (Config): The config the options go into.
        options (dict): ``--cfg-options``, dotted key -> value.

    Raises:
        ValueError: For the first unknown key, with the closest existing
            one.
    """
    all_keys = None
    scope = config_scope(cfg)
    for key in options:
        node, parts = cfg._cfg_dict, key.split('.')
        for depth, part in enumerate(parts):
            parent = '.'.join(parts[:depth])
            if isinstance(node, dict) and part in node:
                node = node[part]
                continue
            if isinstance(node, (list, tuple)):
                if part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                    continue
                problem = (f'{parent} is a list of {len(node)} items, '
                           f'indexed 0..{len(node) - 1}')
                candidates = []
            elif isinstance(node, dict):
                arguments = _builder_arguments(node, parent, scope)
                if arguments is None or part in arguments:
                    break  # a new argument of what this dict builds
                where = f'{parent}' if parent else 'the top level'
                problem = f'{where} has no key {part!r}'
                prefix = f'{parent}.' if parent else ''
                candidates = [prefix + a for a in arguments]
            else:
                problem = (f'{parent} is a {type(node).__name__}, which has '
                           'no keys')
                candidates = []
            if all_keys is None:
                all_keys = list(_dotted_keys(cfg._cfg_dict))
            close = difflib.get_close_matches(
                key, candidates + all_keys, n=1, cutoff=0.6)
            hint = f' Did you mean {close[0]!r}?' if close else ''
            raise ValueError(
                f'--cfg-options {key!r} is not in the config: {problem}.'
                f'{hint} Options change existing keys or arguments of the '
                'type a dict builds; pass --cfg-options-allow-new to add a '
                'new key anyway.')


def add_cfg_options_args(parser: ArgumentParser) -> None:
    """Add ``--cfg-options`` and ``--cfg-options-allow-new``.

    :func:`load_launch_config` reads both.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=ConfigOptionsAction,
        help='override settings of the config: key=value pairs, nested keys '
        'and list indices joined by dots (model.test_cfg.threshold=0.4, '
        'train_dataloader.dataset.pipeline.0.type=X). Values: numbers, '
        'true/false, None, lists a,b or [a,b], tuples (a,b), nested '
        '[(a,b),(c,d)]; anything else is a string, spaces included (quote '
        'the whole pair for the shell). Quote the value itself to keep '
        "commas: 'key=\"one, two\"'. A key that the config does not have "
        'is refused unless --cfg-options-allow-new is given.')
    parser.add_argument(
        '--cfg-options-allow-new',
        action='store_true',
        help='let --cfg-options add keys that the config does not have')


def add_launch_args(parser: ArgumentParser) -> None:
    """Add the arguments ``tools/train.py`` and ``tools/test.py`` share.

    They are mmseg's ``--cfg-options``, ``--launcher`` and
    ``--local-rank``, plus ``--cfg-options-allow-new`` and ``--quiet``.
    """
    add_cfg_options_args(parser)
    parser.add_argument(
        '--quiet',
        action='store_true',
        help='do not print the environment and the config (about 400 '
        'lines) when starting; progress, warnings and metrics are still '
        'logged, and the config is still saved in the work dir')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes `--local-rank` since torch 2.0.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_launch_args(parser: ArgumentParser) -> Namespace:
    """Parse the command line; export ``--local-rank`` as ``LOCAL_RANK``.

    torchrun sets ``LOCAL_RANK`` itself; the older launcher only passes the
    argument, and mmengine reads the variable.
    """
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(path: str,
                cfg_options: Optional[dict] = None,
                allow_new: bool = False) -> Config:
    """Read a config as every tool does.

    Applies ``--cfg-options`` (checked by :func:`check_cfg_options` unless
    ``allow_new``), gives the pipelines' ``TokenizePrompt`` steps the
    model's tokenizer (:func:`bind_prompt_tokenizer`) and keeps token
    shapes static under ``compile`` (:func:`static_token_shapes_for_compile`).

    Args:
        path (str): The config file.
        cfg_options (dict, optional): Parsed ``--cfg-options``.
            Defaults to None.
        allow_new (bool): Let the options add keys. Defaults to False.

    Returns:
        Config: The config.

    Raises:
        FileNotFoundError: If the file does not exist.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options is not None:
        if not allow_new:
            check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    bind_prompt_tokenizer(cfg)
    static_token_shapes_for_compile(cfg)
    return cfg


def load_launch_config(args: Namespace) -> Config:
    """Read ``args.config`` and apply the options train and test share.

    :func:`load_config` with ``--cfg-options`` and
    ``--cfg-options-allow-new``, then ``--launcher`` and ``--work-dir``
    (CLI > the config's ``work_dir`` > ``./work_dirs/<config name>``, as
    mmseg does), and the preparation of CPU-only distributed runs (see
    :func:`setup_cpu_distributed`).

    Args:
        args (Namespace): Parsed arguments with ``config``, ``cfg_options``,
            ``cfg_options_allow_new``, ``launcher`` and ``work_dir``.

    Returns:
        Config: The config, ready for :func:`build_runner`.
    """
    cfg = load_config(args.config, args.cfg_options,
                      args.cfg_options_allow_new)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.launcher == 'pytorch' and not torch.cuda.is_available():
        setup_cpu_distributed(cfg)
    return cfg


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an int not below ``minimum``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise ArgumentTypeError(f'must be at least {minimum}, got {value}')
        return value

    return parse


def setup_cpu_distributed(cfg: Config) -> None:
    """Start a gloo process group for a ``--launcher pytorch`` CPU run.

    mmengine 0.10.7 always calls ``torch.cuda.set_device`` and wraps the model
    in DDP with ``device_ids=[LOCAL_RANK]``; both fail on a machine without a
    GPU. Initialising the group here makes the Runner skip its own
    ``init_dist``, and ``device_ids=None`` is what DDP wants for CPU modules.

    Args:
        cfg (Config): The config to adapt in place.
    """
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper


def close_distributed() -> None:
    """Leave the process group once a run is over.

    torch tears a live gloo group down at interpreter exit, where its
    threads may still run and abort the process ("terminate called without
    an active exception") although the run succeeded; a group destroyed
    first exits cleanly. A no-op outside distributed runs.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def build_runner(cfg: Config, quiet: bool = False) -> Runner:
    """Build the runner of a config, mmengine's or ``cfg.runner_type``.

    Args:
        cfg (Config): The config from :func:`load_launch_config`.
        quiet (bool): Whether to keep the environment and the config, which
            the runner logs while it is built, off the console and the log
            file. Later messages are logged at ``cfg.log_level`` as usual.
            Defaults to False.

    Returns:
        Runner: The runner.
    """
    log_level: Union[int, str] = cfg.get('log_level', 'INFO')
    if quiet:
        cfg.log_level = 'WARNING'
    runner = (
        Runner.from_cfg(cfg)
        if 'runner_type' not in cfg else registries.RUNNERS.build(cfg))
    if quiet:
        cfg.log_level = log_level
        # Other ranks' consoles stay at ERROR.
        for handler in runner.logger.handlers:
            if handler.level == logging.WARNING:
                handler.setLevel(log_level)
    return runner


AMP_DTYPES = {'fp16': 'float16', 'bf16': 'bfloat16'}


def enable_amp(cfg: Config, dtype: str = 'auto') -> None:
    """Switch the config's optimizer wrapper to mixed precision.

    Args:
        cfg (Config): The config to change in place; its ``optim_wrapper``
            must be an ``OptimWrapper`` or already an ``AmpOptimWrapper``.
        dtype (str): ``'fp16'``, ``'bf16'`` or ``'auto'``: bf16 where the
            GPU supports it (Ampere and newer; it needs no loss scaling to
            stay finite), else fp16.
    """
    if dtype == 'auto':
        dtype = 'bf16' if (torch.cuda.is_available()
                           and torch.cuda.is_bf16_supported()) else 'fp16'
    if dtype not in AMP_DTYPES:
        raise ValueError(f'AMP dtype must be one of {list(AMP_DTYPES)} or '
                         f"'auto', got {dtype!r}")
    wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
        raise ValueError('--amp needs `optim_wrapper.type` OptimWrapper or '
                         f'AmpOptimWrapper, got {wrapper}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.dtype = AMP_DTYPES[dtype]
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
