"""Old-photo damage made on purpose, to train and to measure with: fading of color prints and
toning (`fading`), cracks, scratches, dust and blotches (`damage`). numpy only.
"""
