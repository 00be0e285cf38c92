"""Data files shipped with NDID Desktop (calibrations, icons); installed as ndid_desktop.resources."""
