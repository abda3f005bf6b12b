"""The student in deployable forms (SavedModel, TFLite), each checked against the Keras model and timed;
the form to run on a CPU chosen by those measurements; the export folder replaced as one set."""
