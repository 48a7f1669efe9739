"""Real servers on loopback that the test suite starts itself, and a fault-injecting proxy."""
