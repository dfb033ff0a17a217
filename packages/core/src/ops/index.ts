// Fast fused ops: filled in by the fused-kernel work.
export {};
