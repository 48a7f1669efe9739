"""Catalogs for a sink's output: Athena DDL with partition projection (`flowsql ddl`) and
Glue tables with partitions registered as objects are delivered."""
