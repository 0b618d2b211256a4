/** Moved to src/demo (the demo generator is product code); the tests keep importing them from here. */
export * from '../../src/demo/pcap-writer.js';
