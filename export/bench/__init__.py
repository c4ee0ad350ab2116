"""`auroral bench`: model-only, host-stage and station-path timings, with the bounds this machine allows."""
