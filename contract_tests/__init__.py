"""Contract harness: fuzz any target (the mock or a real provider) from our hand-written specs."""
