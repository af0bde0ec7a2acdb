"""The numbers under everything, torch tensors in and out and no model: CIE L*a*b* conversion
(`color`), the a*b* bins of the classification head (`ab_bins`), the guided upsampling that
carries working-size colors to full resolution (`image_processor`), color hints (`hints`) and how
they spread along edges (`propagation`). Imports nothing of the package but `limits`.
"""
