import { flowRecord, weirdRecord } from './flow.js';
import type { RecordOf } from './registry.js';

export { flowRecord, weirdRecord };
export type FlowRecord = RecordOf<typeof flowRecord>;
export type WeirdRecord = RecordOf<typeof weirdRecord>;
