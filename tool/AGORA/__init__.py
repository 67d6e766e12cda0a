"""Conversion of the official AGORA release into the layout the AGORA loader reads."""
