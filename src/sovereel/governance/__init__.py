"""Governance: the audit log, signed model lineage and the export gate."""
