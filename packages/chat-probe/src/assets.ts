/** Files shipped with the package. */
import { fileURLToPath } from 'node:url';

/**
 * stories260K (Karpathy's llama2.c TinyStories model, MIT) as a Hugging Face Llama folder: the real frozen LM of
 * the embedded chat probe (config.json, model.safetensors, tokenizer.json; see its README.md for the origin).
 */
export const STORIES260K_DIR = fileURLToPath(new URL('../assets/stories260k/', import.meta.url));
