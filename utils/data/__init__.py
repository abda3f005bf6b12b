"""From videos to an extracted dataset: decoding and the paper's frame sampler, the frames.npy stream,
reading the frames folder back, the train/validation/test splits, and the built-in synthetic set."""
