"""Everything that runs the pipeline on one machine: emulators, the local stack and the demo."""
