"""`auroral night`: the science products of one night in capture time: keogram, onset catalogue, summary."""
