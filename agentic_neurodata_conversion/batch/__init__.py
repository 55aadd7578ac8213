"""`anc batch`: many conversions on Dask distributed, registered in one DataLad superdataset."""
