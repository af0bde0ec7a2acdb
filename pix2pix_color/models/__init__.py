"""The networks and their Hub format: the U-Net generator and the 70x70 PatchGAN (`networks`), the
EfficientNet-Lite0 encoder (`efficientnet`), safetensors and config files on the Hub (`hub`), and
the training losses (`losses`). Imports only `core`.
"""
