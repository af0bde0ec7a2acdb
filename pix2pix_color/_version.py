"""The package's version, in one place: packaging reads it from here (pyproject.toml's dynamic
version), and the library never asks installed metadata for it, so a folder copied without being
installed (the Hugging Face Space runs exactly the uploaded files) imports all the same."""

__version__ = "0.1.0"
