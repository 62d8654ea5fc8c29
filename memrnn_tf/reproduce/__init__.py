"""The reproduction of the paper's claims: stages run by the pipeline and their report."""
