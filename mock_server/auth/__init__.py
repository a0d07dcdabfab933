"""Authentication schemes, one module each, shared by the providers that use them."""
