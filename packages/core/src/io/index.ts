// Weights I/O (safetensors, PyTorch .pth): filled in by the weights-I/O work.
export {};
