"""Personas: named, curated descriptions of a segment that survive re-segmentation.

naming.py and matching.py are plain Python (no Django, tested without a database);
services.py writes, selectors.py reads, views/forms/urls serve the pages.
"""
