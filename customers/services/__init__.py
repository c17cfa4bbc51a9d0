"""Writes to customers and their transactions: demo data and imports."""

from customers.services.demo_data import DemoDataError, DemoDataSummary, demo_data_load

__all__ = ["DemoDataError", "DemoDataSummary", "demo_data_load"]
