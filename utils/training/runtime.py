"""TensorFlow loaded and set up as a training run's settings ask: precision, distribution strategy."""

from __future__ import annotations

from utils.tensorflow_runtime import import_tensorflow


def training_runtime(settings):
    """TensorFlow loaded and set as a run's TrainSettings say; returns (the tf.distribute strategy to
    build and train the model under, the settings with ``auto`` precision resolved)."""
    import_tensorflow()
    from dataclasses import replace

    from utils.training.distribution import check_jit_with_replicas, make_strategy
    from utils.training.precision import check_supported, resolve_precision, set_precision

    precision, why = resolve_precision(settings.mixed_precision)
    check_supported(precision, settings.jit_compile)
    set_precision(precision)
    print(f"precision: {'float32' if precision == 'off' else 'mixed ' + precision} ({why})", flush=True)
    settings = replace(settings, mixed_precision=precision, requested_precision=settings.mixed_precision)
    strategy = make_strategy(settings.strategy)
    check_jit_with_replicas(settings.jit_compile, strategy)
    if strategy.num_replicas_in_sync > 1:
        print(f"training on {strategy.num_replicas_in_sync} replicas (--strategy {settings.strategy}: "
              f"{type(strategy).__name__}), global batch {settings.batch_size}", flush=True)
    return strategy, settings
