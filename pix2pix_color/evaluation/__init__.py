"""What we measure and publish: the photo metrics (`metrics`: PSNR, the strict color hit, chroma
ratio...) and the video ones (`video_metrics`). Imports the layers below it; nothing below
imports it.
"""
