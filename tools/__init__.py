"""Developer tools: the simulator, the demo runner and the helpers tests and benchmarks share."""
