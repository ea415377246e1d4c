"""What a run leaves behind: the report folder, tables, plots."""
