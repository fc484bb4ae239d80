"""Code shared by every function: the contract, pure domain logic and small AWS adapters."""
