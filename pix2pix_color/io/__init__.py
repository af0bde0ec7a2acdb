"""Files in and out: decoding photos with their orientation, depth and limits (`images`), the
provenance written into outputs (`provenance`), photo folders and datasets (`photo_sets`).
Imports only `core` and `limits`.
"""
