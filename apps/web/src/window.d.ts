/** The page's script API (`window.flux`), for scripts and the end-to-end test. */
import type { CalibratedPlan, ClipPrediction, PredictPlan, PredictorInfo } from '@flux/train';
import type { BrowserVideo } from '@flux/video';

export interface FluxPageApi {
  /** Resolves to the tfjs backend in use once the page is set up (and the ?checkpoint= / ?video= are loaded). */
  ready: Promise<string>;
  loadCheckpoint(src: string | File): Promise<PredictorInfo>;
  loadVideo(src: string | File): Promise<BrowserVideo>;
  /** Predicts at plan `i` (0 = all tokens; see plans()). */
  predictAt(i: number): Promise<Omit<ClipPrediction, 'probs'> & { probs: number[]; frameIndices: number[]; numTensors: number }>;
  /** Measures the latency of every plan here. */
  measureLatency(): Promise<CalibratedPlan[]>;
  plans(): PredictPlan[];
  /** The RGB bytes plan `i` reads (a plain array, for comparing with ffmpeg's). */
  frames(i: number): Promise<number[]>;
}

declare global {
  interface Window {
    flux: FluxPageApi;
  }
}
