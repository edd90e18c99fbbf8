"""The catalogue as a salesperson knows it: products, their attributes and how they relate."""
