"""Data files shipped with NDID Desktop (calibrations); installed as ndid_desktop.resources."""
