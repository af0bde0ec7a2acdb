"""Jobs over many photos, above the pipeline: the archive job that colorizes a folder or a dataset
into Parquet shards with a manifest and resumes exactly (`archive`), and animated images, every
frame colorized and written back in its format (`animation`). Each takes the `pipeline.engine.Engine`
(`colorizer.engine`), not the façade above it.
"""
