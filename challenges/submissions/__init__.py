"""Vendor organisations and their applications, files and eligibility screening."""
