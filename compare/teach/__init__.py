"""Teaching tools: the explanation, the SymPy proof, the spreadsheet."""
