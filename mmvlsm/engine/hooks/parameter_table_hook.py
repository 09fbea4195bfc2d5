# Copyright (c) OpenMMLab. All rights reserved.
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from prettytable import PrettyTable

from mmvlsm.registry import HOOKS, classification


# Used by segmentation and classification configs alike.
@classification.HOOKS.register_module()
@HOOKS.register_module()
class ParameterTableHook(Hook):
    """Log trainable and total parameters per top-level module at the
    start of training (see :func:`mmvlsm.models.adapters.parameter_table`),
    so that what an ``adapt_cfg`` or ``freeze_*`` flags leave trainable is
    on record."""

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        from mmvlsm.models.adapters import parameter_table
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        table = PrettyTable(field_names=('module', 'trainable', 'total', '%'))
        for row in parameter_table(model):
            share = 100 * row['trainable'] / max(row['total'], 1)
            table.add_row((row['module'], f'{row["trainable"]:,}',
                           f'{row["total"]:,}', f'{share:.2f}'))
        runner.logger.info('Trainable parameters:\n' + table.get_string())
