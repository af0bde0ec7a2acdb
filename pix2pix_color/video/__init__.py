"""Films: decoding, colorizing frame by frame and encoding with the audio kept (`frames`), and the
temporal smoothing along optical flow that keeps colors from flickering (`temporal`). Imports the
layers below it.
"""
