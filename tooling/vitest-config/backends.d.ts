/** Whether the tensorflow backend (@tensorflow/tfjs-node) loads in this test process; in CI its absence throws. */
export declare function nativeAvailable(): boolean;
/** The tfjs backend names to run numerical tests on: cpu, wasm, and tensorflow where it loads. */
export declare function testBackends(): Array<'cpu' | 'wasm' | 'tensorflow'>;
