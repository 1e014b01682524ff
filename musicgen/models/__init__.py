"""The models: musicgen's recurrent cells and fused layer, the Keras language model, the step network, and the n-gram baseline."""
