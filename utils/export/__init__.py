"""The student in deployable forms (SavedModel, TFLite), each checked against the Keras model."""
