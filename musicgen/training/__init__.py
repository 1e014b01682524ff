"""Training a model: its configuration and recipe, the loop, the schedule, checkpoints, fine-tuning and distribution."""
