"""NDID at platform scale: a persistent index of a collection's features (Parquet shards and a
FAISS file), queries against it through the scan's staged decision, feature extraction as a Ray
Data job, and a query service. Needs the 'cluster' extra; nothing in the engine or the desktop
app imports this package."""
