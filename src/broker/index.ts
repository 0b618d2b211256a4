export { type Broker, type BrokerStats, createBroker, createDelivery, type TargetStats } from './broker.js';
export { parseBrokerConfig, parseTargetConfig } from './config.js';
export { DedupWindow, packetKey } from './dedup.js';
export { PcapStreamDelivery, PcapTcpDelivery } from './deliver/pcap-stream.js';
export type { Delivery, OutFrame } from './out-frame.js';
export { compileRules, parseCidr } from './rules.js';
export { type PcapStreamOptions, streamPcap } from './stream.js';
export type { BrokerConfig, DeliveryConfig, MatchRules, TargetConfig, TargetCounters } from './types.js';
