"""pix2pix-color's ComfyUI nodes; ComfyUI imports this folder from custom_nodes/ and reads the mappings."""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
