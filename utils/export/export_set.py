"""export_student.py's output folder as one set (utils/folder_set.py): staged beside --output_dir, its manifest
export.json (every file with its size and SHA-256) written last, and swapped in whole, so that a kill at any
moment leaves the earlier complete export or the new one; predict.py checks a folder, and the file it runs,
against that manifest. A folder an earlier version wrote (no manifest; its export_report.json and known file
names) counts as an export of this project too.
"""

from __future__ import annotations

from pathlib import Path

from utils.folder_set import FolderSet

REPORT_FILE = "export_report.json"
EARLIER_EXPORT_NAMES = frozenset({"saved_model", "saved_model.partial", "model_float32.tflite",
                                  "model_dynamic_int8.tflite", "model_int8.tflite", "model.json", "export_report.md",
                                  REPORT_FILE})

EXPORT = FolderSet(manifest="export.json", written_by="export_student.py", noun="export", tag="export",
                   earlier_entry=lambda entry: Path(entry).parts[0] in EARLIER_EXPORT_NAMES, earlier_marker=REPORT_FILE)
MANIFEST_FILE = EXPORT.manifest
read_manifest = EXPORT.read_manifest
check_output_folder = EXPORT.check_output_folder
recover = EXPORT.recover
staged_export = EXPORT.staged
verified_manifest = EXPORT.verified_manifest
verify_contents = EXPORT.verify_contents
