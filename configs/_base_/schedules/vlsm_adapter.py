# The VLSM-Adapter recipe: the medvlsm loops, validation every epoch,
# gradient clipping at norm 0.5, early stopping after 20 epochs without
# improvement and best checkpoint by validation Dice (medvlsm_clipseg.py),
# with AdamW (weight decay 1e-3), LR x0.3 after 5 epochs without improvement
# and at most 200 epochs, at batch 32 (set in the dataset configs). The
# learning rate is the variant's, set by the configs: dense adapters 1e-3,
# shallow adapters 3e-4, CRIS 1e-4. Every trainable parameter trains at that
# rate: the host is frozen, so there is no multiplier for the encoders (it
# would also hit the adapters inside them). As in medvlsm_clipseg.py, the
# plateau watches validation Dice where upstream watched the validation loss.
_base_ = './medvlsm_clipseg.py'
optim_wrapper = dict(
    optimizer=dict(lr=1e-3, weight_decay=1e-3),
    paramwise_cfg=dict(_delete_=True))
param_scheduler = [
    dict(
        type='ReduceOnPlateauLR',
        monitor='mDice',
        rule='greater',
        factor=0.3,
        patience=5,
        by_epoch=True)
]
train_cfg = dict(max_epochs=200)
