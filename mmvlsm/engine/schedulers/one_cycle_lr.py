# Copyright (c) OpenMMLab. All rights reserved.
from mmengine.optim import OneCycleLR as MMEngineOneCycleLR

from mmvlsm.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class OneCycleLR(MMEngineOneCycleLR):
    """mmengine's ``OneCycleLR`` whose state is plain data.

    mmengine keeps the annealing function, a bound method, in the
    scheduler's state dict, so a checkpoint pickles the whole scheduler
    object, which torch's safe (``weights_only``) loader refuses: such a
    checkpoint could be neither tested nor resumed. The function is left
    out of the state and kept from the scheduler the config builds
    (``anneal_strategy``). Same arguments and schedule as mmengine's.
    """

    def state_dict(self) -> dict:
        state = super().state_dict()
        state.pop('anneal_func', None)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        anneal_func = self.anneal_func
        super().load_state_dict(state_dict)
        self.anneal_func = anneal_func
