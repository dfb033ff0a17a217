// Weights I/O: backend-neutral tensor records, safetensors read/write, PyTorch .pth reading.
export { WeightsFormatError } from './errors.js';
export {
  type DType,
  type TensorData,
  DTYPES,
  isDType,
  dtypeByteSize,
  float32ToFloat16Bits,
  float16BitsToFloat32,
  float32ToBFloat16Bits,
  bfloat16BitsToFloat32,
  encodeFloat16,
  decodeFloat16,
  encodeBFloat16,
  decodeBFloat16,
} from './dtypes.js';
export {
  type TensorRecord,
  type StateDict,
  shapeSize,
  makeRecord,
  recordToFloat32,
  recordToInt32,
} from './record.js';
export { tfDTypeOf, recordToTensor, tensorToRecord, stateDictToTensors, tensorsToStateDict, torchLayoutRecords, torchLayoutProblems, assignTorchLayout } from './tfjs.js';
export {
  type SafetensorsTensorInfo,
  type SafetensorsHeader,
  type SafetensorsFile,
  type ParseSafetensorsOptions,
  type TensorsInput,
  SAFETENSORS_DTYPES,
  SAFETENSORS_MAX_HEADER,
  safetensorsDType,
  parseSafetensorsHeader,
  parseSafetensors,
  readSafetensors,
  readSafetensorsSync,
  readSafetensorsHeader,
  serializeSafetensors,
  writeSafetensors,
  writeSafetensorsSync,
} from './safetensors.js';
export { type ZipEntry, DEFLATE_MAX_RATIO, isZip, readZip } from './zip.js';
export { type PickleContext, type PickleGlobal, type UnpickleOptions, PyGlobal, PyObject, PICKLE_SETSTATE, unpickle } from './pickle.js';
export { TORCH_STORAGE_DTYPES, TORCH_PICKLE_GLOBALS, TorchStorageRef, TorchTensorRef } from './torch-globals.js';
export {
  type PthOptions,
  type PthCheckpoint,
  PTH_WRAPPER_KEYS,
  PTH_EXTRA_MAX_VALUES,
  pthDefaultMaxBytes,
  parsePth,
  readPth,
  readPthSync,
} from './pth.js';
export { atomicWriteFile, atomicWriteFileSync } from '../run/atomic.js';
