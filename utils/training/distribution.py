"""Which tf.distribute strategy a run uses, and who writes what under it.

  none         the default strategy: one device (the GPU if there is one)
  mirrored     tf.distribute.MirroredStrategy over every GPU of this machine (over CPU devices
               where there is no GPU)
  multiworker  tf.distribute.MultiWorkerMirroredStrategy over the machines listed in the
               standard TF_CONFIG environment variable, every GPU of each
  auto         mirrored when this machine has more than one GPU, else none

All of them train through the same loop (utils/training/loop.py, epoch_loop): ``strategy.run`` of Keras's own
train step on batches from ``distribute_datasets_from_function``. Keras 3.15's ``Model.fit`` fails
under MultiWorkerMirroredStrategy (keras-team/keras#20585), so fit is not used for any of them.

--batch_size is the global batch: each of the R replicas gets batch_size / R clips of every
global batch, and the gradients are averaged over the whole global batch, so the same command on
1 or R devices takes the same steps. The learning rate is not rescaled; to give each GPU more
clips, raise --batch_size and scale --lr by the same factor (the linear scaling rule of Goyal et
al., 2017).

HAR_KD_LOGICAL_CPUS=N splits the CPU into N logical devices, so that ``mirrored`` can be tried and
tested without GPUs.
"""

from __future__ import annotations

import json
import os

from utils.errors import InputError


def split_cpu_for_testing() -> None:
    """Apply HAR_KD_LOGICAL_CPUS; must run before TensorFlow initialises its devices."""
    count = int(os.environ.get("HAR_KD_LOGICAL_CPUS", "0") or 0)
    if count > 1:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def check_tf_config(text: str) -> None:
    """InputError naming the field unless TF_CONFIG is {"cluster": {role: ["host:port", ...]}, "task": {"type":
    a role of the cluster, "index": a position in its list}}: TensorFlow itself would wait for absent
    workers or fail far from the cause."""
    def bad(problem: str):
        return InputError(f"TF_CONFIG: {problem} (see docs/distributed.md)")

    try:
        config = json.loads(text)
    except ValueError:
        raise bad(f"not valid JSON: {text[:120]!r}") from None
    if not isinstance(config, dict):
        raise bad("not a JSON object with cluster and task")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise bad("cluster must map each role (chief, worker) to a list of host:port addresses")
    for role, addresses in cluster.items():
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and a.rpartition(":")[2].isdigit() for a in addresses)):
            raise bad(f"cluster.{role} must be a non-empty list of host:port addresses, got {json.dumps(addresses)[:80]}")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise bad(f"task.type must be one of the cluster's roles {sorted(cluster)}")
    index = task.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[task["type"]]):
        raise bad(f"task.index must be an integer from 0 to {len(cluster[task['type']]) - 1}, got {index!r}")


def make_strategy(name: str):
    import tensorflow as tf

    if name == "multiworker":
        config = os.environ.get("TF_CONFIG")
        if not config:
            raise InputError("--strategy multiworker: TF_CONFIG is not set (see README, 'Training on several "
                             "GPUs or machines')")
        check_tf_config(config)
        return tf.distribute.MultiWorkerMirroredStrategy()
    split_cpu_for_testing()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "none" or (name == "auto" and len(gpus) < 2):
        return tf.distribute.get_strategy()
    devices = gpus or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def worker_place(strategy) -> tuple[int, int]:
    """(this worker's index, number of workers); (0, 1) outside multi-worker training."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return 0, 1
    spec = resolver.cluster_spec().as_dict()
    workers = len(spec.get("chief", [])) + len(spec.get("worker", []))
    index = resolver.task_id + (len(spec.get("chief", [])) if resolver.task_type == "worker" else 0)
    return index, workers


def is_chief(strategy) -> bool:
    """The one worker that writes outputs: the "chief" task, or worker 0 when there is none."""
    return worker_place(strategy)[0] == 0


def chief_decides(strategy, flag: bool) -> bool:
    """The chief's ``flag``, on every worker. Decisions about files (resume, skip, clean up) are
    the chief's: another worker may see no files or a moment later than the chief does, and a
    worker that decides differently would wait forever in the next collective step. Also a
    barrier: the chief returns only once every worker has asked, so it may then change the files."""
    if worker_place(strategy)[1] == 1:
        return flag
    import tensorflow as tf

    vote = 1.0 if flag and is_chief(strategy) else 0.0
    votes = strategy.run(lambda: tf.constant(vote))
    return float(strategy.reduce(tf.distribute.ReduceOp.SUM, votes, axis=None)) > 0


def check_batch_size(batch_size: int, strategy) -> None:
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise InputError(f"--batch_size {batch_size}: not divisible by the {replicas} replicas of this strategy "
                         "(every replica takes an equal share of each global batch)")


def check_jit_with_replicas(jit_compile: str, strategy) -> None:
    """InputError for --jit_compile on over several replicas: one XLA cluster cannot reach the
    variables of the other replicas' devices (TensorFlow fails mid-trace), which is why Keras's own
    "auto" turns XLA off under tf.distribute."""
    replicas = strategy.num_replicas_in_sync
    if jit_compile == "on" and replicas > 1:
        raise InputError(f"--jit_compile on: XLA cannot compile a training step shared by the {replicas} replicas "
                         "of this strategy; use --jit_compile auto (off under tf.distribute) or --strategy none")
