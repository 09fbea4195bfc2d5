# Copyright (c) OpenMMLab. All rights reserved.
"""Serve a model in a web page: upload an image or a volume, type a prompt
(or pick a class), see the overlay and download the mask.

    python tools/demo.py CONFIG CHECKPOINT [--port 7860] [--host 127.0.0.1] \\
        [--device cpu|cuda] [--share] [--max-file-size MB] \\
        [--num-examples N] [--cfg-options KEY=VALUE ...]

Masks are those of ``tools/infer.py`` (the same ``inference_model``);
CITE classifiers show their class probabilities. The page listens on
127.0.0.1 unless ``--host`` says otherwise; uploads and masks live in a
temporary folder removed when the server stops. Needs Gradio
(``pip install -r requirements/demo.txt``). See "Web demo" in the README.
"""
import argparse
import atexit
import logging
import os
import os.path as osp
import shutil
import signal
import sys
import tempfile
import time

from mmengine.config import Config, DictAction

LOCAL_HOSTS = ('127.0.0.1', 'localhost', '::1')
# The CHECKPOINT that stands for the config's own pretrained weights.
PRETRAINED = 'pretrained'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Serve a model in a web page (Gradio)')
    parser.add_argument('config', help='model config file')
    parser.add_argument(
        'checkpoint',
        help='checkpoint file, or "pretrained" for the weights the config '
        'names (zero-shot)')
    parser.add_argument(
        '--host',
        default='127.0.0.1',
        help='address to listen on (default: 127.0.0.1, this machine only; '
        '0.0.0.0 for every network interface)')
    parser.add_argument(
        '--port', type=int, default=7860, help='port (default: 7860)')
    parser.add_argument(
        '--device',
        help='cpu, cuda or cuda:N (default: cuda if available, else cpu)')
    parser.add_argument(
        '--share',
        action='store_true',
        help='also ask Gradio for a public share link (off by default)')
    parser.add_argument(
        '--max-file-size',
        type=float,
        default=200,
        help='largest upload in MB (default: 200, a CT volume)')
    parser.add_argument(
        '--num-examples',
        type=int,
        default=4,
        help='images of the config\'s test set shown as examples, if it is '
        'on disk (default: 4; 0 for none)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. model.test_cfg.threshold=0.4')
    return parser.parse_args()


def fail(message: str) -> None:
    sys.exit(f'demo.py: error: {message}')


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    if not osp.isfile(args.config):
        fail(f'config not found: {args.config}')
    if args.checkpoint != PRETRAINED and not osp.isfile(args.checkpoint):
        fail(f'checkpoint not found: {args.checkpoint} (or "{PRETRAINED}" '
             'for the weights the config names)')
    try:
        import gradio  # noqa: F401
    except ImportError:
        fail('the demo needs Gradio: pip install -r requirements/demo.txt')

    # Uploads, examples and masks: one private folder, removed at exit
    # (SIGTERM included). Gradio reads its folder from the environment.
    workdir = tempfile.mkdtemp(prefix='mmvlsm-demo-')
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    os.environ['GRADIO_TEMP_DIR'] = osp.join(workdir, 'gradio')
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')

    import torch

    from mmvlsm.apis import init_model
    from mmvlsm.demo import DemoModel, dataset_examples
    from mmvlsm.demo.app import build_app, copy_examples
    logging.basicConfig(
        level=logging.INFO, format='%(asctime)s %(name)s: %(message)s')
    # Gradio's own requests to itself are not news.
    logging.getLogger('httpx').setLevel(logging.WARNING)
    log = logging.getLogger('mmvlsm.demo')
    log.info('uploads and masks in %s (removed at exit)', workdir)

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    if device.startswith('cuda') and not torch.cuda.is_available():
        fail(f'--device {device}: no CUDA device here')
    model = init_model(
        cfg, None if args.checkpoint == PRETRAINED else args.checkpoint,
        device)
    served = DemoModel(model, args.config, args.checkpoint,
                       osp.join(workdir, 'masks'))
    examples = copy_examples(
        dataset_examples(cfg, args.num_examples),
        osp.join(workdir, 'examples'))
    app = build_app(served, examples)
    if args.host not in LOCAL_HOSTS:
        log.warning(
            'listening on %s: anyone who can reach this machine on port %d '
            'can use the demo', args.host, args.port)
    if args.share:
        log.warning('--share: Gradio makes a public link to this demo')
    app.queue(default_concurrency_limit=1).launch(
        server_name=args.host,
        server_port=args.port,
        share=args.share,
        max_file_size=int(args.max_file_size * 2**20),
        # Nothing of the server's disk beyond Gradio's own folder.
        allowed_paths=[],
        ssr_mode=False,
        prevent_thread_lock=True,
        quiet=True)
    log.info('serving %s (%s) at http://%s:%d, ready in %.1f s', args.config,
             served.kind, args.host, args.port,
             time.perf_counter() - started)
    try:
        app.block_thread()
    finally:
        app.close()


if __name__ == '__main__':
    main()
