"""Re-labelling archives of frames (local process pool or Dask) and the statistics drawn from them."""
