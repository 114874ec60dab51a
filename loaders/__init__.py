"""Python side of the healthcare warehouse: embedded server, generators and bronze loaders."""
