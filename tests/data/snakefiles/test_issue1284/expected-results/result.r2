r2
