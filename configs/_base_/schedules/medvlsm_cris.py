# The medvlsm recipe for CRIS: CLIPSeg's (medvlsm_clipseg.py: AdamW with
# weight decay 1e-3, clipping at norm 0.5, LR x0.1 on a 5-epoch plateau,
# early stopping after 20 epochs, the best checkpoint by validation Dice)
# at lr 2e-5 and batch 32 (set in the CRIS dataset configs). Every parameter
# trains at that rate: medvlsm had no multiplier for the encoders.
_base_ = './medvlsm_clipseg.py'
optim_wrapper = dict(
    optimizer=dict(lr=2e-5), paramwise_cfg=dict(_delete_=True))
