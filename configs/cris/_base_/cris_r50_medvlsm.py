# CRIS R50 fine-tuned with the medvlsm recipe, all but the data: the
# per-dataset configs in configs/cris add a dataset base with its 416x416
# (plain resize) pipelines and batch 32.
_base_ = [
    '../../_base_/models/cris_r50.py',
    '../../_base_/schedules/medvlsm_cris.py',
    '../../_base_/default_runtime.py',
]
# medvlsm fine-tuned from a community CRIS R50 trained on RefCOCO (CRIS
# issue #3), which replaces every weight, so CLIP is not loaded first. The
# file is made from that checkpoint (cris.pt) by
#   python tools/model_converters/cris2mmvlsm.py pretrain/cris.pt \
#       pretrain/cris_r50_refcoco_mmvlsm.pth
model = dict(clip_pretrained=None)
load_from = 'pretrain/cris_r50_refcoco_mmvlsm.pth'
