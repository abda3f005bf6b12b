"""The names of a frames folder's files: video_to_frames.py writes them, every stage reads them, and the
ownership checks recognise a frames folder by them (so this sits below every stage)."""

FRAMES_FILE = "frames.npy"
LABELS_FILE = "labels.npy"
PATHS_FILE = "video_file_paths.npy"
CLASSES_FILE = "classes.txt"
MANIFEST_FILE = "extraction.json"
MANIFEST_COMPLETE = "complete"  # the state a finished set's manifest records (utils/folder_set.py too)
