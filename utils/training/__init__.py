"""One training run: settings, the epoch loop and its callbacks, resumption, tf.distribute, precision,
the input pipeline and the teacher-logit cache."""
