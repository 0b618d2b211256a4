/** The resident memory by kind of mapping, shared with the process's own memory trace. */
export { describeKinds, type MemoryKinds, memoryKinds } from '../../src/cli/smaps.js';
