"""From a photo to its colors: the steps prepare -> predict -> finish and their options (`steps`),
the ONNX Runtime backend and export (`backends`, `onnx_export`), and what a request may add on the
way: variations (`variations`), a reference photo (`reference`), restore of faded prints
(`restore`, with `assessment` of what a print is) and the confidence map (`confidence`). Imports
`core`, `models`, `io`.
"""
