"""Turn a shop folder into a FAISS index, a keyword index, a product graph and an order store."""
